"""Webhook ingest against its floor, with wrk: signed Ghost deliveries of distinct articles, 32 connections.

    .venv/bin/python bench/bench_ingest.py [--seconds 5] [--connections 32] [--backends sqlite,postgresql]

In one run, each server in its own process (uvicorn, 1 worker, 127.0.0.1), each fed by wrk
(``bench/wrk_signed.lua``) with freshly signed deliveries of articles it has not seen:

1. the floor (``bench/floor_app.py``): HMAC + JSON + one durable SQLite insert;
2. ``crosspost serve --no-worker`` on SQLite (a fresh file): the real server, its guarded HTTP protocol,
   its INFO log (to a file) and the webhook app, posting to a Mastodon account that is never called;
3. the same on PostgreSQL (a fresh database, dropped afterwards; skipped when unreachable).

Prints req/s, p50/p99 latency, the 202s counted in the store, and each figure's ratio to the floor.
Goal: >= 50 % of the floor's req/s and p99 < 30 ms on both stores. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.signatures import sign_ghost  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex
FIXTURE = HERE.parent / "tests" / "fixtures" / "articles" / "ghost-post-published.json"
PG_DEFAULT = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
WRK_THREADS = 2
MAX_RATE = 3500  # requests/s the file must cover without repeats


def write_requests(path: Path, count: int) -> None:
    template = json.loads(FIXTURE.read_text("utf-8"))
    run = uuid.uuid4().hex[:8]
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            current = dict(template["post"]["current"], id=f"{run}{i:08x}", title=f"Ingest bench post {i}")
            current["url"] = f"https://bench.example.com/{run}/{i}/"
            body = json.dumps({"event": "post.published", "post": {"current": current}}).encode()
            out.write(sign_ghost(SECRET, body)["X-Ghost-Signature"] + "\t" + body.decode() + "\n")


def start(command: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **env, "CROSSPOST_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(HERE.parent)}
    with log.open("ab") as out:  # its log lines (INFO, one per delivery) go to a file, as under a service manager
        proc = subprocess.Popen(command, env=env, cwd=HERE.parent, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"server did not come up: {command}")
        time.sleep(0.1)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port: int, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    requests = workdir / f"requests-{port}.txt"
    write_requests(requests, MAX_RATE * seconds)
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(HERE / "wrk_signed.lua"), f"http://127.0.0.1:{port}", "--", str(requests), str(WRK_THREADS)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests.unlink()
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        figures[f"p{pct}"] = _ms(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    figures["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non2xx"] = float(bad.group(1)) if bad else 0.0
    return figures


def warm(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        template = json.loads(FIXTURE.read_text("utf-8"))
        for i in range(30):
            current = dict(template["post"]["current"], id=f"warm{uuid.uuid4().hex}", title=f"Warm {i}")
            current["url"] = f"https://warm.example.com/{uuid.uuid4().hex}/"
            body = json.dumps({"event": "post.published", "post": {"current": current}}).encode()
            client.post("/hooks/ghost", content=body, headers={"Content-Type": "application/json",
                                                                **sign_ghost(SECRET, body)})


def measure(command: list[str], port: int, args: argparse.Namespace, workdir: Path,
            created: Callable[[], int], env: dict[str, str] | None = None) -> dict[str, float]:
    proc = start(command, port, env or {}, workdir / f"server-{port}.log")
    try:
        warm(port)
        before = created()
        figures = wrk(port, args.seconds, args.connections, workdir)
        figures["created"] = created() - before
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return figures


def pg_database(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    try:
        import psycopg
        from psycopg import sql

        name = f"crosspost_ingest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except Exception as exc:
        print(f"  postgresql: skipped ({' '.join(str(exc).split())[:120]})")
        return None
    base, _, _ = admin_url.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return f"{base}/{name}", drop


def store_count(url: str) -> Callable[[], int]:
    def count() -> int:
        from bot.store import connect

        with connect(url) as store:
            return sum(store.job_counts().values())

    return count


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=PG_DEFAULT)
    args = p.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (Debian/Ubuntu: apt-get install wrk); it is the load generator here",
              file=sys.stderr)
        return 1
    from bench_drain import free_port

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="crosspost-ingest-") as tmp:
        workdir = Path(tmp)
        floor_db = workdir / "floor.db"

        def floor_count() -> int:
            import sqlite3

            with sqlite3.connect(floor_db) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM hooks").fetchone()[0])

        port = free_port()
        results["floor (Starlette + HMAC + JSON + 1 SQLite insert)"] = measure(
            [sys.executable, str(HERE / "floor_app.py"), str(port), str(floor_db)], port, args, workdir,
            floor_count)
        for backend in backends:
            cleanup: Callable[[], None] = lambda: None  # noqa: E731
            if backend == "sqlite":
                url = f"sqlite:///{workdir}/crosspost.db"
            else:
                made = pg_database(args.pg_url)
                if made is None:
                    continue
                url, cleanup = made
            port = free_port()
            command = [str(Path(sys.executable).with_name("crosspost")), "serve", "--no-worker",
                       "--port", str(port), "--platform", "mastodon"]
            env = {"DATABASE_URL": url, "MASTODON_ACCESS_TOKEN": "bench", "MASTODON_API_BASE_URL": "http://127.0.0.1:9"}
            try:
                results[f"crosspost serve, {backend}"] = measure(command, port, args, workdir, store_count(url), env)
            finally:
                cleanup()
    floor = next(iter(results.values()))
    print(f"webhook ingest: wrk -t{WRK_THREADS} -c{args.connections} -d{args.seconds}s, signed Ghost deliveries "
          "of distinct articles (bench/wrk_signed.lua)")
    for label, f in results.items():
        print(f"  {label:<52} {f['rps']:7.0f} req/s ({f['rps'] / floor['rps']:4.0%} of floor)  "
              f"p50 {f['p50']:6.1f} ms  p99 {f['p99']:6.1f} ms  202s {f['created']:.0f}/{f['requests']:.0f}"
              f"{'  non-2xx ' + str(int(f['non2xx'])) if f['non2xx'] else ''}")
    print("  goal: >= 50 % of the floor's req/s and p99 < 30 ms, on SQLite and PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
