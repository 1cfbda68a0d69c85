"""SQLite backend: the default, one file shared by threads and processes on one machine.

WAL journal (readers never block the writer), ``synchronous=FULL`` (a committed ledger row survives a
power cut: losing a ``sending`` mark could mean posting twice), a 30 s busy timeout, a small pool of
connections shared by threads, and every write in ``BEGIN IMMEDIATE`` so the write lock is taken up
front: concurrent writers queue on the busy timeout instead of failing with "database is locked"
mid-transaction.
Datetimes are fixed-width ISO-8601 UTC text (so they compare correctly as text); JSON is text.
``sqlite:///:memory:`` (tests) uses a single connection behind a lock, as each connection to
``:memory:`` would otherwise be its own empty database.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from bot.errors import ConfigError
from bot.store import migrations
from bot.store.base import ConnectionPool, Store, Tx
from bot.store.models import StoreError
from bot.store.private import make_private_dir, make_private_files

BUSY_TIMEOUT_SECONDS = 30.0
POOL_SIZE = 8
"""Connections per store: readers run in parallel under WAL; writers queue on the file lock anyway."""
MEMORY = ":memory:"


def parse_sqlite_url(url: str) -> str:
    """The file path in ``sqlite:///abs/path.db`` (``~`` expanded), or ``:memory:``.

    Raises ConfigError for anything else, e.g. a relative path or a host part.
    """
    rest = url.split(":", 1)[1] if ":" in url else ""
    if not rest.startswith("//"):
        raise ConfigError(f"bad SQLite URL {url!r}: write sqlite:///absolute/path.db")
    path = unquote(rest[2:].split("?", 1)[0])
    if path in ("/" + MEMORY, MEMORY):
        return MEMORY
    if path.startswith("/~"):
        path = str(Path(path[1:]).expanduser())
    if not path.startswith("/") or path.rstrip("/") == "":
        raise ConfigError(
            f"bad SQLite URL {url!r}: the path must be absolute, e.g. sqlite:///var/lib/crosspost.db"
        )
    return "/" + path.lstrip("/")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own), never masking the cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, retrying while another process holds the lock.

    Changing the journal mode can fail with "database is locked" at once, without the busy handler,
    when several processes open a fresh file together; once one of them has switched, it is a no-op.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


class _SqliteTx:
    """:class:`~bot.store.base.Tx` over one sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self._conn.executemany(sql, rows)


class SQLiteStore(Store):
    """The :class:`~bot.store.base.Store` on a SQLite file (or ``:memory:``)."""

    dialect: ClassVar[str] = "sqlite"

    def __init__(self, url: str, *, state_dir: Path | None = None) -> None:
        """Open the file at ``url``; ``state_dir`` is the default state directory, created 0700 when it
        holds the file. Any other directory must exist: a typo in DATABASE_URL should not build a tree."""
        self.path = parse_sqlite_url(url)
        self.url_display = url
        self._memory = self.path == MEMORY
        self._lock: threading.RLock | None = threading.RLock() if self._memory else None
        # Writers of this process queue here instead of in SQLite's busy handler, which makes the
        # losers sleep in growing steps (1, 2, 5 ... 100 ms): under concurrent webhooks that was the
        # latency tail. Other processes still meet the busy handler.
        self._write_lock = threading.Lock()
        if not self._memory:
            directory = Path(self.path).parent
            if state_dir is not None and directory == state_dir:
                make_private_dir(directory)
            elif not directory.is_dir():
                raise ConfigError(
                    f"the directory of database {self.path} does not exist: create it or set DATABASE_URL "
                    "to a file in an existing directory"
                )
            make_private_files(Path(self.path))
        self._pool: ConnectionPool[sqlite3.Connection] = ConnectionPool(
            self._open, lambda c: c.close(), max_size=POOL_SIZE
        )
        self._shared: sqlite3.Connection | None = None
        try:
            self._shared = self._open() if self._memory else None
            self._migrate()
            if not self._memory:  # the first write made -wal and -shm: check SQLite gave them our mode
                make_private_files(Path(self.path))
        except ConfigError:
            self.close()
            raise
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"cannot open database {self.path}: {exc}; check DATABASE_URL") from exc
        except StoreError as exc:
            self.close()
            raise ConfigError(f"{exc}; check DATABASE_URL") from exc

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            if not self._memory:
                _use_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        return conn

    def _migrate(self) -> None:
        try:
            with self._transaction(write=True) as tx:
                migrations.apply_pending(tx, self.dialect, self._ts(self._now(tx)))
        except migrations.SchemaTooNew as exc:
            raise ConfigError(f"database {self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        with self._lock if self._lock is not None else nullcontext():
            if self._pool.closed:
                raise StoreError("the store is closed")
            conn = self._shared if self._shared is not None else self._pool.take()
            try:
                yield from self._run(conn, write)
            finally:
                if conn is not self._shared:
                    if conn.in_transaction:  # a ROLLBACK failed: do not hand this connection out again
                        self._pool.drop(conn)
                    else:
                        self._pool.give(conn)

    def _run(self, conn: sqlite3.Connection, write: bool) -> Iterator[Tx]:
        if write:
            with self._write_lock:
                yield from self._run_locked(conn, write)
        else:
            yield from self._run_locked(conn, write)

    def _run_locked(self, conn: sqlite3.Connection, write: bool) -> Iterator[Tx]:
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"database {self.path}: {exc} (nothing was written)") from exc
        try:
            yield _SqliteTx(conn)
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise StoreError(f"database {self.path}: {exc} (the transaction was rolled back)") from exc
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise StoreError(f"database {self.path}: commit failed: {exc} (nothing was written)") from exc

    def _now(self, tx: Tx) -> datetime:
        return datetime.now(UTC)

    def _ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def _read_ts(self, raw: Any) -> datetime:
        return datetime.fromisoformat(raw).astimezone(UTC)

    def _json(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _read_json(self, raw: Any) -> Any:
        return None if raw is None else json.loads(raw)

    def close(self) -> None:
        self._pool.close_all()
        if self._shared is not None:
            self._shared.close()
