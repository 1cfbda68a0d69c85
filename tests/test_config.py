"""Settings from the environment and crosspost.toml; more than one account per platform; status and watch
from the command line."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import platforms
from bot.article import Article
from bot.config import load_settings
from bot.errors import ConfigError
from bot.publish import PUBLISHED, Publisher
from bot.sandbox import Sandbox
from bot.sandbox.mastodon import add_account
from bot.store import connect
from tests.conftest import ROOT

TOML = """
[compose.x]
link = "reply"
utm = { utm_source = "x", utm_medium = "social" }
max_hashtags = 2

[[accounts]]
platform = "mastodon"
name = "work"
credentials = { MASTODON_ACCESS_TOKEN = "WORK_TOKEN" }
visibility = "unlisted"
spoiler_text = "cross-post"
max_hashtags = 1
"""


def test_toml_compose_options_and_extra_account(sandbox: Sandbox, tmp_path: Path) -> None:
    """[compose.x] sets X's options; [[accounts]] adds a second Mastodon account with its own token."""
    path = tmp_path / "crosspost.toml"
    path.write_text(TOML, encoding="utf-8")
    env = {**sandbox.env(), "WORK_TOKEN": "work-account-token"}
    settings = load_settings(env=env, config_file=path, load_dotenv=False)
    mastodon = [a for a in settings.accounts if a.platform == "mastodon"]
    assert [a.account for a in mastodon] == ["default", "work"]
    assert mastodon[1].credentials == {"MASTODON_ACCESS_TOKEN": "work-account-token"}
    assert mastodon[1].options == {"visibility": "unlisted", "spoiler_text": "cross-post"}
    assert settings.options_for("x", "default").link == "reply"
    assert settings.options_for("x", "default").utm == (("utm_source", "x"), ("utm_medium", "social"))
    assert settings.options_for("mastodon", "work").max_hashtags == 1
    assert "work-account-token" in settings.secrets


def test_two_mastodon_accounts_each_get_their_post(sandbox: Sandbox, tmp_path: Path) -> None:
    """Publishing goes to both accounts, each with its own token, visibility and content warning."""
    add_account(sandbox.app, "work-account-token", "work")
    path = tmp_path / "crosspost.toml"
    path.write_text(TOML, encoding="utf-8")
    env = {**sandbox.env(), "WORK_TOKEN": "work-account-token", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    settings = load_settings(env=env, config_file=path, load_dotenv=False)
    store = connect(settings.database_url)
    article = Article(title="Two accounts", url="https://example.com/two", summary="One article, two accounts.",
                      tags=("Fediverse", "Python"))
    try:
        results = Publisher(settings, store, backoff=0.01).publish(article, settings.accounts_for(("mastodon",)))
    finally:
        store.close()
    assert [(r.account, r.status) for r in results] == [("default", PUBLISHED), ("work", PUBLISHED)]
    requests = sandbox.app.received("mastodon.statuses.create")
    by_token = {r.header("authorization"): r.body.decode() for r in requests}
    work = by_token["Bearer work-account-token"]
    assert "visibility=unlisted" in work and "spoiler_text=cross-post" in work
    assert "%23Fediverse" in work and "%23Python" not in work  # max_hashtags = 1 for this account
    assert "visibility=public" in by_token[f"Bearer {sandbox.env()['MASTODON_ACCESS_TOKEN']}"]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[compose.x]\nlinks = 'always'\n", "unknown key"),
        ("[compose.myspace]\nlink = 'always'\n", "unknown platform"),
        ("[compose.x]\nlink = 'sometimes'\n", "link = 'sometimes' must be one of always"),
        ("[[accounts]]\nplatform = 'mastodon'\nname = 'work'\n", "MASTODON_ACCESS_TOKEN_WORK"),
        ("[[accounts]]\nname = 'nameless'\n", "platform"),
    ],
)
def test_bad_configuration_is_a_config_error(tmp_path: Path, toml: str, needle: str) -> None:
    """Each mistake in crosspost.toml is one ConfigError that names it."""
    path = tmp_path / "crosspost.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_settings(env={}, config_file=path, load_dotenv=False)


def test_mastodon_token_without_instance_is_a_config_error() -> None:
    """A Mastodon token alone cannot be used: the error says which setting is missing."""
    with pytest.raises(ConfigError, match="MASTODON_API_BASE_URL"):
        load_settings(env={"MASTODON_ACCESS_TOKEN": "t0ken"}, load_dotenv=False)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env={**base, **env}, cwd=ROOT, timeout=120)


def test_status_shows_where_the_article_is(sandbox: Sandbox, tmp_path: Path) -> None:
    """After a publish, `crosspost status` lists each platform's post URL; --json has the same rows."""
    md = tmp_path / "post.md"
    md.write_text("---\ntitle: Status check\nurl: https://example.com/status\n---\nBody text.\n", encoding="utf-8")
    env = {**sandbox.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    assert _cli(str(md), env=env).returncode == 0
    table = _cli("status", str(md), env=env)
    assert table.returncode == 0
    for platform in platforms.names():
        assert platform in table.stdout
    rows = json.loads(_cli("status", "--json", "--url", "https://example.com/status", env=env).stdout)
    assert {r["platform"]: r["state"] for r in rows} == dict.fromkeys(platforms.names(), "published")
    urls = {r["url"] for r in rows}
    assert all(u in table.stdout for u in urls)


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Serve tmp_path/feed.xml on 127.0.0.1."""
    feed = tmp_path / "feed.xml"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feed.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml", feed
    server.shutdown()


def _rss(*items: tuple[str, str]) -> str:
    entries = "".join(f"<item><guid>{g}</guid><title>{t}</title><link>https://blog.example.com/{g}</link>"
                      f"<description>About {t}.</description></item>" for g, t in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>{entries}</channel></rss>'


def test_watch_once_queues_only_new_entries(sandbox: Sandbox, tmp_path: Path,
                                            feed_server: tuple[str, Path]) -> None:
    """`crosspost watch FEED --once`: the archive is not queued, a new entry is, once; an edit is not."""
    url, feed = feed_server
    env = {**sandbox.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    feed.write_text(_rss(("a", "Old one"), ("b", "Older one")), encoding="utf-8")
    first = _cli("watch", url, "--once", env=env)
    assert first.returncode == 0 and "queued 0" in first.stdout, first.stderr
    feed.write_text(_rss(("c", "Brand new"), ("a", "Old one"), ("b", "Older one")), encoding="utf-8")
    assert "queued 1" in _cli("watch", url, "--once", env=env).stdout
    feed.write_text(_rss(("c", "Brand new, edited"), ("a", "Old one"), ("b", "Older one")), encoding="utf-8")
    assert "queued 0" in _cli("watch", url, "--once", env=env).stdout
    jobs = json.loads(_cli("queue", "--json", env=env).stdout)
    assert [j["article"]["url"] for j in jobs] == ["https://blog.example.com/c"]
