"""Bluesky mentions become facets only for handles that really resolve (issue 13, class 7).

The publisher asks the account's PDS (``com.atproto.identity.resolveHandle``, through the real atproto
client against the sandbox) for every ``@handle`` of a Bluesky post before the ledger fixes the record,
and adds an ``app.bsky.richtext.facet#mention`` with the DID for each that resolves; one that does not
stays plain text. The same against the real PDS is in tests/test_bluesky_pds.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.article import Article
from bot.config import load_settings
from bot.publish import PUBLISHED, Publisher
from bot.sandbox import Sandbox
from bot.store import connect

MENTION = "app.bsky.richtext.facet#mention"
FRIEND, FRIEND_DID = "friend.bsky.social", "did:plc:friendfriendfriendfriend1"
SUMMARY = "Reviewed by @friend.bsky.social and @stranger.bsky.social, thanks."


@pytest.fixture
def publisher(sandbox: Sandbox, tmp_path: Path) -> Iterator[Publisher]:
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "2", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    settings = load_settings(env=env, load_dotenv=False)
    store = connect(settings.database_url)
    yield Publisher(settings, store, backoff=0.01, sleep=lambda _: None)
    store.close()


def _publish(publisher: Publisher, sandbox: Sandbox, platforms: tuple[str, ...] = ("bluesky",)) -> None:
    a = Article(title="Notes", url="https://news.example.com/2026/notes", summary=SUMMARY, tags=("Notes",))
    results = publisher.publish(a, publisher.settings.accounts_for(platforms))
    assert [r.status for r in results] == [PUBLISHED] * len(platforms), [r.error for r in results]


def _record(sandbox: Sandbox) -> dict[str, Any]:
    (request,) = sandbox.app.received("bluesky.repo.putRecord")
    record: dict[str, Any] = request.json()["record"]
    return record


def _mentions(record: dict[str, Any]) -> dict[str, str]:
    """The mentioned text -> DID, read from the record's byte ranges."""
    raw = record["text"].encode("utf-8")
    return {
        raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"): x["did"]
        for f in record.get("facets", [])
        for x in f["features"]
        if x["$type"] == MENTION
    }


def test_a_handle_that_resolves_gets_a_mention_facet_and_one_that_does_not_stays_text(
    publisher: Publisher, sandbox: Sandbox
) -> None:
    sandbox.app.state["bluesky"]["handles"][FRIEND] = FRIEND_DID
    _publish(publisher, sandbox, ("bluesky", "x", "mastodon"))
    record = _record(sandbox)
    assert "@friend.bsky.social" in record["text"] and "@stranger.bsky.social" in record["text"]
    assert _mentions(record) == {"@friend.bsky.social": FRIEND_DID}
    asked = sorted(r.arg("handle") for r in sandbox.app.received("bluesky.identity.resolveHandle"))
    assert asked == ["friend.bsky.social", "stranger.bsky.social"]
    starts = [f["index"]["byteStart"] for f in record["facets"]]
    assert starts == sorted(starts)  # with the link and tag facets, in order
    # Only Bluesky pings through facets: the other platforms ask nothing and get the inert profile links.
    assert len(sandbox.app.received("bluesky.identity.resolveHandle")) == 2
    (tweet,) = sandbox.app.received("x.tweets.create")
    assert "https://bsky.app/profile/friend.bsky.social" in tweet.json()["text"]


def test_the_accounts_own_handle_resolves_to_its_did(publisher: Publisher, sandbox: Sandbox) -> None:
    handle = sandbox.env()["BLUESKY_HANDLE"]
    did = next(iter(sandbox.app.state["bluesky"]["accounts"]))
    a = Article(title="Notes", url="https://news.example.com/2026/own", summary=f"Posted by @{handle} today.")
    results = publisher.publish(a, publisher.settings.accounts_for(("bluesky",)))
    assert results[0].status == PUBLISHED
    assert _mentions(_record(sandbox)) == {f"@{handle}": did}


def test_a_lookup_that_keeps_failing_posts_the_handle_as_plain_text(publisher: Publisher, sandbox: Sandbox) -> None:
    sandbox.app.state["bluesky"]["handles"][FRIEND] = FRIEND_DID
    sandbox.app.inject("bluesky.identity.resolveHandle", "error", status=503, count=100)
    _publish(publisher, sandbox)
    record = _record(sandbox)
    assert _mentions(record) == {} and "@friend.bsky.social" in record["text"]
    # the retry policy was applied to the lookup (max_attempts per handle), then the post went out
    attempts = publisher.settings.max_attempts
    assert len(sandbox.app.received("bluesky.identity.resolveHandle")) == 2 * attempts


def test_a_lookup_that_fails_once_is_retried(publisher: Publisher, sandbox: Sandbox) -> None:
    sandbox.app.state["bluesky"]["handles"][FRIEND] = FRIEND_DID
    sandbox.app.inject("bluesky.identity.resolveHandle", "error", status=502, count=1)
    _publish(publisher, sandbox)
    assert _mentions(_record(sandbox)) == {"@friend.bsky.social": FRIEND_DID}
