"""Mastodon's counting rule: its ``StatusLengthValidator`` (Mastodon 4.x) and its ``Tag::HASHTAG_RE``."""

from __future__ import annotations

from functools import cache
from typing import Any

from bot.text import URL_WEIGHT, graphemes_before_unicode_15_1
from bot.twitter_text import mastodon_url_spans

__all__ = ["is_mastodon_hashtag", "mastodon_length", "mastodon_url_spans"]


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


def is_mastodon_hashtag(tag: str) -> bool:
    """True when Mastodon's Tag::HASHTAG_RE takes ``"#" + tag + " "`` as the hashtag ``tag``."""
    *_, hashtag = _mastodon_patterns()
    match = hashtag.match("#" + tag + " ")
    return match is not None and match.group(1) == tag


def measure(text: str, url_weight: int) -> int:
    """The registry's measure: each link counts the instance's ``url_weight``."""
    return mastodon_length(text, url_length=url_weight)
