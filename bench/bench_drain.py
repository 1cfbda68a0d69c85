"""Queue drain rate: jobs/s with 1, 2 and 4 ``crosspost worker`` processes against the zero-latency sandbox,
on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_drain.py [--jobs 300] [--workers 1,2,4] [--platforms x,bluesky,mastodon]
                                          [--backends sqlite,postgresql] [--pg postgresql://postgres@127.0.0.1:5432/test]

The sandbox runs in its own process (``crosspost sandbox``); each run gets a fresh SQLite file or a fresh
PostgreSQL schema (dropped afterwards). The clock starts when the workers are launched (so it includes
their start-up, about a second each) and stops when every job is done. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.article import Article  # noqa: E402
from bot.sandbox import credentials  # noqa: E402
from bot.store import connect  # noqa: E402

PG_DEFAULT = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def sandbox_process(workdir: Path) -> Iterator[str]:
    """``crosspost sandbox`` on a free port; yields its URL once it answers."""
    port = free_port()
    log = open(workdir / "sandbox.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--seed", "1"],
                            cwd=workdir, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the sandbox did not start: {(workdir / 'sandbox.log').read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL"))}


def worker_env(sandbox_url: str, database_url: str) -> dict[str, str]:
    return {**clean_env(), **credentials(), "X_API_BASE_URL": sandbox_url, "BLUESKY_SERVICE_URL": sandbox_url,
            "MASTODON_API_BASE_URL": sandbox_url, "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1",
            "CROSSPOST_TIMEOUT": "10", "CROSSPOST_LOG_LEVEL": "WARNING", "DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT)}


@contextlib.contextmanager
def database(backend: str, workdir: Path, pg_url: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file in ``workdir``, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'drain-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in pg_url else "?"
            yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def fill(database_url: str, jobs: int, platforms: list[str], tag: str) -> None:
    store = connect(database_url)
    now = datetime.now(UTC)
    try:
        for n in range(jobs):
            a = Article(title=f"Drain {tag} article {n}", url=f"https://news.example.com/drain/{tag}/{n}",
                        summary="A short summary for the drain benchmark.", body="Body.", tags=("Bench",),
                        lang="en")
            store.enqueue(article=a.to_dict(), article_key=a.key, targets=platforms, run_at=now)
    finally:
        store.close()


def drain(sandbox_url: str, database_url: str, workers: int, jobs: int, workdir: Path) -> tuple[float, dict[str, int]]:
    """Seconds from launching ``workers`` processes until all ``jobs`` are finished, and the final counts."""
    env = worker_env(sandbox_url, database_url)
    store = connect(database_url)
    procs = []
    started = time.perf_counter()
    try:
        for i in range(workers):
            log = open(workdir / f"worker-{i}.log", "a", encoding="utf-8")  # noqa: SIM115 - closed below
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--poll", "0.05", "--lease", "30"],
                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        deadline = time.monotonic() + 600
        while True:
            counts = store.job_counts()
            if counts["queued"] == 0 and counts["running"] == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not drained after 600 s: {counts}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        store.close()
    return elapsed, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--platforms", default="x,bluesky,mastodon")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server/database for the postgresql runs")
    args = parser.parse_args()
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    counts_of_workers = [int(w) for w in args.workers.split(",")]
    print(f"drain {args.jobs} jobs (targets {','.join(platforms)}; {len(platforms)} posts each) "
          f"with N `crosspost worker` processes; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="crosspost-drain-") as tmp:
        workdir = Path(tmp)
        with sandbox_process(workdir) as url:
            for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
                for workers in counts_of_workers:
                    tag = f"{backend}-{workers}-{uuid.uuid4().hex[:6]}"
                    try:
                        with database(backend, workdir, args.pg) as db:
                            fill(db, args.jobs, platforms, tag)
                            elapsed, counts = drain(url, db, workers, args.jobs, workdir)
                    except Exception as exc:  # e.g. PostgreSQL not reachable: report and go on
                        print(f"  {backend:<10} workers={workers}: skipped ({' '.join(str(exc).split())[:160]})")
                        continue
                    posts = json.load(urllib.request.urlopen(f"{url}/_sandbox/posts", timeout=30))
                    made = {p: sum(tag in json.dumps(x) for x in posts.get(p, [])) for p in platforms}
                    print(f"  {backend:<10} workers={workers}: {args.jobs / elapsed:7.1f} jobs/s "
                          f"({elapsed:5.1f} s; done={counts['done']} failed={counts['failed']}; posts {made})",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
