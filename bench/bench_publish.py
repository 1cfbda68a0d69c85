"""Benchmark publishing: does the fan-out run the three platforms in parallel, and what does the ledger cost?

    python bench/bench_publish.py [--runs 10] [--latency 0.2] [--parts 200] [--backends sqlite,postgresql]

1. Fan-out. The in-process sandbox answers every call of every platform after ``--latency`` seconds. Each
   run publishes one new article to X, Bluesky and Mastodon together (the wall time), and three other new
   articles to one platform each (the single-platform times). If the fan-out is concurrent the wall time is
   close to the slowest single platform (wall/max near 1) and far below their sum (wall/sum near 1/3).
   A warm-up post per platform first fills what the adapters cache (Bluesky session, Mastodon instance
   limits, X user id), as a long-running worker has it. Medians over ``--runs`` runs are printed.
2. Ledger overhead. The three store calls the publisher makes around every post part
   (``ledger_part`` before, ``ledger_begin`` just before the platform call, ``ledger_publish`` after),
   timed per part, on a SQLite file and on a fresh PostgreSQL schema (dropped afterwards); PostgreSQL
   defaults to ``postgresql://postgres@127.0.0.1:5432/test`` (``--pg`` or ``CROSSPOST_TEST_PG``) and is
   skipped when unreachable. Median and p95 in milliseconds.

Prints figures only; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.article import Article
from bot.config import load_settings
from bot.publish import PUBLISHED, Publisher
from bot.sandbox import Sandbox
from bot.store import connect

PLATFORMS = ("x", "bluesky", "mastodon")
PG_DEFAULT = os.environ.get("CROSSPOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def bench_article(n: int) -> Article:
    """A new article each time: nothing is ``already published``."""
    return Article(
        title=f"Benchmark article {n} ({uuid.uuid4().hex[:8]})",
        url=f"https://bench.example.com/2026/{n}/{uuid.uuid4().hex[:8]}",
        summary="Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        body="Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        tags=("Microsoft", "OpenAI"),
        lang="en",
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- 1. fan-out ----------------------------------------------------------------------------------------


def bench_fanout(runs: int, latency: float) -> None:
    """Wall time of a three-platform publish against the sum and the max of single-platform publishes."""
    with tempfile.TemporaryDirectory() as tmp, Sandbox(seed=1) as sandbox:
        env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "30", "DATABASE_URL": f"sqlite:///{tmp}/ledger.db"}
        settings = load_settings(env=env, load_dotenv=False)
        store = TimedStore(connect(settings.database_url))
        try:
            publisher = Publisher(settings, store)
            counter = iter(range(1_000_000))

            def publish(platforms: tuple[str, ...]) -> float:
                article = bench_article(next(counter))
                started = time.perf_counter()
                results = publisher.publish(article, settings.accounts_for(platforms))
                elapsed = time.perf_counter() - started
                bad = [(r.platform, r.status, r.error) for r in results if r.status != PUBLISHED]
                if bad:
                    raise SystemExit(f"publishing failed: {bad}")
                return elapsed

            for platform in PLATFORMS:  # warm-up: sessions, instance limits, user ids, imports
                publish((platform,))
            publish(PLATFORMS)
            store.calls.clear()
            warm = {p: len(sandbox.app.received(f"{p}.*")) for p in PLATFORMS}
            sandbox.app.latency = {p: latency for p in PLATFORMS}
            walls: list[float] = []
            singles: dict[str, list[float]] = {p: [] for p in PLATFORMS}
            by_sum: list[float] = []
            by_max: list[float] = []
            for _ in range(runs):
                one = {p: publish((p,)) for p in PLATFORMS}
                wall = publish(PLATFORMS)
                walls.append(wall)
                for p in PLATFORMS:
                    singles[p].append(one[p])
                by_sum.append(wall / sum(one.values()))
                by_max.append(wall / max(one.values()))
            calls = {p: (len(sandbox.app.received(f"{p}.*")) - warm[p]) / (2 * runs) for p in PLATFORMS}
            posts = 6 * runs  # each run: three single-platform posts and one post on each of the three
            store_calls = {name: (len(v) / posts, sum(v) / posts) for name, v in sorted(store.calls.items())}
        finally:
            store.close()
    print(f"fan-out: {latency * 1000:.0f} ms sandbox latency on every call, median of {runs} runs "
          "(a new article each time)")
    for p in PLATFORMS:
        print(f"  {p:<9} alone       {median(singles[p]) * 1000:7.0f} ms   ({calls[p]:.1f} HTTP calls per post)")
    print(f"  sum of the three    {median([sum(t) for t in zip(*singles.values(), strict=True)]) * 1000:7.0f} ms")
    print(f"  all three at once   {median(walls) * 1000:7.0f} ms")
    print(f"  wall/sum = {median(by_sum):.2f}   (1/3 = fully parallel, 1 = one after the other)")
    print(f"  wall/max = {median(by_max):.2f}   (1 = as fast as the slowest platform alone)")
    total = sum(seconds for _, seconds in store_calls.values())
    print(f"  store calls per post (SQLite file), {total * 1000:.2f} ms in all: " + ", ".join(
        f"{name} x{count:.3g} {seconds * 1000:.2f} ms" for name, (count, seconds) in store_calls.items()))


class TimedStore:
    """The store, with the time of every call to it kept per method name (the publisher uses it as is)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: dict[str, list[float]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr) or name.startswith("_") or name == "close":
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.calls.setdefault(name, []).append(time.perf_counter() - started)

        return timed

    def close(self) -> None:
        self._store.close()


# --- 2. ledger overhead ----------------------------------------------------------------------------------


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/ledger.db"


@contextmanager
def postgres_url(base: str) -> Iterator[str]:
    """A fresh schema on the server at ``base`` (via search_path), dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def bench_ledger(url: str, parts: int) -> dict[str, list[float]]:
    """Seconds spent in each ledger call per post part, as the publisher makes them (one thread)."""
    store = connect(url)
    timings: dict[str, list[float]] = {"ledger_part": [], "ledger_begin": [], "ledger_publish": [], "total": []}
    prepared: dict[str, Any] = {"post": {"text": "x" * 280, "facets": [], "tags": [], "card": None,
                                         "image": None, "lang": "en"}, "adapter": {"rkey": "3kabc"}}
    try:
        for n in range(parts + 20):  # the first 20 warm the connection pool and caches; not counted
            key = uuid.uuid4().hex[:24]
            t0 = time.perf_counter()
            row = store.ledger_part(key, "mastodon", "default", 0, 1, idempotency_key=f"cp-{key}", text="x" * 280)
            t1 = time.perf_counter()
            store.ledger_begin(row.id, prepared=prepared)
            t2 = time.perf_counter()
            store.ledger_publish(row.id, post_id=str(n), post_url=f"https://example.com/{n}",
                                 ref={"platform": "mastodon", "id": str(n), "url": f"https://example.com/{n}"})
            t3 = time.perf_counter()
            if n >= 20:
                for name, value in (("ledger_part", t1 - t0), ("ledger_begin", t2 - t1),
                                    ("ledger_publish", t3 - t2), ("total", t3 - t0)):
                    timings[name].append(value)
    finally:
        store.close()
    return timings


def report_ledger(backends: list[str], parts: int, pg: str) -> None:
    print(f"\nledger overhead per post part ({parts} parts, one thread), ms: median / p95")
    sources: dict[str, Callable[[], Any]] = {"sqlite": sqlite_url, "postgresql": lambda: postgres_url(pg)}
    for backend in backends:
        try:
            with sources[backend]() as url:
                timings = bench_ledger(url, parts)
        except Exception as exc:  # PostgreSQL not reachable: say so, keep going
            print(f"  {backend:<10} skipped: {' '.join(str(exc).split())[:160]}")
            continue
        cells = "  ".join(f"{name} {median(v) * 1000:.2f} / {p95(v) * 1000:.2f}" for name, v in timings.items())
        print(f"  {backend:<10} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="fan-out runs (a median is printed)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds of sandbox latency per call")
    parser.add_argument("--parts", type=int, default=200, help="post parts timed per ledger backend")
    parser.add_argument("--backends", default="sqlite,postgresql", help="ledger backends to time")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server URL (a schema is made and dropped)")
    args = parser.parse_args(argv)
    bench_fanout(args.runs, args.latency)
    report_ledger([b.strip() for b in args.backends.split(",") if b.strip()], args.parts, args.pg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
