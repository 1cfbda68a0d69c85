"""What the speed-ups (issue 12) rely on, checked so that they stay true."""

from __future__ import annotations

from bot import platforms


def test_server_limits_flag_matches_the_adapters() -> None:
    """A dry run skips importing adapters by reading ``server_limits``: it must say which adapters read servers."""
    for platform in platforms.names():
        asks = callable(getattr(platforms.get(platform).adapter_class(), "server_facts", None))
        assert platforms.get(platform).server_limits == asks, platform


# Characters around which UAX #29 does something other than break: CR LF, combining marks, ZWJ,
# emoji modifiers and tags, regional indicators, a Prepend (U+0600), Hangul jamo, an Indic conjunct,
# a spacing mark, controls; with ASCII letters, spaces and punctuation between them.
_TRICKY = ["a", "b", " ", ".", "#", "1", "\r", "\n", "\t", "\u0301", "\u200d", "\ufe0f", "\u20e3", "\U0001f3fd",
           "\U0001f469", "\u2764", "\U0001f1eb", "\U0001f1f7", "\u0600", "\u1100", "\u1161", "\u11a8", "\u0915",
           "\u094d", "\u0937", "\u093f", "\U000e0067", "\u00e9", "\u3042", "\x00", "\x85"]


def test_grapheme_count_equals_whole_text_clusters() -> None:
    """graphemes() counts \\X only around non-ASCII characters: the same number as \\X over the whole text."""
    import random

    import regex

    from bot.text import graphemes

    rng = random.Random(12)
    for _ in range(3000):
        sample = "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 14)))
        assert graphemes(sample) == len(regex.findall(r"\X", sample)), ascii(sample)


def test_ellipsis_head_strip_equals_the_regex() -> None:
    """The fitter strips trailing spaces and punctuation with str.rstrip: the same as the regex it replaced."""
    import regex

    from bot import compose

    every = "".join(map(chr, range(0x110000)))
    assert "".join(regex.findall(r"\s", every)) == compose.UNICODE_WHITE_SPACE
    old = regex.compile(r"[\s,;:–—\-(\[/]+$")
    for sample in ["Hello, world ;", "a —\n", "x([/ \u3000", "end.", "tail -\u2028", "", " ,", "a\n\nb: \n"]:
        assert compose._ellipsis_head(sample, len(sample)) == old.sub("", sample), ascii(sample)


def test_mastodon_query_classes_match_the_written_out_ones() -> None:
    """The negated query classes (fast to compile) hold exactly the characters of Mastodon's classes."""
    import re

    from bot import twitter_text as tt

    every = "".join(map(chr, range(0x110000)))
    az = r"a-zA-Z\u017F\u212A"
    written = {
        tt._MASTODON_QUERY_CHAR: f"[{az}0-9!?*'();:&=+$/%#\\[\\]\\-_.,~|@\\^{tt._UCHARS}]",
        tt._MASTODON_QUERY_END: f"[{az}0-9_&=#/\\-{tt._UCHARS}]",
    }
    for fast, slow in written.items():
        assert re.findall(fast, every) == re.findall(slow, every)


def test_glued_to_link_on_the_last_run_equals_the_whole_head() -> None:
    """The fitter asks only the text from the last ASCII space whether "…" would touch a link: same answer."""
    import random

    from bot import compose, text

    def whole(head: str) -> bool:
        if compose._ends_in_ellipsis(head):
            return any(end >= len(head) - 3 for _, end in text.url_spans(head))
        return any(end >= len(head) for _, end in text.url_spans(head + compose.ELLIPSIS))

    pieces = ["see", " ", "\n", "\t", "\u3000", "\x85", "(", ")", ".", ",", "…", "...", "example.com", "node.js",
              "https://a.example.com/x", "https://b.co/?q=a\u3000b", "x.com/p", "www.test.org", "@ann.bsky.social",
              "#tag", "日本.jp", "ftp://c.io", "https://d.dev/(1)"]
    rng = random.Random(3)
    for _ in range(3000):
        head = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        assert compose._glued_to_link(head) == whole(head), ascii(head)
