"""The webhook server: a CMS says "published", crosspost queues a job and answers 202.

Endpoints (the OpenAPI 3.0 document below, served at ``GET /openapi.json``, is the reference)::

    POST /hooks/ghost       Ghost post.published / post.published.edited   X-Ghost-Signature
    POST /hooks/wordpress   a WordPress REST post object                    X-Crosspost-Signature + -Timestamp
    POST /hooks/generic     {title, url, summary, tags, body, image}        X-Crosspost-Signature + -Timestamp
    GET  /jobs/{id}         the job as JSON (Authorization: Bearer <CROSSPOST_API_TOKEN>; 404 when unset)
    GET  /healthz           {"ok": true, "database": "ok"} once the store answers
    GET  /openapi.json      this API, described

What a hook does, in order: refuse a body over the size cap (413, from Content-Length and again while
reading, never reading more than the cap + 1 bytes; 16 MiB unless ``CROSSPOST_WEBHOOK_MAX_BODY`` says
otherwise, because Ghost 6 sends every saved revision of a post: 1.4 MB for a 37 KB essay), a body not
complete within ``body_timeout`` seconds of the headers (408, and the connection is closed), a content
type other than JSON (415), a bad or stale signature (401, see :mod:`bot.signatures`); parse the JSON
into an Article with the loaders of :mod:`bot.load` (400 with the reason for anything unusable, never a
500), dropping the bulky fields the loader never reads first; apply the publishing policy
of :mod:`bot.policy`: an article its source says is not published (Ghost ``status`` other than
``published``, WordPress ``status`` other than ``publish``, generic ``status``/``draft``) is answered
200 ``{"ignored": reason, "cancelled": [...]}`` and its queued jobs are cancelled, one without a valid
canonical link 422; then commit a job to the store *before* answering 202 ``{"job", "state", "run_at",
"article_key"}``. The job's dedupe key is the article key, so a CMS retry or a second delivery answers
200 with the job that already exists.

Every refused delivery (size, content type, signature, unreadable payload) is one ``webhook refused``
log line with ``reason``, ``hook`` and ``remote``, and is counted in :mod:`bot.counters` as
``webhook_refused{reason=...}``.

Ghost specifics: ``post.unpublished`` / ``post.deleted`` (and the ``page.`` forms) cancel the post's
queued job; other events than ``post.published`` / ``page.published`` (and their ``.edited``
forms) are acknowledged with 200 ``{"ignored": …}``; an ``.edited`` event never queues anything: it
answers 200 with the job of the original publication, or ``ignored`` when there is none (an edit of a
post published before crosspost was listening is not news). The job of a Ghost post is also
remembered under its post id, so an edit that changes the post's URL still finds it.

``GET /jobs/{id}`` has its own read token, ``CROSSPOST_API_TOKEN``, never the signing secret: the
secret is shared with the CMS and signs; a token that only reads can be handed to a dashboard. Without
a token the endpoint is off and answers 404 saying so (not 401: no credential would help).

Nothing here fetches anything. A WordPress post sent without ``_embed`` names its tags and image by id
only: the job keeps those lookups and the worker does them. The article's image URL is only stored;
the adapters fetch it later through :func:`bot.fetch.fetch`, whose guard refuses internal addresses,
so a signed payload cannot make crosspost reach into the network it runs in.

Store calls block, so they (and parsing, which may chew on a megabyte of HTML) run in Starlette's
thread pool; the event loop only moves bytes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.article import Article
from bot.counters import count
from bot.errors import ConfigError, InputError
from bot.feeds import queue_targets
from bot.policy import BadCanonicalLink, check_publishable, publication_state, unpublished_reason
from bot.signatures import (
    GHOST_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_crosspost,
    verify_ghost,
)
from bot.store import Ingest, Job, Store, StoreError
from bot.store.models import JOB_STATES

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The default cap on a webhook body (16 MiB): Ghost 6 puts up to 25 full revisions of a post in it."""
MAX_BODY_ENV = "CROSSPOST_WEBHOOK_MAX_BODY"
MAX_STORED_BODY_CHARS = 50_000
"""A queued article keeps at most this much body text (cut at a paragraph): 100 thread parts of 500."""
INLINE_BODY_BYTES = 64 * 1024
"""A body up to this size is read in the event loop (well under a millisecond of CPU); longer ones, up to a
1.4 MB Ghost post with its HTML, in the thread pool, so one long article never holds up the others."""
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}

SECRET_ENV = "CROSSPOST_WEBHOOK_SECRET"
INSECURE_ENV = "CROSSPOST_WEBHOOK_INSECURE"
API_TOKEN_ENV = "CROSSPOST_API_TOKEN"
DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a client has, once its headers are in, to send the whole body (1 MiB at >= 35 KB/s)."""

GHOST_PUBLISH_EVENTS = frozenset(
    {"post.published", "post.published.edited", "page.published", "page.published.edited"}
)
GHOST_WITHDRAW_EVENTS = frozenset({"post.unpublished", "post.deleted", "page.unpublished", "page.deleted"})
"""Ghost events that take a post back: its queued job is cancelled, and its posts are retracted where
on_unpublish = "delete"."""
WORDPRESS_PUBLISHED = "publish"
_MAX_JOB_ID = 2**63 - 1  # larger ids cannot exist (BIGINT / SQLite INTEGER); asking must not crash

if TYPE_CHECKING:  # bot.config pulls in the composer; only its type is needed here
    from bot.config import Settings

log = logging.getLogger("crosspost.webhook")


def parse_body_limit(raw: str | None) -> int:
    """``CROSSPOST_WEBHOOK_MAX_BODY`` in bytes: ``16777216``, ``512k``, ``16MiB``; unset: the default.

    Raises ConfigError below 64 KiB (no real post fits) or above 256 MiB (the body is held in memory).
    """
    import re

    if raw is None or not raw.strip():
        return MAX_BODY_BYTES
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", raw)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ConfigError(f"{MAX_BODY_ENV}={raw!r} is not a size like 16777216, 512KiB or 16MiB")
    size = int(match.group(1)) * _SIZE_UNITS[unit]
    if not 64 * 1024 <= size <= 256 * 1024**2:
        raise ConfigError(f"{MAX_BODY_ENV}={raw!r} must be between 64KiB and 256MiB")
    return size


class _Reject(Exception):
    """Stop handling a request and answer ``status`` with ``{"error": message}``; ``reason`` is the
    refusal's class for the log and the counter (size, content_type, signature, payload)."""

    def __init__(self, status: int, message: str, reason: str = "payload") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def _refused(kind: str, remote: str, exc: _Reject) -> None:
    """The one log line and the count of a refused delivery."""
    count("webhook_refused", reason=exc.reason)
    log.warning(
        "webhook refused",
        extra={"reason": exc.reason, "status": exc.status, "hook": kind, "remote": remote, "detail": exc.message},
    )


@dataclass(frozen=True)
class _Outcome:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _job_reply(job: Job) -> dict[str, Any]:
    return {
        "job": job.id,
        "state": job.state,
        "run_at": job.run_at.isoformat(),
        "article_key": job.article_key,
    }


def job_json(job: Job) -> dict[str, Any]:
    """A job as the JSON ``GET /jobs/{id}`` returns."""
    return {
        "id": job.id,
        "state": job.state,
        "article_key": job.article_key,
        "article": job.article,
        "targets": list(job.targets),
        "run_at": job.run_at.isoformat(),
        "attempts": job.attempts,
        "last_error": job.last_error,
        "worker": job.worker,
        "lease_until": job.lease_until.isoformat() if job.lease_until else None,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


# ---------------------------------------------------------------------------- payload -> Article


def _parse_json(body: bytes | bytearray) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Reject(
            400, f"body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Reject(
            400, f"body is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, 100k nested arrays
        raise _Reject(400, f"body is not usable JSON: {type(exc).__name__}") from None


@dataclass(frozen=True)
class _Step:
    """A delivery read and judged, waiting for the store: to queue (``stored`` is the job's article), or
    to withdraw (``withdrawn`` says why)."""

    kind: str
    article: Article
    stored: dict[str, Any]
    is_edit: bool = False
    withdrawn: str | None = None


@dataclass(frozen=True)
class _Parsed:
    article: Article | None  # None: acknowledged but ignored (``ignored`` says why)
    ignored: str | None = None
    is_edit: bool = False
    withdrawn: bool = False  # the CMS took the article back: cancel its queued job, post nothing


def _ghost(data: Any) -> _Parsed:
    from bot.load import from_ghost
    from bot.load.jsonfmt import slim_ghost_post

    post = data.get("post") if isinstance(data, dict) else None
    if not isinstance(post, dict):
        raise _Reject(400, 'not a Ghost webhook payload: expected {"post": {"current": {...}}}')
    event = data.get("event")
    if isinstance(event, str) and event in GHOST_WITHDRAW_EVENTS:  # a deleted post is only in ``previous``
        return _Parsed(_ghost_withdrawn(post, event), f"Ghost {event}: nothing to post", withdrawn=True)
    post.pop("previous", None)  # an edit's old values: only the event name matters here
    if isinstance(post.get("current"), dict):
        post["current"] = slim_ghost_post(post["current"])
    if isinstance(event, str) and event not in GHOST_PUBLISH_EVENTS:
        return _Parsed(None, f"Ghost event {event!r} is not a publish event; nothing to post")
    article = from_ghost(data, origin="Ghost payload")
    return _Parsed(article, is_edit=isinstance(event, str) and event.endswith(".edited"))


def _ghost_withdrawn(post: dict[str, Any], event: str) -> Article:
    """Enough of an unpublished or deleted Ghost post to find its job: link, post id, state.

    An unpublished post comes in ``current`` (its ``url`` now a /p/<uuid>/ preview on the same host); a
    deleted one has an empty ``current`` and the post in ``previous``.
    """
    from bot.load.common import http_url

    current, previous = post.get("current"), post.get("previous")
    source = current if isinstance(current, dict) and current else previous
    source = source if isinstance(source, dict) else {}
    post_id = source.get("id")
    state = "trashed" if event.endswith(".deleted") else publication_state(status=source.get("status"))
    return Article(
        url=http_url(source.get("canonical_url")) or http_url(source.get("url")),
        source_id=f"ghost:{post_id}" if isinstance(post_id, str) and post_id else None,
        status=state or "draft",
    )


def _reference(url: Any, post_id: Any, prefix: str) -> Article:
    link = url if isinstance(url, str) and url.startswith(("http://", "https://")) else None
    ident = f"{prefix}:{post_id}" if isinstance(post_id, str | int) and post_id != "" else None
    return Article(url=link, source_id=ident)


def _withdrawn(article: Article, reason: str) -> _Parsed:
    if article.url is None and article.source_id is None:
        raise _Reject(400, "an unpublish event must name the post: its url (or post id)")
    return _Parsed(article, reason, withdrawn=True)


def _wordpress(data: Any) -> _Parsed:
    from bot.load import from_wordpress

    if not isinstance(data, dict):
        raise _Reject(400, f"not a WordPress post: expected a JSON object, got {type(data).__name__}")
    if data.get("deleted") is True:  # the REST API's answer to DELETE: {"deleted": true, "previous": post}
        previous = data.get("previous")
        previous = previous if isinstance(previous, dict) else data
        return _withdrawn(replace(_reference(previous.get("link"), previous.get("id"), "wp"), status="trashed"),
                          "WordPress post deleted: nothing to post")
    return _Parsed(from_wordpress(data, origin="WordPress payload"))


def _generic(data: Any) -> _Parsed:
    from bot.load import from_generic

    if not isinstance(data, dict):
        raise _Reject(
            400, f"not an article: expected a JSON object {{title, url, ...}}, got {type(data).__name__}"
        )
    if data.get("event") == "unpublished":
        return _withdrawn(_reference(data.get("url"), data.get("source_id"), "generic"),
                          "unpublished: nothing to post")
    return _Parsed(from_generic(data, origin="JSON article"))


_URL_FIELDS = {"ghost": "post.current.url or canonical_url", "wordpress": "link", "generic": "url"}


def _check_storable(stored: Any) -> None:
    """Refuse text the database cannot hold: unpaired surrogates (not UTF-8) and NUL (PostgreSQL).

    ``stored`` is the job's article (:func:`job_article`); every string in it, keys too, is looked at."""
    if isinstance(stored, str):
        if "\0" in stored:
            raise _Reject(400, "the article contains a NUL character")
        if not stored.isascii():
            try:
                stored.encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject(400, "the article contains invalid Unicode (an unpaired surrogate escape)") from None
    elif isinstance(stored, dict):
        for key, value in stored.items():
            _check_storable(key)
            _check_storable(value)
    elif isinstance(stored, list | tuple):
        for value in stored:
            _check_storable(value)


# ---------------------------------------------------------------------------- the receiver


class _Receiver:
    """The state the endpoints share: store, secret, targets, delay, read token, body deadline."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        secret: str | None,
        targets: list[str],
        delay_seconds: float,
        *,
        api_token: str | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.max_body = max_body
        self.store = store
        self.settings = settings
        self.secret = secret
        self.targets = targets
        self.delay = timedelta(seconds=delay_seconds)
        self.api_token = api_token
        self.body_timeout = body_timeout

    # -- the pieces, blocking; run in the thread pool

    def verify(self, kind: str, body: bytes | bytearray, headers: dict[str, str | None]) -> None:
        if self.secret is None:
            return
        if kind == "ghost":
            verify_ghost(self.secret, body, headers.get(GHOST_HEADER))
        else:
            verify_crosspost(self.secret, body, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER))

    def handle(self, kind: str, body: bytes | bytearray, headers: dict[str, str | None], remote: str = "") -> _Outcome:
        """Verify, parse, commit: everything after the body has been read; refusals logged and counted."""
        step = self._judge(kind, body, headers, remote)
        return step if isinstance(step, _Outcome) else self._store(step)

    async def handle_inline(
        self, kind: str, body: bytes | bytearray, headers: dict[str, str | None], remote: str = ""
    ) -> _Outcome:
        """:meth:`handle` for a small body, in the event loop: a new article's job is queued through the
        store's group commit without a thread of its own; withdrawals and edits go to the thread pool."""
        step = self._judge(kind, body, headers, remote)
        if isinstance(step, _Outcome):
            return step
        if step.withdrawn is not None or step.is_edit:
            return await run_in_threadpool(self._store, step)
        try:
            job, created = await self.store.enqueue_aliased_async(self._ingest(step))
            if job is not None and not created:  # a redelivery: the article may have changed meanwhile
                job = await run_in_threadpool(self._edited, step, job)
        except StoreError as exc:
            return self._unavailable(step, exc)
        return self._queued(step, job, created)

    def _judge(
        self, kind: str, body: bytes | bytearray, headers: dict[str, str | None], remote: str
    ) -> _Outcome | _Step:
        """:meth:`_read`, with a refusal logged, counted and made the answer."""
        try:
            return self._read(kind, body, headers)
        except _Reject as exc:
            _refused(kind, remote, exc)
            return _Outcome(exc.status, {"error": exc.message})

    def _read(self, kind: str, body: bytes | bytearray, headers: dict[str, str | None]) -> _Outcome | _Step:
        """Verify, parse and judge the payload (CPU only, no store): an answer already, or what to store."""
        try:
            self.verify(kind, body, headers)
        except SignatureError as exc:
            raise _Reject(401, str(exc), "signature") from None
        try:
            parsed = _READERS[kind](_parse_json(body))
        except BadCanonicalLink as exc:
            raise _Reject(422, str(exc), "link") from None
        except InputError as exc:
            raise _Reject(400, str(exc)) from None
        except _Reject:
            raise
        except Exception as exc:  # a loader bug on odd input is still the input's fault to the sender
            log.exception("webhook payload crashed the loader", extra={"hook": kind})
            raise _Reject(400, f"cannot read the payload ({type(exc).__name__})") from None
        if parsed.article is None:
            log.info("webhook ignored", extra={"hook": kind, "reason": parsed.ignored})
            return _Outcome(200, {"ignored": parsed.ignored})
        article = parsed.article
        withdrawn = parsed.ignored if parsed.withdrawn else unpublished_reason(article)
        if withdrawn is not None:
            return _Step(kind, article, {}, is_edit=parsed.is_edit, withdrawn=f"{withdrawn}; nothing to post")
        try:
            check_publishable(article)
        except BadCanonicalLink as exc:
            raise _Reject(422, f"{exc} (from {_URL_FIELDS[kind]})", "link") from None
        stored = job_article(article)
        _check_storable(stored)
        return _Step(kind, article, stored, is_edit=parsed.is_edit)

    def _store(self, step: _Step) -> _Outcome:
        """The store's part of a delivery, blocking: withdraw the article, or queue it (or find its job)."""
        if step.withdrawn is not None:
            return self.withdraw(step.kind, step.article, step.withdrawn)
        try:
            job, created = self.commit(step)
        except StoreError as exc:
            return self._unavailable(step, exc)
        return self._queued(step, job, created)

    def _unavailable(self, step: _Step, exc: StoreError) -> _Outcome:
        log.error("webhook could not queue the job", extra={"hook": step.kind, "error": str(exc)})
        return _Outcome(503, {"error": "the job store is unavailable; retry later"}, {"Retry-After": "30"})

    def _queued(self, step: _Step, job: Job | None, created: bool) -> _Outcome:
        if job is None:
            return _Outcome(200, {"ignored": "an edit of an article crosspost never queued; nothing to post"})
        log.info(
            "webhook job queued" if created else "webhook job exists",
            extra={"hook": step.kind, "article": step.article.key, "job": job.id, "url": step.article.url},
        )
        if created:
            return _Outcome(202, _job_reply(job), {"Location": f"/jobs/{job.id}"})
        return _Outcome(200, _job_reply(job))

    def withdraw(self, kind: str, article: Article, reason: str) -> _Outcome:
        """The source says the article is not (or no longer) published: cancel its queued jobs, and
        retract posts already out where on_unpublish = "delete" (a ``delete`` job, see
        :func:`bot.lifecycle.handle_unpublish`). Answers 200 ``{"ignored": reason, "cancelled": [job ids],
        "article_key", "delete_job": id or null}``. A job already running is not stopped."""
        from bot.lifecycle import handle_unpublish

        try:
            cancelled = cancel_queued_jobs(self.store, article)
            known = self._known_job(kind, article)
            key = known.article_key if known is not None else article.key
            job = handle_unpublish(self.store, self.settings, key, targets=self.targets)
        except StoreError as exc:
            log.error("webhook could not record the unpublish", extra={"hook": kind, "error": str(exc)})
            return _Outcome(503, {"error": "the job store is unavailable; retry later"}, {"Retry-After": "30"})
        delete_job = job.id if job else None
        log.info("webhook unpublished",
                 extra={"hook": kind, "reason": reason, "cancelled": cancelled, "delete_job": delete_job})
        return _Outcome(200, {"ignored": reason, "cancelled": cancelled, "article_key": key, "delete_job": delete_job})

    def _known_job(self, kind: str, article: Article) -> Job | None:
        """The job this source post was queued as (Ghost: by post id, so a changed URL still finds it)."""
        alias = source_alias(kind, article)
        if alias is not None:
            known = self.store.kv_get(alias)
            if isinstance(known, int) and not isinstance(known, bool):
                job = self.store.get_job(known)
                if job is not None:
                    return job
        return None

    def commit(self, step: _Step) -> tuple[Job | None, bool]:
        """Queue the article or find its job, in one store transaction; returns ``(job, created)``, job
        None for an unknown edit.

        A newer version of an article already known (an edit, a WordPress update, a redelivery) goes to
        :func:`bot.lifecycle.apply_edit`: a queued job gets the new text, a published one is updated
        where on_edit = "update".
        """
        job, created = self.store.enqueue_aliased(self._ingest(step))
        if job is None or created:
            return job, created
        return self._edited(step, job), False

    def _ingest(self, step: _Step) -> Ingest:
        return Ingest(
            alias=source_alias(step.kind, step.article),
            create=not step.is_edit,
            article=step.stored,
            article_key=step.article.key,
            targets=self.targets,
            run_at=datetime.now(UTC) + self.delay,
            dedupe_key=step.article.key,
        )

    def _edited(self, step: _Step, job: Job) -> Job:
        from bot.lifecycle import apply_edit

        edited: Job = apply_edit(self.store, self.settings, step.article, job, targets=self.targets)
        return edited

    # -- the endpoints

    def hook(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for one kind of payload ("ghost", "wordpress", "generic")."""

        async def endpoint(request: Request) -> Response:
            return await self._hook(kind, request)

        return endpoint

    async def _hook(self, kind: str, request: Request) -> Response:
        remote = f"{request.client.host}:{request.client.port}" if request.client else ""
        try:
            body = await _read_body(request, self.max_body, self.body_timeout)
        except _Reject as exc:
            _refused(kind, remote, exc)
            return _error(exc.status, exc.message, {"Connection": "close"} if exc.status in (408, 413) else None)
        headers: dict[str, str | None] = {
            name: request.headers.get(name) for name in (GHOST_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER)
        }
        if len(body) <= INLINE_BODY_BYTES:
            outcome = await self.handle_inline(kind, body, headers, remote)
        else:  # a long article's HTML takes a while to read: off the event loop
            outcome = await run_in_threadpool(self.handle, kind, body, headers, remote)
        return JSONResponse(outcome.body, status_code=outcome.status, headers=outcome.headers)

    async def job(self, request: Request) -> Response:
        if self.api_token is None:
            return _error(404, f"GET /jobs is off: set {API_TOKEN_ENV} on the server to read jobs")
        if not _bearer_ok(request.headers.get("authorization"), self.api_token):
            return _error(
                401,
                f"GET /jobs needs 'Authorization: Bearer <{API_TOKEN_ENV}>'",
                {"WWW-Authenticate": 'Bearer realm="crosspost"'},
            )
        job_id = request.path_params["job_id"]
        if not 0 < job_id <= _MAX_JOB_ID:
            return _error(404, f"no job {job_id}")
        try:
            job = await run_in_threadpool(self.store.get_job, job_id)
        except StoreError as exc:
            log.error("job lookup failed", extra={"job": job_id, "error": str(exc)})
            return _error(503, "the job store is unavailable; retry later", {"Retry-After": "30"})
        if job is None:
            return _error(404, f"no job {job_id}")
        return JSONResponse(job_json(job))

    async def healthz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.store.kv_get, "webhook:healthz")
        except Exception as exc:  # any failure here means "not healthy", whatever raised it
            log.error("health check: database unavailable", extra={"error": str(exc)})
            return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})


_READERS: dict[str, Callable[[Any], _Parsed]] = {
    "ghost": _ghost,
    "wordpress": _wordpress,
    "generic": _generic,
}


def job_article(article: Article) -> dict[str, Any]:
    """The article as a job stores it, with the REST lookups a non-embedded WordPress post still needs:
    the worker does them (:func:`bot.load.wordpress.resolve_wordpress`), so the hook answers at once."""
    from bot.load.jsonfmt import WP_PENDING

    stored = article.to_dict()
    if len(article.body) > MAX_STORED_BODY_CHARS:
        cut = article.body.rfind("\n\n", 0, MAX_STORED_BODY_CHARS)
        stored["body"] = article.body[: cut if cut > 0 else MAX_STORED_BODY_CHARS]
    if article.extra.get(WP_PENDING):
        stored[WP_PENDING] = article.extra[WP_PENDING]
    return stored


def _host(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).netloc.lower() or None
    except ValueError:
        return None


def cancel_queued_jobs(store: Store, article: Article) -> list[int]:
    """Cancel the queued publish and update jobs of ``article``; returns their ids.

    A job is the article's when it has the same article key (the canonical link's hash, also the
    webhook's dedupe key), or the same source post id (``ghost:<id>``, ``wp:<id>``) on the same host:
    a post taken back to draft no longer has its public link (Ghost: /p/<uuid>/, WordPress: /?p=<id>).
    """
    host = _host(article.url)
    cancelled: list[int] = []
    for job in store.list_jobs():
        if job.state != "queued" or job.kind == "delete":  # a retraction queued earlier must still run
            continue
        same_post = (
            article.source_id is not None
            and job.article.get("source_id") == article.source_id
            and host is not None
            and _host(job.article.get("url")) == host
        )
        if (job.article_key == article.key or same_post) and store.cancel(job.id):
            cancelled.append(job.id)
    return cancelled


def source_alias(kind: str, article: Article) -> str | None:
    """The key a Ghost post's job is also remembered under: site host + Ghost post id.

    Only for Ghost, whose post ids are globally unique object ids; the host is part of the key anyway
    so two sites can never collide. WordPress ids (small integers) and generic ids are not used.
    """
    if kind != "ghost" or not article.source_id or not article.url:
        return None
    return f"webhook:source:{urlsplit(article.url).netloc.lower()}:{article.source_id}"


def _bearer_ok(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, the scheme in any case (RFC 7235), the token compared in constant time."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace"))


async def _read_body(
    request: Request, limit: int = MAX_BODY_BYTES, timeout: float = DEFAULT_BODY_TIMEOUT
) -> bytearray:
    """The body, after the size and content-type checks; never reads more than ``limit`` + 1 bytes.

    One growing buffer, not a list of chunks joined at the end: a 16 MiB body is held once. The whole
    body must be in within ``timeout`` seconds (408 otherwise): a client that trickles a byte a second
    would otherwise hold a connection and a task for as long as it likes.
    """
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise _Reject(400, f"invalid Content-Length {length!r}", "size")
        if int(length) > limit:
            raise _Reject(413, f"body of {int(length):,} bytes is over the {limit:,}-byte limit", "size")
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise _Reject(415, f"Content-Type must be application/json, not {media or 'missing'}", "content_type")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                if len(body) + len(chunk) > limit:
                    raise _Reject(413, f"body is over the {limit:,}-byte limit", "size")
                body += chunk
    except TimeoutError:
        raise _Reject(408, f"the body did not arrive within {timeout:g} s ({len(body):,} bytes received)",
                      "timeout") from None
    except ClientDisconnect:  # the answer goes nowhere; it only keeps the disconnect out of the error log
        raise _Reject(400, "the client disconnected before sending its whole body", "disconnect") from None
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) as JSON like every other error."""
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail, dict(exc.headers) if exc.headers else None)


async def _openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


def create_app(
    settings: Settings,
    store: Store,
    *,
    secret: str | None,
    insecure: bool = False,
    delay_seconds: float = 0.0,
    targets: Sequence[str] | None = None,
    api_token: str | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """The webhook ASGI app (serve it with uvicorn); the caller owns ``store`` and closes it.

    ``secret`` is ``CROSSPOST_WEBHOOK_SECRET``; without one, ``insecure=True``
    (``CROSSPOST_WEBHOOK_INSECURE=1``) must say that unsigned requests are wanted (development only),
    else ConfigError; both at once is a ConfigError too (a secret someone set must never be silently
    ignored). Jobs go to ``targets`` (default: every platform with credentials in ``settings``) at now +
    ``delay_seconds``. ``api_token`` (``CROSSPOST_API_TOKEN``) opens ``GET /jobs``; it may not be the secret.
    A hook's body must arrive within ``body_timeout`` seconds.
    Bodies over ``max_body_bytes`` are refused (413).
    """
    secret = secret or None
    api_token = api_token or None
    if secret is None and not insecure:
        raise ConfigError(
            f"{SECRET_ENV} is not set: set it to the secret you gave your CMS's webhook, "
            f"or set {INSECURE_ENV}=1 to accept unsigned requests (development only)"
        )
    if secret is not None and insecure:
        raise ConfigError(
            f"{SECRET_ENV} is set and {INSECURE_ENV}=1 would ignore it: unset one of them "
            f"(the insecure mode is for development without a secret)"
        )
    if api_token is not None and secret is not None and hmac.compare_digest(api_token, secret):
        raise ConfigError(
            f"{API_TOKEN_ENV} must not be the signing secret {SECRET_ENV}: give GET /jobs a token of its own"
        )
    if not delay_seconds >= 0:
        raise ConfigError(f"the webhook delay must be >= 0 seconds, not {delay_seconds:g}")
    if not body_timeout > 0:
        raise ConfigError(f"the webhook body timeout must be > 0 seconds, not {body_timeout:g}")
    platforms = queue_targets(settings, targets)
    if insecure:
        log.warning("webhook accepts UNSIGNED requests", extra={"flag": INSECURE_ENV})
    receiver = _Receiver(
        store, settings, secret, platforms, delay_seconds, api_token=api_token, body_timeout=body_timeout,
        max_body=max_body_bytes,
    )
    routes = [
        Route("/hooks/ghost", receiver.hook("ghost"), methods=["POST"]),
        Route("/hooks/wordpress", receiver.hook("wordpress"), methods=["POST"]),
        Route("/hooks/generic", receiver.hook("generic"), methods=["POST"]),
        Route("/jobs/{job_id:int}", receiver.job, methods=["GET"]),
        Route("/healthz", receiver.healthz, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
    from bot.web.app import extend  # /metrics and the dashboard: bot/web/

    return extend(Starlette(routes=routes, exception_handlers={HTTPException: _http_error}), settings, store)


# ---------------------------------------------------------------------------- the OpenAPI document


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Malformed JSON, or not a recognisable payload.",
        401: "Missing, wrong or stale signature (or bearer token).",
        404: f"No such job, or GET /jobs is off ({API_TOKEN_ENV} is not set on the server).",
        408: "The body did not arrive within the body timeout (30 s by default); the connection is closed.",
        413: "Body over the size cap (16 MiB unless CROSSPOST_WEBHOOK_MAX_BODY says otherwise).",
        415: "Content-Type is not application/json.",
        422: "The article has no valid canonical link (an absolute http(s) URL with a valid host, no "
        "whitespace or control characters, at most 2,048 characters): nothing is queued.",
        503: "The job store is unavailable; retry later.",
    }
    return {str(s): {"description": reasons[s], "content": _json_content(_ref("Error"))} for s in statuses}


def _hook(summary: str, schema: str, headers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "operationId": f"hook_{schema.lower()}",
            "parameters": headers,
            "requestBody": {"required": True, "content": _json_content(_ref(schema))},
            "responses": {
                "202": {
                    "description": "Queued: a new job was committed.",
                    "headers": {"Location": {"schema": {"type": "string"}, "description": "/jobs/{id}"}},
                    "content": _json_content(_ref("Queued")),
                },
                "200": {
                    "description": "Already queued (a retry or an edit): the existing job; or ignored: "
                    "an event that is not a publication, or an article its source says is not published "
                    "(draft, scheduled, private, pending, trashed; an unpublish or delete event), whose "
                    "queued jobs are then cancelled (``cancelled``). Nothing is queued.",
                    "content": _json_content({"anyOf": [_ref("Queued"), _ref("Ignored")]}),
                },
                **_errors(400, 401, 408, 413, 415, 422, 503),
            },
        }
    }


_CROSSPOST_HEADERS = [
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "description": 'sha256=<hex HMAC-SHA256 of timestamp + "." + body, keyed with the webhook secret>',
        "schema": {"type": "string"},
    },
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "description": "Seconds since the epoch; refused when more than 5 minutes off.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
]
_NULLABLE_STRING = {"type": "string", "nullable": True}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "crosspost webhook",
        "version": "1",
        "description": (
            "Queue cross-posts from a CMS. Hooks are signed with the shared secret "
            "(CROSSPOST_WEBHOOK_SECRET); the server fetches nothing itself. A client must send its "
            "request headers within 10 s and its body within 30 s; idle keep-alive connections close "
            "after 5 s; connections over the cap (100) are answered 503 (all configurable, see "
            "crosspost serve --help)."
        ),
    },
    "paths": {
        "/hooks/ghost": _hook(
            "Ghost post.published (or .edited) webhook",
            "GhostWebhook",
            [
                {
                    "name": GHOST_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "sha256=<hex HMAC-SHA256 of body + t>, t=<milliseconds since the epoch>",
                    "schema": {"type": "string"},
                }
            ],
        ),
        "/hooks/wordpress": _hook("WordPress REST post object", "WordPressPost", _CROSSPOST_HEADERS),
        "/hooks/generic": _hook("A generic article", "GenericArticle", _CROSSPOST_HEADERS),
        "/jobs/{job_id}": {
            "get": {
                "summary": "A queued job and its state",
                "description": (
                    f"Authorization: Bearer <{API_TOKEN_ENV}> (the scheme in any case), a read token of its "
                    f"own: the signing secret is refused (401). Without {API_TOKEN_ENV} set on the server "
                    "the endpoint is off and answers 404 with an error that says so."
                ),
                "operationId": "get_job",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "job_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "responses": {
                    "200": {"description": "The job.", "content": _json_content(_ref("Job"))},
                    **_errors(401, 404, 503),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness and database check",
                "operationId": "healthz",
                "security": [],
                "responses": {
                    "200": {"description": "Healthy.", "content": _json_content(_ref("Health"))},
                    "503": {
                        "description": "The database does not answer.",
                        "content": _json_content(_ref("Health")),
                    },
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.0", "content": _json_content({"type": "object"})}
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    f"The read token {API_TOKEN_ENV} (never the signing secret); the scheme name in any "
                    f"case. Without {API_TOKEN_ENV} on the server, GET /jobs answers 404."
                ),
            }
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Queued": {
                "type": "object",
                "required": ["job", "state", "run_at", "article_key"],
                "properties": {
                    "job": {"type": "integer"},
                    "state": {"type": "string", "enum": list(JOB_STATES)},
                    "run_at": {"type": "string", "format": "date-time"},
                    "article_key": {"type": "string"},
                },
            },
            "Ignored": {
                "type": "object",
                "required": ["ignored"],
                "properties": {
                    "ignored": {"type": "string", "description": "Why nothing was queued."},
                    "cancelled": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "Queued jobs of this article now cancelled (the source took it back).",
                    },
                },
            },
            "Health": {
                "type": "object",
                "required": ["ok", "database"],
                "properties": {"ok": {"type": "boolean"}, "database": {"type": "string"}},
            },
            "Job": {
                "type": "object",
                "required": ["id", "state", "article_key", "article", "targets", "run_at", "attempts"],
                "properties": {
                    "id": {"type": "integer"},
                    "state": {"type": "string", "enum": list(JOB_STATES)},
                    "article_key": {"type": "string"},
                    "article": _ref("GenericArticle"),
                    "targets": {"type": "array", "items": {"type": "string"}},
                    "run_at": {"type": "string", "format": "date-time"},
                    "attempts": {"type": "integer"},
                    "last_error": _NULLABLE_STRING,
                    "worker": _NULLABLE_STRING,
                    "lease_until": {"type": "string", "format": "date-time", "nullable": True},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "GhostTag": {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "description": "Names starting with # are internal: no hashtag.",
                    },
                    "slug": {"type": "string"},
                    "visibility": {"type": "string"},
                },
            },
            "GhostPost": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "uuid": {"type": "string"},
                    "title": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "canonical_url": {"type": "string", "format": "uri", "nullable": True},
                    "custom_excerpt": _NULLABLE_STRING,
                    "excerpt": _NULLABLE_STRING,
                    "plaintext": _NULLABLE_STRING,
                    "html": _NULLABLE_STRING,
                    "feature_image": {"type": "string", "format": "uri", "nullable": True},
                    "feature_image_alt": _NULLABLE_STRING,
                    "tags": {"type": "array", "items": _ref("GhostTag")},
                    "status": {"type": "string"},
                    "published_at": {"type": "string", "format": "date-time", "nullable": True},
                },
            },
            "GhostWebhook": {
                "type": "object",
                "required": ["post"],
                "properties": {
                    "event": {"type": "string", "description": "post.published, post.published.edited, ..."},
                    "post": {
                        "type": "object",
                        "required": ["current"],
                        "properties": {"current": _ref("GhostPost"), "previous": {"type": "object"}},
                    },
                },
            },
            "Rendered": {"type": "object", "properties": {"rendered": {"type": "string"}}},
            "WordPressPost": {
                "type": "object",
                "description": "GET /wp-json/wp/v2/posts/<id>?_embed (tags: _embedded wp:term or tag_names)",
                "properties": {
                    "id": {"type": "integer"},
                    "link": {"type": "string", "format": "uri"},
                    "status": {"type": "string"},
                    "date_gmt": {"type": "string"},
                    "title": _ref("Rendered"),
                    "excerpt": _ref("Rendered"),
                    "content": _ref("Rendered"),
                    "tag_names": {"type": "array", "items": {"type": "string"}},
                    "_embedded": {"type": "object"},
                },
            },
            "GenericArticle": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "summary": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "body": {"type": "string"},
                    "image": {"type": "string", "format": "uri", "nullable": True},
                    "image_alt": _NULLABLE_STRING,
                    "lang": _NULLABLE_STRING,
                    "published_at": _NULLABLE_STRING,
                    "thread": {"type": "boolean", "nullable": True},
                },
            },
        },
    },
}
"""The API, written by hand (Starlette has no generator): what ``GET /openapi.json`` serves."""
