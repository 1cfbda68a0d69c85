"""Real CMS payload sizes: a Ghost 6.65 delivery with 25 revisions, the body cap, refusals logged and counted."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import counters
from bot.config import Settings
from bot.errors import ConfigError
from bot.signatures import sign_ghost
from bot.store import Store, connect
from bot.webhook import MAX_BODY_BYTES, create_app, parse_body_limit
from tests.test_webhook import JSON, SECRET, all_jobs, serve

GHOST = Path(__file__).resolve().parent / "fixtures" / "ghost-6.65"


def _revisions_body() -> bytes:
    return gzip.decompress((GHOST / "05-post.published-25-revisions.json.gz").read_bytes())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = connect(f"sqlite:///{tmp_path / 'crosspost.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def url(store: Store) -> Iterator[str]:
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon", "bluesky"])
    with serve(app) as base:
        yield base


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "crosspost.webhook" and r.getMessage() == "webhook refused"]


def test_real_ghost_delivery_with_25_revisions_is_queued_small(url: str, store: Store) -> None:
    """Ghost 6.65's 1,361,203-byte post.published (25 revisions), re-signed now: 202, one job, a small article."""
    body = _revisions_body()
    assert len(body) == 1_361_203
    reply = httpx.post(f"{url}/hooks/ghost", content=body, headers={**JSON, **sign_ghost(SECRET, body)}, timeout=30)
    assert reply.status_code == 202, reply.text
    jobs = all_jobs(store)
    assert len(jobs) == 1
    article = jobs[0].article
    raw = json.dumps(article, ensure_ascii=False)
    assert len(raw.encode()) < 100_000
    assert article["url"] == "http://127.0.0.1:2368/a-very-long-essay-rev-0/"
    assert article["body"] and "post_revisions" not in raw and "lexical" not in raw


def test_twenty_mb_body_is_413_with_one_log_line(url: str, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A 20 MB body is refused from Content-Length; one structured line names the reason and the sender."""
    before = counters.value("webhook_refused", reason="size")
    body = b'{"title": "' + b"x" * (20 * 1000 * 1000) + b'"}'
    with caplog.at_level(logging.INFO, logger="crosspost"):
        reply = httpx.post(f"{url}/hooks/ghost", content=body, headers={**JSON, **sign_ghost(SECRET, body)},
                           timeout=30)
    assert reply.status_code == 413
    lines = _refusals(caplog)
    assert len(lines) == 1
    assert lines[0].__dict__["reason"] == "size" and lines[0].__dict__["hook"] == "ghost"
    assert lines[0].__dict__["remote"].startswith("127.0.0.1:")
    assert counters.value("webhook_refused", reason="size") == before + 1
    assert all_jobs(store) == []


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({"Content-Type": "text/plain"}, b"{}", 415, "content_type"),
        (JSON, b'{"post": {"current": {}}}', 401, "signature"),
        (None, b"{not json", 400, "payload"),
    ],
)
def test_every_refusal_is_one_line_and_counted(
    url: str, caplog: pytest.LogCaptureFixture, headers: dict[str, str] | None, body: bytes, status: int, reason: str
) -> None:
    """Type, signature and parse refusals: one `webhook refused` line each, with the reason, and a count."""
    before = counters.value("webhook_refused", reason=reason)
    sent = headers if headers is not None else {**JSON, **sign_ghost(SECRET, body)}
    with caplog.at_level(logging.INFO, logger="crosspost"):
        reply = httpx.post(f"{url}/hooks/ghost", content=body, headers=sent)
    assert reply.status_code == status
    lines = _refusals(caplog)
    assert [r.__dict__["reason"] for r in lines] == [reason]
    assert counters.value("webhook_refused", reason=reason) == before + 1
    assert f'webhook_refused{{reason="{reason}"}}' in counters.snapshot()


def test_body_limit_is_configurable(store: Store) -> None:
    """A smaller cap refuses what the default accepts; the env value is validated."""
    assert parse_body_limit(None) == MAX_BODY_BYTES == 16 * 1024 * 1024
    assert parse_body_limit("512KiB") == 512 * 1024 and parse_body_limit("2m") == 2 * 1024 * 1024
    for bad in ("lots", "1k", "1GiB", "-5"):
        with pytest.raises(ConfigError):
            parse_body_limit(bad)
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon"], max_body_bytes=1024 * 1024)
    body = _revisions_body()
    with serve(app) as base:
        reply = httpx.post(f"{base}/hooks/ghost", content=body, headers={**JSON, **sign_ghost(SECRET, body)})
    assert reply.status_code == 413


def test_ghost_post_is_slimmed_to_what_the_loader_reads() -> None:
    """Revisions, lexical/mobiledoc, authors and (with plaintext) html are dropped; the Article is unchanged."""
    from bot.load.jsonfmt import from_ghost, slim_ghost_post

    post = json.loads(_revisions_body())["post"]["current"]
    slim = slim_ghost_post(post)
    assert "post_revisions" not in slim and "html" not in slim and "authors" not in slim
    assert len(json.dumps(slim)) < 100_000
    assert from_ghost({"post": {"current": slim}}) == from_ghost({"post": {"current": post}})
