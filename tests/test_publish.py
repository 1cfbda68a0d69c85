"""Publishing through the real SDKs over HTTP against the sandbox: the publisher's retry policy, the
ledger and exactly-once, per platform. Assertions are on what the sandbox received and kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.article import Article
from bot.config import Settings, load_settings
from bot.publish import ALREADY, DEFERRED, FAILED, PUBLISHED, Publisher, TargetResult
from bot.sandbox import Sandbox, credentials
from bot.store import connect

PLATFORMS = ("x", "bluesky", "mastodon")
CREATE = {"x": "x.tweets.create", "bluesky": "bluesky.repo.putRecord", "mastodon": "mastodon.statuses.create"}


@dataclass
class Rig:
    sandbox: Sandbox
    settings: Settings
    store: Any
    publisher: Publisher

    def publish(self, article: Article, platforms: tuple[str, ...] = PLATFORMS, **kw: Any) -> list[TargetResult]:
        return self.publisher.publish(article, self.settings.accounts_for(platforms), **kw)

    def posts(self, platform: str) -> list[dict[str, Any]]:
        return self.sandbox.app.posts(platform)


def make_settings(sandbox: Sandbox, tmp_path: Path, **env: str) -> Settings:
    full = {**sandbox.env(), "CROSSPOST_TIMEOUT": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", **env}
    return load_settings(env=full, load_dotenv=False)


@pytest.fixture
def rig(sandbox: Sandbox, tmp_path: Path) -> Iterator[Rig]:
    settings = make_settings(sandbox, tmp_path)
    store = connect(settings.database_url)
    yield Rig(sandbox, settings, store, Publisher(settings, store, backoff=0.01))
    store.close()


def article(n: int = 1, **kw: Any) -> Article:
    base: dict[str, Any] = {
        "title": f"Partnership news number {n}",
        "url": f"https://news.example.com/2026/partnership-{n}",
        "summary": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "body": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "tags": ("Microsoft", "OpenAI"),
        "lang": "en",
    }
    base.update(kw)
    return Article(**base)


def by_platform(results: list[TargetResult]) -> dict[str, TargetResult]:
    return {r.platform: r for r in results}


def test_single_post_everywhere_with_wire_checks(rig: Rig) -> None:
    """One article, three platforms: one post each, the fitted text and links on the wire."""
    a = article()
    results = by_platform(rig.publish(a))
    assert {r.status for r in results.values()} == {PUBLISHED}
    x_req = rig.sandbox.app.received("x.tweets.create")[0]
    assert x_req.header("authorization").startswith("OAuth ")
    assert a.url in x_req.json()["text"]
    m_req = rig.sandbox.app.received("mastodon.statuses.create")[0]
    assert m_req.header("authorization") == f"Bearer {credentials()['MASTODON_ACCESS_TOKEN']}"
    assert m_req.header("idempotency-key").startswith("cp-")
    b_req = rig.sandbox.app.received("bluesky.repo.putRecord")[0]
    record = b_req.json()["record"]
    assert record["embed"]["external"]["uri"] == a.url
    assert any(f["features"][0].get("uri") == a.url for f in record["facets"])
    assert record["langs"] == ["en"]
    for platform in PLATFORMS:
        assert len(rig.posts(platform)) == 1
        assert results[platform].posts[0].url


def test_second_run_posts_nothing_and_force_posts_again(rig: Rig) -> None:
    """Running again reports where the article already is; --force posts a new generation."""
    a = article()
    rig.publish(a)
    again = by_platform(rig.publish(a))
    assert {r.status for r in again.values()} == {ALREADY}
    assert all(len(rig.posts(p)) == 1 for p in PLATFORMS)
    forced = by_platform(rig.publish(replace(a, summary="A corrected summary, posted on purpose."), force=True))
    assert {r.status for r in forced.values()} == {PUBLISHED}
    assert all(len(rig.posts(p)) == 2 for p in PLATFORMS)


def test_thread_reply_chain_on_every_platform(rig: Rig) -> None:
    """A thread goes out as a reply chain: each part replies to the previous one, on the wire."""
    body = "\n\n".join(" ".join(f"Paragraph {p} has sentence {s} in it." for s in range(8)) for p in range(4))
    results = by_platform(rig.publish(article(body=body, summary="Lead."), thread=True))
    for platform in PLATFORMS:
        refs = results[platform].posts
        assert len(refs) >= 3, platform
        assert len(rig.posts(platform)) == len(refs)
    x_bodies = [r.json() for r in rig.sandbox.app.received("x.tweets.create")]
    ids = [r.id for r in results["x"].posts]
    assert "reply" not in x_bodies[0]
    assert [b["reply"]["in_reply_to_tweet_id"] for b in x_bodies[1:]] == ids[:-1]
    m_bodies = rig.sandbox.app.received("mastodon.statuses.create")
    m_ids = [r.id for r in results["mastodon"].posts]
    assert [_form(r.body).get("in_reply_to_id") for r in m_bodies[1:]] == m_ids[:-1]
    b_records = [r.json()["record"] for r in rig.sandbox.app.received("bluesky.repo.putRecord")]
    b_refs = results["bluesky"].posts
    assert all(rec["reply"]["root"]["uri"] == b_refs[0].id for rec in b_records[1:])
    assert [rec["reply"]["parent"]["uri"] for rec in b_records[1:]] == [r.id for r in b_refs[:-1]]


def _form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode()))


def test_image_with_alt_text_and_card_thumbnail(sandbox: Sandbox, tmp_path: Path) -> None:
    """With image = true the picture goes up with its alt text; Bluesky's card gets it as thumbnail."""
    toml = tmp_path / "crosspost.toml"
    toml.write_text("[compose.x]\nimage = true\n[compose.mastodon]\nimage = true\n", encoding="utf-8")
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "2", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    settings = load_settings(env=env, config_file=toml, load_dotenv=False)
    store = connect(settings.database_url)
    image = f"{sandbox.url}/mastodon-media/sample.png"
    a = article(image=image, image_alt="Two logos side by side")
    try:
        results = by_platform(Publisher(settings, store, backoff=0.01).publish(a, settings.accounts))
    finally:
        store.close()
    assert {r.status for r in results.values()} == {PUBLISHED}, [r.error for r in results.values()]
    x_post = sandbox.app.posts("x")[0]
    assert x_post["media"] and x_post["media"][0]["alt_text"] == "Two logos side by side"
    media = sandbox.app.received("mastodon.media.create")
    assert b"Two logos side by side" in media[0].body
    record = sandbox.app.received("bluesky.repo.putRecord")[0].json()["record"]
    assert record["embed"]["external"]["thumb"]["ref"]["$link"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_5xx_is_retried_and_posts_once(rig: Rig, platform: str) -> None:
    """Two 503s then success: retried with backoff, one post, the ledger counts three attempts."""
    rig.sandbox.app.inject(CREATE[platform], "error", status=503, count=2)
    result = rig.publish(article(), (platform,))[0]
    assert result.status == PUBLISHED, result.error
    assert len(rig.posts(platform)) == 1
    assert len(rig.sandbox.app.received(CREATE[platform])) == 3
    assert rig.store.ledger_rows()[0].attempts == 3


@pytest.mark.parametrize("platform", PLATFORMS)
def test_429_with_reset_is_honoured(rig: Rig, platform: str) -> None:
    """A 429 whose reset is 2.5 s away: the retry waits for the reset, and the post goes out once."""
    rig.sandbox.app.inject(CREATE[platform], "rate_limit", reset_in=2.5, count=1)
    started = time.time()
    result = rig.publish(article(), (platform,))[0]
    assert result.status == PUBLISHED, result.error
    requests = rig.sandbox.app.received(CREATE[platform])
    assert len(requests) == 2
    assert requests[1].at - requests[0].at >= 1.4  # reset headers are whole epoch seconds
    assert time.time() - started < 10
    assert len(rig.posts(platform)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_long_rate_limit_defers_the_target(rig: Rig, platform: str) -> None:
    """A reset an hour away is not waited for: the target is deferred with its time; others go out."""
    rig.sandbox.app.inject(CREATE[platform], "rate_limit", reset_in=3600, count=1)
    results = by_platform(rig.publish(article()))
    assert results[platform].status == DEFERRED
    assert results[platform].retry_at is not None and results[platform].retry_at.timestamp() > time.time() + 3000
    assert all(r.status == PUBLISHED for p, r in results.items() if p != platform)
    assert rig.posts(platform) == []
    assert rig.store.ledger_rows()[0].state in ("pending",) or any(
        r.state == "pending" for r in rig.store.ledger_rows() if r.platform == platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_timeout_before_commit_is_retried(rig: Rig, platform: str) -> None:
    """The server stalls past the client's timeout without doing anything: reconciled, resent, one post."""
    rig.sandbox.app.inject(CREATE[platform], "timeout", delay=1.6, count=1)
    result = rig.publish(article(), (platform,))[0]
    assert result.status == PUBLISHED, result.error
    assert len(rig.posts(platform)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", ["after_commit", "after_commit_timeout"])
def test_failure_after_commit_is_reconciled_without_duplicate(rig: Rig, platform: str, kind: str) -> None:
    """The post was made but the answer was lost: reconciliation finds it; it exists exactly once."""
    rig.sandbox.app.inject(CREATE[platform], kind, delay=1.6, count=1)
    result = rig.publish(article(), (platform,))[0]
    assert result.status == PUBLISHED, result.error
    posts = rig.posts(platform)
    assert len(posts) == 1
    row = rig.store.ledger_rows()[0]
    assert row.state == "published" and row.post_id == result.posts[0].id


@pytest.mark.parametrize("platform", PLATFORMS)
def test_connection_refused_is_transient_then_reported(sandbox: Sandbox, tmp_path: Path, platform: str) -> None:
    """Nothing listening: retried as transient, then reported failed with a clear message; nothing lost."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env_key = {"x": "X_API_BASE_URL", "bluesky": "BLUESKY_SERVICE_URL", "mastodon": "MASTODON_API_BASE_URL"}
    settings = make_settings(sandbox, tmp_path, **{env_key[platform]: dead}, CROSSPOST_MAX_ATTEMPTS="2")
    store = connect(settings.database_url)
    try:
        result = Publisher(settings, store, backoff=0.01).publish(article(), settings.accounts_for((platform,)))[0]
    finally:
        store.close()
    assert result.status == FAILED
    assert result.error and platform in result.error.lower()


def test_permanent_error_not_retried_and_reported_with_platform_message(rig: Rig) -> None:
    """A 422 from Mastodon (the instance's limit dropped under a cached one) fails at once, in its words."""
    base = rig.settings.accounts_for(("mastodon",))[0].base_url
    rig.store.kv_set(f"mastodon:server:{base}", {"software": "mastodon", "version": "4.3.0", "max_characters": 500,
                                                 "characters_reserved_per_url": 23, "max_media_attachments": 4})
    rig.sandbox.app.state["mastodon"]["config"]["max_characters"] = 100
    result = rig.publish(article(summary="A sentence that goes on. " * 30), ("mastodon",))[0]
    assert result.status == FAILED
    assert "character limit of 100 exceeded" in (result.error or "")
    assert len(rig.sandbox.app.received("mastodon.statuses.create")) == 1
    assert rig.store.ledger_rows()[0].state == "failed"
    assert rig.store.kv_get(f"mastodon:server:{base}") == {"stale": True}  # refused for length: ask again


def test_mastodon_limit_is_read_from_the_instance(rig: Rig) -> None:
    """An instance allowing 1000 characters gets a longer post than 500 would allow."""
    rig.sandbox.app.state["mastodon"]["config"]["max_characters"] = 1000
    long_summary = " ".join(f"Sentence {i} of the summary is here." for i in range(30))
    result = rig.publish(article(summary=long_summary), ("mastodon",))[0]
    assert result.status == PUBLISHED
    text = rig.posts("mastodon")[0]
    assert len(_form(rig.sandbox.app.received("mastodon.statuses.create")[0].body)["status"]) > 500, text


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bad_credentials_are_reported_as_such(sandbox: Sandbox, tmp_path: Path, platform: str) -> None:
    """Wrong credentials: failed at once, the message says the credentials were refused; no secret shown."""
    wrong = {"x": {"X_ACCESS_TOKEN_SECRET": "wrong-secret-value"},
             "bluesky": {"BLUESKY_APP_PASSWORD": "wrong-app-password"},
             "mastodon": {"MASTODON_ACCESS_TOKEN": "wrong-token-value"}}[platform]
    settings = make_settings(sandbox, tmp_path, **wrong)
    store = connect(settings.database_url)
    try:
        result = Publisher(settings, store, backoff=0.01).publish(article(), settings.accounts_for((platform,)))[0]
    finally:
        store.close()
    assert result.status == FAILED
    message = (result.error or "").lower()
    assert any(w in message for w in ("credential", "password", "token", "unauthorized", "401")), message
    assert next(iter(wrong.values())) not in (result.error or "")
    assert sandbox.app.posts(platform) == []


def test_thread_failing_at_part_3_resumes_at_part_3(rig: Rig) -> None:
    """A permanent failure at part 3 stops the thread; the next run resumes at part 3, replying to part 2."""
    body = "\n\n".join(" ".join(f"Paragraph {p} has sentence {s} in it." for s in range(8)) for p in range(4))
    a = article(body=body, summary="Lead.")
    calls: list[int] = []
    original = rig.sandbox.app.dispatch

    def dispatch(request: Any) -> Any:
        if request.path == "/api/v1/statuses" and request.method == "POST":
            calls.append(1)
            if len(calls) == 3:
                from bot.sandbox.core import Response

                return Response(422, {"error": "Validation failed: injected for part 3"})
        return original(request)

    rig.sandbox.app.dispatch = dispatch  # type: ignore[method-assign]
    failed = rig.publish(a, ("mastodon",), thread=True)[0]
    assert failed.status == FAILED and len(failed.posts) == 2
    assert "injected for part 3" in (failed.error or "")
    resumed = rig.publish(a, ("mastodon",), thread=True)[0]
    assert resumed.status == PUBLISHED
    total = len(resumed.posts)
    assert total >= 3
    assert [p.id for p in resumed.posts[:2]] == [p.id for p in failed.posts]
    third = rig.sandbox.app.received("mastodon.statuses.create")[2]  # the refused one never reached the app
    assert _form(third.body)["in_reply_to_id"] == failed.posts[1].id
    assert len(rig.posts("mastodon")) == total


def test_bluesky_reuses_its_session_for_100_posts(rig: Rig) -> None:
    """100 articles to Bluesky through the publisher: createSession is called once."""
    for n in range(100):
        result = rig.publish(article(n), ("bluesky",))[0]
        assert result.status == PUBLISHED, result.error
    assert len(rig.posts("bluesky")) == 100
    assert len(rig.sandbox.app.received("bluesky.server.createSession")) == 1


def test_no_secret_in_output_logs_or_json(sandbox: Sandbox, tmp_path: Path) -> None:
    """Secrets never appear in stdout, stderr (logs at DEBUG) or --json output, even on failures."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_"))}
    env.update(sandbox.env())
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", "CROSSPOST_LOG_LEVEL": "DEBUG",
                "CROSSPOST_TIMEOUT": "1", "MASTODON_ACCESS_TOKEN": "wrong-but-secret-token-42"})
    sandbox.app.inject("x.tweets.create", "error", status=500, count=2)
    sandbox.app.inject("bluesky.repo.putRecord", "after_commit", count=1)
    md = tmp_path / "post.md"
    md.write_text("---\ntitle: Secrets stay secret\nurl: https://example.com/s\ntags: [Security]\n---\nBody.\n",
                  encoding="utf-8")
    outputs, json_outputs = [], []
    for extra in ([], ["--json"]):
        proc = subprocess.run([sys.executable, "-m", "bot.cli", str(md), *extra], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120)
        outputs.append(proc.stdout + proc.stderr)
        if extra:
            json_outputs.append(json.loads(proc.stdout))
        assert proc.returncode == 1  # mastodon fails: the token is wrong
    assert "level=debug" in outputs[0] or "level=info" in outputs[0]  # the logs were really captured
    secrets = [v for k, v in credentials().items() if k not in ("MASTODON_ACCESS_TOKEN", "BLUESKY_HANDLE")]
    secrets.append("wrong-but-secret-token-42")
    everything = "\n".join(outputs)
    for secret in secrets:
        assert secret not in everything, secret
    statuses = {r["platform"]: r["status"] for r in json_outputs[0]["results"]}
    assert statuses["mastodon"] == "failed"


def test_a_rate_limited_instance_document_does_not_hold_the_post(rig: Rig) -> None:
    """A 429 on /api/v2/instance: the limit is read from /api/v1/instance and the post goes out (discovery
    never defers a target; a server that answers neither is measured conservatively, see test_fediverse)."""
    rig.sandbox.app.inject("mastodon.instance.v2", "rate_limit", reset_in=1.5, count=1)
    rig.sandbox.app.state["mastodon"]["config"]["max_characters"] = 640
    result = rig.publish(article(), ("mastodon",))[0]
    assert result.status == PUBLISHED, result.error
    assert len(rig.sandbox.app.received("mastodon.instance.v1")) == 1
    assert len(rig.posts("mastodon")) == 1
    base = rig.settings.accounts_for(("mastodon",))[0].base_url
    assert rig.store.kv_get(f"mastodon:server:{base}")["max_characters"] == 640
