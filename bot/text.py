"""What every platform shares when measuring a post: graphemes, UTF-8 bytes, links, hashtags.

Each platform's own counting rule lives in its measure module (:mod:`bot.measure`), reached through
the registry (:mod:`bot.platforms`); this module answers only what holds across all of them:

=============  =========================================================================
graphemes      :func:`graphemes`, :func:`graphemes_before_unicode_15_1`, :func:`utf8_len`
links          :func:`url_spans` (the union of every platform's own link detector)
hashtags       :func:`normalise_hashtag` (valid on every platform), :func:`hashtag_key`
=============  =========================================================================

Heavy regexes compile on first use and the ``regex`` module is imported on first use, so
``import bot.text`` stays cheap.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from bot.facets import detect_facets, shorten_url_for_display

__all__ = [
    "URL_WEIGHT",
    "detect_facets",
    "graphemes",
    "hashtag_key",
    "normalise_hashtag",
    "shorten_url_for_display",
    "url_spans",
    "utf8_len",
]

URL_WEIGHT = 23  # what a link counts where a platform counts links at a fixed weight
HASHTAG_MAX_GRAPHEMES = 64


# --- links, as any platform sees them -------------------------------------------------------------


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans of every link any registered platform's own detector sees in ``text``.

    The platforms disagree on where a link ends (bare domains, a "(" in front, which schemes);
    a cut that avoids the union of their spans breaks no link on any of them. Overlapping spans
    are merged, the result is sorted.
    """
    if "." not in text and ":" not in text:
        return []
    from bot import platforms

    spans = sorted(span for p in platforms.all_platforms() for span in p.link_spans(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- graphemes --------------------------------------------------------------------------------------


@cache
def _grapheme_pattern() -> Any:
    import regex

    return regex.compile(r"\X")


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (UAX #29) in ``text``: what most platforms count.

    A ZWJ family, a flag, an emoji with skin tone, "e" + combining accent and a Devanagari
    conjunct are one each; "\\r\\n" is one.
    """
    if text.isascii():
        return len(text) - text.count("\r\n")
    clusters = _grapheme_pattern().findall
    in_pieces = 0
    length = 0
    last = len(text) - 1
    for match in _NON_ASCII_RUNS.finditer(text):
        start, end = match.span()
        if start and text[start - 1] in _CONTEXT:
            start -= 1
        if end <= last and text[end] in _CONTEXT:
            end += 1
        in_pieces += len(clusters(text[start:end]))
        length += end - start
    return in_pieces + len(text) - length - text.count("\r\n")


# Where a cluster boundary is not certain: runs of non-ASCII characters (joined by single ASCII
# characters), each widened by the ASCII character before and after it (``_CONTEXT``: not CR or LF;
# no other run can hold it). Between two ASCII characters other than CR LF, UAX #29 always breaks
# (no ASCII character is Extend, ZWJ, SpacingMark, Prepend or a regional indicator), and it always
# breaks around CR and LF; so counting \X inside these pieces and one per other character (CR LF
# as one) gives the same number as \X over the whole text, at a fraction of the cost for prose.
_NON_ASCII_RUNS = re.compile(r"[^\x00-\x7f]+(?:[\x00-\x09\x0b\x0c\x0e-\x7f][^\x00-\x7f]+)*")
_CONTEXT = frozenset(map(chr, range(0x80))) - {"\r", "\n"}


@cache
def _conjunct_joins() -> Any:
    import regex

    # A consonant joined to the cluster before it by rule GB9c (Unicode 15.1, Indic conjuncts).
    return regex.compile(
        r"(?<=\p{InCB=Consonant}[\p{InCB=Extend}\p{InCB=Linker}]*\p{InCB=Linker}[\p{InCB=Extend}\p{InCB=Linker}]*)"
        r"\p{InCB=Consonant}"
    )


def graphemes_before_unicode_15_1(text: str) -> int:
    """Grapheme clusters as Unicode 15.0 and earlier count them: an Indic conjunct is two or more.

    Unicode 15.1 (rule GB9c) made "स्ते" one cluster; Ruby up to 3.4, which Mastodon 4.x runs on,
    implements Unicode 15.0 and counts it as two, so servers written in it do too.
    """
    count = graphemes(text)
    if text.isascii():
        return count
    return count + len(_conjunct_joins().findall(text))


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (a second limit some platforms set)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


# --- hashtags -------------------------------------------------------------------------------------

# Tags whose symbols carry the meaning: the hashtag people use on every platform instead.
_HASHTAG_ALIASES = {"c++": "cpp", "c#": "csharp", "f#": "fsharp", ".net": "dotnet"}
# Any other tag holding one of these loses its meaning without it ("C++" is not "C"): no hashtag.
_MEANINGFUL_SYMBOLS = frozenset("+#@$%")
# Removed without splitting the word: "node.js" -> "nodejs", "Women's" -> "Womens".
_JOINERS = frozenset(".'’ʼ`´·\u00ad\u200b\u200c\u200d\u2060\ufeff")


def _hashtag_words(name: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for char in name:
        if char in _JOINERS:
            continue
        category = unicodedata.category(char)
        if char == "_" or category[0] in "LM" or category == "Nd":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _capitalise(word: str) -> str:
    upper = word[0].upper()
    return upper + word[1:] if len(upper) == 1 else word


@lru_cache(maxsize=4096)
def normalise_hashtag(tag: str) -> str | None:
    """A tag name as a CMS or front matter writes it -> hashtag text (no "#") valid on every
    registered platform, or None when it cannot be one.

    Rules, in order:

    1. NFKC-normalise, trim, drop leading "#"/"＃" ("#OpenAI" -> "OpenAI"; full-width letters
       become ASCII).
    2. "C++", "C#", "F#", ".NET" become the tags their communities use: "cpp", "csharp",
       "fsharp", "dotnet". Any other tag holding "+", "#", "@", "$" or "%" gives None: without
       the symbol it would mean something else ("C++" is not "C").
    3. Dots, apostrophes, middle dots and invisible joiners are dropped inside a word
       ("node.js" -> "nodejs"); spaces, dashes, slashes, other punctuation, symbols and emoji
       separate words.
    4. Several words: each word's first letter is capitalised, the rest kept as written, and the
       words joined ("AI For Good" -> "AIForGood", "machine learning" -> "MachineLearning").
       One word is kept exactly as written ("iPhone").
    5. Letters and marks of any script, decimal digits and "_" are kept; trailing "_" is
       dropped (Bluesky would cut it off).
    6. None when no letter is left ("2026", "", emoji only), when longer than 64 graphemes
       (Bluesky's limit; cutting would change the tag), or when any platform's own rule would
       not take ``"#" + tag`` whole (twitter-text's hashtag tables are older than Unicode's
       newest letters, for instance).
    """
    name = unicodedata.normalize("NFKC", tag).strip().lstrip("#").strip()
    if not name:
        return None
    alias = _HASHTAG_ALIASES.get(name.casefold())
    if alias:
        return alias
    if any(char in _MEANINGFUL_SYMBOLS for char in name):
        return None
    words = _hashtag_words(name)
    if len(words) > 1:
        words = [_capitalise(word) for word in words]
    result = "".join(words).rstrip("_")
    while result and unicodedata.category(result[0])[0] == "M":
        result = result[1:]
    if not any(unicodedata.category(char)[0] == "L" for char in result):
        return None
    if graphemes(result) > HASHTAG_MAX_GRAPHEMES:
        return None
    from bot import platforms

    if not all(p.accepts_hashtag(result) for p in platforms.all_platforms()):
        return None
    return result


def hashtag_key(tag: str) -> str:
    """Case-insensitive de-duplication key of a hashtag: NFKC, no leading "#", casefolded.

    ``hashtag_key("#AI") == hashtag_key("ai")``; use it to drop repeated tags, keep the first
    spelling for display.
    """
    return unicodedata.normalize("NFKC", tag).strip().lstrip("#").casefold()
