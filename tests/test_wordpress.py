"""WordPress as it really is (tests/fixtures/wordpress-6.1, from a real WordPress 6.1.9): the default REST
answer, the embedded one, the post's page and the RSS feed, served by a stand-in site on 127.0.0.1."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from bot.article import Article
from bot.config import Settings, load_settings
from bot.feeds import parse_feed, poll_feed
from bot.load import load_article, parse_article
from bot.load.wordpress import MemoryCache, resolve_wordpress
from bot.sandbox import Sandbox
from bot.store import Store, connect
from bot.webhook import create_app
from bot.worker import Worker
from tests.conftest import ROOT
from tests.test_webhook import SECRET, serve, signed_post

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wordpress-6.1"
ORIGINAL = "http://127.0.0.1:8080"
POST_PATH = "/2026/12/dont-panic-tips-tricks-for-cross-posting-%f0%9f%9a%80/"
TITLE = "Don’t panic: Tips & Tricks for cross-posting 🚀"
SUMMARY = "A “quick” guide to posting once & everywhere — without cutting #hashtags in half."
ALT = "Une fusée & trois logos"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + pixels + chunk(b"IEND", b"")


def _rewrite(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace(ORIGINAL, base)
    if isinstance(value, list):
        return [_rewrite(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, base) for k, v in value.items()}
    return value


@dataclass
class Site:
    """The stand-in WordPress site; ``paths`` lists what it was asked for; ``missing`` answers 404."""

    base: str = ""
    paths: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)

    def json(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = _rewrite(json.loads((FIXTURES / name).read_text("utf-8")), self.base)
        return data

    def text(self, name: str) -> str:
        return (FIXTURES / name).read_text("utf-8").replace(ORIGINAL, self.base)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        embedded = self.json("post-published-embed.json")["_embedded"]
        if path in self.missing:
            return 404, "application/json", b'{"code":"rest_post_invalid_id"}'
        if path == "/wp-json/wp/v2/posts/5":
            name = "post-published-embed.json" if "_embed" in query else "post-published.json"
            return 200, "application/json", json.dumps(self.json(name)).encode()
        if path == "/wp-json/wp/v2/tags":
            wanted = {int(i) for i in query.get("include", [""])[0].split(",") if i}
            terms = [t for group in embedded["wp:term"] for t in group if t["taxonomy"] == "post_tag"]
            return 200, "application/json", json.dumps([t for t in terms if t["id"] in wanted]).encode()
        if path == "/wp-json/wp/v2/categories":
            return 200, "application/json", json.dumps([{"name": "Actualités"}, {"name": "Uncategorized"}]).encode()
        if path == "/wp-json/wp/v2/media/4":
            return 200, "application/json", json.dumps(embedded["wp:featuredmedia"][0]).encode()
        if path == POST_PATH:
            return 200, "text/html; charset=UTF-8", self.text("post-page.html").encode()
        if path == "/feed.xml":
            return 200, "application/rss+xml", self.text("feed.xml").encode()
        if path.endswith(".png"):
            return 200, "image/png", _png()
        return 404, "text/plain", b"not found"


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.paths.append(self.path)
            status, kind, body = state.answer(parts.path, parse_qs(parts.query, keep_blank_values=True))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _essentials(article: Article) -> tuple[Any, ...]:
    return article.title, article.summary, article.tags, article.url, article.image, article.image_alt


# ---------------------------------------------------------------------------- REST and the page


def test_default_rest_embedded_rest_and_page_agree(site: Site) -> None:
    """The default REST answer (ids only), ?_embed and the post's page give the same article."""
    default = load_article(f"{site.base}/wp-json/wp/v2/posts/5", allow_private=True)
    embedded = load_article(f"{site.base}/wp-json/wp/v2/posts/5?_embed", allow_private=True)
    page = load_article(site.base + POST_PATH, allow_private=True)
    expected = (TITLE, SUMMARY, ("Développement", "Python"), site.base + POST_PATH,
                f"{site.base}/wp-content/uploads/2026/12/cover-crosspost.png", ALT)
    assert _essentials(default) == expected
    assert _essentials(embedded) == expected
    assert _essentials(page) == expected
    assert "🚀 too." in default.body and default.body == page.body
    assert not default.extra.get("warnings") and "wordpress_pending" not in default.extra
    assert "/wp-json/wp/v2/posts/5?_embed" in site.paths  # the page was read from its REST JSON


def test_page_alone_without_its_json(site: Site, tmp_path: Path) -> None:
    """Read as a file (no JSON fetched): title without the site name, rel=tag tags without the category,
    the featured image with its alt, the <time>, and a body without byline, tags or comments."""
    page = tmp_path / "post.html"
    page.write_text(site.text("post-page.html"), encoding="utf-8")
    article = load_article(str(page))
    assert article.title == TITLE
    assert article.tags == ("Développement", "Python")
    assert article.url == site.base + POST_PATH
    assert (article.image, article.image_alt) == (f"{site.base}/wp-content/uploads/2026/12/cover-crosspost.png", ALT)
    assert article.published_at == "2026-12-01T13:36:31+01:00"
    assert article.body.startswith("Cross-posting by hand is tedious")
    assert article.body.endswith("with an emoji 🚀 too.")
    for boilerplate in ("Posted", "Tags:", "admin", "Comments", "Actualités", "Leave a Reply"):
        assert boilerplate not in article.body
    assert article.extra["json_alternate"] == f"{site.base}/wp-json/wp/v2/posts/5"
    assert site.paths == []


def test_lookups_are_cached(site: Site) -> None:
    """A second post with the same tags and media asks the site nothing."""
    post = site.json("post-published.json")
    cache = MemoryCache()
    first = resolve_wordpress(parse_article(json.dumps(post).encode()), cache=cache, allow_private=True)
    asked = list(site.paths)
    again = resolve_wordpress(parse_article(json.dumps(post).encode()), cache=cache, allow_private=True)
    assert first.tags == again.tags == ("Développement", "Python") and again.image_alt == ALT
    assert len(asked) == 2 and site.paths == asked


def test_media_404_leaves_the_image_out_with_one_warning(site: Site) -> None:
    """The media is gone (404): tags still resolve, the image is left out, the warning says so."""
    site.missing.add("/wp-json/wp/v2/media/4")
    article = load_article(f"{site.base}/wp-json/wp/v2/posts/5", allow_private=True)
    assert article.tags == ("Développement", "Python") and article.image is None
    (warning,) = article.extra["warnings"]
    assert "featured image left out" in warning and "tags" not in warning.split("left out")[0]
    assert "HTTP 404" in warning


def test_cli_warns_when_the_rest_api_is_refused(site: Site, tmp_path: Path) -> None:
    """Private addresses not allowed: the dry run goes on, with one warning naming tags and image."""
    post = tmp_path / "post.json"
    post.write_text(json.dumps(site.json("post-published.json")), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", str(post), "--dry-run", "--platform", "mastodon"],
                          capture_output=True, text=True, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "WordPress tags and featured image left out" in warnings[0]
    assert "refused to fetch 127.0.0.1" in warnings[0]
    assert site.paths == []


# ---------------------------------------------------------------------------- webhook -> worker


def test_webhook_without_embed_is_resolved_by_the_worker(site: Site, sandbox: Sandbox, tmp_path: Path) -> None:
    """/hooks/wordpress with the default REST body: the hook only queues; the worker posts with the
    hashtags and the featured image (with its alt text) it got from the site's REST API."""
    toml = tmp_path / "crosspost.toml"
    toml.write_text("[compose.mastodon]\nimage = true\n", encoding="utf-8")
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "3", "DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    settings = load_settings(env=env, config_file=toml, load_dotenv=False)
    store = connect(env["DATABASE_URL"])
    try:
        with serve(create_app(settings, store, secret=SECRET, targets=["mastodon"])) as hook:
            reply = signed_post(hook, "wordpress", site.json("post-published.json"))
        assert reply.status_code == 202, reply.text
        assert site.paths == []  # ingest stays fast: nothing fetched at the hook
        job = store.get_job(reply.json()["job"])
        assert job is not None and job.article["tags"] == [] and "wordpress_pending" in job.article
        assert Worker(settings, store, poll_interval=0.05).run(once=True) == 1
        assert store.get_job(job.id).state == "done"  # type: ignore[union-attr]
    finally:
        store.close()
    (sent,) = sandbox.app.received("mastodon.statuses.create")
    status = dict(parse_qsl(sent.body.decode()))["status"]
    assert "#Développement" in status and "#Python" in status and TITLE in status
    media = sandbox.app.received("mastodon.media.create")
    assert len(media) == 1 and ALT.encode() in media[0].body
    assert any(p.startswith("/wp-json/wp/v2/tags?include=2,3") for p in site.paths)


# ---------------------------------------------------------------------------- the feed


def test_feed_entry_matches_rest_without_categories_or_sample_post(site: Site, tmp_path: Path) -> None:
    """The feed: same title, link and tags as REST (no #Actualités), the 🚀 kept, and even with
    --backfill the sample post "Hello world!" is never queued."""
    rest = load_article(f"{site.base}/wp-json/wp/v2/posts/5", allow_private=True)
    store: Store = connect(f"sqlite:///{tmp_path / 'feed.db'}")
    try:
        settings = Settings(allow_private_network=True, timeout=5, feed_max_age_days=3650)
        result = poll_feed(store, f"{site.base}/feed.xml", settings=settings, targets=["mastodon"], backfill=5)
        jobs = [store.get_job(i) for i in result.queued]
    finally:
        store.close()
    assert result.first_run and result.seen_now == 2 and len(jobs) == 1
    article = Article.from_dict(jobs[0].article)  # type: ignore[union-attr]
    assert (article.title, article.url, article.tags) == (rest.title, rest.url, rest.tags)
    assert "🚀 too." in article.body


def test_feed_categories_as_tags_when_configured_and_the_age_window(site: Site, tmp_path: Path) -> None:
    """feed_categories_as_tags keeps every <category>; feed_max_age_days leaves out older entries."""
    (entry, _sample) = parse_feed(site.text("feed.xml").encode(), feed_url=site.base + "/feed.xml",
                                 categories_as_tags=True)
    assert entry.article.tags == ("Actualités", "Développement", "Python")
    store: Store = connect(f"sqlite:///{tmp_path / 'feed.db'}")
    try:
        old = Settings(allow_private_network=True, timeout=5, feed_max_age_days=0.0001)  # about 9 s
        result = poll_feed(store, f"{site.base}/feed.xml", settings=old, targets=["mastodon"], backfill=5)
    finally:
        store.close()
    assert result.queued == [] and result.seen_now == 2


def test_feed_max_age_days_from_toml(tmp_path: Path) -> None:
    """crosspost.toml sets both feed options; the window defaults to 14 days."""
    toml = tmp_path / "crosspost.toml"
    toml.write_text("feed_categories_as_tags = true\nfeed_max_age_days = 3\n", encoding="utf-8")
    settings = load_settings(env={}, config_file=toml, load_dotenv=False)
    assert settings.feed_categories_as_tags and settings.feed_max_age_days == 3
    assert load_settings(env={}, load_dotenv=False).feed_max_age_days == 14


# ---------------------------------------------------------------------------- CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=60)


def test_json_refusal_prints_an_error_object(tmp_path: Path) -> None:
    """A refused run with --json: exit 2, one error line on stderr, {"error", "code"} on stdout."""
    proc = _cli(str(FIXTURES / "post-draft-embed.json"), "--json", cwd=tmp_path)
    assert proc.returncode == 2
    reply = json.loads(proc.stdout)
    assert reply["code"] == 2 and "not published (its source says 'draft')" in reply["error"]
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    missing = _cli(str(tmp_path / "nope.md"), "--json", cwd=tmp_path)
    assert json.loads(missing.stdout) == {"error": f"{tmp_path / 'nope.md'}: no such file", "code": 2}
    assert _cli(str(tmp_path / "nope.md"), cwd=tmp_path).stdout == ""


def test_draft_dry_run_says_a_real_run_would_refuse(tmp_path: Path) -> None:
    """The dry run of a draft still shows the posts, and says that a real run would refuse it."""
    proc = _cli(str(FIXTURES / "post-draft-embed.json"), "--dry-run", "--json", "--platform", "mastodon", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "note: a real run would refuse this: the article is not published (its source says 'draft')" in proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["refused"] == "the article is not published (its source says 'draft')" and plan["platforms"]
