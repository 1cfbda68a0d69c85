"""Finish a WordPress REST post that came without ``_embed``: tag names and the featured image.

WordPress answers ``/wp-json/wp/v2/posts/5`` with ``"tags": [2, 3]`` and ``"featured_media": 4`` and
nothing else about them; only ``?_embed`` inlines the terms and the media. Posting such a post as it
is loses every hashtag and the image, silently. :func:`bot.load.jsonfmt.from_wordpress` (pure) records
what is missing under ``extra[WP_PENDING]``; this module, called by the steps that already do I/O
(:func:`bot.load.load_article`, the worker turning a queued webhook job into an Article), asks the
site's REST API through the guarded fetcher and caches the answers (tag names by id, media by URL).

Where a lookup is impossible (offline, HTTP 4xx, a private address refused), the article goes on
without what is missing and ``extra["warnings"]`` gets one line saying what was left out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from bot.article import Article
from bot.errors import InputError
from bot.load.common import clean_tags, http_url, inline_text
from bot.load.html import fragment_text
from bot.load.jsonfmt import WP_PENDING

MAX_REST_BYTES = 512 * 1024
CACHE_SECONDS = 6 * 3600.0
"""How long a tag name or a media answer is reused (a renamed tag shows up after this)."""

_ACCEPT = "application/json"


class Cache(Protocol):
    """The part of :class:`bot.store.Store` used as a cache; :class:`MemoryCache` when there is no store."""

    def kv_get(self, key: str) -> Any | None: ...

    def kv_set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> None: ...


class MemoryCache:
    """An in-process cache with expiry, for the command line (one process, no store)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def kv_get(self, key: str) -> Any | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            return found[1]

    def kv_set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + (ttl_seconds or CACHE_SECONDS), value)


PROCESS_CACHE = MemoryCache()

Fetcher = Callable[..., Any]
"""Signature of :func:`bot.fetch.fetch`; tests pass their own."""


def _get_json(url: str, fetch: Fetcher, *, allow_private: bool | None, timeout: float) -> Any:
    result = fetch(url, max_bytes=MAX_REST_BYTES, timeout=timeout, allow_private=allow_private, accept=_ACCEPT)
    try:
        return json.loads(result.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(f"{url}: the answer is not JSON") from None


def _tag_names(pending: dict[str, Any], fetch: Fetcher, cache: Cache, **opts: Any) -> list[str]:
    collection = str(pending["collection"])
    ids = [int(i) for i in pending["ids"]]
    names: dict[int, str] = {}
    for tag_id in ids:
        cached = cache.kv_get(f"wp:term:{collection}:{tag_id}")
        if isinstance(cached, str):
            names[tag_id] = cached
    missing = [i for i in ids if i not in names]
    if missing:
        query = ",".join(str(i) for i in missing)
        answer = _get_json(f"{collection}?include={query}&per_page=100&_fields=id,name", fetch, **opts)
        for term in answer if isinstance(answer, list) else []:
            if isinstance(term, dict) and term.get("id") in missing and isinstance(term.get("name"), str):
                names[term["id"]] = fragment_text(term["name"])
                cache.kv_set(f"wp:term:{collection}:{term['id']}", names[term["id"]], ttl_seconds=CACHE_SECONDS)
    return [names[i] for i in ids if names.get(i)]


def _media(pending: dict[str, Any], fetch: Fetcher, cache: Cache, **opts: Any) -> tuple[str | None, str | None]:
    href = str(pending["href"])
    key = f"wp:media:{href}"
    cached = cache.kv_get(key)
    if not isinstance(cached, dict):
        answer = _get_json(href, fetch, **opts)
        answer = answer if isinstance(answer, dict) else {}
        alt = answer.get("alt_text")
        cached = {"url": http_url(answer.get("source_url")), "alt": inline_text(alt) if isinstance(alt, str) else ""}
        cache.kv_set(key, cached, ttl_seconds=CACHE_SECONDS)
    return cached.get("url"), cached.get("alt") or None


def resolve_wordpress(
    article: Article,
    *,
    fetch: Fetcher | None = None,
    cache: Cache | None = None,
    allow_private: bool | None = None,
    timeout: float = 10.0,
    pending: dict[str, Any] | None = None,
) -> Article:
    """The article with the tags and featured image its REST post only named by id.

    ``pending`` defaults to ``article.extra[WP_PENDING]`` (a queued job carries it beside the article).
    An article with nothing pending is returned as it is, without any request.
    """
    pending = pending if pending is not None else article.extra.get(WP_PENDING)
    if not isinstance(pending, dict) or not pending:
        return article
    if fetch is None:
        from bot.fetch import fetch as guarded_fetch

        fetch = guarded_fetch
    cache = cache if cache is not None else PROCESS_CACHE
    opts: dict[str, Any] = {"allow_private": allow_private, "timeout": timeout}
    tags, image, alt = article.tags, article.image, article.image_alt
    left_out: list[str] = []
    reasons: list[str] = []
    if isinstance(pending.get("tags"), dict):
        try:
            tags = clean_tags(_tag_names(pending["tags"], fetch, cache, **opts) + list(article.tags))
        except InputError as exc:
            left_out.append("tags")
            reasons.append(str(exc))
    if isinstance(pending.get("image"), dict):
        try:
            image, alt = _media(pending["image"], fetch, cache, **opts)
        except InputError as exc:
            left_out.append("featured image")
            reasons.append(str(exc))
    extra = {k: v for k, v in article.extra.items() if k != WP_PENDING}
    if left_out:
        origin = article.extra.get("origin") or article.url or "WordPress post"
        extra["warnings"] = [
            *extra.get("warnings", []),
            f"{origin}: WordPress {' and '.join(left_out)} left out: the REST API could not be read "
            f"({reasons[0]})",
        ]
    return replace(article, tags=tags, image=image, image_alt=alt if image else None, extra=extra)


def wordpress_categories(
    site: str,
    *,
    fetch: Fetcher | None = None,
    cache: Cache | None = None,
    allow_private: bool | None = None,
    timeout: float = 10.0,
) -> frozenset[str]:
    """The casefolded category names of a WordPress site (``/wp-json/wp/v2/categories``), cached.

    A WordPress feed writes a post's categories and tags alike as ``<category>``; these names tell
    them apart. Raises InputError when the REST API cannot be read.
    """
    if fetch is None:
        from bot.fetch import fetch as guarded_fetch

        fetch = guarded_fetch
    cache = cache if cache is not None else PROCESS_CACHE
    url = site.rstrip("/") + "/wp-json/wp/v2/categories?per_page=100&_fields=name"
    cached = cache.kv_get(f"wp:categories:{url}")
    if isinstance(cached, list):
        return frozenset(cached)
    answer = _get_json(url, fetch, allow_private=allow_private, timeout=timeout)
    if not isinstance(answer, list):
        raise InputError(f"{url}: expected a list of categories")
    names = sorted({fragment_text(c["name"]).casefold() for c in answer
                    if isinstance(c, dict) and isinstance(c.get("name"), str)})
    cache.kv_set(f"wp:categories:{url}", names, ttl_seconds=CACHE_SECONDS)
    return frozenset(names)
