"""Bluesky through atproto 0.0.73: one record per post, written so that a retry can never duplicate it.

Exactly once: :meth:`BlueskyAdapter.prepare` picks the record key (a TID) and ``createdAt`` once; the
publisher stores them in the ledger before the first call. :meth:`~BlueskyAdapter.publish` builds the
whole record from the request and those two values (nothing else varies: blob refs are content hashes)
and writes it with ``com.atproto.repo.putRecord`` at that key, every time. On the PDS (checked against
@atproto/pds 0.4.217 in ``tests/test_bluesky_pds.py``) a put of a new key creates the record, a put of the
identical record answers the same uri/cid without a new commit, so a retry after an ambiguous failure is
harmless; ``createRecord`` would instead fail the retry with an opaque 500.

Sessions are reused: ``createSession`` is tightly rate limited (30 per 5 min, 300 per day), so the
session (and every refreshed one) is kept in the store's key/value table under one key per
(service, handle), and a new one is created only when there is no usable stored session or the server
refuses it (expired or revoked refresh token) — then exactly once.

Errors are translated at one place, :func:`translate_error`::

    atproto / httpx exception                          → crosspost error
    ─────────────────────────────────────────────────────────────────────────────────────────────
    RateLimitExceededError (429)                       → RateLimited(retry_at = ratelimit-reset)
    UnauthorizedError (401/403)                        → Permanent "… check BLUESKY_HANDLE and …"
    BadRequestError (400)                              → Permanent (the PDS's message)
    RequestException / RequestErrorBase, 5xx but 504   → Transient
    RequestException, 504 UpstreamTimeout              → Ambiguous
    RequestException, other 4xx                        → Permanent (404: "check BLUESKY_SERVICE_URL")
    NetworkError with a response: 409 / 502            → Transient;  413 → Permanent
    InvokeTimeoutError from ConnectTimeout/PoolTimeout → Transient (nothing was sent)
    InvokeTimeoutError from Read/WriteTimeout          → Ambiguous
    NetworkError from ConnectError                     → Transient
    NetworkError from ReadError/WriteError/CloseError  → Ambiguous
    httpx.ConnectError/ConnectTimeout/PoolTimeout/ProxyError → Transient
    httpx.RemoteProtocolError, other TransportError    → Ambiguous (the SDK lets these through)
    httpx.UnsupportedProtocol/InvalidURL/LocalProtocolError/TooManyRedirects → Permanent
    ModelError (an answer the SDK could not read)      → Ambiguous
    LoginRequiredError, InvalidTokenError, other AtProtocolError, anything else → Permanent
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from adapters.base import AccountSettings, KeyValue, PostRef, PostRequest, Quota
from bot.errors import Ambiguous, NotSupported, Permanent, PublishError, RateLimited, Transient
from bot.redact import redact_error, register_secrets

if TYPE_CHECKING:
    import httpx
    from atproto_client import Client

DEFAULT_SERVICE = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
CREDENTIALS_HINT = "check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD"
SERVICE_HINT = "check BLUESKY_SERVICE_URL"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing"})

log = logging.getLogger("crosspost.adapters.bluesky")
T = TypeVar("T")


# --- record keys --------------------------------------------------------------------------------------
_tid_lock = threading.Lock()
_tid_last = 0
_clock_id = random.SystemRandom().randrange(1024)


def tid_from(micros: int, clock_id: int) -> str:
    """A TID: 13 base32-sortable characters of ``(microseconds since the epoch << 10) | clock_id``."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def new_tid() -> str:
    """A TID for now, strictly increasing within this process (two posts in one microsecond differ)."""
    global _tid_last
    with _tid_lock:
        micros = max(time.time_ns() // 1000, _tid_last + 1)
        _tid_last = micros
    return tid_from(micros, _clock_id)


def _iso(when: datetime) -> str:
    """``2024-05-01T12:34:56.789Z``: the shape the official app writes."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# --- error translation -------------------------------------------------------------------------------
def _server_words(exc: BaseException) -> tuple[int | None, str, str]:
    """(status, XRPC error name, message) from an SDK request error; blanks when there was no answer."""
    response = getattr(exc, "response", None)
    if response is None:
        return None, "", ""
    content = response.content
    error = getattr(content, "error", None) or (content.get("error") if isinstance(content, dict) else None)
    message = getattr(content, "message", None) or (
        content.get("message") if isinstance(content, dict) else None
    )
    if error is None and isinstance(content, bytes):
        message = content[:200].decode("utf-8", "replace")
    return response.status_code, str(error or ""), str(message or "")


def _said(status: int | None, error: str, message: str) -> str:
    words = ": ".join(w for w in (error, message) if w)
    return f"{status} {words}".strip() if status is not None else words


def _retry_at(exc: BaseException) -> datetime | None:
    reset_at: datetime | None = getattr(exc, "reset_at", None)
    if reset_at is not None:
        return reset_at
    retry_after: float | None = getattr(exc, "retry_after", None)
    return datetime.now(UTC) + timedelta(seconds=retry_after) if retry_after is not None else None


def _register_tokens(session_string: str) -> None:
    """The session's access and refresh JWTs post as the account: mask them like the app password."""
    register_secrets(session_string.split(":::")[2:4])


def translate_error(exc: BaseException, secrets: Iterable[str] = ()) -> PublishError:
    """Map any exception out of the SDK (or of httpx underneath it) to the core's error types.

    ``secrets`` (the account's credential values) are blanked out of the message in case a server
    echoes one.
    """
    return redact_error(_translate(exc), secrets)


def _translate(exc: BaseException) -> PublishError:
    import httpx
    from atproto_client import exceptions as ax
    from atproto_core.exceptions import AtProtocolError
    from atproto_server.exceptions import InvalidTokenError

    if isinstance(exc, PublishError):
        return exc
    status, name, message = _server_words(exc)
    said = _said(status, name, message)
    if isinstance(exc, ax.RateLimitExceededError):
        retry_at = _retry_at(exc)
        when = f"; the limit resets at {retry_at.isoformat()}" if retry_at else ""
        policy = f" (policy {exc.policy})" if exc.policy else ""
        return RateLimited(f"bluesky: rate limited ({said}){when}{policy}", retry_at=retry_at, status=status)
    if isinstance(exc, ax.UnauthorizedError):
        return Permanent(
            f"bluesky: the server refused the handle or app password ({said}): {CREDENTIALS_HINT}",
            status=status,
        )
    if isinstance(exc, ax.BadRequestError):
        return Permanent(f"bluesky: the server rejected the request ({said})", status=status)
    if isinstance(exc, ax.RequestErrorBase) and status is not None:
        if status == 504:
            return Ambiguous(
                f"bluesky: the server timed out behind a gateway ({said}); the write may have happened",
                status=status,
            )
        if status >= 500 or status == 409:
            return Transient(f"bluesky: server error ({said})", status=status)
        if status == 404:
            return Permanent(
                f"bluesky: the server does not serve this method ({said}): {SERVICE_HINT}", status=status
            )
        return Permanent(f"bluesky: the server rejected the request ({said})", status=status)
    if isinstance(exc, ax.NetworkError | httpx.HTTPError):
        cause = exc if isinstance(exc, httpx.HTTPError) else exc.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else type(exc).__name__
        if isinstance(
            cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError
        ):
            return Transient(f"bluesky: could not connect ({detail}); nothing was sent")
        if isinstance(
            cause,
            httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError | httpx.TooManyRedirects,
        ):
            return Permanent(f"bluesky: the request could not be made ({detail}): {SERVICE_HINT}")
        if isinstance(exc, ax.InvokeTimeoutError) or isinstance(cause, httpx.TimeoutException):
            return Ambiguous(f"bluesky: no answer in time ({detail}); the request may have been processed")
        return Ambiguous(f"bluesky: the connection failed after the request was sent ({detail})")
    if isinstance(exc, httpx.InvalidURL):
        return Permanent(f"bluesky: invalid URL ({exc}): {SERVICE_HINT}")
    if isinstance(exc, ax.ModelError):
        return Ambiguous(f"bluesky: the server's answer could not be read ({type(exc).__name__}: {exc})")
    if isinstance(exc, ax.LoginRequiredError):
        return Permanent(f"bluesky: not logged in ({exc}): {CREDENTIALS_HINT}")
    if isinstance(exc, InvalidTokenError):
        return Permanent(
            f"bluesky: the session token could not be read ({type(exc).__name__}): {CREDENTIALS_HINT}"
        )
    if isinstance(exc, AtProtocolError):
        return Permanent(f"bluesky: {type(exc).__name__}: {exc}")
    return Permanent(f"bluesky: unexpected {type(exc).__name__}: {exc}")


def _is_session_refusal(exc: BaseException) -> bool:
    """The server refused our tokens (expired, revoked, unknown), not the request itself."""
    from atproto_client import exceptions as ax

    if not isinstance(exc, ax.BadRequestError | ax.UnauthorizedError):
        return False
    status, name, _ = _server_words(exc)
    return name in _SESSION_ERRORS or (status == 401 and isinstance(exc, ax.UnauthorizedError))


# --- comparing records ---------------------------------------------------------------------------------
def _fingerprint(record: dict[str, Any]) -> dict[str, Any]:
    """What makes two post records the same post, ignoring SDK-added ``$type`` noise and blob refs
    (a re-fetched thumbnail may differ; it cannot make a second post)."""

    def feature(f: dict[str, Any]) -> tuple[Any, ...]:
        return (f.get("$type"), f.get("uri"), f.get("tag"), f.get("did"))

    embed = record.get("embed") or {}
    external = embed.get("external") or {}
    reply = record.get("reply") or {}
    return {
        "text": record.get("text"),
        "createdAt": record.get("createdAt"),
        "langs": list(record.get("langs") or []),
        "tags": list(record.get("tags") or []),
        "facets": [
            (
                (f.get("index") or {}).get("byteStart"),
                (f.get("index") or {}).get("byteEnd"),
                [feature(x) for x in f.get("features") or []],
            )
            for f in record.get("facets") or []
        ],
        "reply": {
            k: ((reply.get(k) or {}).get("uri"), (reply.get(k) or {}).get("cid")) for k in ("root", "parent")
        }
        if reply
        else None,
        "embed": (
            embed.get("$type"),
            external.get("uri"),
            external.get("title"),
            external.get("description"),
            [i.get("alt") for i in embed.get("images") or []],
        )
        if embed
        else None,
    }



@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~40 ms), too slow per post."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _parse_at_uri(uri: str) -> tuple[str, str, str]:
    if not uri.startswith("at://") or uri.count("/") != 4:
        raise Permanent(f"bluesky: {uri!r} is not an at:// URI of a record")
    repo, collection, rkey = uri[len("at://") :].split("/")
    return repo, collection, rkey


# --- the adapter -----------------------------------------------------------------------------------
class BlueskyAdapter:
    """Posts to one Bluesky account (any PDS) with a reused session and idempotent ``putRecord`` writes."""

    platform: ClassVar[str] = "bluesky"
    separate_quotas: ClassVar[frozenset[str]] = frozenset()  # every repo write spends points of one budget

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self.settings = settings
        self.kv = kv
        self._client: Client | None = None
        self._fresh = False  # the current session came from createSession just now
        self._lock = threading.RLock()
        self._quota: Quota | None = None  # from the ratelimit-* headers of the last repo write
        self._dids: dict[str, str | None] = {}  # resolve_handle's answers

    # --- configuration --------------------------------------------------------------------------
    @property
    def service(self) -> str:
        return (self.settings.base_url or DEFAULT_SERVICE).rstrip("/")

    @property
    def handle(self) -> str:
        return self.settings.credentials.get("BLUESKY_HANDLE", "").strip().lstrip("@")

    @property
    def session_key(self) -> str:
        """One stored session per (service, handle)."""
        return f"bluesky:session:{self.service}:{self.handle.lower()}"

    def character_limit(self) -> int | None:
        return None  # 300 graphemes everywhere: the core's rules already know it

    def quota(self, action: str = "post") -> Quota | None:
        """The write quota the PDS announced on the last ``com.atproto.repo.*`` write (None before any):
        creating, editing and deleting records spend points of one budget, so ``action`` makes no odds."""
        return self._quota

    def _note_quota(self, response: httpx.Response) -> None:
        """httpx response hook: keep ``ratelimit-remaining/-limit/-reset`` (epoch seconds) of a repo write."""
        request = response.request
        if request.method != "POST" or "/xrpc/com.atproto.repo." not in request.url.path:
            return
        remaining = response.headers.get("ratelimit-remaining", "").strip()
        if not remaining.isdigit():
            return
        limit = response.headers.get("ratelimit-limit", "").strip()
        reset = response.headers.get("ratelimit-reset", "").strip()
        self._quota = Quota(
            remaining=int(remaining),
            limit=int(limit) if limit.isdigit() else None,
            reset_at=datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None,
        )

    # --- sessions -------------------------------------------------------------------------------
    def _new_client(self) -> Client:
        from atproto_client import Client
        from atproto_client.client.session import Session, SessionEvent
        from atproto_client.request import Request

        # The SDK drops response headers on success; an httpx hook on its client reads the quota.
        hooks = {"response": [self._note_quota]}
        request = Request(timeout=self.settings.timeout, event_hooks=hooks, verify=_tls_context())
        client = Client(base_url=self.service, request=request)

        def remember(event: SessionEvent, session: Session) -> None:
            if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                self._store_session(session.export())

        client.on_session_change(remember)
        return client

    def _store_session(self, session_string: str) -> None:
        _register_tokens(session_string)
        ttl = None
        try:
            from atproto_server.auth.jwt import get_jwt_payload

            exp = get_jwt_payload(session_string.split(":::")[3]).exp
            ttl = max(1.0, exp - time.time()) if exp else None
        except Exception:  # an unreadable token is still worth keeping until the server refuses it
            ttl = None
        self.kv.kv_set(self.session_key, session_string, ttl_seconds=ttl)

    def _stored_session(self) -> str | None:
        """The stored session string if its refresh token has not expired by our clock."""
        value = self.kv.kv_get(self.session_key)
        if not isinstance(value, str) or value.count(":::") < 3:
            return None
        try:
            from atproto_server.auth.jwt import get_jwt_payload

            exp = get_jwt_payload(value.split(":::")[3]).exp
        except Exception:
            return None
        return value if exp and exp > time.time() + 60 else None

    def _ensure_client(self) -> Client:
        with self._lock:
            if self._client is not None:
                return self._client
            client = self._new_client()
            stored = self._stored_session()
            if stored is not None:
                try:
                    client.login(session_string=stored, fetch_bsky_profile=False)
                    _register_tokens(stored)
                    self._client, self._fresh = client, False
                    return client
                except ValueError:
                    log.info("bluesky.session_unreadable", extra={"account": self.settings.account})
            self._login(client)
            self._client, self._fresh = client, True
            return client

    def _login(self, client: Client) -> None:
        """createSession: only when no stored session can be used."""
        password = self.settings.credentials.get("BLUESKY_APP_PASSWORD", "")
        if not self.handle or not password:
            raise Permanent(f"bluesky: no handle or app password configured: {CREDENTIALS_HINT}")
        log.info("bluesky.create_session", extra={"account": self.settings.account, "service": self.service})
        # fetch_bsky_profile=False: a bare PDS without an AppView answers getProfile with 400, and the
        # repo is the session's DID anyway.
        client.login(self.handle, password, fetch_bsky_profile=False)

    def _relogin(self) -> Client:
        with self._lock:
            self._drop_client()
            client = self._new_client()
            self._login(client)
            self._client, self._fresh = client, True
            return client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.request.close()
            self._client = None

    def _call(self, operation: Callable[[Client], T]) -> T:
        """Run ``operation``; if the server refuses a stored session's tokens, log in once and run it again
        (the refused request did nothing, so this is not a retry of a write)."""
        client = self._ensure_client()
        try:
            return operation(client)
        except Exception as exc:
            if self._fresh or not _is_session_refusal(exc):
                raise
            log.info(
                "bluesky.session_refused",
                extra={"account": self.settings.account, "error": _said(*_server_words(exc))},
            )
        return operation(self._relogin())

    def _did(self, client: Client) -> str:
        session = client._session
        if session is None:
            raise Permanent(f"bluesky: not logged in: {CREDENTIALS_HINT}")
        return str(session.did)

    def _post_url(self, client: Client, rkey: str) -> str:
        session = client._session
        handle = session.handle if session is not None else self.handle
        return f"https://bsky.app/profile/{handle}/post/{rkey}"

    def _fail(self, exc: BaseException) -> PublishError:
        return translate_error(exc, self.settings.secrets)

    # --- mentions -------------------------------------------------------------------------------
    def resolve_handle(self, handle: str) -> str | None:
        """The DID ``handle`` belongs to (``com.atproto.identity.resolveHandle`` on the account's PDS), or
        None when the server says it resolves to no one (400 "Unable to resolve handle", or 404).

        Bluesky pings only through a mention facet carrying the DID: the publisher adds one for each
        ``@handle`` that resolves. Answers are kept for the adapter's life (one lookup per handle).
        """
        from atproto_client import exceptions as ax

        key = handle.lower()
        if key in self._dids:
            return self._dids[key]
        try:
            answer = self._call(lambda client: client.com.atproto.identity.resolve_handle({"handle": key}))
            did: str | None = str(answer.did)
        except ax.RequestErrorBase as exc:
            status, _, _ = _server_words(exc)
            if status not in (400, 404):
                raise self._fail(exc) from exc
            did = None
        except PublishError:
            raise
        except Exception as exc:
            raise self._fail(exc) from exc
        self._dids[key] = did
        return did

    # --- the protocol ---------------------------------------------------------------------------
    def prepare(self, post: PostRequest) -> dict[str, Any]:
        """The record key and createdAt, chosen once for every attempt at this post."""
        return {"rkey": new_tid(), "createdAt": _iso(datetime.now(UTC))}

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        rkey = str(prepared["rkey"])
        try:

            def write(client: Client) -> tuple[str, str]:
                from atproto_client import models

                record = self._record(client, post, prepared)
                try:
                    data = models.ComAtprotoRepoPutRecord.Data(
                        repo=self._did(client), collection=POST_COLLECTION, rkey=rkey, record=record
                    )
                except Exception as exc:  # the SDK refused to build the request: nothing was sent
                    problem = f"{type(exc).__name__}: {exc}"
                    raise Permanent(f"bluesky: the record could not be built ({problem})") from exc
                answer = client.com.atproto.repo.put_record(data)
                return answer.uri, answer.cid

            uri, cid = self._call(write)
            url = self._post_url(self._ensure_client(), rkey)
        except PublishError:
            raise
        except Exception as exc:
            raise self._fail(exc) from exc
        return PostRef(platform=self.platform, id=uri, url=url, cid=cid)

    def _record(
        self,
        client: Client | None,
        post: PostRequest,
        prepared: dict[str, Any],
    ) -> dict[str, Any]:
        """The whole record from the request and ``prepared``: the same input gives the same record."""
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": str(prepared["createdAt"]),
        }
        if post.facets:
            record["facets"] = [dict(facet) for facet in post.facets]
        if post.reply_to is not None:
            root = post.thread_root or post.reply_to
            record["reply"] = {
                "root": self._strong_ref(client, root),
                "parent": self._strong_ref(client, post.reply_to),
            }
        if post.card is not None:
            external: dict[str, Any] = {
                "uri": post.card.uri,
                "title": post.card.title,
                "description": post.card.description,
            }
            if post.card.thumb is not None and client is not None:
                external["thumb"] = self._upload(client, post.card.thumb.data, post.card.thumb.media_type)
            record["embed"] = {"$type": "app.bsky.embed.external", "external": external}
        elif post.image is not None:
            entry: dict[str, Any] = {"alt": post.image.alt}
            if client is not None:
                entry["image"] = self._upload(client, post.image.data, post.image.media_type)
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [entry]}
        if post.lang:
            record["langs"] = [post.lang]
        if post.tags:
            record["tags"] = list(post.tags)
        return record

    def _strong_ref(self, client: Client | None, ref: PostRef) -> dict[str, str]:
        if ref.cid or client is None:
            return {"uri": ref.id, "cid": ref.cid or ""}
        repo, collection, rkey = _parse_at_uri(ref.id)  # an old ledger row without a cid: look it up
        answer = client.com.atproto.repo.get_record({"repo": repo, "collection": collection, "rkey": rkey})
        return {"uri": ref.id, "cid": str(answer.cid)}

    def _upload(self, client: Client, data: bytes, mime: str) -> dict[str, Any]:
        """Upload a blob; its ref is the content hash, so the same bytes always give the same ref."""
        from atproto_client import models
        from atproto_client.models.utils import get_model_as_dict, get_response_model

        # Not ``repo.upload_blob(data)``: it hands the bytes to httpx as ``data=``, which httpx deprecates.
        response = client.invoke_procedure(
            "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime}
        )
        answer = get_response_model(response, models.ComAtprotoRepoUploadBlob.Response)
        blob: dict[str, Any] = get_model_as_dict(answer.blob)
        return blob

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """Look at the prepared record key: our record there → its PostRef; nothing there → None."""
        rkey = str(prepared["rkey"])
        try:

            def look(client: Client) -> PostRef | None:
                from atproto_client import exceptions as ax
                from atproto_client.models.utils import get_model_as_dict

                params = {"repo": self._did(client), "collection": POST_COLLECTION, "rkey": rkey}
                try:
                    answer = client.com.atproto.repo.get_record(params)
                except ax.BadRequestError as exc:
                    if _server_words(exc)[1] in ("RecordNotFound", "InvalidRequest"):
                        return None
                    raise
                value = answer.value
                found = value if isinstance(value, dict) else get_model_as_dict(value)
                if _fingerprint(found) != _fingerprint(self._record(None, post, prepared)):
                    log.warning(
                        "bluesky.reconcile_mismatch",
                        extra={
                            "account": self.settings.account,
                            "idempotency_key": post.idempotency_key,
                            "post_id": answer.uri,
                        },
                    )
                    return None  # not what we meant to write: the next putRecord replaces it
                return PostRef(
                    platform=self.platform, id=answer.uri, url=self._post_url(client, rkey), cid=answer.cid
                )

            return self._call(look)
        except PublishError:
            raise
        except Exception as exc:
            raise self._fail(exc) from exc

    def delete(self, ref: PostRef) -> bool:
        repo, collection, rkey = _parse_at_uri(ref.id)
        try:

            def remove(client: Client) -> None:
                from atproto_client import models

                client.com.atproto.repo.delete_record(
                    models.ComAtprotoRepoDeleteRecord.Data(repo=repo, collection=collection, rkey=rkey)
                )

            self._call(remove)
        except PublishError:
            raise
        except Exception as exc:
            raise self._fail(exc) from exc
        return True  # deleteRecord of a missing record succeeds too: the PDS does not say which it was

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        """A Bluesky post cannot be edited: rewriting the record changes its CID, and every like, repost
        and reply points at the old one (the app offers no edit either)."""
        raise NotSupported("bluesky: posts cannot be edited (a rewritten record would orphan its likes, "
                           "reposts and replies)")

    def close(self) -> None:
        with self._lock:
            self._drop_client()


ADAPTER = BlueskyAdapter
