"""After publishing: retract or edit an article's posts, from the ledger, on every account, exactly once.

The ledger knows every post of every article. :class:`Lifecycle` acts on it through the same adapters,
retry policy and error types as :class:`bot.publish.Publisher` (it borrows the publisher's):

- **delete**: every ``published`` row of the article, thread parts last to first (a reply never
  outlives its parent for a moment), each marked ``deleted`` with the time as soon as the platform
  confirmed it. A post already gone (404, RecordNotFound) counts as deleted. Rows already ``deleted``
  are never asked about again, so a run that stopped half-way (a failure, a SIGKILL) resumes where it
  stopped, and a second run sends nothing. Deleting is idempotent, so an ``Ambiguous`` failure is
  simply retried.
- **update**: the article is composed again; where a part's text changed and ``on_edit = "update"``
  holds for the account, the post is edited in place (Mastodon keeps the edit history); a platform that
  cannot edit says why (``not_editable``), and with ``on_edit = "ignore"`` nothing published changes.

Per-target results follow publishing's: one result per account, one failure never hides the others.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.base import AccountSettings, Adapter, PostRef, PostRequest
from bot.article import Article
from bot.config import Settings
from bot.errors import ConfigError, CrosspostError, InputError, NotSupported, PublishError, RateLimited
from bot.logs import get_logger
from bot.publish import Publisher, TargetDeferred, TargetResult
from bot.redact import redact
from bot.store import LedgerRow, Store

log = get_logger("crosspost.lifecycle")

DELETED, ALREADY_DELETED, FAILED, NOT_SUPPORTED = "deleted", "already_deleted", "failed", "not_supported"
UPDATED, UNCHANGED, IGNORED, NOT_EDITABLE = "updated", "unchanged", "ignored", "not_editable"
OK_STATES = frozenset({DELETED, ALREADY_DELETED, UPDATED, UNCHANGED, IGNORED, NOT_EDITABLE})
"""Results that need nothing more (exit 0); ``failed`` and ``not_supported`` leave a post out there."""

ALREADY_GONE = "already gone when deleted"  # the ledger note of a post the platform no longer had


class LifecycleResult(TargetResult):
    """What a delete or an edit did on one account: ``posts`` are the posts acted on; ``error`` the
    failure, or why a post cannot be edited; ``retry_at`` when to come back after a rate limit."""


def target_of(row: LedgerRow) -> str:
    return f"{row.platform}:{row.account}"


def _ref(row: LedgerRow) -> PostRef:
    if row.ref:
        return PostRef.from_dict(row.ref)
    return PostRef(row.platform, row.post_id or "", row.post_url or "")


@dataclass
class Lifecycle:
    """Delete and edit published posts through ``publisher``'s adapters, retry policy and store."""

    publisher: Publisher

    @property
    def settings(self) -> Settings:
        return self.publisher.settings

    @property
    def store(self) -> Store:
        store: Store = self.publisher.store
        return store

    # --- delete ------------------------------------------------------------------------------------
    def delete(self, article_key: str, targets: Sequence[str] = ()) -> list[LifecycleResult]:
        """Delete every post of the article (on ``targets`` only, ``"mastodon"`` or ``"mastodon:work"``,
        when given), concurrently per account. Accounts with nothing in the ledger are not reported."""
        groups = self._rows_by_target(article_key, targets)
        return self._fan_out(groups, self._delete_target)

    def delete_plan(self, article_key: str, targets: Sequence[str] = ()) -> list[LifecycleResult]:
        """What :meth:`delete` would do, asking no platform (``--dry-run``)."""
        results = []
        for (platform, account), rows in self._rows_by_target(article_key, targets).items():
            live = [r for r in _last_first(rows) if r.state == "published"]
            status = DELETED if live else ALREADY_DELETED
            results.append(LifecycleResult(platform, account, status, [_ref(r) for r in live]))
        return results

    def _delete_target(self, account: AccountSettings, rows: list[LedgerRow], result: LifecycleResult) -> None:
        unsure = [r for r in rows if r.state in ("sending", "unknown")]
        live = [r for r in _last_first(rows) if r.state == "published"]
        if not live:
            result.status = FAILED if unsure else ALREADY_DELETED
        deleted_now = False
        adapter: Adapter | None = None
        try:
            for row in live:
                adapter = adapter or self.publisher.adapter(account)
                ref = _ref(row)
                fields = {"article": row.article_key, "platform": row.platform, "account": row.account,
                          "part": row.part, "post_id": ref.id}
                gone_now = self._call("delete", adapter, account, adapter.delete, ref)
                self.store.ledger_mark_deleted(row.id, note=None if gone_now else ALREADY_GONE)
                log.info("deleted" if gone_now else "already_deleted", extra=fields)
                result.posts.append(ref)
                deleted_now = deleted_now or gone_now
        finally:
            if adapter is not None:
                with contextlib.suppress(Exception):  # closing must never change the outcome
                    adapter.close()
        if live:
            result.status = DELETED if deleted_now else ALREADY_DELETED
        if unsure:
            parts = ", ".join(str(r.part + 1) for r in unsure)
            result.status = FAILED
            result.error = (f"{account.platform}: part(s) {parts} may have been posted (outcome unknown): "
                            "publish again to reconcile, then delete")

    # --- update ------------------------------------------------------------------------------------
    def update(self, article: Article, targets: Sequence[str] = ()) -> list[LifecycleResult]:
        """Bring the article's published posts up to date with its new text, as ``on_edit`` says."""
        groups = self._rows_by_target(article.key, targets)

        def run(account: AccountSettings, rows: list[LedgerRow], result: LifecycleResult) -> None:
            self._update_target(article, account, rows, result)

        return self._fan_out(groups, run)

    def _update_target(
        self, article: Article, account: AccountSettings, rows: list[LedgerRow], result: LifecycleResult
    ) -> None:
        generation = max(r.generation for r in rows)
        current = sorted((r for r in rows if r.generation == generation), key=lambda r: r.part)
        if not all(r.state == "published" for r in current):
            result.status = FAILED
            result.error = f"{account.platform}: not every part is published yet; publish first, then update"
            return
        adapter = self.publisher.adapter(account)
        try:
            _, plan = self.publisher.compose_for(article, account, adapter, bool(article.extra.get("thread")))
            texts = [p.text for p in plan.posts]
            changed = [(row, text) for row, text in zip(current, texts, strict=False) if row.text != text]
            if len(texts) == len(current) and not changed:
                result.status = UNCHANGED
                return
            if self.settings.lifecycle_for("on_edit", account.platform, account.account) != "update":
                result.status = IGNORED
                result.error = f"{account.platform}: the text changed; on_edit = \"ignore\" leaves the posts be"
                return
            if len(texts) != len(current):
                result.status = NOT_EDITABLE
                result.error = (f"{account.platform}: the article now makes {len(texts)} post(s) instead of "
                                f"{len(current)}; a thread cannot change length in place")
                return
            for row, text in changed:
                ref = _ref(row)
                post = PostRequest(text=text, idempotency_key=row.idempotency_key, lang=article.lang)
                try:
                    edited = self._call("edit", adapter, account, adapter.edit, ref, post)
                except NotSupported as exc:
                    result.status, result.error = NOT_EDITABLE, str(exc)
                    return
                self.store.ledger_mark_edited(row.id, text=text, ref={**ref.to_dict(), "url": edited.url or ref.url})
                log.info("edited", extra={"article": article.key, "platform": row.platform,
                                          "account": row.account, "part": row.part, "post_id": ref.id})
                result.posts.append(edited)
            result.status = UPDATED
        finally:
            with contextlib.suppress(Exception):
                adapter.close()

    # --- shared ------------------------------------------------------------------------------------
    def _call(self, action: str, adapter: Adapter, account: AccountSettings, method: Callable[..., Any],
              *args: Any) -> Any:
        """One platform call under the publisher's retry policy, paced like posting: what the platform said
        is left of ``action``'s bucket is recorded after every answer (its own pace key where the platform
        limits the action apart, so posting's numbers are never overwritten), and a spent bucket is waited
        for before the call, not hammered. A reset past the allowed wait defers (the worker reschedules)."""
        publisher = self.publisher

        def attempt() -> Any:
            until = publisher.spent_until(account.platform, account.account, action)
            if until is not None:
                raise RateLimited(f"{account.platform}: {action} quota spent (paced)", retry_at=until, status=None)
            try:
                answer = method(*args)
            except RateLimited as exc:
                publisher.remember_quota(adapter, account.account, exhausted_until=exc.retry_at, action=action)
                raise
            publisher.remember_quota(adapter, account.account, action=action)
            return answer

        try:
            return publisher.policy()(attempt)
        except RateLimited as exc:
            raise TargetDeferred(exc) from None

    def _rows_by_target(self, article_key: str, targets: Sequence[str]) -> dict[tuple[str, str], list[LedgerRow]]:
        groups: dict[tuple[str, str], list[LedgerRow]] = {}
        for row in self.store.ledger_rows(article_key):
            if targets and not any(_names(t, row) for t in targets):
                continue
            groups.setdefault((row.platform, row.account), []).append(row)
        return groups

    def _fan_out(
        self,
        groups: dict[tuple[str, str], list[LedgerRow]],
        work: Callable[[AccountSettings, list[LedgerRow], LifecycleResult], None],
    ) -> list[LifecycleResult]:
        if not groups:
            return []
        with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="lifecycle") as pool:
            futures = [pool.submit(self._guarded, key, rows, work) for key, rows in groups.items()]
            return [f.result() for f in futures]

    def _guarded(
        self,
        key: tuple[str, str],
        rows: list[LedgerRow],
        work: Callable[[AccountSettings, list[LedgerRow], LifecycleResult], None],
    ) -> LifecycleResult:
        platform, name = key
        result = LifecycleResult(platform, name, FAILED)
        account = next((a for a in self.settings.accounts if a.platform == platform and a.account == name), None)
        if account is None:
            result.error = f"{platform}: account {name!r} is not configured (no credentials); cannot reach its posts"
            return result
        try:
            work(account, rows, result)
        except TargetDeferred as deferred:
            result.status, result.retry_at = FAILED, deferred.error.retry_at
            when = deferred.error.retry_at.isoformat() if deferred.error.retry_at else "later"
            result.error = f"{platform}: rate limited until {when}; run again then: {deferred.error}"
        except NotSupported as exc:
            result.status, result.error = NOT_SUPPORTED, str(exc)
        except (PublishError, CrosspostError) as exc:
            result.status, result.error = FAILED, str(exc)
        except Exception as exc:  # an adapter bug must not take the other targets down
            log.exception("unexpected_error", extra={"platform": platform, "account": name})
            result.status, result.error = FAILED, f"{platform}: unexpected {type(exc).__name__}: {exc}"
        if result.error:
            result.error = redact(result.error, account.secrets)
        return result


def _names(target: str, row: LedgerRow) -> bool:
    platform, _, account = target.partition(":")
    return row.platform == platform and (not account or row.account == account)


def _last_first(rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    """Newest generation first, and within it the last thread part first."""
    return sorted(rows, key=lambda r: (r.generation, r.part), reverse=True)


def settled(results: Sequence[LifecycleResult]) -> bool:
    """Whether nothing is left to do (the exit code 0 of ``crosspost delete`` / ``--update``)."""
    return all(r.status in OK_STATES for r in results)


# --- unpublish from the CMS ---------------------------------------------------------------------------


def handle_unpublish(store: Store, settings: Settings, article_key: str, *, targets: Sequence[str] = ()) -> Any:
    """The CMS took the article back (the webhook calls this after cancelling its queued job).

    With ``on_unpublish = "delete"`` for an account that has posts of the article, a signed, deduplicated
    ``delete`` job is queued (the worker runs :meth:`Lifecycle.delete`); returns it, or None when nothing
    is to be deleted. With the default ``"keep"`` nothing is removed: the withdrawal is recorded under
    ``unpublished:<key>`` and shown by ``crosspost status``.
    """
    from datetime import UTC

    now = datetime.now(UTC)
    rows = [r for r in store.ledger_rows(article_key) if r.state == "published"]
    store.kv_set(f"unpublished:{article_key}", {"at": now.isoformat()})
    chosen = sorted({target_of(r) for r in rows
                     if settings.lifecycle_for("on_unpublish", r.platform, r.account) == "delete"
                     and (not targets or any(_names(t, r) for t in targets))})
    if not chosen:
        log.info("unpublished_kept", extra={"article": article_key, "posts": len(rows)})
        return None
    generation = max(r.generation for r in rows)  # a later unpublish of a republished article is news again
    job, created = store.enqueue(article={"key": article_key}, article_key=article_key, targets=chosen,
                                 run_at=now, dedupe_key=f"delete:{article_key}:g{generation}", kind="delete")
    log.info("unpublished_delete_queued" if created else "unpublished_delete_exists",
             extra={"article": article_key, "job": job.id})
    return job


def content_key(article: Article) -> str:
    """A digest of what the article says (its stored form): two deliveries with the same one are one edit."""
    import hashlib

    raw = json.dumps(article.to_dict(), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def apply_edit(store: Store, settings: Settings, article: Article, job: Any, *, targets: Sequence[str] = ()) -> Any:
    """A newer version of an article arrived (webhook edit, WordPress update, changed feed entry).

    ``job`` is the article's publishing job, if known. Still queued: it is given the new article, so the
    new text is what gets posted. Already run: where ``on_edit = "update"`` holds for an account with
    posts of the article, a deduplicated ``update`` job is queued (the worker runs
    :meth:`Lifecycle.update`). Returns the job that now stands for the article (or None).
    """
    from datetime import UTC

    stored = article.to_dict()
    if job is not None and job.article == stored:
        return job  # a redelivery: nothing changed
    if job is not None and job.state == "queued" and store.replace_queued_article(job.id, stored):
        log.info("queued_article_replaced", extra={"article": article.key, "job": job.id})
        return store.get_job(job.id)
    rows = [r for r in store.ledger_rows(article.key) if r.state == "published"]
    chosen = sorted({target_of(r) for r in rows
                     if settings.lifecycle_for("on_edit", r.platform, r.account) == "update"
                     and (not targets or any(_names(t, r) for t in targets))})
    if not chosen:
        return job
    update, created = store.enqueue(article=stored, article_key=article.key, targets=chosen,
                                    run_at=datetime.now(UTC), dedupe_key=f"update:{article.key}:{content_key(article)}",
                                    kind="update")
    log.info("edit_update_queued" if created else "edit_update_exists",
             extra={"article": article.key, "job": update.id})
    return update


# --- the CLI's runs -----------------------------------------------------------------------------------


def run_delete(
    article_key: str, settings: Settings, targets: Sequence[str], *, dry_run: bool = False, as_json: bool = False
) -> int:
    """``crosspost delete``: delete, print each account's result, return the exit code."""
    from bot.store import connect

    store = connect(settings.database_url)
    try:
        if not store.ledger_rows(article_key):
            raise InputError(f"nothing of article {article_key} is in the ledger: there is nothing to delete "
                             "(see crosspost status)")
        lifecycle = Lifecycle(Publisher(settings, store))
        results = lifecycle.delete_plan(article_key, targets) if dry_run else lifecycle.delete(article_key, targets)
    finally:
        store.close()
    if not results:
        raise ConfigError(f"article {article_key} has no posts on {', '.join(targets)}")
    print_results("delete", article_key, results, as_json=as_json, dry_run=dry_run)
    return 0 if dry_run or settled(results) else 1


def run_update(article: Article, settings: Settings, targets: Sequence[str], *, as_json: bool = False) -> int:
    """``crosspost ARTICLE --update``: edit what is out there where the text changed."""
    from bot.store import connect

    store = connect(settings.database_url)
    try:
        results = Lifecycle(Publisher(settings, store)).update(article, targets)
    finally:
        store.close()
    if not results:
        raise InputError(f"{article.url}: nothing of this article is published yet; post it first (without --update)")
    print_results("update", article.key, results, as_json=as_json)
    return 0 if settled(results) else 1


_WORDS = {DELETED: ("✓", "deleted"), ALREADY_DELETED: ("=", "already deleted"), FAILED: ("✗", "failed"),
          NOT_SUPPORTED: ("✗", "not supported"), UPDATED: ("✓", "updated"), UNCHANGED: ("=", "unchanged"),
          IGNORED: ("=", "changed, not updated (on_edit = ignore)"), NOT_EDITABLE: ("·", "not editable")}


def print_results(action: str, article_key: str, results: Sequence[LifecycleResult], *, as_json: bool,
                  dry_run: bool = False) -> None:
    if as_json:
        out = {"action": action, "article": article_key, "dry_run": dry_run,
               "results": [r.to_json() for r in results]}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for r in results:
        mark, word = _WORDS[r.status]
        if dry_run:
            mark, word = ("-", f"would delete {len(r.posts)} post(s)") if r.posts else ("=", "already deleted")
        print(f"{mark} {r.platform} ({r.account}): {word}")
        for post in r.posts:
            print(f"  {post.url}")
        if r.error:
            print(f"  {'error: ' if r.status in (FAILED, NOT_SUPPORTED) else ''}{r.error}",
                  file=sys.stderr if r.status == FAILED else sys.stdout)
