"""Several worker processes on one account share its quota through the store: no 429 from overrunning it.

Each worker process only knows what the platform's headers said is left; the shares of it that posts
under way hold live in the store (``Store.reserve_quota``), so two processes cannot both take the last
one. Without that, each process paces only its own posts and the two together run into the limit.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox import Sandbox
from bot.store import connect
from tests.conftest import ROOT
from tests.test_pacing import article, record_answers
from tests.test_store import db_url, pg_url  # noqa: F401  (fixtures)
from tests.test_worker import cli_env

JOBS = 24
LIMIT, WINDOW = 6, 3.0  # per window; two processes x two threads = 4 posts at most under way at once
DEADLINE = 120.0


def test_two_worker_processes_share_one_accounts_quota_without_a_429(
        sandbox: Sandbox, tmp_path: Path, db_url: str) -> None:  # noqa: F811
    """24 Mastodon posts, 6 allowed per 3 s window, two `crosspost worker` processes: every post goes out
    once and the platform never answers 429."""
    sandbox.app.set_quota("mastodon", "statuses", LIMIT, WINDOW)
    answers = record_answers(sandbox, "mastodon")
    store = connect(db_url)
    procs: list[subprocess.Popen[str]] = []
    try:
        now = datetime.now(UTC)
        for n in range(JOBS):
            a = article(n)
            store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon"], run_at=now)
        env = {**cli_env(sandbox, tmp_path), "DATABASE_URL": db_url}
        for i in range(2):
            log = (tmp_path / f"worker{i}.log").open("w")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--poll", "0.1", "--concurrency", "2"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True))
        started = time.monotonic()
        while store.job_counts()["done"] < JOBS and time.monotonic() - started < DEADLINE:
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    counts = store.job_counts()
    store.close()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    assert counts["done"] == JOBS, (counts, logs[-3000:])
    for i in range(2):
        assert "job_done" in (tmp_path / f"worker{i}.log").read_text(), f"worker {i} ran no job"
    assert answers.of(429) == [], f"{len(answers.of(429))} answers were 429"
    posts = sandbox.app.posts("mastodon")
    numbers = Counter(int(m) for p in posts for m in re.findall(r"news\.example\.com/pacing/(\d+)", p["text"]))
    assert numbers == Counter(range(JOBS))
    per_window = Counter(w for _, status, w in answers.entries if status != 429)
    assert max(per_window.values()) <= LIMIT

