"""The Mastodon sandbox on its own, hit with plain HTTP: validation, auth, idempotency, media, rate limits."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, credentials
from bot.sandbox import mastodon as sandbox_mastodon

TOKEN = credentials()["MASTODON_ACCESS_TOKEN"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(sandbox: Sandbox) -> Any:
    with httpx.Client(base_url=sandbox.url, timeout=5) as c:
        yield c


def post(
    client: httpx.Client, status: str, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    data: dict[str, Any] = {"status": status, **fields}
    return client.post("/api/v1/statuses", data=data, headers={**AUTH, **(headers or {})})


def upload(client: httpx.Client, data: bytes | None = None, description: str = "alt",
           content_type: str = "image/png") -> httpx.Response:
    payload = data if data is not None else sandbox_mastodon.sample_png()
    files = {"file": ("picture.png", payload, content_type)}
    return client.post("/api/v2/media", files=files, data={"description": description}, headers=AUTH)


def test_instance_v2_reports_the_configured_limits_without_auth(client: httpx.Client) -> None:
    """/api/v2/instance carries the version, max_characters, the URL weight and media limits."""
    body = client.get("/api/v2/instance/").json()
    assert body["version"] == "4.3.0"
    assert body["configuration"]["statuses"] == {
        "max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23}
    assert body["configuration"]["media_attachments"]["image_size_limit"] == 16 * 1024 * 1024
    assert body["api_versions"] == {"mastodon": 2}


def test_register_option_sets_max_characters_in_both_instance_endpoints() -> None:
    """register(max_characters=…) is what /api/v1 and /api/v2/instance report and what is enforced."""
    with Sandbox(options={"mastodon": {"max_characters": 1000}}) as sb, httpx.Client(base_url=sb.url) as c:
        assert c.get("/api/v2/instance").json()["configuration"]["statuses"]["max_characters"] == 1000
        assert c.get("/api/v1/instance").json()["configuration"]["statuses"]["max_characters"] == 1000
        assert post(c, "a" * 1000).status_code == 200
        refused = post(c, "a" * 1001).json()
        assert refused == {"error": "Validation failed: Text character limit of 1000 exceeded"}


def test_instance_v2_can_be_switched_off_like_an_old_server(sandbox: Sandbox, client: httpx.Client) -> None:
    """With instance_v2 off, /api/v2/instance is a 404 and v1 still answers."""
    sandbox.app.state["mastodon"]["config"]["instance_v2"] = False
    assert client.get("/api/v2/instance").status_code == 404
    assert client.get("/api/v1/instance").json()["version"] == "4.3.0"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}])
def test_missing_or_wrong_token_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    """No token, a wrong token or a token without 'Bearer' all get Mastodon's 401 body."""
    for response in (client.get("/api/v1/accounts/verify_credentials", headers=headers),
                     client.post("/api/v1/statuses", data={"status": "hi"}, headers=headers)):
        assert response.status_code == 401
        assert response.json() == {"error": "The access token is invalid"}
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_verify_credentials_returns_the_account(client: httpx.Client) -> None:
    """The token's account, with a source block as verify_credentials has."""
    body = client.get("/api/v1/accounts/verify_credentials", headers=AUTH).json()
    assert body["username"] == body["acct"] == "crosspost"
    assert body["source"]["privacy"] == "public"


def test_status_is_stored_and_rendered_as_html(sandbox: Sandbox, client: httpx.Client) -> None:
    """A status comes back as Mastodon's entity and is stored with what the request carried."""
    text = "Read this https://example.com/a/rather/long/path/to/an/article #OpenAI\nline two\n\nnext <b>"
    response = post(client, text, visibility="unlisted", language="de", spoiler_text="cw")
    assert response.status_code == 200
    body = response.json()
    host = httpx.URL(sandbox.url).netloc.decode()
    assert body["url"] == f"https://{host}/@crosspost/{body['id']}"
    assert body["id"].isdigit() and int(body["id"]) > 1 << 40  # snowflake-like
    assert body["visibility"] == "unlisted" and body["language"] == "de" and body["spoiler_text"] == "cw"
    assert body["sensitive"] is True  # a content warning makes the status sensitive
    assert body["content"].startswith("<p>Read this <a href=\"https://example.com/a/rather/long/path/to/an/article\"")
    assert '<span class="ellipsis">example.com/a/rather/long/path</span>' in body["content"]
    tail = 'class="mention hashtag" rel="tag">#<span>OpenAI</span></a><br />line two</p><p>next &lt;b&gt;</p>'
    assert body["content"].endswith(tail)
    assert body["tags"] == [{"name": "openai", "url": f"https://{host}/tags/openai"}]
    [stored] = sandbox.app.posts("mastodon")
    assert stored["id"] == body["id"] and stored["text"] == text and stored["language"] == "de"


def test_length_is_counted_like_mastodon(client: httpx.Client) -> None:
    """Graphemes, every URL as 23, @user@domain as @user, and the spoiler counted as written."""
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one grapheme
    assert post(client, family * 500).status_code == 200
    assert post(client, family * 501).status_code == 422
    conjunct = "\u0938\u094d\u0924\u0947"  # स्ते: two graphemes for Ruby 3.x (Unicode 15.0), as Mastodon
    assert post(client, conjunct * 250).status_code == 200
    assert post(client, conjunct * 250 + "a").status_code == 422
    url = "https://example.com/" + "x" * 200  # counts 23
    assert post(client, "a" * (500 - 24) + " " + url).status_code == 200
    assert post(client, "a" * (500 - 23) + " " + url).status_code == 422
    mention = "@someone@" + "d" * 100 + ".example"  # counts as @someone (9)
    assert post(client, "a" * (500 - 10) + " " + mention).status_code == 200
    assert post(client, "a" * 490, spoiler_text="b" * 10).status_code == 200
    spoiler_url = "https://example.com/" + "x" * 10  # 30 as written: no URL rule in the spoiler
    assert post(client, "a" * 470, spoiler_text=spoiler_url).status_code == 200
    assert post(client, "a" * 471, spoiler_text=spoiler_url).status_code == 422
    too_long = post(client, "a" * 490, spoiler_text="b" * 11)
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}


def test_invalid_statuses_are_refused_with_mastodons_messages(sandbox: Sandbox, client: httpx.Client) -> None:
    """Blank text, unknown parent, unknown visibility and unknown media are refused and create nothing."""
    assert post(client, "   ").json() == {"error": "Validation failed: Text can't be blank"}
    missing_parent = post(client, "reply", in_reply_to_id="1234")
    assert missing_parent.status_code == 404
    assert missing_parent.json() == {"error": "The post you are trying to reply to does not appear to exist."}
    assert post(client, "hi", visibility="everyone").json() == {
        "error": "Validation failed: Visibility is not included in the list"}
    unknown_media = post(client, "hi", **{"media_ids[]": ["42"]})
    assert unknown_media.status_code == 422
    assert unknown_media.json() == {"error": "Media 42 not found or already attached to another post"}
    assert sandbox.app.posts("mastodon") == []


def test_json_bodies_are_accepted_too(sandbox: Sandbox, client: httpx.Client) -> None:
    """Mastodon takes JSON as well as form bodies (Mastodon.py sends JSON for polls)."""
    first = client.post("/api/v1/statuses", json={"status": "one"}, headers=AUTH).json()
    second = {"status": "two", "in_reply_to_id": first["id"]}
    reply = client.post("/api/v1/statuses", json=second, headers=AUTH)
    assert reply.json()["in_reply_to_id"] == first["id"]
    assert reply.json()["in_reply_to_account_id"] == first["account"]["id"]


def test_idempotency_key_returns_the_first_status(sandbox: Sandbox, client: httpx.Client) -> None:
    """The same key from the same account gives back the original status, even with other text."""
    first = post(client, "original", headers={"Idempotency-Key": "k-1"})
    again = post(client, "something else", headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["content"] == "<p>original</p>"
    assert [p["text"] for p in sandbox.app.posts("mastodon")] == ["original"]
    other_key = post(client, "original", headers={"Idempotency-Key": "k-2"})
    assert other_key.json()["id"] != first.json()["id"]


def test_idempotency_is_per_account_and_expires(sandbox: Sandbox, client: httpx.Client) -> None:
    """Another account's key does not collide; after the window the key is forgotten."""
    sandbox_mastodon.add_account(sandbox.app, "second-token", "second")
    first = post(client, "mine", headers={"Idempotency-Key": "shared"}).json()
    theirs = client.post("/api/v1/statuses", data={"status": "theirs"},
                         headers={"Authorization": "Bearer second-token", "Idempotency-Key": "shared"}).json()
    assert theirs["id"] != first["id"] and theirs["account"]["username"] == "second"
    sandbox.app.state["mastodon"]["config"]["idempotency_ttl"] = 0.3
    short = post(client, "short-lived", headers={"Idempotency-Key": "short"}).json()
    time.sleep(0.4)
    assert post(client, "short-lived", headers={"Idempotency-Key": "short"}).json()["id"] != short["id"]


def test_a_refused_attempt_does_not_use_up_its_key(sandbox: Sandbox, client: httpx.Client) -> None:
    """Only successes are remembered: a 422 with a key, then a valid post with that key, creates it."""
    assert post(client, "a" * 501, headers={"Idempotency-Key": "k"}).status_code == 422
    assert post(client, "fits", headers={"Idempotency-Key": "k"}).status_code == 200
    assert [p["text"] for p in sandbox.app.posts("mastodon")] == ["fits"]


def test_a_deleted_status_is_gone(sandbox: Sandbox, client: httpx.Client) -> None:
    """DELETE returns the status with its source text; afterwards it is 404 and marked deleted."""
    status = post(client, "short-lived").json()
    deleted = client.delete(f"/api/v1/statuses/{status['id']}", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["text"] == "short-lived"
    assert client.get(f"/api/v1/statuses/{status['id']}").json() == {"error": "Record not found"}
    assert sandbox.app.posts("mastodon") == []
    assert sandbox.app.state["mastodon"]["posts"][0]["deleted"] is True
    assert client.delete(f"/api/v1/statuses/{status['id']}", headers=AUTH).status_code == 404


def test_account_statuses_page_newest_first(client: httpx.Client) -> None:
    """limit, max_id and the Link header page through the account's statuses, newest first."""
    ids = [post(client, f"status {i}").json()["id"] for i in range(5)]
    account = client.get("/api/v1/accounts/verify_credentials", headers=AUTH).json()["id"]
    page = client.get(f"/api/v1/accounts/{account}/statuses", params={"limit": 2}, headers=AUTH)
    assert [s["id"] for s in page.json()] == [ids[4], ids[3]]
    assert f"max_id={ids[3]}" in page.headers["Link"]
    older = client.get(f"/api/v1/accounts/{account}/statuses", params={"limit": 40, "max_id": ids[3]})
    assert [s["id"] for s in older.json()] == [ids[2], ids[1], ids[0]]
    assert client.get("/api/v1/accounts/999/statuses").status_code == 404


def test_media_is_processed_asynchronously(sandbox: Sandbox, client: httpx.Client) -> None:
    """202 with url null, 206 while processing, then 200; attaching too early is refused."""
    created = upload(client, description="A red square")
    assert created.status_code == 202
    media = created.json()
    assert media["url"] is None and media["type"] == "image" and media["description"] == "A red square"
    assert media["meta"]["original"]["width"] == 4
    too_early = post(client, "", **{"media_ids[]": [media["id"]]})
    assert too_early.status_code == 422
    assert too_early.json() == {
        "error": "Cannot attach files that have not finished processing. Try again in a moment!"}
    assert client.get(f"/api/v1/media/{media['id']}", headers=AUTH).status_code == 206
    done = client.get(f"/api/v1/media/{media['id']}", headers=AUTH)
    assert done.status_code == 200 and done.json()["url"].endswith(".png")
    assert client.get(done.json()["url"]).content == sandbox_mastodon.sample_png()
    status = post(client, "", **{"media_ids[]": [media["id"]]})  # media alone: no text needed
    assert status.status_code == 200
    assert status.json()["media_attachments"][0]["description"] == "A red square"
    assert client.get(f"/api/v1/media/{media['id']}", headers=AUTH).status_code == 404  # attached now
    reuse = post(client, "again", **{"media_ids[]": [media["id"]]})
    assert reuse.status_code == 422


def test_media_uploads_are_validated(client: httpx.Client) -> None:
    """A file that is not the image it claims, or an over-long description, is refused."""
    fake = upload(client, data=b"not a png at all")
    assert fake.status_code == 422
    assert fake.json() == {"error": "Validation failed: File content type is invalid, File is invalid"}
    long_alt = upload(client, description="x" * 1501)
    assert long_alt.json() == {
        "error": "Validation failed: Description is too long (maximum is 1500 characters)"}
    assert upload(client, description="x" * 1500).status_code == 202


def test_every_api_answer_has_rate_limit_headers(client: httpx.Client) -> None:
    """X-RateLimit-Limit/Remaining/Reset (ISO 8601, UTC, in the future) on reads and writes alike."""
    for response in (client.get("/api/v2/instance"), post(client, "hello"), upload(client)):
        assert int(response.headers["X-RateLimit-Limit"]) > 0
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0
        reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        assert reset.tzinfo is not None and reset > datetime.now(UTC)


def test_statuses_quota_gives_429_and_media_has_its_own(sandbox: Sandbox, client: httpx.Client) -> None:
    """A tight statuses bucket answers 429 'Too many requests' with reset headers; media still work."""
    sandbox.app.set_quota("mastodon", "statuses", 2, 60)
    first, second, third = (post(client, f"post {i}") for i in range(3))
    assert first.headers["X-RateLimit-Remaining"] == "1" and second.headers["X-RateLimit-Remaining"] == "0"
    assert third.status_code == 429
    assert third.json() == {"error": "Too many requests"}
    assert third.headers["X-RateLimit-Limit"] == "2" and third.headers["X-RateLimit-Remaining"] == "0"
    reset = datetime.fromisoformat(third.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert 50 < (reset - datetime.now(UTC)).total_seconds() <= 60
    assert len(sandbox.app.posts("mastodon")) == 2
    assert upload(client).status_code == 202


def test_injected_faults_use_the_endpoint_names(sandbox: Sandbox, client: httpx.Client) -> None:
    """'mastodon.statuses.create' faults answer in Mastodon's error shape and create nothing."""
    sandbox.app.inject("mastodon.statuses.create", "error", status=503)
    failed = post(client, "hello")
    assert failed.status_code == 503 and "error" in failed.json()
    sandbox.app.inject("mastodon.statuses.create", "rate_limit", reset_in=30)
    limited = post(client, "hello")
    assert limited.status_code == 429 and limited.json() == {"error": "Too many requests"}
    assert sandbox.app.posts("mastodon") == []
    assert [r.endpoint for r in sandbox.app.received("mastodon.*")] == ["mastodon.statuses.create"] * 2
