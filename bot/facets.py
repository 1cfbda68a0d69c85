"""Bluesky rich-text facets: a port of @atproto/api 0.21.0 ``detectFacets``, and composer helpers.

Bluesky shows links and hashtags only where the post record carries a facet: a UTF-8 byte range
(start inclusive, end exclusive) and a feature (``#link`` with ``uri``, ``#tag`` with ``tag``).
The server never detects them. :func:`detect_facets` finds them exactly as the official
TypeScript SDK does (links, ``#tags`` and ``$CASHTAGS``; mentions need a handle lookup over the
network and are left out). :func:`bluesky_facets` adds the links the composer shortened for
display, and :func:`shorten_url_for_display` makes those display texts.

This module imports no SDK; the ``regex`` module (for Unicode properties) is imported on first use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from bot import data

MENTION_FEATURE = "app.bsky.richtext.facet#mention"  # a facet that pings the DID it names

Facet = dict[str, Any]

LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"
MAX_TAG_GRAPHEMES = 64

# JavaScript's \s (the same with or without the /u flag).
_JS_SPACE = r"\t\n\x0b\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# TAG_REGEX's "zero-width spaces (likely incomplete)".
_ZERO_WIDTH = r"\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"

_URL_TRAILING_PUNCTUATION = ".,;:!?"


@cache
def _link_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """URL_REGEX (flags gim, no /u: [a-z] with /i is ASCII-only, \\S any non-\\s code unit) and
    CASHTAG_REGEX (flags gu: "$" is the end of the text only)."""
    url = re.compile(
        rf"(^|[{_JS_SPACE}]|\()((https?://[^{_JS_SPACE}]+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)[^{_JS_SPACE}]*))",
        re.IGNORECASE | re.ASCII | re.MULTILINE,
    )
    cashtag = re.compile(rf"(^|[{_JS_SPACE}]|\()\$([A-Za-z][A-Za-z0-9]{{0,4}})(?=[{_JS_SPACE}]|\Z|[.,;:!?)\"'\u2019])")
    return url, cashtag


@cache
def _atproto_tlds() -> frozenset[str]:
    return frozenset(data.lines("atproto_tlds.txt"))


@cache
def _tag_patterns() -> tuple[Any, Any, Any]:
    """TAG_REGEX, TRAILING_PUNCTUATION_REGEX (\\p{P} needs the ``regex`` module) and \\X."""
    import regex

    tag = regex.compile(
        rf"(^|[{_JS_SPACE}])[#＃]((?!\ufe0f)[^{_JS_SPACE}{_ZERO_WIDTH}]*"
        rf"[^0-9{_JS_SPACE}\p{{P}}{_ZERO_WIDTH}]+[^{_JS_SPACE}{_ZERO_WIDTH}]*)?",
        regex.VERSION0,
    )
    return tag, regex.compile(r"\p{P}+\Z", regex.VERSION0), regex.compile(r"\X", regex.VERSION0)


def _is_valid_domain(domain: str) -> bool:
    """detection.ts isValidDomain: the last label is a TLD of the ``tlds`` package (case-sensitive)."""
    _, dot, tld = domain.rpartition(".")
    return bool(dot) and tld in _atproto_tlds()


class _ByteOffsets:
    """Code point index -> UTF-8 byte offset, for one text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._ascii = text.isascii()

    def __call__(self, index: int) -> int:
        return index if self._ascii else len(self._text[:index].encode("utf-8"))


def _facet(start: int, end: int, feature: dict[str, str]) -> Facet:
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}


def _link_matches(text: str) -> list[tuple[int, int, str]]:
    """(start, end, uri) in code points of every link detectFacets finds."""
    found: list[tuple[int, int, str]] = []
    if "." not in text and "://" not in text:
        return found  # URL_REGEX needs a scheme or a dotted domain
    for match in _link_patterns()[0].finditer(text):
        uri = match.group(2)
        if not uri.startswith("http"):
            domain = match.group("domain")
            if not domain or not _is_valid_domain(domain):
                continue
            uri = "https://" + uri
        start, end = match.span(2)
        if uri[-1] in _URL_TRAILING_PUNCTUATION:
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        found.append((start, end, uri))
    return found


def link_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans of the links Bluesky's ``detectFacets`` sees in ``text`` (what a cut must not split)."""
    return [(start, end) for start, end, _ in _link_matches(text)]


def _links(text: str, offset: _ByteOffsets) -> list[Facet]:
    return [
        _facet(offset(start), offset(end), {"$type": LINK, "uri": uri}) for start, end, uri in _link_matches(text)
    ]


def _tags(text: str, offset: _ByteOffsets) -> list[Facet]:
    if "#" not in text and "＃" not in text:
        return []
    tag_re, trailing_punctuation, grapheme = _tag_patterns()
    facets = []
    for match in tag_re.finditer(text):
        tag = match.group(2)
        if not tag:
            continue
        tag = trailing_punctuation.sub("", tag.strip(_JS_TRIM))
        if not tag or (len(tag) > MAX_TAG_GRAPHEMES and len(grapheme.findall(tag)) > MAX_TAG_GRAPHEMES):
            continue
        start = match.start() + len(match.group(1))
        facets.append(_facet(offset(start), offset(start + 1 + len(tag)), {"$type": TAG, "tag": tag}))
    return facets


# String.prototype.trim: JavaScript's white space and line terminators.
_JS_TRIM = (
    "\t\n\x0b\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _cashtags(text: str, offset: _ByteOffsets) -> list[Facet]:
    facets = []
    if "$" not in text:
        return []
    for match in _link_patterns()[1].finditer(text):
        ticker = match.group(2).upper()
        start = match.start() + len(match.group(1))
        facets.append(_facet(offset(start), offset(start + 1 + len(ticker)), {"$type": TAG, "tag": "$" + ticker}))
    return facets


def is_bluesky_tag(tag: str) -> bool:
    """True when detectFacets takes ``"#" + tag`` (followed by a space) as exactly the tag ``tag``."""
    text = "#" + tag + " "
    found = _tags(text, _ByteOffsets(text))
    return len(found) == 1 and found[0]["index"]["byteStart"] == 0 and found[0]["features"][0]["tag"] == tag


def detect_facets(text: str) -> list[Facet]:
    """Link, tag and cashtag facets of ``text``, as @atproto/api 0.21.0 ``detectFacets`` finds them.

    Returns facets in the atproto lexicon's JSON shape, sorted by ``byteStart`` (as
    ``RichText.detectFacets`` sorts them). Mentions are not detected: they need a network lookup.
    """
    offset = _ByteOffsets(text)
    facets = _links(text, offset) + _tags(text, offset) + _cashtags(text, offset)
    facets.sort(key=lambda facet: facet["index"]["byteStart"])
    return facets


def bluesky_facets(text: str, links: Sequence[tuple[str, str]] = ()) -> list[Facet]:
    """Facets for a post the composer built, sorted by ``byteStart``.

    Each ``(display_text, full_url)`` pair marks the first not-yet-used occurrence of
    ``display_text`` in ``text`` as a link to ``full_url``: this is how a long URL is shown
    shortened while the facet carries the whole URL. Everything else comes from
    :func:`detect_facets`, minus any facet overlapping those ranges. Raises ``ValueError`` when a
    display text is not in ``text`` (a composer bug: the link would silently be lost).
    """
    offset = _ByteOffsets(text)
    claimed: list[tuple[int, int]] = []
    facets: list[Facet] = []
    for display, url in links:
        if not display:
            raise ValueError(f"empty display text for link {url!r}")
        position = text.find(display)
        while position != -1 and any(position < end and start < position + len(display) for start, end in claimed):
            position = text.find(display, position + 1)
        if position == -1:
            raise ValueError(f"display text {display!r} for {url!r} is not in the post (or is already used)")
        claimed.append((position, position + len(display)))
        facets.append(_facet(offset(position), offset(position + len(display)), {"$type": LINK, "uri": url}))
    byte_ranges = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in facets]
    for facet in detect_facets(text):
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if not any(start < claimed_end and claimed_start < end for claimed_start, claimed_end in byte_ranges):
            facets.append(facet)
    facets.sort(key=lambda facet: facet["index"]["byteStart"])
    return facets


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def shorten_url_for_display(url: str, max_chars: int = 27) -> str:
    """The text Bluesky's app would show for ``url``: no scheme, no "www.", at most ``max_chars``.

    Keeps the host and as much of the path as fits, ending with "..." when cut (the app's own
    ``toShortUrl`` keeps host + 13 path characters; a fixed budget keeps post lengths predictable).
    A URL that fits is returned whole, minus its scheme and "www.". Lengths are counted in
    graphemes, so a cut never splits a character. Pair the result with the full URL in
    :func:`bluesky_facets`.
    """
    if max_chars < 4:
        raise ValueError(f"max_chars must be at least 4 to leave room for '...', got {max_chars}")
    shown = _SCHEME.sub("", url.strip(), count=1)
    if shown[:4].lower() == "www.":
        shown = shown[4:]
    if shown.isascii():
        return shown if len(shown) <= max_chars else shown[: max_chars - 3] + "..."
    _, _, grapheme = _tag_patterns()
    clusters = grapheme.findall(shown)
    return shown if len(clusters) <= max_chars else "".join(clusters[: max_chars - 3]) + "..."
