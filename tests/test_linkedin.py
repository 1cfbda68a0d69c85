"""LinkedIn end to end over real HTTP: the adapter (requests) and the CLI against the sandbox's Posts API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.base import AccountSettings, LinkCard, PostRef, PostRequest
from adapters.linkedin import LinkedInAdapter
from bot.article import Article
from bot.cli import main
from bot.compose import ComposeOptions, compose_platform
from bot.errors import Ambiguous, NotSupported, Permanent, RateLimited
from bot.sandbox import Sandbox, credentials
from bot.sandbox import linkedin as judge
from tests.conftest import MemoryKV, image_at
from tests.corpus.generate import CJK, EMOJI, RTL

NAME = "linkedin"


def make(sb: Sandbox, **creds: str) -> LinkedInAdapter:
    own = {k: v for k, v in credentials().items() if k.startswith("LINKEDIN_")} | creds
    return LinkedInAdapter(AccountSettings(NAME, credentials=own, base_url=sb.url, timeout=2.0,
                                           allow_private_network=True), MemoryKV())


@pytest.fixture
def adapter(sandbox: Sandbox) -> Iterator[LinkedInAdapter]:
    a = make(sandbox)
    yield a
    a.close()


def request(text: str, **fields: Any) -> PostRequest:
    return PostRequest(text=text, idempotency_key="a:linkedin:default:0", **fields)


def test_single_post_goes_over_the_wire_as_the_posts_api_wants(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    ref = adapter.publish(request("Hello LinkedIn"), {})
    (sent,) = sandbox.app.received("linkedin.posts.create")
    assert sent.header("authorization") == "Bearer sandbox-linkedin-token"
    assert sent.header("linkedin-version") == "202411" and sent.header("x-restli-protocol-version") == "2.0.0"
    assert sent.json() == {
        "author": "urn:li:person:sandbox", "commentary": "Hello LinkedIn", "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    (post,) = sandbox.app.posts(NAME)
    assert ref.id == post["id"] and ref.url == f"https://www.linkedin.com/feed/update/{post['id']}"


def test_reserved_characters_are_escaped_and_arrive_whole(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    """Escaped, the post arrives whole; the same text unescaped is cut by LinkedIn at the first "(" (201 all
    the same), which the sandbox emulates."""
    text = "Release (v2) by @alice: 50% off_now #python [docs] <b> a|b {x} ~ * \\ done"
    adapter.publish(request(text), {})
    (post,) = sandbox.app.posts(NAME)
    assert post["text"] == text and not post["truncated"]
    assert "\\(v2\\)" in post["sent"] and "\\#python" in post["sent"] and "\\\\ done" in post["sent"]
    raw = requests.post(f"{sandbox.url}/rest/posts", timeout=5, headers={
        "Authorization": "Bearer sandbox-linkedin-token", "LinkedIn-Version": "202411",
        "X-Restli-Protocol-Version": "2.0.0"}, json={**sandbox.app.received("linkedin.posts.create")[0].json(),
                                                     "commentary": text})
    assert raw.status_code == 201
    cut = sandbox.app.posts(NAME)[-1]
    assert cut["truncated"] and cut["text"] == "Release "


def test_hashtags_go_as_escaped_plain_text(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    a = Article(title="Tags", url="https://blog.example.com/t", summary="A post.", body="A post.",
                tags=("Python", "OpenSource", "node.js"), lang="en")
    (post,) = compose_platform(a, NAME, ComposeOptions()).posts
    assert "#Python" in post.text and "#OpenSource" in post.text
    adapter.publish(request(post.text), {})
    (stored,) = sandbox.app.posts(NAME)
    assert "\\#Python \\#OpenSource" in stored["sent"] and "#Python #OpenSource" in stored["text"]


def test_link_preview_is_an_article_share_with_an_uploaded_thumbnail(sandbox: Sandbox,
                                                                       adapter: LinkedInAdapter) -> None:
    card = LinkCard("https://blog.example.com/p/1", "The title", "The description", sandbox.sample_image_url,
                    thumb=image_at(NAME, sandbox.sample_image_url))
    adapter.publish(request("Read it https://blog.example.com/p/1", card=card), {})
    (post,) = sandbox.app.posts(NAME)
    urn = post["article"]["thumbnail"]
    assert post["article"] == {"source": "https://blog.example.com/p/1", "title": "The title",
                               "description": "The description", "thumbnail": urn}
    assert urn.startswith("urn:li:image:") and sandbox.app.state[NAME]["images"][urn]["bytes"].startswith(b"\x89PNG")
    (init,) = sandbox.app.received("linkedin.images.initialize")
    assert init.arg("action") == "initializeUpload"


def test_image_without_a_card_is_a_media_post(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    adapter.publish(request("A picture", image=image_at(NAME, sandbox.sample_image_url, "a chart")), {})
    (post,) = sandbox.app.posts(NAME)
    assert post["media"]["id"].startswith("urn:li:image:") and post["article"] is None


def test_429_is_rate_limited_until_midnight_utc_and_quota_says_so(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    sandbox.app.set_quota(NAME, "member", 1, 86400)
    adapter.publish(request("one"), {})
    assert adapter.quota() is None
    with pytest.raises(RateLimited) as caught:
        adapter.publish(request("two"), {})
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    assert caught.value.retry_at == midnight
    quota = adapter.quota()
    assert quota is not None and quota.remaining == 0 and quota.reset_at == midnight


def test_429_with_retry_after_is_honoured(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    sandbox.app.state[NAME]["config"]["retry_after"] = True
    sandbox.app.inject("linkedin.posts.create", "rate_limit", reset_in=120)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(request("one"), {})
    assert caught.value.retry_at is not None
    assert timedelta(seconds=100) < caught.value.retry_at - datetime.now(UTC) < timedelta(seconds=121)


@pytest.mark.parametrize(("creds", "status"), [
    ({"LINKEDIN_ACCESS_TOKEN": "wrong"}, 401), ({"LINKEDIN_VERSION": "202301"}, 426),
    ({"LINKEDIN_AUTHOR": "urn:li:person:someone-else"}, 403)])
def test_permanent_4xx_is_reported_with_what_linkedin_said(sandbox: Sandbox, creds: dict[str, str],
                                                            status: int) -> None:
    a = make(sandbox, **creds)
    with pytest.raises(Permanent) as caught:
        a.publish(request("x"), {})
    assert caught.value.status == status and "wrong" not in str(caught.value)
    assert sandbox.app.posts(NAME) == []


def test_over_3000_units_is_refused_by_the_sandbox(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    with pytest.raises(Permanent) as caught:
        adapter.publish(request("🙂" * 1501), {})  # 1,501 code points, 3,002 UTF-16 units
    assert caught.value.status == 400 and "3002" in str(caught.value)


def test_lost_reply_after_commit_reconciles_to_the_one_post(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    card = LinkCard("https://blog.example.com/p/2", "T", "D")
    sandbox.app.inject("linkedin.posts.create", "after_commit")
    post = request("Exactly (once)", card=card)
    with pytest.raises(Ambiguous):
        adapter.publish(post, {})
    found = adapter.reconcile(post, {})
    (stored,) = sandbox.app.posts(NAME)
    assert found is not None and found.id == stored["id"]
    assert adapter.reconcile(request("Exactly (once)", card=LinkCard("https://other.example/", "T", "D")), {}) is None


def test_without_read_permission_the_resend_meets_duplicate_detection(sandbox: Sandbox,
                                                                      adapter: LinkedInAdapter) -> None:
    sandbox.app.state[NAME]["config"]["can_read"] = False
    sandbox.app.inject("linkedin.posts.create", "after_commit")
    with pytest.raises(Ambiguous):
        adapter.publish(request("once"), {})
    assert adapter.reconcile(request("once"), {}) is None
    ref = adapter.publish(request("once"), {})
    (stored,) = sandbox.app.posts(NAME)
    assert ref.id == stored["id"]


def test_5xx_on_create_is_ambiguous_and_delete_is_idempotent(sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    sandbox.app.inject("linkedin.posts.create", "error", status=503)
    with pytest.raises(Ambiguous):
        adapter.publish(request("x"), {})
    ref = adapter.publish(request("x"), {})
    assert adapter.delete(ref) is True and sandbox.app.posts(NAME) == []
    (gone,) = sandbox.app.received("linkedin.posts.delete")
    assert gone.path == "/rest/posts/" + ref.id.replace(":", "%3A")
    assert adapter.delete(PostRef(NAME, "urn:li:share:1", "")) is False
    with pytest.raises(NotSupported):
        adapter.edit(ref, request("y"))


def _cli(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key, value in {**sb.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       "CROSSPOST_RATE_LIMIT_WAIT": "0"}.items():
        monkeypatch.setenv(key, value)
    article = tmp_path / "a.md"
    article.write_text(f"---\ntitle: Hello (world)\nurl: https://blog.example.com/p/9\nimage: {sb.sample_image_url}\n"
                       "tags: [Python, Testing]\n---\n\nA summary with #hash and @at (parens).\n", encoding="utf-8")
    return article


@pytest.mark.parametrize("fault", [{"kind": "after_commit"}, {"kind": "error", "status": 502}])
def test_cli_publishes_exactly_one_post_through_faults(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       fault: dict[str, Any]) -> None:
    article = _cli(sandbox, monkeypatch, tmp_path)
    assert main([str(article), "--dry-run", "--json", "--platform", NAME]) == 0
    (plan,) = json.loads(capsys.readouterr().out)["platforms"]
    sandbox.app.inject("linkedin.posts.create", **fault)
    assert main([str(article), "--platform", NAME]) == 0
    (post,) = sandbox.app.posts(NAME)
    assert post["text"] == plan["posts"][0]["text"] and not post["truncated"]
    assert post["article"]["source"].startswith("https://blog.example.com/p/9") and post["article"]["thumbnail"]
    resent = {"after_commit": 1, "error": 2}[fault["kind"]]  # found by reconciling: no second create
    assert len(sandbox.app.received("linkedin.posts.create")) == resent
    assert len(sandbox.app.received("linkedin.posts.find")) == 1  # reconciled before any resend


def _kinds() -> dict[str, Article]:
    def a(title: str, summary: str, url: str = "https://blog.example.com/p/k", tags: tuple[str, ...] = ()) -> Article:
        return Article(title=title, url=url, summary=summary, body=summary, tags=tags, lang="en")

    return {
        "emoji": a("Emoji " + "".join(EMOJI), " ".join(EMOJI * 150)),
        "cjk": a(CJK[0], "".join(CJK * 200)),
        "rtl": a(RTL[0], " ".join(RTL * 150)),
        "long links": a("Links (many)", " ".join(f"https://x.example/{'a_b' * 40}/{i}" for i in range(40)),
                        url="https://blog.example.com/" + "very_long_path/" * 60),
        "30 tags": a("Tags #1 @all", "Thirty tags follow. " * 120, tags=tuple(f"Tag{i}x" for i in range(30))),
    }


@pytest.mark.parametrize("kind", list(_kinds()))
def test_hidden_article_kinds_fit_by_the_sandbox_measure(kind: str, sandbox: Sandbox, adapter: LinkedInAdapter) -> None:
    """Each kind, longer than 3,000, composes into a post the sandbox (its own UTF-16 count of the escaped
    commentary) accepts whole."""
    (post,) = compose_platform(_kinds()[kind], NAME, ComposeOptions()).posts
    adapter.publish(request(post.text), {})
    (stored,) = sandbox.app.posts(NAME)
    assert stored["text"] == post.text and not stored["truncated"]
    assert judge.units(stored["sent"]) <= judge.MAX_COMMENTARY
    assert _kinds()[kind].url in post.text  # the canonical link whole
    if kind != "long links":  # there the summary is links that cannot be cut: it is left out
        assert judge.units(stored["sent"]) > 2000
