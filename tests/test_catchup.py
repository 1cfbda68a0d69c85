"""The catch-up: publications the webhook missed are found on the site (feed, Ghost Content API,
WordPress REST) and posted once; late webhooks for them post nothing more; old ones never."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.catchup import CatchupConfig, poll_all
from bot.config import Settings
from bot.errors import ConfigError
from bot.sandbox import Sandbox
from bot.signatures import sign_ghost
from bot.store import Store, connect
from tests.cms_fakes import GHOST_KEY, Post, Site, serve_site
from tests.conftest import ROOT
from tests.test_serve_e2e import _free_port

SECRET = "catchup-webhook-secret-0123456789"
PLATFORMS = ("x", "bluesky", "mastodon")


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site(Site(posts=[Post("old-news", "Published three days ago", _ago(days=3))])) as running:
        yield running


def _call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Serve:
    """``crosspost serve`` as a subprocess, against the sandbox and the fake site."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)], cwd=ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(200):
            try:
                if _call(f"{self.base}/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("crosspost serve did not start")

    def stop(self) -> str:
        self.proc.terminate()
        output = self.proc.communicate(timeout=30)[0]
        assert self.proc.returncode == 0, output
        return output


def _wait_for_posts(sandbox: Sandbox, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(len(sandbox.app.posts(p)) >= count for p in PLATFORMS):
            return
        time.sleep(0.1)
    raise AssertionError({p: len(sandbox.app.posts(p)) for p in PLATFORMS})


def test_serve_posts_what_was_published_while_it_was_down(sandbox: Sandbox, site: Site, tmp_path: Path) -> None:
    """Three posts published while crosspost is down are posted at start-up, once; late webhooks add nothing;
    the three-day-old post is never posted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_"))}
    env.update(sandbox.env())
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "CROSSPOST_WEBHOOK_SECRET": SECRET,
        "CROSSPOST_CATCHUP_FEED": f"{site.base}/rss/", "CROSSPOST_GHOST_URL": site.base,
        "CROSSPOST_GHOST_CONTENT_KEY": GHOST_KEY, "CROSSPOST_CATCHUP_EVERY": "10m", "CROSSPOST_CATCHUP_WINDOW": "2d",
    })
    first = Serve(env)  # a first run: the old post is outside the window
    deadline = time.monotonic() + 30
    while sum(1 for r in site.requests if r.startswith("/ghost/")) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.stop()
    assert all(sandbox.app.posts(p) == [] for p in PLATFORMS)

    new = [Post(f"while-down-{i}", f"Published while crosspost was down, number {i}", _ago(minutes=30 - i))
           for i in range(3)]
    site.posts.extend(new)
    second = Serve(env)
    try:
        _wait_for_posts(sandbox, 3)
        for post in new:  # Ghost's deliveries arriving late, for the same posts
            body = site.webhook_body(post)
            status, reply = _call(f"{second.base}/hooks/ghost", body,
                                  {"Content-Type": "application/json", **sign_ghost(SECRET, body)})
            assert status == 200 and reply["state"] in ("queued", "running", "done"), reply
        time.sleep(1.5)  # give the worker a chance to (wrongly) post again
    finally:
        output = second.stop()
    for platform in PLATFORMS:
        posts = sandbox.app.posts(platform)
        assert len(posts) == 3, (platform, output)
        texts = json.dumps(posts)
        assert "three days ago" not in texts
        assert all(site.url(p) in texts for p in new)
    assert SECRET not in output and GHOST_KEY not in output
    with connect(env["DATABASE_URL"]) as db:  # one job per article, whoever found it first
        assert sorted(j.article["url"] for j in db.list_jobs(include_finished=True)) == [site.url(p) for p in new]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = connect(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    yield s
    s.close()


def test_wordpress_catchup_keeps_a_cursor_and_the_window(site: Site, store: Store) -> None:
    """WordPress REST: the first poll looks back one window; the next asks from the newest post seen."""
    site.posts.append(Post("fresh", "A fresh WordPress post", _ago(hours=1)))
    config = CatchupConfig(wordpress_url=site.base, window=timedelta(days=2))
    settings = Settings(allow_private_network=True)
    queued = poll_all(store, config, settings=settings, targets=["mastodon"])
    assert len(queued) == 1
    job = store.get_job(queued[0])
    assert job is not None and job.article["url"] == f"{site.base}/fresh/" and job.article["tags"] == ["Catch Up"]
    site.posts.append(Post("fresher", "Another one", _ago(minutes=5)))
    assert len(poll_all(store, config, settings=settings, targets=["mastodon"])) == 1
    assert poll_all(store, config, settings=settings, targets=["mastodon"]) == []
    afters = [r for r in site.requests if r.startswith("/wp-json/")]
    assert len(afters) == 3 and afters[0] != afters[1]


def test_a_draft_or_undated_post_from_an_api_is_not_queued() -> None:
    """The catch-up obeys the same rules as the webhook: only published, dated, in-window posts."""
    from bot.article import Article
    from bot.catchup import not_publishable

    now = datetime.now(UTC)
    ok = Article(title="t", url="https://x.example/a", published_at=now.isoformat())
    assert not_publishable(ok, now, timedelta(days=2)) is None
    from dataclasses import replace

    assert not_publishable(replace(ok, status="draft"), now, timedelta(days=2))
    assert not_publishable(replace(ok, status="scheduled"), now, timedelta(days=2))
    assert not_publishable(replace(ok, url="https://x.example/a b"), now, timedelta(days=2))
    assert not_publishable(replace(ok, published_at=None), now, timedelta(days=2))
    assert not_publishable(replace(ok, published_at=(now - timedelta(days=3)).isoformat()), now, timedelta(days=2))
    assert not_publishable(replace(ok, published_at=(now + timedelta(hours=1)).isoformat()), now, timedelta(days=2))


@pytest.mark.parametrize(
    "env",
    [
        {"CROSSPOST_GHOST_URL": "https://blog.example.com"},
        {"CROSSPOST_GHOST_URL": "https://b.example", "CROSSPOST_GHOST_CONTENT_KEY": "not-a-key!"},
        {"CROSSPOST_WORDPRESS_URL": "ftp://blog"},
        {"CROSSPOST_CATCHUP_EVERY": "often"},
        {"CROSSPOST_CATCHUP_EVERY": "2s"},
        {"CROSSPOST_CATCHUP_WINDOW": "0"},
    ],
)
def test_catchup_settings_are_validated(env: dict[str, str]) -> None:
    """Every catch-up variable is checked; a bad one is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="CROSSPOST_"):
        CatchupConfig.from_env(env)


def test_catchup_defaults() -> None:
    """Every 10 minutes, two days back; a bare number is minutes (every) or days (window); 0 turns it off."""
    config = CatchupConfig.from_env({"CROSSPOST_CATCHUP_FEED": "https://b.example/rss/"})
    assert config.every == timedelta(minutes=10) and config.window == timedelta(days=2) and config.enabled
    tuned = CatchupConfig.from_env({"CROSSPOST_CATCHUP_EVERY": "5", "CROSSPOST_CATCHUP_WINDOW": "1"})
    assert tuned.every == timedelta(minutes=5) and tuned.window == timedelta(days=1) and not tuned.enabled
    off = CatchupConfig.from_env({"CROSSPOST_CATCHUP_FEED": "https://b.example/rss/", "CROSSPOST_CATCHUP_EVERY": "0"})
    assert not off.enabled
