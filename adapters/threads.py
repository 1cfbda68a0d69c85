"""Threads through its Graph API (graph.threads.net v1.0) with ``requests``: no SDK exists.

A post is two calls: ``POST /{user-id}/threads`` creates an invisible container, ``POST
/{user-id}/threads_publish`` (``creation_id``) makes it a post. Exactly once: the container id is written
to the store (key/value, under the part's idempotency key, as the X adapter keeps its media ids) *before*
``threads_publish`` is called, and every attempt first asks the kept container's status
(``GET /{container-id}?fields=status``):

- ``PUBLISHED``: the post exists; it is found in the account's own posts (``/threads`` or ``/replies``,
  matched on the exact text since the part was prepared) and never published again;
- ``FINISHED``: created but never published: published now, not created again;
- ``IN_PROGRESS`` (Threads is still fetching the image): ``Transient``, the publisher's backoff waits;
- ``EXPIRED`` / ``ERROR``: a new container is created.

Each part sends the link as ``link_attachment`` (its preview card; TEXT posts only, so not beside an
image), the first valid ``#tag`` of the text as ``topic_tag`` (the docs' legacy rule makes that same tag
the topic, so both readings agree; other hashtags stay text), the previous part as ``reply_to_id``, and
an image as ``image_url`` (Threads fetches it: the article's public image URL is passed, not bytes).

Errors are translated by status and the Graph error's ``code``, never by its message::

    code 4 / 17 / 32 / 613, or HTTP 429     → RateLimited (Retry-After if sent, else DEFAULT_RATE_WAIT)
    code 190, HTTP 401 / 403                → Permanent "check THREADS_ACCESS_TOKEN …"
    code 9007 (media not ready), HTTP 5xx,
    ``is_transient``, code 1 / 2            → Transient
    other 4xx                               → Permanent
    connect error / connect timeout         → Transient (nothing was sent)
    read timeout, reset after sending       → Ambiguous for writes, Transient for reads
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from adapters.base import AccountSettings, KeyValue, PostRef, PostRequest, Quota
from bot.errors import Ambiguous, NotSupported, Permanent, PublishError, RateLimited, Transient
from bot.measure.threads import first_topic_tag
from bot.redact import redact_error

if TYPE_CHECKING:
    import requests

DEFAULT_BASE = "https://graph.threads.net"
VERSION = "v1.0"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
TRANSIENT_CODES = frozenset({1, 2, 9007})  # 9007: "media is not ready for publishing"
MISSING = (100, 33)  # (code, error_subcode): the object does not exist (or is not ours)
DEFAULT_RATE_WAIT = 15 * 60  # seconds: Threads documents no reset time, so wait long (UNCONFIRMED)
CONTAINER_TTL = 24 * 3600  # an unpublished container expires after 24 hours
ALT_TEXT_MAX = 1000
LOOKBACK = 120  # seconds before the part was prepared that its post may carry as timestamp (clock skew)
CREDENTIALS_HINT = "check THREADS_ACCESS_TOKEN (threads_basic, threads_content_publish) and THREADS_USER_ID"

log = logging.getLogger("crosspost.adapters.threads")


class Refused(Permanent):
    """A 4xx with the Graph error's ``code`` and ``error_subcode`` (deleting a missing post is one)."""

    def __init__(self, message: str, *, status: int | None, code: object, subcode: object) -> None:
        super().__init__(message, status=status)
        self.code = (code, subcode)


class ThreadsAdapter:
    """Posts to one Threads account: container, then publish, each container published at most once."""

    platform: ClassVar[str] = "threads"
    separate_quotas: ClassVar[frozenset[str]] = frozenset({"delete"})  # 100 deletes a day of their own

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self.settings = settings
        self.kv = kv
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._quota: Quota | None = None

    # --- configuration ------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"{(self.settings.base_url or DEFAULT_BASE).rstrip('/')}/{VERSION}"

    @property
    def user_id(self) -> str:
        return self.settings.credentials.get("THREADS_USER_ID", "").strip()

    def character_limit(self) -> int | None:
        return None  # 500 for everyone: the registry knows it

    def quota(self, action: str = "post") -> Quota | None:
        """Posting's quota as ``threads_publishing_limit`` said after the last post (250 a day)."""
        return self._quota if action == "post" else None

    # --- HTTP ---------------------------------------------------------------------------------------
    def _http(self) -> requests.Session:
        import requests

        with self._lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None, *, write: bool = False) -> Any:
        """One Graph call; the answer's JSON, or the core's error for what went wrong."""
        import requests

        token = {"access_token": self.settings.credentials.get("THREADS_ACCESS_TOKEN", "")}
        fields = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            if method == "POST":
                reply = self._http().post(self.base + path, data={**fields, **token}, timeout=self.settings.timeout)
            else:
                reply = self._http().request(method, self.base + path, params={**fields, **token},
                                             timeout=self.settings.timeout)
        except requests.RequestException as exc:
            raise redact_error(_network_error(exc, write), self.settings.secrets) from None
        if reply.status_code >= 400:
            raise redact_error(_answer_error(reply), self.settings.secrets)
        try:
            return reply.json()
        except ValueError:
            error = Ambiguous if write else Transient
            raise error(f"threads: unreadable answer ({reply.status_code})", status=reply.status_code) from None

    # --- posting -------------------------------------------------------------------------------------
    def prepare(self, post: PostRequest) -> dict[str, Any]:
        """When the part was first prepared: where the search for its post starts after a lost answer."""
        return {"since": int(datetime.now(UTC).timestamp())}

    def _container_key(self, post: PostRequest) -> str:
        return f"threads:container:{self.base}:{self.user_id}:{post.idempotency_key}"

    def _new_container(self, post: PostRequest) -> str:
        params: dict[str, Any] = {"text": post.text, "topic_tag": first_topic_tag(post.text),
                                  "reply_to_id": post.reply_to.id if post.reply_to else None}
        if post.image is not None:
            params |= {"media_type": "IMAGE", "image_url": post.image.url,
                       "alt_text": post.image.alt[:ALT_TEXT_MAX] or None}
        else:
            params |= {"media_type": "TEXT", "link_attachment": post.card.uri if post.card else None}
        container = str(self._call("POST", f"/{self.user_id}/threads", params, write=True)["id"])
        # Kept before anything can publish it: a retry asks this container, never makes a second one.
        self.kv.kv_set(self._container_key(post), container, ttl_seconds=CONTAINER_TTL)
        return container

    def _status(self, container: str) -> str:
        return str(self._call("GET", f"/{container}", {"fields": "status,error_message"}).get("status", ""))

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        """Create (or reuse) the part's container and publish it once; see the module docstring."""
        kept = self.kv.kv_get(self._container_key(post))
        container = str(kept) if kept else None
        status = self._status(container) if container else ""
        if status == "PUBLISHED":
            found = self._find(post, prepared)
            if found is None:
                raise Transient("threads: the container is published but its post is not listed yet")
            return found
        if container is None or status in ("EXPIRED", "ERROR"):
            container = self._new_container(post)
            status = self._status(container) if post.image is not None else "FINISHED"
        if status == "IN_PROGRESS":
            raise Transient(f"threads: container {container} is still being processed (the image is fetched)")
        media_id = str(self._call("POST", f"/{self.user_id}/threads_publish", {"creation_id": container},
                                  write=True)["id"])
        self._read_quota()
        return PostRef(self.platform, media_id, self._permalink(media_id))

    def _permalink(self, media_id: str) -> str:
        try:
            answer = self._call("GET", f"/{media_id}", {"fields": "permalink"})
        except PublishError:
            answer = {}
        return str(answer.get("permalink") or f"https://www.threads.net/post/{media_id}")  # omitted sometimes

    def _read_quota(self) -> None:
        """Ask ``threads_publishing_limit`` (best effort: a failed look keeps the last answer)."""
        try:
            data = self._call("GET", f"/{self.user_id}/threads_publishing_limit",
                              {"fields": "quota_usage,config"})["data"][0]
            total, window = int(data["config"]["quota_total"]), int(data["config"]["quota_duration"])
            used = int(data.get("quota_usage") or 0)
        except (PublishError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.info("threads.quota_unknown", extra={"account": self.settings.account, "error": str(exc)})
            return
        # A moving window: when the oldest post leaves it is not said, so the full window is assumed.
        self._quota = Quota(max(0, total - used), total, datetime.now(UTC) + timedelta(seconds=window))

    def _find(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """The account's post (or reply) with exactly this text since the part was prepared, newest first."""
        since = int(prepared.get("since") or 0) - LOOKBACK
        edge = "replies" if post.reply_to else "threads"
        answer = self._call("GET", f"/{self.user_id}/{edge}",
                            {"fields": "id,text,timestamp,permalink", "since": max(since, 0), "limit": 100})
        for item in answer.get("data") or []:
            if item.get("text") == post.text:
                media_id = str(item["id"])
                return PostRef(self.platform, media_id,
                               str(item.get("permalink") or f"https://www.threads.net/post/{media_id}"))
        return None

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """The post if the kept container was published; None when publishing again is safe (the next
        :meth:`publish` reuses a container that is not published)."""
        kept = self.kv.kv_get(self._container_key(post))
        if not kept or self._status(str(kept)) != "PUBLISHED":
            return None
        return self._find(post, prepared)

    def delete(self, ref: PostRef) -> bool:
        try:
            self._call("DELETE", f"/{ref.id}", write=True)
        except Refused as exc:
            if exc.code == MISSING:
                return False
            raise
        return True

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        raise NotSupported("threads: the API offers no edit of a published post")

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


# --- error translation -------------------------------------------------------------------------------
def _network_error(exc: BaseException, write: bool) -> PublishError:
    import requests
    from urllib3.exceptions import NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError):
        return Transient(f"threads: could not connect ({detail}); nothing was sent")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return Permanent(f"threads: invalid URL ({detail}): check THREADS_API_BASE_URL")
    if write:
        return Ambiguous(f"threads: no answer after the request was sent ({detail})")
    return Transient(f"threads: no answer ({detail})")


def _answer_error(reply: requests.Response) -> PublishError:
    status = reply.status_code
    try:
        error = reply.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code, subcode = error.get("code"), error.get("error_subcode")
    said = f"{status} code {code}: {error.get('message') or reply.text[:200]}"
    if status == 429 or code in RATE_LIMIT_CODES:
        retry_at = datetime.now(UTC) + timedelta(seconds=_retry_after(reply))
        return RateLimited(f"threads: rate limited ({said}); retry at {retry_at.isoformat()}",
                           retry_at=retry_at, status=status)
    if code == 190 or status in (401, 403):
        return Permanent(f"threads: the token was refused ({said}): {CREDENTIALS_HINT}", status=status)
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return Transient(f"threads: server error ({said})", status=status)
    return Refused(f"threads: the request was refused ({said})", status=status, code=code, subcode=subcode)


def _retry_after(reply: requests.Response) -> float:
    try:
        return max(1.0, float(reply.headers.get("Retry-After", "")))
    except ValueError:
        return float(DEFAULT_RATE_WAIT)


ADAPTER = ThreadsAdapter
