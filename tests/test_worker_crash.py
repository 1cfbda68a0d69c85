"""Crash runs: several ``crosspost worker`` processes drain a queue against the sandbox (in its own process)
while being SIGKILLed and restarted at random (seeded). Afterwards every article is on Mastodon and Bluesky
exactly once and on X at least once (X has no idempotency key: a duplicate there is reported), and every
job is done: none stuck in ``running``, because a killed worker's lease (3 s) runs out and another takes
the job. PostgreSQL (``FOR UPDATE SKIP LOCKED``, 4 workers, 500 jobs) and SQLite (2 workers, 200 jobs)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.article import Article
from bot.sandbox import credentials
from bot.store import connect
from tests.conftest import ROOT

PG_URL = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PLATFORMS = ("x", "bluesky", "mastodon")
LEASE = "3"
TITLE = re.compile(r"Crash run article (\d{4})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL"))}


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """``crosspost sandbox`` in its own process on a free port (workers are killed; it is not)."""
    port = free_port()
    log = open(tmp_path / "sandbox.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--seed", "7"],
                            cwd=tmp_path, env={**clean_env(), "PYTHONPATH": str(ROOT)}, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"the sandbox did not start: {(tmp_path / 'sandbox.log').read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (via search_path), dropped after the test; unreachable: skip, or fail in CI."""
    import psycopg

    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at CROSSPOST_TEST_PG={PG_URL}: {' '.join(str(exc).split())}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"crash_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@dataclass
class Crew:
    """``size`` worker processes, each restartable; logs go to files in ``workdir``."""

    size: int
    env: dict[str, str]
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    started: int = 0

    def spawn(self) -> tuple[subprocess.Popen[bytes], Path]:
        self.started += 1
        path = self.workdir / f"worker-{self.started:03d}.log"
        with open(path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--lease", LEASE, "--poll", "0.1"],
                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return proc, path

    def start(self) -> None:
        self.procs, self.logs = (list(x) for x in zip(*(self.spawn() for _ in range(self.size)), strict=True))

    def kill_and_restart(self, index: int) -> None:
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait(timeout=10)
        self.procs[index], self.logs[index] = self.spawn()

    def stop(self) -> list[int | None]:
        """SIGTERM every worker once it is up (Python itself dies of a SIGTERM that comes before the
        worker's handler is installed); their exit codes (None: had to be killed)."""
        deadline = time.monotonic() + 30
        for proc, log in zip(self.procs, self.logs, strict=True):
            while proc.poll() is None and b"worker_started" not in log.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append(None)
        return codes


def crash_run(database_url: str, sandbox_url: str, workdir: Path, *, jobs: int, workers: int, seed: int,
              budget: float) -> None:
    """Queue ``jobs`` articles for all three platforms, drain them with ``workers`` processes while killing
    one at random every 1.5-3 s (seeded), then check every post and every job."""
    store = connect(database_url)
    now = datetime.now(UTC)
    for n in range(jobs):
        a = Article(title=f"Crash run article {n:04d}", url=f"https://news.example.com/crash/{n}",
                    summary="Workers die and come back; every post goes out once.", tags=("Chaos",), lang="en")
        store.enqueue(article=a.to_dict(), article_key=a.key, targets=list(PLATFORMS), run_at=now)
    env = {**clean_env(), **credentials(), "X_API_BASE_URL": sandbox_url, "BLUESKY_SERVICE_URL": sandbox_url,
           "MASTODON_API_BASE_URL": sandbox_url, "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1", "CROSSPOST_TIMEOUT": "5",
           "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    crew = Crew(workers, env, workdir)
    rng = random.Random(seed)
    kills = 0
    started = time.monotonic()
    crew.start()
    try:
        next_kill = started + rng.uniform(1.5, 3.0)
        while True:
            counts = store.job_counts()
            if counts["queued"] == 0 and counts["running"] == 0:
                break
            if time.monotonic() - started > budget:
                pytest.fail(f"not drained within {budget:g} s after {kills} kills: {counts}")
            if time.monotonic() >= next_kill:
                crew.kill_and_restart(rng.randrange(workers))
                kills += 1
                next_kill = time.monotonic() + rng.uniform(1.5, 3.0)
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        codes = crew.stop()
    try:
        all_jobs = store.list_jobs(include_finished=True)
        rows = store.ledger_rows()
    finally:
        store.close()
    with urllib.request.urlopen(f"{sandbox_url}/_sandbox/posts", timeout=30) as answer:
        posts: dict[str, list[dict[str, Any]]] = json.load(answer)

    per_platform = {p: Counter(int(m) for post in posts[p] for m in TITLE.findall(post.get("text", "")))
                    for p in PLATFORMS}
    x_duplicates = sorted(n for n, c in per_platform["x"].items() if c > 1)
    reclaimed = sum(1 for j in all_jobs if j.attempts > 1)
    resent = Counter(r.platform for r in rows if r.attempts > 1)  # sent again after a kill
    reconciled = Counter(m for log in workdir.glob("worker-*.log")
                         for m in re.findall(r"event=reconciled .*?platform=(\w+)", log.read_text("utf-8", "replace")))
    print(f"\n{workers} workers, {jobs} jobs, seed {seed}: drained in {elapsed:.1f} s ({jobs / elapsed:.1f} jobs/s) "
          f"with {kills} SIGKILLs; {reclaimed} jobs claimed more than once; posts found after a kill: "
          f"{dict(reconciled) or 'none'}, sent again: {dict(resent) or 'none'}; X duplicates: {x_duplicates or 'none'}")

    assert codes == [0] * workers  # SIGTERM at the end: every worker exits cleanly
    assert Counter(j.state for j in all_jobs) == {"done": jobs}, [(j.id, j.state, j.last_error) for j in all_jobs
                                                                  if j.state != "done"][:5]
    everything = Counter(range(jobs))
    assert per_platform["mastodon"] == everything, "Mastodon: missing or duplicate posts"
    assert per_platform["bluesky"] == everything, "Bluesky: missing or duplicate posts"
    assert set(per_platform["x"]) == set(everything), "X: missing posts"
    assert Counter((r.article_key, r.platform) for r in rows if r.state == "published") == Counter(
        {(r.article_key, r.platform): 1 for r in rows})
    assert len(rows) == jobs * len(PLATFORMS)
    assert kills > 0 and reclaimed > 0  # the run did exercise recovery from killed workers


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_four_workers_on_postgresql_survive_sigkill(pg_url: str, sandbox_url: str, tmp_path: Path) -> None:
    """4 workers, 500 jobs on PostgreSQL, random SIGKILLs: every post once (X: none missing), all jobs done."""
    crash_run(pg_url, sandbox_url, tmp_path, jobs=500, workers=4, seed=20261126, budget=200)


@pytest.mark.timeout(200)
def test_two_workers_on_sqlite_survive_sigkill(sandbox_url: str, tmp_path: Path) -> None:
    """2 workers, 200 jobs on one SQLite file, random SIGKILLs: every post once (X: none missing), all done."""
    crash_run(f"sqlite:///{tmp_path / 'queue.db'}", sandbox_url, tmp_path, jobs=200, workers=2, seed=1126,
              budget=120)
