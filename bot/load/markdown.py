"""Markdown with YAML (``---``) or TOML (``+++``) front matter, as Hugo, Jekyll and Eleventy write it.

The body becomes plain text without a Markdown library: headings, emphasis and links keep their words,
images, code fences, HTML tags, comments, shortcodes and link definitions go, list items stay one per line.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bot.article import Article
from bot.errors import InputError
from bot.load.common import (
    Block,
    block_text,
    body_from_blocks,
    bool_value,
    clean_tags,
    date_value,
    http_url,
    inline_text,
    lang_value,
    lead_paragraph,
    str_value,
    tags_value,
    tidy_blocks,
)
from bot.policy import publication_state

# ---------------------------------------------------------------------------- front matter

_FENCES = {
    "---": ("yaml", re.compile(r"^(?:---|\.\.\.)[ \t]*$")),
    "+++": ("toml", re.compile(r"^\+\+\+[ \t]*$")),
}


def split_front_matter(text: str, origin: str) -> tuple[dict[str, Any], str]:
    """Return the front matter as a dict (empty when there is none) and the Markdown after it."""
    first, _, rest = text.partition("\n")
    fence = first.strip()
    if fence not in _FENCES:
        return {}, text
    kind, closing = _FENCES[fence]
    lines = rest.split("\n")
    for index, line in enumerate(lines):
        if closing.match(line):
            source = "\n".join(lines[:index])
            body = "\n".join(lines[index + 1 :])
            meta = _load_yaml(source, origin) if kind == "yaml" else _load_toml(source, origin)
            return meta, body
    raise InputError(f"{origin}: front matter opened with {fence!r} on line 1 is never closed")


def _load_yaml(source: str, origin: str) -> dict[str, Any]:
    import yaml  # lazy: keeps `import bot.load` light

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        meta = yaml.load(source, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 2})" if mark is not None else ""  # +1 for 1-based, +1 for '---'
        problem = inline_text(str(exc.problem or exc.context or "syntax error"))
        raise InputError(f"{origin}: front matter is not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: front matter is not valid YAML: {inline_text(str(exc))}") from None
    return _mapping(meta, origin)


def _load_toml(source: str, origin: str) -> dict[str, Any]:
    import tomllib

    try:
        meta = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        message = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + 1}", str(exc))
        raise InputError(f"{origin}: front matter is not valid TOML: {inline_text(message)}") from None
    return _mapping(meta, origin)


def _mapping(meta: Any, origin: str) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError(f"{origin}: front matter must be key: value pairs, not a {type(meta).__name__}")
    return {str(k): v for k, v in meta.items()}


# ---------------------------------------------------------------------------- inline Markdown

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
# Every pattern is linear on hostile input (5 MB of "[" or "*"): a span can never contain the character
# that opens another span, so no start position rescans text that another one already scanned.
_IMAGE = re.compile(r"!\[[^\[\]]*\](?:\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\])")
_LINK = re.compile(r"\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]]+\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_SHORTCODE = re.compile(r"\{\{[^{}]*\}\}|\{%[^{}%]*%\}")
_STRONG = re.compile(r"\*\*(?=[^\s*])([^*]+)(?<=[^\s*])\*\*|__(?=[^\s_])([^_]+)(?<=[^\s_])__")
_STRIKE = re.compile(r"~~(?=[^\s~])([^~]+)(?<=[^\s~])~~")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+)(?<=[^\s*])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])([^_]+)(?<=[^\s_])_(?![\w_])")


_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_INLINE_MARKS = frozenset("`\\<{[*_~&")


def inline_markdown(text: str) -> str:
    """Markdown inline syntax to plain words: ``**a** [b](u) ![i](x) `c``` becomes ``a b c``."""
    if _INLINE_MARKS.isdisjoint(text):
        return text  # the common case for prose: nothing to convert
    protected: list[str] = []

    def protect(value: str) -> str:
        protected.append(value)
        return f"\x00{len(protected) - 1}\x00"

    if "`" in text:
        text = _CODE_SPAN.sub(lambda m: protect(m.group(2).strip()), text)
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: protect(m.group(1)), text)
    if "<" in text:
        text = _AUTOLINK.sub(lambda m: protect(m.group(1).removeprefix("mailto:")), text)
        text = _HTML_TAG.sub("", text)
    if "{" in text:
        text = _SHORTCODE.sub("", text)
    if "[" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _FOOTNOTE_REF.sub("", text)
        text = _REF_LINK.sub(r"\1", text)
    for _ in range(2):  # nested emphasis such as ***both***
        if "*" in text or "_" in text:
            text = _STRONG.sub(lambda m: m.group(1) or m.group(2), text)
            text = _EM_STAR.sub(r"\1", text)
            text = _EM_UNDERSCORE.sub(r"\1", text)
        if "~" in text:
            text = _STRIKE.sub(r"\1", text)
    if protected:
        text = _PLACEHOLDER.sub(lambda m: protected[int(m.group(1))], text)
    return html.unescape(text) if "&" in text else text


# ---------------------------------------------------------------------------- block Markdown

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*))?$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST = re.compile(r"^(\s*)(?:[-*+]|(\d{1,9})[.)])[ \t]+(.*)$")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_TABLE_SEP_CHARS = frozenset("|:- \t")
_RAW_OPEN = re.compile(r"<!--|<(script|style|iframe|svg)\b", re.IGNORECASE)


def _drop_comments_and_raw_blocks(markdown: str) -> str:
    """Remove HTML comments and script/style/iframe/svg elements in one linear scan.

    (A lazy ``<!--.*?-->`` regex rescans to the end of the text for every unclosed opener.)
    """
    kept: list[str] = []
    position = 0
    while (found := _RAW_OPEN.search(markdown, position)) is not None:
        kept.append(markdown[position : found.start()])
        element = found.group(1)
        closer = re.compile("-->" if element is None else rf"</{element}\s*>", re.IGNORECASE)
        end = closer.search(markdown, found.end())
        if end is None:
            return "".join(kept)  # unclosed: everything after the opener is inside it
        position = end.end()
    kept.append(markdown[position:])
    return "".join(kept)


def _heading_text(rest: str) -> str:
    """An ATX heading's text without its optional closing run of '#'."""
    text = rest.strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip()
    return text


def markdown_blocks(markdown: str) -> list[Block]:
    """Split a Markdown document into plain-text blocks (see the module docstring for what is kept)."""
    markdown = _drop_comments_and_raw_blocks(markdown)
    blocks: list[Block] = []
    para: list[str] = []
    para_kind = "para"
    items: list[str] = []
    fence: str | None = None

    def flush() -> None:
        nonlocal para_kind
        if para:
            # Soft line breaks join; a hard break (two trailing spaces or a backslash) keeps the line.
            text = ""
            for line in para:
                hard = line.endswith(("  ", "\\"))
                text += inline_markdown(line.rstrip(" \\")) + ("\n" if hard else " ")
            text = block_text(text)
            if text:
                blocks.append(Block(para_kind, text))
            para.clear()
        if items:
            text = block_text("\n".join(items))
            if text:
                blocks.append(Block("list", text))
            items.clear()
        para_kind = "para"

    for raw in markdown.split("\n"):
        if fence is not None:
            if raw.strip().startswith(fence) and set(raw.strip()) == {fence[0]}:
                fence = None
            continue
        opener = _FENCE_OPEN.match(raw)
        if opener:
            flush()
            fence = opener.group(1)
            continue
        quoted = False
        while _QUOTE.match(raw):
            raw = _QUOTE.sub("", raw, count=1)
            quoted = True
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            continue
        if para and not items and _SETEXT.match(line):
            heading = inline_markdown(" ".join(p.strip() for p in para))
            para.clear()
            flush()
            blocks.append(Block("heading", inline_text(heading)))
            continue
        if _RULE.match(line):
            flush()
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            text = inline_text(inline_markdown(_heading_text(atx.group(1) or "")))
            if text:
                blocks.append(Block("heading", text))
            continue
        if _LINK_DEF.match(line):
            continue
        if "--" in line and set(line) <= _TABLE_SEP_CHARS and ("|" in line or para):
            continue
        item = _LIST.match(line)
        if item:
            if para:
                flush()
            marker = f"{item.group(2)}." if item.group(2) else "-"
            text = inline_text(inline_markdown(item.group(3)))
            if text:
                items.append(f"{marker} {text}")
            continue
        if items and line[:1].isspace():
            items[-1] += " " + inline_text(inline_markdown(line))
            continue
        if items:
            flush()
        if line.lstrip().startswith("|"):
            cells = [inline_text(inline_markdown(c)) for c in line.strip().strip("|").split("|")]
            flush()
            blocks.append(Block("table", " | ".join(c for c in cells if c)))
            continue
        if quoted:
            if para and para_kind != "quote":
                flush()
            para_kind = "quote"
        elif para_kind == "quote" and para:
            flush()
        para.append(line.strip() + ("  " if line.endswith("  ") else ""))
    flush()
    return [b for b in blocks if b.text]


# ---------------------------------------------------------------------------- the article


def _first(meta: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = meta.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _image(meta: dict[str, Any]) -> tuple[Any, Any]:
    """The image URL and alt text, from ``image``, ``cover.image``, ``og_image`` and friends."""
    alt = _first(meta, "image_alt", "imageAlt", "image_alt_text")
    image = _first(meta, "image", "og_image", "ogImage", "featured_image", "feature_image", "cover_image")
    if isinstance(image, dict):
        alt = alt or image.get("alt")
        image = image.get("src") or image.get("url") or image.get("path")
    cover = meta.get("cover")
    if image is None and isinstance(cover, dict):
        image = cover.get("image") or cover.get("src")
        alt = alt or cover.get("alt") or cover.get("caption")
    elif image is None and isinstance(cover, str):
        image = cover
    return image, alt


def _site_base(meta: dict[str, Any], base_url: str | None) -> str | None:
    site = meta.get("site")
    site_url = site.get("url") if isinstance(site, dict) else site
    for value in (meta.get("base_url"), meta.get("baseURL"), meta.get("site_url"), site_url, base_url):
        absolute = http_url(value)
        if absolute:
            return absolute
    return None


def parse_markdown(text: str, *, origin: str, base_url: str | None = None) -> Article:
    """Build an Article from Markdown with optional front matter (already decoded)."""
    meta, body = split_front_matter(text, origin)
    blocks = markdown_blocks(body)
    tidied = tidy_blocks(blocks)
    blocks = tidied.blocks
    extra: dict[str, Any] = {"format": "markdown", "origin": origin}

    title = inline_text(inline_markdown(str_value(_first(meta, "title"), "title", origin)))
    if blocks and blocks[0].kind == "heading":
        if not title:
            title = blocks[0].text
        if blocks[0].text.casefold() == title.casefold():
            blocks = blocks[1:]  # the title repeated as the first heading

    base = _site_base(meta, base_url)
    raw_url = _first(meta, "canonical_url", "canonicalURL", "canonicalUrl", "canonical", "url", "permalink")
    url = None
    if raw_url is not None:
        raw_text = str_value(raw_url, "url", origin).strip()
        # A Jekyll permalink pattern such as /:year/:title/ is not a URL; a relative one needs a base.
        url = None if re.search(r"/:\w", raw_text) else http_url(raw_text, base)
        if url is None:
            extra["relative_url"] = raw_text
    url = url or tidied.canonical

    tag_field = "tags" if meta.get("tags") not in (None, "", []) else "keywords"
    tags = tags_value(meta.get(tag_field), tag_field, origin, space_separated=True) + tidied.hashtags

    summary_raw = str_value(_first(meta, "summary", "description", "excerpt"), "summary", origin)
    summary = inline_text(inline_markdown(summary_raw)) or lead_paragraph(blocks)

    image_raw, alt_raw = _image(meta)
    image = http_url(image_raw, base) if isinstance(image_raw, str) else None
    if isinstance(image_raw, str) and image is None:
        extra["relative_image"] = image_raw
    alt = inline_text(str_value(alt_raw, "image_alt", origin)) or None

    for key in ("draft", "categories", "author", "authors", "lastmod", "updated", "slug", "series"):
        if key in meta:
            extra[key] = date_value(meta[key]) if key in {"lastmod", "updated"} else meta[key]
    return Article(
        title=title,
        url=url,
        summary=summary,
        body=body_from_blocks(blocks),
        tags=clean_tags(tags),
        image=image,
        image_alt=alt if image else None,
        lang=lang_value(_first(meta, "lang", "language", "locale")),
        published_at=date_value(_first(meta, "date", "published", "publishDate", "published_at", "pubDate")),
        thread=bool_value(meta.get("thread"), "thread", origin),
        status=publication_state(status=meta.get("status"), draft=meta.get("draft"), published=meta.get("published")),
        extra=extra,
    )
