"""Feed watching: poll an RSS or Atom feed and queue a job for every entry not seen before.

Each entry is known by two keys in the store's ``feed_seen`` table: its id (``<guid>`` / ``<id>``) and
its link. An entry counts as seen when *either* key was seen, and every poll marks both, so an edited
entry (same id, new title) and a re-keyed entry (new id, same link) are not queued again.

A seen entry whose content changed is an edit. Every mark keeps a fingerprint of what composition reads
from the entry (:func:`fingerprint`: title, summary, tags, link, image); when a later poll finds a seen
entry with another fingerprint, the new Article goes to :func:`bot.lifecycle.apply_edit`, the path of a
Ghost ``post.published.edited``: a queued job is given the new article, published posts are updated
where ``on_edit = "update"``. A mark without a fingerprint (made before they were kept) only gets one
recorded: the first poll after an upgrade does not take every old entry for an edit.

The first poll of a feed only records what is already there (a blog's back catalogue is not news),
unless ``backfill=N`` asks for the N newest entries. "First poll" is remembered by a marker key in
``feed_seen``, not guessed from the entries, so a feed whose every entry changed between two polls
still has its new entries queued.

Jobs are queued with ``dedupe_key = article.key`` (the canonical URL's hash), the same key the webhook
uses: an article that arrives by webhook and by feed is queued once. The feed is fetched with
:func:`bot.fetch.fetch` (the guard against internal addresses, a 5 MiB cap, the settings' timeout);
images named in the feed are not fetched here but later, by the adapters, through the same guard.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import bot.fetch
from bot.article import Article
from bot.errors import ConfigError, CrosspostError, InputError
from bot.policy import check_publishable, publication_state
from bot.store import Store

MAX_FEED_BYTES = 5 * 1024 * 1024
"""The largest feed document crosspost reads."""

FIRST_POLL_MARKER = "crosspost:first-poll-done"
"""The ``feed_seen`` item key that says a feed has been polled before (entry keys start id:/link:/hash:)."""

_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
# WordPress's sample post, present on every fresh install: "Hello world!" with guid …/?p=1.
_WP_SAMPLE_TEXT = "Welcome to WordPress. This is your first post."
_WP_SAMPLE_GUID = re.compile(r"[?&]p=1$")

if TYPE_CHECKING:  # bot.config pulls in the composer; only its type is needed here
    from bot.config import Settings

log = logging.getLogger("crosspost.feeds")

Fetcher = Callable[..., bot.fetch.FetchResult]
"""Signature of :func:`bot.fetch.fetch`; tests pass their own."""


@dataclass(frozen=True)
class PollResult:
    """What one poll did: the ids of the jobs it created (an article already queued by the webhook or
    another watcher is not queued again), and how many entries it saw for the first time (marked seen
    now, queued or not). ``first_run`` says this was the feed's first poll. ``edited`` has the article
    keys of seen entries whose content changed (each handed to :func:`bot.lifecycle.apply_edit`)."""

    queued: list[int] = field(default_factory=list)
    seen_now: int = 0
    first_run: bool = False
    edited: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedEntry:
    """One feed entry as crosspost understands it: the Article, its seen-keys, and a sort date."""

    article: Article
    keys: tuple[str, ...]
    published: float | None  # epoch seconds, when the feed gives a date
    position: int  # index in the document

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.article)


def fingerprint(article: Article) -> str:
    """A digest of what composition reads from a feed entry: when it changes, the posts would differ.

    The categories are in it (WordPress tags are chosen from them later); the body is not (a post is
    made from the title, summary, tags, link and image, and a feed's full text changes for reasons of
    its own, such as a comment count)."""
    import json

    basis = [article.title, article.summary, list(article.tags), list(article.extra.get("categories") or ()),
             article.url, article.image, article.image_alt, article.lang]
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode("utf-8")).hexdigest()[:32]


def queue_targets(settings: Settings, targets: Sequence[str] | None) -> list[str]:
    """The platforms a queued job goes to: ``targets`` if given (checked), else every configured platform.

    Shared by the webhook and the feed watcher. Raises ConfigError when the answer would be no platform
    at all: a job with no target would be "done" without posting anything.
    """
    from bot import platforms

    if targets:
        chosen = list(dict.fromkeys(t.strip().lower() for t in targets if t.strip()))
        unknown = [t for t in chosen if t not in platforms.names()]
        if unknown:
            raise ConfigError(
                f"unknown platform {', '.join(unknown)}: choose from {', '.join(platforms.names())}"
            )
        if chosen:
            return chosen
    configured = [p for p in platforms.names() if any(a.platform == p for a in settings.accounts)]
    if not configured:
        raise ConfigError(
            "no platform has credentials, so queued jobs would post nowhere: set "
            f"{', '.join(platforms.credential_keys())} (see .env.example) or name the platforms explicitly"
        )
    return configured


# ---------------------------------------------------------------------------- parsing


def _text(value: Any, detail: Any = None) -> str:
    """Entry text as one line: HTML (by the detail's type, or markup in the value) loses its tags."""
    from bot.load.common import inline_text
    from bot.load.html import fragment_text

    if not isinstance(value, str):
        return ""
    kind = detail.get("type") if isinstance(detail, dict) else None
    if kind in _HTML_TYPES or (kind is None and "<" in value):
        return fragment_text(value)
    return inline_text(value)


def _epoch(parsed: Any) -> float | None:
    """A feedparser ``*_parsed`` value (UTC struct_time) as epoch seconds."""
    try:
        return float(calendar.timegm(parsed)) if parsed else None
    except (TypeError, ValueError, OverflowError):
        return None


def _image(entry: Any, base: str) -> tuple[str | None, str | None]:
    """The entry's image: Media RSS content/thumbnail, else an image enclosure."""
    from bot.load.common import http_url

    for media in list(entry.get("media_content") or []) + list(entry.get("media_thumbnail") or []):
        if not isinstance(media, dict):
            continue
        kind = str(media.get("medium") or media.get("type") or "image")
        if kind == "image" or kind.startswith("image/"):
            url = http_url(media.get("url"), base)
            if url:
                return url, None
    for link in entry.get("links") or []:
        is_enclosure = isinstance(link, dict) and link.get("rel") == "enclosure"
        if is_enclosure and str(link.get("type") or "").startswith("image/"):
            url = http_url(link.get("href"), base)
            if url:
                return url, None
    return None, None


def is_wordpress_sample(article: Article) -> bool:
    """WordPress's "Hello world!" sample post, which is never news."""
    if article.body.startswith(_WP_SAMPLE_TEXT) or article.summary.startswith(_WP_SAMPLE_TEXT):
        return True
    return article.title == "Hello world!" and bool(_WP_SAMPLE_GUID.search(article.source_id or ""))


def _entry(raw: Any, position: int, base: str, lang: str | None, categories_as_tags: bool) -> FeedEntry:
    """Build the Article and keys of one feedparser entry."""
    from bot.load.common import body_from_blocks, clean_tags, http_url, inline_text, lead_paragraph
    from bot.load.html import fragment_blocks

    url = http_url(raw.get("link"), base)
    title = _text(raw.get("title"), raw.get("title_detail"))
    summary_html = raw.get("summary") if isinstance(raw.get("summary"), str) else ""
    summary = inline_text(" ".join(b.text for b in fragment_blocks(summary_html))) if summary_html else ""
    content = raw.get("content") or []
    body_html = next((c.get("value") for c in content if isinstance(c, dict) and c.get("value")), "")
    blocks = fragment_blocks(body_html) if isinstance(body_html, str) and body_html else []
    names: list[str] = []
    for tag in raw.get("tags") or []:
        if isinstance(tag, dict):
            name = tag.get("label") or tag.get("term")
            if isinstance(name, str):
                names.append(name)
    image, alt = _image(raw, base)
    published = _epoch(raw.get("published_parsed")) or _epoch(raw.get("updated_parsed"))
    raw_id = raw.get("id")
    entry_id = raw_id.strip() if isinstance(raw_id, str) and raw_id.strip() else None
    article = Article(
        title=title,
        url=url,
        summary=summary or lead_paragraph(blocks),
        body=body_from_blocks(blocks),
        tags=clean_tags(names) if categories_as_tags else (),
        image=image,
        image_alt=alt,
        lang=lang,
        published_at=datetime.fromtimestamp(published, UTC).isoformat() if published is not None else None,
        source_id=entry_id,
        status=publication_state(status=raw.get("wp_status")),  # a WordPress export (WXR) says it
        extra={"format": "feed", "categories": list(clean_tags(names))},
    )
    keys: list[str] = []
    if entry_id:
        keys.append("id:" + entry_id)
    if url:
        keys.append("link:" + url)
    if not keys:
        basis = f"{title}\n{summary}\n{article.body}".encode()
        keys.append("hash:" + hashlib.sha256(basis).hexdigest())
    return FeedEntry(article, tuple(keys), published, position)


def parse_feed(
    data: bytes, *, feed_url: str, content_type: str | None = None, categories_as_tags: bool = False
) -> list[FeedEntry]:
    """Parse an RSS or Atom document into entries, newest first.

    An entry's ``<category>`` values are in ``extra["categories"]``; they are its tags only with
    ``categories_as_tags`` (a blog's categories are sections, not hashtags). A WordPress feed (its
    ``<generator>``) puts categories and tags alike there: :func:`poll_feed` tells them apart.

    Raises InputError when the document is not a feed at all. ``feedparser`` is handed a byte stream
    (a string would be taken for a URL or a file name) and never fetches anything itself.
    """
    import feedparser

    # No content-location: feedparser would then rewrite relative ids into URLs, and an id must stay
    # exactly as the feed wrote it. Relative links and images are joined with feed_url below instead.
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise InputError(f"{feed_url}: not an RSS or Atom feed" + (f" ({reason})" if reason else ""))
    from bot.load.common import lang_value

    lang = lang_value(parsed.feed.get("language"))
    entries = [_entry(raw, i, feed_url, lang, categories_as_tags) for i, raw in enumerate(parsed.entries)]
    generator = str(parsed.feed.get("generator") or "")
    site = parsed.feed.get("link")
    if "wordpress.org" in generator and isinstance(site, str) and site:
        for entry in entries:
            entry.article.extra["wordpress_site"] = site
    if entries and all(e.published is not None for e in entries):
        return sorted(entries, key=lambda e: (e.published or 0.0, -e.position), reverse=True)
    return entries  # without dates for all, trust the feed's own order (newest first, by convention)


# ---------------------------------------------------------------------------- polling


def poll_feed(
    store: Store,
    feed_url: str,
    *,
    settings: Settings,
    targets: Sequence[str] | None = None,
    backfill: int = 0,
    delay_seconds: float = 0.0,
    fetch: Fetcher = bot.fetch.fetch,
) -> PollResult:
    """Fetch ``feed_url`` once and queue a job per new entry; see the module docstring for the rules.

    ``targets`` defaults to every configured platform. Jobs run at now + ``delay_seconds``, oldest
    entry first. A seen entry whose content changed is an edit (see the module docstring). Entries the
    publishing policy refuses (no valid link, not published) are marked seen but
    not queued, with a warning. Raises
    InputError when the feed cannot be fetched or parsed, StoreError when the database fails; a poll
    that fails part-way is safe to repeat (enqueueing is deduplicated by article key).
    """
    if backfill < 0:
        raise ValueError("backfill must be >= 0")
    platforms = queue_targets(settings, targets)
    result = fetch(
        feed_url,
        max_bytes=MAX_FEED_BYTES,
        timeout=settings.timeout,
        allow_private=settings.allow_private_network,
        accept=_ACCEPT,
    )
    entries = parse_feed(result.body, feed_url=result.url_final, content_type=result.content_type,
                         categories_as_tags=settings.feed_categories_as_tags)
    _warn_reused_ids(feed_url, entries)
    first_run = not store.feed_seen(feed_url, [FIRST_POLL_MARKER])
    all_keys = [k for e in entries for k in e.keys]
    known = store.feed_fingerprints(feed_url, all_keys)
    new = [e for e in entries if not known.keys() & set(e.keys)]
    # One article may appear twice in a feed (two ids, one link): the first occurrence decides.
    claimed: set[str] = set()
    fresh: list[FeedEntry] = []
    for entry in new:
        if not claimed.intersection(entry.keys):
            fresh.append(entry)
        claimed.update(entry.keys)
    to_queue = _news(fresh[:backfill] if first_run else fresh, settings, feed_url)
    to_queue = _with_wordpress_tags(to_queue, settings, store, fetch)
    run_at = datetime.now(UTC) + timedelta(seconds=delay_seconds)
    queued: list[int] = []
    for entry in reversed(to_queue):  # oldest first, so the queue posts them in publication order
        article = entry.article
        try:
            check_publishable(article)
        except InputError as exc:  # marked seen: the same refusal is not logged again at every poll
            log.warning(
                "feed entry not queued",
                extra={"feed": feed_url, "title": article.title, "reason": str(exc)},
            )
            store.feed_mark(feed_url, list(entry.keys), fingerprint=entry.fingerprint)
            continue
        job, created = store.enqueue(
            article=article.to_dict(),
            article_key=article.key,
            targets=platforms,
            run_at=run_at,
            dedupe_key=article.key,
        )
        store.feed_mark(feed_url, list(entry.keys), fingerprint=entry.fingerprint)
        if created:
            queued.append(job.id)
        log.info(
            "feed entry queued" if created else "feed entry already queued",
            extra={"feed": feed_url, "article": article.key, "job": job.id, "url": article.url},
        )
    # Everything else that is new (the back catalogue on a first run, duplicates) is only marked seen.
    store.feed_mark_many(feed_url, [(k, e.fingerprint) for e in new for k in e.keys])
    if first_run:
        store.feed_mark(feed_url, [FIRST_POLL_MARKER])
    seen_before = [e for e in entries if known.keys() & set(e.keys)]
    edited = _edits(store, feed_url, seen_before, known, settings, targets, fetch)
    return PollResult(queued=queued, seen_now=len(new), first_run=first_run, edited=edited)


def _edits(
    store: Store,
    feed_url: str,
    entries: list[FeedEntry],
    known: dict[str, str | None],
    settings: Settings,
    targets: Sequence[str] | None,
    fetch: Fetcher,
) -> list[str]:
    """Hand every seen entry whose fingerprint changed to :func:`bot.lifecycle.apply_edit`; returns their
    article keys. The new fingerprint is recorded once the edit is handed over (a failure before that
    is tried again at the next poll), and recorded without an edit where none was kept yet."""
    from bot.lifecycle import apply_edit

    claimed: set[str] = set()
    changed: list[FeedEntry] = []
    for entry in entries:
        if claimed.intersection(entry.keys):
            continue  # one article twice in the feed: the first occurrence decides, as for new entries
        claimed.update(entry.keys)
        recorded = {known[k] for k in entry.keys if known.get(k)}
        if entry.fingerprint in recorded:
            if len(recorded) > 1 or any(k not in known or not known[k] for k in entry.keys):
                store.feed_mark(feed_url, list(entry.keys), fingerprint=entry.fingerprint)  # keys agree again
            continue
        if not recorded:  # marked before fingerprints were kept: this is the content now, not an edit
            store.feed_mark(feed_url, list(entry.keys), fingerprint=entry.fingerprint)
            continue
        changed.append(entry)
    edited: list[str] = []
    for entry in _with_wordpress_tags(changed, settings, store, fetch):
        article = entry.article
        try:
            check_publishable(article)
        except InputError as exc:  # e.g. its link is gone: not an edit to spread; recorded, said once
            log.warning("changed feed entry not applied",
                        extra={"feed": feed_url, "title": article.title, "reason": str(exc)})
        else:
            job = store.job_by_dedupe_key(article.key)
            apply_edit(store, settings, article, job, targets=list(targets or ()))
            log.info("feed entry changed", extra={"feed": feed_url, "article": article.key, "url": article.url})
            edited.append(article.key)
        store.feed_mark(feed_url, list(entry.keys), fingerprint=entry.fingerprint)
    return edited


def _news(entries: list[FeedEntry], settings: Settings, feed_url: str) -> list[FeedEntry]:
    """Leave out WordPress's sample post and entries older than ``settings.feed_max_age_days``."""
    oldest = None
    if settings.feed_max_age_days:
        oldest = datetime.now(UTC).timestamp() - settings.feed_max_age_days * 86400
    kept: list[FeedEntry] = []
    for entry in entries:
        if is_wordpress_sample(entry.article):
            reason = "WordPress's sample post"
        elif oldest is not None and entry.published is not None and entry.published < oldest:
            reason = f"older than feed_max_age_days = {settings.feed_max_age_days:g}"
        else:
            kept.append(entry)
            continue
        log.info("feed entry not queued", extra={"feed": feed_url, "title": entry.article.title, "reason": reason})
    return kept


def _with_wordpress_tags(entries: list[FeedEntry], settings: Settings, store: Store, fetch: Fetcher) -> list[FeedEntry]:
    """WordPress feeds list categories and tags alike as ``<category>``: the site's category names
    (its REST API, cached in the store) tell them apart. Unknown categories: no tags, one warning."""
    from dataclasses import replace

    from bot.load.wordpress import wordpress_categories

    if settings.feed_categories_as_tags:
        return entries
    done: list[FeedEntry] = []
    for entry in entries:
        site = entry.article.extra.get("wordpress_site")
        names = entry.article.extra.get("categories") or []
        if site and names:
            try:
                categories = wordpress_categories(str(site), fetch=fetch, cache=store, timeout=settings.timeout,
                                                  allow_private=settings.allow_private_network)
            except InputError as exc:
                log.warning("feed entry tags left out", extra={"url": entry.article.url, "error": str(exc)})
            else:
                tags = tuple(n for n in names if n.casefold() not in categories)
                entry = replace(entry, article=replace(entry.article, tags=tags))
        done.append(entry)
    return done


def _warn_reused_ids(feed_url: str, entries: Sequence[FeedEntry]) -> None:
    """One warning per id that two entries with different links share: only the first of them is queued,
    which is what the feed's author most likely did not mean (a template that gives every entry one id)."""
    links: dict[str, list[str]] = {}
    for entry in entries:
        if entry.article.source_id and entry.article.url:
            links.setdefault(entry.article.source_id, []).append(entry.article.url)
    for entry_id, urls in links.items():
        distinct = list(dict.fromkeys(urls))
        if len(distinct) > 1:
            log.warning(
                "feed entries share an id but differ in link; only the first is queued",
                extra={"feed": feed_url, "id": entry_id, "links": " ".join(distinct)},
            )


def watch_loop(
    store: Store,
    feed_url: str,
    every_seconds: float,
    stop_event: threading.Event,
    *,
    settings: Settings,
    targets: Sequence[str] | None = None,
    backfill: int = 0,
    delay_seconds: float = 0.0,
    fetch: Fetcher = bot.fetch.fetch,
    on_poll: Callable[[PollResult], None] | None = None,
) -> None:
    """Poll ``feed_url`` every ``every_seconds`` until ``stop_event`` is set (checked between polls and
    while waiting, so a stop takes effect at once unless a fetch is in flight).

    A failed poll (feed unreachable or malformed, database down) is logged and tried again next
    round; a configuration error (no target platform) is raised at once, before the first poll.
    ``backfill`` only matters for the feed's first poll. ``on_poll`` sees every successful result.
    """
    if every_seconds <= 0:
        raise ValueError("every_seconds must be > 0")
    queue_targets(settings, targets)
    while not stop_event.is_set():
        try:
            outcome = poll_feed(
                store,
                feed_url,
                settings=settings,
                targets=targets,
                backfill=backfill,
                delay_seconds=delay_seconds,
                fetch=fetch,
            )
        except CrosspostError as exc:
            log.warning("feed poll failed", extra={"feed": feed_url, "error": str(exc)})
        except Exception:  # a parser bug must not end the watch; the next poll may succeed
            log.exception("feed poll crashed", extra={"feed": feed_url})
        else:
            if outcome.queued or outcome.first_run or outcome.edited:
                log.info(
                    "feed polled",
                    extra={"feed": feed_url, "queued": len(outcome.queued), "new": outcome.seen_now,
                           "edited": len(outcome.edited)},
                )
            if on_poll is not None:
                on_poll(outcome)
        stop_event.wait(every_seconds)
