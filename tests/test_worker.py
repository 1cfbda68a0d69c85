"""The worker against the sandbox: due times, leases and heartbeats, failures that stay visible, and the
``crosspost worker`` process (``--once``, SIGTERM) run as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import platforms
from bot.article import Article
from bot.config import Settings, load_settings
from bot.sandbox import Sandbox
from bot.store import connect
from bot.worker import Worker
from tests.conftest import ROOT

PLATFORMS = platforms.names()


def make_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {**sandbox.env(), "CROSSPOST_TIMEOUT": "3", "DATABASE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}


def make_settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(env=make_env(sandbox, tmp_path), load_dotenv=False)


@pytest.fixture
def store(sandbox: Sandbox, tmp_path: Path) -> Iterator[Any]:
    s = connect(make_env(sandbox, tmp_path)["DATABASE_URL"])
    yield s
    s.close()


def article(n: int) -> Article:
    return Article(title=f"Worker article number {n}", url=f"https://news.example.com/worker/{n}",
                   summary="What the worker posts.", body="What the worker posts.", tags=("Queue",), lang="en")


def enqueue(store: Any, n: int, run_at: datetime, targets: tuple[str, ...] = PLATFORMS) -> Any:
    a = article(n)
    job, _ = store.enqueue(article=a.to_dict(), article_key=a.key, targets=list(targets), run_at=run_at)
    return job


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# --- due times ---------------------------------------------------------------------------------------


def test_job_due_at_t_does_not_run_before_t_and_runs_after(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """With the clock at T - 1 s nothing is claimed or posted; at T + 1 s the job runs and posts everywhere."""
    due = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    job = enqueue(store, 1, due)
    settings = make_settings(sandbox, tmp_path)
    before = Worker(settings, store, poll_interval=0.05, now=lambda: due - timedelta(seconds=1))
    assert before.run(once=True) == 0
    assert store.get_job(job.id).state == "queued"
    assert all(sandbox.app.posts(p) == [] for p in PLATFORMS)
    after = Worker(settings, store, poll_interval=0.05, now=lambda: due + timedelta(seconds=1))
    assert after.run(once=True) == 1
    assert store.get_job(job.id).state == "done"
    assert all(len(sandbox.app.posts(p)) == 1 for p in PLATFORMS)


def test_due_jobs_run_in_run_at_order(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """Jobs run soonest-due first, whatever order they were queued in."""
    now = datetime.now(UTC)
    third = enqueue(store, 3, now - timedelta(seconds=1), ("mastodon",))
    first = enqueue(store, 1, now - timedelta(seconds=30), ("mastodon",))
    second = enqueue(store, 2, now - timedelta(seconds=10), ("mastodon",))
    assert Worker(make_settings(sandbox, tmp_path), store, poll_interval=0.05).run(once=True) == 3
    order = [p["text"] for p in sandbox.app.posts("mastodon")]
    assert [next(i for i, t in enumerate(order) if f"worker/{n}" in t) for n in (1, 2, 3)] == [0, 1, 2]
    assert {store.get_job(j.id).state for j in (first, second, third)} == {"done"}


# --- leases ------------------------------------------------------------------------------------------


def test_job_of_a_dead_worker_is_taken_again_after_its_lease(sandbox: Sandbox, tmp_path: Path,
                                                             store: Any) -> None:
    """A job claimed by a worker that died is left alone while its lease holds, then re-claimed and run."""
    job = enqueue(store, 1, datetime.now(UTC), ("mastodon",))
    assert store.claim("dead-worker", lease_seconds=5).id == job.id
    settings = make_settings(sandbox, tmp_path)
    assert Worker(settings, store, poll_interval=0.05).run(once=True) == 0  # the lease still holds
    assert sandbox.app.posts("mastodon") == []
    later = Worker(settings, store, poll_interval=0.05, now=lambda: datetime.now(UTC) + timedelta(seconds=6))
    assert later.run(once=True) == 1
    after = store.get_job(job.id)
    assert (after.state, after.attempts) == ("done", 2)
    assert len(sandbox.app.posts("mastodon")) == 1


def test_heartbeat_keeps_a_slow_job_from_being_taken(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """A job outliving its 1 s lease is not claimed by another worker while its heartbeat runs."""
    sandbox.app.latency["mastodon"] = 1.2  # every Mastodon call: the job takes ~2.5 s
    job = enqueue(store, 1, datetime.now(UTC), ("mastodon",))
    settings = make_settings(sandbox, tmp_path)
    slow = Worker(settings, store, lease_seconds=1.0, poll_interval=0.05, name="slow")
    thread = threading.Thread(target=slow.run, kwargs={"once": True})
    thread.start()
    stolen = []
    try:
        wait_for(lambda: store.get_job(job.id).state == "running", 5, "the claim")
        while thread.is_alive():
            taken = store.claim("thief", lease_seconds=1.0)
            if taken is not None:
                stolen.append(taken.id)
            time.sleep(0.1)
    finally:
        thread.join(timeout=30)
    assert stolen == []
    assert store.get_job(job.id).state == "done"
    assert len(sandbox.app.posts("mastodon")) == 1


# --- outcomes ------------------------------------------------------------------------------------------


def test_job_for_unconfigured_platform_fails_with_a_reason(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """A target with no account configured fails the job and says why."""
    env = {k: v for k, v in make_env(sandbox, tmp_path).items() if not k.startswith("X_")}
    settings = load_settings(env=env, load_dotenv=False)
    job = enqueue(store, 1, datetime.now(UTC), ("x",))
    assert Worker(settings, store, poll_interval=0.05).run(once=True) == 1
    after = store.get_job(job.id)
    assert after.state == "failed" and "no configured account for targets x" in (after.last_error or "")


def test_failed_target_stays_visible_while_deferred_target_continues(sandbox: Sandbox, tmp_path: Path,
                                                                     store: Any) -> None:
    """Mastodon refuses for good and X is rate limited: the job fails with Mastodon's reason, X goes on
    in a new job due at X's reset, Bluesky is posted."""
    sandbox.app.inject("mastodon.statuses.create", "error", status=422, count=1)
    sandbox.app.inject("x.tweets.create", "rate_limit", reset_in=60, count=1)
    job = enqueue(store, 1, datetime.now(UTC))
    assert Worker(make_settings(sandbox, tmp_path), store, poll_interval=0.05).run(once=True) == 1
    after = store.get_job(job.id)
    assert after.state == "failed"
    assert "mastodon" in (after.last_error or "") and "continue in job" in (after.last_error or "")
    follow = [j for j in store.list_jobs() if j.id != job.id]
    assert len(follow) == 1 and follow[0].targets == ["x:default"]
    assert follow[0].run_at >= datetime.now(UTC) + timedelta(seconds=50)
    assert len(sandbox.app.posts("bluesky")) == 1 and sandbox.app.posts("x") == []


def test_transient_errors_are_retried_inside_the_job(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """Two 503s then success: the job ends done with one post (the publisher's backoff, not a reschedule)."""
    sandbox.app.inject("mastodon.statuses.create", "error", status=503, count=2)
    job = enqueue(store, 1, datetime.now(UTC), ("mastodon",))
    settings = make_settings(sandbox, tmp_path)
    from bot.publish import Publisher

    worker = Worker(settings, store, poll_interval=0.05)
    worker.publisher = Publisher(settings, store, backoff=0.01, sleep=worker._sleep)
    assert worker.run(once=True) == 1
    assert store.get_job(job.id).state == "done"
    assert len(sandbox.app.received("mastodon.statuses.create")) == 3
    assert len(sandbox.app.posts("mastodon")) == 1


# --- the process -----------------------------------------------------------------------------------------


def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL"))}
    env.update(make_env(sandbox, tmp_path))
    env["PYTHONPATH"] = str(ROOT)
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=90)


def test_cli_worker_once_runs_due_jobs_and_posts_appear(sandbox: Sandbox, tmp_path: Path) -> None:
    """schedule --in 2s; worker --once before it is due runs nothing; after, it posts on every platform."""
    env = cli_env(sandbox, tmp_path)
    post = tmp_path / "post.md"
    post.write_text("---\ntitle: Queued for later\nurl: https://blog.example.com/2026/later\ntags: [Queue]\n---\n\n"
                    "A post that waits for its time.\n", encoding="utf-8")
    made = cli(env, tmp_path, "schedule", str(post), "--in", "2s", "--json")
    assert made.returncode == 0, made.stderr
    due = datetime.fromisoformat(json.loads(made.stdout)["run_at"])
    early = cli(env, tmp_path, "worker", "--once")
    assert early.returncode == 0, early.stderr
    if datetime.now(UTC) < due:  # the worker started before the job was due
        assert early.stdout.strip() == "ran 0 jobs"
        assert all(sandbox.app.posts(p) == [] for p in PLATFORMS)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)
    late = cli(env, tmp_path, "worker", "--once")
    assert late.returncode == 0, late.stderr
    assert late.stdout.strip() == "ran 1 job"
    for platform in PLATFORMS:
        posts = sandbox.app.posts(platform)
        assert len(posts) == 1, platform
    assert "Queued for later" in sandbox.app.posts("mastodon")[0]["text"]
    status = json.loads(cli(env, tmp_path, "status", "--json").stdout)
    assert {(r["platform"], r["state"]) for r in status} == {(p, "published") for p in PLATFORMS}


def start_worker(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    log = open(cwd / "worker.log", "w", encoding="utf-8")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--poll", "0.1", *args], env=env,
                            cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)


def test_sigterm_lets_the_job_in_flight_finish_and_exits_0(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """SIGTERM while a post is on the wire: that job completes (posted once, done), no new job is claimed."""
    sandbox.app.latency["mastodon"] = 1.5
    jobs = [enqueue(store, n, datetime.now(UTC), ("mastodon",)) for n in range(3)]
    proc = start_worker(cli_env(sandbox, tmp_path), tmp_path)
    try:
        wait_for(lambda: len(sandbox.app.received("mastodon.statuses.create")) == 1, 30, "the first post request")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    states = [store.get_job(j.id) for j in jobs]
    assert [j.state for j in states] == ["done", "queued", "queued"]
    assert [j.attempts for j in states[1:]] == [0, 0]
    assert len(sandbox.app.posts("mastodon")) == 1
    assert store.job_counts()["running"] == 0


def test_sigterm_releases_a_job_waiting_to_retry_and_exits_0(sandbox: Sandbox, tmp_path: Path,
                                                               store: Any) -> None:
    """SIGTERM while a job backs off after a 503: released to the queue at once, runs later, posts once."""
    sandbox.app.inject("mastodon.statuses.create", "error", status=503, count=1)
    job = enqueue(store, 1, datetime.now(UTC), ("mastodon",))
    env = cli_env(sandbox, tmp_path)
    proc = start_worker(env, tmp_path)
    try:
        wait_for(lambda: len(sandbox.app.received("mastodon.statuses.create")) == 1, 30, "the failed request")
        time.sleep(0.2)  # into the backoff (first wait is 1-2 s)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, (tmp_path / "worker.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    released = store.get_job(job.id)
    assert (released.state, released.attempts, released.worker) == ("queued", 0, None)
    assert released.run_at <= datetime.now(UTC)
    assert sandbox.app.posts("mastodon") == []
    assert "job_released" in (tmp_path / "worker.log").read_text()
    again = cli(env, tmp_path, "worker", "--once")
    assert again.returncode == 0 and again.stdout.strip() == "ran 1 job", again.stderr
    assert store.get_job(job.id).state == "done"
    assert len(sandbox.app.posts("mastodon")) == 1


def test_cli_worker_rejects_bad_flags(sandbox: Sandbox, tmp_path: Path) -> None:
    """--concurrency 0, --lease 0, --poll abc: one-line errors, exit 2."""
    env = cli_env(sandbox, tmp_path)
    for args, needle in ((("--concurrency", "0"), "--concurrency"), (("--lease", "0"), "--lease"),
                         (("--poll", "abc"), "--poll")):
        proc = cli(env, tmp_path, "worker", "--once", *args)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
