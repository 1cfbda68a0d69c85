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

An event loop queues its writes with :meth:`GroupCommit.run_async` instead: a writer thread of the group
leads their batches and wakes the loop once per batch, so a webhook takes no thread of its own to queue a
job and the loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.store.models import StoreError

if TYPE_CHECKING:
    from bot.store.base import Tx

T = TypeVar("T")
WRITER_IDLE_SECONDS = 2.0  # the writer thread of run_async stops after this long without a write


class Pipelined(Generic[T]):
    """A write that begins with one self-contained statement, whose row ``finish(tx, row)`` turns into the
    result. In a batch, where the transaction can (PostgreSQL: ``one_each``, one round trip for many), the
    first statements of the batch's pipelined writes are sent together before the rest of every write runs;
    so a first statement must hold its whole effect (it may not rely on ``finish`` of an earlier write)."""

    __slots__ = ("finish", "params", "sql")

    def __init__(self, sql: str, params: tuple[Any, ...],
                 finish: Callable[[Tx, tuple[Any, ...] | None], T]) -> None:
        self.sql = sql
        self.params = params
        self.finish = finish

    def __call__(self, tx: Tx) -> T:
        return self.finish(tx, tx.one(self.sql, self.params))


def _run_batch(tx: Tx, batch: list[_Write[Any]]) -> list[Any]:
    """Every write of ``batch`` in ``tx``: the pipelined ones' first statements together where ``tx`` can."""
    one_each: Callable[[str, list[tuple[Any, ...]]], list[tuple[Any, ...] | None]] | None
    one_each = getattr(tx, "one_each", None)
    firsts: dict[str, list[Pipelined[Any]]] = {}
    for write in batch:
        if one_each is not None and isinstance(write.work, Pipelined):
            firsts.setdefault(write.work.sql, []).append(write.work)
    rows: dict[int, tuple[Any, ...] | None] = {}
    for sql, works in firsts.items():
        if one_each is not None and len(works) > 1:
            rows.update(zip(map(id, works), one_each(sql, [work.params for work in works]), strict=True))
    results = []
    for write in batch:
        work = write.work
        if isinstance(work, Pipelined) and id(work) in rows:
            results.append(work.finish(tx, rows[id(work)]))
        else:
            results.append(work(tx))
    return results


class _Write(Generic[T]):
    __slots__ = ("done", "error", "future", "result", "work")

    def __init__(self, work: Callable[[Tx], T], future: asyncio.Future[T] | None = None) -> None:
        self.work = work
        self.future = future  # set for a write queued from an event loop (run_async)
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False


def _settle(writes: list[_Write[Any]]) -> None:
    """In the event loop: hand each awaiting coroutine its result (a cancelled one has gone away)."""
    for write in writes:
        assert write.future is not None
        if write.future.cancelled():
            continue
        if write.error is not None:
            write.future.set_exception(write.error)
        else:
            write.future.set_result(write.result)


class GroupCommit:
    """Run writes in shared transactions; see the module docstring."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Tx]]) -> None:
        self._transaction = transaction
        self._queue = threading.Lock()  # guards _pending and _writer
        self._arrived = threading.Condition(self._queue)  # the writer thread waits here for async writes
        self._pending: list[_Write[Any]] = []
        self._writer = False  # the writer thread (which leads for run_async's writes) is running
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

    async def run_async(self, work: Callable[[Tx], T]) -> T:
        """:meth:`run` for a coroutine: the write is led by a writer thread of the group, so the event
        loop never blocks and no thread is taken per write; one wake-up of the loop per batch."""
        write: _Write[T] = _Write(work, asyncio.get_running_loop().create_future())
        with self._queue:
            self._pending.append(write)
            if self._writer:
                self._arrived.notify()
            else:
                self._writer = True
                threading.Thread(target=self._write_on, name="crosspost-group-commit", daemon=True).start()
        assert write.future is not None
        return await write.future

    def _write_on(self) -> None:
        """The writer thread: lead batches while writes come, stop after WRITER_IDLE_SECONDS without any."""
        while True:
            with self._queue:
                if not self._pending:
                    self._arrived.wait(WRITER_IDLE_SECONDS)
                    if not self._pending:
                        self._writer = False
                        return
            with self._leading:
                with self._queue:
                    batch, self._pending = self._pending, []
                if batch:
                    self._lead(batch)

    def _lead(self, batch: list[_Write[Any]]) -> None:
        try:
            self.writes += len(batch)
            if len(batch) > 1:
                try:
                    self.batches += 1
                    with self._transaction() as tx:
                        results = _run_batch(tx, batch)
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
            self._wake(batch)

    @staticmethod
    def _wake(batch: list[_Write[Any]]) -> None:
        """Settle the batch's async writes: one call into each event loop they came from."""
        loops: dict[asyncio.AbstractEventLoop, list[_Write[Any]]] = {}
        for write in batch:
            if write.future is not None:
                loops.setdefault(write.future.get_loop(), []).append(write)
        for loop, writes in loops.items():
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, writes)
