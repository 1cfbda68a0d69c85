"""Cold start of `crosspost ARTICLE --dry-run` and composition throughput (articles/s, all three platforms).

    .venv/bin/python bench/bench_compose.py [--runs 15] [--articles 300]

Prints figures; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
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


def cold_start(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", str(EXAMPLE), "--dry-run"], check=True,
                       capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return times


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


def throughput(batch: list[Article], thread: bool) -> float:
    targets = [(p, "default", ComposeOptions(thread=thread)) for p in ("x", "bluesky", "mastodon")]
    compose(batch[0], targets)  # warm up: compile patterns and templates once
    started = time.perf_counter()
    for article in batch:
        compose(article, targets)
    return len(batch) / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--articles", type=int, default=300)
    args = p.parse_args()
    times = sorted(cold_start(args.runs))
    print(f"cold start `crosspost examples/launch-post.md --dry-run` ({args.runs} runs): "
          f"median {statistics.median(times) * 1000:.0f} ms, min {times[0] * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms")
    batch = articles(args.articles)
    print(f"composition, 3 platforms, single posts: {throughput(batch, False):.0f} articles/s")
    print(f"composition, 3 platforms, threads:      {throughput(batch, True):.0f} articles/s")


if __name__ == "__main__":
    main()
