"""The sandbox's X (Twitter) API v2: the endpoints tweepy 4.17.0 and the X adapter call, validating as X does.

Endpoints (name for fault injection → method and path):

- ``x.tweets.create``   POST   /2/tweets                  (quota buckets ``tweets`` and ``tweets.daily``)
- ``x.tweets.delete``   DELETE /2/tweets/:id              (bucket ``tweets.delete``)
- ``x.users.me``        GET    /2/users/me                (bucket ``users.me``)
- ``x.users.tweets``    GET    /2/users/:id/tweets        (bucket ``users.tweets``)
- ``x.media.upload``    POST   /2/media/upload            (one-shot upload, multipart or JSON+base64)
- ``x.media.metadata``  POST   /2/media/metadata/create   (alt text; also the newer POST /2/media/metadata)
- ``x.files``           GET    /x-media/:name             (not X: serves test images, e.g. ``pixel.png``)

What it checks, like X:

- **OAuth 1.0a** on every ``/2/`` call: the HMAC-SHA1 signature is recomputed with the stdlib from the
  request the sandbox *received* (its own scheme, ``Host`` and path, the query, form bodies) and the
  consumer and token secrets; the consumer key and token must be the sandbox's; the timestamp must be
  within 15 minutes and the nonce unused. Anything else: 401 with X's problem body.
- **Posts**: ``text`` unless media is attached; weighted length ≤ 280 by twitter-text-parser
  (400, X's "Your Tweet text is too long…"); unknown body fields are refused (400, as X's schema does);
  the same text as a live post of the same user → 403 "You are not allowed to create a Tweet with
  duplicate content."; a reply to an id that never existed → 400, to a deleted post → 403;
  media ids must be this user's uploads (400 "Your media IDs are invalid.").
- **Stored text is X's text**: NFC-normalised; every URL twitter-text recognises (bare domains too,
  :func:`bot.twitter_text.extract_url_spans`) becomes a ``https://t.co/…`` link (23 characters), a
  photo adds one more at the end, and ``&``, ``<``, ``>`` are HTML-escaped, in the create answer and
  in timelines, exactly as X returns them; the original URLs come back in
  ``entities.urls[].expanded_url``. ``app.state["x"]["posts"]`` keeps, per post,
  ``text`` (X's form), ``sent_text`` (what the client sent), ``request`` (the whole JSON body), ``media``
  (with alt text), ``reply_to``, ``created_at`` and ``deleted``.
- **Rate limits**: ``x-rate-limit-limit/-remaining/-reset`` (epoch seconds) on every answer, plus
  ``x-user-limit-24hour-limit/-remaining/-reset`` on POST /2/tweets; a used-up bucket gives 429 with
  ``{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}``.
  Tests set tight limits with ``app.set_quota("x", "tweets", n, window)`` or ``("x", "tweets.daily", …)``.

Not emulated: chunked media upload (INIT/APPEND/FINALIZE), polls, quotes, app-only bearer tokens.
Where X's wording is not documented (a missing ``text``, an unknown reply target) the message is ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import math
import re
import struct
import time
import unicodedata
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from bot.sandbox.core import PlatformHooks, Quota, QuotaState, Request, Response, SandboxApp

PLATFORM = "x"
MAX_WEIGHTED_LENGTH = 280
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
MEDIA_EXPIRES_AFTER = 86400
TIMESTAMP_TOLERANCE = 900  # seconds between the client's oauth_timestamp and ours
USERNAME = "crosspost_sandbox"
DISPLAY_NAME = "crosspost sandbox"
TWEPOCH_MS = 1288834974657  # X's snowflake epoch

TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"

TWEET_FIELDS = {
    "text", "media", "reply", "quote_tweet_id", "poll", "geo", "reply_settings", "for_super_followers_only",
    "direct_message_deep_link", "community_id", "nullcast", "card_uri", "made_with_ai",
    "paid_partnership", "share_with_followers", "edit_options",
}
MEDIA_CATEGORIES = {"tweet_image", "tweet_gif", "tweet_video", "dm_image", "dm_gif", "dm_video",
                    "subtitles", "amplify_video"}
_OAUTH_PARAM = re.compile(r'([A-Za-z0-9_]+)="([^"]*)"')
_DIGITS = re.compile(r"[0-9]{1,19}")
_TCO_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# --- X's answers ---------------------------------------------------------------------------------------
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


# The sandbox's own account: not a secret, it only opens the local sandbox.
CREDENTIALS: dict[str, str] = {
    "X_API_KEY": "sandbox-x-consumer-key",
    "X_API_SECRET": "sandbox-x-consumer-secret",
    "X_ACCESS_TOKEN": "1000000001-sandboxaccesstoken",
    "X_ACCESS_TOKEN_SECRET": "sandbox-x-access-secret",
}

def problem(status: int, detail: str, *, title: str | None = None, type_: str = "about:blank") -> Response:
    """X v2's problem body: ``{"title", "detail", "type", "status"}``."""
    title = title or _REASONS.get(status, "Error")
    return Response(status, {"title": title, "detail": detail, "type": type_, "status": status})


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> Response:
    """X v2's 400 for a parameter it refuses: the reason sits in ``errors[].message``."""
    error: dict[str, Any] = {"message": message}
    if parameters:
        error = {"parameters": parameters, "message": message}
    return Response(400, {
        "errors": [error],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST_TYPE,
    })


def unauthorized() -> Response:
    return problem(401, "Unauthorized")


def rate_limit_headers(quota: QuotaState) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(quota.limit),
        "x-rate-limit-remaining": str(quota.remaining),
        "x-rate-limit-reset": str(math.ceil(quota.reset_epoch)),
    }


def daily_limit_headers(quota: QuotaState) -> dict[str, str]:
    return {
        "x-user-limit-24hour-limit": str(quota.limit),
        "x-user-limit-24hour-remaining": str(quota.remaining),
        "x-user-limit-24hour-reset": str(math.ceil(quota.reset_epoch)),
    }


def too_many_requests(quota: QuotaState) -> Response:
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    return Response(429, body, rate_limit_headers(quota))


HOOKS = PlatformHooks(
    error=lambda status, message: problem(status, message),
    rate_limited=too_many_requests,
    quota_headers=rate_limit_headers,
)


# --- OAuth 1.0a (RFC 5849), verified with the stdlib only ------------------------------------------
def _enc(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a §3.6 requires (only unreserved characters stay)."""
    return quote(value, safe="~")


def base_string_uri(request: Request) -> str:
    """The URL the client must have signed: the scheme, ``Host`` and path this server received."""
    scheme = (request.header("x-forwarded-proto") or "http").split(",")[0].strip().lower()
    host = request.header("host").strip().lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{scheme}://{host}{request.path}"


def oauth_signature(request: Request, params: list[tuple[str, str]], consumer_secret: str,
                    token_secret: str) -> str:
    """HMAC-SHA1 over the signature base string of ``request`` with ``params`` (oauth_* included)."""
    pairs = sorted((_enc(k), _enc(v)) for k, v in params if k not in ("oauth_signature", "realm"))
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join((request.method.upper(), _enc(base_string_uri(request)), _enc(normalized)))
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_oauth(app: SandboxApp, request: Request, credentials: dict[str, str]) -> bool:
    """True when ``request`` carries a valid OAuth 1.0a user-context signature for the sandbox account."""
    header = request.header("authorization")
    if not header.startswith("OAuth "):
        return False
    oauth = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(header[6:])}
    required = ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_nonce", "oauth_timestamp")
    if any(not oauth.get(name) for name in required):
        return False
    if oauth.get("oauth_signature_method") != "HMAC-SHA1" or oauth.get("oauth_version", "1.0") != "1.0":
        return False
    if not (hmac.compare_digest(oauth["oauth_consumer_key"], credentials.get("X_API_KEY", ""))
            and hmac.compare_digest(oauth["oauth_token"], credentials.get("X_ACCESS_TOKEN", ""))):
        return False
    try:
        stamp = int(oauth["oauth_timestamp"])
    except ValueError:
        return False
    now = time.time()
    if abs(now - stamp) > TIMESTAMP_TOLERANCE:
        return False
    params = [(k, v) for k, v in oauth.items() if k != "realm"]
    params += [(k, v) for k, values in request.query.items() for v in values]
    if "application/x-www-form-urlencoded" in request.header("content-type"):
        params += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    expected = oauth_signature(request, params, credentials.get("X_API_SECRET", ""),
                               credentials.get("X_ACCESS_TOKEN_SECRET", ""))
    if not hmac.compare_digest(expected, oauth["oauth_signature"]):
        return False
    with app.lock:
        nonces: dict[str, float] = app.state[PLATFORM]["nonces"]
        for old in [n for n, seen in nonces.items() if seen < now - 2 * TIMESTAMP_TOLERANCE]:
            del nonces[old]
        if oauth["oauth_nonce"] in nonces:
            return False  # a replayed request
        nonces[oauth["oauth_nonce"]] = now
    return True


# --- small helpers -------------------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    millis = int(epoch * 1000) % 1000
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _next_id(state: dict[str, Any]) -> str:
    """A snowflake-like id: milliseconds since X's epoch << 22, strictly increasing."""
    candidate = (int(time.time() * 1000) - TWEPOCH_MS) << 22 | (1 << 17)
    new = max(candidate, state["last_id"] + 1)
    state["last_id"] = new
    return str(new)


def _x_length(text: str) -> int:
    """X's weighted length by the official twitter-text port (``twitter-text-parser``), not by bot.text:
    the sandbox judges what crosspost composed with a second, independent implementation."""
    import warnings

    with warnings.catch_warnings():  # it imports pkg_resources, deprecated by setuptools
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from twitter_text import parse_tweet  # imported on first use: importing the sandbox stays cheap

    return int(parse_tweet(text).weightedLength)


def _url_spans(text: str) -> list[tuple[int, int]]:
    """The URLs X turns into t.co links: those twitter-text recognises (bare domains too)."""
    from bot.twitter_text import extract_url_spans

    return list(extract_url_spans(text))


def _tco(state: dict[str, Any]) -> str:
    """A fresh t.co link (23 characters, like X's)."""
    state["tco_seq"] += 1
    n = int.from_bytes(hashlib.sha256(f"t.co/{state['tco_seq']}".encode()).digest()[:8], "big")
    code = ""
    for _ in range(10):
        n, r = divmod(n, 62)
        code += _TCO_ALPHABET[r]
    return "https://t.co/" + code


def x_text(state: dict[str, Any], text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as X stores and returns it (URLs → t.co, ``& < >`` escaped) and its ``entities.urls``."""
    out: list[str] = []
    urls: list[dict[str, Any]] = []
    pos = 0
    for start, end in _url_spans(text):
        url = text[start:end]
        out.append(html.escape(text[pos:start], quote=False))
        link = _tco(state)
        begin = sum(len(part) for part in out)
        display = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE)
        expanded = url if re.match(r"https?://", url, re.IGNORECASE) else "http://" + url
        urls.append({"start": begin, "end": begin + len(link), "url": link, "expanded_url": expanded,
                     "display_url": display if len(display) <= 26 else display[:25] + "…"})
        out.append(link)
        pos = end
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out), urls


def _consume(app: SandboxApp, bucket: str) -> QuotaState | None:
    """Take one request from a bucket the handler manages itself (the core manages one per route)."""
    key = (PLATFORM, bucket)
    with app.lock:
        quota = app.quotas.get(key)
        if quota is None and key in app.quota_defaults:
            limit, window = app.quota_defaults[key]
            quota = app.quotas[key] = Quota(limit, window)
        return quota.consume(time.time()) if quota else None


def _png(width: int, height: int) -> bytes:
    """A tiny valid RGB PNG (a gradient), made here so the sandbox needs no image files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 40 % 256, y * 60 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _image_info(data: bytes) -> tuple[str, int, int] | None:
    """(media type, width, height) for the image formats X takes, from the bytes themselves."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", 0, 0
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", 0, 0
    return None


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes] | None:
    """The fields of a multipart/form-data body (name → bytes), or None when it is not one."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if "multipart/form-data" not in content_type or not match:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, bytes] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        headers = head.decode("latin-1").lower()
        name = re.search(r'name="([^"]*)"', head.decode("latin-1"))
        if not name:
            continue
        if "content-transfer-encoding: base64" in headers:
            content = base64.b64decode(content)
        fields[name.group(1)] = content
    return fields


# --- registration --------------------------------------------------------------------------------------
def register(app: SandboxApp, credentials: dict[str, str], **_opts: Any) -> None:
    """Add X's endpoints to ``app`` for the account in ``credentials`` (X_API_KEY … X_ACCESS_TOKEN_SECRET)."""
    user_id = credentials.get("X_ACCESS_TOKEN", "").partition("-")[0] or "1000000001"
    user = {"id": user_id, "name": DISPLAY_NAME, "username": USERNAME}

    def reset() -> dict[str, Any]:
        return {
            "posts": [],  # oldest first
            "media": {},  # media id -> {"id", "media_key", "media_type", "size", "alt_text", "expires_at"}
            "nonces": {},
            "user": dict(user),
            "files": {"pixel.png": ("image/png", _png(4, 3))},
            "last_id": 0,
            "tco_seq": 0,
        }

    app.platform(PLATFORM, HOOKS, reset)
    app.default_quota(PLATFORM, "tweets", 10_000, 900)
    app.default_quota(PLATFORM, "tweets.daily", 100_000, 86_400)
    app.default_quota(PLATFORM, "tweets.delete", 10_000, 900)
    app.default_quota(PLATFORM, "users.me", 10_000, 900)
    app.default_quota(PLATFORM, "users.tweets", 10_000, 900)
    app.default_quota(PLATFORM, "media.upload", 10_000, 900)
    app.default_quota(PLATFORM, "media.metadata", 10_000, 900)

    def authorized(request: Request) -> bool:
        return verify_oauth(app, request, credentials)

    @app.route("POST", r"/2/tweets", PLATFORM, "x.tweets.create", quota="tweets")
    def create_tweet(app: SandboxApp, request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        daily = _consume(app, "tweets.daily")
        if daily is not None and daily.exceeded:
            response = too_many_requests(daily)
            response.headers = daily_limit_headers(daily)
            return response
        response = _create_tweet(app, request, user_id)
        if daily is not None:
            response.headers.update(daily_limit_headers(daily))
        return response

    @app.route("DELETE", r"/2/tweets/(?P<tweet_id>[^/]+)", PLATFORM, "x.tweets.delete", quota="tweets.delete")
    def delete_tweet(app: SandboxApp, request: Request, tweet_id: str) -> Response:
        if not authorized(request):
            return unauthorized()
        with app.lock:
            for post in app.state[PLATFORM]["posts"]:
                if post["id"] == tweet_id and not post.get("deleted"):
                    if post["author_id"] != user_id:
                        return problem(403, "You are not allowed to delete this Tweet.")
                    post["deleted"] = True
                    post["deleted_at"] = time.time()
                    return Response(200, {"data": {"deleted": True}})
        return not_found("tweet", "id", tweet_id)

    @app.route("GET", r"/2/users/me", PLATFORM, "x.users.me", quota="users.me")
    def users_me(app: SandboxApp, request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        with app.lock:
            return Response(200, {"data": dict(app.state[PLATFORM]["user"])})

    @app.route("GET", r"/2/users/(?P<uid>[^/]+)/tweets", PLATFORM, "x.users.tweets", quota="users.tweets")
    def users_tweets(app: SandboxApp, request: Request, uid: str) -> Response:
        if not authorized(request):
            return unauthorized()
        return _timeline(app, request, uid, user_id)

    @app.route("POST", r"/2/media/upload", PLATFORM, "x.media.upload", quota="media.upload")
    def media_upload(app: SandboxApp, request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        return _upload(app, request, user_id)

    def media_metadata(app: SandboxApp, request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        return _metadata(app, request, user_id)

    for path in (r"/2/media/metadata/create", r"/2/media/metadata"):
        app.route("POST", path, PLATFORM, "x.media.metadata", quota="media.metadata")(media_metadata)

    @app.route("GET", r"/x-media/(?P<name>[A-Za-z0-9._-]+)", PLATFORM, "x.files")
    def files(app: SandboxApp, request: Request, name: str) -> Response:
        with app.lock:
            found = app.state[PLATFORM]["files"].get(name)
        if found is None:
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        content_type, data = found
        return Response(200, data, {"Content-Type": content_type})


def not_found(resource: str, parameter: str, value: str) -> Response:
    return Response(404, {
        "errors": [{
            "value": value, "detail": f"Could not find {resource} with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": resource, "parameter": parameter,
            "resource_id": value, "type": NOT_FOUND_TYPE,
        }],
        "title": "Not Found Error",
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "type": NOT_FOUND_TYPE,
    })


# --- POST /2/tweets ------------------------------------------------------------------------------------
def _create_tweet(app: SandboxApp, request: Request, user_id: str) -> Response:
    try:
        body = request.json()
    except (UnicodeDecodeError, json.JSONDecodeError):
        return invalid_request("Request body is not valid JSON.")
    if not isinstance(body, dict):
        return invalid_request("$: expected type: JSONObject, found: " + type(body).__name__)
    unknown = sorted(set(body) - TWEET_FIELDS)
    if unknown:
        return invalid_request(f"$.{unknown[0]}: is not defined in the schema and the schema does not "
                               "allow additional properties")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        return invalid_request("$.text: expected type: String")
    media = body.get("media") or {}
    media_ids = media.get("media_ids") or [] if isinstance(media, dict) else None
    if media_ids is None or not isinstance(media_ids, list) or len(media_ids) > 4:
        return invalid_request("$.media.media_ids: expected an array of at most 4 media ids")
    if not text and not media_ids and not body.get("quote_tweet_id") and not body.get("poll") \
            and not body.get("card_uri"):
        return invalid_request("You must provide text, media, a poll, a quoted Tweet or a card.",
                               {"text": [text or ""]})
    if text and _x_length(text) > MAX_WEIGHTED_LENGTH:
        return invalid_request(TOO_LONG, {"text": [text]})
    reply = body.get("reply") or {}
    reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    if reply_to is not None and not (isinstance(reply_to, str) and _DIGITS.fullmatch(reply_to)):
        return invalid_request(f"$.reply.in_reply_to_tweet_id: string [{reply_to}] does not match "
                               "pattern ^[0-9]{1,19}$")
    now = time.time()
    with app.lock:
        state = app.state[PLATFORM]
        posts: list[dict[str, Any]] = state["posts"]
        parent = None
        if reply_to is not None:
            parent = next((p for p in posts if p["id"] == reply_to), None)
            if parent is None:
                return Response(400, {"title": "Invalid Request", "detail": REPLY_GONE,
                                      "type": INVALID_REQUEST_TYPE, "status": 400})
            if parent.get("deleted"):
                return problem(403, REPLY_GONE)
        attached = []
        for media_id in media_ids:
            item = state["media"].get(str(media_id))
            if item is None or item["owner"] != user_id or item["expires_at"] < now:
                return invalid_request("Your media IDs are invalid.",
                                       {"media.media_ids": [str(m) for m in media_ids]})
            attached.append(dict(item))
        if text and any(p["sent_text"] == text and p["author_id"] == user_id and not p.get("deleted")
                        for p in posts):
            return problem(403, DUPLICATE)
        tweet_id = _next_id(state)
        stored_text, urls = x_text(state, unicodedata.normalize("NFC", text or ""))
        if attached:  # X appends a link to the photo, as a t.co link too
            link = _tco(state)
            start = len(stored_text) + 1 if stored_text else 0
            stored_text = f"{stored_text} {link}" if stored_text else link
            urls.append({"start": start, "end": start + len(link), "url": link,
                         "expanded_url": f"https://x.com/{state['user']['username']}/status/{tweet_id}/photo/1",
                         "display_url": "pic.x.com/" + link[-10:], "media_key": attached[0]["media_key"]})
        post = {
            "id": tweet_id,
            "text": stored_text,
            "sent_text": text or "",
            "author_id": user_id,
            "created_at": now,
            "reply_to": reply_to,
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "in_reply_to_user_id": parent["author_id"] if parent else None,
            "media_ids": [str(m) for m in media_ids],
            "media": attached,
            "urls": urls,
            "request": body,
            "deleted": False,
        }
        posts.append(post)
    data = {"id": tweet_id, "text": stored_text, "edit_history_tweet_ids": [tweet_id]}
    return Response(201, {"data": data})


# --- GET /2/users/:id/tweets -----------------------------------------------------------------------------
def _tweet_object(post: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post["id"], "text": post["text"], "edit_history_tweet_ids": [post["id"]]}
    if "created_at" in fields:
        out["created_at"] = _iso(post["created_at"])
    if "author_id" in fields:
        out["author_id"] = post["author_id"]
    if "conversation_id" in fields:
        out["conversation_id"] = post["conversation_id"]
    if "in_reply_to_user_id" in fields and post["in_reply_to_user_id"]:
        out["in_reply_to_user_id"] = post["in_reply_to_user_id"]
    if "referenced_tweets" in fields and post["reply_to"]:
        out["referenced_tweets"] = [{"type": "replied_to", "id": post["reply_to"]}]
    if "entities" in fields and post["urls"]:
        out["entities"] = {"urls": [dict(u) for u in post["urls"]]}
    if "attachments" in fields and post["media_ids"]:
        out["attachments"] = {"media_keys": [f"3_{m}" for m in post["media_ids"]]}
    return out


def _timeline(app: SandboxApp, request: Request, uid: str, user_id: str) -> Response:
    raw_max = request.arg("max_results", "10") or "10"
    if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
        return invalid_request(
            f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
            {"max_results": [raw_max]},
        )
    if not _DIGITS.fullmatch(uid):
        return invalid_request(f"The `id` query parameter value [{uid}] does not match ^[0-9]{{1,19}}$",
                               {"id": [uid]})
    if uid != user_id:
        return Response(200, {"errors": not_found("user", "id", uid).body["errors"]})
    fields = set(filter(None, (request.arg("tweet.fields") or "").split(",")))
    start = _parse_time(request.arg("start_time") or "") if request.arg("start_time") else None
    end = _parse_time(request.arg("end_time") or "") if request.arg("end_time") else None
    since_id, until_id = request.arg("since_id"), request.arg("until_id")
    exclude = set((request.arg("exclude") or "").split(","))
    offset = int(request.arg("pagination_token") or "0", 36) if request.arg("pagination_token") else 0
    with app.lock:
        posts = [p for p in reversed(app.state[PLATFORM]["posts"])
                 if p["author_id"] == uid and not p.get("deleted")]
    selected = [
        p for p in posts
        if (start is None or p["created_at"] >= math.floor(start))
        and (end is None or p["created_at"] <= end)
        and (since_id is None or int(p["id"]) > int(since_id))
        and (until_id is None or int(p["id"]) < int(until_id))
        and not ("replies" in exclude and p["reply_to"])
    ]
    page = selected[offset: offset + int(raw_max)]
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
    if offset + int(raw_max) < len(selected):
        meta["next_token"] = _base36(offset + int(raw_max))
    if not page:
        return Response(200, {"meta": meta})
    return Response(200, {"data": [_tweet_object(p, fields) for p in page], "meta": meta})


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# --- media ------------------------------------------------------------------------------------------------
def _upload(app: SandboxApp, request: Request, user_id: str) -> Response:
    content_type = request.header("content-type")
    fields: dict[str, bytes] | None
    if "application/json" in content_type:
        try:
            body = request.json()
            data = base64.b64decode(body["media"], validate=True)
        except (ValueError, KeyError, TypeError):
            return invalid_request("$.media: expected the file content, base64-encoded")
        fields = {"media": data, **{k: str(v).encode() for k, v in body.items() if k != "media"}}
    else:
        fields = parse_multipart(content_type, request.body)
        if fields is None:
            return invalid_request("Expected a multipart/form-data or JSON body.")
        if "media_data" in fields and "media" not in fields:
            fields["media"] = base64.b64decode(fields["media_data"])
    if "command" in fields:
        return invalid_request("The sandbox emulates the one-shot upload only (no INIT/APPEND/FINALIZE).")
    data = fields.get("media", b"")
    category = fields.get("media_category", b"").decode("utf-8", "replace")
    if not data:
        return invalid_request("$.media: is missing but it is required")
    if category not in MEDIA_CATEGORIES:
        return invalid_request(f"$.media_category: [{category}] is not a valid media category")
    if len(data) > MAX_MEDIA_BYTES:
        return invalid_request(f"File size exceeds {MAX_MEDIA_BYTES} bytes.")
    info = _image_info(data)
    if info is None:
        return invalid_request("media type unrecognized.")
    media_type, width, height = info
    now = time.time()
    with app.lock:
        state = app.state[PLATFORM]
        media_id = _next_id(state)
        state["media"][media_id] = {
            "id": media_id, "media_key": f"3_{media_id}", "media_type": media_type, "size": len(data),
            "category": category, "alt_text": None, "owner": user_id, "expires_at": now + MEDIA_EXPIRES_AFTER,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return Response(200, {"data": {
        "id": media_id, "media_key": f"3_{media_id}", "size": len(data),
        "expires_after_secs": MEDIA_EXPIRES_AFTER,
        "image": {"image_type": media_type, "w": width, "h": height},
    }})


def _metadata(app: SandboxApp, request: Request, user_id: str) -> Response:
    try:
        body = request.json()
    except (UnicodeDecodeError, json.JSONDecodeError):
        return invalid_request("Request body is not valid JSON.")
    if not isinstance(body, dict):
        return invalid_request("$: expected type: JSONObject")
    # /2/media/metadata/create takes {"media_id", "alt_text"}; /2/media/metadata {"id", "metadata": {...}}
    media_id = str(body.get("media_id") or body.get("id") or "")
    metadata: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else body
    alt_text = metadata.get("alt_text")
    alt = alt_text.get("text") if isinstance(alt_text, dict) else None
    if not media_id:
        return invalid_request("$.media_id: is missing but it is required")
    if not isinstance(alt, str):
        return invalid_request("$.alt_text.text: is missing but it is required")
    if len(alt) > MAX_ALT_TEXT:
        return invalid_request(f"$.alt_text.text: expected maxLength: {MAX_ALT_TEXT}, actual: {len(alt)}")
    with app.lock:
        item = app.state[PLATFORM]["media"].get(media_id)
        if item is None or item["owner"] != user_id:
            return not_found("media", "media_id", media_id)
        item["alt_text"] = alt
    return Response(200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}})
