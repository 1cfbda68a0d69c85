"""A sample of generated articles published for real: to the sandbox (all three platforms, through the
real tweepy / Mastodon.py / atproto clients) and to the real Bluesky PDS. Acceptance of issue 13:
zero rejected posts. Every rejection is listed (seed, platform, part, the error) in the failure.
"""

# ruff: noqa: F811  (pytest fixtures named like the imported `pds` fixture)
from __future__ import annotations

import pytest

from adapters.base import AccountSettings, PostRef, PostRequest
from adapters.bluesky import BlueskyAdapter
from bot import platforms
from bot import platforms as registry
from bot.compose import PlatformPlan
from bot.errors import InputError
from bot.load import parse_article
from bot.mentions import MENTION_FEATURE, with_mention_facets
from bot.sandbox import Sandbox, credentials
from bot.sandbox.bluesky import did_for
from tests.conftest import MemoryKV
from tests.corpus.generate import MENTION_NAMES, corpus
from tests.pds_harness import LocalPDS, pds  # noqa: F401  (the session fixture)
from tests.test_corpus import TARGETS, compose

SAMPLE = 100
FIRST_SEED = 5001  # not the seeds test_corpus.py judges: more of the corpus gets exercised


def plans(platform: str) -> list[tuple[int, PlatformPlan]]:
    """(seed, plan) of every sample article that composes, single posts and threads for ``platform``."""
    found = []
    for item in corpus(SAMPLE, FIRST_SEED):
        try:
            article = parse_article(item.data, origin=item.origin)
            if item.fmt == "text":
                article = article.with_overrides(url=item.spec.url, extra_tags=item.spec.tags)
            plan = compose(article, [t for t in TARGETS if t[0] == platform])
        except InputError:
            continue
        # A "thread" of an article without a body is its single post: X would refuse it as a duplicate.
        unique = {tuple(post.text for post in p.posts): p for p in plan.platforms}
        found.extend((item.seed, p) for p in unique.values())
    return found


def publish_all(settings: AccountSettings, platform: str) -> tuple[int, list[str]]:
    """Publish every part of every plan (threads as reply chains); return (posts sent, rejections)."""
    adapter = registry.get(platform).adapter_class()(settings, MemoryKV())
    sent, rejected = 0, []
    try:
        for seed, plan in plans(platform):
            root: PostRef | None = None
            previous: PostRef | None = None
            for index, post in enumerate(plan.posts, 1):
                facets = post.facets
                if isinstance(adapter, BlueskyAdapter):  # as the publisher does: mentions that resolve
                    facets = tuple(with_mention_facets(post.text, facets, adapter.resolve_handle))
                request = PostRequest(
                    text=post.text,
                    idempotency_key=f"{seed}-{len(plan.posts)}-{index}",
                    facets=facets,
                    tags=post.tags,
                    reply_to=previous,
                    thread_root=root,
                )
                try:
                    previous = adapter.publish(request, adapter.prepare(request))
                except Exception as exc:
                    rejected.append(
                        f"seed {seed} {platform} part {index}/{len(plan.posts)}: {type(exc).__name__}: {exc}"
                    )
                    break
                root = root or previous
                sent += 1
    finally:
        adapter.close()
    return sent, rejected


@pytest.mark.parametrize("platform", platforms.names())
def test_sample_publishes_to_the_sandbox_without_rejection(sandbox: Sandbox, platform: str) -> None:
    settings = AccountSettings(
        platform=platform, credentials=dict(credentials()), base_url=sandbox.url, timeout=10, allow_private_network=True
    )
    known = {f"{name.replace('_', '-')}.bsky.social" for name in MENTION_NAMES[:3]}  # the others resolve to no one
    sandbox.app.state["bluesky"]["handles"].update({handle: did_for(handle) for handle in known})
    # The sample posts more than a real account may in a day (Threads: 250): it tests composing, not
    # quotas, so every bucket's limit is lifted (the quota tests keep the platforms' own).
    for (name, bucket), (_limit, window) in sandbox.app.quota_defaults.items():
        sandbox.app.set_quota(name, bucket, 1_000_000, window)
    sent, rejected = publish_all(settings, platform)
    assert sent > SAMPLE
    assert not rejected, f"{len(rejected)} rejected of {sent + len(rejected)}:\n" + "\n".join(rejected[:30])
    if platform == "bluesky":  # the corpus's handles went out as mention facets where they resolve, only there
        mentioned = {
            x["did"]
            for r in sandbox.app.received("bluesky.repo.putRecord")
            for f in r.json()["record"].get("facets", [])
            for x in f["features"]
            if x["$type"] == MENTION_FEATURE
        }
        assert mentioned == {did_for(handle) for handle in known}


@pytest.mark.pds
def test_sample_publishes_to_the_real_pds_without_rejection(pds: LocalPDS) -> None:
    handle, password, _did = pds.create_account("corpus")
    settings = AccountSettings(
        platform="bluesky",
        credentials={"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": password},
        base_url=pds.url,
        timeout=20,
        allow_private_network=True,
    )
    sent, rejected = publish_all(settings, "bluesky")
    assert sent > SAMPLE
    assert not rejected, f"{len(rejected)} rejected of {sent + len(rejected)}:\n" + "\n".join(rejected[:30])
