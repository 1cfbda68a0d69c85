"""Retraction under stress: 100 articles deleted under 30% injected faults, a ``crosspost delete`` killed
with SIGKILL half-way and run again, and a 5-part thread deleted on a real Bluesky PDS (deleteRecord,
then getRecord says RecordNotFound)."""

# ruff: noqa: F811  (pytest fixtures named like the imported `pds` fixture)
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.lifecycle import ALREADY_DELETED, DELETED, Lifecycle
from bot.publish import PUBLISHED, Publisher
from bot.sandbox import Sandbox
from bot.store import connect
from tests.conftest import ROOT, sandbox_env_for
from tests.pds_harness import LocalPDS, pds  # noqa: F401  (the session fixture)
from tests.test_lifecycle import LONG_BODY, article, make_settings

# Written for these three platforms' delete endpoints; Threads' and LinkedIn's deletes are tested in
# tests/test_threads.py and tests/test_linkedin.py. Their credentials are left out, so they are no target.
PLATFORMS = ("x", "bluesky", "mastodon")
DELETES = {"x": "x.tweets.delete", "bluesky": "bluesky.repo.deleteRecord", "mastodon": "mastodon.statuses.delete"}


def _post_of(request: Any) -> str:
    """The post a delete request named (X and Mastodon: the path; Bluesky: the body's rkey)."""
    if request.endpoint == DELETES["bluesky"]:
        return str(request.json()["rkey"])
    return str(request.path.rsplit("/", 1)[1])


def _short_id(platform: str, post_id: str) -> str:
    return post_id.rsplit("/", 1)[1] if platform == "bluesky" else post_id


@pytest.mark.slow
def test_hundred_articles_deleted_under_faults(sandbox: Sandbox, tmp_path: Path) -> None:
    """100 articles on every platform, deleted while 30% of delete calls fail (every fault kind): nothing is
    left, every ledger row is deleted, and no delete request is sent after a post was confirmed gone."""
    settings = make_settings(sandbox, tmp_path, only=PLATFORMS, CROSSPOST_MAX_ATTEMPTS="10", CROSSPOST_TIMEOUT="1")
    store = connect(settings.database_url)
    publisher = Publisher(settings, store, backoff=0.01)
    articles = [article(n) for n in range(100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        published = list(pool.map(lambda a: publisher.publish(a, settings.accounts), articles))
    assert all(r.status == PUBLISHED for results in published for r in results)
    assert all(len(sandbox.app.posts(p)) == 100 for p in PLATFORMS)

    sandbox.app.chaos(0.3, endpoints="*elete*", delay=0.2)
    lifecycle = Lifecycle(publisher)
    pending = [a.key for a in articles]
    for _ in range(3):  # a target that exhausted its attempts resumes in the next run
        with ThreadPoolExecutor(max_workers=8) as pool:
            runs = dict(zip(pending, pool.map(lifecycle.delete, pending), strict=True))
        pending = [key for key, results in runs.items() if any(r.status not in (DELETED, ALREADY_DELETED)
                                                                for r in results)]
        if not pending:
            break
    assert pending == []
    assert len(sandbox.app.injected) > 50  # the faults really happened
    assert {kind for _, kind in sandbox.app.injected} >= {"error", "drop", "after_commit"}
    assert all(sandbox.app.posts(p) == [] for p in PLATFORMS)
    rows = store.ledger_rows()
    assert len(rows) == 300 and {r.state for r in rows} == {"deleted"}

    confirmed = {(r.platform, _short_id(r.platform, r.post_id or "")): r.deleted_at for r in rows}
    for platform, endpoint in DELETES.items():
        for request in sandbox.app.received(endpoint):
            gone_at = confirmed[(platform, _post_of(request))]
            assert gone_at is not None and request.at <= gone_at.timestamp() + 0.001, (platform, request.path)
    sandbox.app.chaos(0.0)
    before = len(sandbox.app.requests)
    assert all(r.status == ALREADY_DELETED for key in [a.key for a in articles] for r in lifecycle.delete(key))
    assert len(sandbox.app.requests) == before
    store.close()


def test_delete_killed_half_way_resumes(sandbox: Sandbox, tmp_path: Path) -> None:
    """``crosspost delete`` SIGKILLed after its first delete calls; the next run finishes the job, and asks
    nothing about a part confirmed gone before the kill."""
    settings = make_settings(sandbox, tmp_path, "[compose.mastodon]\nmax_parts = 5\n", only=PLATFORMS)
    store = connect(settings.database_url)
    a = article(body=LONG_BODY, summary="Lead.")
    [published] = Publisher(settings, store, backoff=0.01).publish(a, settings.accounts_for(("mastodon",)),
                                                                   thread=True)
    assert len(published.posts) == 5
    sandbox.app.latency["mastodon"] = 0.4  # slow enough to kill the process between two deletes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_"))}
    env.update({**sandbox_env_for(sandbox, PLATFORMS), "DATABASE_URL": settings.database_url or "",
                "PYTHONPATH": str(ROOT)})
    env = {k: v for k, v in env.items() if not k.startswith(("X_", "BLUESKY_"))}
    command = [sys.executable, "-m", "bot.cli", "delete", "--key", a.key, "--platform", "mastodon"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(sandbox.app.received("mastodon.statuses.delete")) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    states = [r.state for r in store.ledger_rows(a.key)]
    assert "published" in states and "deleted" in states  # really half-way
    gone_before = {r.post_id for r in store.ledger_rows(a.key) if r.state == "deleted"}
    killed_at = len(sandbox.app.received("mastodon.statuses.delete"))

    sandbox.app.latency.clear()
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert sandbox.app.posts("mastodon") == []
    assert {r.state for r in store.ledger_rows(a.key)} == {"deleted"}
    later = [_post_of(r) for r in sandbox.app.received("mastodon.statuses.delete")[killed_at:]]
    assert later and not set(later) & gone_before
    store.close()


@pytest.mark.pds
def test_delete_thread_on_real_pds(pds: LocalPDS, tmp_path: Path) -> None:
    """A 5-part thread published to a real PDS and deleted: deleteRecord for each, getRecord RecordNotFound."""
    import httpx

    handle, password, did = pds.create_account("del")
    config = tmp_path / "crosspost.toml"
    config.write_text("[compose.bluesky]\nmax_parts = 5\n", encoding="utf-8")
    env = {"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": password, "BLUESKY_SERVICE_URL": pds.url,
           "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1", "CROSSPOST_TIMEOUT": "20",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    settings = load_settings(env=env, load_dotenv=False, config_file=config)
    store = connect(settings.database_url)
    publisher = Publisher(settings, store, backoff=0.05)
    a = article(body=LONG_BODY, summary="Lead.")
    [published] = publisher.publish(a, settings.accounts, thread=True)
    assert published.status == PUBLISHED and len(published.posts) == 5

    def record(uri: str) -> dict[str, Any]:
        repo, collection, rkey = uri.removeprefix("at://").split("/")
        answer = httpx.get(f"{pds.url}/xrpc/com.atproto.repo.getRecord",
                           params={"repo": repo, "collection": collection, "rkey": rkey}, timeout=20)
        data: dict[str, Any] = answer.json()
        return data

    assert all("value" in record(p.id) for p in published.posts)
    [result] = Lifecycle(publisher).delete(a.key)
    assert result.status == DELETED and [p.id for p in result.posts] == [p.id for p in published.posts][::-1]
    assert all(record(p.id).get("error") == "RecordNotFound" for p in published.posts)
    listed = httpx.get(f"{pds.url}/xrpc/com.atproto.repo.listRecords",
                       params={"repo": did, "collection": "app.bsky.feed.post"}, timeout=20).json()
    assert listed["records"] == []
    assert {r.state for r in store.ledger_rows(a.key)} == {"deleted"}
    store.close()
