"""The catch-up: find publications the webhook never heard of, and queue them like the webhook would.

Ghost tries a delivery once and gives up after 2 s; a crosspost that is restarting, down, or answering
503 loses that publication for good. So ``crosspost serve`` (and ``crosspost watch``) also asks the site
itself, at start-up and then every ``CROSSPOST_CATCHUP_EVERY``, what was published since it last asked:

* an RSS/Atom feed (``CROSSPOST_CATCHUP_FEED``) through :func:`bot.feeds.poll_feed` and its seen-keys;
* Ghost's Content API (``CROSSPOST_GHOST_URL`` + ``CROSSPOST_GHOST_CONTENT_KEY``):
  ``/ghost/api/content/posts/?filter=published_at:>'…'&order=published_at asc``;
* the WordPress REST API (``CROSSPOST_WORDPRESS_URL``): ``/wp-json/wp/v2/posts?after=…&_embed``.

For the two APIs the newest ``published_at`` seen is kept in the store (``catchup:cursor:<source>``), so
the first poll after a restart covers exactly the time crosspost was away. Nothing published before
now - ``CROSSPOST_CATCHUP_WINDOW`` is ever queued, however long that was (a first run looks back one
window). Jobs are queued with ``dedupe_key = article.key``, the webhook's key, and a Ghost post is also
remembered under the webhook's post-id alias: a publication found here and delivered later by the
webhook (or the other way round) is one job, posted once.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import bot.fetch
from bot.article import Article
from bot.errors import ConfigError, CrosspostError, InputError
from bot.feeds import Fetcher, poll_feed, queue_targets
from bot.store import Store

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("crosspost.catchup")

DEFAULT_EVERY = timedelta(minutes=10)
DEFAULT_WINDOW = timedelta(days=2)
MAX_API_BYTES = 8 * 1024 * 1024
PAGE_SIZE = 50
MAX_PAGES = 20
"""A poll reads at most MAX_PAGES * PAGE_SIZE posts per source (a window's worth for any real blog)."""
FEED_FIRST_RUN_BACKFILL = 100
"""On a feed's first poll, its entries inside the window are queued (not only recorded as seen)."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


_MAX_SPAN = timedelta(days=3650)


def parse_span(name: str, raw: str | None, default: timedelta, bare_unit: str) -> timedelta:
    """An env duration: ``90s``, ``10m``, ``2h``, ``2d``, ``1h30m``; a bare number is in ``bare_unit``."""
    if raw is None or not raw.strip():
        return default
    text = raw.strip().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        text += bare_unit
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT[match.group(2).lower()]
        pos = match.end()
    if pos != len(text) or seconds < 0:
        raise ConfigError(f"{name}={raw!r} is not a duration like 90s, 10m, 2h or 2d")
    if seconds > _MAX_SPAN.total_seconds():
        raise ConfigError(f"{name}={raw!r} is longer than {_MAX_SPAN.days} days")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class CatchupConfig:
    """Where to look for missed publications, how often, and how far back at most."""

    feed_url: str | None = None
    ghost_url: str | None = None
    ghost_key: str | None = None
    wordpress_url: str | None = None
    every: timedelta = DEFAULT_EVERY
    window: timedelta = DEFAULT_WINDOW

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CatchupConfig:
        """Read the ``CROSSPOST_CATCHUP_*``, ``CROSSPOST_GHOST_*`` and ``CROSSPOST_WORDPRESS_URL`` variables."""
        ghost_url = _base_url(env, "CROSSPOST_GHOST_URL")
        ghost_key = (env.get("CROSSPOST_GHOST_CONTENT_KEY") or "").strip() or None
        if bool(ghost_url) != bool(ghost_key):
            raise ConfigError(
                "the Ghost catch-up needs both CROSSPOST_GHOST_URL and CROSSPOST_GHOST_CONTENT_KEY "
                "(Ghost Admin → Settings → Integrations → add a custom integration → Content API key)"
            )
        if ghost_key and not re.fullmatch(r"[0-9a-fA-F]{10,64}", ghost_key):
            raise ConfigError("CROSSPOST_GHOST_CONTENT_KEY is not a Ghost Content API key (hex digits)")
        every = parse_span("CROSSPOST_CATCHUP_EVERY", env.get("CROSSPOST_CATCHUP_EVERY"), DEFAULT_EVERY, "m")
        window = parse_span("CROSSPOST_CATCHUP_WINDOW", env.get("CROSSPOST_CATCHUP_WINDOW"), DEFAULT_WINDOW, "d")
        if every and every < timedelta(seconds=10):
            raise ConfigError("CROSSPOST_CATCHUP_EVERY must be at least 10s (or 0 to turn the catch-up off)")
        if window <= timedelta(0):
            raise ConfigError("CROSSPOST_CATCHUP_WINDOW must be more than 0")
        return cls(_base_url(env, "CROSSPOST_CATCHUP_FEED"), ghost_url, ghost_key,
                   _base_url(env, "CROSSPOST_WORDPRESS_URL"), every, window)

    @property
    def enabled(self) -> bool:
        """Something to poll, and a poll interval (``CROSSPOST_CATCHUP_EVERY=0`` turns it off)."""
        return bool(self.every) and bool(self.feed_url or self.ghost_url or self.wordpress_url)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.ghost_key,) if self.ghost_key else ()


def _base_url(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not re.match(r"https?://[^/\s]+", raw):
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL")
    return raw


# ---------------------------------------------------------------------------- the APIs


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _get_json(url: str, settings: Settings, fetch: Fetcher) -> Any:
    import json

    result = fetch(url, max_bytes=MAX_API_BYTES, timeout=settings.timeout,
                   allow_private=settings.allow_private_network, accept="application/json")
    try:
        return json.loads(result.body)
    except ValueError:
        raise InputError(f"{url.split('?', 1)[0]}: the answer is not JSON") from None


def ghost_since(config: CatchupConfig, since: datetime, settings: Settings, fetch: Fetcher) -> list[Article]:
    """Posts published after ``since``, oldest first, from Ghost's Content API (published posts only)."""
    from bot.load.jsonfmt import from_ghost, slim_ghost_post

    assert config.ghost_url and config.ghost_key
    root = config.ghost_url.rstrip("/") + "/ghost/api/content/posts/"
    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    articles: list[Article] = []
    for page in range(1, MAX_PAGES + 1):
        query = urlencode({"key": config.ghost_key, "filter": f"published_at:>'{stamp}'",
                           "order": "published_at asc", "include": "tags", "formats": "plaintext",
                           "limit": PAGE_SIZE, "page": page}, quote_via=quote)
        data = _get_json(f"{root}?{query}", settings, fetch)
        posts = data.get("posts") if isinstance(data, dict) else None
        if not isinstance(posts, list):
            raise InputError(f"{root}: not a Ghost Content API answer (no 'posts' list)")
        for post in posts:
            if isinstance(post, dict):
                articles.append(from_ghost({"post": {"current": slim_ghost_post(post)}}, origin=f"Ghost {root}"))
        pagination = data.get("meta", {}).get("pagination", {}) if isinstance(data.get("meta"), dict) else {}
        if not isinstance(pagination, dict) or not pagination.get("next"):
            break
    return articles


def wordpress_since(config: CatchupConfig, since: datetime, settings: Settings, fetch: Fetcher) -> list[Article]:
    """Posts published after ``since``, oldest first, from the WordPress REST API (``_embed``: tags, image)."""
    from bot.load.jsonfmt import from_wordpress

    assert config.wordpress_url
    root = config.wordpress_url.rstrip("/") + "/wp-json/wp/v2/posts"
    articles: list[Article] = []
    for page in range(1, MAX_PAGES + 1):
        query = urlencode({"after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
                           "orderby": "date", "order": "asc", "status": "publish", "per_page": PAGE_SIZE,
                           "page": page, "_embed": "1"})
        posts = _get_json(f"{root}?{query}", settings, fetch)
        if not isinstance(posts, list):
            raise InputError(f"{root}: not a WordPress REST answer (no list of posts)")
        for post in posts:
            if isinstance(post, dict):
                articles.append(from_wordpress(post, origin=f"WordPress {root}"))
        if len(posts) < PAGE_SIZE:
            break
    return articles


_API_SOURCES: dict[str, Callable[[CatchupConfig, datetime, Settings, Fetcher], list[Article]]] = {
    "ghost": ghost_since,
    "wordpress": wordpress_since,
}


# ---------------------------------------------------------------------------- policy and queueing


def not_publishable(article: Article, now: datetime, window: timedelta) -> str | None:
    """Why a found article must not be queued (None: queue it): the publishing policy refuses it (a draft
    or scheduled post, no valid link), a publication date in the future, outside the window, or missing
    (age unknown: never guess)."""
    from bot.errors import InputError
    from bot.policy import check_publishable

    try:
        check_publishable(article)  # the one publishing policy: published, with a valid canonical link
    except InputError as exc:
        return str(exc)
    published = _stamp(article.published_at)
    if published is None:
        return "no publication date"
    if published > now + timedelta(minutes=1):
        return "publication date in the future"
    if published < now - window:
        return f"published before the catch-up window ({window})"
    return None


def _queue(store: Store, source: str, article: Article, targets: list[str]) -> tuple[int, bool]:
    from bot.webhook import job_article, source_alias

    job, created = store.enqueue(article=job_article(article), article_key=article.key, targets=targets,
                                 run_at=datetime.now(UTC), dedupe_key=article.key)
    alias = source_alias(source, article)
    if alias is not None and store.kv_get(alias) is None:
        store.kv_set(alias, job.id)
    return job.id, created


def cursor_key(source: str, config: CatchupConfig) -> str:
    site = config.ghost_url if source == "ghost" else config.wordpress_url
    return f"catchup:cursor:{source}:{(site or '').rstrip('/').lower()}"


def poll_api(store: Store, source: str, config: CatchupConfig, *, settings: Settings, targets: list[str],
             fetch: Fetcher = bot.fetch.fetch, now: datetime | None = None) -> list[int]:
    """Ask one API for what was published since its cursor (at most one window back); queue it. Returns
    the ids of the jobs created (an article the webhook already queued is not queued again)."""
    now = now or datetime.now(UTC)
    oldest = now - config.window
    cursor = _stamp(store.kv_get(cursor_key(source, config)))
    since = max(cursor, oldest) if cursor else oldest
    created_ids: list[int] = []
    newest = cursor
    for article in _API_SOURCES[source](config, since, settings, fetch):
        published = _stamp(article.published_at)
        reason = not_publishable(article, now, config.window)
        if reason is not None:
            log.info("catch-up skipped", extra={"source": source, "url": article.url, "reason": reason})
        else:
            job_id, created = _queue(store, source, article, targets)
            log.info("catch-up queued" if created else "catch-up already queued",
                     extra={"source": source, "article": article.key, "job": job_id, "url": article.url})
            if created:
                created_ids.append(job_id)
        if published is not None and published <= now and (newest is None or published > newest):
            newest = published
    if newest is not None and newest != cursor:
        store.kv_set(cursor_key(source, config), newest.isoformat())
    return created_ids


def poll_all(store: Store, config: CatchupConfig, *, settings: Settings, targets: Sequence[str] | None = None,
             fetch: Fetcher = bot.fetch.fetch) -> list[int]:
    """One catch-up round over every configured source; a failing source is logged and the others run."""
    platforms = queue_targets(settings, targets)
    queued: list[int] = []
    sources = [s for s, on in (("feed", config.feed_url), ("ghost", config.ghost_url),
                               ("wordpress", config.wordpress_url)) if on]
    for source in sources:
        try:
            if source == "feed":
                assert config.feed_url
                window_days = config.window.total_seconds() / 86400
                feed_settings = replace(settings, feed_max_age_days=min(
                    window_days, settings.feed_max_age_days or window_days))
                queued += poll_feed(store, config.feed_url, settings=feed_settings, targets=platforms,
                                    backfill=FEED_FIRST_RUN_BACKFILL, fetch=fetch).queued
            else:
                queued += poll_api(store, source, config, settings=settings, targets=platforms, fetch=fetch)
        except CrosspostError as exc:
            log.warning("catch-up poll failed", extra={"source": source, "error": str(exc)})
        except Exception:  # one source's bug must not stop the others, nor the next round
            log.exception("catch-up poll crashed", extra={"source": source})
    return queued


def catchup_loop(store: Store, config: CatchupConfig, stop: threading.Event, *, settings: Settings,
                 targets: Sequence[str] | None = None, fetch: Fetcher = bot.fetch.fetch) -> None:
    """Poll at once (the time crosspost was down), then every ``config.every``, until ``stop`` is set."""
    while not stop.is_set():
        queued = poll_all(store, config, settings=settings, targets=targets, fetch=fetch)
        if queued:
            log.info("catch-up round", extra={"queued": len(queued)})
        stop.wait(config.every.total_seconds())


def start_catchup(store: Store, config: CatchupConfig, *, settings: Settings,
                  targets: Sequence[str] | None = None) -> tuple[threading.Thread, threading.Event] | None:
    """Run :func:`catchup_loop` in a daemon thread when something is configured; None otherwise."""
    if not config.enabled:
        return None
    queue_targets(settings, targets)  # a configuration error shows now, not in the thread's log
    stop = threading.Event()
    thread = threading.Thread(target=catchup_loop, args=(store, config, stop),
                              kwargs={"settings": settings, "targets": targets}, name="catchup", daemon=True)
    thread.start()
    return thread, stop
