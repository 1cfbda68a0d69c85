"""Retracting and editing published posts (bot/lifecycle.py) through the real SDKs against the sandbox:
what the sandbox received and still holds, and what the ledger says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.article import Article
from bot.config import Settings, load_settings
from bot.lifecycle import (
    ALREADY_DELETED,
    DELETED,
    FAILED,
    IGNORED,
    NOT_EDITABLE,
    UNCHANGED,
    UPDATED,
    Lifecycle,
    LifecycleResult,
)
from bot.publish import PUBLISHED, Publisher, TargetResult
from bot.sandbox import Sandbox
from bot.store import connect

PLATFORMS = ("x", "bluesky", "mastodon")
DELETE = {"x": "x.tweets.delete", "bluesky": "bluesky.repo.deleteRecord", "mastodon": "mastodon.statuses.delete"}
LONG_BODY = "\n\n".join(" ".join(f"Paragraph {p} has sentence {s} in it." for s in range(9)) for p in range(8))


@dataclass
class Rig:
    sandbox: Sandbox
    settings: Settings
    store: Any
    publisher: Publisher
    lifecycle: Lifecycle

    def publish(self, article: Article, platforms: tuple[str, ...] = PLATFORMS, **kw: Any) -> list[TargetResult]:
        return self.publisher.publish(article, self.settings.accounts_for(platforms), **kw)

    def posts(self, platform: str) -> list[dict[str, Any]]:
        return self.sandbox.app.posts(platform)


def make_settings(
    sandbox: Sandbox, tmp_path: Path, toml: str = "", *, only: tuple[str, ...] | None = None, **env: str
) -> Settings:
    """Settings for every sandbox platform (``only``: for these platforms alone)."""
    from tests.conftest import sandbox_env_for

    config = tmp_path / "crosspost.toml"
    config.write_text(toml, encoding="utf-8")
    base = sandbox_env_for(sandbox, only) if only is not None else sandbox.env()
    full = {**base, "CROSSPOST_TIMEOUT": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", **env}
    return load_settings(env=full, load_dotenv=False, config_file=config)


def make_rig(sandbox: Sandbox, tmp_path: Path, toml: str = "") -> Rig:
    settings = make_settings(sandbox, tmp_path, toml)
    store = connect(settings.database_url)
    publisher = Publisher(settings, store, backoff=0.01)
    return Rig(sandbox, settings, store, publisher, Lifecycle(publisher))


@pytest.fixture
def rig(sandbox: Sandbox, tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(sandbox, tmp_path, "[compose.x]\nmax_parts = 5\n[compose.bluesky]\nmax_parts = 5\n"
                 "[compose.mastodon]\nmax_parts = 5\n")
    yield r
    r.store.close()


def article(n: int = 1, **kw: Any) -> Article:
    base: dict[str, Any] = {
        "title": f"Retraction test number {n}",
        "url": f"https://news.example.com/2026/retract-{n}",
        "summary": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "body": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "tags": ("Microsoft", "OpenAI"),
        "lang": "en",
    }
    base.update(kw)
    return Article(**base)


def by_platform(results: list[LifecycleResult]) -> dict[str, LifecycleResult]:
    return {r.platform: r for r in results}


def test_delete_single_post(rig: Rig) -> None:
    """One Mastodon status: DELETE on the wire, gone from the sandbox, the ledger row deleted with its time."""
    a = article()
    [published] = rig.publish(a, ("mastodon",))
    status_id = published.posts[0].id
    [result] = rig.lifecycle.delete(a.key)
    assert result.status == DELETED and [p.id for p in result.posts] == [status_id]
    assert [r.path for r in rig.sandbox.app.received("mastodon.statuses.delete")] == [f"/api/v1/statuses/{status_id}"]
    assert rig.posts("mastodon") == []
    [row] = rig.store.ledger_rows(a.key)
    assert row.state == "deleted" and row.deleted_at is not None


def test_delete_five_part_thread_last_to_first_everywhere(rig: Rig) -> None:
    """A 5-part thread on every platform is deleted last part first, and nothing of it is left."""
    a = article(body=LONG_BODY, summary="Lead.")
    published = {r.platform: r for r in rig.publish(a, thread=True)}
    for platform in PLATFORMS:
        assert published[platform].status == PUBLISHED and len(published[platform].posts) == 5, platform
    results = by_platform(rig.lifecycle.delete(a.key))
    for platform in PLATFORMS:
        assert results[platform].status == DELETED, results[platform].error
        assert rig.posts(platform) == [], platform
        ids = [p.id for p in published[platform].posts]
        assert [p.id for p in results[platform].posts] == ids[::-1]
    x_paths = [r.path.rsplit("/", 1)[1] for r in rig.sandbox.app.received("x.tweets.delete")]
    assert x_paths == [p.id for p in published["x"].posts][::-1]
    b_rkeys = [r.json()["rkey"] for r in rig.sandbox.app.received("bluesky.repo.deleteRecord")]
    assert b_rkeys == [p.id.rsplit("/", 1)[1] for p in published["bluesky"].posts][::-1]
    assert all(r.state == "deleted" for r in rig.store.ledger_rows(a.key))


def test_second_delete_sends_nothing(rig: Rig) -> None:
    """Once every post is confirmed gone, deleting again asks no platform anything."""
    a = article()
    rig.publish(a)
    assert all(r.status == DELETED for r in rig.lifecycle.delete(a.key))
    before = len(rig.sandbox.app.requests)
    again = rig.lifecycle.delete(a.key)
    assert {r.status for r in again} == {ALREADY_DELETED} and len(again) == 3
    assert len(rig.sandbox.app.requests) == before


def test_post_already_gone_counts_as_deleted(rig: Rig) -> None:
    """A status someone deleted by hand answers 404: already_deleted, and the row is marked deleted."""
    a = article()
    rig.publish(a, ("x",))
    rig.sandbox.app.state["x"]["posts"][0]["deleted"] = True
    [result] = rig.lifecycle.delete(a.key)
    assert result.status == ALREADY_DELETED
    assert len(rig.sandbox.app.received("x.tweets.delete")) == 1
    [row] = rig.store.ledger_rows(a.key)
    assert row.state == "deleted" and row.last_error == "already gone when deleted"


def test_failure_half_way_resumes(rig: Rig) -> None:
    """A permanent failure on part 3 of 5 (deleting backwards) stops there; the next run deletes only 3..1."""
    a = article(body=LONG_BODY, summary="Lead.")
    [published] = rig.publish(a, ("mastodon",), thread=True)
    ids = [p.id for p in published.posts]
    rig.sandbox.app.inject("mastodon.statuses.delete", "error", status=403, count=1)
    first = rig.lifecycle.delete(a.key)[0]
    # the 403 hit the first delete (part 5): nothing deleted, the run stopped
    assert first.status == FAILED and "403" in (first.error or "")
    rig.sandbox.app.faults.clear()
    second = rig.lifecycle.delete(a.key)[0]
    assert second.status == DELETED and [p.id for p in second.posts] == ids[::-1]
    deleted_paths = [r.path for r in rig.sandbox.app.received("mastodon.statuses.delete")]
    assert deleted_paths == [f"/api/v1/statuses/{ids[-1]}"] + [f"/api/v1/statuses/{i}" for i in ids[::-1]]
    assert rig.posts("mastodon") == []


def test_resume_skips_parts_confirmed_gone(rig: Rig) -> None:
    """Parts deleted before a failure are never asked about again."""
    a = article(body=LONG_BODY, summary="Lead.")
    [published] = rig.publish(a, ("mastodon",), thread=True)
    ids = [p.id for p in published.posts]
    calls: list[str] = []
    original = rig.sandbox.app.dispatch

    def dispatch(request: Any) -> Any:
        if request.method == "DELETE":
            calls.append(request.path)
            if len(calls) == 3:
                from bot.sandbox.core import Response

                return Response(403, {"error": "This action is not allowed"})
        return original(request)

    rig.sandbox.app.dispatch = dispatch  # type: ignore[method-assign]
    assert rig.lifecycle.delete(a.key)[0].status == FAILED
    assert rig.lifecycle.delete(a.key)[0].status == DELETED
    wanted = [f"/api/v1/statuses/{i}" for i in ids[::-1]]
    assert calls == wanted[:3] + wanted[2:]
    assert rig.posts("mastodon") == []


def test_delete_filters_platform(rig: Rig) -> None:
    """Targets narrow the delete: only Bluesky is asked, the others keep their posts."""
    a = article()
    rig.publish(a)
    [result] = rig.lifecycle.delete(a.key, ["bluesky"])
    assert result.platform == "bluesky" and result.status == DELETED
    assert rig.posts("bluesky") == [] and len(rig.posts("x")) == 1 and len(rig.posts("mastodon")) == 1
    assert rig.sandbox.app.received("x.tweets.delete") == []


def test_republish_after_delete_needs_force(rig: Rig) -> None:
    """A deleted article is not posted again by a second delivery; --force posts it in a new generation."""
    a = article()
    rig.publish(a, ("mastodon",))
    rig.lifecycle.delete(a.key)
    [again] = rig.publish(a, ("mastodon",))
    assert "deleted" in (again.error or "") and rig.posts("mastodon") == []
    [forced] = rig.publish(a, ("mastodon",), force=True)
    assert forced.status == PUBLISHED and len(rig.posts("mastodon")) == 1


# --- edits -------------------------------------------------------------------------------------------


@pytest.fixture
def edit_rig(sandbox: Sandbox, tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(sandbox, tmp_path, 'on_edit = "update"\n')
    yield r
    r.store.close()


def test_edit_updates_mastodon_in_place_others_not_editable(edit_rig: Rig) -> None:
    """on_edit = "update": Mastodon gets a PUT with the new text and one edit in its history; X and Bluesky
    report not_editable with the reason and receive nothing."""
    rig = edit_rig
    a = article()
    rig.publish(a)
    status_id = rig.posts("mastodon")[0]["id"]
    edited = article(summary="Microsoft and OpenAI rewrote their partnership deal. Exclusivity is over.")
    results = by_platform(rig.lifecycle.update(edited))
    assert results["mastodon"].status == UPDATED, results["mastodon"].error
    assert results["x"].status == NOT_EDITABLE and "cannot edit" in (results["x"].error or "")
    assert results["bluesky"].status == NOT_EDITABLE and "cannot be edited" in (results["bluesky"].error or "")
    [put] = rig.sandbox.app.received("mastodon.statuses.update")
    assert put.path == f"/api/v1/statuses/{status_id}"
    from urllib.parse import parse_qs

    assert "rewrote their partnership" in parse_qs(put.body.decode())["status"][0]
    [status] = rig.posts("mastodon")
    assert "rewrote their partnership" in status["text"] and len(status["edits"]) == 1
    history = rig.sandbox.app.received("mastodon.statuses.history")
    assert history == []  # the adapter does not need it; read it through Mastodon.py below
    from mastodon import Mastodon

    api = Mastodon(api_base_url=rig.sandbox.url, access_token="sandbox-mastodon-token",
                   version_check_mode="none")
    versions = api.status_history(status_id)
    assert len(versions) == 2 and "amended" in versions[0]["content"] and "rewrote" in versions[1]["content"]
    assert rig.sandbox.app.received("x.tweets.*") and not [
        r for r in rig.sandbox.app.received("x.*") if r.method in ("PUT", "DELETE")]
    [row] = [r for r in rig.store.ledger_rows(a.key) if r.platform == "mastodon"]
    assert row.edited_at is not None and "rewrote" in row.text
    # the same edit again changes nothing
    again = by_platform(rig.lifecycle.update(edited))
    assert again["mastodon"].status == UNCHANGED
    assert len(rig.sandbox.app.received("mastodon.statuses.update")) == 1


def test_edit_ignored_by_default(rig: Rig) -> None:
    """Without on_edit = "update" a changed text is reported and nothing published changes."""
    a = article()
    rig.publish(a, ("mastodon",))
    [result] = rig.lifecycle.update(article(summary="Completely different words now."))
    assert result.status == IGNORED
    assert rig.sandbox.app.received("mastodon.statuses.update") == []


def test_on_edit_per_account_and_platform(sandbox: Sandbox, tmp_path: Path) -> None:
    """The most specific on_edit wins: [lifecycle.mastodon] over the top level."""
    settings = make_settings(sandbox, tmp_path, 'on_edit = "update"\n[lifecycle.mastodon]\non_edit = "ignore"\n')
    assert settings.lifecycle_for("on_edit", "mastodon", "default") == "ignore"
    assert settings.lifecycle_for("on_edit", "x", "default") == "update"
    assert settings.lifecycle_for("on_unpublish", "x", "default") == "keep"


def test_on_edit_bad_value_is_a_config_error(sandbox: Sandbox, tmp_path: Path) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="on_edit = 'sometimes' is not one of 'ignore', 'update'"):
        make_settings(sandbox, tmp_path, 'on_edit = "sometimes"\n')


def test_json_of_results(rig: Rig) -> None:
    a = article()
    rig.publish(a, ("mastodon",))
    [result] = rig.lifecycle.delete(a.key)
    data = json.loads(json.dumps(result.to_json()))
    assert data["status"] == "deleted" and data["platform"] == "mastodon" and data["posts"][0]["url"]
