"""Pieces every loader shares: byte checks, decoding, whitespace, tags, URLs and the article tail.

The "tail" is what authors and publishing tools append after the article proper: a line of hashtags, a
"References"/"Sources" section, share boilerplate. :func:`tidy_blocks` takes it off the text, keeps the
hashtags as tags, and picks up a ``Canonical: https://…`` line if the text has one.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.errors import InputError

MAX_ARTICLE_BYTES = 5 * 1024 * 1024
"""The largest article crosspost reads (file, stdin, URL body or webhook payload)."""

FORMATS = ("text", "markdown", "html", "json")

# Invisible characters that only get in the way (zero-width space, word joiner, BOM, soft hyphen).
# ZWJ (U+200D) stays: emoji sequences need it.
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad]")


@dataclass(frozen=True)
class Block:
    """One block of article text: ``kind`` is "para", "heading", "list", "quote" or "table".

    A block's ``text`` is one line except for lists and line-broken paragraphs, whose lines are
    separated by single newlines.
    """

    kind: str
    text: str


def inline_text(value: str) -> str:
    """Normalise text that must be one line (titles, summaries): NBSP to space, runs to one space.

    ``str.split()`` splits on every Unicode space (NBSP, thin, ideographic, line separators...).
    """
    if not value.isascii():
        value = _INVISIBLE.sub("", value)
    return " ".join(value.split())


def block_text(value: str) -> str:
    """Normalise a block that may hold several lines: each line squeezed, empty lines dropped."""
    lines = (inline_text(line) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def body_from_blocks(blocks: Iterable[Block]) -> str:
    """Join blocks into the Article body: paragraphs separated by one blank line."""
    return "\n\n".join(b.text for b in blocks if b.text)


def lead_paragraph(blocks: Iterable[Block]) -> str:
    """The first prose paragraph (not a heading, list, quote or table), else the first block at all."""
    blocks = list(blocks)
    for block in blocks:
        if block.kind == "para" and block.text:
            return inline_text(block.text)
    return inline_text(blocks[0].text) if blocks else ""


# ---------------------------------------------------------------------------- bytes and decoding


def check_bytes(data: bytes, origin: str) -> None:
    """Refuse input that is too large, empty, UTF-16/32 or binary, with a one-line reason."""
    if len(data) > MAX_ARTICLE_BYTES:
        raise InputError(
            f"{origin}: larger than the {MAX_ARTICLE_BYTES // (1024 * 1024)} MB limit "
            f"({MAX_ARTICLE_BYTES:,} bytes); is this really one article?"
        )
    if not data.strip():
        raise InputError(f"{origin}: is empty" if not data else f"{origin}: contains only whitespace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{origin}: is UTF-16 encoded; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{origin}: looks like a binary file (NUL byte at offset {nul}); "
            "crosspost reads plain text, Markdown, HTML or JSON"
        )


def decode(data: bytes, origin: str, charset: str | None = None) -> str:
    """Decode ``data`` as ``charset`` (default UTF-8, BOM allowed); say where it is broken if it is."""
    encoding = "utf-8"
    if charset:
        try:
            encoding = codecs.lookup(charset).name
        except LookupError:
            raise InputError(f"{origin}: unknown character set {charset!r}") from None
    if encoding == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise InputError(f"{origin}: not valid {name} (byte 0x{bad} at offset {exc.start}); save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------- values


def clean_tags(values: Iterable[str], *, strip_hash: bool = True) -> tuple[str, ...]:
    """Tags as written, trimmed, without a leading '#', without empties or case-insensitive repeats."""
    seen: set[str] = set()
    tags: list[str] = []
    for value in values:
        tag = inline_text(value)
        if strip_hash:
            tag = tag.lstrip("#").strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


def tags_value(value: Any, field: str, origin: str, *, space_separated: bool = False) -> list[str]:
    """Read a tags-like field: a list of strings or one string.

    A string is split on commas; without commas it is one tag, unless it is a run of ``#hashtags`` or
    ``space_separated`` is set (Jekyll's front matter reads ``tags: ai cloud`` as two tags).
    """
    if value is None:
        return []
    if isinstance(value, str):
        if "," in value:
            return [part for part in value.split(",") if part.strip()]
        if space_separated or value.strip().startswith("#"):
            return value.split()
        return [value] if value.strip() else []
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value if not isinstance(v, bool)]
    raise InputError(
        f"{origin}: {field!r} must be a list of strings or a comma-separated string, not {type(value).__name__}"
    )


def http_url(value: Any, base: str | None = None) -> str | None:
    """An absolute http(s) URL from ``value`` (joined with ``base`` if relative), else ``None``."""
    if not isinstance(value, str):
        return None
    url: str = value.strip()
    if not url or url.startswith(("data:", "javascript:", "#")):
        return None
    try:
        if base and not urlsplit(url).scheme:
            url = urljoin(base, url)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def date_value(value: Any) -> str | None:
    """A publication date as an ISO 8601 string (YAML and TOML give date objects; strings stay as written)."""
    if isinstance(value, dt.datetime | dt.date):
        return str(value.isoformat())
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def lang_value(value: Any) -> str | None:
    """A language tag: ``en_US`` becomes ``en-US``; anything not a short string is ignored."""
    if not isinstance(value, str):
        return None
    value = value.strip().replace("_", "-")
    return value if value and len(value) <= 35 and re.fullmatch(r"[A-Za-z0-9-]+", value) else None


def bool_value(value: Any, field: str, origin: str) -> bool | None:
    """A yes/no setting written as a bool or as true/false/yes/no/1/0."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "on", "1"}:
        return True
    if text in {"false", "no", "off", "0"}:
        return False
    raise InputError(f"{origin}: {field!r} must be true or false, not {value!r}")


def str_value(value: Any, field: str, origin: str) -> str:
    """A text field that must be a string when present (numbers are accepted and converted)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{origin}: {field!r} must be a string, not {type(value).__name__}")


# ---------------------------------------------------------------------------- the tail

_EMPHASIS = re.compile(r"[*_]{1,3}")
REFERENCES_LINE = re.compile(
    r"^(?:#{1,6}\s*)?[*_]{0,3}\s*(?:references|sources|further reading|bibliography|citations)"
    r"\s*[*_]{0,3}\s*(?::.*)?$",
    re.IGNORECASE,
)
_SHARE_CUT = re.compile(r"^use the link below to share or embed this (?:post|page|article)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"^(?:🔗.*"
    r"|share or link to this (?:page|post)"
    r"|social commentary influenced the creation of this article\.?"
    r"|(?:click|tap) to share\b.*"
    r"|share this(?: post| article| page)?:?"
    r"|like this:?|loading\.\.\.)$",
    re.IGNORECASE,
)
_META_URL = re.compile(
    r"^(?:canonical(?:[ _-]?url)?|url|permalink|originally published at)\s*:\s*<?(https?://[^\s>]+)>?$",
    re.IGNORECASE,
)
_HASHTAG = r"#\w+(?:[-'’]\w+)*"
HASHTAG_LINE = re.compile(rf"^{_HASHTAG}(?:[\s,;]+{_HASHTAG})*[\s,;.]*$")
_HASHTAG_TAKE = re.compile(_HASHTAG)


def plain_line(line: str) -> str:
    """A line without its emphasis markers and outer spaces, for matching boilerplate."""
    return inline_text(_EMPHASIS.sub("", line) if "*" in line or "_" in line else line)


_REFERENCE_WORDS = ("reference", "source", "further reading", "bibliograph", "citation")


def line_kind(line: str) -> tuple[str, str] | None:
    """Classify a line of the tail: ("cut", ""), ("boilerplate", ""), ("meta", url), ("hashtags", line).

    ``None`` for an ordinary line. Cheap substring checks run first: this is called for every line.
    """
    stripped = line.strip()
    if not stripped:
        return None
    if stripped[0] == "#" and HASHTAG_LINE.match(stripped):
        return ("hashtags", stripped)
    lowered = stripped.lower()
    if any(word in lowered for word in _REFERENCE_WORDS) and REFERENCES_LINE.match(stripped):
        return ("cut", "")
    plain = plain_line(stripped)
    if len(plain) <= 120 or plain.startswith(("🔗", "Click", "click", "Tap", "tap")):
        if _SHARE_CUT.match(plain):
            return ("cut", "")
        if _BOILERPLATE.match(plain):
            return ("boilerplate", "")
    if "://" in plain and (meta := _META_URL.match(plain)) is not None:
        return ("meta", meta.group(1))
    return None


def is_special_line(line: str) -> bool:
    """Lines that are never part of a paragraph: tail markers, boilerplate, hashtags, canonical URL."""
    return line_kind(line) is not None


@dataclass(frozen=True)
class Tidied:
    """What :func:`tidy_blocks` returns: the article's own blocks, trailing hashtags, a canonical URL."""

    blocks: list[Block]
    hashtags: list[str]
    canonical: str | None


def tidy_blocks(blocks: list[Block]) -> Tidied:
    """Cut the tail (references, share boilerplate) and take the trailing hashtag line as tags."""
    main: list[Block] = []
    tail: list[str] = []
    canonical: str | None = None
    cut = False
    for block in blocks:
        if cut:
            tail.extend(block.text.split("\n"))
            continue
        kept: list[str] = []
        for line in block.text.split("\n"):
            kind = None if cut else line_kind(line)
            if cut or (kind is not None and kind[0] == "cut"):
                cut = True
                tail.append(line)
            elif kind is not None and kind[0] == "boilerplate":
                continue
            elif kind is not None and kind[0] == "meta":
                canonical = canonical or kind[1]
            else:
                kept.append(line)
        if kept:
            main.append(Block(block.kind, "\n".join(kept)))
    hashtags: list[str] = []
    if main:
        last_lines = main[-1].text.split("\n")
        if HASHTAG_LINE.match(last_lines[-1].strip()):
            hashtags = _HASHTAG_TAKE.findall(last_lines[-1])
            rest = "\n".join(last_lines[:-1])
            main[-1:] = [Block(main[-1].kind, rest)] if rest.strip() else []
    if not hashtags:
        tail_lines = [t for t in tail if t.strip() and not _BOILERPLATE.match(plain_line(t.strip()))]
        if tail_lines and HASHTAG_LINE.match(tail_lines[-1].strip()):
            hashtags = _HASHTAG_TAKE.findall(tail_lines[-1])
    return Tidied(main, [h[1:] for h in hashtags], canonical)
