"""The webhook server over real HTTP: uvicorn on 127.0.0.1, a SQLite store in tmp_path, httpx as the CMS."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from bot.config import Settings
from bot.errors import ConfigError
from bot.signatures import (
    SignatureError,
    crosspost_signature,
    ghost_signature,
    sign_crosspost,
    sign_ghost,
    verify_crosspost,
    verify_ghost,
)
from bot.store import Store, connect
from bot.webhook import OPENAPI, create_app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
SECRET = "whsec-test-0123456789abcdef"
API_TOKEN = "read-token-fedcba9876543210"
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


# ---------------------------------------------------------------------------- harness


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port of 127.0.0.1 in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = connect(f"sqlite:///{tmp_path / 'crosspost.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def url(store: Store) -> Iterator[str]:
    """A signed webhook server (secret SECRET) posting to mastodon and bluesky."""
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon", "bluesky"], api_token=API_TOKEN)
    with serve(app) as base:
        yield base


SMALL_LIMIT = 1024 * 1024


@pytest.fixture
def small_url(store: Store) -> Iterator[str]:
    """The same server with a 1 MiB body cap (the default, 16 MiB, is slow to exceed in every test)."""
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon", "bluesky"], max_body_bytes=SMALL_LIMIT)
    with serve(app) as base:
        yield base


def ghost_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / "ghost-post-published.json").read_text("utf-8"))
    payload["post"]["current"].update(changes)
    return payload


def ghost_post(base: str, payload: dict[str, Any], *, secret: str = SECRET, **kw: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {**JSON, **sign_ghost(secret, body), **kw.pop("headers", {})}
    return httpx.post(f"{base}/hooks/ghost", content=body, headers=headers, timeout=30, **kw)


def signed_post(base: str, hook: str, payload: Any, *, secret: str = SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(f"{base}/hooks/{hook}", content=body, headers={**JSON, **sign_crosspost(secret, body)})


def all_jobs(store: Store) -> list[Any]:
    return store.list_jobs(include_finished=True)


# ---------------------------------------------------------------------------- signatures


def test_ghost_signature_matches_ghost_core() -> None:
    """The Ghost header equals what Ghost's WebhookTrigger (Node crypto) computes for body + ms timestamp."""
    body = b'{"post":{"current":{"title":"Hello","url":"https://blog.example.com/hello/"}}}'
    expected = "sha256=10782b1176cb3abdafe6c0891f30c9fe36fdc1ebb56528a427ba71a92ae87196, t=1767225600123"
    assert ghost_signature("ghost-webhook-secret-123", body, 1767225600123) == expected
    verify_ghost("ghost-webhook-secret-123", body, expected, now=1767225600.5)


def test_crosspost_signature_is_timestamp_dot_body() -> None:
    """X-Crosspost-Signature is HMAC-SHA256 over "<seconds>.<body>" (vector computed with Node crypto)."""
    sig = crosspost_signature("s3cret", b'{"title":"Hi"}', 1767225600)
    assert sig == "sha256=226a3ca01cc9db9ad7a440e6e43bafc8c936f588502c7054ad09fcf4ab1285ed"
    verify_crosspost(
        "s3cret", b'{"title":"Hi"}', sig.upper().replace("SHA256", "sha256"), "1767225600", now=1767225600
    )


@pytest.mark.parametrize(
    ("header", "now", "reason"),
    [
        (None, 1767225600.0, "missing"),
        ("sha256=abc, t=1", 1767225600.0, "malformed"),
        ("sha256=" + "0" * 64 + ", t=1767225600123", 1767225600.0, "does not match"),
        ("GOOD", 1767225600.0 + 301, "old"),
        ("GOOD", 1767225600.0 - 301, "future"),
    ],
)
def test_verify_ghost_refusals(header: str | None, now: float, reason: str) -> None:
    """Missing, malformed, wrong, stale and future Ghost signatures are refused with the reason."""
    body = b"{}"
    if header == "GOOD":
        header = ghost_signature(SECRET, body, 1767225600000)
    with pytest.raises(SignatureError, match=reason):
        verify_ghost(SECRET, body, header, now=now)


# ---------------------------------------------------------------------------- Ghost


def test_signed_ghost_delivery_queues_one_job(url: str, store: Store) -> None:
    """A validly signed post.published answers 202 with a committed job holding the right article."""
    reply = ghost_post(url, {"event": "post.published", **ghost_payload()})
    assert reply.status_code == 202, reply.text
    data = reply.json()
    assert data["state"] == "queued" and isinstance(data["job"], int)
    assert reply.headers["location"] == f"/jobs/{data['job']}"
    jobs = all_jobs(store)
    assert [j.id for j in jobs] == [data["job"]]
    job = jobs[0]
    assert job.targets == ["mastodon", "bluesky"]
    assert job.dedupe_key == job.article_key == data["article_key"]
    article = job.article
    assert article["title"] == "Microsoft and OpenAI loosen their partnership"
    assert article["url"] == "https://cloudledger.ghost.io/microsoft-openai-partnership/"
    assert article["tags"] == ["Microsoft", "OpenAI", "Cloud Computing"]  # "#newsletter" is internal


@pytest.mark.parametrize("case", ["missing", "wrong secret", "stale", "future", "tampered body"])
def test_bad_ghost_signature_is_401_and_queues_nothing(url: str, store: Store, case: str) -> None:
    """Without a valid, fresh signature the hook answers 401 {"error"} and queues nothing."""
    body = json.dumps(ghost_payload()).encode()
    now = time.time()
    headers = {
        "missing": {},
        "wrong secret": sign_ghost("not-the-secret", body),
        "stale": sign_ghost(SECRET, body, now=now - 6 * 60),
        "future": sign_ghost(SECRET, body, now=now + 6 * 60),
        "tampered body": sign_ghost(SECRET, body.replace(b"Microsoft", b"Macrosoft")),
    }[case]
    reply = httpx.post(f"{url}/hooks/ghost", content=body, headers={**JSON, **headers})
    assert reply.status_code == 401
    assert reply.json()["error"]
    assert all_jobs(store) == []


def test_insecure_flag_accepts_unsigned(store: Store) -> None:
    """With insecure=True (CROSSPOST_WEBHOOK_INSECURE=1) an unsigned delivery is queued."""
    app = create_app(Settings(), store, secret=None, insecure=True, targets=["x"])
    with serve(app) as base:
        reply = httpx.post(f"{base}/hooks/ghost", json=ghost_payload())
        assert reply.status_code == 202, reply.text
    assert len(all_jobs(store)) == 1
    assert all_jobs(store)[0].targets == ["x"]


def test_secret_with_insecure_flag_refuses_to_start(store: Store) -> None:
    """A configured secret is never silently ignored: with insecure=True as well, create_app refuses."""
    with pytest.raises(ConfigError, match="CROSSPOST_WEBHOOK_SECRET is set and CROSSPOST_WEBHOOK_INSECURE"):
        create_app(Settings(), store, secret=SECRET, insecure=True, targets=["x"])


def test_api_token_may_not_be_the_secret(store: Store) -> None:
    """GET /jobs gets a token of its own: the signing secret as CROSSPOST_API_TOKEN is refused at start."""
    with pytest.raises(ConfigError, match="CROSSPOST_API_TOKEN must not be the signing secret"):
        create_app(Settings(), store, secret=SECRET, targets=["x"], api_token=SECRET)


def test_no_secret_without_insecure_flag_refuses_to_start(store: Store) -> None:
    """Neither a secret nor the insecure flag: create_app raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match="CROSSPOST_WEBHOOK_SECRET"):
        create_app(Settings(), store, secret=None, targets=["x"])
    with pytest.raises(ConfigError, match="CROSSPOST_WEBHOOK_SECRET"):
        create_app(Settings(), store, secret="", targets=["x"])


def test_no_target_platform_refuses_to_start(store: Store) -> None:
    """No credentials and no explicit targets: jobs would post nowhere, so create_app refuses."""
    with pytest.raises(ConfigError, match="no platform"):
        create_app(Settings(), store, secret=SECRET)
    with pytest.raises(ConfigError, match="unknown platform"):
        create_app(Settings(), store, secret=SECRET, targets=["myspace"])


def test_edit_event_and_retry_answer_200_with_the_same_job(url: str, store: Store) -> None:
    """post.published.edited and a plain repeat return the existing job (200); still one job."""
    first = ghost_post(url, {"event": "post.published", **ghost_payload()})
    assert first.status_code == 202
    job_id = first.json()["job"]
    edited = ghost_post(url, {"event": "post.published.edited", **ghost_payload(title="A better title")})
    assert edited.status_code == 200, edited.text
    assert edited.json()["job"] == job_id
    repeat = ghost_post(url, {"event": "post.published", **ghost_payload()})
    assert repeat.status_code == 200
    assert repeat.json()["job"] == job_id
    legacy = ghost_post(url, ghost_payload())  # older Ghost: no "event" key
    assert legacy.status_code == 200 and legacy.json()["job"] == job_id
    assert [j.id for j in all_jobs(store)] == [job_id]


def test_edit_that_changes_the_url_finds_the_job(url: str, store: Store) -> None:
    """An edit that renames the slug (new URL, same Ghost post id) does not queue a second job."""
    first = ghost_post(url, {"event": "post.published", **ghost_payload()})
    new_url = "https://cloudledger.ghost.io/microsoft-openai-renamed/"
    edited = ghost_post(url, {"event": "post.published.edited", **ghost_payload(url=new_url)})
    assert edited.status_code == 200
    assert edited.json()["job"] == first.json()["job"]
    again = ghost_post(url, {"event": "post.published", **ghost_payload(url=new_url)})
    assert again.json()["job"] == first.json()["job"]
    assert len(all_jobs(store)) == 1


def test_edit_of_unknown_post_is_ignored(url: str, store: Store) -> None:
    """An edit of a post crosspost never queued (published before it listened) posts nothing."""
    reply = ghost_post(
        url, {"event": "post.published.edited", **ghost_payload(id="ffffffffffffffffffffffff")}
    )
    assert reply.status_code == 200
    assert "ignored" in reply.json()
    assert all_jobs(store) == []


@pytest.mark.parametrize("event", ["post.unpublished", "post.deleted", "member.added"])
def test_non_publish_ghost_events_are_ignored(url: str, store: Store, event: str) -> None:
    """Ghost events other than publishing are acknowledged (200 ignored), never queued."""
    reply = ghost_post(url, {"event": event, **ghost_payload()})
    assert reply.status_code == 200
    assert event in reply.json()["ignored"]
    assert all_jobs(store) == []


def test_ghost_draft_status_is_ignored(url: str, store: Store) -> None:
    """A Ghost post whose status is not 'published' is not queued."""
    reply = ghost_post(url, ghost_payload(status="draft"))
    assert reply.status_code == 200 and "draft" in reply.json()["ignored"]
    assert all_jobs(store) == []


# ---------------------------------------------------------------------------- bad input


def test_two_mib_body_is_413(small_url: str, store: Store) -> None:
    """A 2 MiB body is refused with 413 from Content-Length, before it is read."""
    body = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    reply = httpx.post(f"{small_url}/hooks/generic", content=body, headers={**JSON, **sign_crosspost(SECRET, body)})
    assert reply.status_code == 413
    assert "limit" in reply.json()["error"]
    assert all_jobs(store) == []


def test_chunked_body_over_limit_is_413(small_url: str, store: Store) -> None:
    """Without Content-Length (chunked), the size is counted while reading and refused past 1 MiB."""

    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    reply = httpx.post(f"{small_url}/hooks/generic", content=chunks(), headers=JSON)
    assert reply.status_code == 413
    assert all_jobs(store) == []


def test_body_just_under_limit_is_read(small_url: str) -> None:
    """A body of just under the cap passes the size checks (and fails on the signature instead)."""
    body = b'{"title": "' + b"z" * (SMALL_LIMIT - 14) + b'"}'
    assert len(body) == SMALL_LIMIT - 1
    reply = httpx.post(f"{small_url}/hooks/generic", content=body, headers=JSON)
    assert reply.status_code == 401


def test_text_plain_is_415(url: str, store: Store) -> None:
    """A Content-Type other than application/json is 415."""
    body = json.dumps(ghost_payload()).encode()
    reply = httpx.post(
        f"{url}/hooks/ghost", content=body, headers={"Content-Type": "text/plain", **sign_ghost(SECRET, body)}
    )
    assert reply.status_code == 415
    assert "application/json" in reply.json()["error"]
    assert all_jobs(store) == []


@pytest.mark.parametrize(
    ("hook", "body", "needle"),
    [
        ("ghost", b"{not json", "not valid JSON"),
        ("generic", b"\xff\xfe{}", "UTF-8"),
        ("generic", b"[" * 200_000 + b"]" * 200_000, "JSON"),
        ("ghost", b'{"title": "no post key"}', "Ghost"),
        ("ghost", b'{"post": {"current": {}}}', "Ghost"),
        ("generic", b'"just a string"', "object"),
        ("generic", b"{}", "no title"),
        ("generic", b'{"title": ["a"], "url": "https://a.example/x"}', "title"),
        ("generic", b'{"title": "\\ud800", "url": "https://a.example/x"}', "Unicode"),
        ("generic", b'{"title": "a\\u0000b", "url": "https://a.example/x"}', "NUL"),
        ("wordpress", b"[1, 2]", "object"),
    ],
)
def test_bad_payloads_are_400_with_a_reason(
    url: str, store: Store, hook: str, body: bytes, needle: str
) -> None:
    """Malformed JSON, unrecognisable payloads and unstorable text get 400 and a message, never 500."""
    headers = sign_ghost(SECRET, body) if hook == "ghost" else sign_crosspost(SECRET, body)
    reply = httpx.post(f"{url}/hooks/{hook}", content=body, headers={**JSON, **headers})
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]
    assert all_jobs(store) == []


def test_article_without_url_is_422_saying_so(url: str, store: Store) -> None:
    """A generic article without a URL is refused (422, the policy's answer) naming the missing url."""
    reply = signed_post(url, "generic", {"title": "Hello", "summary": "no link here"})
    assert reply.status_code == 422
    assert "url" in reply.json()["error"]
    ghost = ghost_post(url, ghost_payload(url=None, canonical_url=None))
    assert ghost.status_code == 422 and "url" in ghost.json()["error"]
    ftp = signed_post(url, "generic", {"title": "t", "url": "ftp://a.example/x"})
    assert ftp.status_code == 422 and "url" in ftp.json()["error"]
    assert all_jobs(store) == []


# ---------------------------------------------------------------------------- WordPress and generic


def test_wordpress_and_generic_payloads_are_queued(url: str, store: Store) -> None:
    """Signed WordPress and generic payloads answer 202 with the articles read correctly."""
    wp = json.loads((FIXTURES / "wordpress-post.json").read_text("utf-8"))
    generic = json.loads((FIXTURES / "generic.json").read_text("utf-8"))
    r1 = signed_post(url, "wordpress", wp)
    r2 = signed_post(url, "generic", generic)
    assert (r1.status_code, r2.status_code) == (202, 202), (r1.text, r2.text)
    jobs = {j.id: j for j in all_jobs(store)}
    wp_article = jobs[r1.json()["job"]].article
    assert wp_article["url"] == "https://cloudledger.example.com/2026/04/microsoft-openai-partnership/"
    assert wp_article["tags"] == ["Microsoft", "OpenAI", "AI & Ethics"]
    assert jobs[r2.json()["job"]].article["url"] == "https://news.example.com/2026/04/28/microsoft-openai"


def test_crosspost_signature_is_required_for_generic(url: str, store: Store) -> None:
    """The generic hook refuses a Ghost-style signature, a wrong one, and a stale timestamp."""
    body = json.dumps({"title": "t", "url": "https://a.example/p"}).encode()
    stale = sign_crosspost(SECRET, body, now=time.time() - 301)
    for headers in (sign_ghost(SECRET, body), sign_crosspost("wrong", body), stale):
        reply = httpx.post(f"{url}/hooks/generic", content=body, headers={**JSON, **headers})
        assert reply.status_code == 401
    assert all_jobs(store) == []


def test_wordpress_draft_is_ignored(url: str, store: Store) -> None:
    """A WordPress post whose status is not 'publish' is acknowledged but not queued."""
    wp = json.loads((FIXTURES / "wordpress-post.json").read_text("utf-8"))
    reply = signed_post(url, "wordpress", {**wp, "status": "future"})
    assert reply.status_code == 200 and "ignored" in reply.json()
    assert all_jobs(store) == []


def test_delay_sets_run_at(store: Store) -> None:
    """delay_seconds puts run_at that far in the future."""
    app = create_app(Settings(), store, secret=SECRET, delay_seconds=600, targets=["x"])
    with serve(app) as base:
        before = time.time()
        reply = signed_post(base, "generic", {"title": "t", "url": "https://a.example/p"})
    job = all_jobs(store)[0]
    assert reply.status_code == 202
    assert before + 590 < job.run_at.timestamp() < time.time() + 610


# ---------------------------------------------------------------------------- load


def test_500_concurrent_deliveries_lose_nothing(url: str, store: Store) -> None:
    """500 signed deliveries of distinct articles from 50 threads: 500 x 202 and 500 jobs stored."""

    local = threading.local()
    clients: list[httpx.Client] = []

    def deliver(i: int) -> tuple[int, int]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)  # keep-alive, one per thread, like a busy CMS
            clients.append(local.client)
        payload = ghost_payload(id=f"{i:024x}", url=f"https://blog.example.com/p/{i}/", title=f"Post {i}")
        body = json.dumps({"event": "post.published", **payload}).encode()
        reply = local.client.post(
            f"{url}/hooks/ghost", content=body, headers={**JSON, **sign_ghost(SECRET, body)}
        )
        return reply.status_code, reply.json().get("job", -1)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(deliver, range(500)))
    for client in clients:
        client.close()
    assert [status for status, _ in results] == [202] * 500
    jobs = all_jobs(store)
    assert len(jobs) == 500
    assert {job_id for _, job_id in results} == {j.id for j in jobs}
    assert {j.article["url"] for j in jobs} == {f"https://blog.example.com/p/{i}/" for i in range(500)}


# ---------------------------------------------------------------------------- other endpoints


def test_get_job(url: str) -> None:
    """GET /jobs/{id} needs the read token (scheme in any case), returns the job, 404s for unknown or absurd ids."""
    job_id = ghost_post(url, ghost_payload()).json()["job"]
    assert httpx.get(f"{url}/jobs/{job_id}").status_code == 401
    for wrong in ("Bearer nope", f"Bearer {SECRET}", f"Basic {API_TOKEN}", API_TOKEN, f"Bearer {API_TOKEN}x"):
        refused = httpx.get(f"{url}/jobs/{job_id}", headers={"Authorization": wrong})
        assert refused.status_code == 401, wrong
        assert "CROSSPOST_API_TOKEN" in refused.json()["error"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
    for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):
        case = httpx.get(f"{url}/jobs/{job_id}", headers={"Authorization": f"{scheme} {API_TOKEN}"})
        assert case.status_code == 200, scheme
    reply = httpx.get(f"{url}/jobs/{job_id}", headers=AUTH)
    assert reply.status_code == 200
    job = reply.json()
    assert job["id"] == job_id and job["state"] == "queued" and job["attempts"] == 0
    assert job["article"]["title"] == "Microsoft and OpenAI loosen their partnership"
    assert job["targets"] == ["mastodon", "bluesky"]
    for missing in (job_id + 1, 0, 10**30):
        gone = httpx.get(f"{url}/jobs/{missing}", headers=AUTH)
        assert gone.status_code == 404 and "error" in gone.json()
    assert httpx.get(f"{url}/jobs/abc", headers=AUTH).status_code == 404


def test_jobs_off_without_api_token(store: Store) -> None:
    """Without CROSSPOST_API_TOKEN, GET /jobs is off: 404 saying how to turn it on, whatever is sent."""
    app = create_app(Settings(), store, secret=SECRET, targets=["x"])
    with serve(app) as base:
        job_id = ghost_post(base, ghost_payload()).json()["job"]
        for headers in ({}, {"Authorization": f"Bearer {SECRET}"}, {"Authorization": "Bearer x"}):
            reply = httpx.get(f"{base}/jobs/{job_id}", headers=headers)
            assert reply.status_code == 404
            assert reply.json()["error"] == "GET /jobs is off: set CROSSPOST_API_TOKEN on the server to read jobs"


def test_healthz_and_store_failure(store: Store) -> None:
    """/healthz is 200 while the store answers; after it fails, /healthz and hooks say 503, not 500."""
    app = create_app(Settings(), store, secret=SECRET, targets=["x"])
    with serve(app) as base:
        assert httpx.get(f"{base}/healthz").json() == {"ok": True, "database": "ok"}
        store.close()
        down = httpx.get(f"{base}/healthz")
        assert down.status_code == 503 and down.json()["ok"] is False
        reply = signed_post(base, "generic", {"title": "t", "url": "https://a.example/p"})
        assert reply.status_code == 503 and reply.headers["retry-after"]


def test_openapi_document(url: str) -> None:
    """GET /openapi.json serves the hand-written OpenAPI 3.0 document, which schemathesis accepts."""
    import schemathesis

    doc = httpx.get(f"{url}/openapi.json").json()
    assert doc == json.loads(json.dumps(OPENAPI))
    assert doc["openapi"].startswith("3.0")
    ghost = doc["paths"]["/hooks/ghost"]["post"]
    assert {"200", "202", "400", "401", "413", "415"} <= set(ghost["responses"])
    assert ghost["parameters"][0]["name"] == "X-Ghost-Signature"
    schema = schemathesis.openapi.from_dict(doc)
    operations = {op.ok().label for op in schema.get_all_operations()}
    assert "POST /hooks/ghost" in operations and "GET /jobs/{job_id}" in operations


def test_wrong_method_and_unknown_path_are_json(url: str) -> None:
    """405 (with Allow) and 404 answer JSON like every other error."""
    wrong = httpx.get(f"{url}/hooks/ghost")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert "error" in wrong.json()
    assert httpx.get(f"{url}/nope").json()["error"]


# ---------------------------------------------------------------------------- the ingest path (issue 12)


def test_a_small_delivery_is_queued_without_the_thread_pool_and_a_long_one_with_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new article in a small body is read in the event loop and queued through the store's group commit
    (no thread of its own); a body over INLINE_BODY_BYTES is read in the thread pool. Both end as one job,
    committed before the 202, with the same stored article as the blocking path gives."""
    import bot.webhook as webhook

    calls: list[str] = []
    real = webhook.run_in_threadpool

    async def counting(func: Any, *args: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args)

    monkeypatch.setattr(webhook, "run_in_threadpool", counting)
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon"])
    with serve(app) as base:
        small = ghost_post(base, ghost_payload(id="inline-1", url="https://blog.example.com/inline-1/"))
        assert small.status_code == 202, small.text
        assert calls == []
        job = store.get_job(small.json()["job"])
        assert job is not None and job.state == "queued"
        long_text = "A long paragraph of the article. " * 4000  # ~130 KB of plaintext
        payload = ghost_payload(id="inline-2", url="https://blog.example.com/inline-2/", plaintext=long_text)
        assert len(json.dumps(payload)) > webhook.INLINE_BODY_BYTES
        long = ghost_post(base, payload)
        assert long.status_code == 202, long.text
        assert calls == ["handle"]
        again = ghost_post(base, ghost_payload(id="inline-1", url="https://blog.example.com/inline-1/"))
        assert again.status_code == 200 and again.json()["job"] == small.json()["job"]  # redelivery: same job
    # the inline path stores exactly what the blocking path would
    from bot.load import from_ghost

    expected = webhook.job_article(from_ghost(ghost_payload(id="inline-1", url="https://blog.example.com/inline-1/")))
    assert job.article == json.loads(json.dumps(expected))


def test_concurrent_inline_deliveries_each_get_their_own_committed_job(store: Store) -> None:
    """32 deliveries at once: 32 jobs, each 202 after its commit, every one through the group commit."""
    app = create_app(Settings(), store, secret=SECRET, targets=["mastodon"])
    with serve(app) as base:
        ghost_post(base, ghost_payload(id="warm", url="https://blog.example.com/warm/"))
        before = store._group.batches, store._group.writes
        with ThreadPoolExecutor(32) as pool:
            replies = list(pool.map(
                lambda n: ghost_post(base, ghost_payload(id=f"c{n}", url=f"https://blog.example.com/c{n}/")),
                range(32),
            ))
    assert [r.status_code for r in replies] == [202] * 32
    ids = {r.json()["job"] for r in replies}
    assert len(ids) == 32 and all(store.get_job(i) is not None for i in ids)
    batches, writes = store._group.batches - before[0], store._group.writes - before[1]
    assert writes == 32 and 1 <= batches <= writes
