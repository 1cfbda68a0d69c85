"""JSON articles: a Ghost ``post.published`` webhook (or a bare Ghost post), a WordPress REST post
object, or a generic ``{title, url, summary, tags, body, image}`` object (``Article.to_dict()`` output
round-trips). :func:`article_from_json` picks the reader by the object's shape.
"""

from __future__ import annotations

import json
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
from bot.load.html import fragment_blocks, fragment_text
from bot.load.plaintext import text_blocks
from bot.policy import BadCanonicalLink, publication_state

_GHOST_BODY_KEYS = frozenset({"html", "plaintext", "lexical", "mobiledoc"})
GHOST_POST_FIELDS = frozenset({
    "id", "uuid", "slug", "title", "url", "canonical_url", "status", "visibility", "published_at", "updated_at",
    "custom_excerpt", "excerpt", "plaintext", "html", "feature_image", "feature_image_alt", "tags",
    "primary_tag", "lang", "locale",
})
"""The fields of a Ghost post :func:`from_ghost` reads; everything else (Ghost 6's ``post_revisions``, each
with the full content, ``lexical``, ``mobiledoc``, authors, tiers) can be dropped on arrival."""
# html-to-text, which Ghost uses to make `plaintext`, writes links as "text [https://…]".
_GHOST_LINK_NOTE = re.compile(r"\s?\[(?:https?|mailto):[^\]\s]*\]")
_GHOST_LIST_ITEM = re.compile(r"^[ \t]*\*[ \t]+", re.MULTILINE)
_WP_MORE = re.compile(r"\s*(?:continue reading|read more)\b.*$", re.IGNORECASE)
_WP_ELLIPSIS = re.compile(r"\s*\[(?:…|\.\.\.|&hellip;)\]\s*$")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rendered(value: Any) -> str:
    """WordPress wraps rendered HTML as ``{"rendered": "…"}``; accept a bare string too."""
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _alt(value: Any, origin: str) -> str | None:
    return inline_text(str_value(value, "image_alt", origin)) or None


def _plain_body(text: str) -> list[Block]:
    return text_blocks([line.rstrip() for line in text.replace("\r\n", "\n").split("\n")])


# ---------------------------------------------------------------------------- shapes


def _is_ghost_post(obj: dict[str, Any]) -> bool:
    if "uuid" in obj and _GHOST_BODY_KEYS & obj.keys():
        return True
    return {"custom_excerpt", "canonical_url"} <= obj.keys()


def _is_wordpress(obj: dict[str, Any]) -> bool:
    return any(isinstance(obj.get(key), dict) and "rendered" in obj[key] for key in ("title", "content"))


def _is_generic(obj: dict[str, Any]) -> bool:
    return any(obj.get(k) is not None for k in ("title", "url", "summary", "body", "text", "content", "html"))


def shape_of(obj: Any) -> str | None:
    """Say "ghost", "wordpress" or "generic" for an object one of the readers understands, else ``None``."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("post"), dict):
        return "ghost"
    posts = obj.get("posts")
    if isinstance(posts, list) and posts and isinstance(posts[0], dict) and _is_ghost_post(posts[0]):
        return "ghost"
    if _is_ghost_post(obj):
        return "ghost"
    if _is_wordpress(obj):
        return "wordpress"
    if _is_generic(obj):
        return "generic"
    return None


def parse_json(text: str, *, origin: str) -> Article:
    """Parse JSON text and read it with :func:`article_from_json`."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(f"{origin}: JSON is nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    return article_from_json(data, origin=origin)


def article_from_json(data: Any, *, origin: str = "JSON") -> Article:
    """Pick the reader by shape; a list of exactly one object (WordPress's list endpoint) is unwrapped."""
    if isinstance(data, list):
        if len(data) == 1 and isinstance(data[0], dict):
            data = data[0]
        else:
            raise InputError(f"{origin}: JSON holds a list of {len(data)} items; give one article object")
    shape = shape_of(data)
    if shape == "ghost":
        return from_ghost(data, origin=origin)
    if shape == "wordpress":
        return from_wordpress(data, origin=origin)
    if shape == "generic":
        return from_generic(data, origin=origin)
    kind = "an object without title, url, summary or body" if isinstance(data, dict) else type(data).__name__
    raise InputError(
        f"{origin}: JSON is {kind}; expected a Ghost webhook or post, a WordPress REST post, "
        "or {title, url, summary, tags, body}"
    )


# ---------------------------------------------------------------------------- Ghost


def _ghost_post(payload: dict[str, Any], origin: str) -> dict[str, Any]:
    """The post inside a webhook payload (``post.current``), a Content API reply or a bare post."""
    post = payload.get("post")
    if isinstance(post, dict):
        if "current" in post:
            current = post["current"]
            if not isinstance(current, dict) or not current:
                raise InputError(f"{origin}: Ghost payload has an empty post.current (a deleted post?)")
            return current
        return post
    posts = payload.get("posts")
    if isinstance(posts, list) and posts:
        if len(posts) != 1 or not isinstance(posts[0], dict):
            raise InputError(f"{origin}: Ghost reply holds {len(posts)} posts; give one")
        return posts[0]
    return payload


def slim_ghost_post(post: dict[str, Any]) -> dict[str, Any]:
    """``post`` with only :data:`GHOST_POST_FIELDS`, and without ``html`` when ``plaintext`` is there
    (the reader prefers plaintext): a 1.4 MB Ghost 6 delivery shrinks to the post's own text."""
    slim = {k: v for k, v in post.items() if k in GHOST_POST_FIELDS}
    if isinstance(slim.get("plaintext"), str) and slim["plaintext"].strip():
        slim.pop("html", None)
    return slim


def from_ghost(payload: dict[str, Any], *, origin: str = "Ghost payload") -> Article:
    """An Article from a Ghost ``post.published`` webhook payload, a Content API reply or a bare post.

    ``canonical_url`` wins over ``url``; ``custom_excerpt`` over ``excerpt``; ``plaintext`` (with
    html-to-text's "[https://…]" link notes removed) over ``html``; tags named ``#…`` are Ghost's
    internal tags and are left out.
    """
    if not isinstance(payload, dict):
        raise InputError(f"{origin}: a Ghost payload must be a JSON object, not {type(payload).__name__}")
    post = _ghost_post(payload, origin)
    plaintext = str_value(post.get("plaintext"), "plaintext", origin)
    if plaintext.strip():
        blocks = _plain_body(_GHOST_LIST_ITEM.sub("- ", _GHOST_LINK_NOTE.sub("", plaintext)))
    else:
        blocks = fragment_blocks(str_value(post.get("html"), "html", origin))
    tidied = tidy_blocks(blocks)
    tags: list[str] = []
    raw_tags = post.get("tags") or ([post["primary_tag"]] if isinstance(post.get("primary_tag"), dict) else [])
    if not isinstance(raw_tags, list):
        raise InputError(f"{origin}: Ghost 'tags' must be a list, not {type(raw_tags).__name__}")
    for tag in raw_tags:
        name = tag.get("name") if isinstance(tag, dict) else tag
        visibility = tag.get("visibility") if isinstance(tag, dict) else None
        if isinstance(name, str) and not name.strip().startswith("#") and visibility != "internal":
            tags.append(name)
    summary = inline_text(
        str_value(post.get("custom_excerpt"), "custom_excerpt", origin)
        or str_value(post.get("excerpt"), "excerpt", origin)
    )
    image = http_url(post.get("feature_image"))
    extra: dict[str, Any] = {"format": "json:ghost", "origin": origin}
    for key in ("uuid", "slug", "status", "visibility", "updated_at"):
        if post.get(key) is not None:
            extra[key] = post[key]
    post_id = post.get("id")
    title = inline_text(str_value(post.get("title"), "title", origin))
    if not title and not tidied.blocks and not summary:
        raise InputError(f"{origin}: Ghost post has no title, excerpt or text")
    return Article(
        title=title,
        url=http_url(post.get("canonical_url")) or http_url(post.get("url")),
        summary=summary or lead_paragraph(tidied.blocks),
        body=body_from_blocks(tidied.blocks),
        tags=clean_tags(tags + tidied.hashtags, strip_hash=False),
        image=image,
        image_alt=_alt(post.get("feature_image_alt"), origin) if image else None,
        lang=lang_value(post.get("lang") or post.get("locale")),
        published_at=date_value(post.get("published_at")),
        source_id=f"ghost:{post_id}" if post_id not in (None, "") else None,
        status=publication_state(status=post.get("status")),
        extra=extra,
    )


# ---------------------------------------------------------------------------- WordPress


def _wp_terms(post: dict[str, Any]) -> dict[str, list[str]]:
    """Term names by taxonomy from ``_embedded["wp:term"]`` (a list of lists of term objects)."""
    terms: dict[str, list[str]] = {}
    groups = _dict(post.get("_embedded")).get("wp:term")
    for group in groups if isinstance(groups, list) else []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and isinstance(term.get("name"), str):
                taxonomy = str(term.get("taxonomy") or "")
                terms.setdefault(taxonomy, []).append(fragment_text(term["name"]))
    return terms


def _wp_image(post: dict[str, Any]) -> tuple[str | None, str | None]:
    media = _dict(post.get("_embedded")).get("wp:featuredmedia")
    if isinstance(media, list) and media and isinstance(media[0], dict) and "code" not in media[0]:
        url = http_url(media[0].get("source_url"))
        if url:
            alt = media[0].get("alt_text")
            return url, (inline_text(alt) or None) if isinstance(alt, str) else None
    url = http_url(post.get("jetpack_featured_media_url"))
    if url:
        return url, None
    og = _dict(post.get("yoast_head_json")).get("og_image")
    if isinstance(og, list) and og and isinstance(og[0], dict):
        return http_url(og[0].get("url")), None
    return None, None


WP_PENDING = "wordpress_pending"
"""Key (in ``Article.extra`` and in a queued job's article) of the REST lookups a post still needs."""


def _wp_ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else []
    return [i for i in items if isinstance(i, int) and not isinstance(i, bool) and i > 0]


def _wp_link(post: dict[str, Any], rel: str, taxonomy: str | None = None) -> str | None:
    """An ``href`` from the post's ``_links`` (``wp:term`` entries are told apart by taxonomy)."""
    links = _dict(post.get("_links")).get(rel)
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and (taxonomy is None or link.get("taxonomy") == taxonomy):
            return http_url(link.get("href"))
    return None


def _wp_api_root(post: dict[str, Any]) -> str | None:
    """``…/wp-json/wp/v2/`` from the post's ``self`` link, for a post whose ``_links`` lack a relation."""
    own = _wp_link(post, "self")
    if own and "/wp/v2/" in own:
        return own[: own.index("/wp/v2/") + len("/wp/v2/")]
    return None


def wordpress_pending(post: dict[str, Any], *, has_tags: bool, has_image: bool) -> dict[str, Any]:
    """What a default (non-``_embed``) REST post leaves to look up: tag ids and the featured media id,
    with the REST URLs to ask. Pure: :func:`bot.load.wordpress.resolve_wordpress` does the fetching."""
    pending: dict[str, Any] = {}
    root = _wp_api_root(post)
    tag_ids = _wp_ids(post.get("tags"))
    if tag_ids and not has_tags:
        href = _wp_link(post, "wp:term", "post_tag") or (root + "tags" if root else None)
        if href:
            pending["tags"] = {"collection": href.split("?", 1)[0], "ids": tag_ids}
    media = post.get("featured_media")
    if isinstance(media, int) and not isinstance(media, bool) and media > 0 and not has_image:
        href = _wp_link(post, "wp:featuredmedia") or (f"{root}media/{media}" if root else None)
        if href:
            pending["image"] = {"href": href, "id": media}
    return pending


def from_wordpress(post: dict[str, Any], *, origin: str = "WordPress post") -> Article:
    """An Article from a WordPress REST post object (``/wp-json/wp/v2/posts/<id>?_embed``).

    Entities decode (``&#8217;`` -> ``’``); tags come from the embedded ``post_tag`` terms or a
    ``tag_names`` field (a post without either records in ``extra[WP_PENDING]`` what
    :mod:`bot.load.wordpress` must look up); the excerpt loses WordPress's ``[…]`` and "Continue reading" link. A Yoast
    ``canonical`` (set when the post is republished from elsewhere) wins over ``link``.
    """
    if not isinstance(post, dict):
        raise InputError(f"{origin}: a WordPress post must be a JSON object, not {type(post).__name__}")
    title = fragment_text(_rendered(post.get("title")))
    blocks = fragment_blocks(_rendered(post.get("content")))
    tidied = tidy_blocks(blocks)
    excerpt = ""
    if not _dict(post.get("excerpt")).get("protected"):
        excerpt_blocks = fragment_blocks(_rendered(post.get("excerpt")))
        excerpt = inline_text(" ".join(b.text for b in excerpt_blocks))
        excerpt = _WP_ELLIPSIS.sub("…", _WP_MORE.sub("", excerpt)).strip()
    terms = _wp_terms(post)
    tags = terms.get("post_tag") or tags_value(post.get("tag_names"), "tag_names", origin)
    image, alt = _wp_image(post)
    yoast = _dict(post.get("yoast_head_json"))
    date_gmt = post.get("date_gmt")
    published = date_value(post.get("date"))
    if isinstance(date_gmt, str) and date_gmt.strip():
        published = date_gmt.strip() + ("" if re.search(r"(?:Z|[+-]\d\d:?\d\d)$", date_gmt.strip()) else "Z")
    extra: dict[str, Any] = {"format": "json:wordpress", "origin": origin}
    for key in ("slug", "status", "modified_gmt"):
        if post.get(key) is not None:
            extra[key] = post[key]
    if terms.get("category"):
        extra["categories"] = terms["category"]
    pending = wordpress_pending(post, has_tags=bool(tags), has_image=image is not None)
    if pending:
        extra[WP_PENDING] = pending
    post_id = post.get("id")
    if not title and not tidied.blocks and not excerpt:
        raise InputError(f"{origin}: WordPress post has no title, excerpt or content")
    return Article(
        title=title,
        url=http_url(yoast.get("canonical")) or http_url(post.get("link")),
        summary=excerpt or lead_paragraph(tidied.blocks),
        body=body_from_blocks(tidied.blocks),
        tags=clean_tags(tags + tidied.hashtags),
        image=image,
        image_alt=alt,
        lang=lang_value(post.get("lang")) or lang_value(yoast.get("og_locale")),
        published_at=published,
        source_id=f"wp:{post_id}" if post_id not in (None, "") else None,
        status=publication_state(status=post.get("status")),
        extra=extra,
    )


# ---------------------------------------------------------------------------- generic

_GENERIC_KEYS = frozenset(
    {
        "title", "url", "link", "canonical_url", "summary", "description", "excerpt", "tags", "body",
        "text", "content", "html", "image", "image_url", "image_alt", "lang", "published_at", "date",
        "source_id", "thread", "status",
    }
)  # fmt: skip


def _pick(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def from_generic(obj: dict[str, Any], *, origin: str = "JSON article") -> Article:
    """An Article from ``{title, url, summary, tags, body, image, image_alt, lang, published_at, thread}``.

    Also accepted: ``link``/``canonical_url`` for url, ``description``/``excerpt`` for summary,
    ``text``/``content`` (plain text) or ``html`` for body, ``image_url``, ``date``. Other keys go to
    ``extra``.
    """
    if not isinstance(obj, dict):
        raise InputError(f"{origin}: an article must be a JSON object, not {type(obj).__name__}")
    body_text = str_value(_pick(obj, "body", "text", "content"), "body", origin)
    if body_text.strip():
        blocks = _plain_body(body_text)
    else:
        blocks = fragment_blocks(str_value(obj.get("html"), "html", origin))
    raw_url = str_value(_pick(obj, "url", "canonical_url", "link"), "url", origin).strip()
    url = http_url(raw_url)
    if raw_url and url is None:
        raise BadCanonicalLink(f"{origin}: 'url' must be an absolute http(s) URL, not {raw_url!r}")
    image = http_url(str_value(_pick(obj, "image", "image_url"), "image", origin))
    title = inline_text(str_value(obj.get("title"), "title", origin))
    summary = inline_text(str_value(_pick(obj, "summary", "description", "excerpt"), "summary", origin))
    if not (title or summary or blocks):
        raise InputError(f"{origin}: the article has no title, summary or body")
    extra: dict[str, Any] = {k: v for k, v in obj.items() if k not in _GENERIC_KEYS}
    extra.update({"format": "json:generic", "origin": origin})
    source_id = obj.get("source_id")
    return Article(
        title=title,
        url=url,
        summary=summary or lead_paragraph(blocks),
        body=body_from_blocks(Block(b.kind, block_text(b.text)) for b in blocks),
        tags=clean_tags(tags_value(obj.get("tags"), "tags", origin)),
        image=image,
        image_alt=_alt(obj.get("image_alt"), origin) if image else None,
        lang=lang_value(obj.get("lang")),
        published_at=date_value(_pick(obj, "published_at", "date")),
        source_id=str(source_id) if isinstance(source_id, str | int) and source_id != "" else None,
        thread=bool_value(obj.get("thread"), "thread", origin),
        status=publication_state(status=obj.get("status"), draft=obj.get("draft"), published=obj.get("published")),
        extra=extra,
    )
