"""Chaos runs of the publishing path: exactly once under injected faults and under SIGKILL.

- The fault runs publish 200 articles to X, Bluesky and Mastodon (in-process sandbox, six threads) while
  30% of the write calls (and of the reads reconcile uses) fail with every fault kind the sandbox has,
  once with attempts enough for one run and once with one attempt per run and re-runs (the resume path);
  30 threads go through the same faults. Then every post exists exactly once per platform (threads in
  order) and the ledger's published post ids are exactly the sandbox's live posts.
- The crash run serves the sandbox from its own process (``crosspost sandbox``) and SIGKILLs a process
  publishing 50 articles at seeded random moments, restarting it until it exits 0; then nothing is lost,
  nothing is doubled, no ledger row is left ``sending`` or ``unknown``, and a last run sends nothing.

Seeds are fixed; ``CHAOS_SEED`` / ``CRASH_SEED`` in the environment try others.
"""

from __future__ import annotations

import fnmatch
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot import platforms
from bot.article import Article
from bot.config import Settings, load_settings
from bot.publish import ALREADY, PUBLISHED, Publisher, TargetResult
from bot.sandbox import Sandbox
from bot.sandbox.core import FAULT_KINDS
from bot.store import connect
from tests.conftest import ROOT, sandbox_env_for

# The chaos runs are written for these three platforms' write and reconcile endpoints; the fault handling of
# Threads and LinkedIn (429, 5xx, a reply lost after commit) is tested in tests/test_threads.py and
# tests/test_linkedin.py. Their credentials are left out here, so they are no target.
PLATFORMS = ("x", "bluesky", "mastodon")
WRITES = {"x.tweets.create", "bluesky.repo.putRecord", "mastodon.statuses.create"}
RECONCILE_READS = {"x.users.tweets", "bluesky.repo.getRecord"}  # Mastodon reconciles by replaying its key
# app.chaos takes one fnmatch pattern: this one matches the writes and reconcile's reads, plus two
# endpoints the publishing path never calls (checked by the first test below).
CHAOS_PATTERN = "*[so].[cpgt][ruew][etR]*"
UNUSED_MATCHES = {"bluesky.repo.createRecord", "mastodon.statuses.get"}
TITLE = re.compile(r"Chaos article (\d{3})")


def chaos_article(n: int) -> Article:
    """Article ``n``: its title (``Chaos article 007``) tells which article a platform post is."""
    return Article(
        title=f"Chaos article {n:03d}",
        url=f"https://news.example.com/2026/{n:03d}/chaos",
        summary=f"What happened in part {n} of the chaos series, in one sentence.",
        body=f"What happened in part {n} of the chaos series, in one sentence. More body text.",
        tags=("Chaos", "Testing"),
        lang="en",
    )


def post_text(platform: str, post: dict[str, Any]) -> str:
    """The text the client sent (X's stored text has t.co links; sent_text is what we posted)."""
    return str(post["sent_text"] if platform == "x" else post["text"])


def article_counts(platform: str, posts: list[dict[str, Any]]) -> Counter[int]:
    """How many live posts each article number has on ``platform``."""
    counts: Counter[int] = Counter()
    for post in posts:
        match = TITLE.search(post_text(platform, post))
        assert match, f"{platform} post {post['id']} belongs to no chaos article: {post_text(platform, post)!r}"
        counts[int(match.group(1))] += 1
    return counts


def assert_exactly_once(posts: dict[str, list[dict[str, Any]]], ledger: list[dict[str, Any]], n: int) -> None:
    """Every article once per platform on the sandbox's side; the ledger's published ids are those posts."""
    for platform in PLATFORMS:
        counts = article_counts(platform, posts[platform])
        doubled = {a: c for a, c in counts.items() if c > 1}
        assert not doubled, f"{platform}: articles posted more than once: {doubled}"
        assert set(counts) == set(range(n)), f"{platform}: missing {sorted(set(range(n)) - set(counts))}"
        if platform == "x":
            sent = Counter(p["sent_text"] for p in posts["x"])
            assert max(sent.values()) == 1
        on_platform = {str(p["id"]) for p in posts[platform]}
        rows = [r for r in ledger if r["platform"] == platform]
        assert all(r["state"] == "published" for r in rows), [r for r in rows if r["state"] != "published"]
        in_ledger = [str(r["post_id"]) for r in rows]
        assert len(in_ledger) == len(set(in_ledger)) == n, f"{platform}: {len(in_ledger)} ledger rows for {n}"
        assert set(in_ledger) == on_platform, (
            f"{platform}: only in the ledger {set(in_ledger) - on_platform}, "
            f"only on the platform {on_platform - set(in_ledger)}"
        )


# --- the fault run ------------------------------------------------------------------------------------


def test_chaos_pattern_matches_the_publishing_endpoints(sandbox: Sandbox) -> None:
    """The one chaos pattern covers the three writes and reconcile's reads, nothing else we call."""
    names = {route.endpoint for route in sandbox.app.routes}
    assert names >= WRITES | RECONCILE_READS
    matched = {name for name in names if fnmatch.fnmatchcase(name, CHAOS_PATTERN) and name.split(".")[0] in PLATFORMS}
    assert matched == WRITES | RECONCILE_READS | UNUSED_MATCHES


def fault_settings(sandbox: Sandbox, tmp_path: Path, max_attempts: int) -> Settings:
    env = {
        **sandbox_env_for(sandbox, PLATFORMS),
        "CROSSPOST_TIMEOUT": "1",  # below the fault delay (1.2 s): timeouts really time out
        "CROSSPOST_RATE_LIMIT_WAIT": "30",  # chaos 429s reset in about a second: waited out
        "CROSSPOST_MAX_ATTEMPTS": str(max_attempts),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    return load_settings(env=env, load_dotenv=False)


@pytest.mark.slow
@pytest.mark.parametrize(("max_attempts", "max_runs"), [(40, 1), (1, 40)], ids=["one-run", "re-runs"])
def test_fault_run_200_articles_exactly_once(tmp_path: Path, max_attempts: int, max_runs: int) -> None:
    """200 articles × 3 platforms under 30% faults of every kind: each post exists once, ledger = sandbox.

    ``one-run``: attempts enough (0.3**40) that one run publishes everything. ``re-runs``: one attempt
    per run, so targets end failed or ``unknown`` and are published by running again, like a user would:
    the resumed runs reconcile rows left ``sending``/``unknown`` under the same faults.
    """
    n = 200
    with Sandbox(seed=int(os.environ.get("CHAOS_SEED", "20260501"))) as sb:
        settings = fault_settings(sb, tmp_path, max_attempts)
        store = connect(settings.database_url)
        publisher = Publisher(settings, store, backoff=0.01)
        sb.app.chaos(0.3, FAULT_KINDS, CHAOS_PATTERN, delay=1.2)
        started = time.monotonic()
        todo = list(range(n))
        runs = 0
        left: list[tuple[str, str, str | None]] = []
        history: list[dict[str, int]] = []  # per run: how the targets that were not done ended
        try:
            while todo and runs < max_runs:
                runs += 1
                with ThreadPoolExecutor(max_workers=6, thread_name_prefix="chaos") as pool:
                    results = list(pool.map(lambda i: publisher.publish(chaos_article(i), settings.accounts), todo))
                left = [(r.platform, r.status, r.error) for res in results for r in res if not _done(r)]
                history.append(dict(Counter(f"{platform}:{status}" for platform, status, _ in left)))
                todo = [i for i, res in zip(todo, results, strict=True) if not all(_done(r) for r in res)]
            elapsed = time.monotonic() - started
            sb.app.chaos(0.0)
            ledger = [_row(r) for r in store.ledger_rows()]
        finally:
            store.close()
        assert not todo, f"still not published after {runs} run(s): {left[:5]}"
        injected = Counter(kind for _, kind in sb.app.injected)
        posts = {p: sb.app.posts(p) for p in PLATFORMS}
        attempts = Counter({p: sum(len(sb.app.received(e)) for e in WRITES if e.startswith(p)) for p in PLATFORMS})
    print(f"\nfault run ({max_attempts} attempts per run): {n} articles x 3 in {elapsed:.1f} s, "
          f"{runs} run(s) {history}; injected {dict(injected)}; write calls {dict(attempts)}")
    assert set(injected) == set(FAULT_KINDS)  # every kind really fired
    assert sum(injected.values()) >= 0.2 * 3 * n
    assert_exactly_once(posts, ledger, n)
    assert {r["attempts"] for r in ledger} - {1}, "no ledger row needed a second attempt: the chaos did not bite"
    if max_runs > 1:
        assert runs > 1, "every target made it in one run: the resume path was not exercised"


def thread_article(n: int) -> Article:
    """Article ``n`` with a body long enough for a thread of several parts on every platform."""
    body = "\n\n".join(
        " ".join(f"Article {n} paragraph {p} has sentence {s} in it." for s in range(8)) for p in range(4)
    )
    return Article(title=f"Thread article {n:03d}", url=f"https://news.example.com/2026/{n:03d}/thread",
                   summary="Lead.", body=body, tags=("Chaos",), lang="en")


def parent_id(platform: str, post: dict[str, Any]) -> str | None:
    """The id of the post ``post`` replies to, as the sandbox stored it."""
    if platform == "x":
        parent = post["reply_to"]
    elif platform == "mastodon":
        parent = post["in_reply_to_id"]
    else:
        reply = post.get("reply")
        parent = reply["parent"]["uri"] if reply else None
    return str(parent) if parent is not None else None


@pytest.mark.slow
def test_fault_run_threads_exactly_once_in_order(tmp_path: Path) -> None:
    """30 threads under 30% faults: every part once, each replying to the part before it (per the ledger)."""
    n = 30
    with Sandbox(seed=20260502) as sb:
        settings = fault_settings(sb, tmp_path, 40)
        store = connect(settings.database_url)
        publisher = Publisher(settings, store, backoff=0.01)
        sb.app.chaos(0.3, FAULT_KINDS, CHAOS_PATTERN, delay=1.2)
        try:
            with ThreadPoolExecutor(max_workers=6, thread_name_prefix="chaos") as pool:
                results = list(pool.map(
                    lambda i: publisher.publish(thread_article(i), settings.accounts, thread=True), range(n)))
            sb.app.chaos(0.0)
            rows = store.ledger_rows()
        finally:
            store.close()
        posts = {p: sb.app.posts(p) for p in PLATFORMS}
        injected = len(sb.app.injected)
    assert all(r.status == PUBLISHED for res in results for r in res), [
        (r.platform, r.error) for res in results for r in res if r.status != PUBLISHED]
    assert injected > 100
    for platform in PLATFORMS:
        mine = [r for r in rows if r.platform == platform]
        assert {r.state for r in mine} == {"published"}
        assert min(sum(1 for r in mine if r.article_key == a.article_key) for a in mine) >= 2  # real threads
        texts = Counter(post_text(platform, p) for p in posts[platform])
        assert max(texts.values()) == 1, f"{platform}: a part was posted twice"
        by_id = {str(p["id"]): p for p in posts[platform]}
        assert sorted(by_id) == sorted(str(r.post_id) for r in mine), f"{platform}: ledger != platform"
        ledger_id = {(r.article_key, r.part): str(r.post_id) for r in mine}
        for r in mine:
            expected = ledger_id[(r.article_key, r.part - 1)] if r.part else None
            assert parent_id(platform, by_id[str(r.post_id)]) == expected, f"{platform}: part {r.part} misplaced"


LOOKUP = {"x": "x.users.tweets", "bluesky": "bluesky.repo.getRecord", "mastodon": "mastodon.statuses.create"}
CREATE = {"x": "x.tweets.create", "bluesky": "bluesky.repo.putRecord", "mastodon": "mastodon.statuses.create"}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("reset_in", [1.0, 3600.0], ids=["near", "far"])
def test_resumed_row_whose_lookup_is_rate_limited(
    sandbox: Sandbox, tmp_path: Path, platform: str, reset_in: float
) -> None:
    """A re-run finds a row ``unknown`` and its look-up gets a 429: a near reset is waited for, then the
    post is found (not sent again); a far one defers the target. Regression: a 1 s reset deferred it."""
    settings = fault_settings(sandbox, tmp_path, 1)
    store = connect(settings.database_url)
    accounts = settings.accounts_for((platform,))
    try:
        # First run: the post is made but the answer is lost, and the look-up after it fails too.
        sandbox.app.inject(CREATE[platform], "after_commit", count=1)
        sandbox.app.inject(LOOKUP[platform], "error", status=503, count=1)
        first = Publisher(settings, store, backoff=0.01).publish(chaos_article(1), accounts)[0]
        assert first.status == "failed" and [r.state for r in store.ledger_rows()] == ["unknown"]
        assert len(sandbox.app.posts(platform)) == 1
        # The re-run: the first look-up is rate limited.
        sandbox.app.inject(LOOKUP[platform], "rate_limit", reset_in=reset_in, count=1)
        again = Publisher(settings, store, backoff=0.01).publish(chaos_article(1), accounts)[0]
        rows = store.ledger_rows()
    finally:
        store.close()
    posts = sandbox.app.posts(platform)
    assert len(posts) == 1
    if reset_in > settings.rate_limit_wait:
        assert again.status == "deferred" and again.retry_at is not None
        assert [r.state for r in rows] == ["unknown"]
    else:
        assert again.status == PUBLISHED, again.error
        assert [(r.state, r.post_id) for r in rows] == [("published", str(posts[0]["id"]))]


def _done(result: TargetResult) -> bool:
    return result.status in (PUBLISHED, ALREADY)


def _row(r: Any) -> dict[str, Any]:
    return {"article": r.article_key, "platform": r.platform, "state": r.state, "post_id": r.post_id,
            "attempts": r.attempts}


# --- the crash run ------------------------------------------------------------------------------------

CRASH_ARTICLES = 50
MAX_KILLS = 100
CRASH_DEADLINE = 420.0  # seconds for the whole run; it takes about one minute on 2 cores
LOOP_SCRIPT = """\
# Publish every article named on the command line, in order, as `crosspost ARTICLE` does; exit 0 when all
# are out. The SDKs are imported first and READY_FILE is created, so that the test's kill clock starts when
# publishing does (importing atproto takes a second; a kill then would prove nothing).
import os
import sys
import time

import adapters.bluesky, adapters.mastodon, adapters.x  # noqa: E401,F401
import atproto_client.models, mastodon, tweepy  # noqa: E401,F401
from bot.cli import main

open(os.environ["READY_FILE"], "w").close()
started = time.monotonic()
codes = []
for path in sys.argv[1:]:
    codes.append(main([path]))
    print(f"loop: {path} exit {codes[-1]} at {time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)
sys.exit(0 if all(code == 0 for code in codes) else 1)
"""


def crash_article(path: Path, n: int) -> Path:
    """Article ``n`` as a Markdown file with front matter, the way a user hands one to crosspost."""
    path.write_text(
        f"---\ntitle: Chaos article {n:03d}\nurl: https://news.example.com/2026/{n:03d}/crash\n"
        f"tags: [Chaos, Crash]\n---\nWhat happened in part {n} of the crash series, in one sentence.\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``crosspost sandbox --port 0`` in its own process: its URL and the environment it printed."""
    log = (tmp_path / "sandbox.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0", "--seed", "7"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env=_child_env({}),
    )
    try:
        env: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                env[name] = value
            if line.startswith("# control API"):
                break
        assert "X_API_BASE_URL" in env, f"the sandbox did not start: {(tmp_path / 'sandbox.err').read_text()}"
        others = {c for p in platforms.all_platforms() if p.name not in PLATFORMS for c in p.credentials}
        yield env["X_API_BASE_URL"], {k: v for k, v in env.items() if k not in others}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any crosspost setting of the developer's, plus ``extra``."""
    prefixes = ("CROSSPOST_", "DATABASE_URL", *(f"{name.upper()}_" for name in platforms.names()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _finished(log: Path) -> set[str]:
    """The articles a run of LOOP_SCRIPT reported done (exit 0) in ``log``."""
    if not log.exists():
        return set()
    found = re.findall(r"^loop: (.+) exit 0 at ", log.read_text(encoding="utf-8", errors="replace"), re.M)
    return set(found)


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, deadline: float) -> bool:
    """Wait until the publishing process has imported everything (True), or has ended (False)."""
    while not ready.exists():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the publishing process never got ready"
        time.sleep(0.005)
    return True


def _write_calls(url: str) -> dict[str, int]:
    """How many post-creating calls each platform of the sandbox at ``url`` has received."""
    return {p: len(_http(f"{url}/_sandbox/requests?endpoint={e}")) for p, e in
            zip(PLATFORMS, ("x.tweets.create", "bluesky.repo.putRecord", "mastodon.statuses.create"), strict=True)}


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_crash_run_sigkill_and_restart_until_done(
    tmp_path: Path, sandbox_process: tuple[str, dict[str, str]]
) -> None:
    """SIGKILLed at random moments and restarted until it exits 0: nothing lost, nothing doubled."""
    url, sandbox_env = sandbox_process
    # Every call takes 150 ms in the sandbox, so most kills land while a write is in flight: the sandbox
    # still makes the post, and the restarted process finds its ledger row 'sending'.
    _http(f"{url}/_sandbox/latency", {"x": 0.15, "bluesky": 0.15, "mastodon": 0.15})
    articles = [str(crash_article(tmp_path / f"article-{n:03d}.md", n)) for n in range(CRASH_ARTICLES)]
    script = tmp_path / "publish_all.py"
    script.write_text(LOOP_SCRIPT, encoding="utf-8")
    env = _child_env({**sandbox_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
                      "CROSSPOST_TIMEOUT": "10", "CROSSPOST_LOG_LEVEL": "INFO"})
    rng = random.Random(int(os.environ.get("CRASH_SEED", "4242")))
    kills, lives = 0, 0
    exits: list[int] = []
    deadline = time.monotonic() + CRASH_DEADLINE
    output = tmp_path / "publish.log"
    ready = tmp_path / "ready"
    while True:
        assert time.monotonic() < deadline, f"not done in {CRASH_DEADLINE:g} s ({kills} kills, exits {exits})"
        lives += 1
        ready.unlink(missing_ok=True)
        with output.open("a") as log:
            # Like a user re-running the articles that did not finish (all of them are run once more below).
            todo = [a for a in articles if a not in _finished(output)]
            proc = subprocess.Popen([sys.executable, str(script), *todo], cwd=tmp_path,
                                    env={**env, "READY_FILE": str(ready)}, stdout=log, stderr=subprocess.STDOUT)
            if kills < MAX_KILLS and _wait_ready(proc, ready, deadline):
                try:
                    code = proc.wait(timeout=rng.uniform(0.1, 1.5))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    continue
            else:
                try:
                    code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    pytest.fail(f"the last run did not finish before the deadline; see {output}")
        if code == 0:
            break
        exits.append(code)  # a run that ended on its own but not everything was published: run again
        assert len(exits) <= 10, f"runs kept failing: {exits}; see {output}:\n{output.read_text()[-3000:]}"

    # Running every article once more, with no kill, exits 0 and sends nothing: all is already out.
    writes_before = _write_calls(url)
    again = subprocess.run([sys.executable, str(script), *articles], cwd=tmp_path, capture_output=True, text=True,
                           env={**env, "READY_FILE": str(ready)}, timeout=120)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert again.stdout.count("already published") == 3 * CRASH_ARTICLES
    assert _write_calls(url) == writes_before

    status = subprocess.run([sys.executable, "-m", "bot.cli", "status", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    ledger = json.loads(status.stdout)
    stuck = [r for r in ledger if r["state"] in ("sending", "unknown")]
    assert not stuck, f"ledger rows left unreconciled: {stuck}"
    posts = _http(f"{url}/_sandbox/posts")
    writes = _write_calls(url)
    resumed = Counter(r["platform"] for r in ledger if r["attempts"] > 1)
    log_lines = output.read_text(encoding="utf-8", errors="replace").splitlines()
    reconciled = Counter(p for line in log_lines if "reconciled" in line for p in PLATFORMS if f"platform={p}" in line)
    print(f"\ncrash run: {lives} runs, {kills} SIGKILLs, {len(exits)} non-zero exits; write calls {writes} "
          f"for {CRASH_ARTICLES} articles; rows begun more than once {dict(resumed)}; "
          f"found by reconcile after a restart {dict(reconciled)}")
    assert kills >= 5, "the process was hardly ever killed: the run proves little"
    assert_exactly_once(posts, ledger, CRASH_ARTICLES)
