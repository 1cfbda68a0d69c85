"""The Mastodon adapter through the real Mastodon.py over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import contextlib
import inspect
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import urllib3.exceptions
from mastodon import errors as mastodon_errors

from adapters.base import AccountSettings, PostRef, PostRequest
from adapters.mastodon import MastodonAdapter, html_to_text, normalized_text, translate_error
from bot.errors import Ambiguous, ConfigError, MediaPending, Permanent, PublishError, RateLimited, Transient
from bot.sandbox import Sandbox, credentials
from bot.sandbox import mastodon as sandbox_mastodon
from tests.conftest import MemoryKV, image_at

TOKEN = credentials()["MASTODON_ACCESS_TOKEN"]


def make(sandbox: Sandbox | None, kv: MemoryKV | None = None, *, base_url: str | None = None,
         token: str = TOKEN, timeout: float = 5.0, **options: Any) -> MastodonAdapter:
    settings = AccountSettings(
        platform="mastodon",
        credentials={"MASTODON_ACCESS_TOKEN": token},
        base_url=base_url or (sandbox.url if sandbox else None),
        options=options,
        timeout=timeout,
        allow_private_network=True,
    )
    return MastodonAdapter(settings, kv or MemoryKV())


def form(request: Any) -> dict[str, list[str]]:
    return parse_qs(request.body.decode(), keep_blank_values=True)


def request(text: str, key: str = "article-1:mastodon:default:0", **fields: Any) -> PostRequest:
    return PostRequest(text=text, idempotency_key=key, **fields)


def publish_when_processed(adapter: MastodonAdapter, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
    """What the publisher does with MediaPending (without its wait): keep what it names, ask again."""
    for _ in range(20):
        try:
            return adapter.publish(post, prepared)
        except MediaPending as pending:
            prepared = {**prepared, **pending.keep}
    raise AssertionError("still processing after 20 asks")


@pytest.fixture
def adapter(sandbox: Sandbox) -> Iterator[MastodonAdapter]:
    a = make(sandbox)
    yield a
    a.close()


# --- posting ----------------------------------------------------------------------------------------
def test_constructing_and_building_the_client_sends_nothing(sandbox: Sandbox) -> None:
    """No I/O in the constructor, and the explicit version means no version check request either."""
    a = make(sandbox)
    assert a._api is not None
    assert sandbox.app.received("mastodon.*") == []
    a.close()


def test_single_post_carries_key_and_token(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """One status: the text, visibility and Idempotency-Key as sent; the ref points at the status."""
    post = request("Hello from crosspost https://example.com/post #News")
    ref = adapter.publish(post, adapter.prepare(post))
    [sent] = sandbox.app.received("mastodon.statuses.create")
    assert sent.header("authorization") == f"Bearer {TOKEN}"
    assert sent.header("idempotency-key") == post.idempotency_key
    fields = form(sent)
    assert fields["status"] == [post.text]
    assert fields["visibility"] == ["public"]
    assert "in_reply_to_id" not in fields and "spoiler_text" not in fields
    [stored] = sandbox.app.posts("mastodon")
    assert ref == PostRef("mastodon", stored["id"], stored["url"])
    assert ref.url.endswith(f"/@crosspost/{stored['id']}")


def test_thread_of_three_replies_to_the_previous_part(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """Each part after the first carries in_reply_to_id = the previous part's id on the wire."""
    refs: list[PostRef] = []
    for part in range(3):
        previous = refs[-1] if refs else None
        post = request(f"part {part + 1}/3", key=f"k:{part}", reply_to=previous,
                       thread_root=refs[0] if refs else None)
        refs.append(adapter.publish(post, adapter.prepare(post)))
    sent = [form(r) for r in sandbox.app.received("mastodon.statuses.create")]
    assert "in_reply_to_id" not in sent[0]
    assert sent[1]["in_reply_to_id"] == [refs[0].id]
    assert sent[2]["in_reply_to_id"] == [refs[1].id]
    stored = sandbox.app.posts("mastodon")
    assert [p["in_reply_to_id"] for p in stored] == [None, refs[0].id, refs[1].id]


def test_image_with_alt_text_goes_to_v2_media(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """The image's bytes go to /api/v2/media with their description; once processed, they are attached."""
    png = sandbox_mastodon.sample_png(8, 5)
    path = sandbox_mastodon.add_file(sandbox.app, "cover.png", png, "image/png")
    post = request("With a picture", image=image_at("mastodon", f"{sandbox.url}{path}", "Eight by five pixels"))
    publish_when_processed(adapter, post, adapter.prepare(post))
    [upload] = sandbox.app.received("mastodon.media.create")
    assert upload.path == "/api/v2/media"
    assert upload.header("content-type").startswith("multipart/form-data")
    assert b'name="description"\r\n\r\nEight by five pixels' in upload.body
    assert png in upload.body and b"Content-Type: image/png" in upload.body
    polls = sandbox.app.received("mastodon.media.get")
    assert len(polls) == 2  # 206 once, then 200
    media_id = polls[0].path.rsplit("/", 1)[1]
    [sent] = sandbox.app.received("mastodon.statuses.create")
    assert form(sent)["media_ids[]"] == [media_id]
    [stored] = sandbox.app.posts("mastodon")
    assert stored["media_ids"] == [media_id]
    assert sandbox.app.state["mastodon"]["media"][media_id]["description"] == "Eight by five pixels"


def test_a_retry_reuses_the_uploaded_image(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """After the status POST fails, the retry attaches the same upload instead of uploading again."""
    path = sandbox_mastodon.add_file(sandbox.app, "c.png", sandbox_mastodon.sample_png(), "image/png")
    post = request("Picture, second try", image=image_at("mastodon", f"{sandbox.url}{path}", "alt"))
    sandbox.app.inject("mastodon.statuses.create", "error", status=503)
    with pytest.raises(Transient):
        publish_when_processed(adapter, post, adapter.prepare(post))
    publish_when_processed(adapter, post, {})
    assert len(sandbox.app.received("mastodon.media.create")) == 1
    [stored] = sandbox.app.posts("mastodon")
    assert len(stored["media_ids"]) == 1


def test_media_still_processing_is_pending_not_waited_for(sandbox: Sandbox) -> None:
    """An upload still processing raises MediaPending naming its id (the adapter never sleeps); asked
    again with that id it polls the same upload, and posts once it is processed: one upload."""
    path = sandbox_mastodon.add_file(sandbox.app, "c.png", sandbox_mastodon.sample_png(), "image/png")
    image = image_at("mastodon", f"{sandbox.url}{path}", "alt")
    sandbox.app.state["mastodon"]["config"]["media_processing_polls"] = 2
    adapter, post = make(sandbox), request("slow", key="slow", image=image)
    with pytest.raises(MediaPending) as first:
        adapter.publish(post, {})
    media_id = first.value.keep["media_id"]
    assert sandbox.app.received("mastodon.media.get") == [] and sandbox.app.posts("mastodon") == []
    for polls in (1, 2):
        with pytest.raises(MediaPending) as again:
            make(sandbox).publish(post, {"media_id": media_id})  # a fresh adapter: the id comes from prepared
        assert again.value.keep == {"media_id": media_id}
        assert len(sandbox.app.received("mastodon.media.get")) == polls
    make(sandbox).publish(post, {"media_id": media_id})
    assert len(sandbox.app.received("mastodon.media.create")) == 1
    [stored] = sandbox.app.posts("mastodon")
    assert stored["text"] == "slow" and stored["media_ids"] == [media_id]


def test_language_visibility_and_content_warning_are_sent(sandbox: Sandbox) -> None:
    """post.lang becomes language; options visibility, spoiler_text and sensitive go as they are."""
    a = make(sandbox, visibility="unlisted", spoiler_text="politics", sensitive=True)
    a.publish(request("Hallo Welt", lang="de"), {})
    fields = form(sandbox.app.received("mastodon.statuses.create")[0])
    assert fields["language"] == ["de"]
    assert fields["visibility"] == ["unlisted"]
    assert fields["spoiler_text"] == ["politics"]
    assert fields["sensitive"] == ["1"]
    [stored] = sandbox.app.posts("mastodon")
    assert stored["language"] == "de"
    assert (stored["visibility"], stored["spoiler_text"]) == ("unlisted", "politics")


def test_an_unknown_visibility_is_permanent_before_any_request(sandbox: Sandbox) -> None:
    """A misspelt visibility option is reported, naming the value, without calling the server."""
    with pytest.raises(Permanent, match="'everyone'"):
        make(sandbox, visibility="everyone").publish(request("x"), {})
    assert sandbox.app.received("mastodon.*") == []


def test_publishing_twice_with_one_key_posts_once(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """The Idempotency-Key makes a repeated publish return the first status."""
    post = request("only once")
    assert adapter.publish(post, {}) == adapter.publish(post, {})
    assert len(sandbox.app.posts("mastodon")) == 1


def test_delete_tolerates_a_second_delete(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """delete() removes the status; deleting what is already gone is not an error."""
    ref = adapter.publish(request("to be deleted"), {})
    adapter.delete(ref)
    assert sandbox.app.posts("mastodon") == []
    adapter.delete(ref)


def test_missing_settings_are_config_errors() -> None:
    """No instance URL or no token: a ConfigError naming the variable to set."""
    with pytest.raises(ConfigError, match="MASTODON_API_BASE_URL"):
        make(None).publish(request("x"), {})
    with pytest.raises(ConfigError, match="MASTODON_ACCESS_TOKEN"):
        make(None, base_url="https://mastodon.example", token="").publish(request("x"), {})


# --- the instance's limits ----------------------------------------------------------------------
def test_character_limit_and_url_weight_come_from_the_instance_once(kv: MemoryKV) -> None:
    """max_characters and characters_reserved_per_url from /api/v2/instance, cached in kv."""
    with Sandbox(options={"mastodon": {"max_characters": 1000}}) as sb:
        sb.app.state["mastodon"]["config"]["characters_reserved_per_url"] = 30
        first = make(sb, kv)
        assert first.character_limit() == 1000
        assert first.url_weight() == 30
        assert make(sb, kv).character_limit() == 1000  # another adapter, same kv: no request
        assert len(sb.app.received("mastodon.instance.*")) == 1
        [cached] = [v for k, (v, _) in kv.data.items() if k.startswith("mastodon:server:")]
        assert cached["max_characters"] == 1000
        assert cached["software"] == "mastodon"
        assert kv.data[f"mastodon:server:{sb.url}"][1] > time.time() + 23 * 3600  # a day's TTL


def test_character_limit_falls_back_to_v1_on_old_servers(sandbox: Sandbox) -> None:
    """Without /api/v2/instance (404) the limit is read from /api/v1/instance."""
    sandbox.app.state["mastodon"]["config"]["instance_v2"] = False
    sandbox.app.state["mastodon"]["config"]["max_characters"] = 640
    assert make(sandbox).character_limit() == 640
    assert [r.endpoint for r in sandbox.app.received("mastodon.instance.*")] == [
        "mastodon.instance.v2", "mastodon.instance.v1"]
    assert [r.path for r in sandbox.app.received("mastodon.instance.*")] == [
        "/api/v2/instance", "/api/v1/instance"]  # exact paths: no trailing slash


def test_an_instance_that_does_not_answer_is_said_and_not_cached(sandbox: Sandbox) -> None:
    """Failing instance endpoints never raise: the facts say so, nothing is cached, the next run asks again."""
    kv = MemoryKV()
    sandbox.app.inject("mastodon.instance.v2", "error", status=502)
    sandbox.app.inject("mastodon.instance.v1", "error", status=502)
    facts = make(sandbox, kv).server_facts()
    assert facts.max_characters is None and "instance" in facts.unanswered
    assert kv.data == {}
    assert make(sandbox, kv).character_limit() == 500


# --- failures -----------------------------------------------------------------------------------
def test_429_is_rate_limited_with_the_servers_reset(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """An injected 429 becomes RateLimited with retry_at from X-RateLimit-Reset."""
    sandbox.app.inject("mastodon.statuses.create", "rate_limit", reset_in=120)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(request("limited"), {})
    assert caught.value.retry_at is not None
    expected = datetime.now(UTC) + timedelta(seconds=120)
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3
    assert caught.value.retry_at.tzinfo is not None
    assert sandbox.app.posts("mastodon") == []


def test_a_full_statuses_bucket_is_rate_limited_until_the_window_ends(sandbox: Sandbox) -> None:
    """Thirty posts per window: the thirty-first is RateLimited until the window's reset."""
    sandbox.app.set_quota("mastodon", "statuses", 30, 600)
    adapter = make(sandbox)
    for n in range(30):
        adapter.publish(request(f"post {n}", key=f"k{n}"), {})
    with pytest.raises(RateLimited) as caught:
        adapter.publish(request("one too many", key="k30"), {})
    assert caught.value.retry_at is not None
    remaining = (caught.value.retry_at - datetime.now(UTC)).total_seconds()
    assert 590 < remaining <= 601
    assert len(sandbox.app.posts("mastodon")) == 30


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(sandbox: Sandbox, adapter: MastodonAdapter, status: int) -> None:
    """Server errors are Transient and keep their status."""
    sandbox.app.inject("mastodon.statuses.create", "error", status=status)
    with pytest.raises(Transient) as caught:
        adapter.publish(request("x"), {})
    assert caught.value.status == status


def test_connection_refused_is_transient() -> None:
    """Nothing listening: the request was never sent."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Transient, match="not sent"):
        make(None, base_url=f"http://127.0.0.1:{port}").publish(request("x"), {})


def test_connect_timeout_is_transient() -> None:
    """A server whose accept queue is full never completes the handshake: a connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    try:
        for _ in range(8):  # fill the accept queue; later SYNs are dropped
            c = socket.socket()
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect(("127.0.0.1", port))
            held.append(c)
        time.sleep(0.1)
        with pytest.raises(Transient, match="not sent"):
            make(None, base_url=f"http://127.0.0.1:{port}", timeout=0.5).publish(request("x"), {})
    finally:
        for c in held:
            c.close()
        listener.close()


def test_read_timeout_is_ambiguous(sandbox: Sandbox) -> None:
    """The server got the request and did not answer in time: it may have posted."""
    sandbox.app.inject("mastodon.statuses.create", "timeout", delay=1.5)
    with pytest.raises(Ambiguous, match="may have been posted"):
        make(sandbox, timeout=0.5).publish(request("x"), {})


def test_dropped_connection_is_ambiguous(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """A connection closed without an answer after the request went out is Ambiguous."""
    sandbox.app.inject("mastodon.statuses.create", "drop")
    with pytest.raises(Ambiguous):
        adapter.publish(request("x"), {})


@pytest.mark.parametrize("kind", ["after_commit", "after_commit_timeout"])
def test_after_commit_is_ambiguous_and_reconcile_finds_the_one_post(sandbox: Sandbox, kind: str) -> None:
    """The post exists though the answer was lost; reconcile returns it and nothing is posted twice."""
    adapter = make(sandbox, timeout=0.5)
    post = request("committed but unanswered")
    prepared = adapter.prepare(post)
    sandbox.app.inject("mastodon.statuses.create", kind, delay=1.5)
    with pytest.raises(Ambiguous):
        adapter.publish(post, prepared)
    [stored] = sandbox.app.posts("mastodon")
    found = adapter.reconcile(post, prepared)
    assert found is not None and found.id == stored["id"] and found.url == stored["url"]
    assert len(sandbox.app.posts("mastodon")) == 1
    assert all(r.header("idempotency-key") == post.idempotency_key
               for r in sandbox.app.received("mastodon.statuses.create"))


def test_reconcile_after_the_key_expired_looks_the_status_up(sandbox: Sandbox) -> None:
    """Past the one-hour window reconcile searches the account's statuses and posts nothing."""
    adapter = make(sandbox)
    parent = adapter.publish(request("parent", key="p"), {})
    post = request("Look @friend@example.social https://example.com/a/long/article/path #Tag\n\nbye",
                   key="late", reply_to=parent)
    sandbox.app.inject("mastodon.statuses.create", "after_commit")
    with pytest.raises(Ambiguous):
        adapter.publish(post, {})
    posted = sandbox.app.posts("mastodon")[-1]
    two_hours_ago = {"prepared_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}
    before = len(sandbox.app.received("mastodon.statuses.create"))
    found = adapter.reconcile(post, two_hours_ago)
    assert found is not None and found.id == posted["id"]
    assert len(sandbox.app.received("mastodon.statuses.create")) == before
    assert sandbox.app.received("mastodon.accounts.statuses")
    # a reply to another parent with the same text is not the post we look for
    other = request(post.text, key="late", reply_to=PostRef("mastodon", "1", "u"))
    assert adapter.reconcile(other, two_hours_ago) is None


def test_reconcile_finds_nothing_when_nothing_was_posted(sandbox: Sandbox) -> None:
    """Past the window, a post that never arrived is reported missing (safe to send again)."""
    adapter = make(sandbox)
    adapter.publish(request("something else", key="other"), {})
    long_ago = {"prepared_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat()}
    assert adapter.reconcile(request("never arrived", key="lost"), long_ago) is None
    assert adapter.reconcile(request("never arrived", key="lost"), {}) is None
    assert len(sandbox.app.posts("mastodon")) == 1


def test_too_long_is_permanent_with_the_servers_message(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """The sandbox refuses 501 characters with Mastodon's words; the adapter passes them on."""
    with pytest.raises(Permanent, match="Text character limit of 500 exceeded") as caught:
        adapter.publish(request("a" * 501), {})
    assert caught.value.status == 422


def test_reply_to_a_missing_status_is_permanent(sandbox: Sandbox, adapter: MastodonAdapter) -> None:
    """A parent that does not exist: 404 with Mastodon's message."""
    with pytest.raises(Permanent, match="does not appear to exist") as caught:
        adapter.publish(request("reply", reply_to=PostRef("mastodon", "12345", "u")), {})
    assert caught.value.status == 404


def test_bad_credentials_are_permanent_and_name_the_setting(sandbox: Sandbox) -> None:
    """A refused token says so and which variable to check."""
    with pytest.raises(Permanent, match=r"refused the access token \(401.*MASTODON_ACCESS_TOKEN"):
        make(sandbox, token="wrong-token").publish(request("x"), {})


def test_no_secret_appears_in_any_error_message(sandbox: Sandbox) -> None:
    """Tokens never reach error text, even when the server or the URL would echo them."""
    secret = "s3cr3t-t0ken-value"
    errors: list[PublishError] = []
    attempts: list[tuple[MastodonAdapter, PostRequest]] = [
        (make(sandbox, token=secret), request("x")),  # 401
        (make(sandbox, base_url=f"http://127.0.0.1:1/{secret}", token=secret), request("x")),  # refused
        (make(sandbox, token=TOKEN), request("a" * 501)),  # 422
    ]
    for adapter, post in attempts:
        with pytest.raises(PublishError) as caught:
            adapter.publish(post, {})
        errors.append(caught.value)
    sandbox.app.inject("mastodon.statuses.create", "rate_limit", reset_in=10)
    with pytest.raises(RateLimited) as limited:
        make(sandbox).publish(request("x"), {})
    errors.append(limited.value)
    assert "***" in str(errors[1])
    for err in errors:
        assert secret not in str(err) and TOKEN not in str(err)


# --- the mapping table ----------------------------------------------------------------------------
def _sdk_exception_classes() -> list[type[BaseException]]:
    return [cls for _, cls in inspect.getmembers(mastodon_errors, inspect.isclass)
            if issubclass(cls, BaseException) and not issubclass(cls, Warning)]


def _sdk_instance(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, mastodon_errors.MastodonAPIError):
        status = {"MastodonNotFoundError": 404, "MastodonUnauthorizedError": 401,
                  "MastodonInternalServerError": 500, "MastodonBadGatewayError": 502,
                  "MastodonServiceUnavailableError": 503, "MastodonGatewayTimeoutError": 504,
                  "MastodonServerError": 507}.get(cls.__name__, 422)
        return cls("Mastodon API returned error", status, "Reason", "what the server said")
    return cls("something failed")


def test_every_sdk_exception_class_is_mapped() -> None:
    """Walk mastodon.errors: every exception class translates to the expected PublishError subclass."""
    expected: dict[str, type[PublishError]] = {
        "MastodonError": Ambiguous,
        "MastodonVersionError": Permanent,
        "MastodonIllegalArgumentError": Permanent,
        "MastodonIOError": Permanent,
        "MastodonFileNotFoundError": Permanent,
        "MastodonNetworkError": Ambiguous,
        "MastodonReadTimeout": Ambiguous,
        "MastodonAPIError": Permanent,
        "MastodonServerError": Transient,
        "MastodonInternalServerError": Transient,
        "MastodonBadGatewayError": Transient,
        "MastodonServiceUnavailableError": Transient,
        "MastodonGatewayTimeoutError": Transient,
        "MastodonNotFoundError": Permanent,
        "MastodonUnauthorizedError": Permanent,
        "MastodonRatelimitError": RateLimited,
        "MastodonMalformedEventError": Permanent,
    }
    classes = _sdk_exception_classes()
    assert {c.__name__ for c in classes} == set(expected)  # a new SDK exception must be added here
    for cls in classes:
        translated = translate_error(_sdk_instance(cls))
        assert type(translated) is expected[cls.__name__], cls.__name__
        assert str(translated).startswith("mastodon: ")


def test_api_errors_keep_the_servers_message_and_status() -> None:
    """403 names the token's scopes; 408 is Transient; a 2xx that is not JSON is Ambiguous."""
    forbidden = translate_error(mastodon_errors.MastodonAPIError(
        "Mastodon API returned error", 403, "Forbidden", "This action is outside the authorized scopes"))
    assert isinstance(forbidden, Permanent) and forbidden.status == 403
    assert "outside the authorized scopes" in str(forbidden) and "MASTODON_ACCESS_TOKEN" in str(forbidden)
    assert isinstance(translate_error(mastodon_errors.MastodonAPIError("x", 408, "Timeout", None)), Transient)
    garbled = mastodon_errors.MastodonAPIError("Could not parse response as JSON, response code was 200", "e")
    assert isinstance(translate_error(garbled), Ambiguous)
    reset = mastodon_errors.MastodonRatelimitError("Hit rate limit.")
    reset.ratelimit_reset = 1_900_000_000
    limited = translate_error(reset)
    assert isinstance(limited, RateLimited)
    assert limited.retry_at == datetime.fromtimestamp(1_900_000_000, UTC)


def _wrapped(inner: BaseException) -> mastodon_errors.MastodonNetworkError:
    """Wrap like Mastodon.py does: raised inside ``except`` (so ``__context__`` is the cause)."""
    try:
        raise inner
    except BaseException as e:
        try:
            raise mastodon_errors.MastodonNetworkError(f"Could not complete request: {e}")
        except mastodon_errors.MastodonNetworkError as wrapped:
            return wrapped


def _requests_error(cls: type[requests.RequestException], reason: BaseException) -> BaseException:
    """A requests error built the way requests' HTTPAdapter raises it (urllib3 error inside)."""
    try:
        raise reason
    except BaseException as e:
        try:
            raise cls(e)
        except requests.RequestException as outer:
            return outer


NEW_CONNECTION = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
NETWORK_CASES: list[tuple[BaseException, type[PublishError]]] = [
    (_requests_error(requests.ConnectionError, urllib3.exceptions.MaxRetryError(None, "/", NEW_CONNECTION)),
     Transient),
    (_requests_error(requests.ConnectionError, ConnectionRefusedError(111, "Connection refused")), Transient),
    (_requests_error(requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError("connect timed out")),
     Transient),
    (_requests_error(requests.ConnectionError, socket.gaierror(-2, "Name or service not known")), Transient),
    (_requests_error(requests.exceptions.ProxyError, OSError("proxy down")), Transient),
    (_requests_error(requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")),
     Ambiguous),
    (_requests_error(requests.ConnectionError, urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))), Ambiguous),
    (_requests_error(requests.exceptions.ChunkedEncodingError, OSError("broken body")), Ambiguous),
    (_requests_error(requests.exceptions.ContentDecodingError, OSError("bad gzip")), Ambiguous),
    (_requests_error(requests.exceptions.SSLError, OSError("EOF in violation of protocol")), Ambiguous),
    (_requests_error(requests.exceptions.SSLError, __import__("ssl").SSLCertVerificationError("bad cert")),
     Permanent),
    (_requests_error(requests.exceptions.InvalidURL, ValueError("bad url")), Permanent),
    (_requests_error(requests.exceptions.MissingSchema, ValueError("no scheme")), Permanent),
    (_requests_error(requests.exceptions.TooManyRedirects, ValueError("loop")), Permanent),
    (_requests_error(requests.RequestException, OSError("unknown")), Ambiguous),
]


@pytest.mark.parametrize(("inner", "kind"), NETWORK_CASES, ids=lambda x: type(x).__name__)
def test_network_exceptions_are_mapped(inner: BaseException, kind: type[PublishError]) -> None:
    """requests errors map by where they happened, bare or inside MastodonNetworkError."""
    assert type(translate_error(inner)) is kind
    assert type(translate_error(_wrapped(inner))) is kind


def test_every_requests_exception_class_is_mapped() -> None:
    """Walk requests.exceptions: each RequestException subclass maps to a PublishError."""
    for _, cls in inspect.getmembers(requests.exceptions, inspect.isclass):
        if issubclass(cls, requests.RequestException):
            json_error = issubclass(cls, requests.exceptions.JSONDecodeError)
            args = ("failure", "{", 0) if json_error else ("failure",)
            assert isinstance(translate_error(_wrapped(cls(*args))), PublishError), cls.__name__
            assert isinstance(translate_error(cls(*args)), PublishError), cls.__name__


# --- text comparison used by reconcile --------------------------------------------------------------
def test_html_to_text_recovers_what_was_posted() -> None:
    """Mastodon's rendered content, stripped, compares equal to the text that was posted."""
    text = "Hi @someone@example.social\nsee https://example.com/a/long/path/to/it?x=1 #Tag\n\n<ok> & bye"
    content = sandbox_mastodon.render_content(text.replace("@example.social", ""), "mastodon.example")
    assert normalized_text(html_to_text(content)) == normalized_text(text)
    assert normalized_text("a  b\n\nc") == "a b c"
    assert normalized_text("mail me: me@example.com") == "mail me: me@example.com"
