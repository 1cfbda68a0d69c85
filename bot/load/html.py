"""HTML pages and fragments: OpenGraph and ``<link rel=canonical>`` metadata, and the main text.

The text comes from the largest ``<article>`` (else ``<main>``, else ``<body>``), without navigation,
headers, footers, asides, scripts, styles, forms, code blocks, image captions, and the share/related/
comment widgets that blog engines put inside the content. Block structure survives: paragraphs,
headings, list items (one per line), table rows.

BeautifulSoup is imported inside the functions so that ``import bot.load`` stays light.
"""

from __future__ import annotations

import html
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from bot.article import Article
from bot.errors import InputError
from bot.load.common import (
    Block,
    block_text,
    body_from_blocks,
    clean_tags,
    date_value,
    http_url,
    inline_text,
    lang_value,
    lead_paragraph,
    tidy_blocks,
)
from bot.policy import publication_state

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from bs4.element import Tag

_DROP = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
        "button", "input", "select", "textarea", "form", "nav", "header", "footer", "aside", "img",
        "picture", "video", "audio", "source", "track", "map", "pre", "figcaption", "head", "title",
        "meta", "link", "dialog",
    }
)  # fmt: skip
_BLOCK = frozenset(
    {
        "address", "article", "blockquote", "body", "center", "dd", "details", "div", "dl", "dt",
        "fieldset", "figure", "hgroup", "hr", "main", "ol", "p", "section", "summary", "table", "tbody",
        "thead", "tfoot", "ul", "caption",
    }
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_NOISE = re.compile(
    r"^(?:share|sharing|sharedaddy|sd-sharing\w*|social|related|jp-relatedposts|comments?|comment-respond"
    r"|respond|newsletter|subscribe|cookies?|advert|advertisement|ads?|breadcrumbs?|sidebar"
    r"|post-navigation|nav-links|author-box|author-bio|skip-link|screen-reader-text"
    # bylines and post meta ("Posted … by … Tags: …") and WordPress's block-theme comment area
    r"|byline|entry-meta|entry-footer|post-meta|posted-on|tags-links|cat-links|wp-block-comments?"
    r"|wp-block-post-(?:terms|date|author|navigation-link|comments\w*))(?:[-_].*)?$"
)
_EMOJI_IMG = re.compile(r"^(?:wp-smiley|emoji)$")
"""``<img class="wp-smiley" alt="🚀">``: WordPress replaces emoji by images; the text keeps the emoji."""
_CONTENT_CLASSES = ("entry-content", "wp-block-post-content", "post-content", "article-body")
_SUFFIX_SEPARATORS = (" | ", " - ", " — ", " – ", " · ", " :: ", " » ")
_NOISE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "dialog"})
_STRUCTURAL = frozenset({"html", "body", "main", "article"})
_WS = re.compile(r"\s+")
_TAGS_RE = re.compile(r"<[^<>]*>")


def _soup(markup: str) -> BeautifulSoup:
    """Parse with html.parser, after defusing its one quadratic case.

    CPython's ``html.parser`` (3.11) rescans to the end of the input for every ``<`` that has no
    ``>`` anywhere after it (``"<p " * 300_000`` takes minutes). Such a ``<`` can never start a tag,
    so escaping it changes nothing but the time taken.
    """
    from bs4 import BeautifulSoup  # lazy: keeps `import bot.load` light

    last = markup.rfind(">")
    if "<" in markup[last + 1 :]:
        markup = markup[: last + 1] + markup[last + 1 :].replace("<", "&lt;")
    return BeautifulSoup(markup, "html.parser")


def _attr(tag: Tag, name: str) -> str:
    """An attribute as one string (bs4 gives lists for multi-valued ones like ``class`` and ``rel``)."""
    value = tag.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return " ".join(str(v) for v in value)


def _is_noise(tag: Tag) -> bool:
    """Share buttons, related posts, comments and other widgets, judged by class, id, role, hidden."""
    if tag.name in _STRUCTURAL:
        return False
    if tag.has_attr("hidden") or _attr(tag, "aria-hidden").lower() == "true":
        return True
    if _attr(tag, "role").lower() in _NOISE_ROLES:
        return True
    tokens = _attr(tag, "class").lower().split() + _attr(tag, "id").lower().split()
    return any(_NOISE.match(token) for token in tokens)


def _is_emoji(img: Tag) -> bool:
    alt = _attr(img, "alt").strip()
    return bool(alt) and len(alt) <= 16 and any(_EMOJI_IMG.match(t) for t in _attr(img, "class").lower().split())


class _Collector:
    """Walks a tree and collects text blocks; see the module docstring for what is skipped."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.kinds: list[str] = ["para"]
        self.marked: set[int] = set()

    def flush(self, kind: str | None = None) -> None:
        text = block_text("".join(self.buf))
        self.buf.clear()
        if text:
            self.blocks.append(Block(kind or self.kinds[-1], text))

    def walk(self, node: Tag) -> None:
        from bs4.element import NavigableString, PreformattedString, Tag

        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA, processing instructions
                continue
            if isinstance(child, NavigableString):
                self.buf.append(_WS.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = (child.name or "").lower()
            if name == "img" and _is_emoji(child):
                self.buf.append(_attr(child, "alt"))
                continue
            if name in _DROP or _is_noise(child):
                continue
            if name == "br":
                self.buf.append("\n")
            elif name in _HEADINGS:
                self.flush()
                self.walk(child)
                self.flush("heading")
            elif name == "li":
                self._item(child)
            elif name == "tr":
                self.flush()
                cells = [inline_text(_Collector.text_of(c)) for c in child.find_all(["td", "th"], recursive=False)]
                row = " | ".join(c for c in cells if c)
                if row:
                    self.blocks.append(Block("table", row))
            elif name == "blockquote":
                self.flush()
                self.kinds.append("quote")
                self.walk(child)
                self.flush()
                self.kinds.pop()
            elif name in _BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
                if name in {"ul", "ol", "table"}:
                    self.blocks.append(Block("end", ""))  # the next list or table starts a new block
            else:
                self.walk(child)

    def _item(self, li: Tag) -> None:
        parent = li.parent
        marker = "-"
        if parent is not None and parent.name == "ol":
            start = _attr(parent, "start")
            first = int(start) if start.lstrip("-").isdigit() else 1
            marker = f"{first + len(li.find_previous_siblings('li'))}."
        self.flush()
        begin = len(self.blocks)
        self.kinds.append("item")
        self.walk(li)
        self.flush()
        self.kinds.pop()
        for index in range(begin, len(self.blocks)):
            if self.blocks[index].kind == "item" and index not in self.marked:
                self.blocks[index] = Block("item", f"{marker} {self.blocks[index].text}")
                self.marked.add(index)
                break

    @staticmethod
    def text_of(node: Tag) -> str:
        collector = _Collector()
        collector.walk(node)
        collector.flush()
        return " ".join(b.text for b in collector.blocks)

    def result(self) -> list[Block]:
        """The blocks, with the items of one list (the rows of one table) merged into one block."""
        self.flush()
        merged: list[Block] = []
        previous = ""
        for block in self.blocks:
            kind = "list" if block.kind == "item" else block.kind
            if kind in {"list", "table"} and previous == kind:
                merged[-1] = Block(kind, f"{merged[-1].text}\n{block.text}")
            elif kind != "end":
                merged.append(Block(kind, block.text))
            previous = kind
        return merged


def blocks_of(node: Tag) -> list[Block]:
    """The text blocks of a parsed element."""
    collector = _Collector()
    collector.walk(node)
    return collector.result()


def fragment_blocks(markup: str) -> list[Block]:
    """The text blocks of an HTML fragment (a Ghost or WordPress post body)."""
    return blocks_of(_soup(markup))


def fragment_text(markup: str) -> str:
    """One line of text from a short HTML fragment (a title, a tag name): tags go, entities decode."""
    return inline_text(html.unescape(_TAGS_RE.sub(" ", markup)))


# ---------------------------------------------------------------------------- pages


@dataclass
class _Page:
    """What the page's metadata is read from, gathered in one pass over the tree."""

    metas: dict[str, list[str]] = field(default_factory=dict)
    canonical: str | None = None
    base_href: str | None = None
    json_ld: list[str] = field(default_factory=list)
    articles: list[Tag] = field(default_factory=list)
    main: Tag | None = None
    h1: Tag | None = None
    lang: str = ""
    json_alternate: str | None = None

    def meta(self, *names: str) -> str | None:
        """The first non-empty ``<meta property|name|itemprop=… content=…>`` among ``names``."""
        for name in names:
            for content in self.metas.get(name.lower(), ()):
                if content:
                    return content
        return None

    def all(self, name: str) -> list[str]:
        return [c for c in self.metas.get(name.lower(), ()) if c]


def _index(soup: BeautifulSoup) -> _Page:
    page = _Page()
    for tag in soup.find_all(["meta", "link", "base", "script", "article", "main", "h1", "html"]):
        name = tag.name
        if name == "meta":
            content = inline_text(_attr(tag, "content"))
            for attr in ("property", "name", "itemprop"):
                key = _attr(tag, attr).strip().lower()
                if key:
                    page.metas.setdefault(key, []).append(content)
        elif name == "link":
            rels = _attr(tag, "rel").lower().split()
            if page.canonical is None and "canonical" in rels:
                page.canonical = _attr(tag, "href").strip() or None
            kind = _attr(tag, "type").strip().lower()
            if "alternate" in rels and kind == "application/json" and page.json_alternate is None:
                page.json_alternate = _attr(tag, "href").strip() or None
        elif name == "base":
            page.base_href = page.base_href or _attr(tag, "href").strip() or None
        elif name == "script":
            if _attr(tag, "type").strip().lower() == "application/ld+json":
                page.json_ld.append(tag.get_text())
        elif name == "article":
            page.articles.append(tag)
        elif name == "main":
            page.main = page.main or tag
        elif name == "h1":
            page.h1 = page.h1 or tag
        elif name == "html":
            page.lang = page.lang or _attr(tag, "lang")
    return page


def _json_ld(scripts: list[str]) -> dict[str, Any]:
    """The first schema.org Article-like object in the page's JSON-LD (a fallback for metadata)."""
    kinds = {"article", "newsarticle", "blogposting", "report", "techarticle", "scholarlyarticle"}
    for script in scripts:
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):
            continue
        queue: deque[Any] = deque([data])
        while queue:
            item = queue.popleft()
            if isinstance(item, list):
                queue.extend(item)
            elif isinstance(item, dict):
                types = item.get("@type")
                names = [types] if isinstance(types, str) else types if isinstance(types, list) else []
                if any(isinstance(n, str) and n.lower() in kinds for n in names):
                    return item
                queue.extend(v for k, v in item.items() if k == "@graph")
    return {}


def _ld_status(value: Any) -> str | None:
    """JSON-LD ``creativeWorkStatus``: ``"Draft"``, or written as a schema.org URL."""
    return value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) else None


def _ld_image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value if isinstance(value, str) else None


def _strip_site_name(title: str, site: str | None) -> str:
    """``Post title | Site`` -> ``Post title`` when ``Site`` is the page's og:site_name."""
    if not site:
        return title
    for sep in _SUFFIX_SEPARATORS:
        if title.endswith(sep + site) and len(title) > len(sep + site):
            return title[: -len(sep + site)].strip()
        if title.startswith(site + sep) and len(title) > len(site + sep):
            return title[len(site + sep) :].strip()
    return title


def _site_name(soup: BeautifulSoup, title: str, h1: str) -> str | None:
    """The site's name on a page without og:site_name: the home link's text (WordPress themes print it
    as ``<a rel="home">``), else whatever follows the ``<h1>`` in the ``<title>``."""
    home = soup.find("a", rel="home")
    if home is not None:
        name = inline_text(home.get_text(" "))
        if name and title.endswith(name):
            return name
    for sep in _SUFFIX_SEPARATORS:
        if h1 and title.startswith(h1 + sep):
            return title[len(h1 + sep) :].strip() or None
    return None


def _tag_links(root: Tag) -> list[str]:
    """Names of ``<a rel="tag">`` links, without categories (WordPress marks both ``rel="tag"``)."""
    names: list[str] = []
    for link in root.find_all("a", rel="tag"):
        context = " ".join(_attr(p, "class") for p in [link, *link.parents][:4]).lower()
        if "categor" in context or "cat-links" in context or "/category/" in _attr(link, "href"):
            continue
        names.append(inline_text(link.get_text(" ")))
    return names


def _main_image(root: Tag) -> tuple[str | None, str | None]:
    """The featured image (WordPress's ``wp-post-image``, a ``…featured-image`` figure), else the first
    image of the content that is not an emoji; ``(src, alt)``."""
    for img in root.find_all("img"):
        context = " ".join(_attr(p, "class") for p in [img, *img.parents][:3]).lower()
        if "wp-post-image" in context or "featured-image" in context:
            return _attr(img, "src").strip() or None, inline_text(_attr(img, "alt")) or None
    for img in root.find_all("img"):
        if not _is_emoji(img) and _attr(img, "src").strip():
            return _attr(img, "src").strip(), inline_text(_attr(img, "alt")) or None
    return None, None


def _content_root(soup: BeautifulSoup, page: _Page) -> Tag:
    """The element holding the article text: the largest visible <article>, else <main>, else <body>;
    inside it, the one post-content element (``entry-content`` and kin) when there is exactly one, so
    the theme's title, byline and tag list around the text stay out."""
    root = _outer_root(soup, page)
    inner = [t for t in root.find_all(class_=list(_CONTENT_CLASSES)) if not _is_noise(t)]
    inner = [t for t in inner if not any(p in inner for p in t.parents)]
    return inner[0] if len(inner) == 1 else root


def _outer_root(soup: BeautifulSoup, page: _Page) -> Tag:
    from bs4.element import Tag

    def hidden(tag: Tag) -> bool:
        return _is_noise(tag) or any((p.name or "") in _DROP or _is_noise(p) for p in tag.parents)

    articles = [a for a in page.articles if not hidden(a)]
    if len(articles) == 1:
        return articles[0]
    if articles:
        return max(articles, key=lambda a: len(a.get_text(" ", strip=True)))
    for found in (page.main, soup.find(role="main"), soup.body):
        if isinstance(found, Tag):
            return found
    return soup


def parse_html(text: str, *, origin: str, base_url: str | None = None) -> Article:
    """Build an Article from a whole HTML page (already decoded)."""
    soup = _soup(text)
    page = _index(soup)
    base = base_url
    if page.base_href:
        base = urljoin(base_url or "", page.base_href) or base_url
    ld = _json_ld(page.json_ld)
    site = page.meta("og:site_name")

    title = page.meta("og:title", "twitter:title") or inline_text(str(ld.get("headline") or ""))
    if not title and soup.title is not None:
        full = inline_text(soup.title.get_text())
        h1 = inline_text(page.h1.get_text(" ")) if page.h1 is not None else ""
        title = _strip_site_name(full, site or _site_name(soup, full, h1))
    if not title and page.h1 is not None:
        title = inline_text(page.h1.get_text(" "))

    outer = _outer_root(soup, page)
    blocks = blocks_of(_content_root(soup, page))
    if blocks and blocks[0].kind == "heading" and blocks[0].text.casefold() == title.casefold():
        blocks = blocks[1:]
    tidied = tidy_blocks(blocks)
    described = page.meta("og:description", "description", "twitter:description")
    summary = described or inline_text(str(ld.get("description") or "")) or lead_paragraph(tidied.blocks)
    # A summary alone is enough, as in every other input format (a page with only og:description).
    if not title and not tidied.blocks and not summary:
        raise InputError(f"{origin}: no title and no text found in the HTML")

    url = http_url(page.canonical or page.meta("og:url") or tidied.canonical, base)
    tags = page.all("article:tag") or _tag_links(outer)
    if not tags:
        keywords = ld.get("keywords") or page.meta("keywords")
        if isinstance(keywords, str):
            tags = keywords.split(",")
        elif isinstance(keywords, list):
            tags = [k for k in keywords if isinstance(k, str)]
    raw_image = page.meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
    raw_image = raw_image or _ld_image(ld.get("image"))
    page_alt = page.meta("og:image:alt", "twitter:image:alt")
    if not raw_image:
        raw_image, page_alt = _main_image(outer)
    image = http_url(raw_image, base or url)
    lang = lang_value(page.lang) or lang_value(page.meta("og:locale")) or lang_value(ld.get("inLanguage"))
    published = page.meta("article:published_time", "datePublished", "date", "dc.date", "dc.date.issued")
    if not published and not ld.get("datePublished"):
        stamp = outer.find("time", datetime=True)
        published = date_value(_attr(stamp, "datetime")) if stamp is not None else None
    extra: dict[str, Any] = {"format": "html", "origin": origin}
    alternate = http_url(page.json_alternate, base or url)
    if alternate:
        extra["json_alternate"] = alternate
    if site:
        extra["site_name"] = site
    modified = page.meta("article:modified_time", "dateModified") or date_value(ld.get("dateModified"))
    if modified:
        extra["modified_at"] = modified
    return Article(
        title=title,
        url=url,
        summary=summary,
        body=body_from_blocks(tidied.blocks),
        tags=clean_tags(tags + tidied.hashtags),
        image=image,
        image_alt=page_alt if image else None,
        lang=lang,
        published_at=published or date_value(ld.get("datePublished")),
        status=publication_state(status=_ld_status(ld.get("creativeWorkStatus"))),
        extra=extra,
    )
