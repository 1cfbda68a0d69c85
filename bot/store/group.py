"""Group commit: writers of one process that arrive together share one transaction and its commit.

A burst of webhook deliveries is many small writes, and each commit costs what no amount of Python can
save: an fsync of the write-ahead log (SQLite, ``synchronous = FULL``) or a round trip and a WAL flush
(PostgreSQL). Writers queue their work here; whoever finds no batch running leads: it takes every write
queued so far, runs them one after another in one transaction, commits once and hands each writer its
own result. Under load a batch holds the writes that arrived during the previous commit; alone, a write
is a batch of one, as before.

Every writer returns only after the commit that holds its write (so a webhook still answers 202 only for
a job on disk), and each write stays atomic: if any write of a batch raises, the batch is rolled back and
its writes run again, each in a transaction of its own, so one bad write costs no other writer anything
and every writer sees its own error. Writes must therefore be safe to run again after a rollback (they
only touch the database; side effects wait until :meth:`GroupCommit.run` has returned).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.store.models import StoreError

if TYPE_CHECKING:
    from bot.store.base import Tx

T = TypeVar("T")


class _Write(Generic[T]):
    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[Tx], T]) -> None:
        self.work = work
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Run writes in shared transactions; see the module docstring."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Tx]]) -> None:
        self._transaction = transaction
        self._queue = threading.Lock()  # guards _pending
        self._pending: list[_Write[Any]] = []
        self._leading = threading.Lock()  # one batch at a time; followers wait here for theirs
        self.batches = 0  # transactions opened, and writes run through them (tests read these)
        self.writes = 0

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run ``work(tx)`` in a transaction shared with concurrent writers; its result once committed."""
        write: _Write[T] = _Write(work)
        with self._queue:
            self._pending.append(write)
        with self._leading:
            if not write.done:  # no leader took it while we waited: lead the next batch
                with self._queue:
                    batch, self._pending = self._pending, []
                self._lead(batch)
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    def _lead(self, batch: list[_Write[Any]]) -> None:
        try:
            self.writes += len(batch)
            if len(batch) > 1:
                try:
                    self.batches += 1
                    with self._transaction() as tx:
                        results = [write.work(tx) for write in batch]
                except Exception:  # one of them failed: each runs alone below, with its own error
                    pass
                else:
                    for write, result in zip(batch, results, strict=True):
                        write.result, write.done = result, True
                    return
            for write in batch:
                try:
                    self.batches += 1
                    with self._transaction() as tx:
                        write.result = write.work(tx)
                except Exception as exc:
                    write.error = exc
                write.done = True
        finally:  # interrupted (KeyboardInterrupt, SystemExit): no writer may wait on, or return, nothing
            for write in batch:
                if not write.done:
                    write.error = StoreError("interrupted around its commit (the write may be lost)")
                    write.done = True
