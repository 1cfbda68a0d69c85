"""Unit tests of bot.text: each platform's counting rule, facets and display links."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from bot.measure.bluesky import bluesky_facets, bluesky_length
from bot.measure.mastodon import mastodon_length
from bot.measure.x import x_length, x_parse
from bot.text import URL_WEIGHT, detect_facets, graphemes, shorten_url_for_display, utf8_len

X_LIMIT, BLUESKY_GRAPHEMES, BLUESKY_BYTES, MASTODON_DEFAULT_LIMIT = 280, 300, 3000, 500

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy (ZWJ)
FLAG_FR = "\U0001f1eb\U0001f1f7"
THUMB_MEDIUM = "\U0001f44d\U0001f3fd"  # thumbs up + skin tone
HEART_ON_FIRE = "\u2764\ufe0f\u200d\U0001f525"  # Emoji 13.1: not in twitter-text's list
MX_CLAUS = "\U0001f9d1\u200d\U0001f384"  # Emoji 13.0
LONG_URL = "https://example.com/articles/" + "a" * 171  # 200 characters
assert len(LONG_URL) == 200


def test_limits() -> None:
    """The platform limits are the documented ones."""
    assert (X_LIMIT, BLUESKY_GRAPHEMES, BLUESKY_BYTES, MASTODON_DEFAULT_LIMIT, URL_WEIGHT) == (
        280,
        300,
        3000,
        500,
        23,
    )


# --- X --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("hello", 5, id="ascii"),
        pytest.param("", 0, id="empty"),
        pytest.param(FAMILY, 2, id="zwj-family-is-one-emoji"),
        pytest.param(FLAG_FR, 2, id="flag"),
        pytest.param(THUMB_MEDIUM, 2, id="skin-tone"),
        pytest.param("故人西辞黄鹤楼", 14, id="cjk-weighs-2"),
        pytest.param("שלום עולם", 9, id="hebrew-rtl-weighs-1"),
        pytest.param("مرحبا", 5, id="arabic-rtl-below-u10ff-weighs-1"),
        pytest.param("e\u0301", 1, id="combining-accent-nfc-to-one"),
        pytest.param("नमस्ते", 6, id="devanagari-six-code-points"),
        pytest.param("ᚠᛇᚻ", 6, id="runic-above-u10ff-weighs-2"),
        pytest.param("—", 1, id="em-dash-light"),
        pytest.param("…", 2, id="ellipsis-heavy"),
        pytest.param(HEART_ON_FIRE, 5, id="emoji-13-sequence-counts-its-parts"),
        pytest.param(MX_CLAUS, 5, id="emoji-13-zwj-counts-its-parts"),
        pytest.param("©", 2, id="bare-copyright-larger-reading"),
        pytest.param("©\ufe0f", 2, id="emoji-copyright"),
    ],
)
def test_x_length(text: str, expected: int) -> None:
    """x_length weighs characters and emoji as twitter-text (larger reading) does."""
    assert x_length(text) == expected


def test_x_parse_keeps_the_official_reading_of_copyright() -> None:
    """x_parse answers what twitter-text says (1) even where x_length counts the larger reading (2)."""
    assert x_parse("©") == (1, True)
    assert x_length("©") == 2


def test_x_v2_counts_emoji_by_code_point() -> None:
    """Config v2 has no emoji parsing: a ZWJ family weighs 4 x 2 + 3 ZWJ x 1."""
    assert x_parse(FAMILY, "v2") == (11, True)
    assert x_parse(FAMILY, "v3") == (2, True)


def test_x_unknown_config() -> None:
    """An unknown config name is refused rather than silently counted as v3."""
    with pytest.raises(ValueError, match="v4"):
        x_parse("x", "v4")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(LONG_URL, id="200-char-https"),
        pytest.param("http://t.co/abc123", id="short-tco"),
        pytest.param("example.com/" + "p" * 188, id="200-char-bare-domain"),
        pytest.param("news.example.com", id="bare-domain-known-tld"),
        pytest.param("https://münchen.de/straße", id="idn"),
    ],
)
def test_x_urls_count_23(url: str) -> None:
    """Every URL twitter-text recognises counts 23, whatever its length."""
    assert x_length(url) == 23
    assert x_length(f"Read {url} now") == 5 + 23 + 4


def test_x_unknown_tld_is_not_a_url() -> None:
    """https://news.example/x is counted in full: .example is not in twitter-text's TLD list."""
    assert x_length("https://news.example/x") == 22
    assert x_length("https://news.example.com/x") == 23


def test_x_limit_boundary() -> None:
    """280 weighted characters are valid, 281 are not, and neither is an empty post."""
    assert x_parse("a" * 280) == (280, True)
    assert x_parse("a" * 281) == (281, False)
    assert x_parse("") == (0, False)
    assert x_parse("a\ufffe") == (3, False)


# --- graphemes, bytes, Bluesky --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        pytest.param(FAMILY, 1, id="zwj-family"),
        pytest.param(FLAG_FR + FLAG_FR, 2, id="two-flags"),
        pytest.param(THUMB_MEDIUM, 1, id="skin-tone"),
        pytest.param("e\u0301", 1, id="combining-mark"),
        pytest.param("a\u0301\u0302\u0303", 1, id="stacked-marks"),
        pytest.param("नमस्ते", 3, id="devanagari-conjunct"),
        pytest.param("故人西辞", 4, id="cjk"),
        pytest.param("مرحبا", 5, id="arabic"),
        pytest.param("a\r\nb", 3, id="crlf-is-one"),
        pytest.param("", 0, id="empty"),
    ],
)
def test_graphemes(text: str, count: int) -> None:
    """graphemes() counts extended grapheme clusters (UAX #29, current Unicode)."""
    assert graphemes(text) == count
    assert bluesky_length(text) == count


@pytest.mark.parametrize(
    ("text", "size"),
    [("abc", 3), ("é", 2), ("故", 3), (FAMILY, 25), ("\U0001f525", 4), ("", 0)],
)
def test_utf8_len(text: str, size: int) -> None:
    """utf8_len is the UTF-8 byte count (Bluesky's second limit)."""
    assert utf8_len(text) == size


def test_bluesky_counts_urls_as_written() -> None:
    """Bluesky has no URL discount: a 200-character URL counts 200."""
    assert bluesky_length(LONG_URL) == 200


# --- Mastodon -------------------------------------------------------------------------------------


def test_mastodon_long_url_counts_23() -> None:
    """A 200-character http(s) URL counts 23 on Mastodon, or the instance's url_length."""
    assert mastodon_length(LONG_URL) == 23
    assert mastodon_length(f"Read {LONG_URL} now") == 5 + 23 + 4
    assert mastodon_length(LONG_URL, url_length=30) == 30


def test_mastodon_bare_domain_counts_as_written() -> None:
    """Mastodon only shortens URLs with a scheme: bare domains count as written."""
    assert mastodon_length("news.example.com") == 16
    assert mastodon_length("example.com/" + "p" * 188) == 200


def test_mastodon_unknown_tld_counts_as_written() -> None:
    """A URL whose TLD is not in the list is not linked, so it counts in full."""
    assert mastodon_length("https://news.example/x") == 22
    assert mastodon_length("https://localhost/" + "x" * 30) == 48


def test_mastodon_other_schemes_count_23() -> None:
    """Mastodon links gemini://, ipfs:// and the like too, and counts them 23."""
    assert mastodon_length("gemini://example.com/" + "g" * 50) == 23
    assert mastodon_length("ftp://example.com/" + "f" * 50) == 68


def test_mastodon_mention_counts_as_local_part() -> None:
    """@user@mastodon.social counts as @user (6), a local @user as written."""
    assert mastodon_length("@user@mastodon.social") == 5
    assert mastodon_length("hi @alice@mastodon.social and @bob") == len("hi @alice and @bob")


def test_mastodon_mention_rules() -> None:
    """Mentions glued to a word or an e-mail address are not mentions; a 254+ char domain is not."""
    assert mastodon_length("me@alice@example.com") == 20
    assert mastodon_length("@user@" + "a" * 250 + ".com") == 6 + 254


def test_mastodon_counts_graphemes() -> None:
    """Everything else counts in grapheme clusters: a ZWJ family is 1, a flag is 1."""
    assert mastodon_length(FAMILY + FLAG_FR + THUMB_MEDIUM) == 3
    assert mastodon_length("故人西辞") == 4


def test_mastodon_counts_indic_conjuncts_as_ruby_does() -> None:
    """Ruby (Unicode 15.0) splits a Devanagari conjunct that Bluesky (15.1+) keeps whole."""
    assert mastodon_length("नमस्ते") == 4
    assert bluesky_length("नमस्ते") == 3


def test_mastodon_blank_is_zero() -> None:
    """A whitespace-only status counts 0 (Mastodon's countable_text of a blank string is empty)."""
    assert mastodon_length("   \n\t") == 0
    assert mastodon_length("") == 0


def test_mastodon_emoji_domain_is_not_a_url() -> None:
    """libidn refuses code points unassigned in Unicode 3.2, so an emoji domain is not linked."""
    url = "https://\U0001f98b.example.com/" + "x" * 40
    assert mastodon_length(url) == graphemes(url)
    assert mastodon_length("https://münchen.de/" + "x" * 40) == 23


# --- facets ---------------------------------------------------------------------------------------


def test_facet_byte_ranges_after_emoji() -> None:
    """A link after a ZWJ family starts at the family's 25 UTF-8 bytes plus the space."""
    text = f"{FAMILY} https://middle.com #tag"
    facets = detect_facets(text)
    assert facets == [
        {
            "index": {"byteStart": 26, "byteEnd": 44},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://middle.com"}],
        },
        {
            "index": {"byteStart": 45, "byteEnd": 49},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}],
        },
    ]
    encoded = text.encode()
    assert encoded[26:44] == b"https://middle.com"
    assert encoded[45:49] == b"#tag"


def test_facets_bare_domain_and_trailing_punctuation() -> None:
    """A bare domain links to https://domain; trailing punctuation stays outside the facet."""
    facets = detect_facets("see example.com/a, then stop.")
    assert [(f["index"], f["features"][0]["uri"]) for f in facets] == [
        ({"byteStart": 4, "byteEnd": 17}, "https://example.com/a")
    ]


def test_facets_cjk_and_cashtag() -> None:
    """Tags after CJK text and cashtags get UTF-8 ranges; cashtags are upper-cased with "$"."""
    facets = detect_facets("日本 #タグ $aapl")
    assert [(f["index"]["byteStart"], f["index"]["byteEnd"], f["features"][0]["tag"]) for f in facets] == [
        (7, 14, "タグ"),
        (15, 20, "$AAPL"),
    ]


def test_bluesky_facets_short_display_carries_full_url() -> None:
    """A shortened display link gets a facet with the full URL, and no second facet of its own."""
    full = "https://www.example.com/articles/2026/11/a-very-long-slug-for-this-article?utm_source=crosspost"
    shown = shorten_url_for_display(full)
    text = f"New post: {shown} #AI"
    facets = bluesky_facets(text, [(shown, full)])
    start = len(b"New post: ")
    assert facets == [
        {
            "index": {"byteStart": start, "byteEnd": start + len(shown)},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": full}],
        },
        {
            "index": {"byteStart": start + len(shown) + 1, "byteEnd": start + len(shown) + 4},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "AI"}],
        },
    ]


def test_bluesky_facets_uses_first_unused_occurrence() -> None:
    """Two links with the same display text take the first and then the second occurrence."""
    text = "🔥 a.io/x and a.io/x"
    facets = bluesky_facets(text, [("a.io/x", "https://a.io/x?1"), ("a.io/x", "https://a.io/x?2")])
    assert [(f["index"]["byteStart"], f["features"][0]["uri"]) for f in facets] == [
        (5, "https://a.io/x?1"),
        (16, "https://a.io/x?2"),
    ]


def test_bluesky_facets_without_links_is_detect_facets() -> None:
    """With no composer links, bluesky_facets is detect_facets."""
    text = "Read https://example.com/x #News $BTC"
    assert bluesky_facets(text) == detect_facets(text)


def test_bluesky_facets_missing_display_text() -> None:
    """A display text that is not in the post is a composer bug, reported, not silently dropped."""
    with pytest.raises(ValueError, match="not in the post"):
        bluesky_facets("no link here", [("example.com/x", "https://example.com/x")])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.com/a", "example.com/a"),
        ("http://www.example.com/about", "example.com/about"),
        ("HTTPS://WWW.Example.com/x", "Example.com/x"),
        ("https://example.com/articles/2026/11/some-slug", "example.com/articles/202..."),
        ("https://a-very-long-host-name-for-testing.example.com/x", "a-very-long-host-name-fo..."),
    ],
)
def test_shorten_url_for_display(url: str, shown: str) -> None:
    """Scheme and www. go, the rest is kept or cut to 27 with "..."."""
    assert shorten_url_for_display(url) == shown
    assert len(shown) <= 27


def test_shorten_url_counts_graphemes() -> None:
    """Non-ASCII URLs are cut on grapheme boundaries, 27 graphemes at most."""
    shown = shorten_url_for_display("https://例え.テスト/" + "パ" * 40)
    assert shown.endswith("...")
    assert graphemes(shown) == 27
    assert shorten_url_for_display("https://x.io/" + "a" * 30, max_chars=10) == "x.io/aa..."


# --- performance ----------------------------------------------------------------------------------


def _median_us(func: Callable[[], object], runs: int = 300) -> float:
    func()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def test_x_length_is_fast() -> None:
    """x_length of a 280-character post with URL and emoji takes well under a millisecond."""
    post = (f"Read https://www.example.com/articles/2026/11/slug?utm=x now {FAMILY} {FLAG_FR} #News " * 4)[
        :280
    ]
    assert _median_us(lambda: x_length(post)) < 500


def test_import_is_light() -> None:
    """Importing bot.text loads no SDK, no emoji/regex module and no data file."""
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter(); import bot.text; elapsed = time.perf_counter() - t\n"
        "heavy = [m for m in ('regex', 'emoji', 'atproto', 'twitter_text', 'yaml') if m in sys.modules]\n"
        "print(json.dumps([heavy, elapsed]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy, elapsed = json.loads(out)
    assert heavy == []
    assert elapsed < 0.3
