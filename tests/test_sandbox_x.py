"""The X sandbox's own behaviour, hit with plain HTTP (httpx) and OAuth 1.0a signed by oauthlib.

oauthlib signs here and the sandbox verifies with its own stdlib code, so these tests also check that the
two agree on RFC 5849 (and that the sandbox refuses what X refuses).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuthClient

from bot.sandbox import credentials
from bot.sandbox import x as sandbox_x
from bot.sandbox.core import SandboxApp, SandboxServer

CREDS = {k: v for k, v in credentials().items() if k.startswith("X_")}
USER_ID = CREDS["X_ACCESS_TOKEN"].partition("-")[0]
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


class XSandbox:
    """An X-only sandbox on 127.0.0.1 (the other platforms' modules are not needed here)."""

    def __init__(self) -> None:
        self.app = SandboxApp(seed=7)
        sandbox_x.register(self.app, credentials())
        self.server = SandboxServer(self.app)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        creds: dict[str, str] | None = None,
        sign_url: str | None = None,
        oauth: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request signed with OAuth 1.0a (for ``sign_url`` when given, else the URL sent)."""
        creds = creds or CREDS
        url = self.url + path
        client = OAuthClient(creds["X_API_KEY"], client_secret=creds["X_API_SECRET"],
                             resource_owner_key=creds["X_ACCESS_TOKEN"],
                             resource_owner_secret=creds["X_ACCESS_TOKEN_SECRET"], **(oauth or {}))
        _, headers, _ = client.sign(sign_url or url, http_method=method)
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        headers.update(kwargs.pop("headers", {}))
        return httpx.request(method, url, headers=headers, timeout=5, **kwargs)

    def tweet(self, text: str | None = None, **body: Any) -> httpx.Response:
        payload = dict(body)
        if text is not None:
            payload["text"] = text
        return self.call("POST", "/2/tweets", body=payload)


@pytest.fixture
def xsb() -> Iterator[XSandbox]:
    sb = XSandbox()
    yield sb
    sb.stop()


def test_create_answers_201_with_x_shape_and_rate_limit_headers(xsb: XSandbox) -> None:
    """POST /2/tweets answers 201 {"data": {id, text, edit_history_tweet_ids}} with both header families."""
    first = xsb.tweet("hello from the sandbox")
    second = xsb.tweet("a second post")
    assert first.status_code == 201
    data = first.json()["data"]
    assert set(data) == {"id", "text", "edit_history_tweet_ids"}
    assert data["id"].isdigit() and data["edit_history_tweet_ids"] == [data["id"]]
    assert int(second.json()["data"]["id"]) > int(data["id"])
    assert int(first.headers["x-rate-limit-remaining"]) - int(second.headers["x-rate-limit-remaining"]) == 1
    assert int(first.headers["x-rate-limit-reset"]) > time.time()
    assert int(first.headers["x-user-limit-24hour-reset"]) > time.time() + 80_000
    daily_limit, daily_left = (int(first.headers[f"x-user-limit-24hour-{k}"]) for k in ("limit", "remaining"))
    assert daily_limit > daily_left
    assert xsb.app.posts("x")[0]["sent_text"] == "hello from the sandbox"


def test_unsigned_request_gets_xs_401_body(xsb: XSandbox) -> None:
    """A request without OAuth gets 401 and X's problem body, and nothing is posted."""
    response = httpx.post(xsb.url + "/2/tweets", json={"text": "hi"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert xsb.app.posts("x") == []


def test_wrong_secret_is_refused(xsb: XSandbox) -> None:
    """A signature made with another consumer secret or token secret is refused with 401."""
    for key in ("X_API_SECRET", "X_ACCESS_TOKEN_SECRET"):
        response = xsb.call("POST", "/2/tweets", body={"text": f"hi {key}"}, creds={**CREDS, key: "wrong"})
        assert response.status_code == 401, key
        assert response.json() == UNAUTHORIZED


def test_unknown_consumer_key_or_token_is_refused(xsb: XSandbox) -> None:
    """A valid signature for another app or another user's token is still 401."""
    for key in ("X_API_KEY", "X_ACCESS_TOKEN"):
        response = xsb.call("GET", "/2/users/me", creds={**CREDS, key: "999-other"})
        assert response.status_code == 401, key


def test_signature_must_cover_the_url_actually_received(xsb: XSandbox) -> None:
    """A signature computed for https://api.twitter.com/… does not verify at the sandbox's own URL."""
    response = xsb.call("GET", "/2/users/me", sign_url="https://api.twitter.com/2/users/me")
    assert response.status_code == 401
    assert xsb.call("GET", "/2/users/me").status_code == 200


def test_query_parameters_are_part_of_the_signature(xsb: XSandbox) -> None:
    """Changing a signed query parameter breaks the signature."""
    path = f"/2/users/{USER_ID}/tweets?max_results=10"
    assert xsb.call("GET", path).status_code == 200
    tampered = xsb.call("GET", f"/2/users/{USER_ID}/tweets?max_results=99",
                        sign_url=xsb.url + path)
    assert tampered.status_code == 401


def test_replayed_nonce_and_stale_timestamp_are_refused(xsb: XSandbox) -> None:
    """The same signed request sent twice, or one signed an hour ago, gets 401."""
    url = xsb.url + "/2/users/me"
    client = OAuthClient(CREDS["X_API_KEY"], client_secret=CREDS["X_API_SECRET"],
                         resource_owner_key=CREDS["X_ACCESS_TOKEN"],
                         resource_owner_secret=CREDS["X_ACCESS_TOKEN_SECRET"])
    _, headers, _ = client.sign(url)
    assert httpx.get(url, headers=headers, timeout=5).status_code == 200
    assert httpx.get(url, headers=headers, timeout=5).status_code == 401
    stale = xsb.call("GET", "/2/users/me", oauth={"timestamp": str(int(time.time()) - 3600)})
    assert stale.status_code == 401


def test_280_weighted_characters_pass_and_281_are_refused_with_xs_message(xsb: XSandbox) -> None:
    """281 characters get 400 with X's "Your Tweet text is too long…" in errors[0].message."""
    assert xsb.tweet("a" * 280).status_code == 201
    response = xsb.tweet("b" * 281)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Request"
    assert body["errors"][0]["message"] == sandbox_x.TOO_LONG
    assert len(xsb.app.posts("x")) == 1


def test_length_is_x_weighted() -> None:
    """CJK characters weigh 2 and a URL 23, as twitter-text counts (needs bot.text)."""
    pytest.importorskip("bot.text")
    sb = XSandbox()
    try:
        assert sb.tweet("あ" * 140).status_code == 201
        assert sb.tweet("い" * 141).status_code == 400
        long_url = "https://example.com/" + "p" * 200
        assert sb.tweet("c" * 250 + " " + long_url).status_code == 201
    finally:
        sb.stop()


def test_duplicate_text_gets_xs_403_until_the_first_is_deleted(xsb: XSandbox) -> None:
    """The same text again is 403 "You are not allowed to create a Tweet with duplicate content."."""
    first = xsb.tweet("same words")
    duplicate = xsb.tweet("same words")
    assert duplicate.status_code == 403
    assert duplicate.json() == {"title": "Forbidden", "type": "about:blank", "status": 403,
                                "detail": "You are not allowed to create a Tweet with duplicate content."}
    deleted = xsb.call("DELETE", f"/2/tweets/{first.json()['data']['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"data": {"deleted": True}}
    assert xsb.tweet("same words").status_code == 201


def test_reply_targets_are_checked(xsb: XSandbox) -> None:
    """A reply to an id that never existed is 400; to a deleted post 403; to a live post 201."""
    parent = xsb.tweet("parent").json()["data"]["id"]
    unknown = xsb.tweet("reply 1", reply={"in_reply_to_tweet_id": "1234567"})
    assert unknown.status_code == 400
    assert "deleted or not visible" in unknown.json()["detail"]
    ok = xsb.tweet("reply 2", reply={"in_reply_to_tweet_id": parent})
    assert ok.status_code == 201
    xsb.call("DELETE", f"/2/tweets/{parent}")
    gone = xsb.tweet("reply 3", reply={"in_reply_to_tweet_id": parent})
    assert gone.status_code == 403
    assert gone.json()["detail"] == sandbox_x.REPLY_GONE
    assert xsb.app.posts("x")[-1]["reply_to"] == parent


def test_text_is_required_unless_media_and_unknown_fields_are_refused(xsb: XSandbox) -> None:
    """{} and {"text": ""} get 400; a field X's schema lacks (e.g. "lang") gets 400 too."""
    assert xsb.tweet().status_code == 400
    assert xsb.tweet("").status_code == 400
    response = xsb.tweet("hallo", lang="de")
    assert response.status_code == 400
    assert "lang" in response.json()["errors"][0]["message"]
    assert xsb.app.posts("x") == []


def test_rate_limit_429_has_xs_body_and_headers(xsb: XSandbox) -> None:
    """Past the window's limit: 429, X's exact body, remaining 0 and the reset epoch."""
    xsb.app.set_quota("x", "tweets", 1, 300)
    assert xsb.tweet("one").status_code == 201
    response = xsb.tweet("two")
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-limit"] == "1"
    assert time.time() + 250 < int(response.headers["x-rate-limit-reset"]) <= time.time() + 302


def test_daily_cap_429_carries_the_24_hour_headers(xsb: XSandbox) -> None:
    """Past the 24-hour user cap: 429 with x-user-limit-24hour-remaining 0 and its reset."""
    xsb.app.set_quota("x", "tweets.daily", 1, 86_400)
    assert xsb.tweet("one").status_code == 201
    response = xsb.tweet("two")
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert response.headers["x-user-limit-24hour-remaining"] == "0"
    assert int(response.headers["x-user-limit-24hour-reset"]) > time.time() + 86_000
    assert len(xsb.app.posts("x")) == 1


def test_injected_rate_limit_fault_uses_xs_shape(xsb: XSandbox) -> None:
    """The core's rate_limit fault answers with X's 429 body and a reset reset_in ahead."""
    xsb.app.inject("x.tweets.create", "rate_limit", reset_in=120)
    response = xsb.tweet("limited")
    assert response.status_code == 429 and response.json() == TOO_MANY
    assert abs(int(response.headers["x-rate-limit-reset"]) - (time.time() + 120)) <= 2


def test_users_me(xsb: XSandbox) -> None:
    """GET /2/users/me names the account the access token belongs to."""
    response = xsb.call("GET", "/2/users/me")
    assert response.json() == {"data": {"id": USER_ID, "name": sandbox_x.DISPLAY_NAME,
                                        "username": sandbox_x.USERNAME}}
    assert "x-rate-limit-remaining" in response.headers


def test_timeline_is_reverse_chronological_with_tco_links_and_html_escapes(xsb: XSandbox) -> None:
    """Timelines show X's text: t.co links (23 chars), &amp;, expanded_url in entities, newest first."""
    ids = [xsb.tweet(f"post {n}").json()["data"]["id"] for n in range(2)]
    url = "https://example.com/a/long/path?x=1"
    created = xsb.tweet(f"Tom & Jerry <3 {url}").json()["data"]
    assert created["text"].startswith("Tom &amp; Jerry &lt;3 https://t.co/")
    response = xsb.call("GET", f"/2/users/{USER_ID}/tweets?max_results=5&tweet.fields=created_at%2Centities")
    tweets = response.json()["data"]
    assert [t["id"] for t in tweets] == [created["id"], *reversed(ids)]
    link = tweets[0]["entities"]["urls"][0]
    assert link["expanded_url"] == url and len(link["url"]) == 23
    assert tweets[0]["text"][link["start"]:link["end"]] == link["url"]
    assert tweets[0]["created_at"].endswith("Z")
    assert response.json()["meta"]["result_count"] == 3
    assert xsb.app.posts("x")[-1]["sent_text"] == f"Tom & Jerry <3 {url}"
    bare = xsb.tweet("read example.org today").json()["data"]["text"]
    assert bare.startswith("read https://t.co/") and bare.endswith(" today")


def test_timeline_checks_max_results_and_pages(xsb: XSandbox) -> None:
    """max_results outside 5..100 is 400 (X's wording); a longer timeline pages with next_token."""
    bad = xsb.call("GET", f"/2/users/{USER_ID}/tweets?max_results=4")
    assert bad.status_code == 400
    assert "is not between 5 and 100" in bad.json()["errors"][0]["message"]
    for n in range(7):
        xsb.tweet(f"n{n}")
    first = xsb.call("GET", f"/2/users/{USER_ID}/tweets?max_results=5").json()
    token = first["meta"]["next_token"]
    second = xsb.call("GET", f"/2/users/{USER_ID}/tweets?max_results=5&pagination_token={token}").json()
    texts = [t["text"] for t in first["data"] + second["data"]]
    assert texts == [f"n{n}" for n in reversed(range(7))]


def test_media_upload_alt_text_and_attachment(xsb: XSandbox) -> None:
    """Multipart upload → media id; alt text via metadata/create; the post carries it and a t.co link."""
    png = xsb.call("GET", "/x-media/pixel.png").content
    assert png.startswith(b"\x89PNG")
    upload = xsb.call("POST", "/2/media/upload", files={"media": ("p.png", png, "image/png")},
                      data={"media_category": "tweet_image"})
    assert upload.status_code == 200
    media = upload.json()["data"]
    assert media["media_key"] == f"3_{media['id']}" and media["size"] == len(png)
    assert media["image"] == {"image_type": "image/png", "w": 4, "h": 3}
    alt = xsb.call("POST", "/2/media/metadata/create",
                   body={"media_id": media["id"], "alt_text": {"text": "a dot"}})
    assert alt.status_code == 200
    assert alt.json()["data"]["associated_metadata"]["alt_text"]["text"] == "a dot"
    post = xsb.tweet("look", media={"media_ids": [media["id"]]})
    assert post.status_code == 201
    assert post.json()["data"]["text"].startswith("look https://t.co/")
    stored = xsb.app.posts("x")[0]
    assert stored["media"][0]["alt_text"] == "a dot" and stored["media_ids"] == [media["id"]]


def test_media_upload_as_json_base64_and_media_only_post(xsb: XSandbox) -> None:
    """The JSON body form (base64 media) works, and a post may be media only."""
    png = sandbox_x._png(2, 2)
    upload = xsb.call("POST", "/2/media/upload", body={"media": base64.b64encode(png).decode(),
                                                        "media_category": "tweet_image"})
    assert upload.status_code == 200
    post = xsb.tweet(media={"media_ids": [upload.json()["data"]["id"]]})
    assert post.status_code == 201


def test_media_validation(xsb: XSandbox) -> None:
    """Unknown media ids, non-images, a missing category, over-long alt text: all 400."""
    bad_id = xsb.tweet("x", media={"media_ids": ["42"]})
    assert bad_id.status_code == 400
    assert bad_id.json()["errors"][0]["message"] == "Your media IDs are invalid."
    not_image = xsb.call("POST", "/2/media/upload", files={"media": ("a.txt", b"hello", "text/plain")},
                         data={"media_category": "tweet_image"})
    assert not_image.status_code == 400
    png = sandbox_x._png(1, 1)
    no_category = xsb.call("POST", "/2/media/upload", files={"media": ("p.png", png, "image/png")})
    assert no_category.status_code == 400
    ok = xsb.call("POST", "/2/media/upload", files={"media": ("p.png", png, "image/png")},
                  data={"media_category": "tweet_image"}).json()["data"]["id"]
    long_alt = xsb.call("POST", "/2/media/metadata/create",
                        body={"media_id": ok, "alt_text": {"text": "a" * 1001}})
    assert long_alt.status_code == 400
    unsigned = httpx.post(xsb.url + "/2/media/upload", files={"media": ("p.png", png, "image/png")},
                          timeout=5)
    assert unsigned.status_code == 401


def test_delete_unknown_is_404(xsb: XSandbox) -> None:
    """DELETE of a post that does not exist is 404 with X's not-found problem."""
    response = xsb.call("DELETE", "/2/tweets/777")
    assert response.status_code == 404
    assert response.json()["title"] == "Not Found Error"
