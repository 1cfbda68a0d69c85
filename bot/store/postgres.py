"""PostgreSQL backend (psycopg 3): many workers on many hosts sharing one queue and one ledger.

A bounded pool of connections shared by threads, autocommit off, one explicit transaction per
operation. Jobs are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on each
other or take the same job.
Time comes from the server (``now()``), so leases mean the same thing on every host whatever their
clocks say. JSON is JSONB, datetimes are timestamptz. Migrations run under an advisory lock keyed on
the schema, so workers starting together apply each migration once. psycopg is imported only here,
and this module only when a ``postgresql://`` URL is used.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.json import Jsonb

from bot.errors import ConfigError
from bot.redact import redact
from bot.store import migrations
from bot.store.base import JOB_COLUMNS, ConnectionPool, Store, Tx, redact_url, url_password
from bot.store.models import StoreError

CONNECT_TIMEOUT_SECONDS = 10
POOL_SIZE = 10
"""Connections per store (per process): enough for a publisher's fan-out, far below max_connections."""
JOBS_CHANNEL = "crosspost_jobs"
"""NOTIFY channel: a job was queued (any schema of the database; a stray wake-up costs one claim)."""
LISTEN_RETRY_SECONDS = 5.0
_Conn = psycopg.Connection[tuple[Any, ...]]


@functools.lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (the store's SQL holds no literal % or ?)."""
    return sql.replace("?", "%s")


def _alive(conn: _Conn) -> bool:
    """Whether a connection that sat idle still reaches the server."""
    try:
        conn.execute("SELECT 1")
        conn.rollback()
    except psycopg.Error:
        return False
    return True


class _PgTx:
    """:class:`~bot.store.base.Tx` over one psycopg cursor."""

    def __init__(self, cur: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cur = cur
        self.now: datetime | None = None  # now() is the transaction's start: asked once per transaction
        self.announced = False  # NOTIFY sent in this transaction (PostgreSQL folds repeats at commit anyway)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        self._cur.execute(_pg_sql(sql), params)
        result = self._cur.pgresult  # not .description, which builds a Column per column on every call
        return self._cur.fetchone() if result is not None and result.status == ExecStatus.TUPLES_OK else None

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(_pg_sql(sql), params)
        return self._cur.fetchall()

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        self._cur.execute(_pg_sql(sql), params)
        return self._cur.rowcount

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self._cur.executemany(_pg_sql(sql), rows)

    def one_each(self, sql: str, params: list[tuple[Any, ...]]) -> list[tuple[Any, ...] | None]:
        """``sql`` once per parameter tuple, sent together (libpq's pipeline: one round trip, not one each);
        each run's first row, or None. A group commit sends its batch's new-article statements this way."""
        self._cur.executemany(_pg_sql(sql), params, returning=True)
        rows: list[tuple[Any, ...] | None] = []
        while True:
            rows.append(self._cur.fetchone())
            if not self._cur.nextset():
                return rows


class PostgresStore(Store):
    """The :class:`~bot.store.base.Store` on PostgreSQL."""

    dialect: ClassVar[str] = "postgresql"
    _skip_locked: ClassVar[str] = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str) -> None:
        self._url = url
        self._password = url_password(url)
        self.url_display = redact_url(url)
        self._pool: ConnectionPool[_Conn] = ConnectionPool(
            self._open, lambda c: c.close(), max_size=POOL_SIZE, check=_alive
        )
        self._listen_lock = threading.Lock()
        self._listen_stop = threading.Event()
        self._listener: threading.Thread | None = None
        try:
            self._migrate()
        except StoreError as exc:
            self.close()
            raise ConfigError(str(exc)) from exc
        except psycopg.Error as exc:
            self.close()
            raise ConfigError(
                f"cannot prepare database {self.url_display}: {self._clean(exc)}; check DATABASE_URL"
            ) from exc
        except BaseException:
            self.close()
            raise

    def _clean(self, exc: BaseException) -> str:
        return " ".join(redact(str(exc), [self._password] if self._password else []).split())

    def _open(self) -> _Conn:
        try:
            return psycopg.connect(
                self._url,
                autocommit=False,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="crosspost",
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to database {self.url_display}: {self._clean(exc)}; "
                "check DATABASE_URL and that PostgreSQL is running"
            ) from exc

    def _migrate(self) -> None:
        try:
            with self._transaction(write=True) as tx:
                # Serialise concurrent starters on this schema; released at commit.
                tx.one(
                    "SELECT pg_advisory_xact_lock(hashtextextended("
                    "'crosspost.migrate:' || COALESCE(current_schema(), ''), 0))"
                )
                if tx.one("SELECT current_schema()") == (None,):
                    raise ConfigError(
                        f"database {self.url_display}: no schema on the search_path exists; "
                        "create it or fix options=-csearch_path in DATABASE_URL"
                    )
                migrations.apply_pending(tx, self.dialect, self._now(tx))
        except migrations.SchemaTooNew as exc:
            raise ConfigError(f"database {self.url_display}: {exc}") from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        conn = self._pool.take()
        committing = False
        try:
            with conn.cursor() as cur:
                try:
                    yield _PgTx(cur)
                except BaseException:
                    if not conn.broken and not conn.closed:
                        conn.rollback()
                    raise
            committing = True
            conn.commit()
        except psycopg.OperationalError as exc:
            outcome = "the commit may or may not have happened" if committing else "nothing was written"
            raise StoreError(f"database {self.url_display}: {self._clean(exc)} ({outcome})") from exc
        finally:
            if conn.broken or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                self._pool.drop(conn)
            else:
                self._pool.give(conn)

    def _now(self, tx: Tx) -> datetime:
        if isinstance(tx, _PgTx) and tx.now is not None:  # a group commit's later writes: same transaction
            return tx.now
        row = tx.one("SELECT now()")
        assert row is not None
        value: datetime = row[0].astimezone(UTC)
        if isinstance(tx, _PgTx):
            tx.now = value
        return value

    def _ts(self, value: datetime | None) -> Any:
        return value

    def _read_ts(self, raw: Any) -> datetime:
        value: datetime = raw
        return value.astimezone(UTC)

    def _json(self, value: Any) -> Any:
        return None if value is None else Jsonb(value)

    def _read_json(self, raw: Any) -> Any:
        return raw

    def _lock_keys(self, tx: Tx, keys: Sequence[str]) -> None:
        for key in keys:  # sorted by the caller: two transactions never wait on each other in a cycle
            tx.one("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", ("crosspost.quota:" + key,))

    def _aliased_insert(self, alias: str, values: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]] | None:
        article, article_key, targets, run_at, dedupe_key, kind = values
        return (
            "WITH job AS (INSERT INTO jobs (article, article_key, targets, run_at, state, attempts, dedupe_key, "
            "created_at, updated_at, kind) SELECT ?, ?, ?, ?, 'queued', 0, ?, now(), now(), ? WHERE NOT EXISTS "
            "(SELECT 1 FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > now())) "
            f"ON CONFLICT (dedupe_key) DO NOTHING RETURNING {JOB_COLUMNS}), "
            "alias AS (INSERT INTO kv (key, value, expires_at, updated_at) SELECT ?, to_jsonb(id), NULL, now() "
            "FROM job ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
            f"updated_at = excluded.updated_at) SELECT {JOB_COLUMNS} FROM job",
            (article, article_key, targets, run_at, dedupe_key, kind, alias, alias),
        )

    def _announce_job(self, tx: Tx) -> None:
        if isinstance(tx, _PgTx) and tx.announced:
            return
        tx.run(f"NOTIFY {JOBS_CHANNEL}")  # delivered at commit, to every listening worker process
        if isinstance(tx, _PgTx):
            tx.announced = True

    def watch_jobs(self) -> None:
        """LISTEN for queued jobs on a connection of its own, in a daemon thread, feeding ``job_signal``.

        Started once per store. If the connection drops, it reconnects after a pause; meanwhile the
        workers poll as before.
        """
        with self._listen_lock:
            if self._listener is not None:
                return
            self._listener = threading.Thread(target=self._listen, name="crosspost-listen", daemon=True)
            self._listener.start()

    def _listen(self) -> None:
        while not self._pool.closed:
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                     application_name="crosspost-listen") as conn:
                    conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    while not self._pool.closed:
                        for _ in conn.notifies(timeout=1.0):
                            self.job_signal.notify()
            except psycopg.Error:
                self._listen_stop.wait(LISTEN_RETRY_SECONDS)

    def close(self) -> None:
        self._listen_stop.set()
        self._pool.close_all()
