"""Versioned schema migrations, one SQL script per dialect.

A migration is applied at most once per database: ``schema_version`` records each version applied.
The caller runs :func:`apply_pending` inside one transaction that it has already made exclusive
(SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory transaction lock), so two processes starting at
the same moment never apply the same migration twice, and a crash mid-migration leaves nothing half
done. To change the schema, append a new :class:`Migration`; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class _Tx(Protocol):
    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None: ...

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, a short name, and the DDL for each dialect."""

    version: int
    name: str
    sqlite: str
    postgresql: str

    def script(self, dialect: str) -> str:
        """The DDL for ``dialect`` ("sqlite" or "postgresql")."""
        return self.sqlite if dialect == "sqlite" else self.postgresql


_V1_SQLITE = """
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    part INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'published', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    post_id TEXT,
    post_url TEXT,
    ref TEXT,
    prepared TEXT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (article_key, platform, account, part, generation)
);
CREATE INDEX ledger_idempotency_key ON ledger (idempotency_key);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article TEXT NOT NULL,
    article_key TEXT NOT NULL,
    targets TEXT NOT NULL,
    run_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT,
    worker TEXT,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, run_at, id);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_article_key ON jobs (article_key);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT,
    expires_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX kv_expires_at ON kv (expires_at);
CREATE TABLE feed_seen (
    feed_url TEXT NOT NULL,
    item_key TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_url, item_key)
) WITHOUT ROWID;
"""

_V1_POSTGRESQL = """
CREATE TABLE ledger (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    part INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'published', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    post_id TEXT,
    post_url TEXT,
    ref JSONB,
    prepared JSONB,
    text TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (article_key, platform, account, part, generation)
);
CREATE INDEX ledger_idempotency_key ON ledger (idempotency_key);
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article JSONB NOT NULL,
    article_key TEXT NOT NULL,
    targets JSONB NOT NULL,
    run_at TIMESTAMPTZ NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    worker TEXT,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, run_at, id);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_article_key ON jobs (article_key);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value JSONB,
    expires_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX kv_expires_at ON kv (expires_at);
CREATE TABLE feed_seen (
    feed_url TEXT NOT NULL,
    item_key TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (feed_url, item_key)
);
"""

# Version 2: posts can be retracted and edited (bot/lifecycle.py). The ledger gains the state ``deleted``
# and the times ``deleted_at`` / ``edited_at``; a job gains its ``kind`` ("publish", "delete" or "update").
# SQLite cannot alter a CHECK constraint, so its ledger is rebuilt (same columns, same ids).
_V2_SQLITE = """
CREATE TABLE ledger_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    account TEXT NOT NULL,
    part INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'published', 'failed', 'unknown', 'deleted')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    post_id TEXT,
    post_url TEXT,
    ref TEXT,
    prepared TEXT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    edited_at TEXT,
    UNIQUE (article_key, platform, account, part, generation)
);
INSERT INTO ledger_v2 (id, article_key, platform, account, part, generation, idempotency_key, state, attempts,
    last_error, post_id, post_url, ref, prepared, text, created_at, updated_at)
    SELECT id, article_key, platform, account, part, generation, idempotency_key, state, attempts,
    last_error, post_id, post_url, ref, prepared, text, created_at, updated_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_v2 RENAME TO ledger;
CREATE INDEX ledger_idempotency_key ON ledger (idempotency_key);
CREATE INDEX ledger_state_updated ON ledger (state, updated_at);
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'publish';
CREATE INDEX feed_seen_seen_at ON feed_seen (seen_at);
"""

_V2_POSTGRESQL = """
ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_state_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_state_check
    CHECK (state IN ('pending', 'sending', 'published', 'failed', 'unknown', 'deleted'));
ALTER TABLE ledger ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE ledger ADD COLUMN edited_at TIMESTAMPTZ;
CREATE INDEX ledger_state_updated ON ledger (state, updated_at);
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'publish';
CREATE INDEX feed_seen_seen_at ON feed_seen (seen_at);
"""

# Version 3: a changed feed entry is an edit (bot/feeds.py). Each seen mark keeps the fingerprint of
# what composition reads from the entry; NULL for marks made before (recorded at the next poll, no edit).
_V3 = """
ALTER TABLE feed_seen ADD COLUMN fingerprint TEXT;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ledger, jobs, kv, feed_seen", _V1_SQLITE, _V1_POSTGRESQL),
    Migration(2, "ledger deleted/edited, job kind", _V2_SQLITE, _V2_POSTGRESQL),
    Migration(3, "feed_seen fingerprint", _V3, _V3),
)
"""Every migration, in version order."""

LATEST_VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_version "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_version "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
}


class SchemaTooNew(Exception):
    """The database was migrated by a newer crosspost than this one."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"the database schema is at version {found}, newer than this crosspost knows ({LATEST_VERSION}); "
            "upgrade crosspost"
        )
        self.found = found


def statements(script: str) -> list[str]:
    """Split a DDL script into statements (the scripts hold no semicolons inside a statement)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def apply_pending(tx: _Tx, dialect: str, applied_at: Any) -> list[int]:
    """Apply every migration newer than the database, inside the caller's exclusive transaction.

    ``applied_at`` is the timestamp parameter as the dialect stores it. Returns the versions applied
    (empty when the schema was already current). Raises :class:`SchemaTooNew` for a newer database.
    """
    tx.run(_VERSION_TABLE[dialect])
    row = tx.one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    current = int(row[0]) if row else 0
    if current > LATEST_VERSION:
        raise SchemaTooNew(current)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        for statement in statements(migration.script(dialect)):
            tx.run(statement)
        tx.run(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, applied_at),
        )
        applied.append(migration.version)
    return applied
