"""Loaders: any article (file, URL, stdin, webhook body) in, one :class:`bot.article.Article` out.

Public API::

    load_article(source, *, fmt=None, stdin=None, allow_private=None) -> Article   # path, URL or "-"
    parse_article(data, *, fmt=None, origin="<input>", base_url=None, content_type=None) -> Article
    from_ghost(payload) / from_wordpress(post) / from_generic(obj) -> Article       # parsed JSON
    MAX_ARTICLE_BYTES, FORMATS

The format is, in order: ``fmt`` if given; the Content-Type of a fetched URL (or of a webhook body);
the file extension (.txt, .md/.markdown, .html/.htm, .json); content sniffing. Every failure is an
:class:`bot.errors.InputError` with one line that starts with the source's name.

Importing this package stays cheap: BeautifulSoup and PyYAML are imported only when a document needs
them, and the fetcher only when a URL is loaded.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from bot.article import Article
from bot.errors import InputError
from bot.load.common import FORMATS, MAX_ARTICLE_BYTES, check_bytes, decode
from bot.load.html import parse_html
from bot.load.jsonfmt import from_generic, from_ghost, from_wordpress, parse_json
from bot.load.markdown import parse_markdown
from bot.load.plaintext import parse_text
from bot.load.wordpress import resolve_wordpress

__all__ = [
    "FORMATS",
    "MAX_ARTICLE_BYTES",
    "from_generic",
    "from_ghost",
    "from_wordpress",
    "load_article",
    "parse_article",
]

_ALIASES = {
    "text": "text", "txt": "text", "plain": "text",
    "markdown": "markdown", "md": "markdown",
    "html": "html", "htm": "html",
    "json": "json",
}  # fmt: skip
_EXTENSIONS = {
    ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".json": "json",
}  # fmt: skip
_NOT_ARTICLES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
_ACCEPT = "text/html, application/xhtml+xml, application/json, text/markdown, text/plain;q=0.9, */*;q=0.1"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_MD_SIGNS = re.compile(r"^(?:#{1,6}[ \t]+\S|```|~~~)", re.MULTILINE)
_HTML_SIGNS = re.compile(r"<(?:html|head|body|article|main|p|div|h1|meta|title)\b", re.IGNORECASE)


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """``"text/html; charset=ISO-8859-1"`` -> ``("text/html", "ISO-8859-1")``."""
    if not content_type:
        return "", None
    media, *params = content_type.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media.strip().lower(), charset


def _format_from_type(media: str, origin: str) -> str | None:
    if media in {"text/html", "application/xhtml+xml"}:
        return "html"
    if media in {"application/json", "text/json"} or media.endswith("+json"):
        return "json"
    if media in {"text/markdown", "text/x-markdown"}:
        return "markdown"
    if media.startswith(_NOT_ARTICLES):
        raise InputError(f"{origin}: Content-Type {media} is not an article (expected HTML, JSON, Markdown or text)")
    return None  # text/plain and unknown types: decide by extension, then by content


def _format_from_name(origin: str) -> str | None:
    path = urlsplit(origin).path if "://" in origin else origin
    return _EXTENSIONS.get(PurePosixPath(path.replace("\\", "/")).suffix.lower())


def _sniff(text: str) -> str:
    head = text.lstrip()[:4096]
    if head.startswith(("{", "[")):
        return "json"
    lowered = head.lower()
    if lowered.startswith(("<!doctype html", "<html", "<?xml")) or (head.startswith("<") and _HTML_SIGNS.search(head)):
        return "html"
    if head.startswith(("---\n", "+++\n")) or _MD_SIGNS.search(text[:20000]):
        return "markdown"
    return "text"


def _resolve_format(fmt: str | None, origin: str) -> str | None:
    if fmt is None:
        return None
    resolved = _ALIASES.get(fmt.strip().lower())
    if resolved is None:
        raise InputError(f"{origin}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return resolved


def parse_article(
    data: bytes,
    *,
    fmt: str | None = None,
    origin: str = "<input>",
    base_url: str | None = None,
    content_type: str | None = None,
) -> Article:
    """Build an Article from raw bytes; ``origin`` names the source in error messages.

    ``base_url`` resolves relative canonical, permalink and image URLs; ``content_type`` (a
    Content-Type header) picks the format and the character set.
    """
    chosen = _resolve_format(fmt, origin)
    check_bytes(data, origin)
    media, charset = _media_type(content_type)
    if chosen is None and media:
        chosen = _format_from_type(media, origin)
    if chosen is None:
        chosen = _format_from_name(origin)
    if charset is None and (chosen == "html" or (chosen is None and data.lstrip()[:1] == b"<")):
        found = _META_CHARSET.search(data[:4096])
        charset = found.group(1).decode("ascii") if found else None
    text = decode(data, origin, charset)
    if chosen is None:
        chosen = _sniff(text)
    try:
        if chosen == "json":
            article = parse_json(text, origin=origin)
        elif chosen == "html":
            article = parse_html(text, origin=origin, base_url=base_url)
        elif chosen == "markdown":
            article = parse_markdown(text, origin=origin, base_url=base_url)
        else:
            article = parse_text(text, origin=origin)
    except RecursionError:
        raise InputError(f"{origin}: the {chosen} is nested too deeply to read") from None
    if not (article.title or article.summary or article.body):
        raise InputError(f"{origin}: no title or text found ({chosen})")
    return article


def _read_capped(stream: BinaryIO, origin: str) -> bytes:
    """Read at most one byte more than the cap, so a huge input is refused without reading it all."""
    try:
        return stream.read(MAX_ARTICLE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{origin}: cannot read ({exc.strerror or exc})") from None


def _read_file(source: str) -> bytes:
    path = Path(source).expanduser()
    try:
        if path.is_dir():
            raise InputError(f"{source}: is a directory; pass an article file")
        with path.open("rb") as handle:
            return _read_capped(handle, source)
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory; pass an article file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot open ({exc.strerror or exc})") from None


def load_article(
    source: str,
    *,
    fmt: str | None = None,
    stdin: BinaryIO | None = None,
    allow_private: bool | None = None,
    timeout: float = 10.0,
) -> Article:
    """Load an article from a file path, an http(s) URL, or ``"-"`` for standard input.

    A URL is fetched with :func:`bot.fetch.fetch` (timeout, size cap, no private addresses unless
    ``allow_private`` or ``CROSSPOST_ALLOW_PRIVATE_NETWORK=1``); an HTML page without a canonical link
    gets the final URL after redirects as its ``url``; a page that declares its JSON
    (``<link rel="alternate" type="application/json">``) is read from that JSON instead. A WordPress REST
    post without ``_embed`` gets its tag names and featured image from the site's REST API
    (:mod:`bot.load.wordpress`). What could not be completed is listed in ``extra["warnings"]``.
    """
    if not source.strip():
        raise InputError("no article given: pass a file path, an http(s) URL, or - for standard input")
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return parse_article(_read_capped(stream, "<stdin>"), fmt=fmt, origin="<stdin>")
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    if scheme in {"http", "https"}:
        from bot.fetch import fetch

        _resolve_format(fmt, source)
        result = fetch(
            source, max_bytes=MAX_ARTICLE_BYTES, timeout=timeout, allow_private=allow_private, accept=_ACCEPT
        )
        article = parse_article(
            result.body, fmt=fmt, origin=source, base_url=result.url_final, content_type=result.content_type
        )
        if article.url is None and article.extra.get("format") == "html":
            article = replace(article, url=result.url_final)
        if fmt is None and article.extra.get("json_alternate"):
            article = _prefer_json_alternate(article, fetch, allow_private=allow_private, timeout=timeout)
        return resolve_wordpress(article, allow_private=allow_private, timeout=timeout)
    if scheme:
        raise InputError(f"{source}: only http and https URLs can be loaded (or a file path, or - for stdin)")
    article = parse_article(_read_file(source), fmt=fmt, origin=source)
    return resolve_wordpress(article, allow_private=allow_private, timeout=timeout)


def _prefer_json_alternate(page: Article, fetch: Any, *, allow_private: bool | None, timeout: float) -> Article:
    """The article from the JSON the page declares (WordPress links its REST post from every post page).

    The structured source has what a theme's HTML hides: the excerpt, tag names apart from categories,
    the featured image's alt text. A WordPress REST URL is asked with ``_embed`` so terms and media come
    in the same answer. When the JSON cannot be read, the page's own article stands, with a warning.
    """
    href = str(page.extra["json_alternate"])
    if "/wp-json/" in href and "_embed" not in href:
        href += ("&" if "?" in href else "?") + "_embed"
    try:
        result = fetch(href, max_bytes=MAX_ARTICLE_BYTES, timeout=timeout, allow_private=allow_private,
                       accept="application/json")
        article = parse_article(result.body, fmt="json", origin=href, base_url=result.url_final)
    except InputError as exc:
        warning = f"{page.extra.get('origin')}: its JSON alternate could not be used, read the page instead ({exc})"
        return replace(page, extra={**page.extra, "warnings": [*page.extra.get("warnings", []), warning]})
    if article.url is None:
        article = replace(article, url=page.url)
    return replace(article, extra={**article.extra, "page": page.extra.get("origin")})
