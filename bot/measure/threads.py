"""Threads' counting rule and what it takes as a topic tag.

Length (Threads Posts, "Limitations", https://developers.facebook.com/docs/threads/posts/): "Text posts
are limited to 500 characters." and "Emojis are counted as the number of UTF-8 bytes." The server's exact
algorithm is not published, so this counts on the safe side: every grapheme cluster that holds an emoji
counts its UTF-8 bytes (👍 = 4, a ZWJ family or a flag far more); every other cluster counts its code
points (never fewer than the graphemes a user sees). Links count as written: Threads does not shorten them.

Topic tag (same page, "Topic tags"): one per post, 1–50 characters, no ``.`` or ``&``; an in-text tag
ends before a space, tab, newline or one of ``. & @ ! ? , ; :``, and ``#<whole number>`` is no tag.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["first_topic_tag", "is_threads_hashtag", "is_topic_tag", "link_spans", "measure", "threads_length"]

TOPIC_TAG_MAX = 50
_TAG_ENDS = frozenset(" \t\n.&@!?,;:#")


@cache
def _patterns() -> tuple[Any, Any, Any]:
    import regex

    grapheme = regex.compile(r"\X")
    emoji = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3\ufe0f]")
    link = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
    return grapheme, emoji, link


def threads_length(text: str) -> int:
    """Threads' length of ``text``: code points, except that a cluster with an emoji counts its UTF-8 bytes."""
    grapheme, emoji, _ = _patterns()
    total = 0
    for cluster in grapheme.findall(text):
        total += len(cluster.encode("utf-8")) if emoji.search(cluster) else len(cluster)
    return total


def measure(text: str, _url_weight: int) -> int:
    """The registry's measure (links count as written, so the URL weight plays no part)."""
    return threads_length(text)


def is_topic_tag(tag: str) -> bool:
    """True when ``"#" + tag`` is a whole Threads topic tag: 1–50 characters, none that ends a tag
    (``.`` and ``&`` included), no white space, and not a whole number."""
    return (0 < len(tag) <= TOPIC_TAG_MAX and not tag.isdigit()
            and not any(c in _TAG_ENDS or c.isspace() for c in tag))


def is_threads_hashtag(tag: str) -> bool:
    """True when Threads reads ``"#" + tag`` whole (nothing in it ends a tag). Any length: only the first
    tag that :func:`is_topic_tag` accepts becomes the post's topic; the others stay plain text."""
    return bool(tag) and not tag.isdigit() and not any(c in _TAG_ENDS or c.isspace() for c in tag)


def first_topic_tag(text: str) -> str | None:
    """The first ``#tag`` of ``text`` that is a valid topic (what the adapter sends as ``topic_tag``)."""
    import regex

    for match in regex.finditer(r"(?<![\w#])#([^\s#]+)", text):
        word = match.group(1)
        end = next((i for i, c in enumerate(word) if c in _TAG_ENDS), len(word))
        if is_topic_tag(word[:end]):
            return str(word[:end])
    return None


def link_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point spans of the http(s) links in ``text``, trailing punctuation left out."""
    _, _, link = _patterns()
    spans = []
    for match in link.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in ".,;:!?)]}'\"":
            end -= 1
        spans.append((start, end))
    return spans
