"""Publish a composed article to every target account, concurrently, exactly once.

For each (article, platform, account, part) the ledger holds one row, written *before* each call. The
retry policy is one tenacity policy driven by the error type the adapter raised:

- ``RateLimited``: wait for the platform's reset when it is near (``Settings.rate_limit_wait``), else the
  target is ``deferred`` with its time;
- ``Transient``: exponential backoff with jitter;
- ``Ambiguous``: reconcile first (the adapter looks the post up / replays its idempotency key), retry
  only if the post is not there;
- ``Permanent``: fail at once with the platform's message.

A thread resumes where it stopped: published parts are skipped and the next part replies to the last one
on record. No platform-specific branch lives here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import tenacity

from adapters.base import AccountSettings, Adapter, ImageData, LinkCard, PostRef, PostRequest
from bot import fediverse, images, mentions, observers, platforms
from bot.article import Article
from bot.compose import ComposeOptions, PlannedPost, PlatformPlan, compose_platform
from bot.config import Settings
from bot.errors import (
    Ambiguous,
    ConfigError,
    CrosspostError,
    MediaPending,
    PublishError,
    RateLimited,
    Transient,
)
from bot.logs import get_logger
from bot.redact import redact
from bot.store.models import AlreadyPublished

log = get_logger("crosspost.publish")

PUBLISHED, ALREADY, DEFERRED, FAILED = "published", "already_published", "deferred", "failed"
MEDIA_WAIT = 60.0
"""Seconds one attempt waits, in all, for a platform to finish processing an uploaded image."""


@dataclass
class TargetResult:
    """What happened on one account."""

    platform: str
    account: str
    status: str
    posts: list[PostRef] = field(default_factory=list)
    error: str | None = None
    retry_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "platform": self.platform,
            "account": self.account,
            "status": self.status,
            "posts": [{"id": p.id, "url": p.url} for p in self.posts],
            "error": self.error,
        }
        if self.retry_at is not None:
            data["retry_at"] = self.retry_at.isoformat()
        return data


POST = "post"
"""The action of publishing; ``"delete"`` and ``"edit"`` are the lifecycle's (bot/lifecycle.py)."""


def pace_key(platform: str, account: str, action: str = POST) -> str:
    """Where the store keeps an account's last known write quota for ``action``.

    One key per rate-limit bucket: an action the platform limits apart (its adapter's
    ``separate_quotas``, e.g. X's deletes) has its own, so deleting never overwrites posting's numbers;
    an action that spends posting's budget (a Bluesky delete, a Mastodon edit) shares posting's key.
    """
    if action != POST and action in _separate_quotas(platform):
        return f"pace:{platform}:{account}:{action}"
    return f"pace:{platform}:{account}"


def _separate_quotas(platform: str) -> frozenset[str]:
    from bot import platforms as registry

    try:
        found: frozenset[str] = getattr(registry.get(platform).adapter_class(), "separate_quotas", frozenset())
    except KeyError:  # a test's own adapter for a platform crosspost does not know
        return frozenset()
    return frozenset(found)


def idempotency_key(article_key: str, platform: str, account: str, generation: int, part: int) -> str:
    """One stable key per (article, account, generation, thread part): the same on every retry."""
    raw = f"{article_key}|{platform}|{account}|{generation}|{part}"
    return "cp-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _snapshot(planned: PlannedPost, article: Article, image: bool) -> dict[str, Any]:
    """Everything the request for one part is built from, fixed in the ledger before the first call."""
    card = asdict(planned.card) if planned.card is not None else None
    return {
        "text": planned.text,
        "facets": list(planned.facets),
        "tags": list(planned.tags),
        "card": card,
        "image": {"url": article.image, "alt": article.image_alt or ""} if (image and article.image) else None,
        "lang": article.lang,
    }


def _request(snapshot: dict[str, Any], key: str, reply_to: PostRef | None, root: PostRef | None) -> PostRequest:
    card = snapshot.get("card")
    return PostRequest(
        text=snapshot["text"],
        idempotency_key=key,
        lang=snapshot.get("lang"),
        facets=tuple(snapshot.get("facets") or ()),
        tags=tuple(snapshot.get("tags") or ()),
        card=LinkCard(**card) if card else None,
        reply_to=reply_to,
        thread_root=root,
    )


class TargetDeferred(Exception):
    """A rate limit whose reset is beyond the wait this run allows: the target is deferred."""

    def __init__(self, error: RateLimited) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Publisher:
    """Fan an article out to accounts through their adapters, recording every attempt in the store."""

    settings: Settings
    store: Any  # bot.store.Store
    adapter_factory: Callable[[AccountSettings], Adapter] | None = None
    sleep: Callable[[float], None] = time.sleep
    backoff: float = 1.0  # first backoff in seconds (tests make it small)
    _images: images.ImageFetches = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._images = _image_fetches()

    def adapter(self, account: AccountSettings) -> Adapter:
        """A new adapter for ``account`` (the caller closes it)."""
        return self._adapter(account)

    def _adapter(self, account: AccountSettings) -> Adapter:
        if self.adapter_factory is not None:
            return self.adapter_factory(account)
        from bot import platforms as registry

        return registry.get(account.platform).adapter_class()(account, self.store)

    def publish(
        self,
        article: Article,
        accounts: Sequence[AccountSettings],
        *,
        thread: bool = False,
        force: bool = False,
        job: Any = None,
    ) -> list[TargetResult]:
        """Publish to every account concurrently; one failure never hides the others. Then the run's
        observers (metrics, notification: :mod:`bot.observers`); ``job`` is the queued job it ran for."""
        if not accounts:
            return []
        from bot.language import with_language

        article = with_language(article)
        self._images = _image_fetches()  # each image of this run is fetched once, for every target
        with ThreadPoolExecutor(max_workers=len(accounts), thread_name_prefix="publish") as pool:
            futures = [pool.submit(self._target, article, a, thread, force) for a in accounts]
            results = [f.result() for f in futures]
        observers.run_finished(self.settings, article, results, job)
        return results

    def _target(self, article: Article, account: AccountSettings, thread: bool, force: bool) -> TargetResult:
        result = TargetResult(account.platform, account.account, FAILED)
        adapter: Adapter | None = None
        try:
            adapter = self._adapter(account)
            self._run_target(article, account, adapter, thread, force, result)
        except TargetDeferred as deferred:
            result.status, result.retry_at = DEFERRED, deferred.error.retry_at
            when = deferred.error.retry_at.isoformat() if deferred.error.retry_at else "later"
            result.error = f"{account.platform}: rate limited until {when}: {deferred.error}"
        except CrosspostError as exc:
            result.status, result.error = FAILED, str(exc)
        except Exception as exc:  # an adapter bug must not take the other targets down
            log.exception("unexpected_error", extra={"platform": account.platform, "account": account.account})
            result.status, result.error = FAILED, f"{account.platform}: unexpected {type(exc).__name__}: {exc}"
        finally:
            if adapter is not None:
                with contextlib.suppress(Exception):  # closing must never change the outcome
                    adapter.close()
        if result.error:
            result.error = redact(result.error, account.secrets)
        return result

    def _run_target(
        self,
        article: Article,
        account: AccountSettings,
        adapter: Adapter,
        thread: bool,
        force: bool,
        result: TargetResult,
    ) -> None:
        store, platform, name = self.store, account.platform, account.account
        key = article.key
        generation = store.ledger_generation(key, platform, name)
        rows = [r for r in store.ledger_rows(key) if r.platform == platform and r.account == name
                and r.generation == generation] if generation else []
        done_before = bool(rows) and all(r.state == "published" for r in rows)
        retracted = any(r.state == "deleted" for r in rows)  # bot/lifecycle.py took this generation down
        if generation == 0 or (force and (done_before or retracted)):
            generation += 1
        elif done_before:
            result.status = ALREADY
            result.posts = [_ref_of(r) for r in sorted(rows, key=lambda r: r.part)]
            return
        elif retracted:
            when = max((r.deleted_at for r in rows if r.deleted_at), default=None)
            result.status = ALREADY
            result.error = (f"{platform}: the posts of this article were deleted"
                            f"{f' on {when:%Y-%m-%d %H:%M} UTC' if when else ''}; pass --force to post again")
            return

        options, plan = self.compose_for(article, account, adapter, thread)

        fresh = False
        root: PostRef | None = None
        previous: PostRef | None = None
        for part, planned in enumerate(plan.posts):
            ik = idempotency_key(key, platform, name, generation, part)
            row = store.ledger_part(key, platform, name, part, generation, idempotency_key=ik, text=planned.text)
            if row.state in ("pending", "failed") and row.prepared and row.text != planned.text:
                # never went out: send what the current settings and server facts compose, not the old text
                new_key = f"{ik}-{hashlib.sha256(planned.text.encode('utf-8')).hexdigest()[:8]}"
                row = store.ledger_recompose(row.id, text=planned.text, idempotency_key=new_key) or row
            if row.state == "published" and row.ref:
                ref = PostRef.from_dict(row.ref)
            else:
                ref = self._send_part(adapter, account, row, planned, article, options.image, previous, root)
                fresh = True
            result.posts.append(ref)
            root = root or ref
            previous = ref
        result.status = PUBLISHED if fresh else ALREADY

    def compose_for(
        self, article: Article, account: AccountSettings, adapter: Adapter, thread: bool
    ) -> tuple[ComposeOptions, PlatformPlan]:
        """The account's options and the posts composed for it (with the instance's own limits).

        A Mastodon-API server's facts (its software's counting rule and announced limit, see
        :mod:`bot.fediverse`) come first; otherwise the adapter's limit. Raises TargetDeferred when asking
        for the limit is rate limited past the wait.
        """
        options = self.settings.options_for(account.platform, account.account)
        server = fediverse.server_options(options, adapter)  # a Mastodon-API server's own limit and rule
        if server is not None:
            options = server
        else:
            try:  # the platform's limit is a call too: the same policy (short waits, backoff) applies
                limit = options.limit or self._policy()(adapter.character_limit)
                url_weight = options.url_weight or _url_weight(adapter)
            except RateLimited as exc:
                raise TargetDeferred(exc) from None
            options = replace(options, limit=limit, url_weight=url_weight)
        options = replace(options, thread=options.thread or thread)
        plan = compose_platform(article, account.platform, options, account=account.account,
                                templates_dir=self.settings.templates_dir)
        return options, plan

    def _send_part(
        self,
        adapter: Adapter,
        account: AccountSettings,
        row: Any,
        planned: PlannedPost,
        article: Article,
        image: bool,
        reply_to: PostRef | None,
        root: PostRef | None,
    ) -> PostRef:
        """Send one part with the retry policy; the ledger row is updated before and after each call."""
        store = self.store
        prepared: dict[str, Any] = dict(row.prepared or {})
        if "post" not in prepared:
            prepared["post"] = _snapshot(self._with_mentions(adapter, planned), article, image)
        request = _request(prepared["post"], row.idempotency_key, reply_to, root)
        if "adapter" not in prepared:
            prepared["adapter"] = adapter.prepare(request)
        fields = {"article": article.key, "platform": adapter.platform, "account": row.account,
                  "part": row.part, "idempotency_key": row.idempotency_key}

        looking: PostRequest | None = None
        if row.state in ("sending", "unknown"):
            # An earlier run may have reached the platform: look before sending again.
            try:
                looking = self._with_images(request, prepared["post"], account)
            except PublishError:
                looking = None  # no image now: the attempt below fails the same way before sending anything
        if looking is not None:
            try:
                found = adapter.reconcile(looking, prepared["adapter"])
            except RateLimited as exc:
                wait = _seconds_until(exc.retry_at)
                if wait is None or wait > self.settings.rate_limit_wait:
                    raise TargetDeferred(exc) from None
                self.sleep(wait)  # a near reset is waited for, as the retry policy does for every call
                found = self._reconcile(adapter, looking, prepared["adapter"])
            except (Transient, Ambiguous):
                found = None  # could not look now; the attempt below reconciles again if it is ambiguous
            if found is not None:
                log.info("reconciled", extra={**fields, "post_id": found.id})
                store.ledger_publish(row.id, post_id=found.id, post_url=found.url, ref=found.to_dict())
                return found

        def attempt() -> PostRef:
            nonlocal prepared, request
            try:
                fixed = store.ledger_begin(row.id, prepared=prepared).prepared
            except AlreadyPublished as done:  # another run published this part meanwhile
                return _ref_of(done.row)
            if fixed and fixed != prepared:  # another run fixed the request first: send exactly that
                prepared = fixed
                request = _request(prepared["post"], row.idempotency_key, reply_to, root)
            try:
                request = self._with_images(request, prepared["post"], account)
                ref = self._publish_when_processed(adapter, row.id, request, prepared, fields)
            except Ambiguous as exc:
                log.warning("ambiguous", extra={**fields, "error": str(exc)})
                found = self._reconcile(adapter, request, prepared["adapter"])
                if found is None:
                    store.ledger_fail(row.id, error=str(exc), state="unknown")
                    raise
                ref = found
            except RateLimited as exc:
                log.info("rate_limited", extra={**fields, "retry_at": str(exc.retry_at)})
                store.ledger_fail(row.id, error=str(exc), state="pending")
                self._remember_quota(adapter, row.account, exhausted_until=exc.retry_at)
                raise
            except PublishError as exc:
                log.warning("publish_error", extra={**fields, "error": str(exc), "kind": type(exc).__name__})
                store.ledger_fail(row.id, error=str(exc), state="failed")
                raise
            log.info("published", extra={**fields, "post_id": ref.id, "url": ref.url})
            store.ledger_publish(row.id, post_id=ref.id, post_url=ref.url, ref=ref.to_dict())
            self._remember_quota(adapter, row.account)
            return ref

        try:
            return self._policy()(attempt)
        except RateLimited as exc:
            raise TargetDeferred(exc) from None

    def _with_images(self, request: PostRequest, snapshot: dict[str, Any], account: AccountSettings) -> PostRequest:
        """``request`` with the bytes of its image, or of its card's thumbnail (a post carries one embed:
        with a card, the article's image is the card's thumbnail), fetched once per run. A platform that
        takes images by URL (``image_by_url``) gets the image's URL and alt text only.

        An image that cannot be fetched raises ``Transient`` or ``Permanent`` (the retry policy and the
        ledger treat it as a failed call); a thumbnail that cannot be used is left out, with a warning.
        """
        rules = _image_rules(account.platform)
        image = snapshot.get("image")
        if rules.image_by_url:  # the platform fetches it: nothing to fetch here, the URL is all it needs
            if not image:
                return request
            return replace(request, image=ImageData(b"", "", alt=str(image.get("alt") or ""), url=str(image["url"])))
        load = partial(images.load_image, self._images, types=rules.image_types, label=account.platform,
                       timeout=account.timeout, allow_private=account.allow_private_network)
        card = request.card
        if card is not None:
            if not card.thumb_url:
                return request
            try:
                thumb = load(card.thumb_url, alt="", max_bytes=rules.thumb_max_bytes)
            except PublishError as exc:
                log.warning("thumb_skipped", extra={"platform": account.platform, "account": account.account,
                                                    "idempotency_key": request.idempotency_key,
                                                    "url": card.thumb_url, "reason": str(exc)})
                return request
            return replace(request, card=replace(card, thumb=thumb))
        if not image:
            return request
        found = load(str(image["url"]), alt=str(image.get("alt") or ""), max_bytes=rules.image_max_bytes)
        return replace(request, image=found)

    def _publish_when_processed(
        self, adapter: Adapter, row_id: int, request: PostRequest, prepared: dict[str, Any], fields: dict[str, Any]
    ) -> PostRef:
        """``adapter.publish``, waiting (at most ``MEDIA_WAIT`` seconds) while the platform processes an
        uploaded image: each ``MediaPending`` keeps what it names (the media id) in the part's prepared
        state, in the ledger too, so the next call, or a later run, asks about that upload instead of
        uploading again."""
        waited = 0.0
        while True:
            try:
                return adapter.publish(request, prepared["adapter"])
            except MediaPending as pending:
                prepared["adapter"] = {**prepared["adapter"], **pending.keep}
                self.store.ledger_keep(row_id, prepared=prepared)
                if waited + pending.retry_after > MEDIA_WAIT:
                    raise Transient(f"{pending} (after {waited:g} s)") from pending
                log.info("media_pending", extra={**fields, "retry_after": pending.retry_after})
                self.sleep(pending.retry_after)
                waited += pending.retry_after

    def _with_mentions(self, adapter: Adapter, planned: PlannedPost) -> PlannedPost:
        """``planned`` with a mention facet for each ``@handle`` that really resolves, on a platform that
        pings only through facets (Bluesky): the adapter's ``resolve_handle``, under the retry policy.

        Done once per part, before the ledger fixes its request (a retry sends the same record). A handle
        that does not resolve, or cannot be looked up now, stays plain text: never a wrong mention.
        """
        resolve = getattr(adapter, "resolve_handle", None)
        if not callable(resolve) or not platforms.get(adapter.platform).mention_facets:
            return planned

        def did(handle: str) -> str | None:
            try:
                found = self._policy()(resolve, handle)
            except PublishError as exc:
                log.warning("mention_unresolved", extra={"platform": adapter.platform, "error": str(exc)})
                return None
            return found if isinstance(found, str) else None

        return replace(planned, facets=tuple(mentions.with_mention_facets(planned.text, planned.facets, did)))

    def remember_quota(
        self, adapter: Adapter, account: str, exhausted_until: datetime | None = None, action: str = POST
    ) -> None:
        """Keep what the platform said is left of ``action``'s bucket (under :func:`pace_key`), so later
        calls can be paced: workers before a post (bot/worker.py), the lifecycle before a delete or edit."""
        self._remember_quota(adapter, account, exhausted_until, action)

    def spent_until(self, platform: str, account: str, action: str = POST) -> datetime | None:
        """When the recorded quota of ``action`` comes back, if nothing of it is left now; else None."""
        state = self.store.kv_get(pace_key(platform, account, action))
        if not isinstance(state, dict) or not isinstance(state.get("remaining"), int) or state["remaining"] > 0:
            return None
        try:
            reset_at = datetime.fromisoformat(str(state.get("reset_at")))
        except ValueError:
            return None
        return reset_at if reset_at > datetime.now(UTC) else None

    def _remember_quota(
        self, adapter: Adapter, account: str, exhausted_until: datetime | None = None, action: str = POST
    ) -> None:
        """Keep what the platform said is left, so workers can pace this account (see bot/worker.py)."""
        reader = getattr(adapter, "quota", None)
        quota = (reader() if action == POST else reader(action)) if callable(reader) else None
        remaining = quota.remaining if quota else None
        reset_at = quota.reset_at if quota else None
        if exhausted_until is not None:
            remaining, reset_at = 0, exhausted_until
        if remaining is None or reset_at is None:
            return
        key = pace_key(adapter.platform, account, action)
        new = {"remaining": remaining, "reset_at": reset_at.isoformat()}

        def change(current: Any) -> Any:
            if exhausted_until is None and _older_news(current, remaining, reset_at):
                return None  # a concurrent post of this window already recorded less left: keep that
            return new

        ttl = max(1.0, (reset_at - datetime.now(UTC)).total_seconds() + 3)  # outlive the worker's margin
        # Read-compare-write in one store transaction: answers recorded at once, by threads or by other
        # worker processes, must not undo the lower one.
        self.store.kv_update(key, change, ttl_seconds=ttl)

    def _policy(self) -> tenacity.Retrying:
        return self.policy()

    def policy(self) -> tenacity.Retrying:
        """The retry policy of this publisher's calls (its settings, sleep and backoff)."""
        return retry_policy(self.settings, self.sleep, self.backoff)

    def _reconcile(self, adapter: Adapter, request: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        try:
            return adapter.reconcile(request, prepared)
        except (Transient, Ambiguous, RateLimited):
            return None  # could not look: the next attempt reconciles again before it counts


def retry_policy(settings: Settings, sleep: Callable[[float], None], backoff: float) -> tenacity.Retrying:
    """The one retry policy of every platform call (posting, deleting, editing): decided by the error type
    the adapter raised. A rate limit is waited for when its reset is within ``settings.rate_limit_wait``
    (else re-raised for the caller to defer); Transient and Ambiguous back off exponentially with jitter;
    Permanent is raised at once. ``sleep`` is the worker's interruptible sleep in a worker."""
    limit = settings.rate_limit_wait
    jittered = tenacity.wait_exponential(multiplier=backoff, max=30.0) + tenacity.wait_random(0, backoff)

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, RateLimited):
            wait = _seconds_until(exc.retry_at)
            return wait is not None and wait <= limit
        return isinstance(exc, (Transient, Ambiguous))

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return _seconds_until(exc.retry_at) or 0.0
        return float(jittered(state))

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(retryable),
        wait=wait,
        stop=tenacity.stop_after_attempt(settings.max_attempts),
        sleep=sleep,
        reraise=True,
    )


def _image_fetches() -> images.ImageFetches:
    known = platforms.all_platforms()
    cap = max((max(p.image_max_bytes, p.thumb_max_bytes) for p in known), default=platforms.Platform.image_max_bytes)
    return images.ImageFetches(cap)


def _image_rules(platform: str) -> platforms.Platform:
    """The platform's entry (its image caps and types); a test's own unregistered platform gets the defaults."""
    try:
        return platforms.get(platform)
    except KeyError:
        return platforms.Platform(platform, platform, 0, "", lambda _t, _w: 0, adapter="", sandbox="",
                                  credentials=(), accepts_hashtag=lambda _t: True, link_spans=lambda _t: [])


def _ref_of(row: Any) -> PostRef:
    if row.ref:
        return PostRef.from_dict(row.ref)
    return PostRef(row.platform, row.post_id or "", row.post_url or "")


def _url_weight(adapter: Adapter) -> int | None:
    """The URL weight the platform announces (Mastodon's characters_reserved_per_url), if it does."""
    announce = getattr(adapter, "url_weight", None)
    value = announce() if callable(announce) else None
    return value if isinstance(value, int) else None


def _older_news(kept: Any, remaining: int, reset_at: datetime) -> bool:
    """Whether the stored quota is of the same (or a later) window with less left than ``remaining``:
    then this answer left the platform before another one that is already recorded."""
    if not isinstance(kept, dict) or not isinstance(kept.get("remaining"), int) or not kept.get("reset_at"):
        return False
    try:
        kept_reset = datetime.fromisoformat(kept["reset_at"])
    except (TypeError, ValueError):
        return False
    # Resets of one window can differ by a second (whole-second headers, clock-offset corrections).
    return bool(kept["remaining"] < remaining and kept_reset >= reset_at - timedelta(seconds=1.5))


def _seconds_until(when: datetime | None) -> float | None:
    if when is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.05


# --- the CLI's publishing run -----------------------------------------------------------------------


def run_publish(
    article: Article,
    settings: Settings,
    platforms: Sequence[str],
    *,
    thread: bool = False,
    force: bool = False,
    as_json: bool = False,
) -> int:
    """``crosspost ARTICLE``: publish, print each target's result, return the exit code."""
    from bot.store import connect

    accounts = settings.accounts_for(tuple(platforms))
    if not accounts:
        from bot import platforms as registry

        needed = "; ".join(f"{r.label}: {', '.join(r.credentials)}" for r in registry.all_platforms()
                           if r.name in platforms)
        raise ConfigError(f"no platform has credentials ({needed}); see .env.example, or use --dry-run")
    from bot.language import with_language

    article = with_language(article)  # once here too, so the printed result shows the language sent
    store = connect(settings.database_url)
    try:
        results = Publisher(settings, store).publish(article, accounts, thread=thread, force=force)
    finally:
        store.close()
    print_results(article, results, as_json=as_json)
    return 0 if all(r.status in (PUBLISHED, ALREADY) for r in results) else 1


def print_results(article: Article, results: Sequence[TargetResult], *, as_json: bool) -> None:
    if as_json:
        out = {"article": {"title": article.title, "url": article.url, "tags": list(article.tags),
                           "lang": article.lang}, "results": [r.to_json() for r in results]}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    marks = {PUBLISHED: "✓", ALREADY: "=", DEFERRED: "…", FAILED: "✗"}
    words = {PUBLISHED: "published", ALREADY: "already published", DEFERRED: "deferred", FAILED: "failed"}
    for r in results:
        print(f"{marks[r.status]} {r.platform} ({r.account}): {words[r.status]}")
        for i, post in enumerate(r.posts, 1):
            prefix = f"  [{i}/{len(r.posts)}] " if len(r.posts) > 1 else "  "
            print(f"{prefix}{post.url}")
        if r.error:
            print(f"  error: {r.error}", file=sys.stderr if r.status == FAILED else sys.stdout)
