"""The publishing policy at every entry point: ``crosspost ARTICLE``, ``crosspost schedule``, the three
webhooks, ``crosspost watch`` and the worker refuse a draft, a scheduled, a private and a trashed article
(Markdown, Ghost, WordPress, generic JSON, HTML) and an invalid canonical link; the sandbox receives zero
requests. A published control goes through the same path and does post, so "zero" means something."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest

from bot.article import Article
from bot.cli import main
from bot.config import Settings, load_settings
from bot.errors import InputError
from bot.feeds import poll_feed
from bot.load import parse_article
from bot.policy import (
    PUBLISH_DRAFT_KEY,
    BadCanonicalLink,
    NotPublished,
    check_publishable,
    publication_state,
    validate_canonical_url,
)
from bot.sandbox import Sandbox
from bot.signatures import sign_crosspost, sign_ghost, verify_ghost
from bot.store import Store, connect
from bot.webhook import create_app
from bot.worker import Worker
from tests.test_webhook import serve

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"
GHOST_SAMPLE_SECRET = "7341343356920277f0aa2d7c4b79dd5fb145854797268025"
SECRET = "policy-test-secret-0123456789"
JSON = {"Content-Type": "application/json"}
GOOD = "https://blog.example.com/2026/policy"

KINDS = ("draft", "scheduled", "private", "trashed")
FORMATS = ("markdown", "ghost", "wordpress", "generic", "html")
HOOKS = ("ghost", "wordpress", "generic")
WP_WORDS = {"draft": "draft", "scheduled": "future", "private": "private", "trashed": "trash"}
WORDS = {"draft": "draft", "scheduled": "scheduled", "private": "private", "trashed": "trash"}

BAD_URLS = {
    "newline": "https://example.com/a\nINJECTED",
    "spaces": "https://ex ample.com/a b",
    "space in path": "https://example.com/a b",
    "control": "https://example.com/a\x07b",
    "tab": "https://example.com/\ta",
    "nbsp": "https://example.com/a\u00a0b",
    "bidi override": "https://example.com/\u202egnp.exe",
    "no host": "https:///only/a/path",
    "javascript": "javascript:alert(1)",
    "relative": "/2026/policy",
    "ftp": "ftp://example.com/a",
    "userinfo": "https://blog.example.com@evil.example/a",
    "bad port": "https://example.com:99999/a",
    "bad host": "https://exa$mple.com/a",
    "empty label": "https://example..com/a",
    "numeric host": "http://2130706433/a",
    "too long": "https://example.com/" + "a" * 2040,
}
GOOD_URLS = [
    "https://blog.example.com/2026/policy?utm=x#part",
    "http://127.0.0.1:2368/post/",
    "https://[2001:db8::1]/a",
    "https://bücher.example/straße",
    "https://xn--bcher-kva.example/a%20b",
    "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    "http://localhost:8080/p",
]


# ---------------------------------------------------------------------------- sources


def source(fmt: str, kind: str | None, url: str = GOOD) -> tuple[str, bytes]:
    """An article in ``fmt`` whose source says ``kind`` (None: published), as (file name, bytes)."""
    if fmt == "markdown":
        state = {None: "", "draft": "draft: true\n"}.get(kind, f"status: {WORDS.get(kind or '', '')}\n")
        text = f"---\ntitle: Policy check\nurl: {json.dumps(url)}\n{state}---\n\nThe body of the article.\n"
        return "post.md", text.encode()
    if fmt == "html":
        ld: dict[str, Any] = {"@type": "BlogPosting", "headline": "Policy check"}
        if kind:
            ld["creativeWorkStatus"] = kind.capitalize()
        href = escape(url, {'"': "&quot;"})
        page = (f'<html><head><title>Policy check</title><link rel="canonical" href="{href}">'
                f'<script type="application/ld+json">{json.dumps(ld)}</script></head>'
                "<body><article><h1>Policy check</h1><p>The body of the article.</p></article></body></html>")
        return "post.html", page.encode()
    return "post.json", json.dumps(payload(fmt, kind, url)).encode()


def payload(fmt: str, kind: str | None, url: str = GOOD) -> dict[str, Any]:
    """A Ghost webhook, a WordPress REST post or a generic article saying ``kind`` (None: published)."""
    if fmt == "ghost":
        post = {"id": "6b0ebdc6d900043db67a1f99", "uuid": "0cca8fe7", "title": "Policy check", "url": url,
                "canonical_url": None, "custom_excerpt": "The excerpt.", "plaintext": "The body of the article.",
                "status": WORDS[kind] if kind else "published"}
        return {"event": "post.published", "post": {"current": post, "previous": {}}}
    if fmt == "wordpress":
        return {"id": 5, "status": WP_WORDS[kind] if kind else "publish", "link": url,
                "title": {"rendered": "Policy check"}, "content": {"rendered": "<p>The body of the article.</p>"},
                "excerpt": {"rendered": "<p>The excerpt.</p>"}}
    article: dict[str, Any] = {"title": "Policy check", "url": url, "summary": "The excerpt.",
                               "body": "The body of the article."}
    if kind == "draft":
        article["draft"] = True
    elif kind:
        article["status"] = WORDS[kind]
    return article


# ---------------------------------------------------------------------------- harness


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The sandbox's credentials and a SQLite store in tmp_path, for in-process ``bot.cli.main``.

    ``main`` sets up logging to the (captured) stderr of the moment; that is undone afterwards.
    """
    logger = logging.getLogger("crosspost")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    for name in list(__import__("os").environ):
        if name.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    for name, value in {**sandbox.env(), "CROSSPOST_TIMEOUT": "5",
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'policy.db'}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


def write(tmp_path: Path, fmt: str, kind: str | None, url: str = GOOD) -> str:
    name, data = source(fmt, kind, url)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def refused(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def jobs(tmp_path: Path) -> list[Any]:
    store = connect(f"sqlite:///{tmp_path / 'policy.db'}")
    try:
        return store.list_jobs(include_finished=True)
    finally:
        store.close()


def settings_for(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(env={**sandbox.env(), "CROSSPOST_TIMEOUT": "5",
                              "DATABASE_URL": f"sqlite:///{tmp_path / 'policy.db'}"}, load_dotenv=False)


def run_worker(sandbox: Sandbox, tmp_path: Path, store: Store) -> int:
    return Worker(settings_for(sandbox, tmp_path), store, poll_interval=0.05).run(once=True)


# ---------------------------------------------------------------------------- the rules themselves


@pytest.mark.parametrize(("given", "state"), [
    ({"status": "publish"}, "published"), ({"status": "Published"}, "published"), ({}, None),
    ({"draft": True}, "draft"), ({"draft": "yes"}, "draft"), ({"published": False}, "draft"),
    ({"published": "2026-01-01"}, None), ({"draft": False}, "published"),
    ({"status": "future"}, "scheduled"), ({"status": "trash"}, "trashed"), ({"status": "pending"}, "pending"),
    ({"status": "private"}, "private"), ({"status": "archived"}, "archived"),
    ({"status": "publish", "draft": True}, "draft"),
])
def test_publication_state_says_one_word(given: dict[str, Any], state: str | None) -> None:
    """Every way a source states its publication maps to one word; any 'not published' wins."""
    assert publication_state(**given) == state


@pytest.mark.parametrize("url", GOOD_URLS)
def test_valid_canonical_links_pass(url: str) -> None:
    """Absolute http(s) with a host name (IDNA too), an IP, a port, at most 2,048 characters."""
    assert validate_canonical_url(url) == url


@pytest.mark.parametrize("url", list(BAD_URLS.values()), ids=list(BAD_URLS))
def test_invalid_canonical_links_are_refused_in_one_line(url: str) -> None:
    """Whitespace, control characters, no host, javascript:, userinfo, > 2,048 characters: refused."""
    with pytest.raises(BadCanonicalLink) as caught:
        validate_canonical_url(url)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_loader_records_the_state_and_the_policy_refuses_it(fmt: str, kind: str) -> None:
    """Markdown front matter, Ghost, WordPress, generic JSON and HTML JSON-LD all land in Article.status."""
    name, data = source(fmt, kind)
    article = parse_article(data, origin=name)
    assert article.status not in (None, "published")
    with pytest.raises(NotPublished, match="not published"):
        check_publishable(article)
    check_publishable(article, allow_draft=True)  # the explicit flag
    published = parse_article(source(fmt, None)[1], origin=name)
    assert published.status in (None, "published")
    check_publishable(published)


# ---------------------------------------------------------------------------- crosspost ARTICLE


@pytest.mark.parametrize("fmt", FORMATS)
def test_crosspost_article_refuses_every_unpublished_kind(fmt: str, env: Path, sandbox: Sandbox,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """crosspost FILE: one-line error, exit 2, for each kind (even with --force); nothing reaches the sandbox."""
    for kind in KINDS:
        path = write(env, fmt, kind)
        refused(capsys, main([path]), "not published", "--publish-draft")
        refused(capsys, main([path, "--force"]), "not published")
    assert sandbox.app.requests == []
    assert main([write(env, fmt, None), "--platform", "mastodon"]) == 0  # the control posts
    assert sandbox.app.posts("mastodon")


def test_publish_draft_posts_a_draft_on_purpose(env: Path, sandbox: Sandbox) -> None:
    """--publish-draft is the one way to post an unpublished article by hand."""
    assert main([write(env, "markdown", "draft"), "--publish-draft", "--platform", "mastodon"]) == 0
    assert len(sandbox.app.posts("mastodon")) == 1


def test_dry_run_previews_a_draft(env: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """A dry run posts nothing, so it may show what a draft would look like."""
    assert main([write(env, "markdown", "draft"), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["platforms"]
    # The dry run may read the Mastodon server's facts (GET); it never writes anything.
    assert [r for r in sandbox.app.requests if r.method != "GET"] == []


@pytest.mark.parametrize("where", ["--url", "markdown", "generic", "html", "ghost", "wordpress"])
def test_crosspost_article_refuses_bad_links_everywhere(where: str, env: Path, sandbox: Sandbox,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A bad link on the command line or inside any format: exit 2, one line, nothing posted (dry run too)."""
    for name, bad in BAD_URLS.items():
        if where == "--url":
            code = main([write(env, "markdown", None), "--url", bad])
        else:
            code = main([write(env, where, None, bad)])
        err = refused(capsys, code)
        assert "link" in err or "url" in err, (name, err)
        if where == "--url":
            refused(capsys, main([write(env, "markdown", None), "--url", bad, "--dry-run"]), "--url")
    assert sandbox.app.requests == []


# ---------------------------------------------------------------------------- crosspost schedule + worker


@pytest.mark.parametrize("fmt", FORMATS)
def test_schedule_refuses_every_unpublished_kind_and_bad_links(fmt: str, env: Path, sandbox: Sandbox,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """crosspost schedule: the same refusals, nothing queued; the worker then has nothing to post."""
    for kind in KINDS:
        refused(capsys, main(["schedule", write(env, fmt, kind), "--in", "1s"]), "not published")
    for bad in (BAD_URLS["newline"], BAD_URLS["spaces"], BAD_URLS["javascript"], BAD_URLS["too long"]):
        refused(capsys, main(["schedule", write(env, fmt, None, bad), "--in", "1s"]))
        refused(capsys, main(["schedule", write(env, fmt, None), "--url", bad, "--in", "1s"]), "--url")
    assert jobs(env) == []
    assert sandbox.app.requests == []


def test_schedule_publish_draft_is_carried_to_the_worker(env: Path, sandbox: Sandbox) -> None:
    """schedule --publish-draft stores the decision in the job, and the worker honours it."""
    assert main(["schedule", write(env, "markdown", "draft"), "--publish-draft", "--platform", "mastodon",
                 "--json"]) == 0
    (job,) = jobs(env)
    assert job.article[PUBLISH_DRAFT_KEY] is True and job.article["status"] == "draft"
    store = connect(f"sqlite:///{env / 'policy.db'}")
    try:
        assert run_worker(sandbox, env, store) == 1
        assert store.get_job(job.id).state == "done"  # type: ignore[union-attr]
    finally:
        store.close()
    assert len(sandbox.app.posts("mastodon")) == 1


@pytest.mark.parametrize("kind", [*KINDS, "bad link"])
def test_worker_rechecks_the_stored_article(kind: str, sandbox: Sandbox, tmp_path: Path) -> None:
    """A job whose stored article is (became) unpublished or has a bad link fails with the reason, posts nothing."""
    store = connect(f"sqlite:///{tmp_path / 'policy.db'}")
    try:
        article = Article(title="Stored", url=GOOD, summary="s", body="b", status=WORDS.get(kind))
        if kind == "bad link":
            article = Article(title="Stored", url=BAD_URLS["newline"], summary="s", body="b")
        job, _ = store.enqueue(article=article.to_dict(), article_key=article.key,
                               targets=["x", "bluesky", "mastodon"], run_at=datetime.now(UTC))
        assert run_worker(sandbox, tmp_path, store) == 1
        done = store.get_job(job.id)
        assert done is not None and done.state == "failed"
        assert "not published" in (done.last_error or "") or "canonical link" in (done.last_error or "")
        assert sandbox.app.requests == []
        control = Article(title="Stored", url=GOOD + "/ok", summary="s", body="b", status="published")
        store.enqueue(article=control.to_dict(), article_key=control.key, targets=["mastodon"],
                      run_at=datetime.now(UTC))
        assert run_worker(sandbox, tmp_path, store) == 1
        assert len(sandbox.app.posts("mastodon")) == 1
    finally:
        store.close()


# ---------------------------------------------------------------------------- the webhooks


@pytest.fixture
def hook_store(tmp_path: Path) -> Iterator[Store]:
    s = connect(f"sqlite:///{tmp_path / 'policy.db'}")
    yield s
    s.close()


@pytest.fixture
def hooks(hook_store: Store) -> Iterator[str]:
    app = create_app(Settings(), hook_store, secret=SECRET, targets=["x", "bluesky", "mastodon"])
    with serve(app) as base:
        yield base


def deliver(base: str, hook: str, body: bytes | dict[str, Any], *, secret: str = SECRET) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = sign_ghost(secret, data) if hook == "ghost" else sign_crosspost(secret, data)
    return httpx.post(f"{base}/hooks/{hook}", content=data, headers={**JSON, **signed}, timeout=30)


@pytest.mark.parametrize("hook", HOOKS)
def test_webhooks_ignore_every_unpublished_kind_and_422_bad_links(hook: str, hooks: str, hook_store: Store,
                                                                  sandbox: Sandbox, tmp_path: Path) -> None:
    """200 {"ignored"} for each unpublished kind, 422 for each bad link; nothing queued, nothing posted."""
    for kind in KINDS:
        reply = deliver(hooks, hook, payload(hook, kind))
        assert reply.status_code == 200, reply.text
        assert "not published" in reply.json()["ignored"] and reply.json()["cancelled"] == []
    for name, bad in BAD_URLS.items():
        if hook == "ghost" and name in ("relative", "javascript", "ftp", "no host"):
            continue  # Ghost's url is read leniently (the loader's http_url); a missing one is tested below
        reply = deliver(hooks, hook, payload(hook, None, bad))
        assert reply.status_code == 422, (name, reply.text)
        assert "link" in reply.json()["error"] or "url" in reply.json()["error"]
    reply = deliver(hooks, hook, payload(hook, None, "javascript:alert(1)"))
    assert reply.status_code == 422
    assert hook_store.list_jobs(include_finished=True) == []
    assert run_worker(sandbox, tmp_path, hook_store) == 0
    assert sandbox.app.requests == []
    assert deliver(hooks, hook, payload(hook, None)).status_code == 202  # the control is queued


def test_openapi_documents_the_policy_answers(hooks: str) -> None:
    """The OpenAPI says what 422 and an ignored answer with cancelled jobs mean."""
    doc = httpx.get(f"{hooks}/openapi.json").json()
    responses = doc["paths"]["/hooks/generic"]["post"]["responses"]
    assert "canonical link" in responses["422"]["description"]
    assert "draft" in responses["200"]["description"]
    assert "cancelled" in doc["components"]["schemas"]["Ignored"]["properties"]


def test_real_ghost_unpublish_cancels_the_queued_job(hooks: str, hook_store: Store, sandbox: Sandbox,
                                                     tmp_path: Path) -> None:
    """Ghost 6.65's post.published queues a job; its post.unpublished (same post, now a draft with a
    /p/<uuid>/ link) cancels it, and the worker posts nothing."""
    published = (SAMPLES / "01-post.published.json").read_bytes()
    unpublished = (SAMPLES / "03-post.unpublished.json").read_bytes()
    headers = dict(json.loads((SAMPLES / "03-post.unpublished.headers.json").read_text())["headers"])
    signature = headers["x-ghost-signature"]
    t = int(signature.rsplit("t=", 1)[1])
    verify_ghost(GHOST_SAMPLE_SECRET, unpublished, signature, now=t / 1000)  # the fixture is byte-exact
    queued = deliver(hooks, "ghost", published)
    assert queued.status_code == 202, queued.text
    reply = deliver(hooks, "ghost", unpublished)
    assert reply.status_code == 200, reply.text
    assert reply.json()["cancelled"] == [queued.json()["job"]]
    job = hook_store.get_job(queued.json()["job"])
    assert job is not None and job.state == "cancelled"
    assert run_worker(sandbox, tmp_path, hook_store) == 0
    assert sandbox.app.requests == []


def test_ghost_deleted_cancels_the_queued_job(hooks: str, hook_store: Store) -> None:
    """post.deleted carries the post in ``previous`` (``current`` is empty): its job is cancelled."""
    data = json.loads((SAMPLES / "01-post.published.json").read_bytes())
    queued = deliver(hooks, "ghost", data)
    assert queued.status_code == 202
    deleted = {"event": "post.deleted", "post": {"current": {}, "previous": data["post"]["current"]}}
    reply = deliver(hooks, "ghost", deleted)
    assert reply.status_code == 200 and reply.json()["cancelled"] == [queued.json()["job"]]


def test_wordpress_status_leaving_publish_cancels_the_queued_job(hooks: str, hook_store: Store,
                                                                 sandbox: Sandbox, tmp_path: Path) -> None:
    """The real WordPress 6.1 post is queued; the same post delivered as a draft (link now /?p=ID, as
    WordPress gives a draft) cancels the job; the real draft and scheduled posts are ignored."""
    post = json.loads((SAMPLES / "post-published-embed.json").read_bytes())
    queued = deliver(hooks, "wordpress", post)
    assert queued.status_code == 202, queued.text
    for sample in ("post-draft-embed.json", "post-future-embed.json"):
        other = deliver(hooks, "wordpress", (SAMPLES / sample).read_bytes())
        assert other.status_code == 200 and other.json()["cancelled"] == []  # other posts: not this job
    drafted = {**post, "status": "draft", "link": f"http://127.0.0.1:8080/?p={post['id']}"}
    reply = deliver(hooks, "wordpress", drafted)
    assert reply.status_code == 200 and reply.json()["cancelled"] == [queued.json()["job"]]
    assert run_worker(sandbox, tmp_path, hook_store) == 0
    assert sandbox.app.requests == []


def test_generic_draft_cancels_the_queued_job(hooks: str, hook_store: Store) -> None:
    """A generic delivery saying draft for a queued article's link cancels its job too."""
    queued = deliver(hooks, "generic", payload("generic", None))
    reply = deliver(hooks, "generic", payload("generic", "draft"))
    assert reply.json()["cancelled"] == [queued.json()["job"]]


# ---------------------------------------------------------------------------- crosspost watch


@pytest.fixture
def feed_url() -> Iterator[list[Any]]:
    """[url, body]: a feed on 127.0.0.1 whose body the test sets."""
    state: list[Any] = ["", b""]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(state[1])))
            self.end_headers()
            self.wfile.write(state[1])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state[0] = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    yield state
    server.shutdown()
    server.server_close()


def rss(items: list[tuple[str, str, str | None]]) -> bytes:
    """(guid, link, wp:status) items as RSS (wp:status as a WordPress export writes it)."""
    parts = []
    for guid, link, status in items:
        wp = f"<wp:status>{status}</wp:status>" if status else ""
        parts.append(f"<item><title>Entry {escape(guid)}</title><link>{escape(link)}</link>"
                     f"<guid isPermaLink=\"false\">{escape(guid)}</guid>{wp}<description>text</description></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>f</title><link>https://b.example/</link>'
            + "".join(parts) + "</channel></rss>").encode()


def test_watch_warns_and_never_queues_unpublished_entries_or_bad_links(
    feed_url: list[Any], hook_store: Store, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Feed entries that are not published or whose link is bad: a warning each, no job, nothing posted."""
    settings = Settings(allow_private_network=True, timeout=5)
    feed_url[1] = rss([("seed", "https://b.example/seed", None)])
    poll_feed(hook_store, feed_url[0], settings=settings, targets=["mastodon"])  # first poll: catalogue only
    items: list[tuple[str, str, str | None]] = [
        (f"k-{kind}", f"https://b.example/{kind}", WP_WORDS[kind]) for kind in KINDS
    ]
    # feedparser itself turns https:///a into https://a, and a relative link is joined with the feed's
    items += [(f"u-{name}", bad, None) for name, bad in BAD_URLS.items() if name not in ("relative", "no host")]
    items.append(("ok", "https://b.example/ok", "publish"))
    feed_url[1] = rss(items)
    with caplog.at_level(logging.WARNING, logger="crosspost.feeds"):
        result = poll_feed(hook_store, feed_url[0], settings=settings, targets=["mastodon"])
    assert len(result.queued) == 1, [j.article["url"] for j in hook_store.list_jobs()]
    (job,) = hook_store.list_jobs(include_finished=True)
    assert job.article["url"] == "https://b.example/ok"
    warnings = [r for r in caplog.records if r.getMessage() == "feed entry not queued"]
    assert len(warnings) == len(items) - 1
    hook_store.cancel(job.id)
    assert run_worker(sandbox, tmp_path, hook_store) == 0
    assert sandbox.app.requests == []


def test_check_publishable_is_an_input_error() -> None:
    """Every refusal is an InputError: exit 2 by hand, 4xx or ignored from the webhook."""
    assert issubclass(NotPublished, InputError) and issubclass(BadCanonicalLink, InputError)
