"""The sandbox's Bluesky PDS hit with plain HTTP: sessions, validation with the PDS's words, records, limits.

The expected messages are what @atproto/pds 0.4.217 answered to the same requests (tests/test_bluesky_pds.py
checks the important ones against the real server).
"""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, credentials
from bot.sandbox import bluesky as sandbox_bluesky
from bot.sandbox.core import SandboxApp, SandboxServer

HANDLE = credentials()["BLUESKY_HANDLE"]
PASSWORD = credentials()["BLUESKY_APP_PASSWORD"]
POST = "app.bsky.feed.post"
RKEY = "3kabcdefghij2"
CREATED = "2024-05-01T12:00:00.000Z"


def tiny_png() -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x01\x02\x03"))
        + chunk(b"IEND", b"")
    )


class PDS:
    """A tiny XRPC client over httpx for the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=sandbox.url + "/xrpc/", timeout=5)
        self.token = ""
        self.did = ""

    def login(self, identifier: str = HANDLE, password: str = PASSWORD) -> dict[str, Any]:
        answer = self.post(
            "com.atproto.server.createSession", {"identifier": identifier, "password": password}
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        self.token, self.did = body["accessJwt"], body["did"]
        return body

    def post(self, nsid: str, body: Any = None, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        bearer = self.token if token is None else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if body is not None and "content" not in kw:
            kw["json"] = body
        return self.http.post(nsid, headers=headers, **kw)

    def get(self, nsid: str, **params: str) -> httpx.Response:
        return self.http.get(nsid, params=params)

    def put(self, record: dict[str, Any], rkey: str = RKEY) -> httpx.Response:
        return self.post(
            "com.atproto.repo.putRecord",
            {"repo": self.did, "collection": POST, "rkey": rkey, "record": record},
        )

    def create(self, record: dict[str, Any], rkey: str | None = RKEY) -> httpx.Response:
        body = {"repo": self.did, "collection": POST, "record": record, **({"rkey": rkey} if rkey else {})}
        return self.post("com.atproto.repo.createRecord", body)


@pytest.fixture
def pds(sandbox: Sandbox) -> Iterator[PDS]:
    client = PDS(sandbox)
    yield client
    client.http.close()


def rec(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"$type": POST, "text": text, "createdAt": CREATED, **extra}


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["message"]


def invalid(message: str) -> tuple[int, str, str]:
    return 400, "InvalidRequest", f"Invalid {POST} record: {message}"


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _sig = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(head), decode(body)


# --- sessions ----------------------------------------------------------------------------------------
def test_create_session_tokens_look_like_the_pds(pds: PDS, sandbox: Sandbox) -> None:
    """Three-part HS256 JWTs: at+jwt for 2 h and refresh+jwt for 90 d, with the account's DID as sub."""
    body = pds.login()
    assert body["handle"] == HANDLE and body["did"].startswith("did:plc:") and len(body["did"]) == 32
    head, payload = jwt_parts(body["accessJwt"])
    assert head == {"typ": "at+jwt", "alg": "HS256"} and payload["sub"] == body["did"]
    assert payload["scope"] == "com.atproto.appPass" and abs(payload["exp"] - time.time() - 7200) < 5
    head, payload = jwt_parts(body["refreshJwt"])
    assert head["typ"] == "refresh+jwt" and payload["scope"] == "com.atproto.refresh" and payload["jti"]
    assert abs(payload["exp"] - time.time() - 90 * 86400) < 5
    service = body["didDoc"]["service"][0]
    assert service["id"] == "#atproto_pds" and service["serviceEndpoint"] == sandbox.url


def test_login_by_email_or_did_and_wrong_password(pds: PDS) -> None:
    """Handle, e-mail or DID log in; a wrong password is 401 with the PDS's words."""
    did = pds.login()["did"]
    assert pds.login(did)["did"] == did
    assert pds.login(HANDLE.upper())["did"] == did
    assert pds.login("crosspost@sandbox.test")["did"] == did
    wrong = pds.post("com.atproto.server.createSession", {"identifier": HANDLE, "password": "nope"}, token="")
    assert error(wrong) == (401, "AuthenticationRequired", "Invalid identifier or password")
    unknown = pds.post(
        "com.atproto.server.createSession", {"identifier": "who.test", "password": PASSWORD}, token=""
    )
    assert error(unknown)[0] == 401


def test_auth_errors(pds: PDS, sandbox: Sandbox) -> None:
    """No token → 401 AuthMissing; a forged one → 400 InvalidToken; an expired one → 400 ExpiredToken."""
    pds.login()
    assert error(pds.post("com.atproto.repo.putRecord", {}, token="")) == (
        401,
        "AuthMissing",
        "Authentication Required",
    )
    forged = pds.token[:-4] + ("AAAA" if not pds.token.endswith("AAAA") else "BBBB")
    assert error(
        pds.http.get("com.atproto.server.getSession", headers={"Authorization": f"Bearer {forged}"})
    ) == (400, "InvalidToken", "Token could not be verified")
    assert error(pds.http.get("com.atproto.server.getSession", headers={"Authorization": "Bearer"})) == (
        400,
        "InvalidToken",
        "Malformed authorization header",
    )
    sandbox.app.state["bluesky"]["access_ttl"] = 0
    pds.login()
    assert error(pds.put(rec())) == (400, "ExpiredToken", "Token has expired")


def test_get_session_with_an_access_token(pds: PDS) -> None:
    """getSession answers who the token belongs to."""
    body = pds.login()
    answer = pds.http.get("com.atproto.server.getSession", headers={"Authorization": f"Bearer {pds.token}"})
    assert answer.status_code == 200 and answer.json()["did"] == body["did"]


def test_refresh_session_rotation_and_revocation(pds: PDS, sandbox: Sandbox) -> None:
    """refreshSession wants the refresh token, issues a new pair; a revoked one → ExpiredToken."""
    body = pds.login()
    assert error(pds.post("com.atproto.server.refreshSession", token=body["accessJwt"])) == (
        400,
        "InvalidToken",
        "Invalid token type",
    )
    fresh = pds.post("com.atproto.server.refreshSession", token=body["refreshJwt"])
    assert fresh.status_code == 200 and fresh.json()["refreshJwt"] != body["refreshJwt"]
    again = pds.post("com.atproto.server.refreshSession", token=body["refreshJwt"])  # within the grace period
    assert again.status_code == 200
    for token in sandbox.app.state["bluesky"]["refresh_tokens"].values():
        token["revoked"] = True
    assert error(pds.post("com.atproto.server.refreshSession", token=fresh.json()["refreshJwt"])) == (
        400,
        "ExpiredToken",
        "Token has been revoked",
    )


# --- records -----------------------------------------------------------------------------------------
def test_put_record_creates_then_is_idempotent_then_edits(pds: PDS, sandbox: Sandbox) -> None:
    """putRecord: new rkey → created with a commit; identical → same uri/cid, no commit; different → edit."""
    pds.login()
    first = pds.put(rec("one"))
    assert first.status_code == 200 and "commit" in first.json()
    uri, cid = first.json()["uri"], first.json()["cid"]
    assert uri == f"at://{pds.did}/{POST}/{RKEY}" and cid.startswith("bafyrei") and len(cid) == 59
    same = pds.put(rec("one"))
    assert same.json() == {"uri": uri, "cid": cid, "validationStatus": "valid"}
    (stored,) = sandbox.app.posts("bluesky")
    assert stored["edits"] == 0 and stored["id"] == uri and stored["text"] == "one"
    edited = pds.put(rec("two"))
    assert edited.json()["uri"] == uri and edited.json()["cid"] != cid
    (stored,) = sandbox.app.posts("bluesky")
    assert stored["edits"] == 1 and stored["text"] == "two"
    got = pds.get("com.atproto.repo.getRecord", repo=pds.did, collection=POST, rkey=RKEY)
    assert got.json() == {"uri": uri, "cid": edited.json()["cid"], "value": rec("two")}


def test_create_record_with_an_existing_rkey_is_an_opaque_500(pds: PDS, sandbox: Sandbox) -> None:
    """As on the real PDS: a second createRecord at one rkey is an opaque 500, no second post."""
    pds.login()
    assert pds.create(rec()).status_code == 200
    assert error(pds.create(rec())) == (500, "InternalServerError", "Internal Server Error")
    assert len(sandbox.app.posts("bluesky")) == 1
    generated = pds.create(rec("no rkey"), rkey=None)
    assert generated.status_code == 200 and generated.json()["uri"] != f"at://{pds.did}/{POST}/{RKEY}"


def test_rkey_must_be_a_tid(pds: PDS) -> None:
    """A post's record key must be a TID; a key that is no record key at all has its own message."""
    pds.login()
    assert error(pds.put(rec(), rkey="abc")) == (
        400,
        "InvalidRequest",
        f'Invalid record key for {POST}: Invalid TID string (got "abc") at $',
    )
    assert error(pds.put(rec(), rkey="..")) == (400, "InvalidRequest", "Invalid record key: ..")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (rec("e\u0301" * 301), "grapheme too big (maximum 300, got 301) at $.record.text"),
        (rec("é" * 1501), "string too big (maximum 3000, got 3002) at $.record.text"),
        ({"$type": POST, "createdAt": CREATED}, 'Missing required key "text" at $.record'),
        (rec(createdAt="yesterday"), 'Invalid datetime (got "yesterday") at $.record.createdAt'),
        (
            rec(createdAt="2024-05-01T12:00:00"),
            'Invalid datetime (got "2024-05-01T12:00:00") at $.record.createdAt',
        ),
        (rec(langs=["en", "de", "fr", "it"]), "array too big (maximum 3, got 4) at $.record.langs"),
        (rec(langs=["en_US"]), 'Invalid language (got "en_US") at $.record.langs[0]'),
        (rec(tags=["a"] * 9), "array too big (maximum 8, got 9) at $.record.tags"),
        (rec(tags=["x" * 65]), "grapheme too big (maximum 64, got 65) at $.record.tags[0]"),
        (
            rec(
                facets=[
                    {
                        "index": {"byteStart": 0, "byteEnd": 5},
                        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "notauri"}],
                    }
                ]
            ),
            'Invalid uri (got "notauri") at $.record.facets[0].features[0].uri',
        ),
        (
            rec(facets=[{"index": {"byteStart": -1, "byteEnd": 2}, "features": []}]),
            "integer too small (minimum 0, got -1) at $.record.facets[0].index.byteStart",
        ),
        (
            rec(facets=[{"index": {"byteStart": 0, "byteEnd": 6}, "features": []}]),
            "facet byte range 0-6 is not inside the text (5 bytes) at $.record.facets[0].index"
            " (sandbox check)",
        ),
        (
            rec(
                facets=[
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "t" * 65}],
                    }
                ]
            ),
            "grapheme too big (maximum 64, got 65) at $.record.facets[0].features[0].tag",
        ),
        (
            rec(
                reply={
                    "root": {"uri": "at://did:plc:aaa/app.bsky.feed.post/3k", "cid": "bafyreixx"},
                    "parent": {"uri": "x", "cid": "y"},
                }
            ),
            'Invalid CID string (got "bafyreixx") at $.record.reply.root.cid',
        ),
        (
            rec(embed={"external": {"uri": "https://e.com", "title": "t", "description": "d"}}),
            'Expected an object which includes the "$type" property value type (got {"external": ...})'
            " at $.record.embed",
        ),
        (
            rec(
                embed={"$type": "app.bsky.embed.external", "external": {"uri": "https://e.com", "title": "t"}}
            ),
            'Missing required key "description" at $.record.embed.external',
        ),
    ],
)
def test_post_lexicon(pds: PDS, sandbox: Sandbox, record: dict[str, Any], message: str) -> None:
    """Records breaking app.bsky.feed.post: 400 InvalidRequest in the PDS's words; nothing stored."""
    pds.login()
    assert error(pds.put(record)) == invalid(message)
    assert sandbox.app.posts("bluesky") == []


def test_limits_are_inclusive(pds: PDS) -> None:
    """300 graphemes, 3000 bytes, 3 langs, 8 tags of 64 graphemes, a facet to the last byte: all accepted."""
    pds.login()
    text = "e\u0301" * 300
    ok = rec(
        text,
        langs=["en", "de", "pt-BR"],
        tags=["t" * 64] * 8,
        facets=[
            {
                "index": {"byteStart": 0, "byteEnd": len(text.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}, {"$type": "x.custom"}],
            }
        ],
    )
    assert pds.put(ok).status_code == 200
    assert (
        pds.put(rec("👨‍👩‍👧‍👦" * 120), rkey="3kabcdefghij3").status_code == 200
    )  # 120 graphemes, 3000 bytes
    assert error(pds.put(rec("👨‍👩‍👧‍👦" * 120 + "."), rkey="3kabcdefghij4")) == invalid(
        "string too big (maximum 3000, got 3001) at $.record.text"
    )


def test_reply_refs_must_exist_here(pds: PDS) -> None:
    """(Sandbox check) a reply must point at a record that exists here, with its current cid."""
    pds.login()
    root = pds.put(rec("root")).json()
    good = {
        "root": {"uri": root["uri"], "cid": root["cid"]},
        "parent": {"uri": root["uri"], "cid": root["cid"]},
    }
    assert pds.put(rec("reply", reply=good), rkey="3kabcdefghij3").status_code == 200
    gone = f"at://{pds.did}/{POST}/3kabcdefghij9"
    bad = {"root": good["root"], "parent": {"uri": gone, "cid": root["cid"]}}
    assert error(pds.put(rec("reply", reply=bad), rkey="3kabcdefghij4")) == invalid(
        f"reply parent {gone} does not exist at $.record.reply.parent (sandbox check)"
    )
    other_cid = pds.put(rec("root", langs=["en"]), rkey="3kabcdefghij5").json()["cid"]
    stale = {"root": {"uri": root["uri"], "cid": other_cid}, "parent": good["parent"]}
    assert error(pds.put(rec("reply", reply=stale), rkey="3kabcdefghij6"))[2].endswith(
        "at $.record.reply.root (sandbox check)"
    )


# --- blobs -------------------------------------------------------------------------------------------
def upload(pds: PDS, data: bytes, content_type: str = "*/*") -> dict[str, Any]:
    answer = pds.post("com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": content_type})
    assert answer.status_code == 200, answer.text
    blob: dict[str, Any] = answer.json()["blob"]
    return blob


def card(thumb: dict[str, Any] | None) -> dict[str, Any]:
    external = {"uri": "https://example.com/a", "title": "T", "description": "D"}
    return {
        "$type": "app.bsky.embed.external",
        "external": {**external, **({"thumb": thumb} if thumb else {})},
    }


def test_upload_blob_is_content_addressed_and_sniffed(pds: PDS) -> None:
    """Same bytes → same blob ref (bafkrei…); the MIME type comes from the bytes, not the header."""
    pds.login()
    first = upload(pds, tiny_png(), "*/*")
    again = upload(pds, tiny_png(), "application/octet-stream")
    assert first == again and first["ref"]["$link"].startswith("bafkrei") and first["mimeType"] == "image/png"
    assert first["$type"] == "blob" and first["size"] == len(tiny_png())
    assert upload(pds, b"plain words", "text/plain")["mimeType"] == "text/plain"


def test_embed_blobs_must_be_uploaded_images_within_the_limit(pds: PDS) -> None:
    """A card thumb that was never uploaded, too big, or not an image is refused like the PDS does."""
    pds.login()
    blob = upload(pds, tiny_png())
    assert pds.put(rec(embed=card(blob))).status_code == 200
    missing = {**blob, "ref": {"$link": "bafkreifr76oi5i5hqc5nbgzunrbd2lioi2avsjuhtmmoqqozfa3wvfdgia"}}
    assert error(pds.put(rec(embed=card(missing)), rkey="3kabcdefghij3")) == (
        400,
        "BlobNotFound",
        "Could not find blob: bafkreifr76oi5i5hqc5nbgzunrbd2lioi2avsjuhtmmoqqozfa3wvfdgia",
    )
    assert error(pds.put(rec(embed=card({**blob, "size": 1_000_001})), rkey="3kabcdefghij3")) == invalid(
        "blob too big (maximum 1000000, got 1000001) at $.record.embed.external.thumb"
    )
    text_blob = upload(pds, b"not an image", "text/plain")
    assert error(pds.put(rec(embed=card(text_blob)), rkey="3kabcdefghij3")) == invalid(
        'Expected "image/*" (got "text/plain") at $.record.embed.external.thumb.mimeType'
    )
    assert error(pds.put(rec(embed=card({**blob, "size": 5})), rkey="3kabcdefghij3")) == (
        400,
        "InvalidSize",
        f"Referenced Size does not match stored blob. Expected: {blob['size']}, Got: 5",
    )
    images = {"$type": "app.bsky.embed.images", "images": [{"alt": "a", "image": blob}] * 5}
    assert error(pds.put(rec(embed=images), rkey="3kabcdefghij3")) == invalid(
        "array too big (maximum 4, got 5) at $.record.embed.images"
    )


def test_upload_limit(pds: PDS) -> None:
    """Blobs over the upload limit are refused with 413."""
    pds.login()
    answer = pds.post("com.atproto.repo.uploadBlob", content=b"x" * (5 * 1024 * 1024 + 1))
    assert answer.status_code == 413 and answer.json()["error"] == "PayloadTooLarge"


# --- reads, deletes, profiles -----------------------------------------------------------------------
def test_get_and_delete_record(pds: PDS, sandbox: Sandbox) -> None:
    """getRecord of a missing rkey is 400 RecordNotFound; deleteRecord removes; deleting again is a no-op."""
    pds.login()
    missing = pds.get("com.atproto.repo.getRecord", repo=pds.did, collection=POST, rkey=RKEY)
    assert error(missing) == (400, "RecordNotFound", f"Could not locate record: at://{pds.did}/{POST}/{RKEY}")
    pds.put(rec())
    by_handle = pds.get("com.atproto.repo.getRecord", repo=HANDLE, collection=POST, rkey=RKEY)
    assert by_handle.status_code == 200 and by_handle.json()["value"]["text"] == "hello"
    gone = pds.post("com.atproto.repo.deleteRecord", {"repo": pds.did, "collection": POST, "rkey": RKEY})
    assert gone.status_code == 200 and "commit" in gone.json()
    assert sandbox.app.posts("bluesky") == [] and sandbox.app.state["bluesky"]["posts"][0]["deleted"] is True
    again = pds.post("com.atproto.repo.deleteRecord", {"repo": pds.did, "collection": POST, "rkey": RKEY})
    assert again.status_code == 200 and again.json() == {}


def test_writes_to_someone_elses_repo_are_refused(pds: PDS) -> None:
    """repo must be the token's own account; an unknown repo is 400."""
    pds.login()
    other = pds.post(
        "com.atproto.repo.putRecord",
        {"repo": "did:plc:someoneelse000000000000", "collection": POST, "rkey": RKEY, "record": rec()},
    )
    assert error(other) == (400, "InvalidRequest", "Could not find repo: did:plc:someoneelse000000000000")


def test_describe_repo_and_profile(pds: PDS) -> None:
    """describeRepo lists collections; getProfile answers (the AppView's part of bsky.social)."""
    pds.login()
    pds.put(rec())
    described = pds.get("com.atproto.repo.describeRepo", repo=HANDLE).json()
    assert described["did"] == pds.did and described["collections"] == [POST]
    profile = pds.get("app.bsky.actor.getProfile", actor=HANDLE).json()
    assert profile["handle"] == HANDLE and profile["postsCount"] == 1


def test_bare_pds_has_no_profile() -> None:
    """With appview=False getProfile is a 400, like a PDS without an AppView."""
    app = SandboxApp()
    sandbox_bluesky.register(app, credentials(), appview=False)
    server = SandboxServer(app)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/xrpc/app.bsky.actor.getProfile?actor={HANDLE}"
        answer = httpx.get(url, timeout=5)
        assert error(answer) == (400, "InvalidRequest", "No service configured for app.bsky.actor.getProfile")
    finally:
        server.shutdown()
        server.server_close()


def test_media_files(sandbox: Sandbox) -> None:
    """/bluesky-media/<name> serves what tests put in state["files"], 404 otherwise."""
    sandbox.app.state["bluesky"]["files"]["p.png"] = ("image/png", tiny_png())
    answer = httpx.get(f"{sandbox.url}/bluesky-media/p.png", timeout=5)
    assert answer.content == tiny_png() and answer.headers["content-type"] == "image/png"
    assert httpx.get(f"{sandbox.url}/bluesky-media/none.png", timeout=5).status_code == 404


# --- rate limits -------------------------------------------------------------------------------------
def test_rate_limit_headers_on_every_answer(pds: PDS, sandbox: Sandbox) -> None:
    """ratelimit-limit/-remaining/-reset (epoch)/-policy on successes and errors alike."""
    body = pds.login()
    answers = [
        pds.put(rec()),
        pds.put(rec(), rkey="bad"),
        pds.get("com.atproto.repo.getRecord", repo=body["did"], collection=POST, rkey=RKEY),
        pds.post("com.atproto.server.createSession", {"identifier": HANDLE, "password": "x"}, token=""),
    ]
    for answer in answers:
        headers = answer.headers
        assert int(headers["ratelimit-limit"]) > int(headers["ratelimit-remaining"]) >= 0, answer.request.url
        assert abs(int(headers["ratelimit-reset"]) - time.time()) < 3700
        assert headers["ratelimit-policy"].startswith(headers["ratelimit-limit"] + ";w=")


def test_quota_exhausted_is_429_with_the_reset(pds: PDS, sandbox: Sandbox) -> None:
    """A used-up bucket → 429 RateLimitExceeded "Rate Limit Exceeded" with the reset epoch."""
    pds.login()
    sandbox.app.set_quota("bluesky", "repo-write", 2, 60)
    assert pds.put(rec("1"), rkey="3kabcdefghij3").headers["ratelimit-remaining"] == "1"
    assert pds.put(rec("2"), rkey="3kabcdefghij4").headers["ratelimit-remaining"] == "0"
    refused = pds.put(rec("3"), rkey="3kabcdefghij5")
    assert error(refused) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
    quota = sandbox.app.quotas[("bluesky", "repo-write")]
    assert refused.headers["ratelimit-reset"] == str(int(quota.window_start + quota.window))
    assert refused.headers["ratelimit-policy"] == "2;w=60" and refused.headers["ratelimit-remaining"] == "0"
    assert len(sandbox.app.posts("bluesky")) == 2


def test_create_session_has_its_own_bucket(pds: PDS, sandbox: Sandbox) -> None:
    """createSession is limited apart from other calls (the PDS allows 30 per 5 minutes)."""
    sandbox.app.set_quota("bluesky", "createSession", 1, 300)
    pds.login()
    again = pds.post(
        "com.atproto.server.createSession", {"identifier": HANDLE, "password": PASSWORD}, token=""
    )
    assert error(again) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
    assert pds.put(rec()).status_code == 200


def test_injected_faults_use_xrpc_error_bodies(pds: PDS, sandbox: Sandbox) -> None:
    """An injected 503 has the XRPC error shape with the status's error name."""
    pds.login()
    sandbox.app.inject("bluesky.repo.putRecord", "error", status=503)
    assert error(pds.put(rec())) == (503, "NotEnoughResources", "Internal Server Error (injected)")


def test_missing_input_fields(pds: PDS) -> None:
    """A write without its required input fields is a 400."""
    pds.login()
    answer = pds.post("com.atproto.repo.putRecord", {"repo": pds.did, "collection": POST, "record": rec()})
    assert error(answer) == (400, "InvalidRequest", 'Missing required key "rkey" at $.input')
    assert error(pds.post("com.atproto.server.createSession", {"identifier": HANDLE}, token="")) == (
        400,
        "InvalidRequest",
        'Missing required key "password" at $.input',
    )
