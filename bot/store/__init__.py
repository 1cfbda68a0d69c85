"""Persistence: the post-ID ledger, the job queue, and small key/value and feed-seen tables.

SQLite by default (a file in the user's state directory), PostgreSQL when ``DATABASE_URL`` says
``postgresql://``. :func:`connect` opens the store and brings its schema up to date. Importing this
package loads no database driver; psycopg is imported only for a PostgreSQL URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from bot.errors import ConfigError
from bot.store.base import Store, redact_url
from bot.store.models import (
    JOB_STATES,
    LEDGER_STATES,
    AlreadyPublished,
    Job,
    LedgerRow,
    StoreError,
)

__all__ = [
    "JOB_STATES",
    "LEDGER_STATES",
    "AlreadyPublished",
    "Job",
    "LedgerRow",
    "Store",
    "StoreError",
    "connect",
    "default_database_url",
]


def default_database_url() -> str:
    """``DATABASE_URL`` if set, else a SQLite file ``crosspost.sqlite3`` in the user's state directory."""
    env = os.environ.get("DATABASE_URL", "").strip()
    if env:
        return env
    return _state_database_url()


def _state_database_url() -> str:
    """The SQLite file in the user's state directory (the one place crosspost creates a directory)."""
    import platformdirs

    path = Path(platformdirs.user_state_dir("crosspost")) / "crosspost.sqlite3"
    return "sqlite://" + quote(str(path.resolve()), safe="/")


def connect(url: str | None = None) -> Store:
    """Open the store at ``url`` (default: :func:`default_database_url`) and run pending migrations.

    Accepts ``sqlite:///abs/path.db``, ``sqlite:///:memory:``, ``postgresql://...`` and
    ``postgres://...``. Raises ConfigError (one line, password masked) for a URL it cannot use or a
    database it cannot reach.
    """
    url = (url or default_database_url()).strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from bot.store.sqlite import SQLiteStore

        if url != _state_database_url():
            _check_sqlite_directory(url)
        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from bot.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                f"database {redact_url(url)} needs psycopg 3: pip install 'psycopg[binary]'"
            ) from exc
        return PostgresStore(url)
    raise ConfigError(
        f"unsupported database URL {redact_url(url)!r}: use sqlite:///absolute/path.db or "
        "postgresql://user@host/dbname (set DATABASE_URL)"
    )


def _check_sqlite_directory(url: str) -> None:
    """Refuse a ``DATABASE_URL`` into a directory that does not exist (a typo would otherwise create a
    tree of directories and a fresh, empty queue there); only the default state directory is created."""
    from bot.store.sqlite import MEMORY, parse_sqlite_url

    path = parse_sqlite_url(url)
    if path == MEMORY:
        return
    parent = Path(path).parent
    if not parent.is_dir():
        raise ConfigError(
            f"database {path}: directory {parent} does not exist; create it or fix DATABASE_URL"
        )
