"""The Store: ledger, job queue and small tables, written once over a tiny dialect interface.

Every public operation is one short transaction (queueing writes of one process that arrive together share
one, and its commit: ``bot/store/group.py``). SQL here is written once with ``?`` placeholders;
a dialect (``sqlite.py``, ``postgres.py``) supplies the transaction (exclusive for writes), the clock,
and how datetimes and JSON travel. Race safety comes from the database, never from Python locks:
unique keys with ``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT`` for get-or-insert, and a
claim that runs in one exclusive transaction (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so any number of threads and processes can share one database.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.redact import redact
from bot.store.group import GroupCommit, Pipelined
from bot.store.models import (
    JOB_FINISHED_STATES,
    JOB_KINDS,
    JOB_STATES,
    LEDGER_FAIL_STATES,
    LEDGER_GONE_STATES,
    AlreadyPublished,
    Ingest,
    Job,
    LedgerRow,
    StoreError,
)
from bot.store.signal import JobSignal

LEDGER_COLUMNS = (
    "id, article_key, platform, account, part, generation, idempotency_key, state, attempts, "
    "last_error, post_id, post_url, ref, prepared, text, created_at, updated_at, deleted_at, edited_at"
)
JOB_COLUMNS = (
    "id, article, article_key, targets, run_at, state, attempts, lease_until, worker, last_error, "
    "dedupe_key, created_at, updated_at, kind"
)
_IN_CHUNK = 500  # stays far below SQLite's bound-parameter limit


class Tx(Protocol):
    """An open transaction: run ``?``-placeholder SQL and read tuples back."""

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """Run ``sql`` and return its first row (or None)."""
        ...

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return every row."""
        ...

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run ``sql`` and return how many rows it changed."""
        ...

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run ``sql`` once per parameter tuple."""
        ...


def utc(value: datetime, what: str = "datetime") -> datetime:
    """``value`` in UTC; a naive datetime is refused because its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def redact_url(url: str) -> str:
    """``url`` with any password (in the authority or a ``password=`` parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    """The password in ``url``, so error text from a driver can be scrubbed of it."""
    try:
        parts = urlsplit(url)
        password = parts.password
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key.lower() == "password" and value:
                password = value
    except ValueError:
        return None
    return password or None


def _redacted(error: str | None) -> str | None:
    """An error about to be stored, without any secret a server echoed into it (rows outlive logs)."""
    return None if error is None else redact(error)


C = TypeVar("C")


class ConnectionPool(Generic[C]):
    """At most ``max_size`` connections shared by every thread; each transaction borrows one.

    Bounded, because a publisher or webhook may run hundreds of threads and PostgreSQL refuses
    clients past ``max_connections`` (100 by default); threads beyond the bound wait up to
    ``wait_seconds`` for a free connection. A connection idle longer than ``check_after`` seconds is
    tested with ``check`` before reuse (a firewall may have dropped it). After a fork the child
    forgets the parent's connections (a shared socket or file lock corrupts both) and opens its own.
    """

    def __init__(
        self,
        factory: Callable[[], C],
        closer: Callable[[C], None],
        *,
        max_size: int,
        wait_seconds: float = 30.0,
        check: Callable[[C], bool] | None = None,
        check_after: float = 30.0,
    ) -> None:
        self._factory = factory
        self._closer = closer
        self._check = check
        self._check_after = check_after
        self.max_size = max_size
        self._wait = wait_seconds
        self._cond = threading.Condition()
        self._idle: list[tuple[C, float]] = []
        self._size = 0
        self._pid = os.getpid()
        self.closed = False

    def take(self) -> C:
        """A connection for this thread's exclusive use until :meth:`give` or :meth:`drop`."""
        while True:
            conn, idle_since = self._reserve()
            if conn is None:
                break
            if self._check is None or time.monotonic() - idle_since < self._check_after or self._check(conn):
                return conn
            self.drop(conn)
        try:
            return self._factory()
        except BaseException:
            with self._cond:
                self._size -= 1
                self._cond.notify()
            raise

    def _reserve(self) -> tuple[C | None, float]:
        """An idle connection, or (None, 0) after reserving a slot for a new one."""
        deadline = time.monotonic() + self._wait
        with self._cond:
            while True:
                if self.closed:
                    raise StoreError("the store is closed")
                if self._pid != os.getpid():
                    self._pid, self._idle, self._size = os.getpid(), [], 0
                if self._idle:
                    return self._idle.pop()
                if self._size < self.max_size:
                    self._size += 1
                    return None, 0.0
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(
                        f"all {self.max_size} database connections stayed busy for {self._wait:g} s"
                    )
                self._cond.wait(remaining)

    def give(self, conn: C) -> None:
        """Return a healthy connection for reuse."""
        with self._cond:
            if not self.closed and self._pid == os.getpid():
                self._idle.append((conn, time.monotonic()))
                self._cond.notify()
                return
        self._quiet_close(conn)

    def drop(self, conn: C) -> None:
        """Close a connection that broke, freeing its slot."""
        self._quiet_close(conn)
        with self._cond:
            if self._pid == os.getpid():
                self._size -= 1
                self._cond.notify()

    def close_all(self) -> None:
        """Close idle connections now and borrowed ones when they are given back."""
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            same_process = self._pid == os.getpid()
            self._cond.notify_all()
        if same_process:
            for conn, _ in idle:
                self._quiet_close(conn)

    def _quiet_close(self, conn: C) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail; it is gone anyway
            self._closer(conn)


class Store(ABC):
    """The persistence layer: post-ID ledger, job queue, key/value and feed-seen tables.

    Obtain one with :func:`bot.store.connect`. Safe to share between threads; several processes (and,
    on PostgreSQL, several hosts) may use the same database at once. Worker names passed to
    :meth:`claim` must be unique per running worker (host and pid, say): ownership is checked by name.
    """

    dialect: ClassVar[str]
    url_display: str
    _skip_locked: ClassVar[str] = ""

    # -- what a dialect provides --------------------------------------------------------------------

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Tx]:
        """One transaction, committed on success; exclusive against other writers when ``write``."""

    @abstractmethod
    def _now(self, tx: Tx) -> datetime:
        """The current time (aware UTC) by the clock every user of this database shares."""

    @abstractmethod
    def _ts(self, value: datetime | None) -> Any:
        """A datetime as a query parameter."""

    @abstractmethod
    def _read_ts(self, raw: Any) -> datetime:
        """A stored datetime back as aware UTC."""

    @abstractmethod
    def _json(self, value: Any) -> Any:
        """A JSON value as a query parameter (Python None becomes SQL NULL)."""

    @abstractmethod
    def _read_json(self, raw: Any) -> Any:
        """A stored JSON value back as Python data."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection; the store cannot be used afterwards."""

    # -- waking workers -----------------------------------------------------------------------------

    @functools.cached_property
    def _group(self) -> GroupCommit:
        """Queueing writes (webhook ingest above all) share transactions and commits: see bot.store.group."""
        return GroupCommit(lambda: self._transaction(write=True))

    @functools.cached_property
    def job_signal(self) -> JobSignal:
        """Notified when a job may be due now (queued, released, retried): idle workers wait on it."""
        return JobSignal()

    def _announce_job(self, tx: Tx) -> None:
        """Inside the transaction that queues a job: tell other processes (PostgreSQL: NOTIFY)."""
        return None  # SQLite cannot tell other processes; their workers poll

    def watch_jobs(self) -> None:
        """Feed :attr:`job_signal` from other processes' announcements too, where the database can."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url_display}>"

    # -- ledger -------------------------------------------------------------------------------------

    def ledger_part(
        self,
        article_key: str,
        platform: str,
        account: str,
        part: int,
        generation: int,
        *,
        idempotency_key: str,
        text: str,
    ) -> LedgerRow:
        """The row for this post part, inserted as ``pending`` if there is none yet.

        Race-safe: concurrent callers all get the one row. An existing row keeps its own
        idempotency key and text (the first writer's), so retries always reuse the first key.
        """
        key = (article_key, platform, account, part, generation)
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            tx.run(
                "INSERT INTO ledger (article_key, platform, account, part, generation, idempotency_key, "
                "state, attempts, text, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) "
                "ON CONFLICT (article_key, platform, account, part, generation) DO NOTHING",
                (*key, idempotency_key, text, now, now),
            )
            row = tx.one(
                f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE article_key = ? AND platform = ? AND account = ? "
                "AND part = ? AND generation = ?",
                key,
            )
        assert row is not None  # just inserted or already there; ledger rows are never deleted
        return self._ledger(row)

    def ledger_begin(self, row_id: int, *, prepared: dict[str, Any] | None) -> LedgerRow:
        """Mark a part ``sending`` (attempts + 1) and commit, before the platform call.

        ``prepared`` is stored only if the row has none yet: request data fixed on the first attempt
        (a Bluesky rkey, say) is never replaced, and the returned row carries the fixed one.
        Raises :class:`AlreadyPublished` for a published row, ``LookupError`` for an unknown id.
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                "UPDATE ledger SET state = 'sending', attempts = attempts + 1, "
                "prepared = COALESCE(prepared, ?), updated_at = ? "
                f"WHERE id = ? AND state NOT IN ('published', 'deleted') RETURNING {LEDGER_COLUMNS}",
                (self._json(prepared), now, row_id),
            )
            if row is None:
                self._refuse(tx, row_id)
        assert row is not None
        return self._ledger(row)

    def ledger_keep(self, row_id: int, *, prepared: dict[str, Any]) -> LedgerRow | None:
        """Replace the prepared state of a part that is being sent (``sending``): what an attempt learned
        that the next one must reuse (a media id the platform is still processing). None for any other
        state (published meanwhile, or taken back)."""
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                f"UPDATE ledger SET prepared = ?, updated_at = ? WHERE id = ? AND state = 'sending' "
                f"RETURNING {LEDGER_COLUMNS}",
                (self._json(prepared), now, row_id),
            )
        return self._ledger(row) if row is not None else None

    def ledger_recompose(self, row_id: int, *, text: str, idempotency_key: str | None = None) -> LedgerRow | None:
        """Forget the request fixed for a part that never went out (``pending`` or ``failed``), so the
        next attempt is built from the current composition; returns None for any other state.

        A part refused by the platform (too long for a limit we did not know) can then be fixed by
        changing the settings and running again; published or possibly-sent parts are never touched.
        ``idempotency_key`` replaces the part's key: a new text is a new request (a server that stored
        the refused request under the old key, as Iceshrimp.NET does for 24 h, must not answer with it).
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                "UPDATE ledger SET prepared = NULL, text = ?, idempotency_key = COALESCE(?, idempotency_key), "
                f"updated_at = ? WHERE id = ? AND state IN ('pending', 'failed') RETURNING {LEDGER_COLUMNS}",
                (text, idempotency_key, now, row_id),
            )
        return self._ledger(row) if row is not None else None

    def ledger_publish(
        self, row_id: int, *, post_id: str, post_url: str | None, ref: dict[str, Any] | None
    ) -> LedgerRow:
        """Record the platform's post ID and URL: the part is ``published``.

        ``last_error`` is kept, as the history of what happened before success.
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                "UPDATE ledger SET state = 'published', post_id = ?, post_url = ?, ref = ?, updated_at = ? "
                f"WHERE id = ? RETURNING {LEDGER_COLUMNS}",
                (post_id, post_url, self._json(ref), now, row_id),
            )
        if row is None:
            raise LookupError(f"ledger row {row_id} does not exist")
        return self._ledger(row)

    def ledger_fail(self, row_id: int, *, error: str, state: str = "failed") -> LedgerRow:
        """Record a failed attempt: ``failed`` (for good), ``unknown`` (may have posted) or ``pending``
        (deferred, e.g. rate-limited past the run). A published row is never downgraded."""
        if state not in LEDGER_FAIL_STATES:
            raise ValueError(f"ledger_fail state must be one of {sorted(LEDGER_FAIL_STATES)}, got {state!r}")
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                "UPDATE ledger SET state = ?, last_error = ?, updated_at = ? "
                f"WHERE id = ? AND state NOT IN ('published', 'deleted') RETURNING {LEDGER_COLUMNS}",
                (state, redact(error), now, row_id),
            )
            if row is None:
                self._refuse(tx, row_id)
        assert row is not None
        return self._ledger(row)

    def ledger_rows(self, article_key: str | None = None) -> list[LedgerRow]:
        """Every ledger row (or one article's), ordered by article, platform, account, generation, part."""
        where, params = ("WHERE article_key = ? ", (article_key,)) if article_key is not None else ("", ())
        with self._transaction(write=False) as tx:
            rows = tx.all(
                f"SELECT {LEDGER_COLUMNS} FROM ledger {where}"
                "ORDER BY article_key, platform, account, generation, part",
                params,
            )
        return [self._ledger(r) for r in rows]

    def ledger_generation(self, article_key: str, platform: str, account: str) -> int:
        """The highest generation recorded for this article on this account; 0 when there is none."""
        with self._transaction(write=False) as tx:
            row = tx.one(
                "SELECT COALESCE(MAX(generation), 0) FROM ledger WHERE article_key = ? AND platform = ? "
                "AND account = ?",
                (article_key, platform, account),
            )
        return int(row[0]) if row else 0

    def ledger_mark_deleted(self, row_id: int, *, note: str | None = None) -> LedgerRow:
        """Record that a part's post is gone (deleted now, or found already gone): ``deleted`` with the time.

        Only a ``published`` row moves; a row already ``deleted`` keeps its first time. ``note`` (how it
        went, e.g. "already gone") is kept in ``last_error`` as history.
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            tx.run(
                "UPDATE ledger SET state = 'deleted', deleted_at = ?, updated_at = ?, "
                "last_error = COALESCE(?, last_error) WHERE id = ? AND state = 'published'",
                (now, now, note, row_id),
            )
            row = tx.one(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE id = ?", (row_id,))
        if row is None:
            raise LookupError(f"ledger row {row_id} does not exist")
        return self._ledger(row)

    def ledger_mark_edited(self, row_id: int, *, text: str, ref: dict[str, Any] | None = None) -> LedgerRow:
        """Record that a published part now reads ``text`` (edited in place), with the time."""
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            row = tx.one(
                "UPDATE ledger SET text = ?, ref = COALESCE(?, ref), edited_at = ?, updated_at = ? "
                f"WHERE id = ? AND state = 'published' RETURNING {LEDGER_COLUMNS}",
                (text, self._json(ref), now, now, row_id),
            )
        if row is None:
            raise LookupError(f"ledger row {row_id} is not a published post")
        return self._ledger(row)

    def _refuse(self, tx: Tx, row_id: int) -> None:
        row = tx.one(f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE id = ?", (row_id,))
        if row is None:
            raise LookupError(f"ledger row {row_id} does not exist")
        raise AlreadyPublished(self._ledger(row))

    def _ledger(self, r: tuple[Any, ...]) -> LedgerRow:
        return LedgerRow(
            id=int(r[0]),
            article_key=r[1],
            platform=r[2],
            account=r[3],
            part=int(r[4]),
            generation=int(r[5]),
            idempotency_key=r[6],
            state=r[7],
            attempts=int(r[8]),
            last_error=r[9],
            post_id=r[10],
            post_url=r[11],
            ref=self._read_json(r[12]),
            prepared=self._read_json(r[13]),
            text=r[14],
            created_at=self._read_ts(r[15]),
            updated_at=self._read_ts(r[16]),
            deleted_at=self._read_ts(r[17]) if r[17] is not None else None,
            edited_at=self._read_ts(r[18]) if r[18] is not None else None,
        )

    # -- jobs ---------------------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        article: dict[str, Any],
        article_key: str,
        targets: list[str],
        run_at: datetime,
        dedupe_key: str | None = None,
        kind: str = "publish",
    ) -> tuple[Job, bool]:
        """Queue a job of ``kind`` (see ``JOB_KINDS``); returns ``(job, created)``.

        With a ``dedupe_key``, the one job ever enqueued under that key is returned (``created`` False)
        whatever its state: a webhook delivered twice, or by two hosts at once, queues one job.
        """
        if kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {', '.join(JOB_KINDS)}, got {kind!r}")
        values = self._job_values(article, article_key, targets, run_at, dedupe_key, kind)
        job, created = self._group.run(lambda tx: self._enqueue_in(tx, self._ts(self._now(tx)), values))
        if created:
            self.job_signal.notify()
        return job, created

    def enqueue_aliased(self, ingest: Ingest) -> tuple[Job | None, bool]:
        """A webhook's whole ingest in one transaction (shared with concurrent ones: group commit);
        returns ``(job, created)``.

        The job already remembered under ``ingest.alias`` (a key/value entry: the source's own post id,
        say), if any; else, when ``ingest.create``, :meth:`enqueue`'s job, remembered under the alias;
        else None.
        """
        return self._ingested(*self._group.run(self._ingest_write(ingest)))

    async def enqueue_aliased_async(self, ingest: Ingest) -> tuple[Job | None, bool]:
        """:meth:`enqueue_aliased` from an event loop: it waits for the commit without blocking the loop
        or taking a thread (the group's writer thread runs the write)."""
        return self._ingested(*await self._group.run_async(self._ingest_write(ingest)))

    def _ingest_write(self, ingest: Ingest) -> Callable[[Tx], tuple[Job | None, bool]]:
        values = self._job_values(ingest.article, ingest.article_key, ingest.targets, ingest.run_at,
                                  ingest.dedupe_key, "publish")  # serialised before the lock
        alias = ingest.alias

        def finish(tx: Tx, row: tuple[Any, ...] | None) -> tuple[Job | None, bool]:
            """After the new-article statement: its job, or (no row) the step-by-step path."""
            if row is not None:
                self._announce_job(tx)
                return self._job(row), True
            now = self._ts(self._now(tx))
            if alias is not None:  # known under its alias (a redelivery, an edit)?
                row = tx.one("SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                             (alias, now))
                known = self._read_json(row[0]) if row is not None else None
                if isinstance(known, int) and not isinstance(known, bool):
                    found = tx.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (known,))
                    if found is not None:
                        return self._job(found), False
            if not ingest.create:  # only a look
                return None, False
            job, created = self._enqueue_in(tx, now, values)  # or known under its dedupe key
            if alias is not None:
                self._kv_put(tx, alias, job.id, None, now)
            return job, created

        if alias is None or not ingest.create:
            return lambda tx: finish(tx, None)
        statement = self._aliased_insert(alias, values)
        if statement is not None:
            return Pipelined(*statement, finish)

        def write(tx: Tx) -> tuple[Job | None, bool]:
            now = self._ts(self._now(tx))
            row = tx.one(  # the common case, a new article: its job unless the alias is known, then the alias
                "INSERT INTO jobs (article, article_key, targets, run_at, state, attempts, dedupe_key, "
                "created_at, updated_at, kind) SELECT ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)) "
                f"ON CONFLICT (dedupe_key) DO NOTHING RETURNING {JOB_COLUMNS}",
                (*values[:-2], values[-2], now, now, values[-1], alias, now),
            )
            if row is not None:
                self._kv_put(tx, alias, int(row[0]), None, now)
            return finish(tx, row)

        return write

    def _aliased_insert(self, alias: str, values: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]] | None:
        """One self-contained statement that queues a new article's job and its alias unless the alias is
        known, returning the job's row (no row: known, or a dedupe conflict), so a group commit may send
        a batch's at once; None where the database cannot (SQLite: two statements, see _ingest_write)."""
        return None

    def _ingested(self, job: Job | None, created: bool) -> tuple[Job | None, bool]:
        if created:
            self.job_signal.notify()
        return job, created

    def _job_values(self, article: dict[str, Any], article_key: str, targets: list[str], run_at: datetime,
                    dedupe_key: str | None, kind: str) -> tuple[Any, ...]:
        """A new job's column values, serialised outside the transaction (writers wait on each other)."""
        return (self._json(article), article_key, self._json(list(targets)), self._ts(utc(run_at, "run_at")),
                dedupe_key, kind)

    def _enqueue_in(self, tx: Tx, now: Any, values: tuple[Any, ...]) -> tuple[Job, bool]:
        *columns, dedupe_key, kind = values
        row = tx.one(
            "INSERT INTO jobs (article, article_key, targets, run_at, state, attempts, dedupe_key, "
            "created_at, updated_at, kind) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?) "
            f"ON CONFLICT (dedupe_key) DO NOTHING RETURNING {JOB_COLUMNS}",
            (*columns, dedupe_key, now, now, kind),
        )
        if row is not None:
            self._announce_job(tx)
            return self._job(row), True
        row = tx.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        if row is None:  # cannot happen: jobs are never deleted and the conflict was on this key
            raise StoreError(f"job with dedupe key {dedupe_key!r} conflicted but cannot be read")
        return self._job(row), False

    def _kv_put(self, tx: Tx, key: str, value: Any, expires: Any, now: Any) -> None:
        tx.run(
            "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
            "updated_at = excluded.updated_at",
            (key, self._json(value), expires, now),
        )

    def claim(self, worker: str, *, lease_seconds: float, now: datetime | None = None) -> Job | None:
        """Take the next due job for ``worker`` and lease it for ``lease_seconds``; None when idle.

        First a running job whose lease ran out (its worker died), then the queued job with the oldest
        ``run_at`` that is due. ``attempts`` counts every claim, so a job that keeps killing its
        worker shows it. While a lease is valid no other worker can claim the job.
        """
        with self._transaction(write=True) as tx:
            at = utc(now, "now") if now is not None else self._now(tx)
            found = tx.one(
                "SELECT id FROM jobs WHERE state = 'running' AND lease_until < ? "
                f"ORDER BY lease_until, id LIMIT 1{self._skip_locked}",
                (self._ts(at),),
            ) or tx.one(
                "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ? "
                f"ORDER BY run_at, id LIMIT 1{self._skip_locked}",
                (self._ts(at),),
            )
            if found is None:
                return None
            row = tx.one(
                "UPDATE jobs SET state = 'running', worker = ?, lease_until = ?, attempts = attempts + 1, "
                f"updated_at = ? WHERE id = ? RETURNING {JOB_COLUMNS}",
                (worker, self._ts(at + timedelta(seconds=lease_seconds)), self._ts(at), found[0]),
            )
        assert row is not None  # the row is locked by this transaction
        return self._job(row)

    def heartbeat(self, job_id: int, worker: str, *, lease_seconds: float) -> bool:
        """Extend the lease to now + ``lease_seconds`` if ``worker`` still holds the job."""
        with self._transaction(write=True) as tx:
            now = self._now(tx)
            changed = tx.run(
                "UPDATE jobs SET lease_until = ?, updated_at = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (self._ts(now + timedelta(seconds=lease_seconds)), self._ts(now), job_id, worker),
            )
        return changed == 1

    def finish(self, job_id: int, worker: str, *, state: str, error: str | None = None) -> bool:
        """End a job as ``done`` or ``failed``; False (and no change) if ``worker`` no longer holds it."""
        if state not in ("done", "failed"):
            raise ValueError(f"finish state must be 'done' or 'failed', got {state!r}")
        return self._owned_update(
            job_id, worker, "state = ?, last_error = ?, lease_until = NULL", (state, _redacted(error))
        )

    def reschedule(
        self,
        job_id: int,
        worker: str,
        *,
        run_at: datetime,
        error: str | None = None,
        targets: list[str] | None = None,
    ) -> bool:
        """Queue a held job again for ``run_at``, optionally narrowed to the ``targets`` still to do.

        ``attempts`` is kept, so a worker can give up after N tries. False if ``worker`` lost the job.
        """
        assignments = "state = 'queued', run_at = ?, last_error = ?, worker = NULL, lease_until = NULL"
        params: tuple[Any, ...] = (self._ts(utc(run_at, "run_at")), _redacted(error))
        if targets is not None:
            assignments += ", targets = ?"
            params += (self._json(list(targets)),)
        return self._owned_update(job_id, worker, assignments, params)

    def release(self, job_id: int, worker: str) -> bool:
        """Hand a held job back unfinished (the worker is shutting down): queued, due at once.

        The interrupted claim is not counted (``attempts`` - 1): a graceful shutdown is not a failure.
        ``run_at`` is kept (it is already due), so the job keeps its place at the head of the queue.
        """
        return self._owned_update(
            job_id,
            worker,
            "state = 'queued', worker = NULL, lease_until = NULL, "
            "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END",
            (),
        )

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued job; False if it is running, finished or unknown."""
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            changed = tx.run(
                "UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'queued'",
                (now, job_id),
            )
        return changed == 1

    def retry(self, job_id: int, *, due_now: bool = True) -> bool:
        """Queue a failed or cancelled job again with ``attempts`` reset to 0.

        A failed job is due now. A cancelled job is due now only with ``due_now``; without it, it keeps
        the time it was scheduled for (cancelling and retrying a post for next week must not post it today).
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            keep = 0 if due_now else 1
            changed = tx.run(
                "UPDATE jobs SET state = 'queued', "
                "run_at = CASE WHEN state = 'cancelled' AND ? = 1 THEN run_at ELSE ? END, attempts = 0, "
                "worker = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND state IN ('failed', 'cancelled')",
                (keep, now, now, job_id),
            )
        return changed == 1

    def reschedule_queued(self, job_id: int, run_at: datetime) -> bool:
        """Move a job nobody holds to ``run_at``: a queued job keeps its place in line by the new time, a
        failed or cancelled one is queued again (``attempts`` reset to 0, as :meth:`retry` does).

        For people (``crosspost retry JOB --at``, the dashboard), not workers: no lease is needed, and a
        running or finished job is never touched (False). One conditional UPDATE, so a worker claiming the
        job at the same moment either gets it first (this returns False) or claims it at its new time.
        """
        at = self._ts(utc(run_at, "run_at"))
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            changed = tx.run(
                "UPDATE jobs SET run_at = ?, attempts = CASE WHEN state = 'queued' THEN attempts ELSE 0 END, "
                "state = 'queued', worker = NULL, lease_until = NULL, updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'failed', 'cancelled')",
                (at, now, job_id),
            )
            if changed == 1:
                self._announce_job(tx)
        if changed == 1:
            self.job_signal.notify()
        return changed == 1

    def replace_queued_article(self, job_id: int, article: dict[str, Any]) -> bool:
        """Give a still-queued job the article's newer version (an edit arrived before it ran).

        False when the job is running or finished: then the edit is too late for it.
        """
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            changed = tx.run(
                "UPDATE jobs SET article = ?, updated_at = ? WHERE id = ? AND state = 'queued'",
                (self._json(article), now, job_id),
            )
        return changed == 1

    def purge(self, *, older_than: datetime, ledger: bool = False) -> dict[str, int]:
        """Drop what is only history, last changed before ``older_than``; returns rows removed per table.

        Finished jobs, feed-seen marks and key/value entries (cached server facts, sessions, aliases;
        expired ones whatever their age). The ledger only with ``ledger``, and then only rows whose post
        does not exist (``deleted`` or ``failed``): a row of a live post is the only way to find it again.
        """
        cut = self._ts(utc(older_than, "older_than"))
        gone = ", ".join(f"'{s}'" for s in sorted(LEDGER_GONE_STATES))
        finished = ", ".join(f"'{s}'" for s in sorted(JOB_FINISHED_STATES))
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            counts = {
                "jobs": tx.run(f"DELETE FROM jobs WHERE state IN ({finished}) AND updated_at < ?", (cut,)),
                "feed_seen": tx.run("DELETE FROM feed_seen WHERE seen_at < ?", (cut,)),
                "kv": tx.run("DELETE FROM kv WHERE updated_at < ? OR expires_at <= ?", (cut, now)),
                "ledger": tx.run(f"DELETE FROM ledger WHERE state IN ({gone}) AND updated_at < ?", (cut,))
                if ledger else 0,
            }
        return counts

    def get_job(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        with self._transaction(write=False) as tx:
            row = tx.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return self._job(row) if row is not None else None

    def job_by_dedupe_key(self, dedupe_key: str) -> Job | None:
        """The one job enqueued under ``dedupe_key`` (a feed's or webhook's article key), or None."""
        with self._transaction(write=False) as tx:
            row = tx.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        return self._job(row) if row is not None else None

    def list_jobs(self, *, include_finished: bool = False) -> list[Job]:
        """Jobs in the order they will run (``run_at``, then id); queued and running only by default."""
        where = "" if include_finished else "WHERE state IN ('queued', 'running') "
        with self._transaction(write=False) as tx:
            rows = tx.all(f"SELECT {JOB_COLUMNS} FROM jobs {where}ORDER BY run_at, id")
        return [self._job(r) for r in rows]

    def job_counts(self) -> dict[str, int]:
        """How many jobs are in each state (every state present, zeros included)."""
        with self._transaction(write=False) as tx:
            rows = tx.all("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = dict.fromkeys(JOB_STATES, 0)
        counts.update({state: int(n) for state, n in rows})
        return counts

    def _owned_update(self, job_id: int, worker: str, assignments: str, params: tuple[Any, ...]) -> bool:
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            changed = tx.run(
                f"UPDATE jobs SET {assignments}, updated_at = ? "
                "WHERE id = ? AND worker = ? AND state = 'running'",
                (*params, now, job_id, worker),
            )
        return changed == 1

    def _job(self, r: tuple[Any, ...]) -> Job:
        return Job(
            id=int(r[0]),
            article=self._read_json(r[1]),
            article_key=r[2],
            targets=list(self._read_json(r[3])),
            run_at=self._read_ts(r[4]),
            state=r[5],
            attempts=int(r[6]),
            lease_until=self._read_ts(r[7]) if r[7] is not None else None,
            worker=r[8],
            last_error=r[9],
            dedupe_key=r[10],
            created_at=self._read_ts(r[11]),
            updated_at=self._read_ts(r[12]),
            kind=r[13],
        )

    # -- small tables -------------------------------------------------------------------------------

    def kv_get(self, key: str) -> Any | None:
        """The JSON value stored under ``key``; None when absent or expired."""
        with self._transaction(write=False) as tx:
            row = tx.one(
                "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, self._ts(self._now(tx))),
            )
        return self._read_json(row[0]) if row is not None else None

    def kv_items(self, prefix: str) -> dict[str, Any]:
        """Every unexpired entry whose key starts with ``prefix``, by key (e.g. all ``worker:`` heartbeats)."""
        with self._transaction(write=False) as tx:
            rows = tx.all(
                "SELECT key, value FROM kv WHERE substr(key, 1, ?) = ? AND (expires_at IS NULL OR expires_at > ?) "
                "ORDER BY key",
                (len(prefix), prefix, self._ts(self._now(tx))),
            )
        return {key: self._read_json(value) for key, value in rows}

    def kv_set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> None:
        """Store a JSON-serialisable ``value`` under ``key``, expiring after ``ttl_seconds`` if given.

        Expired entries are deleted here, so the table does not grow without bound.
        """
        with self._transaction(write=True) as tx:
            now = self._now(tx)
            expires = now + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
            tx.run("DELETE FROM kv WHERE expires_at <= ?", (self._ts(now),))
            tx.run(
                "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                "updated_at = excluded.updated_at",
                (key, self._json(value), self._ts(expires), self._ts(now)),
            )

    def kv_update(self, key: str, change: Callable[[Any | None], Any | None], *,
                  ttl_seconds: float | None = None) -> None:
        """Read-compare-write ``key`` atomically (against every process): store ``change(current)``
        unless it is None (keep what is there). For values several writers race on, such as the
        quota the latest answer of a platform announced."""
        with self._transaction(write=True) as tx:
            self._lock_keys(tx, [key])
            now = self._now(tx)
            row = tx.one("SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                         (key, self._ts(now)))
            value = change(self._read_json(row[0]) if row is not None else None)
            if value is None:
                return
            expires = now + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
            tx.run(
                "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                "updated_at = excluded.updated_at",
                (key, self._json(value), self._ts(expires), self._ts(now)),
            )

    # -- shared quotas ------------------------------------------------------------------------------

    def _lock_keys(self, tx: Tx, keys: Sequence[str]) -> None:
        """Serialise transactions on these keys (SQLite's write transaction already is exclusive)."""
        return None

    def reserve_quota(
        self,
        keys: Sequence[str],
        holder: str,
        *,
        hold_seconds: float,
        decide: Callable[[str, Any, int], bool],
    ) -> list[bool]:
        """Atomically, for each quota key: may ``holder`` post on it now? Where yes, hold a share.

        ``decide(key, state, holds)`` gets the JSON kept under ``key`` (the platform's last word on
        what is left, None if nothing is known) and the number of unexpired holds others have on
        it (posts under way, in any process); where it says True, a hold of ``holder`` is added
        until :meth:`release_quota` or for ``hold_seconds`` (a worker that dies lets it lapse).
        One transaction, exclusive on these keys: two workers cannot both take the last share.
        """
        with self._transaction(write=True) as tx:
            self._lock_keys(tx, sorted(keys))
            now = self._now(tx)
            at = self._ts(now)
            granted: list[bool] = []
            for key in keys:
                row = tx.one("SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)", (key, at))
                prefix = _hold_prefix(key)
                count = tx.one(
                    "SELECT COUNT(*) FROM kv WHERE substr(key, 1, ?) = ? AND expires_at > ?", (len(prefix), prefix, at)
                )
                ok = decide(key, self._read_json(row[0]) if row is not None else None, int(count[0]) if count else 0)
                if ok:
                    tx.run(
                        "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                        "updated_at = excluded.updated_at",
                        (prefix + holder, self._json(True), self._ts(now + timedelta(seconds=hold_seconds)), at),
                    )
                granted.append(ok)
        return granted

    def release_quota(self, keys: Sequence[str], holder: str) -> None:
        """Drop ``holder``'s holds on these quota keys (its posts are done: the headers tell the rest)."""
        if not keys:
            return
        with self._transaction(write=True) as tx:
            tx.many("DELETE FROM kv WHERE key = ?", [(_hold_prefix(k) + holder,) for k in keys])

    def feed_seen(self, feed_url: str, keys: list[str]) -> set[str]:
        """Which of ``keys`` (feed item ids) were already marked seen for ``feed_url``."""
        seen: set[str] = set()
        with self._transaction(write=False) as tx:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                marks = ", ".join("?" * len(chunk))
                rows = tx.all(
                    f"SELECT item_key FROM feed_seen WHERE feed_url = ? AND item_key IN ({marks})",
                    (feed_url, *chunk),
                )
                seen.update(r[0] for r in rows)
        return seen

    def feed_fingerprints(self, feed_url: str, keys: list[str]) -> dict[str, str | None]:
        """The seen ones of ``keys`` for ``feed_url``, each with the content fingerprint last recorded for
        it (None for a mark made without one, before version 3 of the schema)."""
        found: dict[str, str | None] = {}
        with self._transaction(write=False) as tx:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                marks = ", ".join("?" * len(chunk))
                rows = tx.all(
                    f"SELECT item_key, fingerprint FROM feed_seen WHERE feed_url = ? AND item_key IN ({marks})",
                    (feed_url, *chunk),
                )
                found.update((r[0], r[1]) for r in rows)
        return found

    def feed_mark(self, feed_url: str, keys: list[str], *, fingerprint: str | None = None) -> None:
        """Mark ``keys`` seen for ``feed_url`` (marking twice is harmless). With ``fingerprint``, each key
        records it as the entry's content now; without, a key keeps the fingerprint it has."""
        self.feed_mark_many(feed_url, [(k, fingerprint) for k in keys])

    def feed_mark_many(self, feed_url: str, marks: list[tuple[str, str | None]]) -> None:
        """:meth:`feed_mark` for many entries in one transaction: ``(item key, fingerprint or None)`` pairs."""
        if not marks:
            return
        with self._transaction(write=True) as tx:
            now = self._ts(self._now(tx))
            tx.many(
                "INSERT INTO feed_seen (feed_url, item_key, seen_at, fingerprint) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (feed_url, item_key) DO UPDATE SET "
                "fingerprint = COALESCE(excluded.fingerprint, feed_seen.fingerprint)",
                [(feed_url, k, now, fp) for k, fp in dict(marks).items()],
            )


def _hold_prefix(key: str) -> str:
    return f"hold:{key}:"


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
