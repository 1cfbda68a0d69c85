"""Benchmark the webhook: signed Ghost deliveries per second, and their latency, on SQLite or PostgreSQL.

    python bench/bench_webhook.py [--requests 2000] [--concurrency 50] [--database sqlite|postgresql]

The server runs in a subprocess (this file with ``--serve``: uvicorn, one process, on 127.0.0.1) so
the client threads do not share its interpreter lock. Phase 1 sends N distinct articles (each must
be committed as a new job before its 202); phase 2 sends them all again (the CMS-retry path: 200
with the existing job). PostgreSQL gets a fresh database, dropped afterwards. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bot.signatures import sign_ghost

SECRET = "bench-secret-" + uuid.uuid4().hex
PG_DEFAULT = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
FIXTURE = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "articles" / "ghost-post-published.json"
)


def serve(port: int, database_url: str) -> None:
    """The server side (``--serve``): the webhook app on 127.0.0.1:port until terminated."""
    import uvicorn

    from bot.config import Settings
    from bot.store import connect
    from bot.webhook import create_app

    store = connect(database_url)
    app = create_app(Settings(), store, secret=os.environ["CROSSPOST_WEBHOOK_SECRET"], targets=["mastodon"])
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def payloads(count: int, run: str) -> list[bytes]:
    """``count`` Ghost post.published bodies for distinct articles (distinct post ids and URLs)."""
    template = json.loads(FIXTURE.read_text("utf-8"))
    bodies = []
    for i in range(count):
        current = dict(template["post"]["current"], id=f"{run}{i:08x}", title=f"Bench post {i}")
        current["url"] = f"https://bench.example.com/{run}/{i}/"
        bodies.append(json.dumps({"event": "post.published", "post": {"current": current}}).encode())
    return bodies


def fire(base: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], Counter[int]]:
    """Send every body once from ``concurrency`` threads (one keep-alive client each)."""
    local = threading.local()

    def send(body: bytes) -> tuple[int, float]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=60)
        headers = {"Content-Type": "application/json", **sign_ghost(SECRET, body)}
        start = time.perf_counter()
        try:
            status = client.post("/hooks/ghost", content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        return status, time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, bodies))
    elapsed = time.perf_counter() - started
    return elapsed, sorted(lat for _, lat in results), Counter(status for status, _ in results)


def report(label: str, elapsed: float, latencies: list[float], statuses: Counter[int]) -> None:
    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"  {label:<22} {len(latencies) / elapsed:8.1f} req/s   p50 {pct(0.50):7.1f} ms   "
        f"p90 {pct(0.90):7.1f} ms   p99 {pct(0.99):7.1f} ms   max {latencies[-1] * 1000:7.1f} ms   "
        f"mean {statistics.fmean(latencies) * 1000:6.1f} ms   statuses {dict(sorted(statuses.items()))}"
    )


def pg_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database on the server of ``admin_url``, and a function that drops it."""
    import psycopg
    from psycopg import sql

    name = f"crosspost_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin_url.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return f"{base}/{name}", drop


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--pg-url", default=PG_DEFAULT, help="an existing database on the server to use")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.port, args.database_url)
        return 0

    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    tmp = tempfile.TemporaryDirectory(prefix="crosspost-bench-")
    if args.database == "sqlite":
        database_url = f"sqlite:///{tmp.name}/bench.sqlite3"
    else:
        database_url, cleanup = pg_database(args.pg_url)
    port = free_port()
    env = {**os.environ, "CROSSPOST_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, __file__, "--serve", "--port", str(port), "--database-url", database_url]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("the server did not come up", file=sys.stderr)
                return 1
            time.sleep(0.1)
        run = uuid.uuid4().hex[:8]
        fire(base, payloads(50, "warm" + run), min(10, args.concurrency))
        bodies = payloads(args.requests, run)
        print(
            f"webhook bench: {args.requests} signed Ghost deliveries, {args.concurrency} client threads, "
            f"{args.database}, uvicorn 1 process on 127.0.0.1"
        )
        report("new articles (202)", *fire(base, bodies, args.concurrency))
        report("repeats (200)", *fire(base, bodies, args.concurrency))
        from bot.store import connect

        with connect(database_url) as store:
            counts = store.job_counts()
        print(f"  jobs in the store: {sum(counts.values())} (expected {args.requests + 50})")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        cleanup()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
