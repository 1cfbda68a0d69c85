"""normalise_hashtag / hashtag_key: CMS tag names to hashtags valid on X, Bluesky and Mastodon."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import platforms
from bot.facets import is_bluesky_tag
from bot.measure.mastodon import is_mastodon_hashtag
from bot.text import detect_facets, hashtag_key, normalise_hashtag
from bot.twitter_text import is_x_hashtag

TABLE = [
    ("AI For Good", "AIForGood"),
    ("machine learning", "MachineLearning"),
    ("deep learning", "DeepLearning"),
    ("node.js", "nodejs"),
    ("#OpenAI", "OpenAI"),
    ("＃OpenAI", "OpenAI"),
    ("##OpenAI", "OpenAI"),
    ("  Python  ", "Python"),
    ("iPhone", "iPhone"),
    ("C++", "cpp"),
    ("c#", "csharp"),
    ("F#", "fsharp"),
    (".NET", "dotnet"),
    ("open-source", "OpenSource"),
    ("Women's Health", "WomensHealth"),
    ("Science·Fiction", "ScienceFiction"),
    ("R&D", "RD"),
    ("Web 3", "Web3"),
    ("3d printing", "3dPrinting"),
    ("snake_case_", "snake_case"),
    ("_private", "_private"),
    ("ＡＩ", "AI"),
    ("ﬁnance", "finance"),
    ("Ⅻ", "XII"),
    ("e\u0301cole", "école"),
    ("Ünïcödé", "Ünïcödé"),
    ("İstanbul", "İstanbul"),
    ("機械学習", "機械学習"),
    ("機械 学習", "機械学習"),
    ("مرحبا بالعالم", "مرحبابالعالم"),
    ("שלום עולם", "שלוםעולם"),
    ("नमस्ते दुनिया", "नमस्तेदुनिया"),
    ("日本\u200c語", "日本語"),
    ("x" * 64, "x" * 64),
    ("2026", None),
    ("", None),
    ("   ", None),
    ("#", None),
    ("🤖", None),
    ("🤖 🦋", None),
    ("100%", None),
    ("$AAPL", None),
    ("@user", None),
    ("C++ tips", None),
    ("²", None),
    ("x" * 65, None),
    ("abc\u0560", None),  # a letter newer than twitter-text's tables: X would cut the tag
]


@pytest.mark.parametrize(
    ("tag", "expected"), [pytest.param(t, e, id=f"{i:02d}-{t!r}") for i, (t, e) in enumerate(TABLE)]
)
def test_normalise_hashtag_table(tag: str, expected: str | None) -> None:
    """normalise_hashtag turns CMS tag names into these hashtags (or refuses them)."""
    assert normalise_hashtag(tag) == expected


@pytest.mark.parametrize("name", platforms.names())
def test_every_result_is_a_hashtag_on_each_registered_platform(name: str) -> None:
    """normalise_hashtag keeps only what every registered platform takes whole: each result of the table
    passes each platform's own rule (LinkedIn's takes marks, so a Devanagari tag is kept)."""
    platform = platforms.get(name)
    assert [t for _, t in TABLE if t is not None and not platform.accepts_hashtag(t)] == []


@pytest.mark.parametrize("tag", [e for _, e in TABLE if e is not None])
def test_every_result_is_a_whole_hashtag_everywhere(tag: str) -> None:
    """Each normalised tag is taken whole by twitter-text, by atproto's detectFacets and by Mastodon."""
    assert is_x_hashtag(tag)
    assert is_bluesky_tag(tag)
    assert is_mastodon_hashtag(tag)
    facets = detect_facets(f"#{tag} ")
    assert [f["features"][0]["tag"] for f in facets] == [tag]


@pytest.mark.parametrize(
    ("tag", "x", "bluesky", "mastodon"),
    [
        pytest.param("tag_", True, False, True, id="trailing-underscore-cut-by-bluesky"),
        pytest.param("1234", False, False, False, id="digits-only"),
        pytest.param("a-b", False, True, False, id="hyphen-only-bluesky"),
        pytest.param("node.js", False, True, False, id="dot"),
        pytest.param("abc\u0560", False, True, True, id="letter-newer-than-twitter-text"),
        pytest.param("١٢٣", False, True, False, id="arabic-digits-only"),
    ],
)
def test_platform_rules_disagree(tag: str, x: bool, bluesky: bool, mastodon: bool) -> None:
    """The three recognisers differ exactly where the platforms do, which is why all three are asked."""
    assert (is_x_hashtag(tag), is_bluesky_tag(tag), is_mastodon_hashtag(tag)) == (x, bluesky, mastodon)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalised_tags_always_valid(raw: str) -> None:
    """Whatever the input, the result is None or a tag every platform takes whole, with a letter."""
    tag = normalise_hashtag(raw)
    if tag is None:
        return
    assert tag and not tag.startswith("#")
    assert is_x_hashtag(tag) and is_bluesky_tag(tag) and is_mastodon_hashtag(tag)
    assert any(ch.isalpha() for ch in tag)


def test_hashtag_key_folds_case_and_hash() -> None:
    """hashtag_key makes "#AI", "ai" and full-width "ＡＩ" one key, and Straße equal to STRASSE."""
    assert hashtag_key("#AI") == hashtag_key("ai") == hashtag_key("ＡＩ") == "ai"
    assert hashtag_key("Straße") == hashtag_key("STRASSE")
    assert hashtag_key("AI") != hashtag_key("AL")
