"""LinkedIn's counting rule: the commentary as sent (little text, escaped) in UTF-16 units, at most 3,000.

The Posts API's ``commentary`` is LinkedIn's "little text" format: the reserved characters
``\\ | { } @ [ ] ( ) < > # * _ ~`` must be backslash-escaped to be plain text, and an unescaped one
(``(``, ``#``, ``@`` …) silently cuts the post there while the API still answers 201. So the
translation (:func:`escape`, used by the adapter) escapes every one of them, and this measure counts
the *escaped* text: what the composer keeps within 3,000 is exactly what goes over the wire.

The unit is not documented (LinkedIn says "characters"); we count UTF-16 code units, the larger of
the plausible readings (an emoji is 2), as Buffer does, so a post that fits here fits whichever
unit LinkedIn's server uses. Links count as written (the API shortens nothing).

Hashtags: LinkedIn's little-text hashtag template ``{hashtag|\\#|tag}`` appears in client code but
its row of the format's documentation could not be confirmed, so a ``#tag`` goes as the escaped
plain text ``\\#tag`` (LinkedIn shows ``#tag``), never as a template.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

RESERVED = "\\|{}@[]()<>#*_~"
_RESERVED_RE = re.compile("([" + re.escape(RESERVED) + "])")
_URL_RE = re.compile(r"https?://[^\s<>\"]+")
_TAG_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"})
_TRAILING = ".,;:!?'\")]}"


def escape(text: str) -> str:
    """``text`` as little-text plain text: every reserved character preceded by a backslash."""
    return _RESERVED_RE.sub(r"\\\1", text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def linkedin_length(text: str) -> int:
    """The length LinkedIn's 3,000 limit is checked against: the escaped commentary in UTF-16 units."""
    return utf16_units(escape(text))


def measure(text: str, _url_weight: int) -> int:
    return linkedin_length(text)


def is_linkedin_hashtag(tag: str) -> bool:
    """Letters, combining marks, decimal digits and ``_``, with at least one letter.

    Marks belong to the word: a Devanagari or Arabic tag is written with them (``नमस्ते`` holds vowel
    signs), and LinkedIn links hashtags in any script. ``_`` goes escaped (``\\_``), which little text
    shows as a plain ``_``; whether LinkedIn links the whole ``#snake_case`` is not documented. It is
    accepted because :func:`bot.text.normalise_hashtag` keeps only tags every platform accepts, and
    refusing ``_`` here would drop such a tag on all five platforms, not just risk a shorter link on one.
    Anything else (punctuation, symbols, spaces) ends a tag."""
    return bool(tag) and any(unicodedata.category(c)[0] == "L" for c in tag) and all(
        c == "_" or unicodedata.category(c) in _TAG_CATEGORIES for c in tag)


def link_spans(text: str) -> list[tuple[int, int]]:
    """http(s) links as written (code point offsets), trailing punctuation left out."""
    spans = []
    for match in _URL_RE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _TRAILING:
            end -= 1
        spans.append((match.start(), end))
    return spans


def card(uri: str, title: str, description: str) -> dict[str, Any]:
    """The article share as the Posts API carries it (``content.article``; the thumbnail URN is added
    when the image is uploaded). Title and description are plain strings, not little text."""
    return {"article": {"source": uri, "title": title, "description": description}}
