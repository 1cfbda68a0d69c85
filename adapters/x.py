"""X (Twitter) through tweepy 4.17.0: API v2 posts, threads and images, with OAuth 1.0a user context.

tweepy's ``Client`` hard-codes ``https://api.twitter.com`` and sets no timeout. We mount a
``requests`` transport adapter on ``client.session`` that sends every call to ``settings.base_url``
(``X_API_BASE_URL``: a proxy, an X-compatible gateway, the sandbox) with ``settings.timeout``.

**Which URL is signed.** requests signs a request (OAuth 1.0a HMAC-SHA1) while preparing it, i.e. for
``https://api.twitter.com/…``; the transport adapter then moves it to the base URL. OAuth 1.0a
(RFC 5849 §3.4.1.2) builds the signature base string from the scheme, host and path the *server*
receives, so the adapter signs the request again for the URL it actually sends. A base URL that is an
X-compatible server therefore verifies it; a forwarding proxy must be an HTTP proxy (``HTTPS_PROXY``),
not a base URL.

**Images.** tweepy 4.17.0 has no v2 media method (``API.media_upload`` is v1.1 on upload.twitter.com),
so the image goes through the same signed session: ``POST /2/media/upload`` (one-shot, multipart,
``media_category=tweet_image``), then ``POST /2/media/metadata/create`` for the alt text. The publisher
hands over the image's bytes (fetched within X's 5 MB, its registry entry). The media id is kept in the
key/value store for 20 hours (X keeps uploads for 24), so a retried part does not upload again.

**Exactly once.** X has no idempotency key. :meth:`XAdapter.prepare` records ``not_before`` (now, less
a minute for clock skew); after an ambiguous failure :meth:`XAdapter.reconcile` reads the account's
recent posts (``GET /2/users/me`` once, cached in the key/value store, then ``GET /2/users/:id/tweets``)
for one created since then with the same text. X rewrites links to ``https://t.co/…`` and HTML-escapes
``& < >`` in the text it returns (and appends a t.co link for attached media), so texts are compared
with the links expanded from ``entities.urls``, or else with every t.co link matching any link. A 403
"duplicate content" answer to a post means an earlier attempt got through: it is raised as
``Ambiguous`` so that the publisher reconciles.

Error mapping (:func:`translate_error`)::

    tweepy.TooManyRequests (429)        RateLimited  retry_at = x-user-limit-24hour-reset when that
                                                     remaining is 0 (daily cap), else x-rate-limit-reset
    tweepy.Unauthorized (401)           Permanent    "the server refused the credentials … check X_…"
    tweepy.Forbidden (403) duplicate    Ambiguous    "duplicate content: probably posted by an earlier …"
    tweepy.Forbidden (403) permission   Permanent    "… check the app's permissions and X_ACCESS_TOKEN …"
    tweepy.Forbidden (403) other        Permanent    X's message
    tweepy.BadRequest / NotFound / 4xx  Permanent    X's message (e.g. "Your Tweet text is too long…")
    tweepy.TwitterServerError (5xx)     Transient
    tweepy.TweepyException (other)      Permanent
    requests ConnectTimeout, SSLError,  Transient    the request was not sent
      ProxyError, ConnectionError that
      wraps NewConnectionError /
      ConnectTimeoutError / refused
    requests ConnectionError wrapping   Ambiguous    the connection broke after the request was sent
      ProtocolError / RemoteDisconnected
      / reset (or anything unknown)
    requests ReadTimeout / Timeout,     Ambiguous    sent, no (complete) answer
      ChunkedEncodingError,
      ContentDecodingError, a 2xx
      body that is not JSON
    requests InvalidURL, MissingSchema, Permanent    "check X_API_BASE_URL"
      InvalidSchema, InvalidHeader,
      TooManyRedirects

Calls made before ``POST /2/tweets`` (users/me, the upload) and the reads of ``reconcile`` have no
effect that matters, so an ``Ambiguous`` from them is reported as ``Transient``.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from adapters.base import AccountSettings, ImageData, KeyValue, PostRef, PostRequest, Quota
from bot.errors import Ambiguous, NotSupported, Permanent, PublishError, RateLimited, Transient
from bot.redact import redact_error

if TYPE_CHECKING:
    import requests
    import tweepy

TWEEPY_HOST = "https://api.twitter.com"  # where tweepy sends everything
DEFAULT_BASE_URL = TWEEPY_HOST
CREDENTIAL_KEYS = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
CLOCK_SKEW = 60.0  # seconds subtracted from not_before: our clock and X's may disagree
RECONCILE_PAGES = 3  # up to 300 recent posts
ME_TTL = 7 * 86400
MEDIA_TTL = 20 * 3600  # X keeps an uploaded image usable for 24 hours
DUPLICATE_DETAIL = "duplicate content"
CREDENTIALS_HINT = "check X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET"
_PERMISSION_WORDS = ("permission", "not permitted", "oauth", "suspended", "client-not-enrolled",
                     "not configured", "access level", "authoriz", "authentic")
_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
_TRAILING_TCO = re.compile(r"\s*https?://t\.co/[A-Za-z0-9]+\s*\Z")


class XAdapter:
    """Posts to one X account with tweepy's v2 ``Client`` (see the module docstring)."""

    platform: ClassVar[str] = "x"
    separate_quotas: ClassVar[frozenset[str]] = frozenset({"delete"})  # DELETE /2/tweets/:id: its own 15-min bucket

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self.settings = settings
        self.kv = kv
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._quota: Quota | None = None  # from the rate-limit headers of the last POST /2/tweets
        self._delete_quota: Quota | None = None  # from those of the last DELETE /2/tweets/:id

    # --- the SDK, built on first use ---------------------------------------------------------------
    def _credentials(self) -> dict[str, str]:
        creds = {key: self.settings.credentials.get(key, "") for key in CREDENTIAL_KEYS}
        missing = [key for key, value in creds.items() if not value]
        if missing:
            needed = ", ".join(CREDENTIAL_KEYS)
            raise Permanent(f"x: {', '.join(missing)} not set: an X account needs {needed}")
        return creds

    @cached_property
    def _signer(self) -> requests.auth.AuthBase:
        """OAuth 1.0a HMAC-SHA1, the same as tweepy's ``OAuth1UserHandler.apply_auth()``."""
        from requests_oauthlib import OAuth1

        creds = self._credentials()
        signer: requests.auth.AuthBase = OAuth1(
            creds["X_API_KEY"], client_secret=creds["X_API_SECRET"],
            resource_owner_key=creds["X_ACCESS_TOKEN"], resource_owner_secret=creds["X_ACCESS_TOKEN_SECRET"],
            decoding=None,
        )
        return signer

    @cached_property
    def _client(self) -> tweepy.Client:
        import tweepy

        creds = self._credentials()
        client = tweepy.Client(
            consumer_key=creds["X_API_KEY"], consumer_secret=creds["X_API_SECRET"],
            access_token=creds["X_ACCESS_TOKEN"], access_token_secret=creds["X_ACCESS_TOKEN_SECRET"],
            return_type=dict, wait_on_rate_limit=False,
        )
        transport = rebased_transport(self.base_url, self.settings.timeout, self._signer,
                                      on_response=self._note_quota)
        client.session.mount(TWEEPY_HOST + "/", transport)
        return client

    # --- the protocol ------------------------------------------------------------------------------
    def character_limit(self) -> int | None:
        """X does not say: the core's 280 weighted characters apply."""
        return None

    def quota(self, action: str = "post") -> Quota | None:
        """The posting quota X announced on the last ``POST /2/tweets``, or with ``action="delete"`` the
        deleting quota of the last ``DELETE /2/tweets/:id`` (None before any)."""
        return self._delete_quota if action == "delete" else self._quota

    def _note_quota(self, response: Any) -> None:
        """Keep the tightest of the 15-minute window and the 24-hour caps a post answer announced, and
        the 15-minute window of a delete answer (a bucket of its own)."""
        request = getattr(response, "request", None)
        if request is None:
            return
        path = str(request.url).split("?")[0]
        if request.method == "DELETE" and "/2/tweets/" in path:
            self._delete_quota = _header_quota(response.headers, "x-rate-limit") or self._delete_quota
            return
        if request.method != "POST" or not path.endswith("/2/tweets"):
            return
        found = [q for q in (_header_quota(response.headers, prefix) for prefix in
                             ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")) if q is not None]
        if found:
            far = datetime.max.replace(tzinfo=UTC)
            self._quota = min(found, key=lambda q: (q.remaining or 0, -(q.reset_at or far).timestamp()))

    def prepare(self, post: PostRequest) -> dict[str, Any]:
        """Remember when the first attempt started, so reconcile only accepts posts made since."""
        return {"not_before": _iso(time.time() - CLOCK_SKEW)}

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        """Create the post (a reply when ``post.reply_to`` is set; the image first, with its alt text)."""
        client = self._client
        with self._nothing_sent():
            me = self._me()
            media_ids = [self._media_id(post.idempotency_key, post.image)] if post.image is not None else None
        try:
            response = client.create_tweet(
                text=post.text or None,
                in_reply_to_tweet_id=post.reply_to.id if post.reply_to is not None else None,
                media_ids=media_ids,
                user_auth=True,
            )
        except Exception as exc:
            raise self._error(exc) from exc
        try:
            tweet_id = str(response["data"]["id"])
        except (KeyError, TypeError) as exc:
            raise Ambiguous(f"x: POST /2/tweets answered without a post id: {str(response)[:200]}") from exc
        return self._ref(me, tweet_id)

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """Find the post an ambiguous attempt may have created: same text, made since ``not_before``."""
        not_before = _parse_iso(prepared.get("not_before"))
        client = self._client
        with self._nothing_sent():
            me = self._me()
            params: dict[str, Any] = {
                "max_results": 100,
                "tweet_fields": ["created_at", "entities", "referenced_tweets"],
                "user_auth": True,
            }
            if not_before is not None:
                params["start_time"] = datetime.fromtimestamp(int(not_before), UTC)
            for _ in range(RECONCILE_PAGES):
                page = client.get_users_tweets(me["id"], **params)
                for tweet in page.get("data") or []:
                    if _is_the_post(tweet, post, not_before):
                        return self._ref(me, str(tweet["id"]))
                token = (page.get("meta") or {}).get("next_token")
                if not token:
                    break
                params["pagination_token"] = token
        return None

    def delete(self, ref: PostRef) -> bool:
        """Delete a post; one that is already gone (404, or ``deleted: false``) counts as deleted."""
        import tweepy

        try:
            answer = self._client.delete_tweet(ref.id, user_auth=True)
        except tweepy.errors.NotFound:
            return False
        except Exception as exc:
            raise self._error(exc) from exc
        data = answer.get("data") if isinstance(answer, dict) else getattr(answer, "data", None)
        return not (isinstance(data, dict) and data.get("deleted") is False)

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        """X's API v2 has no endpoint to edit a post (edits exist only in X's own apps)."""
        raise NotSupported("x: the X API cannot edit a published post (no edit endpoint in API v2)")

    def close(self) -> None:
        if "_client" in self.__dict__:
            self._client.session.close()

    # --- helpers -----------------------------------------------------------------------------------
    def _ref(self, me: dict[str, str], tweet_id: str) -> PostRef:
        return PostRef(platform="x", id=tweet_id, url=f"https://x.com/{me['username']}/status/{tweet_id}")

    def _me(self) -> dict[str, str]:
        """The account's id and username (GET /2/users/me once; then from the key/value store)."""
        token = self.settings.credentials.get("X_ACCESS_TOKEN", "")
        key = "x:me:" + hashlib.sha256(f"{self.base_url}\0{token}".encode()).hexdigest()[:24]
        cached = self.kv.kv_get(key)
        if isinstance(cached, dict) and cached.get("id") and cached.get("username"):
            return {"id": str(cached["id"]), "username": str(cached["username"])}
        data = self._client.get_me(user_auth=True)["data"]
        me = {"id": str(data["id"]), "username": str(data["username"])}
        self.kv.kv_set(key, me, ttl_seconds=ME_TTL)
        return me

    def _media_id(self, idempotency_key: str, image: ImageData) -> str:
        """The image's media id: uploaded once per post part, reused by retries (kept in the kv store)."""
        identity = "\0".join((self.base_url, idempotency_key, image.url, image.alt))
        key = "x:media:" + hashlib.sha256(identity.encode()).hexdigest()[:32]
        cached = self.kv.kv_get(key)
        if isinstance(cached, str) and cached:
            return cached
        media_id = self._upload(image)
        self.kv.kv_set(key, media_id, ttl_seconds=MEDIA_TTL)
        return media_id

    def _upload(self, image: ImageData) -> str:
        """Upload the image (POST /2/media/upload), set its alt text; return the media id."""
        media_type = image.media_type
        client = self._client
        response = client.session.post(
            f"{TWEEPY_HOST}/2/media/upload",
            data={"media_category": "tweet_image", "media_type": media_type},
            files={"media": ("image", image.data, media_type)},
            headers={"User-Agent": client.user_agent},
            auth=self._signer,
            timeout=self.settings.timeout,
        )
        raise_for_status(response)
        media_id = str(response.json()["data"]["id"])
        if image.alt:
            client.request("POST", "/2/media/metadata/create", json={
                "media_id": media_id, "alt_text": {"text": image.alt},
            }, user_auth=True)
        return media_id

    def _error(self, exc: BaseException) -> PublishError:
        """translate_error, with every credential value blanked out of the message."""
        return redact_error(translate_error(exc), self.settings.secrets)

    @contextlib.contextmanager
    def _nothing_sent(self) -> Iterator[None]:
        """Errors of calls that cannot create a post: an Ambiguous one is only Transient."""
        try:
            yield
        except Exception as exc:
            error = self._error(exc)
            if isinstance(error, Ambiguous):
                error = Transient(str(error), status=error.status)
            if error is exc:
                raise
            raise error from exc


ADAPTER = XAdapter


# --- the transport adapter ---------------------------------------------------------------------------
def rebased_transport(base_url: str, timeout: float, signer: Any,
                      on_response: Callable[[Any], None] | None = None) -> requests.adapters.HTTPAdapter:
    """A requests transport adapter that sends tweepy's ``https://api.twitter.com/…`` calls to
    ``base_url`` (re-signing OAuth 1.0a for the URL actually sent) with ``timeout`` on every call;
    ``on_response`` sees every answer (the adapter reads the rate-limit headers there)."""
    from requests.adapters import HTTPAdapter

    base = base_url.rstrip("/")
    default_timeout = timeout

    class RebasedAdapter(HTTPAdapter):
        def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
                 cert: Any = None, proxies: Any = None) -> Any:
            url = str(request.url)
            if base != TWEEPY_HOST and url.startswith(TWEEPY_HOST + "/"):
                request.url = base + url[len(TWEEPY_HOST):]
                authorization = request.headers.get("Authorization", "")
                if isinstance(authorization, bytes):
                    authorization = authorization.decode("latin-1")
                if authorization.startswith("OAuth ") and signer is not None:
                    del request.headers["Authorization"]
                    signer(request)
            if timeout is None:
                timeout = default_timeout
            response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                    proxies=proxies)
            if on_response is not None:
                on_response(response)
            return response

    return RebasedAdapter()


def raise_for_status(response: requests.Response) -> None:
    """Raise what tweepy's ``Client.request`` raises for this status (for calls made without it)."""
    from tweepy import errors

    status = response.status_code
    if status == 400:
        raise errors.BadRequest(response)
    if status == 401:
        raise errors.Unauthorized(response)
    if status == 403:
        raise errors.Forbidden(response)
    if status == 404:
        raise errors.NotFound(response)
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        raise errors.TooManyRequests(response, reset_time=int(reset) if reset and reset.isdigit() else None)
    if status >= 500:
        raise errors.TwitterServerError(response)
    if not 200 <= status < 300:
        raise errors.HTTPException(response)


# --- error translation ---------------------------------------------------------------------------------
def translate_error(exc: BaseException) -> PublishError:
    """Map an SDK or network exception to the core's error types (table in the module docstring)."""
    if isinstance(exc, PublishError):
        return exc
    import requests
    from tweepy import errors

    if isinstance(exc, errors.HTTPException):
        return _from_http(exc)
    if isinstance(exc, errors.TweepyException):
        return Permanent(f"x: {_one_line(str(exc))}")
    if isinstance(exc, requests.exceptions.RequestException):
        return _from_requests(exc)
    if isinstance(exc, ConnectionRefusedError):
        return Transient(f"x: connection refused ({exc})")
    if isinstance(exc, TimeoutError | ConnectionError):
        return Ambiguous(f"x: the connection failed after the request may have been sent ({exc!r})")
    return Permanent(f"x: unexpected {type(exc).__name__}: {_one_line(str(exc))}")


def _from_http(exc: tweepy.errors.HTTPException) -> PublishError:
    from tweepy import errors

    response = exc.response
    status: int = getattr(response, "status_code", 0) or 0
    messages = "; ".join(str(m) for m in exc.api_messages)
    detail = _one_line(messages or str(getattr(response, "reason", "")) or str(exc))
    if isinstance(exc, errors.TooManyRequests):
        return _rate_limited(exc)
    if isinstance(exc, errors.Unauthorized):
        return Permanent(f"x: the server refused the credentials (401 {detail}): {CREDENTIALS_HINT}",
                         status=401)
    if isinstance(exc, errors.Forbidden):
        if DUPLICATE_DETAIL in detail.lower():
            return Ambiguous(f"x: duplicate content: probably posted by an earlier attempt (403 {detail})",
                             status=403)
        if any(word in detail.lower() for word in _PERMISSION_WORDS):
            return Permanent(
                f"x: the server refused access (403 {detail}): check that the app has Read and Write "
                f"permission and regenerate X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET", status=403)
        return Permanent(f"x: {detail} (403)", status=403)
    if isinstance(exc, errors.TwitterServerError):
        return Transient(f"x: server error ({status} {detail})", status=status)
    return Permanent(f"x: {detail} ({status})", status=status or None)


def _rate_limited(exc: tweepy.errors.TooManyRequests) -> RateLimited:
    headers = getattr(exc.response, "headers", {}) or {}
    for scope, label in (("user", "the account's"), ("app", "the app's")):
        remaining = str(headers.get(f"x-{scope}-limit-24hour-remaining", "")).strip()
        reset = _epoch(headers.get(f"x-{scope}-limit-24hour-reset"))
        if remaining == "0" and reset is not None:
            limit = headers.get(f"x-{scope}-limit-24hour-limit", "?")
            return RateLimited(
                f"x: {label} 24-hour limit ({limit} posts) is used up; "
                f"X resets it at {_iso(reset.timestamp())}",
                retry_at=reset)
    reset = _epoch(exc.reset_time) or _epoch(headers.get("x-rate-limit-reset"))
    when = f"; X resets the window at {_iso(reset.timestamp())}" if reset else ""
    return RateLimited(f"x: rate limited (429 Too Many Requests){when}", retry_at=reset)


def _from_requests(exc: requests.exceptions.RequestException) -> PublishError:
    from requests import exceptions as rex

    where = _where(exc)
    if isinstance(exc, rex.ConnectTimeout):
        return Transient(f"x: connecting to {where} timed out: the request was not sent")
    if isinstance(exc, rex.SSLError):
        return Transient(f"x: TLS with {where} failed: the request was not sent ({_innermost(exc)})")
    if isinstance(exc, rex.ProxyError):
        return Transient(f"x: the proxy for {where} failed: the request was not sent ({_innermost(exc)})")
    if isinstance(exc, rex.ConnectionError):
        if not_sent(exc):
            return Transient(f"x: could not connect to {where} ({_innermost(exc)}): the request was not sent")
        return Ambiguous(f"x: the connection to {where} broke after the request was sent ({_innermost(exc)})")
    if isinstance(exc, rex.Timeout):  # ReadTimeout and any other
        return Ambiguous(f"x: no answer from {where} in time: the post may have been created")
    if isinstance(exc, rex.ChunkedEncodingError | rex.ContentDecodingError):
        return Ambiguous(f"x: the answer from {where} was cut off ({_innermost(exc)})")
    if isinstance(exc, rex.InvalidJSONError):
        return Ambiguous(f"x: {where} answered with a body that is not JSON")
    if isinstance(exc, rex.InvalidURL | rex.MissingSchema | rex.InvalidSchema | rex.URLRequired
                  | rex.InvalidHeader | rex.TooManyRedirects):
        return Permanent(f"x: cannot send the request to {where} ({_one_line(str(exc))}): "
                         "check X_API_BASE_URL")
    if isinstance(exc, rex.RetryError):
        return Transient(f"x: {where} kept failing ({_innermost(exc)})")
    return Ambiguous(f"x: request to {where} failed ({type(exc).__name__}: {_innermost(exc)})")


def not_sent(exc: BaseException) -> bool:
    """Whether a requests ``ConnectionError`` happened before the request left (refused, DNS, connect
    timeout) rather than after (the peer hung up or reset mid-exchange: the post may exist)."""
    from urllib3 import exceptions as u3

    before = u3.NewConnectionError | u3.ConnectTimeoutError | u3.NameResolutionError | ConnectionRefusedError
    return any(isinstance(e, before) for e in _chain(exc))


def _chain(exc: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (args, MaxRetryError.reason, __cause__, __context__)."""
    if depth > 8:
        return
    yield exc
    inner: list[Any] = [*exc.args, getattr(exc, "reason", None), exc.__cause__, exc.__context__]
    for item in inner:
        if isinstance(item, BaseException) and item is not exc:
            yield from _chain(item, depth + 1)


def _innermost(exc: BaseException) -> str:
    """The most specific cause, in a few words (requests' own messages run over several lines)."""
    last = exc
    for item in _chain(exc):
        last = item
    text = getattr(last, "strerror", None) or str(last).split(": ")[-1] or type(last).__name__
    return _one_line(f"{type(last).__name__}: {text}" if text != type(last).__name__ else text)


def _where(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = str(getattr(request, "url", "") or "")
    match = re.match(r"[a-z]+://[^/]+", url)
    return match.group(0) if match else "the X API"


# --- text comparison for reconcile ---------------------------------------------------------------------
def _is_the_post(tweet: dict[str, Any], post: PostRequest, not_before: float | None) -> bool:
    created = _parse_iso(tweet.get("created_at"))
    if not_before is not None and created is not None and created < int(not_before):
        return False
    if post.reply_to is not None and "referenced_tweets" in tweet:
        parents = [r.get("id") for r in tweet["referenced_tweets"] or [] if r.get("type") == "replied_to"]
        if post.reply_to.id not in parents:
            return False
    urls = (tweet.get("entities") or {}).get("urls") or []
    return same_text(str(tweet.get("text", "")), post.text, urls, has_media=post.image is not None)


def same_text(
    shown: str, sent: str, urls: list[dict[str, Any]] | None = None, *, has_media: bool = False
) -> bool:
    """Whether X's rendering of a post (t.co links, HTML escapes, a media link at the end) is ``sent``."""
    candidates = [shown]
    if has_media:
        candidates.append(_TRAILING_TCO.sub("", shown))
    want = _normal(sent)
    for text in candidates:
        expanded = text
        for url in urls or []:
            if url.get("url") and url.get("expanded_url"):
                expanded = expanded.replace(str(url["url"]), str(url["expanded_url"]))
        if _normal(html.unescape(expanded)) == want:
            return True
        parts = _TCO.split(_normal(text))
        pieces = [re.escape(unicodedata.normalize("NFC", html.unescape(p))) for p in parts]
        if len(pieces) > 1 and re.fullmatch(r"\S+".join(pieces), want):
            return True
    return False


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


# --- small helpers -------------------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _header_quota(headers: Any, prefix: str) -> Quota | None:
    """``<prefix>-remaining`` / ``-limit`` / ``-reset`` (epoch seconds) as a Quota, if remaining is there."""
    remaining = str(headers.get(f"{prefix}-remaining", "")).strip()
    if not remaining.isdigit():
        return None
    limit = str(headers.get(f"{prefix}-limit", "")).strip()
    return Quota(remaining=int(remaining), limit=int(limit) if limit.isdigit() else None,
                 reset_at=_epoch(headers.get(f"{prefix}-reset")))


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value).strip()), UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
