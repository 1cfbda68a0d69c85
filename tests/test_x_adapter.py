"""The X adapter: the real tweepy 4.17.0 over real HTTP against the X sandbox on 127.0.0.1.

Assertions are on what the sandbox received (bodies, headers) and what it holds afterwards.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
import tweepy
import urllib3.exceptions

from adapters.base import AccountSettings, PostRef, PostRequest
from adapters.x import XAdapter, same_text, translate_error
from bot.errors import Ambiguous, Permanent, PublishError, RateLimited, Transient
from bot.redact import redact_error
from bot.sandbox import credentials
from bot.sandbox import x as sandbox_x
from bot.sandbox.core import SandboxApp, SandboxServer
from tests.conftest import ROOT, MemoryKV, image_at

CREDS = {k: v for k, v in credentials().items() if k.startswith("X_")}
TEXT = "New post: counting to 280 https://example.com/posts/counting?utm=x & more on example.org #Python"


class XSandbox:
    """An X-only sandbox on 127.0.0.1 (the other platforms' modules are not needed here)."""

    def __init__(self) -> None:
        self.app = SandboxApp(seed=11)
        sandbox_x.register(self.app, credentials())
        self.server = SandboxServer(self.app)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, endpoint: str = "x.tweets.create") -> list[Any]:
        return [r.json() for r in self.app.received(endpoint)]


@pytest.fixture
def xsb() -> Iterator[XSandbox]:
    sb = XSandbox()
    yield sb
    sb.stop()


def make(xsb: XSandbox, kv: MemoryKV | None = None, *, base_url: str | None = None, timeout: float = 5.0,
         **creds: str) -> XAdapter:
    settings = AccountSettings("x", credentials={**CREDS, **creds}, base_url=base_url or xsb.url,
                               timeout=timeout, allow_private_network=True)
    return XAdapter(settings, kv or MemoryKV())


def post(text: str = TEXT, **kwargs: Any) -> PostRequest:
    return PostRequest(text=text, idempotency_key=kwargs.pop("key", "k-" + text[:10]), **kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- posting -----------------------------------------------------------------------------------------
def test_single_post_is_signed_and_sent_as_is(xsb: XSandbox) -> None:
    """One post: the exact text in POST /2/tweets, OAuth 1.0a HMAC-SHA1, a PostRef with X's URL."""
    adapter = make(xsb)
    ref = adapter.publish(post(), adapter.prepare(post()))
    assert ref.platform == "x" and ref.id.isdigit()
    assert ref.url == f"https://x.com/{sandbox_x.USERNAME}/status/{ref.id}"
    [request] = xsb.app.received("x.tweets.create")
    assert request.json() == {"text": TEXT}
    assert request.header("authorization").startswith("OAuth ")
    assert 'oauth_signature_method="HMAC-SHA1"' in request.header("authorization")
    [stored] = xsb.app.posts("x")
    assert stored["id"] == ref.id and stored["sent_text"] == TEXT


def test_thread_of_three_replies_to_the_previous_part(xsb: XSandbox) -> None:
    """Parts 2 and 3 carry reply.in_reply_to_tweet_id of the part before them."""
    adapter = make(xsb)
    refs: list[PostRef] = []
    for n in range(3):
        previous = refs[-1] if refs else None
        part = post(f"part {n + 1}/3", reply_to=previous, thread_root=refs[0] if refs else None)
        refs.append(adapter.publish(part, adapter.prepare(part)))
    bodies = xsb.bodies()
    assert "reply" not in bodies[0]
    assert bodies[1]["reply"] == {"in_reply_to_tweet_id": refs[0].id}
    assert bodies[2]["reply"] == {"in_reply_to_tweet_id": refs[1].id}
    assert [p["reply_to"] for p in xsb.app.posts("x")] == [None, refs[0].id, refs[1].id]
    assert {p["conversation_id"] for p in xsb.app.posts("x")} == {refs[0].id}


def test_image_is_uploaded_with_alt_text_and_attached(xsb: XSandbox) -> None:
    """The image goes to POST /2/media/upload, its alt text to metadata/create, its id into the post."""
    adapter = make(xsb)
    image = image_at("x", xsb.url + "/x-media/pixel.png", "A four-by-three gradient")
    ref = adapter.publish(post(image=image), {})
    png = xsb.app.state["x"]["files"]["pixel.png"][1]
    [upload] = xsb.app.received("x.media.upload")
    assert upload.header("content-type").startswith("multipart/form-data")
    fields = sandbox_x.parse_multipart(upload.header("content-type"), upload.body)
    assert fields is not None
    assert fields["media"] == png and fields["media_category"] == b"tweet_image"
    media_id = xsb.app.state["x"]["media"].popitem()[0]
    assert xsb.bodies("x.media.metadata") == [{"media_id": media_id, "alt_text": {"text": image.alt}}]
    assert xsb.bodies() == [{"text": TEXT, "media": {"media_ids": [media_id]}}]
    [stored] = xsb.app.posts("x")
    assert stored["id"] == ref.id and stored["media"][0]["alt_text"] == image.alt


def test_retried_image_post_reuses_the_uploaded_media(xsb: XSandbox) -> None:
    """A part retried after a 503 attaches the media uploaded by its first attempt (one upload)."""
    xsb.app.inject("x.tweets.create", "error", status=503)
    adapter = make(xsb)
    part = post(image=image_at("x", xsb.url + "/x-media/pixel.png", "dot"))
    with pytest.raises(Transient):
        adapter.publish(part, {})
    adapter.publish(part, {})
    assert len(xsb.app.received("x.media.upload")) == 1
    first, second = xsb.bodies()
    assert first["media"] == second["media"] and len(xsb.app.posts("x")) == 1


def test_language_is_not_sent_because_x_has_no_such_field(xsb: XSandbox) -> None:
    """X v2 detects the language itself: the body has no lang (the sandbox would refuse one)."""
    make(xsb).publish(post("Guten Morgen", lang="de"), {})
    assert xsb.bodies() == [{"text": "Guten Morgen"}]


def test_username_is_looked_up_once_and_cached(xsb: XSandbox) -> None:
    """GET /2/users/me is sent once for several posts (kept in the key/value store)."""
    kv = MemoryKV()
    make(xsb, kv).publish(post("one"), {})
    make(xsb, kv).publish(post("two"), {})
    assert len(xsb.app.received("x.users.me")) == 1


def test_delete_marks_the_post_deleted_and_is_idempotent(xsb: XSandbox) -> None:
    """delete() removes the post; deleting it again is not an error."""
    adapter = make(xsb)
    ref = adapter.publish(post(), {})
    adapter.delete(ref)
    adapter.delete(ref)
    assert xsb.app.posts("x") == []
    assert [r.path for r in xsb.app.received("x.tweets.delete")] == [f"/2/tweets/{ref.id}"] * 2


# --- failures ------------------------------------------------------------------------------------------
def test_429_is_rate_limited_with_the_reset_time(xsb: XSandbox) -> None:
    """A 429 gives RateLimited with retry_at = x-rate-limit-reset (aware UTC)."""
    xsb.app.inject("x.tweets.create", "rate_limit", reset_in=120)
    with pytest.raises(RateLimited) as caught:
        make(xsb).publish(post(), {})
    retry_at = caught.value.retry_at
    assert retry_at is not None and retry_at.tzinfo is not None
    assert abs(retry_at - (datetime.now(UTC) + timedelta(seconds=120))) < timedelta(seconds=3)
    assert xsb.app.posts("x") == []


def test_used_up_window_gives_its_reset(xsb: XSandbox) -> None:
    """Past the 15-minute window's limit the retry_at is that window's end."""
    xsb.app.set_quota("x", "tweets", 1, 600)
    adapter = make(xsb)
    adapter.publish(post("first"), {})
    with pytest.raises(RateLimited) as caught:
        adapter.publish(post("second"), {})
    assert caught.value.retry_at is not None
    assert abs(caught.value.retry_at - (datetime.now(UTC) + timedelta(seconds=600))) < timedelta(seconds=3)


def test_daily_cap_gives_the_24_hour_reset(xsb: XSandbox) -> None:
    """With x-user-limit-24hour-remaining 0, retry_at comes from x-user-limit-24hour-reset."""
    xsb.app.set_quota("x", "tweets.daily", 1, 86_400)
    adapter = make(xsb)
    adapter.publish(post("first"), {})
    with pytest.raises(RateLimited, match="24-hour") as caught:
        adapter.publish(post("second"), {})
    assert caught.value.retry_at is not None
    assert caught.value.retry_at > datetime.now(UTC) + timedelta(hours=23)


def test_server_error_is_transient(xsb: XSandbox) -> None:
    """A 503 is Transient and carries the status."""
    xsb.app.inject("x.tweets.create", "error", status=503)
    with pytest.raises(Transient) as caught:
        make(xsb).publish(post(), {})
    assert caught.value.status == 503
    assert xsb.app.posts("x") == []


def test_connection_refused_is_transient(xsb: XSandbox) -> None:
    """Nobody listening: Transient (the request was not sent)."""
    adapter = make(xsb, base_url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    with pytest.raises(Transient, match="not sent"):
        adapter.publish(post(), {})


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full backlog")
def test_connect_timeout_is_transient(xsb: XSandbox) -> None:
    """A listener whose backlog is full never completes the handshake: connect timeout → Transient."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    for _ in range(4):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        held.append(client)
    try:
        started = time.monotonic()
        with pytest.raises(Transient, match="timed out"):
            make(xsb, base_url=f"http://127.0.0.1:{port}", timeout=0.5).publish(post(), {})
        assert time.monotonic() - started < 3
    finally:
        for sock in [*held, listener]:
            sock.close()


def test_read_timeout_is_ambiguous_and_reconcile_finds_nothing(xsb: XSandbox) -> None:
    """A silent server: the timeout fires (tweepy sets none), Ambiguous; reconcile says not posted."""
    xsb.app.inject("x.tweets.create", "timeout", delay=3)
    adapter = make(xsb, timeout=0.5)
    prepared = adapter.prepare(post())
    started = time.monotonic()
    with pytest.raises(Ambiguous):
        adapter.publish(post(), prepared)
    assert time.monotonic() - started < 2.5
    assert adapter.reconcile(post(), prepared) is None
    assert xsb.app.posts("x") == []


def test_timeout_before_the_post_is_only_transient(xsb: XSandbox) -> None:
    """A read timeout on GET /2/users/me (before POST /2/tweets) cannot have posted: Transient."""
    xsb.app.inject("x.users.me", "timeout", delay=3)
    with pytest.raises(Transient):
        make(xsb, timeout=0.5).publish(post(), {})
    assert xsb.app.received("x.tweets.create") == []


@pytest.mark.parametrize("kind", ["after_commit", "after_commit_timeout"])
def test_lost_answer_is_ambiguous_and_reconcile_finds_the_one_post(xsb: XSandbox, kind: str) -> None:
    """The post is made but the answer is lost: Ambiguous, then reconcile returns it; it exists once."""
    xsb.app.inject("x.tweets.create", kind, delay=2)
    adapter = make(xsb, timeout=0.5)
    prepared = adapter.prepare(post())
    with pytest.raises(Ambiguous):
        adapter.publish(post(), prepared)
    found = adapter.reconcile(post(), prepared)
    [stored] = xsb.app.posts("x")
    assert stored["text"] != TEXT  # X shows t.co links and &amp; ...
    assert found == PostRef("x", stored["id"], f"https://x.com/{sandbox_x.USERNAME}/status/{stored['id']}")


def test_duplicate_answer_is_ambiguous_and_reconciles_to_the_first_post(xsb: XSandbox) -> None:
    """A blind resend after a lost answer gets X's duplicate 403: Ambiguous, and reconcile finds it."""
    xsb.app.inject("x.tweets.create", "after_commit")
    adapter = make(xsb)
    prepared = adapter.prepare(post())
    with pytest.raises(Ambiguous):
        adapter.publish(post(), prepared)
    with pytest.raises(Ambiguous, match="duplicate content: probably posted by an earlier attempt"):
        adapter.publish(post(), prepared)
    found = adapter.reconcile(post(), prepared)
    assert found is not None and [p["id"] for p in xsb.app.posts("x")] == [found.id]


def test_reconcile_ignores_other_texts_and_older_posts(xsb: XSandbox) -> None:
    """Only a post with the same text, made since not_before, counts."""
    adapter = make(xsb)
    adapter.publish(post(), {})
    assert adapter.reconcile(post("another text"), adapter.prepare(post())) is None
    later = {"not_before": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert adapter.reconcile(post(), later) is None


def test_reconcile_finds_an_image_post_and_a_reply(xsb: XSandbox) -> None:
    """X appends a photo link to image posts; a reply must reply to the same parent."""
    adapter = make(xsb)
    root = adapter.publish(post("root"), {})
    image = image_at("x", xsb.url + "/x-media/pixel.png", "dot")
    reply = post(TEXT, reply_to=root, image=image)
    prepared = adapter.prepare(reply)
    xsb.app.inject("x.tweets.create", "after_commit")
    with pytest.raises(Ambiguous):
        adapter.publish(reply, prepared)
    found = adapter.reconcile(reply, prepared)
    assert found is not None and found.id == xsb.app.posts("x")[-1]["id"]
    other_parent = post(TEXT, reply_to=PostRef("x", "1", "u"), image=image)
    assert adapter.reconcile(other_parent, prepared) is None


def test_too_long_is_permanent_with_xs_message(xsb: XSandbox) -> None:
    """A post over 280 is refused by the sandbox: Permanent with X's own message and status 400."""
    with pytest.raises(Permanent, match="Your Tweet text is too long") as caught:
        make(xsb).publish(post("z" * 281), {})
    assert caught.value.status == 400


def test_reply_to_a_missing_post_is_permanent(xsb: XSandbox) -> None:
    """Replying to a post that does not exist is Permanent."""
    with pytest.raises(Permanent, match="deleted or not visible"):
        make(xsb).publish(post("reply", reply_to=PostRef("x", "123456", "u")), {})


@pytest.mark.parametrize("key", ["X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"])
def test_bad_credentials_are_permanent_and_name_the_settings(xsb: XSandbox, key: str) -> None:
    """Any wrong credential: the sandbox answers 401; Permanent names the settings to check."""
    with pytest.raises(Permanent, match="refused the credentials") as caught:
        make(xsb, **{key: "wrong-" + key.lower()}).publish(post(), {})
    assert key in str(caught.value) and caught.value.status == 401


def test_missing_credentials_are_permanent(xsb: XSandbox) -> None:
    """An empty credential is reported by name before any request."""
    with pytest.raises(Permanent, match="X_ACCESS_TOKEN_SECRET not set"):
        make(xsb, X_ACCESS_TOKEN_SECRET="").publish(post(), {})
    assert xsb.app.requests == []


def test_no_secret_appears_in_any_error_message(xsb: XSandbox) -> None:
    """Errors of every kind carry the server's words, never a credential value."""
    errors: list[PublishError] = []

    def collect(adapter: XAdapter, request: PostRequest) -> None:
        try:
            adapter.publish(request, {})
        except PublishError as exc:
            errors.append(exc)

    collect(make(xsb, X_API_SECRET="s3cr3t-consumer-value"), post("a"))
    xsb.app.inject("x.tweets.create", "error", status=500)
    collect(make(xsb), post("b"))
    xsb.app.inject("x.tweets.create", "rate_limit")
    collect(make(xsb), post("c"))
    collect(make(xsb), post("d" * 300))
    collect(make(xsb, base_url=f"http://127.0.0.1:{closed_port()}"), post("e"))
    xsb.app.inject("x.tweets.create", "timeout", delay=2)
    collect(make(xsb, timeout=0.3), post("f"))
    assert len(errors) == 6
    secrets = [*CREDS.values(), "s3cr3t-consumer-value"]
    for error in errors:
        assert not any(secret in str(error) for secret in secrets), error
    echoed = Permanent(f"x: token {CREDS['X_ACCESS_TOKEN']} refused", status=401)
    clean = redact_error(echoed, tuple(CREDS.values()))
    assert CREDS["X_ACCESS_TOKEN"] not in str(clean) and isinstance(clean, Permanent) and clean.status == 401


def test_import_does_not_load_the_sdk() -> None:
    """``import adapters.x`` stays cheap: neither tweepy nor requests is imported."""
    code = "import sys, adapters.x; print(sorted(m for m in ('tweepy', 'requests') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- translate_error --------------------------------------------------------------------------------------
def fake_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = {400: "Bad Request", 429: "Too Many Requests"}.get(status, "Status")
    response._content = json.dumps(body if body is not None else {"detail": "oops"}).encode()
    response.headers.update(headers or {})
    return response


TWEEPY_EXPECTED: dict[type[BaseException], tuple[int, type[PublishError]]] = {
    tweepy.errors.BadRequest: (400, Permanent),
    tweepy.errors.Unauthorized: (401, Permanent),
    tweepy.errors.Forbidden: (403, Permanent),
    tweepy.errors.NotFound: (404, Permanent),
    tweepy.errors.TooManyRequests: (429, RateLimited),
    tweepy.errors.TwitterServerError: (503, Transient),
    tweepy.errors.HTTPException: (409, Permanent),
}


def test_every_tweepy_exception_is_mapped() -> None:
    """Every exception class in tweepy.errors maps to the expected PublishError subclass."""
    classes = [c for _, c in inspect.getmembers(tweepy.errors, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == "tweepy.errors"]
    assert len(classes) == 8
    for cls in classes:
        if cls is tweepy.errors.TweepyException:
            assert isinstance(translate_error(cls("no response")), Permanent)
            continue
        status, expected = TWEEPY_EXPECTED[cls]
        error = translate_error(cls(fake_response(status)))
        assert type(error) is expected, cls


def test_forbidden_is_told_apart_by_xs_message() -> None:
    """403 duplicate → Ambiguous; 403 about permissions → Permanent naming X_ACCESS_TOKEN."""
    duplicate = fake_response(403, {"detail": sandbox_x.DUPLICATE, "title": "Forbidden", "status": 403})
    assert isinstance(translate_error(tweepy.errors.Forbidden(duplicate)), Ambiguous)
    words = "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint."
    permission = fake_response(403, {"detail": words, "status": 403})
    error = translate_error(tweepy.errors.Forbidden(permission))
    assert isinstance(error, Permanent) and "X_ACCESS_TOKEN" in str(error)


def test_rate_limit_reset_comes_from_the_right_header() -> None:
    """Daily cap used up → its 24-hour reset; otherwise x-rate-limit-reset; none → retry_at None."""
    now = int(time.time())
    headers = {"x-rate-limit-reset": str(now + 60), "x-user-limit-24hour-remaining": "0",
               "x-user-limit-24hour-reset": str(now + 80_000), "x-user-limit-24hour-limit": "17"}
    daily = translate_error(tweepy.errors.TooManyRequests(fake_response(429, headers=headers)))
    assert isinstance(daily, RateLimited) and daily.retry_at == datetime.fromtimestamp(now + 80_000, UTC)
    headers["x-user-limit-24hour-remaining"] = "5"
    window = translate_error(tweepy.errors.TooManyRequests(fake_response(429, headers=headers)))
    assert isinstance(window, RateLimited) and window.retry_at == datetime.fromtimestamp(now + 60, UTC)
    bare = translate_error(tweepy.errors.TooManyRequests(fake_response(429)))
    assert isinstance(bare, RateLimited) and bare.retry_at is None


def test_every_requests_exception_is_mapped() -> None:
    """Every requests exception class maps to a PublishError, with the sent/not-sent split right."""
    classes = [c for _, c in inspect.getmembers(requests.exceptions, inspect.isclass)
               if issubclass(c, requests.exceptions.RequestException)]
    assert len(classes) > 15
    for cls in classes:
        try:
            exc = cls()
        except TypeError:
            exc = cls("not json", "<html>", 0)
        assert isinstance(translate_error(exc), PublishError), cls
    rex = requests.exceptions
    assert isinstance(translate_error(rex.ConnectTimeout()), Transient)
    assert isinstance(translate_error(rex.ReadTimeout()), Ambiguous)
    assert isinstance(translate_error(rex.ChunkedEncodingError()), Ambiguous)
    assert isinstance(translate_error(rex.SSLError()), Transient)
    assert isinstance(translate_error(rex.InvalidURL("bad")), Permanent)
    assert isinstance(translate_error(rex.ConnectionError()), Ambiguous)  # unknown: maybe sent


def test_connection_error_is_split_by_what_it_wraps() -> None:
    """Refused / DNS / connect timeout inside ConnectionError → Transient; a hang-up or reset → Ambiguous."""
    u3 = urllib3.exceptions
    refused = u3.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    unresolved = u3.NameResolutionError("api.x", None, OSError("no name"))
    not_sent = [
        u3.MaxRetryError(None, "/2/tweets", reason=refused),
        u3.MaxRetryError(None, "/2/tweets", reason=unresolved),
        u3.MaxRetryError(None, "/2/tweets", reason=u3.ConnectTimeoutError("connect timed out")),
    ]
    for reason in not_sent:
        assert isinstance(translate_error(requests.exceptions.ConnectionError(reason)), Transient), reason
    maybe_sent = [
        u3.ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection")),
        u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
        u3.MaxRetryError(None, "/2/tweets", reason=u3.ProtocolError("aborted")),
    ]
    for reason in maybe_sent:
        assert isinstance(translate_error(requests.exceptions.ConnectionError(reason)), Ambiguous), reason


def test_other_exceptions_are_mapped() -> None:
    """PublishErrors pass through; stray OS errors and the unknown get a type too."""
    transient = Transient("x: already translated")
    assert translate_error(transient) is transient
    assert isinstance(translate_error(ConnectionRefusedError()), Transient)
    assert isinstance(translate_error(TimeoutError()), Ambiguous)
    assert isinstance(translate_error(ValueError("bug")), Permanent)


# --- text comparison ------------------------------------------------------------------------------------
def test_same_text_sees_through_xs_rewriting() -> None:
    """t.co links (with or without entities), HTML escapes and an appended photo link still match."""
    sent = "Tom & Jerry https://example.com/a?b=1 and example.org"
    shown = "Tom &amp; Jerry https://t.co/AbCdEf1234 and https://t.co/ZyXwVu9876"
    assert same_text(shown, sent)
    urls = [{"url": "https://t.co/AbCdEf1234", "expanded_url": "https://example.com/a?b=1"}]
    assert same_text("Tom &amp; Jerry https://t.co/AbCdEf1234", "Tom & Jerry https://example.com/a?b=1", urls)
    assert same_text(shown + " https://t.co/photo12345", sent, has_media=True)
    assert not same_text(shown + " https://t.co/photo12345", sent)
    assert not same_text("Tom &amp; Jerry https://t.co/AbCdEf1234 and more", sent)
    assert not same_text("something else", sent)
