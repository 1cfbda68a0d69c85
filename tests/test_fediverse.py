"""Every Mastodon-API server software the sandbox plays: the right limit, said; counting by the server's
own rule at the boundary; exactly once without Idempotency-Key; a refused part fixed by a rerun; and an
instance that does not answer. The sandbox's flavours are written from each software's code, apart from
crosspost's ``bot.fediverse`` (the judge is independent of what it judges)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.base import AccountSettings, PostRequest
from adapters.mastodon import MastodonAdapter
from bot import fediverse
from bot.article import Article
from bot.cli import main
from bot.compose import ComposeOptions
from bot.config import Settings, load_settings
from bot.errors import Permanent
from bot.publish import FAILED, PUBLISHED, Publisher
from bot.sandbox import Sandbox, credentials
from bot.sandbox.flavors import FLAVOR_NAMES, FLAVORS
from bot.store import connect
from tests.conftest import MemoryKV

LIMIT = 300


@pytest.fixture(params=FLAVOR_NAMES)
def played(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(options={"mastodon": {"max_characters": LIMIT, "flavor": request.param}}) as sb:
        yield sb


def flavor_of(sb: Sandbox) -> str:
    return str(sb.app.state["mastodon"]["config"]["flavor"])


def adapter(sb: Sandbox) -> MastodonAdapter:
    settings = AccountSettings(platform="mastodon", credentials={"MASTODON_ACCESS_TOKEN":
                               credentials()["MASTODON_ACCESS_TOKEN"]}, base_url=sb.url, timeout=5.0)
    return MastodonAdapter(settings, MemoryKV())


def settings_for(sb: Sandbox, tmp_path: Path) -> Settings:
    env = {**sb.env(), "CROSSPOST_TIMEOUT": "2", "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    return load_settings(env=env, load_dotenv=False)


def long_article(n: int = 1, words: int = 120) -> Article:
    summary = " ".join(f"漢字{i} 👨‍👩‍👧‍👦 word{i}." for i in range(words))
    return Article(title=f"Fediverse article {n}", url=f"https://news.example.com/2026/{'long-path-' * 12}{n}",
                   summary=summary, body=summary, tags=("Fediverse",), lang="en")


def filled(rule: fediverse.ServerRule, url_weight: int, limit: int) -> str:
    """A post of exactly ``limit`` by ``rule``: a long link, ZWJ family emoji, CJK, then padding."""
    text = f"漢字かな 👨‍👩‍👧‍👦 👩🏽‍💻 https://news.example.com/{'segment/' * 20}end 👨‍👩‍👧‍👦 "
    while rule.measure(text + "x", url_weight) <= limit:
        text += "x"
    assert rule.measure(text, url_weight) == limit
    return text


# --- the dry run says the limit and where it came from --------------------------------------------
def test_dry_run_reports_the_flavours_limit_and_source(played: Sandbox, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """limit 300 (<software> <version>, announced), in text and in --json, read from the server."""
    monkeypatch.chdir(tmp_path)
    for name, value in {**played.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}.items():
        monkeypatch.setenv(name, value)
    article_file = tmp_path / "post.txt"
    article_file.write_text("A title\n\nA short summary of the article.\n", encoding="utf-8")
    name = flavor_of(played)
    args = [str(article_file), "--url", "https://news.example.com/a", "--platform", "mastodon", "--dry-run"]
    assert main([*args, "--json"]) == 0
    [plan] = json.loads(capsys.readouterr().out)["platforms"]
    assert plan["limit"] == LIMIT
    version = fediverse._short_version(FLAVORS[name].version)
    assert plan["limit_source"] == f"{name} {version}, announced"
    assert plan["software"] == f"{name} {version}"
    assert main(args) == 0
    assert f"limit {LIMIT} ({name} {version}, announced;" in capsys.readouterr().out
    assert played.app.received("mastodon.nodeinfo.document")
    assert all(not r.path.endswith("/") for r in played.app.received("mastodon.instance.*"))


# --- counting by the server's rule, at the boundary -------------------------------------------------
def test_a_post_filled_to_the_limit_is_accepted_and_one_more_is_refused(played: Sandbox) -> None:
    """Exactly the limit by crosspost's rule for this software: accepted; one character more: refused."""
    a = adapter(played)
    try:
        server = fediverse.decide(a.server_facts())
        assert server.rule.name == flavor_of(played) and server.limit == LIMIT
        text = filled(server.rule, server.url_weight, LIMIT)
        a.publish(PostRequest(text=text, idempotency_key="cp-fill"), {})
        assert played.app.posts("mastodon")[-1]["text"] == text
        with pytest.raises(Permanent):
            a.publish(PostRequest(text=text + "x", idempotency_key="cp-fill-plus-one"), {})
        assert len(played.app.posts("mastodon")) == 1
    finally:
        a.close()


def test_crosspost_never_sends_a_post_over_the_servers_limit(played: Sandbox, tmp_path: Path) -> None:
    """A long article (CJK, ZWJ emoji, a long link) is fitted by the server's rule: one post, no refusal."""
    settings = settings_for(played, tmp_path)
    store = connect(settings.database_url)
    try:
        accounts = settings.accounts_for(("mastodon",))
        [result] = Publisher(settings, store, backoff=0.01).publish(long_article(), accounts)
    finally:
        store.close()
    assert result.status == PUBLISHED, result.error
    assert len(played.app.posts("mastodon")) == len(played.app.received("mastodon.statuses.create")) == 1


# --- exactly once without Idempotency-Key ----------------------------------------------------------
def test_a_lost_reply_after_commit_leaves_exactly_one_status(played: Sandbox, tmp_path: Path) -> None:
    """The answer to the created status is lost: one status afterwards, and the ledger holds its id."""
    settings = settings_for(played, tmp_path)
    store = connect(settings.database_url)
    played.app.inject("mastodon.statuses.create", "after_commit")
    try:
        [result] = Publisher(settings, store, backoff=0.01).publish(long_article(words=3),
                                                                    settings.accounts_for(("mastodon",)))
        [row] = [r for r in store.ledger_rows() if r.platform == "mastodon"]
    finally:
        store.close()
    [status] = played.app.posts("mastodon")
    assert result.status == PUBLISHED, result.error
    assert row.post_id == status["id"] == result.posts[0].id


# --- refused, then fixed by the settings and a plain rerun -------------------------------------------
def test_a_refused_part_is_composed_again_with_the_new_settings(played: Sandbox, tmp_path: Path) -> None:
    """Too long for the server (a wrong configured limit), limit lowered, plain rerun: one status, new text."""
    base = settings_for(played, tmp_path)
    store = connect(base.database_url)
    article = long_article()
    try:
        wrong = replace(base, compose={"mastodon": ComposeOptions(limit=LIMIT * 3)})
        [first] = Publisher(wrong, store, backoff=0.01).publish(article, wrong.accounts_for(("mastodon",)))
        assert first.status == FAILED and not played.app.posts("mastodon")
        fixed = replace(base, compose={"mastodon": ComposeOptions(limit=LIMIT - 20)})
        [second] = Publisher(fixed, store, backoff=0.01).publish(article, fixed.accounts_for(("mastodon",)))
        [row] = [r for r in store.ledger_rows() if r.platform == "mastodon"]
    finally:
        store.close()
    assert second.status == PUBLISHED, second.error
    [status] = played.app.posts("mastodon")
    assert status["text"] == row.text
    rule = fediverse.rule_for(flavor_of(played))
    assert rule.measure(status["text"], 23) <= LIMIT - 20
    # A new text is a new request: a server that kept the refused request under its key must not replay it.
    keys = [r.headers.get("idempotency-key") for r in played.app.requests
            if r.method == "POST" and r.path.rstrip("/").endswith("/statuses")]
    assert len(keys) >= 2 and keys[0] != keys[-1] and row.idempotency_key == keys[-1]


# --- an instance that does not answer ----------------------------------------------------------------
@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_an_unreachable_instance_still_posts_conservatively_and_says_so(flavor: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """NodeInfo and both instance documents 404: UTF-16 units, links in full, 500, and the dry run says so."""
    with Sandbox(options={"mastodon": {"max_characters": 500, "flavor": flavor}}) as sb:
        config: dict[str, Any] = sb.app.state["mastodon"]["config"]
        config.update(nodeinfo=False, instance_v1=False, instance_v2=False)
        settings = settings_for(sb, tmp_path)
        store = connect(settings.database_url)
        try:
            [result] = Publisher(settings, store, backoff=0.01).publish(long_article(),
                                                                        settings.accounts_for(("mastodon",)))
        finally:
            store.close()
        assert result.status == PUBLISHED, result.error
        [status] = sb.app.posts("mastodon")
        assert len(status["text"]) <= 500
        monkeypatch.chdir(tmp_path)
        for name, value in {**sb.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}.items():
            monkeypatch.setenv(name, value)
        article_file = tmp_path / "post.txt"
        article_file.write_text("A title\n\nA summary.\n", encoding="utf-8")
        assert main([str(article_file), "--url", "https://news.example.com/a", "--platform", "mastodon",
                     "--dry-run"]) == 0
        assert "limit 500 (assumed: the instance did not answer; counted in UTF-16 units)" in capsys.readouterr().out


def test_the_takahe_flavour_refuses_the_trailing_slash_paths(tmp_path: Path) -> None:
    """Takahē 0.11 answers /api/v1/instance but 404s /api/v1/instance/ (what Mastodon.py 2.3.3 asks)."""
    import httpx

    with Sandbox(options={"mastodon": {"flavor": "takahe"}}) as sb:
        assert httpx.get(sb.url + "/api/v1/instance").status_code == 200
        assert httpx.get(sb.url + "/api/v1/instance/").status_code == 404


# --- each row's rule on sample texts, against numbers worked out by hand from the software's code -----
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # 4 astral emoji joined by 3 ZWJ
CJK = "\U00020BB7野家の牛丼"  # 𠮷 is astral (a surrogate pair in UTF-16), the other five are in the BMP
LINK_199 = "https://news.example.com/" + "a" * 174  # 25 + 174 = 199 ASCII characters
MENTION = "@alice@remote.example hi"  # 21 + 3 = 24 characters; Mastodon would count "@alice hi" (9)

# (family, CJK, 199-character link, remote mention) per NodeInfo name, worked out by hand:
# - Iceshrimp.NET, NoteService.CreateNoteAsync: C# ``Text.Length`` counts UTF-16 code units, so each
#   astral character is 2: family 4*2 + 3 = 11, CJK 2 + 5 = 7; links and mentions are plain text: 199, 24.
# - Sharkey, notes/create: JavaScript ``text.length``, the same UTF-16 units: 11, 7, 199, 24.
# - Friendica (Statuses::post) and snac (mastoapi_post_handler) check no length at all; crosspost counts
#   code points against the number they announce: family 7, CJK 6, 199, 24.
# - an unknown server: UTF-16 units, links in full (the largest of the units above): 11, 7, 199, 24.
HAND_COUNTS = {
    "iceshrimp.net": (11, 7, 199, 24),
    "sharkey": (11, 7, 199, 24),
    "friendica": (7, 6, 199, 24),
    "snac": (7, 6, 199, 24),
    "Iceshrimp.NET": (11, 7, 199, 24),  # NodeInfo spells it so; the adapter lower-cases it, rule_for too
    None: (11, 7, 199, 24),
}


@pytest.mark.parametrize("software", list(HAND_COUNTS))
def test_each_rows_rule_counts_the_samples_as_its_software_does(software: str | None) -> None:
    rule = fediverse.rule_for(software)
    got = tuple(rule.measure(sample, 23) for sample in (FAMILY, CJK, LINK_199, MENTION))
    assert got == HAND_COUNTS[software]
    assert rule.measure(f"see {LINK_199}", 23) == 4 + 199  # no server here applies the announced 23


def test_the_three_rows_read_in_code_are_marked_verified_with_their_promises() -> None:
    """Iceshrimp.NET keeps the key 24 h (StatusController.PostNote); Sharkey, Friendica, snac never read it."""
    promises = {name: fediverse.rule_for(name).honours_idempotency_key
                for name in ("iceshrimp.net", "sharkey", "friendica", "snac")}
    assert promises == {"iceshrimp.net": True, "sharkey": False, "friendica": False, "snac": False}
    assert all(fediverse.rule_for(name).verified for name in promises)
    assert not fediverse.rule_for("iceshrimp").verified  # the JavaScript Iceshrimp: not read


@pytest.mark.parametrize(("status", "message"), [
    (422, "Text & content warning cannot exceed 300 characters in total"),  # Iceshrimp.NET NoteService
    (400, "MAX_LENGTH"),  # Sharkey: Misskey's ApiError code, the ``error`` Mastodon.py reports
])
def test_the_refusal_wordings_of_iceshrimp_net_and_sharkey_are_length_refusals(status: int, message: str) -> None:
    assert fediverse.is_length_refusal(status, message)
    assert not fediverse.is_length_refusal(500, message)
