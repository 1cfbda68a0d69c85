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
    Ingest,
    Job,
    LedgerRow,
    StoreError,
)

__all__ = [
    "JOB_STATES",
    "LEDGER_STATES",
    "AlreadyPublished",
    "Ingest",
    "Job",
    "LedgerRow",
    "Store",
    "StoreError",
    "connect",
    "default_database_url",
    "default_state_dir",
]

DEFAULT_FILE = "crosspost.sqlite3"


def default_state_dir() -> Path:
    """The user's state directory for crosspost (e.g. ``~/.local/state/crosspost``), kept 0700."""
    import platformdirs

    return Path(platformdirs.user_state_dir("crosspost")).resolve()


def default_database_url() -> str:
    """``DATABASE_URL`` if set, else a SQLite file ``crosspost.sqlite3`` in the user's state directory."""
    env = os.environ.get("DATABASE_URL", "").strip()
    if env:
        return env
    return "sqlite://" + quote(str(default_state_dir() / DEFAULT_FILE), safe="/")


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

        return SQLiteStore(url, state_dir=default_state_dir())
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

