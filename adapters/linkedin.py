"""LinkedIn through its Posts API (``/rest/posts``, ``LinkedIn-Version``) with ``requests``: no SDK.

Translation only. The text becomes ``commentary`` in LinkedIn's "little text" format with every
reserved character escaped (:func:`bot.measure.linkedin.escape`): an unescaped ``(``, ``#`` or ``@``
would make LinkedIn cut the post there and still answer 201. Hashtags go as escaped ``\\#tag`` plain
text (the ``{hashtag|\\#|tag}`` template is UNCONFIRMED in LinkedIn's docs). A link card becomes an
article share (``content.article``: source, title, description, and the image uploaded through the
Images API as its thumbnail); an image without a card becomes ``content.media``. LinkedIn has no
reply threads (the registry says ``threads=False``), so every request is one post.

Exactly once, with no idempotency key: after an ambiguous create, :meth:`LinkedInAdapter.reconcile`
lists the author's ten most recently modified posts and matches the commentary and the article source.
When the token may not read posts (403: ``r_member_social`` is a restricted permission) it answers
"not found", and the resend is caught by LinkedIn's duplicate detection: a 422 whose error code is
``DUPLICATE_POST`` names the first post's URN and counts as success.

Errors are judged by status and the structured codes, never by message text:

=========================================  =========================================================
answer                                      becomes
=========================================  =========================================================
429                                         RateLimited until ``Retry-After``, else the next 00:00 UTC
                                            (LinkedIn's daily limits reset then and it sends no header)
5xx on the create                           Ambiguous (the post may exist: reconcile before resending)
5xx elsewhere, 408                          Transient
422 with ``DUPLICATE_POST`` and a URN       success (that URN)
401, 403, 404, 422, 426, other 4xx          Permanent (status, serviceErrorCode and message kept)
connect error / connect timeout             Transient (nothing was sent)
read timeout, connection broken after send  Ambiguous
=========================================  =========================================================
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.base import AccountSettings, ImageData, KeyValue, PostRef, PostRequest, Quota
from bot import __version__
from bot.errors import Ambiguous, ConfigError, NotSupported, Permanent, PublishError, RateLimited, Transient
from bot.measure.linkedin import escape
from bot.redact import redact_error

DEFAULT_BASE_URL = "https://api.linkedin.com"
RECENT_COUNT = 10
_URN = re.compile(r"urn:li:(?:share|ugcPost):[0-9]+")


class LinkedInAdapter:
    """One LinkedIn author (``LINKEDIN_AUTHOR``) posting with ``LINKEDIN_ACCESS_TOKEN``."""

    platform: ClassVar[str] = "linkedin"

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None:
        self._settings = settings
        creds = settings.credentials
        self._token = creds.get("LINKEDIN_ACCESS_TOKEN", "")
        self._author = creds.get("LINKEDIN_AUTHOR", "")
        self._version = creds.get("LINKEDIN_VERSION", "")
        self._base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._session: Any = None
        self._quota: Quota | None = None

    # --- HTTP ------------------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, create: bool = False, **kwargs: Any) -> Any:
        """One request; an error answer or a network failure becomes the core's error type."""
        import requests

        if not self._token or not self._author.startswith("urn:li:"):
            raise ConfigError("linkedin: set LINKEDIN_ACCESS_TOKEN and LINKEDIN_AUTHOR (urn:li:person:… "
                              "or urn:li:organization:…)")
        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update({
                "Authorization": f"Bearer {self._token}", "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": "2.0.0", "User-Agent": f"crosspost/{__version__}"})
        try:
            answer = self._session.request(method, url, timeout=self._settings.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise redact_error(_network_error(exc), (self._token,)) from exc
        if answer.status_code >= 400:
            error = self._answer_error(answer, create)
            raise error if isinstance(error, _Duplicate) else redact_error(error, (self._token,))
        return answer

    def _answer_error(self, answer: Any, create: bool) -> PublishError | _Duplicate:
        status = answer.status_code
        body = _json(answer)
        said = f"{status} {body.get('serviceErrorCode') or body.get('code') or ''} {body.get('message') or ''}"
        said = " ".join(said.split())[:300]
        if status == 429:
            retry_at = _retry_at(answer.headers.get("Retry-After"))
            self._quota = Quota(remaining=0, reset_at=retry_at)
            return RateLimited(f"linkedin: rate limited ({said}); retry after {retry_at:%Y-%m-%d %H:%M} UTC",
                               retry_at=retry_at)
        if status >= 500:
            kind = Ambiguous if create else Transient
            return kind(f"linkedin: server error {said}", status=status)
        duplicate = _duplicate_of(status, body) if create else None
        if duplicate is not None:
            return _Duplicate(duplicate)
        if status == 408:
            return Transient(f"linkedin: {said}", status=status)
        hint = {401: ": check LINKEDIN_ACCESS_TOKEN", 403: ": the token lacks w_member_social for LINKEDIN_AUTHOR",
                426: ": LINKEDIN_VERSION is not an active version"}.get(status, "")
        return Permanent(f"linkedin: {said}{hint}", status=status)

    # --- the adapter contract ----------------------------------------------------------------------
    def character_limit(self) -> int | None:
        return None

    def prepare(self, post: PostRequest) -> dict[str, Any]:
        return {"prepared_at": datetime.now(UTC).isoformat()}

    def body(self, post: PostRequest, thumbnail: str | None) -> dict[str, Any]:
        """The create request's JSON for ``post`` (``thumbnail``: an uploaded image URN)."""
        body: dict[str, Any] = {
            "author": self._author, "commentary": escape(post.text), "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
        }
        if post.card is not None:
            article = {"source": post.card.uri, "title": post.card.title}
            if post.card.description:
                article["description"] = post.card.description
            if thumbnail:
                article["thumbnail"] = thumbnail
            body["content"] = {"article": article}
        elif thumbnail:
            media = {"id": thumbnail}
            if post.image is not None and post.image.alt:
                media["altText"] = post.image.alt  # field name UNCONFIRMED (3rd-party SDKs)
            body["content"] = {"media": media}
        return body

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        image = _image_of(post)
        thumbnail = self._upload(image) if image is not None else None
        try:
            answer = self._call("POST", f"{self._base_url}/rest/posts", create=True, json=self.body(post, thumbnail))
        except _Duplicate as exc:  # an earlier attempt made it: LinkedIn names its URN
            return self._ref(exc.urn)
        self._quota = None
        urn = answer.headers.get("x-restli-id") or answer.headers.get("Location", "").rsplit("/", 1)[-1]
        if not _URN.fullmatch(urn or ""):
            raise Ambiguous(f"linkedin: {answer.status_code} without a post URN in x-restli-id")
        return self._ref(urn)

    def _upload(self, image: ImageData) -> str:
        """Upload the image the publisher fetched: initializeUpload, then PUT the bytes; its URN."""
        data, mime_type = image.data, image.media_type
        init = self._call("POST", f"{self._base_url}/rest/images", params={"action": "initializeUpload"},
                          json={"initializeUploadRequest": {"owner": self._author}})
        value = _json(init).get("value") or {}
        upload_url, urn = value.get("uploadUrl"), value.get("image")
        if not upload_url or not urn:
            raise Transient("linkedin: initializeUpload answered without uploadUrl and image")
        self._call("PUT", str(upload_url), data=data, headers={"Content-Type": mime_type})
        return str(urn)

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """The author's recent post with this commentary (and article source), or None.

        A 403 (the token may not read posts) is None too: the resend then meets LinkedIn's duplicate
        detection (see :meth:`publish`). Compared as sent: LinkedIn returns the escaped commentary.
        """
        try:
            answer = self._call("GET", f"{self._base_url}/rest/posts", params={
                "author": self._author, "q": "author", "count": RECENT_COUNT, "sortBy": "LAST_MODIFIED"})
        except Permanent as exc:
            if exc.status in (401, 403):
                return None
            raise
        commentary = " ".join(escape(post.text).split())
        source = post.card.uri if post.card is not None else None
        matches = [e for e in _json(answer).get("elements") or []
                   if " ".join(str(e.get("commentary") or "").split()) == commentary
                   and ((e.get("content") or {}).get("article") or {}).get("source") == source]
        matches.sort(key=lambda e: e.get("createdAt") or 0)
        return self._ref(str(matches[0]["id"])) if matches else None

    def delete(self, ref: PostRef) -> bool:
        """``DELETE /rest/posts/{urn}``: 204; a post already gone (404) is False."""
        try:
            self._call("DELETE", f"{self._base_url}/rest/posts/{quote(ref.id, safe='')}")
        except Permanent as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        # A PARTIAL_UPDATE of commentary exists in LinkedIn's docs, but how it treats little text and
        # articles is UNCONFIRMED in our notes: the conservative answer is that we do not edit.
        raise NotSupported("linkedin: crosspost does not edit LinkedIn posts (delete and post again)")

    def quota(self, action: str = "post") -> Quota | None:
        """LinkedIn publishes no numbers and sends no rate-limit headers: only a 429 tells (until its reset)."""
        if self._quota is not None and self._quota.reset_at and self._quota.reset_at <= datetime.now(UTC):
            self._quota = None
        return self._quota

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _ref(self, urn: str) -> PostRef:
        return PostRef(self.platform, urn, f"https://www.linkedin.com/feed/update/{urn}")


ADAPTER = LinkedInAdapter


def _image_of(post: PostRequest) -> ImageData | None:
    """The one image a post carries: the article card's thumbnail, else the attached image."""
    if post.card is not None:
        return post.card.thumb
    return post.image


def _json(answer: Any) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class _Duplicate(Exception):
    """LinkedIn refused a create as a duplicate of ``urn``: the post exists."""

    def __init__(self, urn: str) -> None:
        super().__init__(urn)
        self.urn = urn


def _duplicate_of(status: int, body: dict[str, Any]) -> str | None:
    """The URN a 422 ``DUPLICATE_POST`` names (the error code decides; the URN is read from the message)."""
    errors = (body.get("errorDetails") or {}).get("inputErrors") or []
    if status != 422 or not any(isinstance(e, dict) and e.get("code") == "DUPLICATE_POST" for e in errors):
        return None
    found = _URN.search(str(body.get("message") or ""))
    return found.group(0) if found else None


def _retry_at(header: str | None) -> datetime:
    now = datetime.now(UTC)
    if header:
        if header.strip().isdigit():
            return now + timedelta(seconds=int(header.strip()))
        try:
            return parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)


def _network_error(exc: BaseException) -> PublishError:
    import requests

    if isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout)
            and _not_sent(exc)):
        return Transient(f"linkedin: could not connect (nothing was sent): {exc}")
    return Ambiguous(f"linkedin: no answer after the request was sent (it may have been posted): {exc}")


def _not_sent(exc: BaseException) -> bool:
    import urllib3.exceptions as u3

    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, u3.NewConnectionError | ConnectionRefusedError | u3.ConnectTimeoutError):
            return True
        nested = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return False
