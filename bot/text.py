"""How each platform measures a post, Bluesky facets, and hashtags valid on all three platforms.

Every function here answers the way the platform itself would, proven against the platforms'
own conformance vectors and their official libraries (``tests/test_text_conformance.py``):

=============  =========================================================================
X              :func:`x_length` / :func:`x_parse`: twitter-text 3.1.0 ``parseTweet``
               (:mod:`bot.twitter_text`)
Bluesky        :func:`bluesky_length` (graphemes; the composer also checks :func:`utf8_len`),
               :func:`detect_facets`, :func:`bluesky_facets` (:mod:`bot.facets`)
Mastodon       :func:`mastodon_length`: ``StatusLengthValidator`` of Mastodon 4.x
hashtags       :func:`normalise_hashtag`, :func:`hashtag_key`
=============  =========================================================================

Heavy regexes compile on first use and the ``regex`` module is imported on first use, so
``import bot.text`` stays cheap.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from bot.facets import bluesky_facets, detect_facets, is_bluesky_tag, link_spans, shorten_url_for_display
from bot.twitter_text import extract_url_spans, is_x_hashtag, mastodon_url_spans, parse_tweet

__all__ = [
    "BLUESKY_BYTES",
    "BLUESKY_GRAPHEMES",
    "MASTODON_DEFAULT_LIMIT",
    "URL_WEIGHT",
    "X_LIMIT",
    "bluesky_facets",
    "bluesky_length",
    "detect_facets",
    "graphemes",
    "hashtag_key",
    "mastodon_length",
    "normalise_hashtag",
    "shorten_url_for_display",
    "url_spans",
    "utf8_len",
    "x_length",
    "x_parse",
]

X_LIMIT = 280
BLUESKY_GRAPHEMES = 300
BLUESKY_BYTES = 3000
MASTODON_DEFAULT_LIMIT = 500
URL_WEIGHT = 23
HASHTAG_MAX_GRAPHEMES = 64


# --- X --------------------------------------------------------------------------------------------


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


# --- links, as any platform sees them -------------------------------------------------------------


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans of every link any of the three platforms' own detectors sees in ``text``.

    X (twitter-text, bare domains with a known TLD too), Bluesky (``detectFacets``: everything up
    to the next space, "(" in front allowed) and Mastodon (a scheme and a known TLD) disagree on
    where a link ends; a cut that avoids the union of their spans breaks no link on any of them.
    Overlapping spans are merged, the result is sorted.
    """
    if "." not in text and ":" not in text:
        return []
    spans = sorted(extract_url_spans(text) + link_spans(text) + mastodon_url_spans(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- Bluesky --------------------------------------------------------------------------------------


@cache
def _grapheme_pattern() -> Any:
    import regex

    return regex.compile(r"\X")


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (UAX #29) in ``text``: what Bluesky and Mastodon count.

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
    implements Unicode 15.0 and counts it as two, so Mastodon's validator does too.
    """
    count = graphemes(text)
    if text.isascii():
        return count
    return count + len(_conjunct_joins().findall(text))


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (Bluesky's second limit: 3,000)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def bluesky_length(text: str) -> int:
    """Bluesky's length of ``text``: graphemes (limit 300). Check :func:`utf8_len` <= 3000 too."""
    return graphemes(text)


# --- Mastodon -------------------------------------------------------------------------------------

_MASTODON_WORD = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}"  # Onigmo's [[:word:]]
_LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268"
    r"\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_MASTODON_DOMAIN_MAX = 253


@cache
def _mastodon_patterns() -> tuple[Any, Any, Any, Any]:
    """Account::MENTION_RE, twitter-text's end_mention_match, a blank test and Tag::HASHTAG_RE."""
    import regex

    word = f"[{_MASTODON_WORD}]"
    username = r"(?i:[a-z0-9_\u017F\u212A]+(?:[.-]+[a-z0-9_\u017F\u212A]+)*)"
    mention = regex.compile(rf"(?<![=/{_MASTODON_WORD}])@({username}(?:@{word}+(?:[.-]+{word}+)*)?)", regex.VERSION0)
    end_mention = regex.compile(rf"(?:[@＠]|[{_LATIN_ACCENTS}]+|://)", regex.VERSION0 | regex.IGNORECASE)
    blank = regex.compile(r"\p{White_Space}*", regex.VERSION0)
    separators = "_\u00b7\u30fb\u200c"
    alpha = r"\p{Alphabetic}"
    word_or_separator = f"[{_MASTODON_WORD}{separators}]"
    first = f"[{_MASTODON_WORD}_]{word_or_separator}*[{alpha}{separators}]{word_or_separator}*[{_MASTODON_WORD}_]"
    last = f"(?:[{_MASTODON_WORD}_])*[{alpha}](?:[{_MASTODON_WORD}_])*"
    hashtag = regex.compile(rf"(?<=^|\p{{White_Space}})[#＃]((?:{first})|(?:{last}))", regex.VERSION0)
    return mention, end_mention, blank, hashtag


def _mastodon_mentions(text: str) -> list[tuple[int, int, str]]:
    """Mastodon's Extractor.extract_mentions_or_lists_with_indices: (start, end, username)."""
    if "@" not in text and "＠" not in text:
        return []
    mention, end_mention, _, _ = _mastodon_patterns()
    found = []
    for match in mention.finditer(text):
        if end_mention.match(text, match.end()):
            continue
        username, _, domain = match.group(1).partition("@")
        if len(domain) > _MASTODON_DOMAIN_MAX:
            continue
        found.append((match.start(), match.end(), username))
    return found


def mastodon_length(text: str, *, url_length: int = URL_WEIGHT) -> int:
    """Mastodon's length of ``text`` (its ``StatusLengthValidator``; 500 unless the instance says more).

    Each URL Mastodon links (with a scheme: http(s) and the others Mastodon accepts, a known TLD)
    counts ``url_length`` (the instance's ``characters_reserved_per_url``, 23 by default);
    ``@user@domain`` counts as ``@user``; everything else counts in grapheme clusters as Ruby
    counts them (Unicode 15.0: an Indic conjunct such as "स्ते" is two, see
    :func:`graphemes_before_unicode_15_1`). Bare domains count as written.
    """
    _, _, blank, _ = _mastodon_patterns()
    if not text or blank.fullmatch(text):
        return 0
    entities: list[tuple[int, int, str]] = [(s, e, "x" * url_length) for s, e in mastodon_url_spans(text)]
    entities += [(s, e, "@" + user) for s, e, user in _mastodon_mentions(text)]
    entities.sort(key=lambda entity: entity[0])
    parts: list[str] = []
    position = 0
    for start, end, replacement in entities:
        if start < position:
            continue  # overlaps the previous entity: Extractor.remove_overlapping_entities drops it
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return graphemes_before_unicode_15_1("".join(parts))


def _is_mastodon_hashtag(tag: str) -> bool:
    """True when Mastodon's Tag::HASHTAG_RE takes ``"#" + tag + " "`` as the hashtag ``tag``."""
    *_, hashtag = _mastodon_patterns()
    match = hashtag.match("#" + tag + " ")
    return match is not None and match.group(1) == tag


# --- hashtags -------------------------------------------------------------------------------------

# Tags whose symbols carry the meaning: the hashtag people use on all three platforms instead.
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
    """A tag name as a CMS or front matter writes it -> hashtag text (no "#") valid on X, Bluesky
    and Mastodon, or None when it cannot be one.

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
    if not (is_x_hashtag(result) and is_bluesky_tag(result) and _is_mastodon_hashtag(result)):
        return None
    return result


def hashtag_key(tag: str) -> str:
    """Case-insensitive de-duplication key of a hashtag: NFKC, no leading "#", casefolded.

    ``hashtag_key("#AI") == hashtag_key("ai")``; use it to drop repeated tags, keep the first
    spelling for display.
    """
    return unicodedata.normalize("NFKC", tag).strip().lstrip("#").casefold()
