"""bot.text against the platforms' own conformance vectors and their official libraries' answers.

Data: tests/conformance/ (see SOURCES.md there). Every case of the sections the brief names runs
as its own test with a readable id.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.measure.mastodon import mastodon_length
from bot.measure.x import x_length, x_parse
from bot.text import detect_facets, graphemes
from bot.twitter_text import extract_url_spans

CONFORMANCE = Path(__file__).parent / "conformance"


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:limit] or "case"


def _yaml(name: str) -> dict[str, Any]:
    tests: dict[str, Any] = yaml.safe_load((CONFORMANCE / "twitter-text" / name).read_text("utf-8"))["tests"]
    return tests


def _json(*parts: str) -> Any:
    return json.loads(CONFORMANCE.joinpath(*parts).read_text("utf-8"))


# --- twitter-text validate.yml: weighted length and validity --------------------------------------

_VALIDATE_SECTIONS = {
    "WeightedTweetsCounterTest": ("v2", "v2"),
    "WeightedTweetsWithDiscountedEmojiCounterTest": ("v3", "v3-emoji"),
    "UnicodeDirectionalMarkerCounterTest": ("v3", "v3-directional"),
}
_VALIDATE = _yaml("validate.yml")
_WEIGHT_CASES = [
    pytest.param(config, case, id=f"{label}-{i:02d}-{_slug(case['description'])}")
    for section, (config, label) in _VALIDATE_SECTIONS.items()
    for i, case in enumerate(_VALIDATE[section])
]


def test_every_weighted_section_is_covered() -> None:
    """The three validate.yml sections hold the 44 cases the brief requires."""
    assert len(_WEIGHT_CASES) == 44


@pytest.mark.parametrize(("config", "case"), _WEIGHT_CASES)
def test_validate_weighted_length(config: str, case: dict[str, Any]) -> None:
    """x_parse gives twitter-text's weightedLength and valid for this validate.yml case."""
    expected = (case["expected"]["weightedLength"], case["expected"]["valid"])
    assert x_parse(case["text"], config) == expected


# --- twitter-text extract.yml: which URLs count 23 ------------------------------------------------

_EXTRACT = _yaml("extract.yml")
_URL_CASES = [
    pytest.param(case, id=f"{section}-{i:02d}-{_slug(case['description'])}")
    for section in ("urls", "urls_with_indices", "urls_with_directional_markers", "tco_urls_with_params")
    for i, case in enumerate(_EXTRACT[section])
]


@pytest.mark.parametrize("case", _URL_CASES)
def test_extract_urls(case: dict[str, Any]) -> None:
    """twitter-text finds exactly these URLs (and at these indices) in the text."""
    text = case["text"]
    spans = extract_url_spans(text)
    expected = case["expected"]
    if expected and isinstance(expected[0], dict):
        assert [(text[a:b], [a, b]) for a, b in spans] == [(e["url"], e["indices"]) for e in expected]
    else:
        assert [text[a:b] for a, b in spans] == expected


# --- atproto graphemes ----------------------------------------------------------------------------

_GRAPHEME_CASES = [
    pytest.param(
        case, id=f"{i:02d}-{case['fn']}-{_slug(case['input'].encode('unicode_escape').decode(), 40)}"
    )
    for i, case in enumerate(_json("atproto", "grapheme_cases.json")["cases"])
]


@pytest.mark.parametrize("case", _GRAPHEME_CASES)
def test_grapheme_length(case: dict[str, Any]) -> None:
    """graphemes() counts what @atproto's graphemeLen counts."""
    assert graphemes(case["input"]) == case["expected_graphemes"]


# --- atproto detectFacets -------------------------------------------------------------------------

_FACET_CASES = _json("atproto", "detect_facets_cases.json")
_MENTION = "app.bsky.richtext.facet#mention"


def _links(facets: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    return [
        (f["index"]["byteStart"], f["index"]["byteEnd"], feature["uri"])
        for f in facets
        for feature in f["features"]
        if feature["$type"].endswith("#link")
    ]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c['id']}-{_slug(c['input'], 40)}") for c in _FACET_CASES["segments_cases"]]
)
def test_segments_links(case: dict[str, Any]) -> None:
    """Link facets (byte ranges and URIs) match the upstream segment test; no stray links."""
    assert _links(detect_facets(case["input"])) == _links(case["derived_facets"])


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=f"{c['id']}-{_slug(c['input'], 40)}")
        for c in _FACET_CASES["segments_cases"]
        if any(f["features"][0]["$type"] == _MENTION for f in c["derived_facets"])
    ],
)
def test_segments_mentions(case: dict[str, Any]) -> None:
    """Mention facets: which ``@handle`` spans are mentions, and their byte ranges, match the upstream test.

    A mention needs a handle lookup (a network call in the publisher); here the lookup answers with the
    DIDs the upstream case expects, keyed by the handle at each expected range, and nothing else resolves.
    """
    from bot.mentions import with_mention_facets

    raw = case["input"].encode("utf-8")
    expected = [f for f in case["derived_facets"] if f["features"][0]["$type"] == _MENTION]
    known = {
        raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode("utf-8").lstrip("@").lower(): f["features"][0]["did"]
        for f in expected
    }
    found = [f for f in with_mention_facets(case["input"], [], known.get) if f["features"][0]["$type"] == _MENTION]
    assert [(f["index"], f["features"][0]["did"]) for f in found] == [
        (f["index"], f["features"][0]["did"]) for f in expected
    ]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c['id']}-{_slug(c['input'], 40)}") for c in _FACET_CASES["tag_cases"]]
)
def test_tags(case: dict[str, Any]) -> None:
    """Tag values and the index of every facet match the upstream tag test."""
    facets = detect_facets(case["input"])
    tags = [feature["tag"] for f in facets for feature in f["features"] if feature["$type"].endswith("#tag")]
    assert tags == case["expected_tags"]
    assert [f["index"] for f in facets] == case["expected_indices"]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c['id']}-{_slug(c['input'], 40)}") for c in _FACET_CASES["cashtag_cases"]]
)
def test_cashtags(case: dict[str, Any]) -> None:
    """Cashtag facets ("$" + upper-cased ticker) and their indices match the upstream test."""
    cashtags = [
        (f["index"], feature["tag"])
        for f in detect_facets(case["input"])
        for feature in f["features"]
        if feature["$type"].endswith("#tag") and feature["tag"].startswith("$")
    ]
    assert [tag for _, tag in cashtags] == case["expected_tags"]
    assert [index for index, _ in cashtags] == case["expected_indices"]


# --- the official libraries' answers on a wide corpus ---------------------------------------------

_CORPUS = _json("oracles", "corpus.json")["cases"]


def _mismatches(check: Any) -> list[str]:
    found = []
    for case in _CORPUS:
        problem = check(case)
        if problem:
            found.append(f"{case['text'][:80]!r}: {problem}")
    return found


def test_corpus_is_wide() -> None:
    """The oracle corpus covers thousands of texts, URLs, emoji and tags among them."""
    assert len(_CORPUS) > 4000
    assert sum(1 for c in _CORPUS if c["bluesky"]) > 1000


@pytest.mark.parametrize("config", ["v2", "v3"])
def test_x_matches_twitter_text_js(config: str) -> None:
    """x_parse equals npm twitter-text 3.1.0 parseTweet on every corpus text."""

    def check(case: dict[str, Any]) -> str | None:
        got = list(x_parse(case["text"], config))
        return None if got == case[f"x_{config}"] else f"{got} != {case[f'x_{config}']}"

    bad = _mismatches(check)
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"


def test_x_length_is_never_below_the_official_reading() -> None:
    """x_length (larger reading) is >= twitter-text's own weightedLength for every corpus text."""
    bad = _mismatches(lambda c: None if x_length(c["text"]) >= c["x_v3"][0] else f"{x_length(c['text'])}")
    assert not bad, bad[:5]


def test_x_length_is_never_below_the_emoji12_reading() -> None:
    """x_length is >= twitter-text-parser's (Emoji 12 list) weighted length for every corpus text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from twitter_text import parse_tweet as emoji12_parse_tweet

    bad = _mismatches(
        lambda c: (
            None
            if x_length(c["text"]) >= emoji12_parse_tweet(c["text"]).weightedLength
            else f"{x_length(c['text'])} < {emoji12_parse_tweet(c['text']).weightedLength}"
        )
    )
    assert not bad, bad[:5]


def _compact(facets: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            f["index"]["byteStart"],
            f["index"]["byteEnd"],
            *(
                ["link", x["uri"]] if x["$type"].endswith("#link") else ["tag", x["tag"]]
                for x in f["features"]
            ),
        ]
        for f in facets
    ]


def test_facets_match_atproto_js() -> None:
    """detect_facets equals npm @atproto/api 0.21.0 (mentions aside) on every corpus text."""
    bad = _mismatches(
        lambda c: (
            None if _compact(detect_facets(c["text"])) == c["bluesky"] else f"{detect_facets(c['text'])}"
        )
    )
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"


def test_facets_match_atproto_python_sdk() -> None:
    """detect_facets equals atproto 0.0.73's client_utils.detect_facets (a second port) on the corpus."""
    from atproto import client_utils

    def theirs(text: str) -> list[list[Any]]:
        return [
            [
                f.index.byte_start,
                f.index.byte_end,
                *(["link", x.uri] if hasattr(x, "uri") else ["tag", x.tag] for x in f.features),
            ]
            for f in client_utils.detect_facets(text)
        ]

    bad = _mismatches(
        lambda c: None if _compact(detect_facets(c["text"])) == theirs(c["text"]) else "differs"
    )
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"


def test_mastodon_matches_status_length_validator() -> None:
    """mastodon_length equals the StatusLengthValidator oracle's length on every corpus text."""
    bad = _mismatches(
        lambda c: None if mastodon_length(c["text"]) == c["mastodon"] else f"{mastodon_length(c['text'])}"
    )
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"
