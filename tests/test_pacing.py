"""Pacing by the platforms' quota headers: each adapter's ``quota()`` reads what the sandbox announced,
the publisher keeps it in the store, and the worker reschedules jobs at the reset instead of running
into 429s or sleeping in a worker slot."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.base import PostRequest
from bot import platforms as registry
from bot.article import Article
from bot.config import Settings, load_settings
from bot.publish import Publisher, pace_key
from bot.sandbox import Sandbox
from bot.sandbox.core import Request, Response
from bot.store import connect
from bot.worker import RESET_MARGIN, Worker

BUCKET = {"x": "tweets", "bluesky": "repo-write", "mastodon": "statuses"}
CREATE = {"x": "x.tweets.create", "bluesky": "bluesky.repo.putRecord", "mastodon": "mastodon.statuses.create"}


def make_settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "3", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    return load_settings(env=env, load_dotenv=False)


@pytest.fixture
def store(sandbox: Sandbox, tmp_path: Path) -> Iterator[Any]:
    s = connect(make_settings(sandbox, tmp_path).database_url)
    yield s
    s.close()


def article(n: int) -> Article:
    return Article(title=f"Pacing article number {n}", url=f"https://news.example.com/pacing/{n}",
                   summary="A short summary of the news.", body="A short summary of the news.",
                   tags=("Pacing",), lang="en")


def window_end(sandbox: Sandbox, platform: str) -> float:
    quota = sandbox.app.quotas[(platform, BUCKET[platform])]
    return quota.window_start + quota.window


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
def test_quota_reflects_the_headers_of_the_last_post(sandbox: Sandbox, tmp_path: Path, store: Any,
                                                     platform: str) -> None:
    """After each post, quota() gives the remaining count, limit and reset the sandbox announced."""
    sandbox.app.set_quota(platform, BUCKET[platform], 5, 600)
    account = make_settings(sandbox, tmp_path).accounts_for((platform,))[0]
    adapter = registry.get(platform).adapter_class()(account, store)
    try:
        assert adapter.quota() is None
        for n, left in ((1, 4), (2, 3)):
            request = PostRequest(text=f"Quota check number {n} https://news.example.com/q/{n}",
                                  idempotency_key=f"cp-quota-{platform}-{n}")
            adapter.publish(request, adapter.prepare(request))
            quota = adapter.quota()
            assert quota is not None
            assert (quota.remaining, quota.limit) == (left, 5)
            assert quota.reset_at is not None and quota.reset_at.tzinfo is not None
            reset = quota.reset_at.timestamp()
            end = window_end(sandbox, platform)
            if platform == "x":  # x-rate-limit-reset: whole epoch seconds, rounded up
                assert reset == math.ceil(end)
            elif platform == "bluesky":  # ratelimit-reset: whole epoch seconds
                assert reset == int(end)
            else:  # ISO 8601 with microseconds, shifted by Mastodon.py for the server's Date (whole s)
                assert end - 0.001 <= reset <= end + 1.5
    finally:
        adapter.close()


def test_x_quota_is_the_tighter_of_window_and_daily_cap(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """With a 24-hour cap nearer exhaustion than the 15-minute window, quota() reports the cap."""
    sandbox.app.set_quota("x", "tweets", 100, 900)
    sandbox.app.set_quota("x", "tweets.daily", 3, 86_400)
    account = make_settings(sandbox, tmp_path).accounts_for(("x",))[0]
    adapter = registry.get("x").adapter_class()(account, store)
    try:
        request = PostRequest(text="Daily cap check https://news.example.com/daily", idempotency_key="cp-daily")
        adapter.publish(request, adapter.prepare(request))
        quota = adapter.quota()
    finally:
        adapter.close()
    assert quota is not None and (quota.remaining, quota.limit) == (2, 3)
    assert quota.reset_at is not None and quota.reset_at.timestamp() > time.time() + 80_000


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
def test_publisher_stores_the_quota_for_pacing(sandbox: Sandbox, tmp_path: Path, store: Any,
                                               platform: str) -> None:
    """The publisher keeps each post's quota under pace:<platform>:<account> for the workers."""
    sandbox.app.set_quota(platform, BUCKET[platform], 7, 600)
    settings = make_settings(sandbox, tmp_path)
    results = Publisher(settings, store, backoff=0.01).publish(article(1), settings.accounts_for((platform,)))
    assert results[0].status == "published", results[0].error
    kept = store.kv_get(pace_key(platform, "default"))
    assert kept["remaining"] == 6
    assert datetime.fromisoformat(kept["reset_at"]).timestamp() == pytest.approx(window_end(sandbox, platform),
                                                                                abs=1.5)


@dataclass
class StatusLog:
    """Every answer to a post request: when, its status, and the sandbox quota window it fell in."""

    entries: list[tuple[float, int, float]]

    def of(self, status: int) -> list[tuple[float, int, float]]:
        return [e for e in self.entries if e[1] == status]


def record_answers(sandbox: Sandbox, platform: str) -> StatusLog:
    log = StatusLog([])
    original = sandbox.app.dispatch

    def dispatch(request: Request) -> Response:
        response = original(request)
        if request.endpoint == CREATE[platform]:
            quota = sandbox.app.quotas.get((platform, BUCKET[platform]))
            log.entries.append((time.time(), response.status, quota.window_start if quota else 0.0))
        return response

    sandbox.app.dispatch = dispatch  # type: ignore[method-assign]
    return log


def test_100_posts_drain_at_30_per_window_without_running_into_the_limit(
        sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """100 queued Mastodon posts, 30 allowed per 4 s window: at most one 429 per window, each posted once."""
    window = 4.0
    sandbox.app.set_quota("mastodon", "statuses", 30, window)
    answers = record_answers(sandbox, "mastodon")
    settings = make_settings(sandbox, tmp_path)
    now = datetime.now(UTC)
    for n in range(100):
        a = article(n)
        store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon"], run_at=now)
    worker = Worker(settings, store, concurrency=3, poll_interval=0.05, lease_seconds=30)
    thread = threading.Thread(target=worker.run, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        while store.job_counts()["done"] < 100 and time.monotonic() - started < 90:
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    windows = Counter(w for _, status, w in answers.entries if status != 429)
    print(f"\n100 posts at 30 per {window:g} s window: {elapsed:.1f} s "
          f"(= {elapsed / window:.2f} windows; ceil(100/30) = 4); posts per window: {sorted(windows.values())}; "
          f"429s: {len(answers.of(429))}")
    assert store.job_counts() == {"queued": 0, "running": 0, "done": 100, "failed": 0, "cancelled": 0}
    posts = sandbox.app.posts("mastodon")
    assert len(posts) == 100
    assert Counter(p["idempotency_key"] for p in posts).most_common(1)[0][1] == 1
    numbers = Counter(int(m) for p in posts for m in re.findall(r"news\.example\.com/pacing/(\d+)", p["text"]))
    assert numbers == Counter(range(100))
    per_window = Counter(w for _, _, w in answers.of(429))
    assert all(count <= 1 for count in per_window.values()), per_window
    assert max(windows.values()) <= 30


def test_rate_limited_target_is_rescheduled_at_the_reset_not_waited_for(
        sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """A 429 with a reset 20 s away: the job goes back to the queue due at the reset, the slot is free."""
    sandbox.app.inject("mastodon.statuses.create", "rate_limit", reset_in=20, count=1)
    settings = make_settings(sandbox, tmp_path)
    a = article(1)
    job, _ = store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon", "x"],
                           run_at=datetime.now(UTC))
    worker = Worker(settings, store, poll_interval=0.05, lease_seconds=30)
    assert worker.run(once=True) == 1  # returns: the job is not due again for 20 s
    after = store.get_job(job.id)
    assert after.state == "queued"
    assert after.targets == ["mastodon:default"]  # X is done; only Mastodon is left
    reset = datetime.now(UTC) + timedelta(seconds=20)
    assert abs((after.run_at - reset).total_seconds()) <= 2
    assert "rate limited" in (after.last_error or "")
    assert len(sandbox.app.received("mastodon.statuses.create")) == 1  # no retry was sent meanwhile
    assert len(sandbox.app.posts("x")) == 1 and sandbox.app.posts("mastodon") == []
    kept = store.kv_get(pace_key("mastodon", "default"))
    assert kept["remaining"] == 0


def test_short_rate_limit_is_not_slept_on_in_a_worker(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """Even a reset 3 s away (the CLI would wait) is a reschedule in a worker; the job then finishes."""
    sandbox.app.inject("mastodon.statuses.create", "rate_limit", reset_in=3, count=1)
    settings = make_settings(sandbox, tmp_path)
    a = article(2)
    job, _ = store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon"], run_at=datetime.now(UTC))
    worker = Worker(settings, store, poll_interval=0.05, lease_seconds=30)
    assert worker.run_job(store.claim(worker.name, lease_seconds=30)) == "queued"
    assert store.get_job(job.id).state == "queued"
    later = Worker(settings, store, poll_interval=0.05, lease_seconds=30,
                   now=lambda: datetime.now(UTC) + timedelta(seconds=5))
    assert later.run(once=True) == 1
    assert store.get_job(job.id).state == "done"
    assert len(sandbox.app.posts("mastodon")) == 1


def test_paced_account_is_not_called_until_the_reset(sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """A stored quota with nothing left: the job is rescheduled at its reset and no request is sent."""
    reset = datetime.now(UTC) + timedelta(seconds=30)
    store.kv_set(pace_key("mastodon", "default"), {"remaining": 0, "reset_at": reset.isoformat()}, ttl_seconds=60)
    settings = make_settings(sandbox, tmp_path)
    a = article(3)
    job, _ = store.enqueue(article=a.to_dict(), article_key=a.key, targets=["mastodon", "bluesky"],
                           run_at=datetime.now(UTC))
    assert Worker(settings, store, poll_interval=0.05).run(once=True) == 1
    after = store.get_job(job.id)
    assert (after.state, after.targets) == ("queued", ["mastodon:default"])
    assert after.run_at == reset + RESET_MARGIN  # whole-second resets: come back just after, not a hair early
    assert sandbox.app.received("mastodon.statuses.create") == []
    assert len(sandbox.app.posts("bluesky")) == 1



def test_delete_run_is_paced_by_the_delete_bucket_and_leaves_posting_pace_alone(
        sandbox: Sandbox, tmp_path: Path, store: Any) -> None:
    """X limits DELETE /2/tweets/:id apart from posting. Six published articles, then six delete jobs with 2
    deletes allowed per 2 s window: at most one 429 per window (no hammering: the spent bucket is waited
    out from its headers), every post deleted once, after the resets; posting's pace numbers untouched."""
    from bot.lifecycle import Lifecycle

    settings = make_settings(sandbox, tmp_path)
    publisher = Publisher(settings, store)
    articles = [article(n) for n in range(6)]
    for a in articles:
        publisher.publish(a, settings.accounts_for(("x",)))
    posting = store.kv_get(pace_key("x", "default"))
    assert posting is not None and posting["remaining"] > 0
    sandbox.app.set_quota("x", "tweets.delete", 2, 2.0)
    answers: list[tuple[int, float]] = []
    original = sandbox.app.dispatch

    def dispatch(request: Request) -> Response:
        response = original(request)
        if request.endpoint == "x.tweets.delete":
            answers.append((response.status, sandbox.app.quotas[("x", "tweets.delete")].window_start))
        return response

    sandbox.app.dispatch = dispatch  # type: ignore[method-assign]
    now = datetime.now(UTC)
    for a in articles:
        store.enqueue(article={"key": a.key}, article_key=a.key, targets=["x:default"], run_at=now,
                      dedupe_key=f"delete:{a.key}", kind="delete")
    worker = Worker(settings, store, concurrency=2, poll_interval=0.05, lease_seconds=30)
    thread = threading.Thread(target=worker.run, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        while store.job_counts()["done"] < 6 and time.monotonic() - started < 60:
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    statuses = Counter(status for status, _ in answers)
    print(f"\n6 deletes at 2 per 2 s window: {time.monotonic() - started:.1f} s; answers: {dict(statuses)}")
    assert store.job_counts()["done"] == 6 and sandbox.app.posts("x") == []
    assert {r.state for r in store.ledger_rows()} == {"deleted"}
    assert statuses[200] == 6  # each post deleted once
    per_window = Counter(w for status, w in answers if status == 429)
    assert all(count <= 1 for count in per_window.values()), per_window
    assert len({w for status, w in answers if status == 200}) >= 3  # finished after two resets
    assert store.kv_get(pace_key("x", "default")) == posting  # posting's numbers are not deletes'
    deleting = store.kv_get(pace_key("x", "default", "delete"))
    assert deleting is not None and deleting["remaining"] <= 1
    assert pace_key("x", "default", "delete") != pace_key("x", "default")
    assert pace_key("bluesky", "default", "delete") == pace_key("bluesky", "default")  # one budget there
    assert Lifecycle(publisher).delete(articles[0].key)[0].status == "already_deleted"
