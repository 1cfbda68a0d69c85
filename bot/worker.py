"""The worker: claim due jobs with a lease, publish them through the same publisher, finish or reschedule.

- A job's lease is extended by a heartbeat while it runs; a worker that dies leaves its lease to run out,
  and another worker claims the job again. The ledger keeps the posts exactly-once when that happens.
- A rate-limited target is never waited for inside a worker (``Worker.rate_limit_wait``, 0 by default):
  the job is rescheduled, narrowed to the targets still to do, at the platform's reset time, so it never
  blocks a worker slot.
- Posts to one account are paced by what the platform's headers said is left (``Adapter.quota``, kept
  in the store under ``pace:<platform>:<account>`` by the publisher): when nothing is left before the
  reset, the job is rescheduled at the reset instead of running into a 429. Posts under way count
  against what is left, in every process: a job holds a share of each account's quota in the store
  (``Store.reserve_quota``, atomic), so workers on one account never overrun its quota together.
- A job where some target failed for good while others were deferred ends ``failed`` (the failure stays
  visible to ``crosspost queue --all`` and ``retry``), and the deferred targets continue in a new job.
- An idle worker waits for the store's job signal (a job queued in this process, or on PostgreSQL by
  any process via ``LISTEN``/``NOTIFY``), not just for its poll interval: a webhook's job starts at once.
  ``wakeups`` counts the waits a signal ended; polling stays as the fallback.
- While it runs, idle or busy, the worker says "still here" in the store every ``heartbeat_seconds``
  (bot/heartbeat.py), so the dashboard can warn when no worker is running.
- SIGTERM (``stop``): stop claiming; the jobs in flight finish their current call. One that would then
  sleep (a backoff before a retry) is released to the queue instead, due at once, so shutdown is quick
  and nothing is lost.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.base import AccountSettings
from bot.article import Article
from bot.config import Settings
from bot.errors import CrosspostError
from bot.heartbeat import WorkerBeat, new_beat, record
from bot.logs import get_logger
from bot.policy import check_publishable, job_allows_draft
from bot.publish import ALREADY, DEFERRED, PUBLISHED, Publisher, TargetResult, pace_key

log = get_logger("crosspost.worker")

UNKNOWN_RESET_DELAY = timedelta(seconds=60)  # a 429 that named no reset time: look again after this
MIN_DELAY = timedelta(seconds=0.25)  # a reschedule is never due sooner: no hot loop on a reset just past
# Reset times arrive in whole seconds (X, Bluesky) or shifted by the server's whole-second Date header
# (Mastodon.py): coming back exactly at the announced reset can be a hair early and cost a second 429.
RESET_MARGIN = timedelta(seconds=1)
RECHECK_DELAY = timedelta(seconds=1)  # quota left only for jobs in flight here: look again after this


class WorkerStopping(BaseException):
    """Raised inside a job's backoff sleep when the worker is stopping: the job is released, not failed.

    A BaseException so that no ``except Exception`` on the way (the publisher's per-target guard) turns
    a shutdown into a target failure.
    """


def select_accounts(settings: Settings, targets: Sequence[str]) -> tuple[AccountSettings, ...]:
    """Accounts named by job targets: ``"mastodon"`` (every mastodon account) or ``"mastodon:work"``."""
    chosen: list[AccountSettings] = []
    for account in settings.accounts:
        for target in targets:
            platform, _, name = target.partition(":")
            if account.platform == platform and (not name or name == account.account):
                chosen.append(account)
                break
    return tuple(chosen)


def target_name(result: TargetResult) -> str:
    """The job target that names exactly this result's account."""
    return f"{result.platform}:{result.account}"


def _account_name(account: AccountSettings) -> str:
    return f"{account.platform}:{account.account}"


def _default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class Worker:
    """Runs due jobs from the store. One instance per process; ``concurrency`` jobs at a time.

    ``now`` replaces the clock (tests): it then also decides which jobs are due. Without it the store's
    clock does (PostgreSQL's ``now()``, the same for every host).
    """

    settings: Settings
    store: Any  # bot.store.Store
    concurrency: int = 1
    lease_seconds: float = 120.0
    poll_interval: float = 1.0
    name: str = field(default_factory=_default_name)
    publisher: Publisher | None = None
    now: Callable[[], datetime] | None = None
    rate_limit_wait: float = 0.0  # longest in-process wait for a rate-limit reset; beyond it, reschedule
    heartbeat_seconds: float = 10.0  # how often the worker itself says "still here" (bot/heartbeat.py)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self._counter_lock = threading.Lock()
        self._jobs_run = 0  # reported in the heartbeat
        self.wakeups = 0  # idle waits ended by the store's job signal rather than by the poll interval
        if self.publisher is None:
            wait_limit = min(self.settings.rate_limit_wait, self.rate_limit_wait)
            self.publisher = Publisher(replace(self.settings, rate_limit_wait=wait_limit), self.store,
                                       sleep=self._sleep)

    def _clock(self) -> datetime:
        return self.now() if self.now is not None else datetime.now(UTC)

    def _sleep(self, seconds: float) -> None:
        """The publisher's backoff sleep: cut short, releasing the job, when the worker stops."""
        if self.stop.wait(seconds):
            raise WorkerStopping

    # --- one job -----------------------------------------------------------------------------------
    def run_job(self, job: Any) -> str:
        """Publish one claimed job; returns the state it was left in (``released`` on shutdown)."""
        assert self.publisher is not None
        beat = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job.id, beat), daemon=True)
        heartbeat.start()
        ready: list[AccountSettings] = []
        try:
            article = self._article(job) if job.kind != "delete" else Article()
            if job.kind != "delete":  # again, on the stored article: it may have become a draft since
                check_publishable(article, allow_draft=job_allows_draft(job.article))
            accounts = select_accounts(self.settings, job.targets)
            if not accounts:
                error = f"no configured account for targets {', '.join(job.targets)}"
                self._end(job, "failed", error)
                return "failed"
            if job.kind != "publish":
                return self._run_lifecycle(job, article)
            paced, ready = self._pace(accounts, job.id)
            results = self.publisher.publish(article, ready, thread=bool(job.article.get("thread")), job=job)
            return self._settle(job, results, paced)
        except WorkerStopping:
            try:
                self.store.release(job.id, self.name)
            except CrosspostError as exc:  # the lease runs out instead and another worker takes the job
                log.warning("job_not_released", extra={"job": job.id, "error": str(exc)})
            log.info("job_released", extra={"job": job.id})
            return "released"
        except CrosspostError as exc:
            self._end(job, "failed", str(exc))
            return "failed"
        except Exception as exc:  # a bug must not leave the job running until its lease runs out
            log.exception("job_crashed", extra={"job": job.id})
            self._end(job, "failed", f"unexpected {type(exc).__name__}: {exc}")
            return "failed"
        finally:
            self._unreserve(ready, job.id)
            with self._counter_lock:
                self._jobs_run += 1
            beat.set()
            heartbeat.join()

    def _article(self, job: Any) -> Article:
        """The job's Article; a WordPress post queued without ``_embed`` gets its tags and image here,
        from the site's REST API (cached in the store), or a warning saying what was left out."""
        from bot.load.jsonfmt import WP_PENDING
        from bot.load.wordpress import resolve_wordpress

        article = Article.from_dict(job.article)
        pending = job.article.get(WP_PENDING)
        if not pending:
            return article
        article = resolve_wordpress(article, pending=pending, cache=self.store, timeout=self.settings.timeout,
                                    allow_private=self.settings.allow_private_network)
        for warning in article.extra.get("warnings", ()):
            log.warning("article_incomplete", extra={"job": job.id, "warning": warning})
        return article

    def _run_lifecycle(self, job: Any, article: Article) -> str:
        """A ``delete`` or ``update`` job (bot/lifecycle.py): done when settled, rescheduled at a rate
        limit's reset, failed otherwise (``crosspost retry`` runs it again; it resumes)."""
        from bot.lifecycle import Lifecycle, settled

        assert self.publisher is not None
        lifecycle = Lifecycle(self.publisher)
        if job.kind == "delete":
            results = lifecycle.delete(job.article_key, job.targets)
        else:
            results = lifecycle.update(article, job.targets)
        errors = "; ".join(r.error for r in results if r.error) or None
        waits = [r.retry_at for r in results if r.retry_at is not None]
        if settled(results):
            self._end(job, "done", None)
            return "done"
        if waits and len(waits) == sum(1 for r in results if not settled([r])):
            run_at = max(max(waits) + RESET_MARGIN, self._clock() + MIN_DELAY)
            if not self.store.reschedule(job.id, self.name, run_at=run_at, error=errors):
                log.warning("job_lost", extra={"job": job.id, "state": "queued"})
            return "queued"
        self._end(job, "failed", errors)
        return "failed"

    def _end(self, job: Any, state: str, error: str | None) -> None:
        try:
            if not self.store.finish(job.id, self.name, state=state, error=error):
                log.warning("job_lost", extra={"job": job.id, "state": state})
        except CrosspostError as exc:  # the database is away: the lease runs out and the job runs again
            log.warning("job_not_finished", extra={"job": job.id, "error": str(exc)})
        if state == "failed":
            log.warning("job_failed", extra={"job": job.id, "error": error})
        else:
            log.info("job_done", extra={"job": job.id})

    def _settle(self, job: Any, results: Sequence[TargetResult], paced: dict[str, datetime]) -> str:
        now = self._clock()
        deferred: dict[str, datetime] = {
            target_name(r): (r.retry_at + RESET_MARGIN) if r.retry_at else now + UNKNOWN_RESET_DELAY
            for r in results if r.status == DEFERRED
        }
        deferred.update(paced)
        failed = [r for r in results if r.status not in (PUBLISHED, ALREADY, DEFERRED)]
        notes = [r.error or r.status for r in results if r.error]
        notes += [f"{name}: paced until {when.isoformat()}" for name, when in sorted(paced.items())]
        errors = "; ".join(notes) or None
        if deferred:
            run_at = max(min(deferred.values()), now + MIN_DELAY)
            targets = sorted(deferred)
            if failed:
                # The failure must stay visible: this job ends failed, the deferred targets go on in a new one.
                follow, _ = self.store.enqueue(article=job.article, article_key=job.article_key,
                                               targets=targets, run_at=run_at)
                self._end(job, "failed", f"{errors} (deferred targets continue in job {follow.id})")
                return "failed"
            if not self.store.reschedule(job.id, self.name, run_at=run_at, error=errors, targets=targets):
                log.warning("job_lost", extra={"job": job.id, "state": "queued"})
            log.info("job_rescheduled", extra={"job": job.id, "run_at": run_at.isoformat(),
                                               "targets": ",".join(targets)})
            return "queued"
        if failed:
            self._end(job, "failed", errors)
            return "failed"
        self._end(job, "done", None)
        return "done"

    def _pace(self, accounts: Sequence[AccountSettings],
              job_id: int) -> tuple[dict[str, datetime], list[AccountSettings]]:
        """Split accounts into those whose quota is spent until a reset (paced, with when to come back)
        and those ready now; the ready ones hold a share of their quota until :meth:`_unreserve`."""
        paced: dict[str, datetime] = {}
        now = self._clock()
        keys = {pace_key(a.platform, a.account): a for a in accounts}

        def decide(key: str, state: Any, holds: int) -> bool:
            remaining, reset_at = _quota_state(state)
            if reset_at is not None:
                reset_at += RESET_MARGIN
            if remaining is not None and reset_at is not None and reset_at > now:
                name = _account_name(keys[key])
                if remaining <= 0:
                    paced[name] = reset_at
                    return False
                if remaining - holds <= 0:
                    # What is left goes to posts under way; whether they use it is known soon.
                    paced[name] = min(reset_at, now + RECHECK_DELAY)
                    return False
            return True

        granted = self.store.reserve_quota(list(keys), self._holder(job_id), hold_seconds=self.lease_seconds,
                                           decide=decide)
        return paced, [a for a, ok in zip(keys.values(), granted, strict=True) if ok]

    def _unreserve(self, accounts: Sequence[AccountSettings], job_id: int) -> None:
        if not accounts:
            return
        try:
            self.store.release_quota([pace_key(a.platform, a.account) for a in accounts], self._holder(job_id))
        except CrosspostError as exc:  # the holds lapse with the lease instead
            log.warning("quota_not_released", extra={"job": job_id, "error": str(exc)})

    def _holder(self, job_id: int) -> str:
        return f"{self.name}:{job_id}"

    def _heartbeat(self, job_id: int, done: threading.Event) -> None:
        interval = max(0.5, self.lease_seconds / 3)
        while not done.wait(interval):
            try:
                if not self.store.heartbeat(job_id, self.name, lease_seconds=self.lease_seconds):
                    log.warning("lease_lost", extra={"job": job_id})
            except CrosspostError:
                pass  # the lease may lapse; the ledger keeps a second run exactly-once

    # --- the loop ----------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> int:
        """Claim and run due jobs until stopped (or, with ``once``, until none is due). Returns jobs run."""
        ran = 0
        futures: set[Future[str]] = set()
        signal = self.store.job_signal
        if not once:
            self.store.watch_jobs()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="job") as pool, self._beating():
            while not self.stop.is_set():
                futures = {f for f in futures if not f.done()}
                if len(futures) >= self.concurrency:
                    wait(futures, timeout=self.poll_interval, return_when=FIRST_COMPLETED)
                    continue
                seen = signal.count  # before the claim: a job queued after it still wakes the wait below
                job = self._claim()
                if job is None:
                    if once and not futures:
                        break
                    if once:
                        wait(futures, timeout=0.05, return_when=FIRST_COMPLETED)
                    elif signal.wait(seen, self.poll_interval, self.stop):
                        self.wakeups += 1
                    continue
                ran += 1
                log.info("job_claimed", extra={"job": job.id, "attempt": job.attempts})
                futures.add(pool.submit(self.run_job, job))
            for f in futures:
                f.result()
        return ran

    @contextmanager
    def _beating(self) -> Iterator[None]:
        """Record this worker's heartbeat from a thread of its own while the loop runs (a long job or a
        long poll never delays it), and a last one marked stopped when the loop ends."""
        done = threading.Event()
        first = new_beat(self.name, at=self._clock(), every=self.heartbeat_seconds)
        beater = threading.Thread(target=self._beat_until, args=(first, done), daemon=True, name="worker-beat")
        beater.start()
        try:
            yield
        finally:
            done.set()
            beater.join()

    def _beat_until(self, beat: WorkerBeat, done: threading.Event) -> None:
        while True:
            with self._counter_lock:
                jobs_run = self._jobs_run
            beat = replace(beat, beat_at=self._clock(), jobs_run=jobs_run, stopped=done.is_set())
            try:
                record(self.store, beat)
            except CrosspostError as exc:  # the database is away for a moment: the next beat may get through
                log.warning("heartbeat_not_recorded", extra={"worker": self.name, "error": str(exc)})
            if beat.stopped:
                return
            done.wait(self.heartbeat_seconds)

    def _claim(self) -> Any:
        try:
            if self.now is not None:
                return self.store.claim(self.name, lease_seconds=self.lease_seconds, now=self.now())
            return self.store.claim(self.name, lease_seconds=self.lease_seconds)
        except CrosspostError as exc:  # the database is away for a moment: keep polling
            log.warning("claim_failed", extra={"error": str(exc)})
            return None


def _quota_state(state: Any) -> tuple[int | None, datetime | None]:
    """(remaining, reset_at) from a ``pace:`` entry, or Nones when there is none or it is unreadable."""
    if not isinstance(state, dict):
        return None, None
    remaining = state.get("remaining")
    try:
        reset_at = datetime.fromisoformat(state["reset_at"]) if state.get("reset_at") else None
    except (TypeError, ValueError):
        reset_at = None
    return (int(remaining) if isinstance(remaining, int) else None), reset_at
