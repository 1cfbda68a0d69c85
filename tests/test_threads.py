"""Threads through real HTTP against its sandbox: the adapter's two calls (container, publish) made exactly
once by the publisher's retry policy; what went over the wire; the sandbox judging lengths by its own count."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from adapters.base import AccountSettings, PostRef
from adapters.threads import ThreadsAdapter
from bot.article import Article
from bot.config import Settings, load_settings
from bot.publish import FAILED, PUBLISHED, Publisher, TargetResult
from bot.sandbox import Sandbox
from bot.sandbox.threads import LIMIT, own_length
from bot.store import connect
from tests.conftest import MemoryKV

CREATE, PUBLISH = "threads.container.create", "threads.publish"


@dataclass
class Rig:
    sandbox: Sandbox
    settings: Settings
    store: Any
    publisher: Publisher

    def publish(self, article: Article, **kw: Any) -> TargetResult:
        (result,) = self.publisher.publish(article, self.settings.accounts_for(("threads",)), **kw)
        return result

    def posts(self) -> list[dict[str, Any]]:
        return self.sandbox.app.posts("threads")

    def sent(self, endpoint: str) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in self.sandbox.app.received(endpoint)]


@pytest.fixture
def rig(sandbox: Sandbox, tmp_path: Path) -> Iterator[Rig]:
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    settings = load_settings(env=env, load_dotenv=False)
    store = connect(settings.database_url)
    yield Rig(sandbox, settings, store, Publisher(settings, store, backoff=0.01))
    store.close()


def article(n: int = 1, **kw: Any) -> Article:
    base: dict[str, Any] = {
        "title": f"Partnership news number {n}",
        "url": f"https://news.example.com/2026/partnership-{n}",
        "summary": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "body": "Microsoft and OpenAI amended their partnership. The exclusivity clause is gone.",
        "tags": ("Microsoft", "Open AI"),
        "lang": "en",
    }
    return Article(**{**base, **kw})


def test_single_post_with_link_preview_and_topic_tag(rig: Rig) -> None:
    """One container, one publish: the link goes as link_attachment, the first hashtag as the topic tag,
    the other hashtag stays in the text; the token travels as a form field."""
    result = rig.publish(article())
    assert result.status == PUBLISHED, result.error
    (post,) = rig.posts()
    (sent,) = rig.sent(CREATE)
    assert sent["media_type"] == "TEXT" and sent["text"] == post["text"]
    assert sent["link_attachment"] == "https://news.example.com/2026/partnership-1"
    assert sent["topic_tag"] == "Microsoft" and "#OpenAI" in post["text"]
    assert sent["access_token"] == "sandbox-threads-token"
    assert rig.sent(PUBLISH)[0]["creation_id"] == post["container_id"]
    assert result.posts[0].id == post["id"] and result.posts[0].url == post["permalink"]


def test_quota_is_read_from_the_publishing_limit_and_kept_for_pacing(rig: Rig) -> None:
    """After a post the adapter asks threads_publishing_limit; the publisher keeps what is left."""
    rig.sandbox.app.set_quota("threads", "publish", 2, 86400)
    assert rig.publish(article(1)).status == PUBLISHED
    kept = rig.store.kv_get("pace:threads:default")
    assert kept["remaining"] == 1
    assert rig.publish(article(2)).status == PUBLISHED
    assert rig.store.kv_get("pace:threads:default")["remaining"] == 0
    assert rig.publisher.spent_until("threads", "default") is not None


def test_image_is_sent_by_url_and_published_once_processed(sandbox: Sandbox, tmp_path: Path) -> None:
    """With image = true, an IMAGE container is IN_PROGRESS while Threads fetches the image: the adapter
    says Transient, the publisher backs off, the same container is published (never a second one); no
    link_attachment (Threads takes it on TEXT posts only)."""
    toml = tmp_path / "crosspost.toml"
    toml.write_text("[compose.threads]\nimage = true\n", encoding="utf-8")
    env = {**sandbox.env(), "CROSSPOST_TIMEOUT": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    settings = load_settings(env=env, config_file=toml, load_dotenv=False)
    store = connect(settings.database_url)
    rig = Rig(sandbox, settings, store, Publisher(settings, store, backoff=0.01))
    image = sandbox.sample_image_url
    try:
        result = rig.publish(article(image=image, image_alt="A chart"))
    finally:
        store.close()
    assert result.status == PUBLISHED, result.error
    (post,) = rig.posts()
    (sent,) = rig.sent(CREATE)
    assert sent["media_type"] == "IMAGE" and sent["image_url"] == image and sent["alt_text"] == "A chart"
    assert "link_attachment" not in sent
    assert post["image_url"] == image and len(rig.sent(PUBLISH)) == 1


def test_thread_parts_reply_to_the_previous_one(rig: Rig) -> None:
    """A long article as a thread: each part after the first is a reply to the one before."""
    body = "\n\n".join(f"Paragraph {i} explains one more detail of the amended partnership. " * 3 for i in range(12))
    result = rig.publish(article(summary="Lead.", body=body), thread=True)
    assert result.status == PUBLISHED, result.error
    posts = rig.posts()
    assert len(posts) >= 2 and posts[0]["reply_to_id"] is None
    assert [p["reply_to_id"] for p in posts[1:]] == [p["id"] for p in posts[:-1]]
    assert all(own_length(p["text"]) <= LIMIT for p in posts)


def test_429_is_honoured_until_the_reset(rig: Rig) -> None:
    """A rate-limit answer (code 613, Retry-After 2 s) on publish: the retry waits for it; one post."""
    rig.sandbox.app.inject(PUBLISH, "rate_limit", reset_in=2, count=1)
    result = rig.publish(article())
    assert result.status == PUBLISHED, result.error
    requests = rig.sandbox.app.received(PUBLISH)
    assert len(requests) == 2 and requests[1].at - requests[0].at >= 1.5
    assert len(rig.posts()) == 1 and len(rig.sent(CREATE)) == 1  # the container was reused


def test_5xx_is_retried(rig: Rig) -> None:
    """Two 503s (Graph's transient error) on container creation, then success: one post."""
    rig.sandbox.app.inject(CREATE, "error", status=503, count=2)
    result = rig.publish(article())
    assert result.status == PUBLISHED, result.error
    assert len(rig.sent(CREATE)) == 3 and len(rig.posts()) == 1


@pytest.mark.parametrize("kind", ["after_commit", "after_commit_timeout"])
def test_lost_answer_of_publish_gives_exactly_one_post(rig: Rig, kind: str) -> None:
    """threads_publish made the post but the answer was lost: the container says PUBLISHED, the post is
    found in the account's posts, and nothing is published twice."""
    rig.sandbox.app.inject(PUBLISH, kind, delay=1.6, count=1)
    result = rig.publish(article())
    assert result.status == PUBLISHED, result.error
    (post,) = rig.posts()
    assert len(rig.sent(PUBLISH)) == 1
    assert result.posts[0].id == post["id"]
    assert rig.store.ledger_rows()[0].post_id == post["id"]


def test_a_container_never_published_is_published_not_recreated(rig: Rig) -> None:
    """The publish call fails before it reaches the platform: the next attempt publishes the same container."""
    rig.sandbox.app.inject(PUBLISH, "drop", count=1)
    assert rig.publish(article()).status == PUBLISHED
    assert len(rig.sent(CREATE)) == 1 and len(rig.posts()) == 1


def test_an_expired_container_is_created_again(sandbox: Sandbox) -> None:
    """A kept container that expired (24 h unpublished) is replaced by a new one, then published."""
    kv = MemoryKV()
    adapter = ThreadsAdapter(AccountSettings("threads", credentials=_creds(sandbox), base_url=sandbox.url), kv)
    from bot.publish import _request

    request = _request({"text": "Hello Threads"}, "key-1", None, None)
    sandbox.app.inject(PUBLISH, "error", status=503, count=1)
    with pytest.raises(Exception, match="server error"):
        adapter.publish(request, adapter.prepare(request))
    (first,) = sandbox.app.state["threads"]["containers"].values()
    first["status"] = "EXPIRED"
    ref = adapter.publish(request, {})
    assert len(sandbox.app.state["threads"]["containers"]) == 2 and [p["id"] for p in sandbox.app.posts("threads")] == [
        ref.id]


def _creds(sandbox: Sandbox) -> dict[str, str]:
    env = sandbox.env()
    return {k: env[k] for k in ("THREADS_ACCESS_TOKEN", "THREADS_USER_ID")}


def test_permanent_4xx_is_reported_without_retry(rig: Rig) -> None:
    """A refused token (code 190) is reported at once with the platform's words and a hint."""
    env = {**rig.sandbox.env(), "THREADS_ACCESS_TOKEN": "wrong", "DATABASE_URL": rig.settings.database_url}
    settings = load_settings(env=env, load_dotenv=False)
    (result,) = Publisher(settings, rig.store, backoff=0.01).publish(article(), settings.accounts_for(("threads",)))
    assert result.status == FAILED and result.error
    assert "code 190" in result.error and "THREADS_ACCESS_TOKEN" in result.error
    assert len(rig.sent(CREATE)) == 1 and rig.posts() == []


def test_delete_removes_the_post_and_a_second_delete_says_gone(rig: Rig) -> None:
    result = rig.publish(article())
    adapter = ThreadsAdapter(rig.settings.accounts_for(("threads",))[0], MemoryKV())
    ref: PostRef = result.posts[0]
    assert adapter.delete(ref) is True
    assert rig.posts() == []
    assert adapter.delete(ref) is False
    with pytest.raises(Exception, match="no edit"):
        adapter.edit(ref, _request_for("x"))


def _request_for(text: str) -> Any:
    from bot.publish import _request

    return _request({"text": text}, "k", None, None)


HARD = {
    "emoji": dict(title="Launch day 🚀👩‍👩‍👧‍👦🇺🇳 " * 3,
                  summary="Everything shipped 🎉🎉🎉 👍🏽👍🏽 1️⃣2️⃣3️⃣ 🏳️‍🌈 " * 12),
    "cjk": dict(title="新しいリリースのお知らせ", summary="今日は新しいバージョンを公開しました。" * 40),
    "rtl": dict(title="إصدار جديد של המוצר", summary="هذا نص عربي طويل مع كلمات עבריות and Latin islands. " * 20),
    "long link": dict(url="https://news.example.com/" + "segment/" * 45 + "end", summary="Short summary."),
    "30 tags": dict(tags=tuple(f"Topic{i}Tag" for i in range(30))),
}


@pytest.mark.parametrize("kind", list(HARD))
def test_hard_articles_compose_within_500_by_the_sandboxs_own_count(rig: Rig, kind: str) -> None:
    """Emoji, CJK, RTL, a very long link and 30 tags: the sandbox (its own count, not bot.measure)
    accepts every part."""
    result = rig.publish(article(**HARD[kind]))
    assert result.status == PUBLISHED, result.error
    assert rig.posts() and all(own_length(p["text"]) <= LIMIT for p in rig.posts())
