"""Mastodon through Mastodon.py 2.3.3: statuses, threads, one image with alt text, exactly once.

The client is built on first use, never in the constructor, with the settings that keep it safe in a
worker (checked against the Mastodon.py 2.3.3 source):

- ``ratelimit_method="throw"``: the default ``"wait"`` sleeps inside the call and retries forever;
- ``version_check_mode="created"`` with ``mastodon_version="4.3.0"``: with an explicit version the
  constructor asks the server nothing (``__version_check_tried`` is set, no ``/api/v1/instance``
  request, so a broken instance endpoint cannot send it into endless recursion), and ``media_post``'s
  ``verify_minimum_version("3.1.4", cached=True)`` is true, so uploads go to ``/api/v2/media``.
  (``"none"`` leaves the version at 1.0.0 and uploads on the deprecated ``/api/v1/media``.) Servers
  older than 3.1.4 have no v2 upload: images fail there with a 404.
- ``request_timeout=settings.timeout`` on every request.

Exactly once: every status carries the part's ``Idempotency-Key``. Mastodon remembers a key per account
for **one hour** and answers a repeated POST with the status it already made (creating nothing). So
:meth:`MastodonAdapter.reconcile` replays the POST with the same key while that window is surely open
(measured from :meth:`~MastodonAdapter.prepare`, which runs before the first attempt), and after it
looks the status up among the account's recent statuses (text compared after stripping the HTML).

Instance limits (:meth:`~MastodonAdapter.instance_limits`): ``GET /api/v2/instance`` ->
``configuration.statuses`` (``max_characters``, ``characters_reserved_per_url``,
``max_media_attachments``), falling back to ``/api/v1/instance`` (``configuration`` or the
``max_toot_chars`` of glitch/Pleroma forks) on 404; cached in the key/value store per instance URL
for 24 hours. :meth:`~MastodonAdapter.character_limit` and :meth:`~MastodonAdapter.url_weight` read it.

Error mapping (:func:`translate_error`; every message starts with ``mastodon:`` and carries what the
server said, never a credential):

=============================================================  =================================
exception                                                       becomes
=============================================================  =================================
MastodonRatelimitError (429; reset from X-RateLimit-Reset)      RateLimited(retry_at)
MastodonUnauthorizedError (401)                                 Permanent: check MASTODON_ACCESS_TOKEN
MastodonAPIError 403                                            Permanent: token lacks a scope / account
MastodonServerError and its 500/502/503/504 subclasses          Transient
MastodonAPIError 408 / 425                                      Transient
MastodonNotFoundError (404), other MastodonAPIError 4xx (422)   Permanent (status kept on the error)
MastodonAPIError without a status (2xx body not JSON)           Ambiguous
MastodonNetworkError / requests error, before sending:          Transient
  connection refused, connect timeout, DNS, proxy
MastodonNetworkError / requests error, after sending (or not    Ambiguous
  known): read timeout, connection reset/aborted, broken body,
  TLS failures other than a refused certificate
TLS certificate verification failed                             Permanent
MastodonReadTimeout                                             Ambiguous
requests InvalidURL / MissingSchema / InvalidSchema /           Permanent
  InvalidHeader / TooManyRedirects
MastodonVersionError, MastodonIllegalArgumentError,             Permanent
  MastodonIOError, MastodonFileNotFoundError,
  MastodonMalformedEventError, ValueError
MastodonError (anything else)                                   Ambiguous
=============================================================  =================================
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from adapters.base import AccountSettings, ImageData, KeyValue, PostRef, PostRequest, Quota
from bot import __version__
from bot.errors import Ambiguous, ConfigError, MediaPending, Permanent, PublishError, RateLimited, Transient
from bot.fediverse import ServerFacts, is_length_refusal, rule_for
from bot.logs import get_logger
from bot.redact import redact_error

log = get_logger("crosspost.mastodon")

MASTODON_VERSION = "4.3.0"  # what we tell Mastodon.py the server runs (see the module docstring)
VISIBILITIES = ("public", "unlisted", "private", "direct")
IDEMPOTENCY_WINDOW = timedelta(hours=1)  # how long Mastodon remembers an Idempotency-Key
IDEMPOTENCY_MARGIN = timedelta(minutes=5)  # clock skew and time the first attempt spent in flight
INSTANCE_TTL = 24 * 3600.0  # seconds an instance's limits stay cached
MEDIA_TTL = 6 * 3600.0  # an uploaded, unattached image is reused this long (Mastodon keeps it ~1 day)
MEDIA_POLL = 1.0  # seconds between asks whether an upload is processed (the publisher does the waiting)
RECONCILE_PAGES = 5  # pages of 40 statuses searched after the idempotency window
DEFAULT_LIMIT = 500

T = TypeVar("T")


class _NotAnswered(Exception):
    """A discovery document did not come back usable (status, body)."""


@dataclass(frozen=True)
class InstanceLimits:
    """What an instance says about statuses; ``max_characters`` is None when it says nothing."""

    max_characters: int | None
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4


class MastodonAdapter:
    """One Mastodon account (``MASTODON_API_BASE_URL`` + ``MASTODON_ACCESS_TOKEN``)."""

    platform: ClassVar[str] = "mastodon"
    separate_quotas: ClassVar[frozenset[str]] = frozenset({"delete"})  # deletes are limited apart; edits are not

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self._settings = settings
        self._kv = kv
        base_url = settings.base_url or settings.credentials.get("MASTODON_API_BASE_URL") or ""
        self._base_url = base_url.rstrip("/")
        self._client: Any = None
        self._account_id: str | None = None
        self._quota: Quota | None = None  # what the last POST /api/v1/statuses answer said
        self._delete_quota: Quota | None = None  # what the last DELETE /api/v1/statuses/:id answer said
        self._facts: ServerFacts | None = None
        self._http: Any = None  # a requests.Session for the discovery GETs

    # --- the client -----------------------------------------------------------------------------
    @property
    def _api(self) -> Any:
        """The Mastodon.py client, built (without any request) on first use."""
        if self._client is None:
            token = self._settings.credentials.get("MASTODON_ACCESS_TOKEN", "")
            if not self._base_url:
                raise ConfigError(f"mastodon: account {self._settings.account!r} has no instance URL: "
                                  "set MASTODON_API_BASE_URL (e.g. https://mastodon.social)")
            if not token:
                raise ConfigError(f"mastodon: account {self._settings.account!r} has no access token: "
                                  "set MASTODON_ACCESS_TOKEN")
            from mastodon import Mastodon

            self._client = Mastodon(
                api_base_url=self._base_url,
                access_token=token,
                ratelimit_method="throw",
                request_timeout=self._settings.timeout,
                version_check_mode="created",
                mastodon_version=MASTODON_VERSION,
                user_agent=f"crosspost/{__version__}",
            )
        return self._client

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call; translate what it raises (with the reset time and no secret in the text)."""
        import requests
        from mastodon.errors import MastodonError, MastodonRatelimitError

        try:
            return method(*args, **kwargs)
        except (MastodonError, requests.RequestException, ValueError) as exc:
            if isinstance(exc, MastodonRatelimitError) and self._client is not None:
                exc.ratelimit_reset = self._client.ratelimit_reset  # type: ignore[attr-defined]
            raise redact_error(translate_error(exc), self._settings.secrets) from exc

    # --- the server ------------------------------------------------------------------------------
    def server_facts(self) -> ServerFacts:
        """What the server says about itself, discovered once per ``INSTANCE_TTL`` and kept in the kv store.

        Never raises: what did not answer is listed in ``unanswered`` (and such facts are not cached,
        so the next run asks again), and the core then measures conservatively and says so.
        """
        if self._facts is not None:
            return self._facts
        key = self._facts_key
        cached = self._kv.kv_get(key)
        if isinstance(cached, dict) and not cached.get("stale"):
            self._facts = ServerFacts.from_dict(cached)
            return self._facts
        facts = self._discover()
        if not facts.unanswered:
            self._kv.kv_set(key, facts.to_dict(), ttl_seconds=INSTANCE_TTL)
        self._facts = facts
        return facts

    def character_limit(self) -> int | None:
        """The instance's announced status limit (None if it does not say)."""
        return self.server_facts().max_characters

    def url_weight(self) -> int:
        """``characters_reserved_per_url`` as announced (23 when not)."""
        return self.server_facts().characters_reserved_per_url or 23

    @property
    def _facts_key(self) -> str:
        return f"mastodon:server:{self._base_url}"

    def _forget_facts(self) -> None:
        """A post was refused for length: the limit we knew is wrong, ask again next time."""
        self._facts = None
        self._kv.kv_set(self._facts_key, {"stale": True}, ttl_seconds=INSTANCE_TTL)

    def _get_json(self, url: str) -> Any:
        """GET one discovery document ourselves (Mastodon.py adds a trailing slash some servers 404)."""
        import requests

        if self._http is None:
            self._http = requests.Session()
            self._http.headers["User-Agent"] = f"crosspost/{__version__}"
        answer = self._http.get(url, timeout=self._settings.timeout, allow_redirects=True,
                                headers={"Accept": "application/json"})
        if answer.status_code != 200:
            raise _NotAnswered(f"{url}: HTTP {answer.status_code}")
        try:
            return answer.json()
        except ValueError as exc:
            raise _NotAnswered(f"{url}: not JSON") from exc

    def _discover(self) -> ServerFacts:
        import requests

        if not self._base_url:
            raise ConfigError(f"mastodon: account {self._settings.account!r} has no instance URL: "
                              "set MASTODON_API_BASE_URL (e.g. https://mastodon.social)")
        unanswered: list[str] = []
        software = version = None
        try:
            software, version = self._nodeinfo()
        except (_NotAnswered, requests.RequestException, KeyError, TypeError) as exc:
            log.info("nodeinfo_unanswered", extra={"platform": self.platform, "error": str(exc)})
            unanswered.append("nodeinfo")
        statuses: Any = None
        media: Any = None
        max_toot_chars: Any = None
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                doc = self._get_json(self._base_url + path)
            except (_NotAnswered, requests.RequestException) as exc:
                log.info("instance_unanswered", extra={"platform": self.platform, "path": path, "error": str(exc)})
                continue
            configuration = _get(doc, "configuration")
            statuses, media = _get(configuration, "statuses"), _get(configuration, "media_attachments")
            max_toot_chars = _get(doc, "max_toot_chars")
            break
        else:
            unanswered.append("instance")
        limits = _limits(statuses, max_toot_chars)
        return ServerFacts(
            software=software, version=version,
            max_characters=limits.max_characters,
            characters_reserved_per_url=_number(_get(statuses, "characters_reserved_per_url")),
            max_media_attachments=_number(_get(statuses, "max_media_attachments")),
            image_size_limit=_number(_get(media, "image_size_limit")),
            unanswered=tuple(unanswered),
        )

    def _nodeinfo(self) -> tuple[str | None, str | None]:
        """``/.well-known/nodeinfo`` -> the newest linked NodeInfo 2.x document -> software name, version."""
        links = self._get_json(self._base_url + "/.well-known/nodeinfo")["links"]
        hrefs = sorted((str(link["rel"]), str(link["href"])) for link in links
                       if "nodeinfo.diaspora.software/ns/schema/2." in str(link.get("rel", "")))
        if not hrefs:
            raise _NotAnswered("no NodeInfo 2.x link")
        doc = self._get_json(hrefs[-1][1])
        software = doc["software"]
        name = str(software.get("name") or "").lower() or None
        return name, (str(software["version"]) if software.get("version") else None)

    # --- posting --------------------------------------------------------------------------------
    def prepare(self, post: PostRequest) -> dict[str, Any]:
        """Note when the first attempt starts: it dates the Idempotency-Key's one-hour window."""
        return {"prepared_at": datetime.now(UTC).isoformat()}

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        """Post one status (a reply when ``post.reply_to`` is set), with its image and alt text."""
        options = self._settings.options
        visibility = str(options.get("visibility") or "public").lower()
        if visibility not in VISIBILITIES:
            raise Permanent(f"mastodon: visibility {visibility!r} is not one of {', '.join(VISIBILITIES)} "
                            f"(account {self._settings.account!r})")
        media_ids = [self._media_id(post, post.image, prepared)] if post.image is not None else None
        api = self._api
        before = api.ratelimit_lastcall
        try:
            status = self._call(
                api.status_post,
                post.text,
                in_reply_to_id=post.reply_to.id if post.reply_to is not None else None,
                media_ids=media_ids,
                sensitive=bool(options.get("sensitive", False)),
                visibility=visibility,
                spoiler_text=options.get("spoiler_text") or None,
                language=post.lang or None,
                idempotency_key=post.idempotency_key,
            )
        except Permanent as exc:
            if is_length_refusal(exc.status, str(exc)):
                self._forget_facts()  # the limit we measured by is not the server's: rediscover next run
            raise
        finally:
            if api.ratelimit_lastcall != before:  # the answer carried X-RateLimit-* headers
                self._quota = _client_quota(api)
        return self._ref(status)

    def quota(self, action: str = "post") -> Quota | None:
        """The ``statuses`` quota the last post's (or edit's) answer announced, or with ``action="delete"``
        the quota of the last delete, which Mastodon limits apart (None before any, or without headers)."""
        return self._delete_quota if action == "delete" else self._quota

    def _media_id(self, post: PostRequest, image: ImageData, prepared: dict[str, Any]) -> str:
        """The upload of this part's image: made once, reused by every retry, attached once processed.

        The id comes from ``prepared`` (the publisher keeps it there after ``MediaPending``) or from the
        kv store (an attempt whose status call failed); else the image is uploaded now. An upload gone
        from ``/api/v1/media`` (404) was attached to the status an earlier attempt created, and passing
        its id again with the same Idempotency-Key gets that status back. Raises ``MediaPending`` while
        the server processes it: ``/api/v2/media`` answers 202 until then, and attaching it earlier gets
        a 422; the publisher waits and calls again.
        """
        api = self._api
        key = f"mastodon:media:{self._base_url}:{post.idempotency_key}"
        known = prepared.get("media_id") or self._kv.kv_get(key)
        if known:
            try:
                media = self._call(api.media, str(known))
            except Permanent as exc:
                if exc.status != 404:
                    raise
                return str(known)
        else:
            media = self._call(api.media_post, image.data, mime_type=image.media_type,
                               description=image.alt or None)
            self._kv.kv_set(key, str(media["id"]), ttl_seconds=MEDIA_TTL)
        media_id = str(media["id"])
        if _get(media, "url") is None:
            raise MediaPending(f"mastodon: the image upload {media_id} is still processing",
                               keep={"media_id": media_id}, retry_after=MEDIA_POLL)
        return media_id

    def _ref(self, status: Any) -> PostRef:
        url = _get(status, "url") or _get(status, "uri") or ""
        return PostRef(self.platform, str(status["id"]), str(url))

    # --- after an ambiguous failure ---------------------------------------------------------------
    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """Find the status an ambiguous attempt may have created.

        Within the Idempotency-Key's hour (counted from ``prepare``, minus a margin) the POST is sent
        again with the same key: the server returns the status it made and creates nothing; if the
        first attempt never arrived, this makes the one status a retry would have made. Past the hour
        (or without a ``prepared_at``) the account's recent statuses are searched instead. On software not
        known to honour the key (GoToSocial, Takahē, any unknown server: see ``bot.fediverse``) a replay
        would make a second status, so the recent statuses are always searched first.
        """
        started = _parse_time(prepared.get("prepared_at"))
        honoured = rule_for(self.server_facts().software).honours_idempotency_key
        in_window = started is not None and datetime.now(UTC) - started < IDEMPOTENCY_WINDOW - IDEMPOTENCY_MARGIN
        if honoured and in_window:
            return self.publish(post, prepared)
        return self._find_recent(post, started)

    def _find_recent(self, post: PostRequest, started: datetime | None) -> PostRef | None:
        """The oldest of the account's statuses since ``started`` whose text (and parent) match ``post``."""
        api = self._api
        if self._account_id is None:
            self._account_id = str(self._call(api.account_verify_credentials)["id"])
        account_id = self._account_id
        cutoff = started - IDEMPOTENCY_MARGIN if started is not None else None
        wanted = normalized_text(post.text)
        found: Any = None
        for status in self._recent_statuses(account_id, cutoff):
            if normalized_text(html_to_text(str(_get(status, "content") or ""))) != wanted:
                continue
            if post.reply_to is not None and str(_get(status, "in_reply_to_id")) != post.reply_to.id:
                continue
            found = status  # statuses come newest first: keep the oldest match
        return self._ref(found) if found is not None else None

    def _recent_statuses(self, account_id: str, cutoff: datetime | None) -> Iterator[Any]:
        api = self._api
        max_id: str | None = None
        for _ in range(RECONCILE_PAGES):
            page = self._call(api.account_statuses, account_id, limit=40, max_id=max_id, exclude_reblogs=True)
            if not page:
                return
            for status in page:
                created = _parse_time(_get(status, "created_at"))
                if cutoff is not None and created is not None and created < cutoff:
                    return
                yield status
            max_id = str(page[-1]["id"])

    # --- the rest -------------------------------------------------------------------------------
    def delete(self, ref: PostRef) -> bool:
        """Delete a status; one that is already gone (404) counts as deleted (False)."""
        api = self._api
        before = api.ratelimit_lastcall
        try:
            self._call(api.status_delete, ref.id)
        except Permanent as exc:
            if exc.status != 404:
                raise
            return False
        finally:
            if api.ratelimit_lastcall != before:
                self._delete_quota = _client_quota(api)
        return True

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        """``PUT /api/v1/statuses/:id`` with the new text: Mastodon keeps the old one in the status' edit
        history (``/api/v1/statuses/:id/history``). Media and the content warning stay as they are."""
        api = self._api
        spoiler = self._settings.options.get("spoiler_text")
        before = api.ratelimit_lastcall
        try:
            status = self._call(api.status_update, ref.id, status=post.text,
                                spoiler_text=str(spoiler) if spoiler else None)
        finally:
            if api.ratelimit_lastcall != before:  # an edit counts against the same quota as a post
                self._quota = _client_quota(api)
        return self._ref(status)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._client is not None:
            self._client.session.close()
            self._client = None


ADAPTER = MastodonAdapter


# --- error translation ------------------------------------------------------------------------------
def translate_error(exc: BaseException) -> PublishError:
    """Map a Mastodon.py or network exception to the core's error type (the table in the docstring).

    A ``MastodonRatelimitError`` carries no reset time itself (Mastodon.py keeps it on the client as
    ``ratelimit_reset``); the adapter copies it onto the exception as ``ratelimit_reset`` (epoch
    seconds) before calling this. ``MastodonNetworkError`` is raised inside Mastodon.py's ``except``
    block without ``from``, so the requests error it wraps is its ``__context__``: :func:`_chain` walks
    contexts, causes, urllib3's ``reason`` and exception args to find out whether the request was sent.
    """
    import requests
    from mastodon import errors as m

    if isinstance(exc, PublishError):
        return exc
    if isinstance(exc, m.MastodonRatelimitError):
        reset = getattr(exc, "ratelimit_reset", None)
        retry_at = datetime.fromtimestamp(float(reset), UTC) if reset else None
        when = f"; the limit resets at {retry_at:%Y-%m-%d %H:%M:%S} UTC" if retry_at else ""
        return RateLimited(f"mastodon: rate limited (429 Too many requests){when}", retry_at=retry_at)
    if isinstance(exc, m.MastodonNetworkError):
        return _network_error(exc)
    if isinstance(exc, m.MastodonAPIError):
        return _api_error(exc)
    if isinstance(exc, m.MastodonVersionError | m.MastodonIllegalArgumentError | m.MastodonIOError
                  | m.MastodonMalformedEventError):
        return Permanent(f"mastodon: Mastodon.py refused the call: {exc}")
    if isinstance(exc, m.MastodonError):
        return Ambiguous(f"mastodon: {type(exc).__name__}: {exc}")
    if isinstance(exc, requests.RequestException | OSError):
        return _network_error(exc)
    if isinstance(exc, ValueError):
        return Permanent(f"mastodon: invalid request: {exc}")
    return Permanent(f"mastodon: unexpected {type(exc).__name__}: {exc}")


def _api_error(exc: BaseException) -> PublishError:
    """An HTTP error answer: ``args`` are (text, status, reason, the server's ``error`` message)."""
    args = exc.args
    status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    if status is None:
        return Ambiguous(f"mastodon: unreadable answer: {' '.join(str(a) for a in args)[:300]}")
    reason = str(args[2]) if len(args) > 2 and args[2] else ""
    said = str(args[3]) if len(args) > 3 and args[3] else reason
    if status == 401:
        return Permanent(f"mastodon: the server refused the access token (401: {said}): "
                         "check MASTODON_ACCESS_TOKEN", status=status)
    if status == 403:
        return Permanent(f"mastodon: the server refused the request (403: {said}): check that "
                         "MASTODON_ACCESS_TOKEN has the write:statuses and write:media scopes "
                         "and the account is not suspended", status=status)
    if status >= 500 or status in (408, 425):
        return Transient(f"mastodon: server error {status}: {said}", status=status)
    return Permanent(f"mastodon: {status} {said}", status=status)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3's ``reason`` and exception args."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(x for x in nested if isinstance(x, BaseException))


def _network_error(exc: BaseException) -> PublishError:
    """Before the request was sent -> Transient; after (or unknown) -> Ambiguous; a bad URL -> Permanent."""
    import socket
    import ssl

    import requests
    import urllib3.exceptions as u3
    from mastodon.errors import MastodonReadTimeout

    chain = list(_chain(exc))
    detail = str(exc)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return Permanent(f"mastodon: the server's TLS certificate was refused: {detail}")
    not_sent = (requests.ConnectTimeout, u3.ConnectTimeoutError, u3.NewConnectionError,
                ConnectionRefusedError, socket.gaierror, requests.exceptions.ProxyError, u3.ProxyError)
    if any(isinstance(e, not_sent) for e in chain):
        return Transient(f"mastodon: could not connect (the request was not sent): {detail}")
    misconfigured = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                     requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
                     requests.exceptions.InvalidHeader, requests.exceptions.TooManyRedirects)
    if any(isinstance(e, misconfigured) for e in chain):
        return Permanent(f"mastodon: check MASTODON_API_BASE_URL: {detail}")
    if any(isinstance(e, requests.ReadTimeout | u3.ReadTimeoutError | TimeoutError | MastodonReadTimeout)
           for e in chain):
        return Ambiguous(f"mastodon: no answer in time after the request was sent (it may have "
                         f"been posted): {detail}")
    return Ambiguous(f"mastodon: the connection broke after the request was sent (it may have been "
                     f"posted): {detail}")


# --- small helpers ----------------------------------------------------------------------------------
def _client_quota(api: Any) -> Quota:
    """What Mastodon.py parsed from the last answer's X-RateLimit-* headers (reset is an epoch, or None
    once passed; Mastodon.py has already shifted it by the server's clock offset from its Date header)."""
    reset = api.ratelimit_reset
    remaining, limit = api.ratelimit_remaining, api.ratelimit_limit
    return Quota(
        remaining=int(remaining) if remaining is not None else None,
        limit=int(limit) if limit is not None else None,
        reset_at=datetime.fromtimestamp(float(reset), UTC) if reset is not None else None,
    )


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _number(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _limits(statuses: Any, max_toot_chars: Any) -> InstanceLimits:
    def number(value: Any, default: int | None) -> int | None:
        try:
            return int(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    max_characters = number(_get(statuses, "max_characters"), None) if statuses else None
    if max_characters is None:
        max_characters = number(max_toot_chars, None)
    return InstanceLimits(
        max_characters=max_characters,
        characters_reserved_per_url=number(_get(statuses, "characters_reserved_per_url"), 23) or 23,
        max_media_attachments=number(_get(statuses, "max_media_attachments"), 4) or 4,
    )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None




class _TextOfHTML(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """The plain text of a status' ``content`` (Mastodon keeps a link's hidden parts in spans)."""
    parser = _TextOfHTML()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)


_REMOTE_MENTION = re.compile(r"(?<![\w@/])(@\w[\w.-]*)@[\w-]+(?:\.[\w-]+)+")


def normalized_text(text: str) -> str:
    """Text as compared by reconcile: ``@user@domain`` shown as ``@user``, whitespace collapsed."""
    return " ".join(_REMOTE_MENTION.sub(r"\1", text).split())
