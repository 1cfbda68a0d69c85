"""Worker heartbeats: each running worker says "still here" in the store, so the dashboard can tell
whether anything will post the queue at all.

A worker writes ``worker:<name>`` in the store's key/value table every ``every`` seconds while it runs,
idle or busy, and once more marked ``stopped`` when it stops cleanly. A worker that dies just stops
writing: it counts as gone once it has not been seen for :data:`MISSED_BEATS` beats, and the entry
expires from the table after :data:`FORGET_AFTER`. Times come from the worker's clock; hosts sharing a
PostgreSQL queue are assumed to keep their clocks in step (NTP), as they already are for logs.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store import Store

KEY_PREFIX = "worker:"
MISSED_BEATS = 2
"""A worker not seen for more than this many of its beat intervals is no longer counted as running."""
FORGET_AFTER = timedelta(minutes=10)
"""How long a worker that stopped or vanished is still listed (and kept in the store)."""


@dataclass(frozen=True)
class WorkerBeat:
    """What one worker last said about itself."""

    name: str
    host: str
    pid: int
    beat_at: datetime
    started_at: datetime
    jobs_run: int
    every: float
    stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "host": self.host, "pid": self.pid, "beat_at": self.beat_at.isoformat(),
                "started_at": self.started_at.isoformat(), "jobs_run": self.jobs_run, "every": self.every,
                "stopped": self.stopped}

    @classmethod
    def from_dict(cls, data: Any) -> WorkerBeat | None:
        """The beat stored as ``data``; None for anything unreadable (an older or foreign entry)."""
        try:
            return cls(name=str(data["name"]), host=str(data["host"]), pid=int(data["pid"]),
                       beat_at=datetime.fromisoformat(data["beat_at"]),
                       started_at=datetime.fromisoformat(data["started_at"]), jobs_run=int(data["jobs_run"]),
                       every=float(data["every"]), stopped=bool(data.get("stopped", False)))
        except (TypeError, KeyError, ValueError):
            return None

    def running(self, now: datetime) -> bool:
        """Whether this worker is to be counted on at ``now``: not stopped, and seen recently enough."""
        return not self.stopped and now - self.beat_at <= timedelta(seconds=MISSED_BEATS * self.every)


def new_beat(name: str, *, at: datetime, every: float) -> WorkerBeat:
    """The first beat of a worker starting at ``at`` in this process."""
    return WorkerBeat(name=name, host=socket.gethostname(), pid=os.getpid(), beat_at=at, started_at=at,
                      jobs_run=0, every=every)


def record(store: Store, beat: WorkerBeat) -> None:
    """Store ``beat`` under the worker's key, kept at most :data:`FORGET_AFTER` past its time."""
    ttl = max(FORGET_AFTER.total_seconds(), MISSED_BEATS * beat.every * 3)
    store.kv_set(KEY_PREFIX + beat.name, beat.to_dict(), ttl_seconds=ttl)


def seen_workers(store: Store, now: datetime) -> list[WorkerBeat]:
    """Workers that beat within :data:`FORGET_AFTER` before ``now``, the most recently seen first."""
    beats = [WorkerBeat.from_dict(v) for v in store.kv_items(KEY_PREFIX).values()]
    recent = [b for b in beats if b is not None and now - b.beat_at <= FORGET_AFTER]
    return sorted(recent, key=lambda b: b.beat_at, reverse=True)


def ago(seconds: float) -> str:
    """``12 s``, ``3 min``, ``2 h``: how long ago, in the largest unit that is at least 1."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"
