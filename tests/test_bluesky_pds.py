"""The Bluesky adapter against a real PDS (@atproto/pds 0.4.217 on 127.0.0.1), read back with getRecord.

Also checks the sandbox against the real server: the same invalid records get the same answers.
"""

# ruff: noqa: F811  (pytest fixtures named like the imported `pds` fixture)
from __future__ import annotations

import json
import struct
import threading
import urllib.parse
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from adapters.base import AccountSettings, LinkCard, PostRef, PostRequest
from adapters.bluesky import BlueskyAdapter, new_tid
from bot.errors import Permanent
from bot.sandbox import Sandbox, credentials
from tests.conftest import MemoryKV, image_at
from tests.pds_harness import LocalPDS, pds  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.pds

POST = "app.bsky.feed.post"
LINK = "https://example.com/articles/caf%C3%A9?ref=crosspost"


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\x10\x60\xa0" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def images() -> Iterator[str]:
    """A local http.server on 127.0.0.1 serving /thumb.png and /photo.png; yields its base URL."""
    files = {"/thumb.png": png(8, 4), "/photo.png": png(5, 5)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/png" if body else "text/plain")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def account(pds: LocalPDS) -> tuple[str, str, str]:
    handle, password, did = pds.create_account("cp")
    return handle, password, did


def make_adapter(pds: LocalPDS, handle: str, password: str, kv: MemoryKV | None = None) -> BlueskyAdapter:
    settings = AccountSettings(
        platform="bluesky",
        credentials={"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": password},
        base_url=pds.url,
        timeout=20,
        allow_private_network=True,
    )
    return BlueskyAdapter(settings, kv or MemoryKV())


@pytest.fixture
def adapter(pds: LocalPDS, account: tuple[str, str, str]) -> Iterator[BlueskyAdapter]:
    a = make_adapter(pds, account[0], account[1])
    yield a
    a.close()


def get_record(server: LocalPDS, uri: str) -> dict[str, Any]:
    """What the PDS stored at an at:// URI (raw JSON from com.atproto.repo.getRecord)."""
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    query = urllib.parse.urlencode({"repo": repo, "collection": collection, "rkey": rkey})
    answer = httpx.get(f"{server.url}/xrpc/com.atproto.repo.getRecord?{query}", timeout=20)
    record: dict[str, Any] = answer.json()
    return record


def facets_for(text: str, shown: str, uri: str, tags: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    start = len(text[: text.index(shown)].encode())
    facets = [
        {
            "index": {"byteStart": start, "byteEnd": start + len(shown.encode())},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
        }
    ]
    for tag in tags:
        at = len(text[: text.index("#" + tag)].encode())
        facets.append(
            {
                "index": {"byteStart": at, "byteEnd": at + len(("#" + tag).encode())},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    return tuple(facets)


KEPT_TYPES = {
    "app.bsky.richtext.facet#link",
    "app.bsky.richtext.facet#tag",
    "app.bsky.richtext.facet#mention",
}


def strip_types(value: Any) -> Any:
    """Drop the SDK's ``$type`` markers of plain nested objects (byteSlice, facet…), keep the features'."""
    if isinstance(value, dict):
        return {k: strip_types(v) for k, v in value.items() if k != "$type" or v in KEPT_TYPES}
    if isinstance(value, list):
        return [strip_types(v) for v in value]
    return value


def test_text_with_link_and_tag_facets(
    pds: LocalPDS, adapter: BlueskyAdapter, account: tuple[str, ...]
) -> None:
    """Text, UTF-8 byte facets (link + tags), langs and record tags come back from the PDS exactly."""
    shown = "example.com/articles/café…"
    text = f"Crème brûlée → {shown} #Café #test"
    facets = facets_for(text, shown, LINK, ("Café", "test"))
    request = PostRequest(text=text, idempotency_key="k", lang="fr", facets=facets, tags=("Dessert", "Paris"))
    prepared = adapter.prepare(request)
    ref = adapter.publish(request, prepared)

    handle, _password, did = account
    assert ref.id == f"at://{did}/{POST}/{prepared['rkey']}"
    assert ref.url == f"https://bsky.app/profile/{handle}/post/{prepared['rkey']}"
    stored = get_record(pds, ref.id)
    assert stored["cid"] == ref.cid
    value = stored["value"]
    assert value["text"] == text and value["createdAt"] == prepared["createdAt"]
    assert value["langs"] == ["fr"] and value["tags"] == ["Dessert", "Paris"]
    assert strip_types(value["facets"]) == [dict(f) for f in facets]
    assert text.encode()[facets[0]["index"]["byteStart"] : facets[0]["index"]["byteEnd"]].decode() == shown


def test_link_card_with_thumbnail(pds: LocalPDS, adapter: BlueskyAdapter, images: str) -> None:
    """The card is an app.bsky.embed.external whose thumb is a blob the PDS accepted (image/png, its size)."""
    thumb_url = f"{images}/thumb.png"
    card = LinkCard(LINK, "Crème brûlée", "How to make it", thumb_url, thumb=image_at("bluesky", thumb_url))
    request = PostRequest(text="Read this", idempotency_key="k", card=card)
    ref = adapter.publish(request, adapter.prepare(request))
    embed = get_record(pds, ref.id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    external = embed["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        LINK,
        card.title,
        card.description,
    )
    thumb = external["thumb"]
    assert thumb["$type"] == "blob" and thumb["mimeType"] == "image/png" and thumb["size"] == len(png(8, 4))
    assert thumb["ref"]["$link"].startswith("bafkrei")


def test_image_with_alt_text(pds: LocalPDS, adapter: BlueskyAdapter, images: str) -> None:
    """An image embed with alt text is stored as written."""
    request = PostRequest(
        text="Look", idempotency_key="k", image=image_at("bluesky", f"{images}/photo.png", "A square")
    )
    ref = adapter.publish(request, adapter.prepare(request))
    (image,) = get_record(pds, ref.id)["value"]["embed"]["images"]
    assert image["alt"] == "A square" and image["image"]["size"] == len(png(5, 5))


def test_thread_of_three(pds: LocalPDS, adapter: BlueskyAdapter) -> None:
    """Parts 2 and 3 carry reply refs: root = part 1, parent = the previous part (uri + cid)."""
    refs: list[PostRef] = []
    for i in range(3):
        request = PostRequest(
            text=f"{i + 1}/3",
            idempotency_key=f"k{i}",
            lang="en",
            reply_to=refs[-1] if refs else None,
            thread_root=refs[0] if refs else None,
        )
        refs.append(adapter.publish(request, adapter.prepare(request)))
    assert "reply" not in get_record(pds, refs[0].id)["value"]
    for i in (1, 2):
        reply = get_record(pds, refs[i].id)["value"]["reply"]
        assert (reply["root"]["uri"], reply["root"]["cid"]) == (refs[0].id, refs[0].cid)
        assert (reply["parent"]["uri"], reply["parent"]["cid"]) == (refs[i - 1].id, refs[i - 1].cid)


def latest_rev(pds: LocalPDS, did: str) -> str:
    answer = httpx.get(f"{pds.url}/xrpc/com.atproto.sync.getLatestCommit", params={"did": did}, timeout=20)
    rev: str = answer.json()["rev"]
    return rev


def list_posts(pds: LocalPDS, did: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{pds.url}/xrpc/com.atproto.repo.listRecords",
        params={"repo": did, "collection": POST, "limit": 100},
        timeout=20,
    )
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


def test_retried_publish_makes_one_record_and_no_commit(
    pds: LocalPDS,
    adapter: BlueskyAdapter,
    account: tuple[str, ...],
    images: str,
) -> None:
    """Publishing twice with the same prepared (a retry): same uri/cid, one record, no second commit."""
    did = account[2]
    card = LinkCard(LINK, "T", "D", f"{images}/thumb.png")
    request = PostRequest(
        text="exactly once #test",
        idempotency_key="k",
        lang="en",
        card=card,
        facets=facets_for("exactly once #test", "once", LINK, ("test",)),
    )
    prepared = adapter.prepare(request)
    first = adapter.publish(request, prepared)
    rev = latest_rev(pds, did)
    second = adapter.publish(request, prepared)
    assert second == first
    assert latest_rev(pds, did) == rev
    assert [r["uri"] for r in list_posts(pds, did)] == [first.id]
    assert adapter.reconcile(request, prepared) == first


def test_reconcile_before_any_write_finds_nothing(adapter: BlueskyAdapter) -> None:
    """reconcile() at an rkey nobody wrote: None (RecordNotFound), so sending is safe."""
    request = PostRequest(text="never sent", idempotency_key="k")
    assert adapter.reconcile(request, adapter.prepare(request)) is None


def test_delete(pds: LocalPDS, adapter: BlueskyAdapter, account: tuple[str, ...]) -> None:
    """delete() removes the record: getRecord answers RecordNotFound."""
    request = PostRequest(text="short-lived", idempotency_key="k")
    ref = adapter.publish(request, adapter.prepare(request))
    adapter.delete(ref)
    gone = get_record(pds, ref.id)
    assert gone["error"] == "RecordNotFound"
    assert list_posts(pds, account[2]) == []


def test_too_long_is_rejected_by_the_pds_and_permanent(
    pds: LocalPDS,
    adapter: BlueskyAdapter,
    account: tuple[str, ...],
) -> None:
    """301 graphemes: the PDS answers 400 and the adapter reports Permanent with the PDS's message."""
    text = "e\u0301" * 301
    session = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": account[0], "password": account[1]},
        timeout=20,
    ).json()
    raw = httpx.post(
        f"{pds.url}/xrpc/com.atproto.repo.putRecord",
        timeout=20,
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
        json={
            "repo": account[2],
            "collection": POST,
            "rkey": new_tid(),
            "record": {"$type": POST, "text": text, "createdAt": "2024-05-01T12:00:00.000Z"},
        },
    )
    assert raw.status_code == 400 and raw.json()["error"] == "InvalidRequest"
    request = PostRequest(text=text, idempotency_key="k")
    with pytest.raises(Permanent) as caught:
        adapter.publish(request, adapter.prepare(request))
    assert caught.value.status == 400
    assert raw.json()["message"] in str(caught.value)
    assert "grapheme too big (maximum 300, got 301)" in str(caught.value)


def test_stored_session_is_reused(pds: LocalPDS, account: tuple[str, ...]) -> None:
    """A second adapter sharing the kv posts without logging in: even a wrong password does not matter."""
    kv = MemoryKV()
    first = make_adapter(pds, account[0], account[1], kv)
    first.publish(
        PostRequest(text="one", idempotency_key="a"), first.prepare(PostRequest(text="", idempotency_key=""))
    )
    first.close()
    second = make_adapter(pds, account[0], "not-the-password", kv)
    ref = second.publish(
        PostRequest(text="two", idempotency_key="b"), second.prepare(PostRequest(text="", idempotency_key=""))
    )
    second.close()
    assert get_record(pds, ref.id)["value"]["text"] == "two"


# --- the sandbox answers like the PDS ---------------------------------------------------------------
INVALID_RECORDS: list[tuple[str, dict[str, Any]]] = [
    ("301 graphemes", {"text": "e\u0301" * 301}),
    ("3002 bytes", {"text": "é" * 1501}),
    ("no text", {"text": None}),
    ("bad datetime", {"createdAt": "yesterday"}),
    ("4 langs", {"langs": ["en", "de", "fr", "it"]}),
    ("bad lang", {"langs": ["en_US"]}),
    ("long bad lang", {"langs": ["ü" * 60]}),
    ("301 conjuncts", {"text": "स्ते" * 301}),  # one grapheme each since Unicode 15.1 (GB9c), as Node's ICU
    ("300 graphemes, 4250 bytes", {"text": "स्ते" * 250 + "👨‍👩‍👧‍👦" * 50}),
    ("300 graphemes, 2500 bytes", {"text": "स्ते" * 200 + "a" * 100}),  # accepted by both
    ("number as text", {"text": 5}),
    ("facets not a list", {"facets": "nope"}),
    ("image without blob", {"embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "a"}]}}),
    ("5 images", {"embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "a", "image": None}] * 5}}),
    ("9 tags", {"tags": ["a"] * 9}),
    ("long tag", {"tags": ["x" * 65]}),
    (
        "bad link",
        {
            "facets": [
                {
                    "index": {"byteStart": 0, "byteEnd": 2},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "notauri"}],
                }
            ]
        },
    ),
    ("negative index", {"facets": [{"index": {"byteStart": -1, "byteEnd": 2}, "features": []}]}),
    (
        "bad cid",
        {
            "reply": {
                "root": {"uri": "at://did:plc:aaa/app.bsky.feed.post/3k", "cid": "bafyreixx"},
                "parent": {"uri": "at://did:plc:aaa/app.bsky.feed.post/3k", "cid": "bafyreixx"},
            }
        },
    ),
    ("untyped embed", {"embed": {"external": {"uri": "https://e.com", "title": "t", "description": "d"}}}),
    (
        "card without description",
        {"embed": {"$type": "app.bsky.embed.external", "external": {"uri": "https://e.com", "title": "t"}}},
    ),
    (
        "thumb too big",
        {
            "embed": {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": "https://e.com",
                    "title": "t",
                    "description": "d",
                    "thumb": {
                        "$type": "blob",
                        "ref": {"$link": "bafkreifr76oi5i5hqc5nbgzunrbd2lioi2avsjuhtmmoqqozfa3wvfdgia"},
                        "mimeType": "image/png",
                        "size": 1_000_001,
                    },
                },
            }
        },
    ),
    (
        "image over 1,000,000 bytes",
        {
            "embed": {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "alt": "a",
                        "image": {
                            "$type": "blob",
                            "ref": {"$link": "bafkreifr76oi5i5hqc5nbgzunrbd2lioi2avsjuhtmmoqqozfa3wvfdgia"},
                            "mimeType": "image/png",
                            "size": 1_500_000,
                        },
                    }
                ],
            }
        },
    ),
    (
        "thumb never uploaded",
        {
            "embed": {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": "https://e.com",
                    "title": "t",
                    "description": "d",
                    "thumb": {
                        "$type": "blob",
                        "ref": {"$link": "bafkreifr76oi5i5hqc5nbgzunrbd2lioi2avsjuhtmmoqqozfa3wvfdgia"},
                        "mimeType": "image/png",
                        "size": 69,
                    },
                },
            }
        },
    ),
]


def xrpc_answers(base: str, identifier: str, password: str) -> dict[str, tuple[int, Any]]:
    """Send the same requests to a server; collect (status, error body) per case."""
    with httpx.Client(base_url=f"{base}/xrpc/", timeout=20) as http:
        session = http.post(
            "com.atproto.server.createSession", json={"identifier": identifier, "password": password}
        ).json()
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        did = session["did"]

        def put(
            record: dict[str, Any], rkey: str, nsid: str = "com.atproto.repo.putRecord"
        ) -> httpx.Response:
            body = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
            return http.post(nsid, headers=auth, json=body)

        out: dict[str, tuple[int, Any]] = {}
        for name, change in INVALID_RECORDS:
            record = {"$type": POST, "text": "hello", "createdAt": "2024-05-01T12:00:00.000Z", **change}
            record = {k: v for k, v in record.items() if v is not None}
            answer = put(record, new_tid())
            out[name] = (answer.status_code, "ok" if answer.is_success else answer.json())
        answer = put({"$type": POST, "text": "x", "createdAt": "2024-05-01T12:00:00.000Z"}, "abc")
        out["rkey not a TID"] = (answer.status_code, answer.json())
        rkey = new_tid()
        good = {"$type": POST, "text": "twice", "createdAt": "2024-05-01T12:00:00.000Z"}
        first = put(good, rkey, "com.atproto.repo.createRecord")
        out["create"] = (first.status_code, sorted(first.json()))
        again = put(good, rkey, "com.atproto.repo.createRecord")
        out["create again"] = (again.status_code, again.json())
        same = put(good, rkey)
        out["put identical"] = (same.status_code, sorted(same.json()))
        out["wrong password"] = (lambda r: (r.status_code, r.json()))(
            http.post(
                "com.atproto.server.createSession", json={"identifier": identifier, "password": "wrong"}
            )
        )
        missing = http.get(
            "com.atproto.repo.getRecord", params={"repo": did, "collection": POST, "rkey": new_tid()}
        )
        out["missing record"] = (missing.status_code, missing.json()["error"])
        out["no auth"] = (lambda r: (r.status_code, r.json()))(
            http.post("com.atproto.repo.putRecord", json={})
        )
        return out


def test_sandbox_answers_like_the_pds(pds: LocalPDS, account: tuple[str, ...]) -> None:
    """The same invalid records, duplicate creates, identical puts and auth failures: identical answers."""
    real = xrpc_answers(pds.url, account[0], account[1])
    with Sandbox() as sandbox:
        emulated = xrpc_answers(
            sandbox.url, credentials()["BLUESKY_HANDLE"], credentials()["BLUESKY_APP_PASSWORD"]
        )
    assert real["create again"] == (500, {"error": "InternalServerError", "message": "Internal Server Error"})
    assert real["put identical"] == (200, ["cid", "uri", "validationStatus"])  # no "commit": nothing written
    assert real["rkey not a TID"][0] == 400 and real["3002 bytes"][0] == 400
    assert real["300 graphemes, 2500 bytes"] == (200, "ok") and real["301 conjuncts"][0] == 400
    assert "blob too big (maximum 1000000, got 1500000)" in real["image over 1,000,000 bytes"][1]["message"]
    mismatches = {name: (real[name], emulated.get(name)) for name in real if real[name] != emulated.get(name)}
    assert mismatches == {}, json.dumps(mismatches, indent=1, ensure_ascii=False)


def test_a_mention_facet_only_for_a_handle_that_resolves(
    pds: LocalPDS, account: tuple[str, ...], tmp_path: Any
) -> None:
    """The publisher asks the real PDS (resolveHandle): a real handle gets a mention facet with its DID,
    an unknown one (of the PDS's own domain, and of another one) stays plain text."""
    from bot.article import Article
    from bot.config import load_settings
    from bot.publish import PUBLISHED, Publisher
    from bot.store import connect

    handle, password, _ = account
    friend, _, friend_did = pds.create_account("friend")
    nobody = f"nobody{new_tid()[-6:]}.test"
    env = {
        "BLUESKY_HANDLE": handle,
        "BLUESKY_APP_PASSWORD": password,
        "BLUESKY_SERVICE_URL": pds.url,
        "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    settings = load_settings(env=env, load_dotenv=False)
    store = connect(settings.database_url)
    try:
        article = Article(
            title="Review",
            url="https://news.example.com/2026/review",
            summary=f"Thanks @{friend} and @{nobody} and @someone.bsky.social for the review.",
        )
        (result,) = Publisher(settings, store, backoff=0.01).publish(article, settings.accounts_for(("bluesky",)))
    finally:
        store.close()
    assert result.status == PUBLISHED, result.error
    record = get_record(pds, result.posts[0].id)["value"]
    raw = record["text"].encode("utf-8")
    mentions = {
        raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"): x["did"]
        for f in record["facets"]
        for x in f["features"]
        if x["$type"] == "app.bsky.richtext.facet#mention"
    }
    assert mentions == {f"@{friend}": friend_did}
    assert f"@{nobody}" in record["text"] and "@someone.bsky.social" in record["text"]
