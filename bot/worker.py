"""The worker: claim due jobs with a lease, publish them through the same publisher, finish or reschedule.

- A job's lease is extended by a heartbeat while it runs; a worker that dies leaves its lease to run out,
  and another worker claims the job again. The ledger keeps the posts exactly-once when that happens.
- A target that is rate limited beyond a short wait is rescheduled at the platform's reset time, so it
  never blocks a worker slot.
- Posts to one account are paced by what the platform's headers said is left (``Adapter.quota``, kept
  in the store): when nothing is left before the reset, the job waits for the reset instead of running
  into a 429.
- SIGTERM: stop claiming, let the jobs in flight finish (or release them when the grace period ends).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.base import AccountSettings
from bot.article import Article
from bot.config import Settings
from bot.errors import CrosspostError
from bot.logs import get_logger
from bot.publish import ALREADY, DEFERRED, PUBLISHED, Publisher, TargetResult, pace_key

log = get_logger("crosspost.worker")


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
    return f"{result.platform}:{result.account}"


@dataclass
class Worker:
    """Runs due jobs from the store. One instance per process; ``concurrency`` jobs at a time."""

    settings: Settings
    store: Any  # bot.store.Store
    concurrency: int = 1
    lease_seconds: float = 120.0
    poll_interval: float = 1.0
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}")
    publisher: Publisher | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        if self.publisher is None:
            self.publisher = Publisher(self.settings, self.store)

    # --- one job -----------------------------------------------------------------------------------
    def run_job(self, job: Any) -> str:
        """Publish one claimed job; returns the state it was left in."""
        assert self.publisher is not None
        beat = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job.id, beat), daemon=True)
        heartbeat.start()
        try:
            article = Article.from_dict(job.article)
            accounts = select_accounts(self.settings, job.targets)
            if not accounts:
                error = f"no configured account for targets {', '.join(job.targets)}"
                self.store.finish(job.id, self.name, state="failed", error=error)
                return "failed"
            paced, ready = self._pace(accounts)
            results = self.publisher.publish(article, ready, thread=bool(job.article.get("thread")))
            return self._settle(job, results, paced)
        except CrosspostError as exc:
            self.store.finish(job.id, self.name, state="failed", error=str(exc))
            return "failed"
        finally:
            beat.set()
            heartbeat.join()

    def _settle(self, job: Any, results: Sequence[TargetResult], paced: dict[str, datetime]) -> str:
        deferred = {target_name(r): r.retry_at for r in results if r.status == DEFERRED}
        deferred.update(paced)
        failed = [r for r in results if r.status not in (PUBLISHED, ALREADY, DEFERRED)]
        errors = "; ".join(r.error or r.status for r in results if r.error) or None
        if deferred:
            soonest = min((t for t in deferred.values() if t is not None), default=None)
            run_at = soonest or (self.now() + timedelta(seconds=60))
            self.store.reschedule(job.id, self.name, run_at=run_at, error=errors, targets=sorted(deferred))
            log.info("job_rescheduled", extra={"job": job.id, "run_at": run_at.isoformat(),
                                               "targets": ",".join(sorted(deferred))})
            return "queued"
        if failed:
            self.store.finish(job.id, self.name, state="failed", error=errors)
            log.warning("job_failed", extra={"job": job.id, "error": errors})
            return "failed"
        self.store.finish(job.id, self.name, state="done")
        log.info("job_done", extra={"job": job.id})
        return "done"

    def _pace(self, accounts: Sequence[AccountSettings]) -> tuple[dict[str, datetime], list[AccountSettings]]:
        """Split accounts into those whose quota is spent until a reset (paced) and those ready now."""
        paced: dict[str, datetime] = {}
        ready: list[AccountSettings] = []
        now = self.now()
        for account in accounts:
            state = self.store.kv_get(pace_key(account.platform, account.account))
            reset_at = datetime.fromisoformat(state["reset_at"]) if state and state.get("reset_at") else None
            if state and state.get("remaining") is not None and state["remaining"] <= 0 and reset_at and reset_at > now:
                paced[f"{account.platform}:{account.account}"] = reset_at
            else:
                ready.append(account)
        return paced, ready

    def _heartbeat(self, job_id: int, done: threading.Event) -> None:
        interval = max(0.5, self.lease_seconds / 3)
        while not done.wait(interval):
            try:
                self.store.heartbeat(job_id, self.name, lease_seconds=self.lease_seconds)
            except CrosspostError:
                pass  # the lease may lapse; the ledger keeps a second run exactly-once

    # --- the loop ----------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> int:
        """Claim and run due jobs until stopped (or, with ``once``, until none is due). Returns jobs run."""
        ran = 0
        futures: set[Future[str]] = set()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="job") as pool:
            while not self.stop.is_set():
                futures = {f for f in futures if not f.done()}
                if len(futures) >= self.concurrency:
                    time.sleep(0.02)
                    continue
                job = self.store.claim(self.name, lease_seconds=self.lease_seconds)
                if job is None:
                    if once and not futures:
                        break
                    self.stop.wait(0.05 if once else self.poll_interval)
                    continue
                ran += 1
                log.info("job_claimed", extra={"job": job.id, "attempt": job.attempts})
                futures.add(pool.submit(self.run_job, job))
            for f in futures:
                f.result()
        return ran
