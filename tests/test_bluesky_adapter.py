"""The Bluesky adapter: atproto 0.0.73 over real HTTP against the sandbox, checked on the wire."""

from __future__ import annotations

import inspect
import json
import re
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.base import AccountSettings, LinkCard, PostRef, PostRequest
from adapters.bluesky import BlueskyAdapter, tid_from, translate_error
from bot.errors import Ambiguous, Permanent, PublishError, RateLimited, Transient
from bot.sandbox import Sandbox, credentials
from bot.sandbox.core import Request
from tests.conftest import MemoryKV, image_at

HANDLE = credentials()["BLUESKY_HANDLE"]
PASSWORD = credentials()["BLUESKY_APP_PASSWORD"]
POST = "app.bsky.feed.post"
TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")


def png(width: int = 4, height: int = 3, pad: int = 0) -> bytes:
    """A real PNG (RGB, solid colour); ``pad`` adds an ancillary chunk to make it bigger."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    extra = chunk(b"teXt", b"c\x00" + b"x" * pad) if pad else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + extra
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def facets_for(
    text: str, link: tuple[str, str] | None = None, tags: tuple[str, ...] = ()
) -> tuple[dict[str, Any], ...]:
    """Link and tag facets with UTF-8 byte offsets, as the core computes them."""
    out = []
    if link:
        shown, uri = link
        start = len(text[: text.index(shown)].encode())
        out.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(shown.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    for tag in tags:
        start = len(text[: text.index("#" + tag)].encode())
        out.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(("#" + tag).encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    return tuple(out)


def settings_for(
    sandbox: Sandbox, *, password: str = PASSWORD, timeout: float = 5.0, base_url: str | None = None
) -> AccountSettings:
    return AccountSettings(
        platform="bluesky",
        credentials={"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": password},
        base_url=base_url or sandbox.url,
        timeout=timeout,
        allow_private_network=True,
    )


@pytest.fixture
def adapter(sandbox: Sandbox, kv: MemoryKV) -> Iterator[BlueskyAdapter]:
    a = BlueskyAdapter(settings_for(sandbox), kv)
    yield a
    a.close()


def serve(sandbox: Sandbox, name: str, data: bytes, content_type: str = "image/png") -> str:
    sandbox.app.state["bluesky"]["files"][name] = (content_type, data)
    return f"{sandbox.url}/bluesky-media/{name}"


def put_bodies(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r.json() for r in sandbox.app.received("bluesky.repo.putRecord")]


def did(sandbox: Sandbox) -> str:
    return next(iter(sandbox.app.state["bluesky"]["accounts"]))


def post(text: str = "Hello from crosspost", **kw: Any) -> PostRequest:
    return PostRequest(text=text, idempotency_key=kw.pop("idempotency_key", "cp-test"), **kw)


# --- what goes over the wire -----------------------------------------------------------------------
def test_single_post_with_facets_tags_and_language(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """One post: putRecord at the prepared rkey with text, facets as given, langs, tags and createdAt."""
    text = "New article: example.com/café… #OpenAI #AI"
    facets = facets_for(
        text, ("example.com/café…", "https://example.com/caf%C3%A9-long-path"), ("OpenAI", "AI")
    )
    request = post(text, lang="de", facets=facets, tags=("Microsoft", "Azure"))
    prepared = adapter.prepare(request)
    ref = adapter.publish(request, prepared)

    (body,) = put_bodies(sandbox)
    assert body["repo"] == did(sandbox) and body["collection"] == POST and body["rkey"] == prepared["rkey"]
    record = body["record"]
    assert record["$type"] == POST and record["text"] == text and record["createdAt"] == prepared["createdAt"]
    assert record["langs"] == ["de"] and record["tags"] == ["Microsoft", "Azure"]
    assert [(f["index"]["byteStart"], f["index"]["byteEnd"], f["features"][0]) for f in record["facets"]] == [
        (f["index"]["byteStart"], f["index"]["byteEnd"], {**f["features"][0]}) for f in facets
    ]
    assert "reply" not in record and "embed" not in record
    stored = sandbox.app.posts("bluesky")
    assert len(stored) == 1 and stored[0]["text"] == text
    assert ref == PostRef(
        platform="bluesky",
        id=f"at://{did(sandbox)}/{POST}/{prepared['rkey']}",
        url=f"https://bsky.app/profile/{HANDLE}/post/{prepared['rkey']}",
        cid=stored[0]["cid"],
    )
    assert not sandbox.app.received("bluesky.actor.getProfile")  # a bare PDS would answer 400
    assert not sandbox.app.received("bluesky.repo.createRecord")


def test_no_language_sends_no_langs(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """Without a language the record carries no langs (the SDK's send_post would claim "en")."""
    adapter.publish(post(), adapter.prepare(post()))
    assert "langs" not in put_bodies(sandbox)[0]["record"]


def test_prepare_picks_a_tid_and_created_at_once(adapter: BlueskyAdapter) -> None:
    """prepare() returns a fresh, increasing TID and an atproto datetime; nothing else."""
    first, second = adapter.prepare(post()), adapter.prepare(post())
    assert set(first) == {"rkey", "createdAt"}
    assert TID.fullmatch(first["rkey"]) and TID.fullmatch(second["rkey"]) and first["rkey"] < second["rkey"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["createdAt"])
    assert abs(datetime.fromisoformat(first["createdAt"]) - datetime.now(UTC)).total_seconds() < 5


def test_tid_layout() -> None:
    """A TID is (microseconds << 10 | clock id) in sortable base32: decoding gives the time back."""
    tid = tid_from(1_700_000_000_000_000, 777)
    value = 0
    for ch in tid:
        value = value * 32 + "234567abcdefghijklmnopqrstuvwxyz".index(ch)
    assert (value >> 10, value & 0x3FF, len(tid)) == (1_700_000_000_000_000, 777, 13)
    assert TID.fullmatch(tid) and tid_from(1_700_000_000_000_001, 0) > tid


def test_thread_of_three_reply_refs(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """Parts 2 and 3 reply with strong refs: root = part 1, parent = the part before."""
    refs: list[PostRef] = []
    for i in range(3):
        request = post(
            f"part {i + 1}/3", reply_to=refs[-1] if refs else None, thread_root=refs[0] if refs else None
        )
        refs.append(adapter.publish(request, adapter.prepare(request)))
    bodies = put_bodies(sandbox)
    assert "reply" not in bodies[0]["record"]
    for i in (1, 2):
        reply = bodies[i]["record"]["reply"]
        assert (reply["root"]["uri"], reply["root"]["cid"]) == (refs[0].id, refs[0].cid)
        assert (reply["parent"]["uri"], reply["parent"]["cid"]) == (refs[i - 1].id, refs[i - 1].cid)
    assert [p["text"] for p in sandbox.app.posts("bluesky")] == ["part 1/3", "part 2/3", "part 3/3"]


def test_reply_to_a_ref_without_cid_looks_the_cid_up(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """An old ledger row without a cid: the adapter reads the parent's cid with getRecord."""
    root = adapter.publish(post("root"), adapter.prepare(post("root")))
    bare = PostRef(platform="bluesky", id=root.id, url=root.url)
    reply = post("reply", reply_to=bare, thread_root=bare)
    adapter.publish(reply, adapter.prepare(reply))
    assert put_bodies(sandbox)[1]["record"]["reply"]["parent"] == {
        "uri": root.id,
        "cid": root.cid,
        "$type": "com.atproto.repo.strongRef",
    }


def test_image_with_alt_text(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """post.image: the PNG is uploaded as a blob and embedded with its alt text."""
    data = png()
    request = post("with a picture", image=image_at("bluesky", serve(sandbox, "pic.png", data), "A blue square"))
    adapter.publish(request, adapter.prepare(request))
    (upload,) = sandbox.app.received("bluesky.repo.uploadBlob")
    assert upload.body == data and upload.header("content-type") == "image/png"
    embed = put_bodies(sandbox)[0]["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    (image,) = embed["images"]
    assert image["alt"] == "A blue square"
    assert image["image"]["ref"]["$link"] in sandbox.app.state["bluesky"]["blobs"]
    assert image["image"]["mimeType"] == "image/png" and image["image"]["size"] == len(data)


def test_link_card_with_thumbnail(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """post.card: app.bsky.embed.external with uri/title/description and the thumbnail as a blob."""
    data = png(16, 9)
    url = serve(sandbox, "thumb.png", data)
    card = LinkCard("https://example.com/a", "A title", "A description", url, thumb=image_at("bluesky", url))
    request = post("read https://example.com/a", card=card)
    adapter.publish(request, adapter.prepare(request))
    external = put_bodies(sandbox)[0]["record"]["embed"]["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        "https://example.com/a",
        "A title",
        "A description",
    )
    assert external["thumb"]["ref"]["$link"] in sandbox.app.state["bluesky"]["blobs"]
    assert external["thumb"]["mimeType"] == "image/png" and external["thumb"]["size"] == len(data)
    assert sandbox.app.received("bluesky.repo.uploadBlob")[0].body == data


def test_card_without_thumbnail_bytes_has_no_thumb(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """A card whose thumbnail the publisher could not use (thumb None) goes out without one."""
    request = post("card", card=LinkCard("https://example.com/b", "T", "D", f"{sandbox.url}/nothing.png"))
    ref = adapter.publish(request, adapter.prepare(request))
    external = put_bodies(sandbox)[0]["record"]["embed"]["external"]
    assert external["uri"] == "https://example.com/b" and "thumb" not in external
    assert not sandbox.app.received("bluesky.repo.uploadBlob")
    assert ref.id.endswith("/" + put_bodies(sandbox)[0]["rkey"])


def test_image_served_as_octet_stream_is_recognised(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """A PNG sent as application/octet-stream is still uploaded (as image/png, from its bytes)."""
    request = post("pic", image=image_at("bluesky", serve(sandbox, "raw", png(), "application/octet-stream"), "a"))
    adapter.publish(request, adapter.prepare(request))
    assert sandbox.app.received("bluesky.repo.uploadBlob")[0].header("content-type") == "image/png"
    assert put_bodies(sandbox)[0]["record"]["embed"]["images"][0]["image"]["mimeType"] == "image/png"


def test_delete(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """delete() sends deleteRecord for the post's rkey; the sandbox marks it deleted."""
    ref = adapter.publish(post(), adapter.prepare(post()))
    adapter.delete(ref)
    (body,) = [r.json() for r in sandbox.app.received("bluesky.repo.deleteRecord")]
    assert body == {"repo": did(sandbox), "collection": POST, "rkey": ref.id.rsplit("/", 1)[1]}
    assert sandbox.app.posts("bluesky") == []


# --- exactly once ------------------------------------------------------------------------------------
def test_publishing_twice_with_the_same_prepared_makes_one_post(
    adapter: BlueskyAdapter, sandbox: Sandbox
) -> None:
    """A retry sends the identical record to the same rkey: same uri/cid, one post, no edit."""
    data = png()
    card = LinkCard("https://example.com/c", "T", "D", serve(sandbox, "t.png", data))
    request = post("once", card=card, lang="en")
    prepared = adapter.prepare(request)
    first, second = adapter.publish(request, prepared), adapter.publish(request, prepared)
    assert first == second
    bodies = put_bodies(sandbox)
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    (stored,) = sandbox.app.posts("bluesky")
    assert stored["edits"] == 0


@pytest.mark.parametrize("kind", ["after_commit", "after_commit_timeout"])
def test_after_commit_failure_is_ambiguous_then_reconciled(sandbox: Sandbox, kv: MemoryKV, kind: str) -> None:
    """The post was written but the answer lost: Ambiguous; reconcile() finds it; a retry adds nothing."""
    adapter = BlueskyAdapter(settings_for(sandbox, timeout=1.0), kv)
    request = post("ambiguous #x", lang="en", facets=facets_for("ambiguous #x", tags=("x",)))
    prepared = adapter.prepare(request)
    sandbox.app.inject("bluesky.repo.putRecord", kind, delay=2.0)
    try:
        with pytest.raises(Ambiguous):
            adapter.publish(request, prepared)
        found = adapter.reconcile(request, prepared)
        assert found is not None and found.id.endswith(prepared["rkey"])
        assert adapter.publish(request, prepared) == found
        (stored,) = sandbox.app.posts("bluesky")
        assert stored["id"] == found.id and stored["cid"] == found.cid and stored["edits"] == 0
    finally:
        adapter.close()


@pytest.mark.parametrize("kind", ["timeout", "drop"])
def test_lost_request_is_ambiguous_and_reconcile_says_absent(
    sandbox: Sandbox, kv: MemoryKV, kind: str
) -> None:
    """Read timeout / dropped connection before the write: Ambiguous; reconcile → None; retry posts once."""
    adapter = BlueskyAdapter(settings_for(sandbox, timeout=0.5), kv)
    request = post("lost")
    prepared = adapter.prepare(request)
    sandbox.app.inject("bluesky.repo.putRecord", kind, delay=1.5)
    try:
        with pytest.raises(Ambiguous):
            adapter.publish(request, prepared)
        assert adapter.reconcile(request, prepared) is None
        ref = adapter.publish(request, prepared)
        assert [p["id"] for p in sandbox.app.posts("bluesky")] == [ref.id]
    finally:
        adapter.close()


def test_reconcile_ignores_a_different_record_at_the_rkey(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """A record at our rkey with other content is not "ours": None, and publishing overwrites it."""
    request = post("the real text")
    prepared = adapter.prepare(request)
    adapter.publish(post("something else"), prepared)
    assert adapter.reconcile(request, prepared) is None
    ref = adapter.publish(request, prepared)
    (stored,) = sandbox.app.posts("bluesky")
    assert stored["text"] == "the real text" and stored["id"] == ref.id


# --- sessions are reused ---------------------------------------------------------------------------
def test_hundred_posts_one_create_session(sandbox: Sandbox, kv: MemoryKV) -> None:
    """100 posts through one adapter and then two more adapters sharing the kv: createSession once."""
    first = BlueskyAdapter(settings_for(sandbox), kv)
    for i in range(100):
        first.publish(post(f"post {i}"), first.prepare(post()))
    first.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 1
    for n in range(2):
        again = BlueskyAdapter(settings_for(sandbox), kv)
        again.publish(post(f"later {n}"), again.prepare(post()))
        again.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 1
    assert len(sandbox.app.posts("bluesky")) == 102
    stored = kv.kv_get(f"bluesky:session:{sandbox.url}:{HANDLE}")
    token = stored.split(":::")[2]
    assert sandbox.app.received("bluesky.repo.putRecord")[-1].header("authorization") == f"Bearer {token}"


def test_refreshed_sessions_are_stored(sandbox: Sandbox, kv: MemoryKV) -> None:
    """A nearly expired access token is refreshed (refreshSession, not createSession) and the new one kept."""
    sandbox.app.state["bluesky"]["access_ttl"] = 60  # the SDK refreshes 15 minutes before expiry
    a = BlueskyAdapter(settings_for(sandbox), kv)
    a.publish(post("one"), a.prepare(post()))
    a.close()
    b = BlueskyAdapter(settings_for(sandbox), kv)
    b.publish(post("two"), b.prepare(post()))
    b.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 1
    assert sandbox.app.received("bluesky.server.refreshSession")
    token = kv.kv_get(f"bluesky:session:{sandbox.url}:{HANDLE}").split(":::")[2]
    assert sandbox.app.received("bluesky.repo.putRecord")[-1].header("authorization") == f"Bearer {token}"


def test_revoked_refresh_token_means_one_fresh_login(sandbox: Sandbox, kv: MemoryKV) -> None:
    """refreshSession answers 400 ExpiredToken: one createSession, then the post goes out."""
    sandbox.app.state["bluesky"]["access_ttl"] = 60
    a = BlueskyAdapter(settings_for(sandbox), kv)
    a.publish(post("one"), a.prepare(post()))
    a.close()
    for token in sandbox.app.state["bluesky"]["refresh_tokens"].values():
        token["revoked"] = True
    b = BlueskyAdapter(settings_for(sandbox), kv)
    b.publish(post("two"), b.prepare(post()))
    b.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 2
    assert [p["text"] for p in sandbox.app.posts("bluesky")] == ["one", "two"]


def test_refused_access_token_means_one_fresh_login(sandbox: Sandbox, kv: MemoryKV) -> None:
    """The server no longer accepts the stored tokens (400 InvalidToken): one createSession, one post."""
    a = BlueskyAdapter(settings_for(sandbox), kv)
    a.publish(post("one"), a.prepare(post()))
    a.close()
    sandbox.app.state["bluesky"]["jwt_secret"] = b"rotated"
    b = BlueskyAdapter(settings_for(sandbox), kv)
    b.publish(post("two"), b.prepare(post()))
    b.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 2
    assert len(sandbox.app.received("bluesky.repo.putRecord")) == 3  # one refused, then the real one
    assert [p["text"] for p in sandbox.app.posts("bluesky")] == ["one", "two"]


def test_expired_refresh_token_is_not_even_tried(sandbox: Sandbox, kv: MemoryKV) -> None:
    """A stored session whose refresh token has expired by our clock: straight to createSession."""
    sandbox.app.state["bluesky"]["refresh_ttl"] = 30
    a = BlueskyAdapter(settings_for(sandbox), kv)
    a.publish(post("one"), a.prepare(post()))
    a.close()
    b = BlueskyAdapter(settings_for(sandbox), kv)
    b.publish(post("two"), b.prepare(post()))
    b.close()
    assert len(sandbox.app.received("bluesky.server.createSession")) == 2
    assert not sandbox.app.received("bluesky.server.refreshSession")


# --- errors ------------------------------------------------------------------------------------------
def test_rate_limit_429_carries_the_reset_time(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """429 RateLimitExceeded → RateLimited whose retry_at is the ratelimit-reset epoch."""
    adapter.publish(post("warm up"), adapter.prepare(post()))
    sandbox.app.set_quota("bluesky", "repo-write", 1, 300)
    adapter.publish(post("fits"), adapter.prepare(post()))
    before = time.time()
    with pytest.raises(RateLimited) as caught:
        adapter.publish(post("too many"), adapter.prepare(post()))
    quota = sandbox.app.quotas[("bluesky", "repo-write")]
    expected = int(quota.window_start + quota.window)
    assert caught.value.retry_at == datetime.fromtimestamp(expected, UTC)
    assert caught.value.retry_at.timestamp() >= before + 290
    assert "Rate Limit Exceeded" in str(caught.value)


def test_injected_rate_limit(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """An injected 429 with reset 120 s ahead → retry_at about two minutes from now."""
    sandbox.app.inject("bluesky.repo.putRecord", "rate_limit", reset_in=120)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(post(), adapter.prepare(post()))
    assert caught.value.retry_at is not None
    assert 100 < (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 121


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(adapter: BlueskyAdapter, sandbox: Sandbox, status: int) -> None:
    """5xx → Transient (retried blindly: putRecord at the same rkey cannot duplicate)."""
    sandbox.app.inject("bluesky.repo.putRecord", "error", status=status)
    with pytest.raises(Transient) as caught:
        adapter.publish(post(), adapter.prepare(post()))
    assert caught.value.status == status and "Internal Server Error (injected)" in str(caught.value)


def test_connection_refused_is_transient(kv: MemoryKV) -> None:
    """Nothing listens on the port: Transient, the request was not sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = AccountSettings(
        platform="bluesky",
        credentials={"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": PASSWORD},
        base_url=f"http://127.0.0.1:{port}",
        timeout=2,
    )
    a = BlueskyAdapter(settings, kv)
    with pytest.raises(Transient, match="nothing was sent"):
        a.publish(post(), a.prepare(post()))
    a.close()


def sdk_error_from(exc: Exception) -> BaseException:
    """What atproto's Request raises when httpx raises ``exc`` (through a MockTransport)."""
    from atproto_client.request import Request as SDKRequest

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    try:
        SDKRequest(transport=httpx.MockTransport(fail)).post(url="http://127.0.0.1:9/xrpc/x")
    except Exception as raised:
        return raised
    raise AssertionError("no exception")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectTimeout("connect timed out"), Transient),
        (httpx.PoolTimeout("pool"), Transient),
        (httpx.ConnectError("refused"), Transient),
        (httpx.ReadTimeout("read timed out"), Ambiguous),
        (httpx.WriteTimeout("write timed out"), Ambiguous),
        (httpx.ReadError("reset"), Ambiguous),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), Ambiguous),
        (httpx.UnsupportedProtocol("ftp"), Permanent),
    ],
)
def test_transport_failures_through_the_sdk(exc: Exception, expected: type[PublishError]) -> None:
    """The SDK wraps some httpx errors and lets others through; each lands on the right side of "sent"."""
    assert type(translate_error(sdk_error_from(exc))) is expected


def test_too_long_is_permanent_with_the_pds_message(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """301 graphemes → 400 from the server → Permanent carrying the PDS's wording."""
    text = "e\u0301" * 301
    with pytest.raises(Permanent) as caught:
        adapter.publish(post(text), adapter.prepare(post(text)))
    assert caught.value.status == 400
    assert "grapheme too big (maximum 300, got 301) at $.record.text" in str(caught.value)
    assert sandbox.app.posts("bluesky") == []


def test_bad_credentials_are_permanent_and_name_the_settings(sandbox: Sandbox, kv: MemoryKV) -> None:
    """A wrong app password → 401 → Permanent naming BLUESKY_APP_PASSWORD, without the password."""
    a = BlueskyAdapter(settings_for(sandbox, password="wrong-pass-word-0000"), kv)
    with pytest.raises(Permanent) as caught:
        a.publish(post(), a.prepare(post()))
    message = str(caught.value)
    assert "Invalid identifier or password" in message and "BLUESKY_APP_PASSWORD" in message
    assert "wrong-pass-word-0000" not in message
    assert kv.kv_get(f"bluesky:session:{sandbox.url}:{HANDLE}") is None
    a.close()


def test_no_secret_in_any_error_message(sandbox: Sandbox, kv: MemoryKV) -> None:
    """Every failure path's message is free of the credentials, even when a server echoes them."""
    messages = []
    a = BlueskyAdapter(settings_for(sandbox, password="not-the-pass-word"), kv)
    with pytest.raises(PublishError) as caught:
        a.publish(post(), a.prepare(post()))
    messages.append(str(caught.value))
    a.close()
    a = BlueskyAdapter(settings_for(sandbox), kv)
    for kind, options in [("error", {"status": 503}), ("rate_limit", {}), ("drop", {})]:
        sandbox.app.inject("bluesky.repo.putRecord", kind, **options)
        with pytest.raises(PublishError) as caught:
            a.publish(post(), a.prepare(post()))
        messages.append(str(caught.value))
    with pytest.raises(PublishError) as caught:
        a.publish(post("x" * 400), a.prepare(post()))
    messages.append(str(caught.value))
    a.close()
    from atproto_client.exceptions import UnauthorizedError
    from atproto_client.models.common import XrpcError
    from atproto_client.request import Response

    echoed = UnauthorizedError(
        Response(
            False,
            401,
            XrpcError(
                error="AuthenticationRequired", message=f"no account {HANDLE} with password {PASSWORD}"
            ),
            {},
        )
    )
    messages.append(str(translate_error(echoed, a.settings.secrets)))
    for message in messages:
        # The handle is public (it is in every post URL); the passwords are the secrets.
        for secret in (PASSWORD, "not-the-pass-word"):
            assert secret not in message, message


# --- the mapping table is complete -----------------------------------------------------------------
def _instances(cls: type[BaseException]) -> list[BaseException]:
    """Instances of an SDK exception class: with and without an HTTP response where it takes one."""
    from atproto_client.exceptions import RequestErrorBase
    from atproto_client.models.common import XrpcError
    from atproto_client.request import Response

    if issubclass(cls, RequestErrorBase):
        out: list[BaseException] = [cls()]
        for status in (400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504):
            out.append(
                cls(Response(False, status, XrpcError(error="E", message="m"), {"ratelimit-reset": "1"}))
            )
        return out
    try:
        return [cls("boom")]
    except TypeError:
        return [cls()]  # type: ignore[call-arg]


def test_every_sdk_exception_is_mapped() -> None:
    """Every exception class atproto exports (atproto.exceptions) and every httpx error → a PublishError."""
    import atproto.exceptions

    classes = [
        c for _, c in inspect.getmembers(atproto.exceptions, inspect.isclass) if issubclass(c, BaseException)
    ]
    assert len(classes) > 30
    for cls in classes:
        for exc in _instances(cls):
            assert isinstance(translate_error(exc), PublishError), cls
    httpx_classes = [
        c
        for _, c in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(c, httpx.HTTPError | httpx.InvalidURL | httpx.StreamError)
    ]
    assert len(httpx_classes) > 15
    for cls in httpx_classes:
        request = httpx.Request("GET", "http://x")
        if cls is httpx.HTTPStatusError:
            exc: Exception = cls("x", request=request, response=httpx.Response(500, request=request))
        else:
            try:
                exc = cls("x")
            except TypeError:
                exc = cls()
        assert isinstance(translate_error(exc), PublishError), cls
    assert isinstance(translate_error(ValueError("surprise")), Permanent)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, Permanent),
        (401, Permanent),
        (403, Permanent),
        (404, Permanent),
        (409, Transient),
        (413, Permanent),
        (429, RateLimited),
        (500, Transient),
        (502, Transient),
        (503, Transient),
        (504, Ambiguous),
    ],
)
def test_status_mapping(status: int, expected: type[PublishError]) -> None:
    """Each HTTP status the SDK can raise for lands where DESIGN.md says."""
    from atproto_client.request import _handle_response

    response = httpx.Response(
        status,
        json={"error": "E", "message": f"said {status}"},
        headers={"ratelimit-reset": str(int(time.time()) + 60)},
    )
    with pytest.raises(Exception) as caught:
        _handle_response(response)
    error = translate_error(caught.value)
    assert type(error) is expected and f"said {status}" in str(error) and error.status == status


def test_published_record_is_json_the_sandbox_stored(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """The sandbox keeps exactly the record the adapter sent (id, text and the whole record)."""
    ref = adapter.publish(post("stored as sent"), adapter.prepare(post()))
    (stored,) = sandbox.app.posts("bluesky")
    sent = put_bodies(sandbox)[0]["record"]
    assert stored["record"] == json.loads(json.dumps(sent)) and stored["id"] == ref.id


def test_request_log_has_auth_header(adapter: BlueskyAdapter, sandbox: Sandbox) -> None:
    """Writes carry the session's bearer token (and a timeout-bound client: settings.timeout)."""
    adapter.publish(post(), adapter.prepare(post()))
    put: Request = sandbox.app.received("bluesky.repo.putRecord")[0]
    assert put.header("authorization").startswith("Bearer ey")
    assert adapter._client is not None and adapter._client.request._client.timeout.read == 5.0
