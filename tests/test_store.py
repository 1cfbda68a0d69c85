"""The store on both backends: ledger, job queue, small tables, migrations, and their races."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.store import AlreadyPublished, Ingest, Store, connect, default_database_url
from bot.store.migrations import MIGRATIONS

PG_URL = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _pg_admin() -> Any:
    """A psycopg connection to the test server, or skip/fail the test when it is unreachable."""
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at CROSSPOST_TEST_PG={PG_URL}: {' '.join(str(exc).split())}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a fresh, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'crosspost.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema (via search_path), dropped after the test."""
    admin = _pg_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open store on a fresh database."""
    s = connect(db_url)
    try:
        yield s
    finally:
        s.close()


def _part(store: Store, article: str = "a1", part: int = 0, generation: int = 0, key: str = "k0") -> Any:
    return store.ledger_part(article, "mastodon", "default", part, generation, idempotency_key=key, text="hi")


def _enqueue(store: Store, *, run_at: datetime = T0, dedupe_key: str | None = None, key: str = "a1") -> Any:
    job, _ = store.enqueue(
        article={"title": "T", "url": "https://example.com/a"},
        article_key=key,
        targets=["x:default", "mastodon:default"],
        run_at=run_at,
        dedupe_key=dedupe_key,
    )
    return job


def _schema_versions(url: str) -> list[int]:
    s = connect(url)
    try:
        with s._transaction(write=False) as tx:
            return [int(r[0]) for r in tx.all("SELECT version FROM schema_version ORDER BY version")]
    finally:
        s.close()


def _spawn(target: Callable[..., None], args_per_proc: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(queue, barrier, *args)`` in fresh processes started together; collect one result each."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    barrier = ctx.Barrier(len(args_per_proc))
    procs = [ctx.Process(target=target, args=(queue, barrier, *a)) for a in args_per_proc]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return results


def _connect_in_process(queue: Any, barrier: Any, url: str) -> None:
    barrier.wait()
    try:
        connect(url).close()
        queue.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(repr(exc))


def _claim_loop(queue: Any, barrier: Any, url: str, worker: str) -> None:
    store = connect(url)
    barrier.wait()
    claimed = []
    try:
        while (job := store.claim(worker, lease_seconds=300)) is not None:
            claimed.append(job.id)
            assert store.finish(job.id, worker, state="done")
        queue.put((worker, claimed))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put((worker, repr(exc)))
    finally:
        store.close()


def _begin_then_die(url: str) -> None:
    store = connect(url)
    row = store.ledger_part("a1", "bluesky", "me", 0, 0, idempotency_key="k", text="hi")
    store.ledger_begin(row.id, prepared={"rkey": "3kfixed"})
    job = store.claim("doomed", lease_seconds=1)
    assert job is not None
    os.kill(os.getpid(), signal.SIGKILL)


# -- connecting and migrations ---------------------------------------------------------------------


def test_migrations_are_idempotent(db_url: str) -> None:
    """Connecting again applies nothing new: one schema_version row per migration."""
    connect(db_url).close()
    connect(db_url).close()
    assert _schema_versions(db_url) == [m.version for m in MIGRATIONS]


def test_migrations_concurrent_processes(db_url: str) -> None:
    """Eight processes connecting to a fresh database at once all succeed and migrate once."""
    results = _spawn(_connect_in_process, [(db_url,)] * 8)
    assert results == ["ok"] * 8
    assert _schema_versions(db_url) == [m.version for m in MIGRATIONS]


def test_sqlite_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    """A SQLite store runs in WAL mode (readers never block the writer)."""
    path = tmp_path / "w.db"
    connect(f"sqlite://{path}").close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_memory_is_one_database_across_threads() -> None:
    """sqlite:///:memory: is shared by every thread of the store (not one empty database per thread)."""
    s = connect("sqlite:///:memory:")
    row = _part(s)
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(len(s.ledger_rows())))
    t.start()
    t.join()
    assert seen == [1] and s.ledger_rows()[0].id == row.id
    s.close()


def test_sqlite_url_into_a_missing_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL into a missing directory is a clear error (a typo must not start an empty queue);
    only the default state directory is created."""
    path = tmp_path / "deep" / "er" / "x.sqlite3"
    with pytest.raises(ConfigError, match="does not exist"):
        connect(f"sqlite://{path}")
    assert not path.parent.exists()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    connect().close()
    assert (tmp_path / "state" / "crosspost" / "crosspost.sqlite3").exists()


def test_default_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DATABASE_URL wins; without it the default is crosspost.sqlite3 under the user state dir."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert default_database_url() == "postgresql://u@h/db"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state dir"))
    url = default_database_url()
    assert url.startswith("sqlite:///") and url.endswith("/crosspost/crosspost.sqlite3")
    s = connect(url)
    assert s.url_display == url
    s.close()
    assert (tmp_path / "state dir" / "crosspost" / "crosspost.sqlite3").exists()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@127.0.0.1/db",
        "postgresql://postgres:hunter2@127.0.0.1:1/test",
        "postgresql://postgres@127.0.0.1:1/test?password=hunter2",
        "postgres://postgres:hunter2@127.0.0.1:notaport/test",
        "sqlite://relative/path.db",
        "sqlite:relative.db",
        "nonsense",
    ],
)
def test_bad_url_is_one_line_config_error_without_password(url: str) -> None:
    """A URL that cannot be used is a one-line ConfigError that never shows the password."""
    with pytest.raises(ConfigError) as info:
        connect(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "\n" not in message
    assert message


@pytest.mark.postgres
def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite is a one-line ConfigError naming the path."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just some text that is long enough " * 20)
    with pytest.raises(ConfigError, match=r"notes\.txt") as info:
        connect(f"sqlite://{path}")
    assert "\n" not in str(info.value)


@pytest.mark.postgres
def test_postgres_missing_schema_is_config_error(pg_url: str) -> None:
    """A search_path naming no existing schema is a ConfigError that says so."""
    with pytest.raises(ConfigError, match="search_path"):
        connect(pg_url.split("?")[0] + "?options=-csearch_path%3Dno_such_schema_here")


def test_schema_newer_than_code_is_config_error(db_url: str) -> None:
    """A database migrated by a newer crosspost is refused with a clear message, not misused."""
    s = connect(db_url)
    with s._transaction(write=True) as tx:
        tx.run("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
               (99, "future", s._ts(datetime.now(UTC))))  # fmt: skip
    s.close()
    with pytest.raises(ConfigError, match="version 99"):
        connect(db_url)


@pytest.mark.postgres
def test_url_display_hides_password(pg_url: str) -> None:
    """url_display keeps the host and database but not the password."""
    s = connect(pg_url.replace("postgres@", "postgres:hunter2@"))  # trust auth ignores the password
    assert "hunter2" not in s.url_display and "postgres:***@127.0.0.1" in s.url_display
    assert "hunter2" not in repr(s)
    s.close()


def test_import_loads_no_database_driver() -> None:
    """Importing bot.store does not import psycopg (SQLite users never load it)."""
    code = "import sys, bot.store; sys.exit('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], check=False)
    assert done.returncode == 0


# -- ledger ----------------------------------------------------------------------------------------


def test_ledger_part_inserts_pending_then_returns_same_row(store: Store) -> None:
    """The first call inserts a pending row; later calls return it, keeping the first idempotency key."""
    first = _part(store, key="key-1")
    again = _part(store, key="key-2")
    assert first.state == "pending" and first.attempts == 0 and first.text == "hi"
    assert again.id == first.id and again.idempotency_key == "key-1"
    assert first.created_at.tzinfo is not None and first.created_at.utcoffset() == timedelta(0)


def test_ledger_part_race_from_threads_gives_one_row(store: Store) -> None:
    """Eight threads getting-or-inserting the same part at once all get the one row."""
    barrier = threading.Barrier(8)

    def worker(i: int) -> int:
        barrier.wait()
        return int(_part(store, key=f"key-{i}").id)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(worker, range(8)))
    assert len(ids) == 1
    assert len(store.ledger_rows("a1")) == 1


def test_ledger_begin_never_overwrites_prepared(store: Store) -> None:
    """begin stores prepared once; a retry's different prepared is ignored and the first one returned."""
    row = _part(store)
    first = store.ledger_begin(row.id, prepared={"rkey": "3kabc", "createdAt": "2030-01-01T00:00:00Z"})
    assert first.state == "sending" and first.attempts == 1
    store.ledger_fail(row.id, error="timeout after send", state="unknown")
    second = store.ledger_begin(row.id, prepared={"rkey": "OTHER"})
    assert second.prepared == {"rkey": "3kabc", "createdAt": "2030-01-01T00:00:00Z"}
    assert second.attempts == 2


def test_ledger_begin_none_then_prepared(store: Store) -> None:
    """A begin without prepared leaves it NULL, so a later begin can still fix it."""
    row = _part(store)
    assert store.ledger_begin(row.id, prepared=None).prepared is None
    assert store.ledger_begin(row.id, prepared={"a": 1}).prepared == {"a": 1}


def test_ledger_publish_and_fail_states(store: Store) -> None:
    """publish records id, url and ref; fail records the error; a published row cannot be resent."""
    row = _part(store)
    store.ledger_begin(row.id, prepared=None)
    failed = store.ledger_fail(row.id, error="503", state="pending")
    assert failed.state == "pending" and failed.last_error == "503"
    store.ledger_begin(row.id, prepared=None)
    done = store.ledger_publish(row.id, post_id="111", post_url="https://m.example/@a/111", ref={"id": "111"})
    assert (done.state, done.post_id, done.post_url, done.ref) == (
        "published",
        "111",
        "https://m.example/@a/111",
        {"id": "111"},
    )
    with pytest.raises(AlreadyPublished) as info:
        store.ledger_begin(row.id, prepared=None)
    assert info.value.row.post_id == "111"
    with pytest.raises(AlreadyPublished):
        store.ledger_fail(row.id, error="late", state="failed")
    assert store.ledger_rows()[0].state == "published"
    with pytest.raises(ValueError):
        store.ledger_fail(row.id, error="x", state="published")
    with pytest.raises(LookupError):
        store.ledger_begin(9999, prepared=None)


def test_ledger_generation_and_ordering(store: Store) -> None:
    """generation is the highest present (0 when none); rows come ordered by key then generation, part."""
    assert store.ledger_generation("a1", "mastodon", "default") == 0
    _part(store, generation=1, part=1)
    _part(store, generation=1, part=0)
    _part(store, generation=0, part=0)
    _part(store, article="a0", generation=3)
    assert store.ledger_generation("a1", "mastodon", "default") == 1
    assert store.ledger_generation("a1", "x", "default") == 0
    order = [(r.article_key, r.generation, r.part) for r in store.ledger_rows()]
    assert order == [("a0", 3, 0), ("a1", 0, 0), ("a1", 1, 0), ("a1", 1, 1)]
    assert [r.article_key for r in store.ledger_rows("a0")] == ["a0"]


def test_ledger_unicode_and_json_round_trip(store: Store) -> None:
    """Text and JSON keep non-ASCII content and nesting exactly."""
    row = store.ledger_part("a", "bluesky", "me", 0, 0, idempotency_key="k", text="Grüße 👋🏽 #日本")
    prepared = {"facets": [{"index": {"byteStart": 0, "byteEnd": 8}}], "n": 1.5, "ok": True, "none": None}
    got = store.ledger_begin(row.id, prepared=prepared)
    assert got.text == "Grüße 👋🏽 #日本" and got.prepared == prepared


# -- jobs ------------------------------------------------------------------------------------------


def test_enqueue_dedupe(store: Store) -> None:
    """A second enqueue with the same dedupe key returns the first job; without a key each is new."""
    job, created = store.enqueue(article={"t": 1}, article_key="a", targets=["x"], run_at=T0, dedupe_key="d")
    again, created_again = store.enqueue(
        article={"t": 2}, article_key="a", targets=["y"], run_at=T0, dedupe_key="d"
    )
    assert created and not created_again and again.id == job.id and again.article == {"t": 1}
    assert _enqueue(store).id != _enqueue(store).id
    assert job.targets == ["x"] and job.state == "queued" and job.run_at == T0


def test_enqueue_dedupe_race_from_threads(store: Store) -> None:
    """Fifty threads enqueueing with one dedupe key at once create exactly one job."""
    barrier = threading.Barrier(50)

    def worker(_: int) -> tuple[int, bool]:
        barrier.wait()
        job, created = store.enqueue(
            article={"t": 1}, article_key="a", targets=["x"], run_at=T0, dedupe_key="same"
        )
        return job.id, created

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(worker, range(50)))
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(store.list_jobs(include_finished=True)) == 1


def test_enqueue_500_concurrent_threads(store: Store) -> None:
    """500 threads enqueueing at once over 5 dedupe keys make 5 jobs, without running out of connections."""
    barrier = threading.Barrier(500)

    def worker(i: int) -> tuple[int, bool]:
        barrier.wait()
        job, created = store.enqueue(
            article={"i": i}, article_key="a", targets=["x"], run_at=T0, dedupe_key=f"k{i % 5}"
        )
        return job.id, created

    with ThreadPoolExecutor(500) as pool:
        results = list(pool.map(worker, range(500)))
    assert len({job_id for job_id, _ in results}) == 5
    assert sum(created for _, created in results) == 5
    assert store.job_counts()["queued"] == 5


def test_enqueue_refuses_naive_datetime(store: Store) -> None:
    """run_at must be timezone-aware: a naive one would be read in an unknown zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        _enqueue(store, run_at=datetime(2030, 1, 1))


def test_claim_respects_run_at(store: Store) -> None:
    """A job is not claimed before run_at, and is once due; claiming sets owner, lease and attempts."""
    job = _enqueue(store)
    assert store.claim("w1", lease_seconds=60, now=T0 - timedelta(seconds=1)) is None
    got = store.claim("w1", lease_seconds=60, now=T0)
    assert got is not None and got.id == job.id
    assert (got.state, got.worker, got.attempts) == ("running", "w1", 1)
    assert got.lease_until == T0 + timedelta(seconds=60)
    assert store.claim("w2", lease_seconds=60, now=T0 + timedelta(seconds=59)) is None


def test_claim_takes_oldest_due_first(store: Store) -> None:
    """Due jobs are claimed in run_at order, whatever order they were enqueued in."""
    late = _enqueue(store, run_at=T0)
    early = _enqueue(store, run_at=T0 - timedelta(hours=1))
    first = store.claim("w", lease_seconds=60, now=T0)
    second = store.claim("w", lease_seconds=60, now=T0)
    assert first is not None and second is not None
    assert [first.id, second.id] == [early.id, late.id]


def test_expired_lease_is_reclaimed_and_old_owner_locked_out(store: Store) -> None:
    """A crashed worker's job is claimed by another after the lease; the old owner can no longer touch it."""
    job = _enqueue(store)
    assert store.claim("dead", lease_seconds=30, now=T0) is not None
    assert store.claim("alive", lease_seconds=30, now=T0 + timedelta(seconds=29)) is None
    again = store.claim("alive", lease_seconds=30, now=T0 + timedelta(seconds=31))
    assert again is not None and again.id == job.id and again.worker == "alive" and again.attempts == 2
    assert not store.heartbeat(job.id, "dead", lease_seconds=30)
    assert not store.finish(job.id, "dead", state="done")
    assert not store.reschedule(job.id, "dead", run_at=T0)
    assert not store.release(job.id, "dead")
    assert store.finish(job.id, "alive", state="done")
    assert store.get_job(job.id).state == "done"  # type: ignore[union-attr]


def test_heartbeat_extends_lease(store: Store) -> None:
    """heartbeat moves lease_until forward (from the store's clock) for the owner."""
    job = _enqueue(store, run_at=datetime.now(UTC) - timedelta(seconds=5))
    claimed = store.claim("w", lease_seconds=1)
    assert claimed is not None and claimed.lease_until is not None
    assert store.heartbeat(job.id, "w", lease_seconds=3600)
    lease = store.get_job(job.id).lease_until  # type: ignore[union-attr]
    assert lease is not None and lease > datetime.now(UTC) + timedelta(minutes=59)


def test_finish_and_reschedule_only_by_owner(store: Store) -> None:
    """finish and reschedule change a job only for the worker that holds it."""
    job = _enqueue(store)
    assert store.claim("owner", lease_seconds=60, now=T0) is not None
    assert not store.finish(job.id, "other", state="done")
    assert not store.reschedule(job.id, "other", run_at=T0)
    later = T0 + timedelta(minutes=15)
    assert store.reschedule(job.id, "owner", run_at=later, error="429 on x", targets=["x:default"])
    got = store.get_job(job.id)
    assert got is not None
    assert (got.state, got.run_at, got.targets, got.last_error, got.worker, got.attempts) == (
        "queued",
        later,
        ["x:default"],
        "429 on x",
        None,
        1,
    )
    assert not store.finish(job.id, "owner", state="done")  # no longer held by anyone
    assert store.claim("owner", lease_seconds=60, now=later) is not None
    assert store.finish(job.id, "owner", state="failed", error="401")
    got = store.get_job(job.id)
    assert got is not None and (got.state, got.last_error, got.lease_until) == ("failed", "401", None)
    with pytest.raises(ValueError):
        store.finish(job.id, "owner", state="queued")


def test_release_requeues_without_counting_attempt(store: Store) -> None:
    """release puts the job back, due at once, and does not count the interrupted claim."""
    job = _enqueue(store)
    assert store.claim("w", lease_seconds=60, now=T0 + timedelta(minutes=1)) is not None
    assert store.release(job.id, "w")
    got = store.get_job(job.id)
    assert got is not None and (got.state, got.attempts, got.worker, got.run_at) == ("queued", 0, None, T0)
    assert store.claim("w2", lease_seconds=60, now=T0) is not None


def test_cancel_and_retry_rules(store: Store) -> None:
    """cancel works only on queued jobs; retry only on failed or cancelled ones, due now."""
    queued = _enqueue(store)
    assert store.cancel(queued.id)
    assert not store.cancel(queued.id)
    assert store.get_job(queued.id).state == "cancelled"  # type: ignore[union-attr]
    assert store.retry(queued.id)
    got = store.get_job(queued.id)
    assert got is not None and got.state == "queued" and got.run_at <= datetime.now(UTC)
    assert not store.retry(queued.id)  # queued: nothing to retry
    assert store.cancel(queued.id)  # out of the way of the claims below

    running = _enqueue(store, run_at=T0 - timedelta(days=1))
    claimed = store.claim("w", lease_seconds=60, now=T0)
    assert claimed is not None and claimed.id == running.id
    assert not store.cancel(running.id) and not store.retry(running.id)
    assert store.finish(running.id, "w", state="done")
    assert not store.cancel(running.id) and not store.retry(running.id)

    failed = _enqueue(store, run_at=T0 - timedelta(days=2))
    assert store.claim("w", lease_seconds=60, now=T0) is not None
    assert store.finish(failed.id, "w", state="failed", error="boom")
    assert store.retry(failed.id)
    got = store.get_job(failed.id)
    assert got is not None and (got.state, got.attempts) == ("queued", 0)
    assert not store.cancel(12345) and not store.retry(12345) and store.get_job(12345) is None


def test_list_jobs_and_counts(store: Store) -> None:
    """list_jobs hides finished jobs unless asked; job_counts reports every state."""
    a = _enqueue(store, run_at=T0)
    b = _enqueue(store, run_at=T0 - timedelta(hours=1))
    c = _enqueue(store, run_at=T0 + timedelta(hours=1))
    store.cancel(c.id)
    assert [j.id for j in store.list_jobs()] == [b.id, a.id]
    assert [j.id for j in store.list_jobs(include_finished=True)] == [b.id, a.id, c.id]
    assert store.claim("w", lease_seconds=60, now=T0) is not None
    assert store.job_counts() == {"queued": 1, "running": 1, "done": 0, "failed": 0, "cancelled": 1}


def test_claim_from_threads_each_job_once(store: Store) -> None:
    """Eight threads of one process claiming 80 jobs take each exactly once."""
    for i in range(80):
        _enqueue(store, key=f"a{i}", run_at=T0 - timedelta(seconds=i))
    barrier = threading.Barrier(8)

    def worker(n: int) -> list[int]:
        barrier.wait()
        got = []
        while (job := store.claim(f"w{n}", lease_seconds=300, now=T0)) is not None:
            got.append(job.id)
        return got

    with ThreadPoolExecutor(8) as pool:
        claimed = [i for ids in pool.map(worker, range(8)) for i in ids]
    assert len(claimed) == 80 and len(set(claimed)) == 80


def test_claim_from_processes_each_job_once(db_url: str) -> None:
    """Four processes claiming 200 jobs at once take each exactly once, and all 200 end done."""
    s = connect(db_url)
    past = datetime.now(UTC) - timedelta(minutes=1)
    ids = {_enqueue(s, key=f"a{i}", run_at=past).id for i in range(200)}
    results = _spawn(_claim_loop, [(db_url, f"proc{i}") for i in range(4)])
    claimed: Counter[int] = Counter()
    for worker, got in results:
        assert isinstance(got, list), f"{worker}: {got}"
        claimed.update(got)
    assert set(claimed) == ids and set(claimed.values()) == {1}
    assert s.job_counts()["done"] == 200
    s.close()


def test_killed_process_leaves_committed_state(db_url: str) -> None:
    """A process killed right after ledger_begin and claim leaves both on record; its job is re-claimed."""
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_begin_then_die, args=(db_url,))
    s = connect(db_url)
    _enqueue(s, run_at=datetime.now(UTC) - timedelta(seconds=1))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    (row,) = s.ledger_rows()
    assert (row.state, row.attempts, row.prepared) == ("sending", 1, {"rkey": "3kfixed"})
    later = datetime.now(UTC) + timedelta(seconds=5)
    again = s.claim("survivor", lease_seconds=60, now=later)
    assert again is not None and again.attempts == 2 and again.worker == "survivor"
    s.close()

def test_reschedule_queued_moves_jobs_nobody_holds(store: Store) -> None:
    """A queued job moves to the new time (attempts kept); a failed or cancelled one is queued again there
    (attempts reset); a running, done or unknown job is not touched; a naive time is refused."""
    later = T0 + timedelta(days=2, hours=3)
    queued = _enqueue(store, run_at=T0)
    assert store.reschedule_queued(queued.id, later)
    assert store.claim("w", lease_seconds=60, now=later - timedelta(seconds=1)) is None  # no longer due at T0
    got = store.get_job(queued.id)
    assert got is not None and (got.state, got.run_at, got.attempts) == ("queued", later, 0)

    claimed = store.claim("w", lease_seconds=60, now=later)
    assert claimed is not None and claimed.id == queued.id
    assert not store.reschedule_queued(queued.id, T0)  # running: the worker owns it
    assert store.get_job(queued.id).run_at == later  # type: ignore[union-attr]
    assert store.finish(queued.id, "w", state="failed", error="401")
    assert store.reschedule_queued(queued.id, later + timedelta(hours=1))
    got = store.get_job(queued.id)
    assert got is not None and (got.state, got.run_at, got.attempts, got.worker, got.lease_until) == (
        "queued", later + timedelta(hours=1), 0, None, None)

    assert store.cancel(queued.id)
    assert store.reschedule_queued(queued.id, T0 + timedelta(minutes=5))
    assert store.get_job(queued.id).state == "queued"  # type: ignore[union-attr]
    assert store.claim("w", lease_seconds=60, now=T0 + timedelta(minutes=5)) is not None
    assert store.finish(queued.id, "w", state="done")
    assert not store.reschedule_queued(queued.id, later)  # done stays done
    assert not store.reschedule_queued(999_999, later)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.reschedule_queued(queued.id, datetime(2030, 1, 1))


def test_reschedule_queued_races_with_claims(store: Store) -> None:
    """Rescheduling while workers claim: each job is either claimed at its old time (reschedule False) or
    moved (True) and then not claimable at the old time; never both, never lost."""
    jobs = [_enqueue(store, run_at=T0) for _ in range(20)]
    later = T0 + timedelta(days=1)

    def claim_all() -> list[int]:
        got = []
        while (job := store.claim("w", lease_seconds=60, now=T0)) is not None:
            got.append(job.id)
        return got

    def move_all() -> list[int]:
        return [j.id for j in jobs if store.reschedule_queued(j.id, later)]

    with ThreadPoolExecutor(max_workers=3) as pool:
        claimers = [pool.submit(claim_all) for _ in range(2)]
        moved = set(pool.submit(move_all).result())
        claimed = [i for f in claimers for i in f.result()]
    assert len(claimed) == len(set(claimed))
    assert moved.isdisjoint(claimed) and moved | set(claimed) == {j.id for j in jobs}
    for job_id in moved:
        got = store.get_job(job_id)
        assert got is not None and (got.state, got.run_at) == ("queued", later)


def test_kv_items_by_prefix(store: Store) -> None:
    """kv_items returns the unexpired entries under a prefix only (a LIKE wildcard in it is literal)."""
    store.kv_set("worker:a:1", {"pid": 1}, ttl_seconds=3600)
    store.kv_set("worker:b:2", {"pid": 2})
    store.kv_set("worker:gone", {"pid": 3}, ttl_seconds=-1)
    store.kv_set("workers", "not mine")
    store.kv_set("pace:x:default", {"remaining": 1})
    store.kv_set("w_rker:c", 0)
    assert store.kv_items("worker:") == {"worker:a:1": {"pid": 1}, "worker:b:2": {"pid": 2}}
    assert store.kv_items("w_rker:") == {"w_rker:c": 0}
    assert store.kv_items("nothing:") == {}


# -- small tables ----------------------------------------------------------------------------------


def test_kv_set_get_overwrite_and_ttl(store: Store) -> None:
    """kv returns JSON values, overwrites them, and forgets them once the ttl has passed."""
    assert store.kv_get("missing") is None
    store.kv_set("session:bluesky", {"jwt": "abc", "n": [1, 2]})
    assert store.kv_get("session:bluesky") == {"jwt": "abc", "n": [1, 2]}
    store.kv_set("session:bluesky", "replaced")
    assert store.kv_get("session:bluesky") == "replaced"
    store.kv_set("short", 42, ttl_seconds=-1)
    assert store.kv_get("short") is None
    store.kv_set("long", 42, ttl_seconds=3600)
    assert store.kv_get("long") == 42
    store.kv_set("long", 43)  # setting again without ttl makes it permanent
    assert store.kv_get("long") == 43


def test_kv_ttl_expires_in_real_time(store: Store) -> None:
    """A value with a short ttl is readable at first and gone after it."""
    import time

    store.kv_set("blink", True, ttl_seconds=0.3)
    assert store.kv_get("blink") is True
    time.sleep(0.5)
    assert store.kv_get("blink") is None


def test_feed_seen_and_mark(store: Store) -> None:
    """feed_seen reports exactly the keys marked for that feed; marking twice is harmless."""
    feed = "https://blog.example/feed.xml"
    assert store.feed_seen(feed, ["a", "b"]) == set()
    store.feed_mark(feed, ["a", "b", "a"])
    store.feed_mark(feed, ["b", "c"])
    store.feed_mark(feed, [])
    assert store.feed_seen(feed, ["a", "c", "d"]) == {"a", "c"}
    assert store.feed_seen("https://other.example/feed", ["a"]) == set()
    many = [f"item-{i}" for i in range(1200)]
    store.feed_mark(feed, many[:700])
    assert store.feed_seen(feed, many) == set(many[:700])


def test_feed_fingerprints(store: Store) -> None:
    """A mark keeps its entry's fingerprint; a mark without one keeps what is there; None before any."""
    feed = "https://blog.example/feed.xml"
    store.feed_mark(feed, ["old"])  # as before fingerprints were kept
    store.feed_mark(feed, ["a", "b"], fingerprint="f1")
    assert store.feed_fingerprints(feed, ["a", "b", "old", "new"]) == {"a": "f1", "b": "f1", "old": None}
    store.feed_mark(feed, ["a"])
    store.feed_mark_many(feed, [("b", "f2"), ("old", "f3"), ("c", None)])
    assert store.feed_fingerprints(feed, ["a", "b", "old", "c"]) == {"a": "f1", "b": "f2", "old": "f3", "c": None}
    assert store.feed_fingerprints("https://other.example/feed", ["a"]) == {}


@pytest.mark.postgres
def test_postgres_connection_killed_between_operations(pg_url: str) -> None:
    """A server-side disconnect fails one operation cleanly (StoreError); the next one reconnects."""
    from bot.store import StoreError

    s = connect(pg_url)
    with s._transaction(write=False) as tx:
        pid = tx.one("SELECT pg_backend_pid()")[0]  # type: ignore[index]
    admin = _pg_admin()
    admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    admin.close()
    with pytest.raises(StoreError, match="nothing was written"):
        _enqueue(s)
    assert s.job_counts()["queued"] == 0
    _enqueue(s)
    assert s.job_counts()["queued"] == 1
    s.close()


@pytest.mark.postgres
def test_postgres_idle_connection_is_checked_before_reuse(pg_url: str) -> None:
    """A connection idle past the check interval is tested first, so a dropped one is replaced silently."""
    s = connect(pg_url)
    s._pool._check_after = 0  # type: ignore[attr-defined]
    with s._transaction(write=False) as tx:
        pid = tx.one("SELECT pg_backend_pid()")[0]  # type: ignore[index]
    admin = _pg_admin()
    admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    admin.close()
    _enqueue(s)
    assert s.job_counts()["queued"] == 1
    s.close()


def test_closed_store_refuses_use(db_url: str) -> None:
    """A closed store raises a StoreError instead of reopening silently."""
    from bot.store import StoreError

    s = connect(db_url)
    s.close()
    with pytest.raises(StoreError):
        s.job_counts()


# -- group commit: concurrent queueing writes share one transaction and its commit (bot/store/group.py)


def _ingest(store: Store, n: int) -> tuple[Any, bool]:
    return store.enqueue_aliased(Ingest(
        alias=f"ghost:post:{n % 7}", create=True, article={"title": f"post {n % 7}", "url": f"https://e.com/{n % 7}"},
        article_key=f"https://e.com/{n % 7}", targets=["mastodon"], run_at=datetime.now(UTC),
        dedupe_key=f"https://e.com/{n % 7}",
    ))


def test_concurrent_ingests_share_commits_and_each_article_gets_one_job(store: Store) -> None:
    """40 threads queue 7 articles at once (on both stores): one job per article, the same job for every
    delivery of it, exactly 7 "created", and fewer commits than writes once writers pile up."""
    barrier = threading.Barrier(40)

    def deliver(n: int) -> tuple[Any, bool]:
        barrier.wait()
        return _ingest(store, n)

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(deliver, range(40)))
    by_article: dict[str, set[int]] = {}
    for job, _ in results:
        by_article.setdefault(job.article_key, set()).add(job.id)
    assert all(len(ids) == 1 for ids in by_article.values()) and len(by_article) == 7
    assert sum(created for _, created in results) == 7
    assert sum(store.job_counts().values()) == 7
    for n in range(7):  # every alias points at its article's job
        assert store.kv_get(f"ghost:post:{n}") == next(iter(by_article[f"https://e.com/{n}"]))
    assert store._group.writes == 40


def test_writers_queued_behind_a_commit_go_in_one_batch(tmp_path: Path) -> None:
    """While one batch holds the write lock, the writers that arrive queue up and then share one commit."""
    s = connect(f"sqlite://{tmp_path / 'group.db'}")
    try:
        group = s._group
        lock: threading.Lock = s._write_lock  # type: ignore[attr-defined]
        lock.acquire()  # the first leader blocks in its BEGIN
        try:
            with ThreadPoolExecutor(12) as pool:
                futures = [pool.submit(_ingest, s, n) for n in range(12)]
                deadline = time.monotonic() + 10
                while group.writes + len(group._pending) < 12:  # all taken by a leader or queued
                    assert time.monotonic() < deadline, "writers never queued"
                    time.sleep(0.01)
                assert not any(f.done() for f in futures)  # nobody answered before a commit
                lock.release()
                results = [f.result(timeout=10) for f in futures]
        finally:
            if lock.locked():
                lock.release()
        assert group.batches == 2 and group.writes == 12  # the first leader's batch, then everyone else's
        assert sum(created for _, created in results) == 7
        assert sum(s.job_counts().values()) == 7
    finally:
        s.close()


def test_a_failing_write_fails_alone_and_the_rest_of_its_batch_commits(store: Store) -> None:
    """One write of a batch raises: it gets its own error, nothing of it is kept, the others are committed
    once each (the batch is rolled back and its writes run again one by one)."""
    from bot.store.group import GroupCommit

    runs: Counter[int] = Counter()
    gate = threading.Event()
    group = GroupCommit(lambda: store._transaction(write=True))

    def write(n: int) -> Callable[[Any], int]:
        def work(tx: Any) -> int:
            runs[n] += 1
            if n == 0:
                gate.wait(10)  # holds the first batch open until the others have queued
            tx.run("INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, NULL, ?)",
                   (f"group:{n}", store._json(n), store._ts(datetime.now(UTC))))
            if n == 3:
                raise ValueError("write 3 is bad")
            return n

        return work

    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(group.run, write(0))
        while group.writes < 1:
            time.sleep(0.005)
        rest = {n: pool.submit(group.run, write(n)) for n in range(1, 6)}
        while len(group._pending) < 5:
            time.sleep(0.005)
        gate.set()
        assert first.result(timeout=10) == 0
        with pytest.raises(ValueError, match="write 3 is bad"):
            rest[3].result(timeout=10)
        assert {n: rest[n].result(timeout=10) for n in (1, 2, 4, 5)} == {1: 1, 2: 2, 4: 4, 5: 5}
    assert [store.kv_get(f"group:{n}") for n in range(6)] == [0, 1, 2, None, 4, 5]
    assert runs[3] == 2 and runs[1] == 2  # the batch of 1..5 ran, was rolled back, then each alone
    assert group.batches == 1 + 1 + 5


def test_async_writes_queued_behind_a_commit_share_one_and_wake_their_loop(tmp_path: Path) -> None:
    """run_async from an event loop: writes queued while a commit holds the lock go in one batch led by the
    group's writer thread; each coroutine gets its own result, or its own error, after the commit."""
    import asyncio

    s = connect(f"sqlite://{tmp_path / 'async.db'}")
    group = s._group
    lock: threading.Lock = s._write_lock  # type: ignore[attr-defined]

    def put(n: int) -> Callable[[Any], int]:
        def work(tx: Any) -> int:
            if n == 5:
                raise ValueError("write 5 is bad")
            tx.run("INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, NULL, ?)",
                   (f"async:{n}", s._json(n), s._ts(datetime.now(UTC))))
            return n

        return work

    async def main() -> list[Any]:
        lock.acquire()
        try:
            tasks = [asyncio.create_task(group.run_async(put(0)))]
            while group.writes < 1:  # the writer thread has taken write 0 and waits for the lock
                await asyncio.sleep(0.005)
            tasks += [asyncio.create_task(group.run_async(put(n))) for n in range(1, 10)]
            while len(group._pending) < 9:
                await asyncio.sleep(0.01)
            assert not any(t.done() for t in tasks)
        finally:
            lock.release()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(main())
        assert [r if not isinstance(r, Exception) else str(r) for r in results] == [
            0, 1, 2, 3, 4, "write 5 is bad", 6, 7, 8, 9]
        assert [s.kv_get(f"async:{n}") for n in range(10)] == [0, 1, 2, 3, 4, None, 6, 7, 8, 9]
        # the first write alone, then the other nine in one transaction that failed on write 5 and ran
        # again one by one: 1 + 1 + 9
        assert group.writes == 10 and group.batches == 1 + 1 + 9
    finally:
        s.close()


def test_ingest_finds_or_creates_exactly_as_the_step_by_step_path_would(store: Store) -> None:
    """enqueue_aliased's two-statement path for a new article and its step-by-step path for everything else
    agree: new, redelivered, same link under another alias, alias of a vanished job, expired alias, look-only."""
    now = datetime.now(UTC)

    def ingest(alias: str | None, key: str, *, create: bool = True) -> tuple[Any, bool]:
        return store.enqueue_aliased(Ingest(alias=alias, create=create, article={"title": key, "url": key},
                                            article_key=key, targets=["mastodon"], run_at=now, dedupe_key=key))

    job, created = ingest("ghost:post:1", "https://e.com/a")
    assert created and store.kv_get("ghost:post:1") == job.id and job.state == "queued"
    again, created = ingest("ghost:post:1", "https://e.com/a-renamed")  # same post, link changed: same job
    assert (again.id, created) == (job.id, False)
    other, created = ingest("ghost:post:2", "https://e.com/a")  # another alias, the same link: same job
    assert (other.id, created) == (job.id, False) and store.kv_get("ghost:post:2") == job.id
    assert ingest("ghost:post:3", "https://e.com/b", create=False) == (None, False)  # an edit of nothing
    assert store.kv_get("ghost:post:3") is None
    looked, created = ingest("ghost:post:1", "https://e.com/zzz", create=False)  # an edit finds its job
    assert (looked.id, created) == (job.id, False)
    store.kv_set("ghost:post:4", 999_999)  # an alias whose job is not there: a new job, the alias moved to it
    fresh, created = ingest("ghost:post:4", "https://e.com/c")
    assert created and fresh.id != 999_999 and store.kv_get("ghost:post:4") == fresh.id
    store.kv_set("ghost:post:5", job.id, ttl_seconds=0.001)  # an expired alias is no alias
    time.sleep(0.01)
    late, created = ingest("ghost:post:5", "https://e.com/d")
    assert created and late.id != job.id and store.kv_get("ghost:post:5") == late.id
    plain, created = ingest(None, "https://e.com/e")  # no alias at all
    assert created and plain.article_key == "https://e.com/e"
    assert sum(store.job_counts().values()) == 4


def test_a_batch_of_deliveries_in_one_commit_queues_each_article_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch holding new articles, a redelivery, the same post under a changed link, another alias of a
    known link and a look-only edit: the outcome each writer gets is the one it would get alone, in order.
    On PostgreSQL the new-article statements of the batch go out together (one_each, one round trip)."""
    from bot.store.group import _Write

    sent: list[int] = []
    if store.dialect == "postgresql":
        from bot.store.postgres import _PgTx

        real = _PgTx.one_each

        def counting(self: Any, sql: str, params: list[Any]) -> Any:
            sent.append(len(params))
            return real(self, sql, params)

        monkeypatch.setattr(_PgTx, "one_each", counting)
    now = datetime.now(UTC)

    def write(alias: str | None, key: str, create: bool = True) -> _Write[Any]:
        ingest = Ingest(alias=alias, create=create, article={"url": key}, article_key=key, targets=["x"],
                        run_at=now, dedupe_key=key)
        return _Write(store._ingest_write(ingest))

    batch = [
        write("ghost:post:a", "https://e.com/a"),
        write("ghost:post:b", "https://e.com/b"),
        write("ghost:post:a", "https://e.com/a"),  # redelivered in the same batch
        write("ghost:post:a", "https://e.com/a-moved"),  # the same post, its link changed
        write("ghost:post:c", "https://e.com/b"),  # another source id, a known link
        write("ghost:post:d", "https://e.com/d", create=False),  # an edit of a post never queued
        write(None, "https://e.com/e"),
    ]
    store._group._lead(batch)
    outcomes = [(w.result[0].article_key if w.result[0] else None, w.result[1]) for w in batch]
    assert all(w.done and w.error is None for w in batch)
    assert outcomes == [
        ("https://e.com/a", True), ("https://e.com/b", True), ("https://e.com/a", False),
        ("https://e.com/a", False), ("https://e.com/b", False), (None, False), ("https://e.com/e", True),
    ]
    assert sum(store.job_counts().values()) == 3
    a, b = batch[0].result[0].id, batch[1].result[0].id
    assert [store.kv_get(f"ghost:post:{x}") for x in "abcd"] == [a, b, b, None]
    assert sent == ([5] if store.dialect == "postgresql" else [])
