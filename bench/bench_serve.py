"""`crosspost serve` with its worker: publish-to-live latency and peak memory after many jobs.

    .venv/bin/python bench/bench_serve.py [--latency-runs 50] [--jobs 1000]

The zero-latency sandbox runs in its own process (``crosspost sandbox``), ``crosspost serve`` (webhook
+ its worker, SQLite) in another. Latency: one signed Ghost ``post.published`` at a time; the clock
runs from the webhook's 202 until the sandbox holds the article's posts on X, Bluesky and Mastodon
(polled every 2 ms). Memory: more deliveries until ``--jobs`` jobs are done, then the serve process's
peak RSS (VmHWM). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_drain import free_port, sandbox_process, worker_env  # noqa: E402

from bot.signatures import sign_ghost  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex
FIXTURE = HERE.parent / "tests" / "fixtures" / "articles" / "ghost-post-published.json"
PLATFORMS = ("x", "bluesky", "mastodon")


def body(run: str, i: int) -> bytes:
    template = json.loads(FIXTURE.read_text("utf-8"))
    current = dict(template["post"]["current"], id=f"{run}{i:08x}", title=f"Serve bench post {i}")
    current["url"] = f"https://bench.example.com/{run}/{i}/"
    return json.dumps({"event": "post.published", "post": {"current": current}}).encode()


def live(sandbox: str, marker: str) -> bool:
    """Whether every platform holds a post linking to ``marker``."""
    with urllib.request.urlopen(f"{sandbox}/_sandbox/posts", timeout=10) as answer:
        posts = json.load(answer)
    return all(any(marker in json.dumps(p) for p in posts.get(name, [])[-5:]) for name in PLATFORMS)


def posted(sandbox: str) -> int:
    with urllib.request.urlopen(f"{sandbox}/_sandbox/posts", timeout=30) as answer:
        return min(len(v) for k, v in json.load(answer).items() if k in PLATFORMS)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency-runs", type=int, default=50)
    p.add_argument("--jobs", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="crosspost-serve-bench-") as tmp, sandbox_process(Path(tmp)) as sandbox:
        port = free_port()
        env = {**worker_env(sandbox, f"sqlite:///{tmp}/serve.db"), "CROSSPOST_WEBHOOK_SECRET": SECRET}
        log = open(Path(tmp) / "serve.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env,
                                  cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
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
                    print("the server did not come up:", (Path(tmp) / "serve.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.1)
            run = uuid.uuid4().hex[:8]
            client = httpx.Client(base_url=base, timeout=30)
            latencies: list[float] = []
            for i in range(args.latency_runs + 3):  # the first 3 warm up (sessions, instance facts)
                payload = body(run, i)
                answer = client.post("/hooks/ghost", content=payload,
                                     headers={"Content-Type": "application/json", **sign_ghost(SECRET, payload)})
                accepted = time.perf_counter()
                if answer.status_code != 202:
                    print(f"webhook answered {answer.status_code}: {answer.text}", file=sys.stderr)
                    return 1
                marker = f"bench.example.com/{run}/{i}/"
                while not live(sandbox, marker):
                    if time.perf_counter() - accepted > 30:
                        print("a post never went live:", (Path(tmp) / "serve.log").read_text()[-2000:], file=sys.stderr)
                        return 1
                    time.sleep(0.002)
                if i >= 3:
                    latencies.append(time.perf_counter() - accepted)
            ms = [v * 1000 for v in latencies]
            print(f"publish-to-live, 202 -> last of 3 posts live, {len(ms)} runs: p50 {pct(ms, 0.5):.0f} ms, "
                  f"p99 {pct(ms, 0.99):.0f} ms, mean {statistics.fmean(ms):.0f} ms (goal p50 < 250 ms, p99 < 1 s)")
            for i in range(args.latency_runs + 3, args.jobs):
                payload = body(run, i)
                client.post("/hooks/ghost", content=payload,
                            headers={"Content-Type": "application/json", **sign_ghost(SECRET, payload)})
            started = time.monotonic()
            while posted(sandbox) < args.jobs and time.monotonic() - started < 600:
                time.sleep(0.5)
            print(f"serve + worker after {posted(sandbox)} jobs (3 posts each): peak RSS "
                  f"{peak_rss_mb(server.pid):.0f} MB (goal < 200 MB)")
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
