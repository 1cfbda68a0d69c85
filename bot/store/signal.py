"""Waking idle workers when a job is queued, instead of leaving it to their next poll.

One :class:`JobSignal` per store object: ``Store.enqueue`` (and ``release``, ``retry``) notify it after
their commit, so a worker in the same process (``crosspost serve`` with its worker) claims the job at
once. Workers in other processes hear of it through the database where it can tell them: PostgreSQL's
``LISTEN``/``NOTIFY`` (:meth:`bot.store.postgres.PostgresStore.watch_jobs` feeds the signal); on SQLite
they keep polling. Polling stays as the fallback everywhere, so a lost wake-up costs one poll interval.
"""

from __future__ import annotations

import threading

STOP_CHECK_SECONDS = 0.1  # how often a waiting worker looks at its stop flag (set by signal handlers)


class JobSignal:
    """A counter of "a job may be due now" events that waiters can block on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    @property
    def count(self) -> int:
        """Read before looking at the queue; pass to :meth:`wait`, so a wake-up in between is not lost."""
        with self._cond:
            return self._count

    def notify(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until a notification after ``seen`` (True), or ``timeout`` seconds or ``stop`` (False)."""
        remaining = timeout
        with self._cond:
            while self._count == seen:
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return False
                step = min(remaining, STOP_CHECK_SECONDS) if stop is not None else remaining
                self._cond.wait(step)
                remaining -= step
            return True
