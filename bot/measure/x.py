"""X's counting rule: twitter-text 3.1.0 ``parseTweet`` (config v3), ported in :mod:`bot.twitter_text`."""

from __future__ import annotations

from bot.twitter_text import extract_url_spans, is_x_hashtag, parse_tweet

__all__ = ["extract_url_spans", "is_x_hashtag", "x_length", "x_parse"]


def x_length(text: str) -> int:
    """X's weighted length of ``text`` (twitter-text 3.1.0 ``parseTweet``, config v3); the limit is 280.

    URLs count 23 whatever their length (bare domains too, when their TLD is in twitter-text's
    list: ``news.example`` is not a URL, ``news.example.com`` is); emoji sequences that
    twitter-text knows count 2. Where emoji lists disagree, each piece counts its larger reading,
    so a post that fits here fits on X whichever list X's server uses: sequences newer than
    twitter-text's Emoji 11 list (U+2764 U+FE0F U+200D U+1F525, U+1F9D1 U+200D U+1F384) count by
    their parts (5), and a bare "©" or "®" counts 2 as emoji-test.txt-based lists count it (the
    official library says 1). :func:`x_parse` gives the official library's exact answer.
    """
    return parse_tweet(text, "v3", larger_reading=True)[0]


def x_parse(text: str, config: str = "v3") -> tuple[int, bool]:
    """(weightedLength, valid) of ``parseTweet(text)`` with twitter-text config ``"v2"`` or ``"v3"``."""
    if config not in ("v2", "v3"):
        raise ValueError(f"unknown twitter-text config {config!r}: use 'v2' or 'v3'")
    return parse_tweet(text, "v2" if config == "v2" else "v3")


def measure(text: str, _url_weight: int) -> int:
    """The registry's measure: the safe (larger) reading, whatever the URL weight."""
    return x_length(text)


def own_measure(text: str) -> int:
    """X's own count (what the dry run reports)."""
    return x_parse(text)[0]
