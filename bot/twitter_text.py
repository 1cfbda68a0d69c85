"""X's counting rules: a port of twitter-text 3.1.0 (npm), plus Mastodon's variant of its URL rule.

X measures a post with twitter-text's ``parseTweet``. This module reproduces it:

- the text is NFC-normalised first;
- every URL twitter-text recognises counts 23 (``transformedURLLength``), whatever its length,
  including bare domains whose TLD is in twitter-text's list (``extractUrlsWithIndices``);
- with config v3, every emoji that twemoji-parser 11.0.2 matches (ZWJ families, flags, skin
  tones, keycaps) counts as one character of weight 2; newer sequences (Emoji 12 and later, such
  as U+2764 U+FE0F U+200D U+1F525) are not in that list and count by their parts, which is the
  larger of the readings PLATFORMS.md asks us to fit to (``larger_reading`` also counts a bare
  "©"/"®" as 2, as Emoji-12 lists do);
- every other code point weighs 1 in U+0000-10FF, U+2000-200D, U+2010-201F, U+2032-2037 and 2
  elsewhere; a post is valid when it holds no U+FFFE, U+FEFF, U+FFFF and weighs 1-280.

Mastodon's ``StatusLengthValidator`` counts URLs with the Ruby twitter-text 3.1.0 regex as
Mastodon's ``config/initializers/twitter_regex.rb`` reconfigures it; :func:`mastodon_url_spans`
reproduces that one, since it shares the domain and TLD rules with X's.

Regexes are compiled on first use, so importing this module is cheap; the URL patterns hold only the
TLDs that occur in the text at hand (compiling all ~1,600 cost ~120 ms per process).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any, Literal

from bot import data

Config = Literal["v2", "v3"]

X_MAX_WEIGHTED_LENGTH = 280
TRANSFORMED_URL_LENGTH = 23
MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40

# twitter-text regexp/*.js, written out as Python character-class contents.
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL = r"\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069"
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]\^_{|}~$"
_PUNCT_NOT_IN_LABELS = r"!'#%&()*+,\\/:;<=>?@\[\]\^{|}~$"  # _PUNCT minus "_", ".", "-"
_LATIN = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268"
    r"\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
# JavaScript's /i flag (without /u) also lets in the characters whose upper case falls in the
# ranges above. Listed from node's own answer, so the classes match what twitter-text matches.
_LATIN_CI = (
    _LATIN + r"\u0260\u0269\u0275\u0280\u0283\u0288\u028A\u028C\u0292\u0399\u03B9\u1FBE"
    r"\u2C65\u2C66\u2C7E\u2C7F\uA7DC"
)
_CYRILLIC_CI = r"\u0400-\u04FF\u1C80-\u1C87"
# Weight-1 code points of configs v2 and v3 (the "ranges" of v2.json / v3.json).
_LIGHT = r"\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037"


@cache
def _tld_data() -> tuple[list[str], dict[str, str]]:
    """twitter-text's TLDs and, for non-ASCII TLD letters, the characters /i lets stand for them."""
    tlds: list[str] = []
    variants: dict[str, str] = {}
    for line in data.lines("twitter_tlds.txt"):
        if line.startswith("~"):
            char, _, chars = line[1:].partition(" ")
            variants[char] = chars
        else:
            tlds.append(line)
    return tlds, variants


def _char_class(char: str, variants: dict[str, str]) -> str:
    if char.isascii():
        return re.escape(char)
    chars = variants.get(char, char)
    return re.escape(chars) if len(chars) == 1 else "[" + "".join(re.escape(c) for c in chars) + "]"


def tld_alternation(tlds: tuple[str, ...] | None = None) -> str:
    """twitter-text's TLD list (or the subset ``tlds`` of it) as one regex, ASCII case-insensitive, as a trie.

    A trie keeps matching fast (the flat alternation of ~1,600 names is slow in Python's engine)
    and, with longer names tried before their prefixes, tries names in the same order as
    twitter-text's reverse-sorted alternation, so backtracking ends in the same place. A subset
    keeps that order among its names, so a pattern built from the names that can match somewhere
    in a text matches exactly as the full one does there (see :func:`_tld_candidates`).
    """
    all_tlds, variants = _tld_data()
    trie: dict[str, Any] = {}
    for tld in all_tlds if tlds is None else tlds:
        node = trie
        for char in tld:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [_char_class(k, variants) + build(node[k]) for k in sorted((k for k in node if k), reverse=True)]
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")" if len(branches) > 1 or "" in node else branches[0]
        return body + "?" if "" in node else body

    if not trie:
        return "(?!)"  # no TLD can match: only punycode domains remain
    # (?ai:) = ASCII-only case folding, like JavaScript's /i without /u for these letters.
    return "(?ai:" + build(trie) + ")"


@cache
def _tld_trie() -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """The TLDs as a trie of their letters, and for each non-ASCII text character the TLD letters it can be.

    Mirrors :func:`_char_class`: an ASCII TLD letter matches either case of itself, a non-ASCII one
    the characters of its variants (or only itself when it has none).
    """
    tlds, variants = _tld_data()
    trie: dict[str, Any] = {}
    stands_for: dict[str, set[str]] = {}
    for tld in tlds:
        node = trie
        for char in tld:
            node = node.setdefault(char, {})
            if not char.isascii():
                for variant in variants.get(char, char):
                    stands_for.setdefault(variant, set()).add(char)
        node[""] = tld
    return trie, {char: tuple(sorted(keys)) for char, keys in stands_for.items()}


def _tlds_after(text: str, dot: int, end: int) -> Iterator[tuple[str, int]]:
    """(TLD, index after it) for every TLD the regex's TLD alternation can match right after ``text[dot]``."""
    trie, stands_for = _tld_trie()
    nodes: list[dict[str, Any]] = [trie]
    i = dot + 1
    while nodes and i < end:
        char = text[i]
        keys: tuple[str, ...] = (char.lower(),) if char.isascii() else stands_for.get(char, ())
        nodes = [child for node in nodes for key in keys if (child := node.get(key)) is not None]
        i += 1
        for node in nodes:
            if "" in node:
                yield node[""], i


_TLD_FOLLOWER = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@+-")


def _tld_after_dot(text: str, start: int, end: int) -> bool:
    """:func:`_window_has_tld` of ``text[start:end]``."""
    return _window_has_tld(text[start:end])


@lru_cache(maxsize=4096)
def _window_has_tld(text: str) -> bool:
    """True when ``text`` holds a "." followed by a TLD (and no letter/digit/@/+/-), or by "xn--".

    Every URL's domain holds one. Same answer as searching the window for
    ``\\.(?:TLD(?=[^0-9a-zA-Z@+\\-]|\\Z)|[xX][nN]--)``, without compiling the ~1,600 TLDs into a regex.
    Kept per window: the fitter measures the same link and words in candidate after candidate.
    """
    start, end = 0, len(text)
    dot = text.find(".", start, end)
    while dot != -1:
        prefix = text[dot + 1:dot + 5]
        if dot + 5 <= end and prefix.isascii() and prefix.lower() == "xn--":
            return True
        for _, after in _tlds_after(text, dot, end):
            if after == end or text[after] not in _TLD_FOLLOWER:
                return True
        dot = text.find(".", dot + 1, end)
    return False


def _tld_candidates(text: str, start: int, end: int) -> tuple[str, ...]:
    """The TLDs that follow some "." of ``text[start:end]``: the only alternatives a URL regex can match there.

    Every TLD in the URL patterns comes right after a literal "."; a pattern whose alternation holds
    just these names (in the full list's order) therefore finds the same matches in that window as
    the full one, and costs a fraction to compile. Patterns are cached by this tuple.
    """
    found: set[str] = set()
    dot = text.find(".", start, end)
    while dot != -1:
        found.update(tld for tld, _ in _tlds_after(text, dot, end))
        dot = text.find(".", dot + 1, end)
    return tuple(sorted(found))


def _domain_gate(label_chars: str, tld: str) -> str:
    """A lookahead every domain match satisfies: label characters and dots, then "." and a TLD.

    It changes no match (the domain grammar implies it) but rejects hopeless start positions in
    one linear scan. Without it, a long run of letters holding a "." that no TLD follows (Chinese
    or Japanese prose mentioning "Node.js") costs the backtracking domain grammar at every position.
    ``label_chars`` is a negated class body ("." is added to it); the loops are possessive, so a run of
    label characters is scanned once.
    """
    to_dot = f"[{label_chars}.]*+\\."
    after_dot = f"(?:{tld}|[xX][nN]--)"
    return f"(?=(?:{to_dot}(?!{after_dot}))*+{to_dot}{after_dot})"


@lru_cache(maxsize=256)
def _url_patterns(tlds: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """extractUrl, validAsciiDomain and validTcoUrl of twitter-text 3.1.0, with the TLDs ``tlds`` only."""
    domain_char = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
    subdomain = f"(?:(?:{domain_char}(?:[_-]|{domain_char})*)?{domain_char}\\.)"
    domain_name = f"(?:(?:{domain_char}(?:-|{domain_char})*)?{domain_char}\\.)"
    tld = f"(?:{tld_alternation(tlds)}(?=[^0-9a-zA-Z@+\\-]|\\Z))"
    punycode = r"(?:[xX][nN]--[\-0-9a-zA-Z]+)"
    domain = f"(?:{subdomain}*{domain_name}(?:{tld}|{punycode}))"
    path_char = f"[a-zA-Z{_CYRILLIC_CI}0-9!*';:=+,.$/%#\\[\\]\\-\\u2013_~@|&{_LATIN_CI}]"
    balanced = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
    path_end = f"(?:[+\\-a-zA-Z{_CYRILLIC_CI}0-9=_#/{_LATIN_CI}]|(?:{balanced}))"
    path = f"(?:(?:{path_char}*(?:{balanced}{path_char}*)*{path_end})|(?:@{path_char}+/))"
    query_char = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[a-zA-Z0-9\-_&=#/]"
    preceding = f"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    gate = _domain_gate(f"^{_PUNCT_NOT_IN_LABELS}{_SPACES}{_INVALID}{_DIRECTIONAL}", tld)
    extract_url = re.compile(
        f"(({preceding})(([hH][tT][tT][pP][sS]?://)?{gate}({domain})(?::([0-9]+))?(/{path}*)?"
        f"(\\?{query_char}*{query_end})?))"
    )
    ascii_domain = re.compile(f"(?:(?:[\\-a-zA-Z0-9{_LATIN_CI}]+)\\.)+(?:{tld}|{punycode})")
    tco = re.compile(
        r"[hH][tT][tT][pP][sS]?://[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:\?" + query_char + "*" + query_end + ")?"
    )
    return extract_url, ascii_domain, tco


_NON_ASCII = re.compile(r"[^\x20-\x7E]")
_LABEL_SEPARATORS = re.compile("[\u3002\uff0e\uff61]")


def _punycode_label_ok(label: str) -> bool:
    """twitter-text's idna.toAscii check of one label: punycode.toASCII length 1-63."""
    if label.isascii() and label.isprintable():
        return 1 <= len(label) <= 63
    mapped = _LABEL_SEPARATORS.sub(".", label)
    encoded = ".".join(
        "xn--" + part.encode("punycode").decode("ascii") if _NON_ASCII.search(part) else part
        for part in mapped.split(".")
    )
    return 1 <= len(encoded) <= 63


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _is_valid_url(url: str, protocol: str, domain: str, ascii_domain: re.Pattern[str]) -> bool:
    """isValidUrl: the domain converts to ASCII and the whole URL stays within 4,096 UTF-16 units."""
    if domain[:4] == "xn--" and not ascii_domain.search(domain):
        return False
    if not all(_punycode_label_ok(label) for label in domain.split(".")):
        return False
    return len(protocol) + 2 * len(url) <= MAX_URL_LENGTH or len(protocol) + _utf16_len(url) <= MAX_URL_LENGTH


_SPACE = re.compile(f"[{_SPACES}]")


def _windows_with_dot(text: str) -> Iterator[tuple[int, int]]:
    """(pos, endpos) around each run of non-space characters that holds "." and a TLD after it.

    A URL holds no space and its domain ends in "." + TLD, so extractUrl can only match inside
    such a run, led by the space before it (its "preceding character"). Searching only there gives
    the same matches as scanning the whole text, and prose costs one pass instead of a regex
    attempt at every position.
    """
    reverse = None
    dot = text.find(".")
    while dot != -1:
        after = _SPACE.search(text, dot)
        end = after.start() if after else len(text)
        if _tld_after_dot(text, dot, end):
            if reverse is None:
                reverse = text[::-1]
            before = _SPACE.search(reverse, len(text) - dot)
            yield (len(text) - before.start() - 1 if before else 0), end
        dot = text.find(".", end)


def extract_url_spans(text: str, *, without_protocol: bool = True) -> list[tuple[int, int]]:
    """Code point spans of the URLs twitter-text's ``extractUrlsWithIndices`` finds in ``text``."""
    if not text or ("." not in text if without_protocol else ":" not in text):
        return []
    spans: list[tuple[int, int]] = []
    for pos, endpos in _windows_with_dot(text):
        spans.extend((pos + s, pos + e) for s, e in _url_spans_in(_window(text, pos, endpos), without_protocol))
    return spans


def _window(text: str, pos: int, endpos: int) -> tuple[str, str]:
    """``text[pos:endpos]`` and what a regex searching from ``pos`` can tell of the text before it.

    Neither URL pattern has a look-behind: only ``^`` sees before ``pos`` (at the string's start,
    and with Mastodon's MULTILINE after a line break). So the spans found in a window depend on
    this pair alone, and can be kept for the next candidate post holding the same link.
    """
    before = "" if pos == 0 else ("\n" if text[pos - 1] == "\n" else " ")
    return before, text[pos:endpos]


@lru_cache(maxsize=4096)
def _url_spans_in(window: tuple[str, str], without_protocol: bool) -> tuple[tuple[int, int], ...]:
    """extract_url_spans within one window (offsets from its start), with patterns of its own TLDs."""
    before, part = window
    text, pos = before + part, len(before)
    extract_url, ascii_domain, tco = _url_patterns(_tld_candidates(text, pos, len(text)))
    matches = extract_url.finditer(text, pos)
    return tuple((s - pos, e - pos) for s, e in _url_matches(matches, ascii_domain, tco, without_protocol))


def _url_matches(matches: Iterator[re.Match[str]], ascii_domain: re.Pattern[str], tco: re.Pattern[str],
                 without_protocol: bool) -> Iterator[tuple[int, int]]:
    for match in matches:
        before, url, protocol, domain, path = match.group(2, 3, 4, 5, 7)
        start, end = match.span(3)
        if not _is_valid_url(url, protocol or "https://", domain, ascii_domain):
            continue
        if not protocol:
            if not without_protocol or before[-1:] in ("-", "_", ".", "/"):
                continue
            found = [(start + m.start(), start + m.end()) for m in ascii_domain.finditer(domain)]
            if not found:
                continue
            if path:
                found[-1] = (found[-1][0], end)
            yield from found
        else:
            short = tco.match(url)
            if short:
                if len(short.group(1)) > MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + len(short.group(0))
            yield start, end


@cache
def _emoji_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """twemoji-parser's regex, and the class of characters one of its matches can start with."""
    emoji, first = data.lines("twemoji11.txt")
    return re.compile(emoji), re.compile(first)


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans of the emoji twemoji-parser 11.0.2 finds (what parseTweet v3 counts as 2).

    Same matches as ``finditer``, but the regex is only tried where a match can start.
    """
    if text.isascii():
        return []
    emoji, first = _emoji_patterns()
    spans: list[tuple[int, int]] = []
    candidate = first.search(text)
    while candidate:
        hit = emoji.match(text, candidate.start())
        if hit:
            spans.append(hit.span())
        candidate = first.search(text, hit.end() if hit else candidate.start() + 1)
    return spans


_HEAVY_RUN = re.compile(f"[^{_LIGHT}]+")
_INVALID_CHAR = re.compile(f"[{_INVALID}]")


def _char_weight(text: str) -> int:
    """Sum of per-code-point weights (1 or 2) of ``text``, without URL or emoji rules."""
    if text.isascii():
        return len(text)
    return len(text) + sum(map(len, _HEAVY_RUN.findall(text)))


_TEXT_STYLE_EMOJI = re.compile("[\u00a9\u00ae](?!\ufe0f)")


@lru_cache(maxsize=4096)
def _entity_char_weight(entity: str) -> int:
    """_char_weight of an emoji or URL; the same emoji recur in every post, so this is cached."""
    return _char_weight(entity)


def parse_tweet(text: str, config: Config = "v3", *, larger_reading: bool = False) -> tuple[int, bool]:
    """``parseTweet(text, config)``: (weightedLength, valid) exactly as twitter-text 3.1.0 computes them.

    With ``larger_reading``, a bare "©" or "®" (no U+FE0F after it) also counts as an emoji of
    weight 2, as emoji lists built from Unicode's emoji-test.txt count it (twitter-text-parser,
    Emoji 12), where twemoji-parser 11 leaves it a weight-1 character. Every other difference
    between the readings already goes the other way (newer sequences count by their parts here),
    so this gives the larger reading piece by piece.
    """
    if config not in ("v2", "v3"):
        raise ValueError(f"unknown twitter-text config {config!r}: use 'v2' or 'v3'")
    normalized = text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)
    entities: list[tuple[int, int, int]] = [(s, 0, e) for s, e in extract_url_spans(normalized)]
    if config == "v3":
        entities.extend((s, 1, e) for s, e in emoji_spans(normalized))
        if larger_reading and not normalized.isascii():
            entities.extend((m.start(), 1, m.end()) for m in _TEXT_STYLE_EMOJI.finditer(normalized))
        entities.sort()
    weight = _char_weight(normalized)
    position = 0
    for start, kind, end in entities:
        if start < position:
            continue
        fixed = TRANSFORMED_URL_LENGTH if kind == 0 else 2
        weight += fixed - _entity_char_weight(normalized[start:end])
        position = end
    valid = 0 < weight <= X_MAX_WEIGHTED_LENGTH and not _INVALID_CHAR.search(normalized)
    return weight, valid


# --- hashtags -------------------------------------------------------------------------------------


@cache
def _hashtag_tables() -> tuple[list[int], list[int], list[int], list[int]]:
    tables: dict[str, list[tuple[int, int]]] = {}
    for line in data.lines("x_hashtag_chars.txt"):
        name, _, rest = line.partition(" ")
        tables[name] = data.ranges(rest)
    alpha, alnum = tables["alpha"], tables["alnum"]
    return [a for a, _ in alpha], [b for _, b in alpha], [a for a, _ in alnum], [b for _, b in alnum]


def _in_ranges(code_point: int, starts: list[int], ends: list[int]) -> bool:
    i = bisect.bisect_right(starts, code_point) - 1
    return i >= 0 and code_point <= ends[i]


def is_x_hashtag(tag: str) -> bool:
    """True when twitter-text extracts ``"#" + tag`` (followed by a space) as the hashtag ``tag``.

    twitter-text's rule: every character is a hashtag character (letters, marks, digits, "_" and a
    few joiners of its Unicode tables), at least one is a letter or mark, and the first is not
    U+FE0F or U+20E3 (which would make "#" part of a keycap emoji). A tag with a "." could also be
    taken for a URL; such characters are not hashtag characters anyway.
    """
    if not tag or tag[0] in "\ufe0f\u20e3":
        return False
    alpha_starts, alpha_ends, alnum_starts, alnum_ends = _hashtag_tables()
    if not all(_in_ranges(ord(c), alnum_starts, alnum_ends) for c in tag):
        return False
    return any(_in_ranges(ord(c), alpha_starts, alpha_ends) for c in tag)


# --- Mastodon -------------------------------------------------------------------------------------

# Ruby twitter-text 3.1.0 regex.rb, as Mastodon's config/initializers/twitter_regex.rb overrides it.
_RUBY_PUNCT = r"!\"#$%&'()*+,\-./:;<=>?@\[\]\^_`{|}~"
_RUBY_PUNCT_NOT_IN_LABELS = r"!\"#$%&'()*+,/:;<=>?@\[\]\^`{|}~"
_RUBY_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_WHITE_SPACE = r"\x09-\x0D\x20\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_UCHARS = (
    r"\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF\U00010000-\U0001FFFD\U00020000-\U0002FFFD"
    r"\U00030000-\U0003FFFD\U00040000-\U0004FFFD\U00050000-\U0005FFFD\U00060000-\U0006FFFD"
    r"\U00070000-\U0007FFFD\U00080000-\U0008FFFD\U00090000-\U0009FFFD\U000A0000-\U000AFFFD"
    r"\U000B0000-\U000BFFFD\U000C0000-\U000CFFFD\U000D0000-\U000DFFFD\U000E1000-\U000EFFFD"
    r"\uE000-\uF8FF\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"
)
# The code points from U+007F up that are not in _UCHARS. Python's ``re`` compiles a class holding
# _UCHARS's wide ranges slowly (~3 ms each, by filling a 64K table in Python); the query classes are
# written as negated classes of the complement, which compile in a fraction of that and match the
# same characters (tests/test_perf.py checks every code point).
_NOT_UCHARS = (
    r"\x7F-\x9F\uD800-\uDFFF\uFDD0-\uFDEF\uFFF0-\uFFFF\U0001FFFE-\U0001FFFF\U0002FFFE-\U0002FFFF"
    r"\U0003FFFE-\U0003FFFF\U0004FFFE-\U0004FFFF\U0005FFFE-\U0005FFFF\U0006FFFE-\U0006FFFF"
    r"\U0007FFFE-\U0007FFFF\U0008FFFE-\U0008FFFF\U0009FFFE-\U0009FFFF\U000AFFFE-\U000AFFFF"
    r"\U000BFFFE-\U000BFFFF\U000CFFFE-\U000CFFFF\U000DFFFE-\U000E0FFF\U000EFFFE-\U000EFFFF"
    r"\U000FFFFE-\U000FFFFF\U0010FFFE-\U0010FFFF"
)
# Mastodon's query characters: [a-zA-Z0-9!?*'();:&=+$/%#\[\]\-_.,~|@\^] and _UCHARS; the last one
# of a query: [a-zA-Z0-9_&=#/\-] and _UCHARS (Onigmo's /i adds U+017F and U+212A, inside _UCHARS).
_MASTODON_QUERY_CHAR = r"[^\x00-\x20\x22\x3C\x3E\x5C\x60\x7B\x7D" + _NOT_UCHARS + "]"
_MASTODON_QUERY_END = r"[^\x00-\x22\x24-\x25\x27-\x2C\x2E\x3A-\x3C\x3E-\x40\x5B-\x5E\x60\x7B-\x7E" + _NOT_UCHARS + "]"
# \p{Cyrillic} and \p{Pd} of Unicode 15.0 (Ruby 3.3/3.4, which Mastodon 4.x runs on).
_CYRILLIC_SCRIPT = (
    r"\u0400-\u0484\u0487-\u052F\u1C80-\u1C88\u1D2B\u1D78\u2DE0-\u2DFF\uA640-\uA69F\uFE2E-\uFE2F"
    r"\U0001E030-\U0001E06D\U0001E08F"
)
_DASH_PUNCTUATION = (
    r"\-\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A-\u2E3B\u2E40\u2E5D\u301C\u3030\u30A0"
    r"\uFE31-\uFE32\uFE58\uFE63\uFF0D\U00010EAD"
)
MASTODON_URL_SCHEMES = ("https", "http", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "gemini")


@lru_cache(maxsize=256)
def _mastodon_url_pattern(tlds: tuple[str, ...]) -> re.Pattern[str]:
    """Mastodon's ``Twitter::TwitterText::Regex[:valid_url]``, Onigmo's syntax written out for ``re``.

    Only the TLDs ``tlds`` are in its alternation (see :func:`_tld_candidates`).
    """
    # Onigmo's /i folds U+017F and U+212A to "s" and "k": they count as ASCII letters there.
    az = r"a-zA-Z\u017F\u212A"
    domain_char = f"[^{_DIRECTIONAL}{_RUBY_PUNCT}\\x00-\\x1F\\x7F{_INVALID}{_RUBY_SPACES}]"
    subdomain = f"(?:(?:{domain_char}(?:[_-]|{domain_char})*)?{domain_char}\\.)"
    domain_name = f"(?:(?:{domain_char}(?:-|{domain_char})*)?{domain_char}\\.)"
    tld = f"(?:{tld_alternation(tlds)}(?=[^0-9{az}@+\\-]|$))"
    domain = f"(?:{subdomain}*{domain_name}(?:{tld}|(?:[xX][nN]--[0-9{az}]+)))"
    gem_path_char = f"[{az}{_CYRILLIC_SCRIPT}0-9!*';:=+,.$/%#\\[\\]{_DASH_PUNCTUATION}_~&|@{_LATIN_CI}]"
    gem_balanced = f"\\((?:{gem_path_char}+|(?:{gem_path_char}*\\({gem_path_char}+\\){gem_path_char}*))\\)"
    path_char = f"[^{_WHITE_SPACE}<>()?]"
    path_end = f"(?:[^{_WHITE_SPACE}()?!*\"'「」<>;:=,.$%\\[\\]~&|@]|(?:{gem_balanced}))"
    balanced = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
    path = f"(?:(?:{path_char}*(?:{balanced}{path_char}*)*{path_end})|(?:{path_char}+/))"
    query_char = _MASTODON_QUERY_CHAR
    query_end = _MASTODON_QUERY_END
    preceding = f"(?:[^{az}0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    schemes = "|".join(MASTODON_URL_SCHEMES)
    gate = _domain_gate(f"^{_DIRECTIONAL}{_RUBY_PUNCT_NOT_IN_LABELS}\\x00-\\x1F\\x7F{_INVALID}{_RUBY_SPACES}", tld)
    return re.compile(
        f"(({preceding})(((?i:{schemes})://)?{gate}({domain})(?::([0-9]+))?(/{path}*)?(\\?{query_char}*{query_end})?))",
        re.MULTILINE,
    )


def _libidn_to_ascii_growth(domain: str) -> int | None:
    """How much longer IDN::Idna.toASCII (libidn, IDNA 2003) makes ``domain``; None if it refuses it."""
    if domain.isascii():
        return 0 if all(1 <= len(label) <= 63 for label in domain.split(".")) else None
    import stringprep
    from encodings import idna

    try:
        if any(stringprep.in_table_a1(char) for char in domain):
            return None  # libidn refuses code points unassigned in Unicode 3.2
        encoded = b".".join(idna.ToASCII(label) for label in _LABEL_SEPARATORS.sub(".", domain).split("."))
    except UnicodeError:
        return None
    return max(0, len(encoded) - len(domain))


_ASCII_SPACE = re.compile("[\t\n\x0b\x0c\r \x85]")


def _windows_with_scheme(text: str) -> Iterator[tuple[int, int]]:
    """(pos, endpos) around each run without ASCII white space that holds "://".

    Mastodon only counts URLs with a scheme, and its URL (query strings included) holds no ASCII
    white space, so the regex can only match there, led by the character before the run.
    """
    reverse = text[::-1]
    scheme = text.find("://")
    while scheme != -1:
        after = _ASCII_SPACE.search(text, scheme)
        end = after.start() if after else len(text)
        before = _ASCII_SPACE.search(reverse, len(text) - scheme)
        start = len(text) - before.start() - 1 if before else 0  # the space before the run, or 0
        if _tld_after_dot(text, start, end):
            yield start, end
        scheme = text.find("://", end)


def mastodon_url_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the URLs Mastodon's StatusLengthValidator replaces with a 23-character placeholder.

    ``Extractor.extract_urls_with_indices(text, extract_url_without_protocol: false)`` of the Ruby
    twitter-text 3.1.0 gem, with Mastodon's URL regex: only URLs with a scheme count (bare domains
    count as written), the domain must end in a known TLD and pass IDNA.
    """
    if "://" not in text:
        return []
    spans: list[tuple[int, int]] = []
    for pos, endpos in _windows_with_scheme(text):
        spans.extend((pos + s, pos + e) for s, e in _mastodon_spans_in(_window(text, pos, endpos)))
    return spans


@lru_cache(maxsize=4096)
def _mastodon_spans_in(window: tuple[str, str]) -> tuple[tuple[int, int], ...]:
    """mastodon_url_spans within one window (offsets from its start); see :func:`_window`."""
    before, part = window
    text, pos = before + part, len(before)
    pattern = _mastodon_url_pattern(_tld_candidates(text, pos, len(text)))
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text, pos):
        url, protocol, domain = match.group(3, 4, 5)
        if not protocol:
            continue
        start, end = match.span(3)
        short = _ruby_tco().match(url)
        if short:
            if len(short.group(1)) > MAX_TCO_SLUG_LENGTH:
                continue
            end = start + len(short.group(0))
            url = short.group(0)
        growth = _libidn_to_ascii_growth(domain)
        if growth is None or len(url) + growth > MAX_URL_LENGTH:
            continue
        spans.append((start - pos, end - pos))
    return tuple(spans)


@cache
def _ruby_tco() -> re.Pattern[str]:
    return re.compile(r"(?i:https?)://[tT]\.[cC][oO]/([a-zA-Z0-9]+)")
