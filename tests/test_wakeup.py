"""An idle worker is woken when a job is queued, rather than finding it at its next poll.

The workers here poll every 60 s; each test asserts that the job was published *and* that the worker's
wait was ended by the store's job signal (``Worker.wakeups``), not by its poll interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import Sandbox
from bot.store import Store, connect
from bot.worker import Worker
from tests.test_store import db_url, pg_url  # noqa: F401  (fixtures)
from tests.test_worker import article, make_settings

POLL = 60.0  # far longer than any test here may take: only a wake-up can start the job in time
DEADLINE = 30.0


class _Waiting:
    """Tells the test when the worker has looked at the empty queue and gone to wait on the signal."""

    def __init__(self, store: Store) -> None:
        self.idle = threading.Event()
        signal = store.job_signal
        original = signal.wait

        def wait(seen: int, timeout: float, stop: threading.Event | None = None) -> bool:
            self.idle.set()
            return original(seen, timeout, stop)

        signal.wait = wait  # type: ignore[method-assign]


@pytest.fixture
def running(sandbox: Sandbox, tmp_path: Path, db_url: str) -> Iterator[tuple[Worker, Store, str]]:  # noqa: F811
    store = connect(db_url)
    worker = Worker(make_settings(sandbox, tmp_path), store, poll_interval=POLL, lease_seconds=30)
    waiting = _Waiting(store)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert waiting.idle.wait(DEADLINE), "the worker never went idle"
        yield worker, store, db_url
    finally:
        worker.stop.set()
        thread.join(timeout=DEADLINE)
        store.close()
    assert not thread.is_alive(), "the worker did not stop"


def _wait_done(store: Store, job_id: int) -> str:
    deadline = time.monotonic() + DEADLINE
    state = ""
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        state = job.state if job else ""
        if state in ("done", "failed"):
            break
        time.sleep(0.02)
    return state


def _enqueue(store: Store, n: int) -> Any:
    a = article(n)
    job, _ = store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon"], run_at=datetime.now(UTC))
    return job


def test_idle_worker_wakes_when_a_job_is_queued_in_its_process(running: tuple[Worker, Store, str],
                                                             sandbox: Sandbox) -> None:
    """`crosspost serve`'s case: the webhook queues in the worker's process; the worker runs it at once."""
    worker, store, _ = running
    job = _enqueue(store, 1)
    assert _wait_done(store, job.id) == "done"
    assert worker.wakeups == 1
    assert len(sandbox.app.posts("mastodon")) == 1


@pytest.mark.postgres
def test_worker_on_postgres_wakes_on_another_process_notify(sandbox: Sandbox, tmp_path: Path,
                                                            pg_url: str) -> None:  # noqa: F811
    """A separate queueing process (its own store, own connections) wakes the worker by NOTIFY."""
    worker_store = connect(pg_url)
    worker = Worker(make_settings(sandbox, tmp_path), worker_store, poll_interval=POLL, lease_seconds=30)
    waiting = _Waiting(worker_store)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    other = connect(pg_url)
    try:
        assert waiting.idle.wait(DEADLINE)
        time.sleep(0.3)  # let the listener connect: a NOTIFY before its LISTEN would go unheard
        job = _enqueue(other, 2)
        assert _wait_done(other, job.id) == "done"
        assert worker.wakeups >= 1
    finally:
        worker.stop.set()
        thread.join(timeout=DEADLINE)
        other.close()
        worker_store.close()
