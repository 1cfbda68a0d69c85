"""Cold start of `crosspost ARTICLE --dry-run` and composition throughput (articles/s, all three platforms).

    .venv/bin/python bench/bench_compose.py [--runs 15] [--articles 300]

The cold start is timed in pairs with `crosspost --help` (the yardstick: the interpreter and the CLI's
own imports), alternating, after compiling bot/ and adapters/ to bytecode as an installed package has
them. Composition is timed by wall clock and by CPU time (the latter is steadier on a shared machine).
Prints figures; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.article import Article  # noqa: E402
from bot.compose import ComposeOptions, compose  # noqa: E402

EXAMPLE = ROOT / "examples" / "launch-post.md"
SAMPLE = ROOT.parent / "shared" / "samples" / "microsoft-openai.txt"


def _crosspost() -> list[str]:
    script = Path(sys.executable).parent / "crosspost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def cold_start(runs: int) -> tuple[list[float], list[float]]:
    """(dry-run times, --help times), measured alternately so that both see the same machine load."""
    for package in ("bot", "adapters"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    dry, yardstick = [], []
    for _ in range(runs):
        for command, into in (([str(EXAMPLE), "--dry-run"], dry), (["--help"], yardstick)):
            started = time.perf_counter()
            subprocess.run([*_crosspost(), *command], check=True, capture_output=True, cwd=ROOT)
            into.append(time.perf_counter() - started)
    return dry, yardstick


def articles(n: int) -> list[Article]:
    base = SAMPLE.read_text(encoding="utf-8") if SAMPLE.exists() else EXAMPLE.read_text(encoding="utf-8")
    words = base.split()
    out = []
    for i in range(n):
        start = (i * 37) % max(1, len(words) - 120)
        summary = " ".join(words[start:start + 40 + i % 60]) + "."
        body = "\n\n".join(" ".join(words[start + k * 30:start + k * 30 + 30]) + "." for k in range(4))
        tags = tuple(["Microsoft", "OpenAI", "AI For Good", "node.js", "Ελληνικά", "日本"][: i % 7])
        title = " ".join(words[start + 3:start + 3 + 5 + i % 25]) + (" 👩‍👩‍👧‍👦" if i % 5 == 0 else "")
        out.append(Article(title=title, url=f"https://news.example.com/2026/{i}/" + "x" * (i % 120),
                            summary=summary, body=body, tags=tags, lang="en"))
    return out


def throughput(batch: list[Article], thread: bool) -> tuple[float, float]:
    """(articles/s by wall clock, articles/s by this process's CPU time)."""
    targets = [(p, "default", ComposeOptions(thread=thread)) for p in ("x", "bluesky", "mastodon")]
    compose(batch[0], targets)  # warm up: compile patterns and templates once
    started, cpu = time.perf_counter(), time.process_time()
    for article in batch:
        compose(article, targets)
    return len(batch) / (time.perf_counter() - started), len(batch) / (time.process_time() - cpu)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--articles", type=int, default=300)
    args = p.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    dry, yardstick = (sorted(t) for t in cold_start(args.runs))
    print(f"cold start `crosspost examples/launch-post.md --dry-run` ({args.runs} paired runs): "
          f"median {statistics.median(dry) * 1000:.0f} ms (min {dry[0] * 1000:.0f}, max {dry[-1] * 1000:.0f}); "
          f"yardstick `crosspost --help` median {statistics.median(yardstick) * 1000:.0f} ms "
          f"(min {yardstick[0] * 1000:.0f}); goal < 150 ms")
    batch = articles(args.articles)
    for label, thread in (("single posts", False), ("threads", True)):
        wall, cpu = throughput(batch, thread)
        goal = "; goal >= 1,000 articles/s" if not thread else ""
        print(f"composition, 3 platforms, {label + ':':<13} {wall:5.0f} articles/s by wall clock, "
              f"{cpu:5.0f} by CPU time ({len(batch)} articles){goal}")


if __name__ == "__main__":
    main()
