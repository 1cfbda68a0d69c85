"""The rows the store hands out, the states they move through, and the store's own errors.

Ledger rows move ``pending -> sending -> published | failed | unknown`` (``pending`` again when a
target is deferred), and a published post ``-> deleted`` when it is retracted (bot/lifecycle.py).
Jobs move ``queued -> running -> done | failed`` (back to ``queued`` on
reschedule, release or retry; ``queued -> cancelled`` by a user). All datetimes are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import CrosspostError

LEDGER_STATES = frozenset({"pending", "sending", "published", "failed", "unknown", "deleted"})
"""Every state a ledger row can be in."""

LEDGER_FAIL_STATES = frozenset({"failed", "unknown", "pending"})
"""The states ``ledger_fail`` may set: failed for good, outcome unknown, or deferred (pending again)."""

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
"""Every state a job can be in, in the order ``job_counts`` reports them."""

JOB_FINISHED_STATES = frozenset({"done", "failed", "cancelled"})
"""Job states that no worker will pick up again without a ``retry``."""

JOB_KINDS = ("publish", "delete", "update")
"""What a job does with its article: post it, retract its posts, or edit them in place."""

LEDGER_GONE_STATES = frozenset({"deleted", "failed"})
"""Ledger rows whose post does not exist (retracted, or never made): the only ones ``purge`` may drop."""


@dataclass(frozen=True)
class LedgerRow:
    """One post part on one account: the record that makes publishing exactly-once.

    ``ref`` is what a reply to this post needs (JSON); ``prepared`` is request data the adapter chose
    once (a Bluesky rkey and createdAt, say) and that every retry must send unchanged.
    """

    id: int
    article_key: str
    platform: str
    account: str
    part: int
    generation: int
    idempotency_key: str
    state: str
    attempts: int
    last_error: str | None
    post_id: str | None
    post_url: str | None
    ref: dict[str, Any] | None
    prepared: dict[str, Any] | None
    text: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None  # when the post was confirmed gone (state ``deleted``)
    edited_at: datetime | None = None  # when the post's text was last changed in place


@dataclass(frozen=True)
class Job:
    """A queued request to publish ``article`` to ``targets`` at or after ``run_at``.

    ``worker`` and ``lease_until`` say who holds a running job and until when; a lease that ran out
    means the worker died, and the job may be claimed again (``attempts`` counts every claim).
    """

    id: int
    article: dict[str, Any]
    article_key: str
    targets: list[str]
    run_at: datetime
    state: str
    attempts: int
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    dedupe_key: str | None
    created_at: datetime
    updated_at: datetime
    kind: str = "publish"  # one of JOB_KINDS


class StoreError(CrosspostError):
    """The database failed underneath an operation (connection lost, locked past the busy timeout).

    Raised instead of the driver's own exception so callers never import sqlite3 or psycopg to catch it.
    The operation did not happen unless the message says otherwise; retrying later is reasonable.
    """


class AlreadyPublished(CrosspostError):
    """A ledger row is already published; sending or failing it again would break exactly-once.

    ``row`` is the published row, so the caller can report the post that is already out there.
    """

    def __init__(self, row: LedgerRow) -> None:
        super().__init__(
            f"{row.platform}/{row.account}: part {row.part} of article {row.article_key} is already "
            f"published as {row.post_url or row.post_id}; pass --force to post again"
        )
        self.row = row


@dataclass(frozen=True)
class Ingest:
    """One webhook delivery to queue (:meth:`bot.store.base.Store.enqueue_aliased`): the job to create
    unless ``alias`` (a key/value entry, such as the source's own post id) already names one; ``create``
    False only looks (an edit of an article never queued queues nothing)."""

    alias: str | None
    create: bool
    article: dict[str, Any]
    article_key: str
    targets: list[str]
    run_at: datetime
    dedupe_key: str | None = None
