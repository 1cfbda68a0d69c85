"""Feed watching: RSS and Atom served by http.server on 127.0.0.1, a SQLite store in tmp_path."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from bot.article import Article
from bot.config import Settings
from bot.errors import ConfigError, InputError
from bot.feeds import PollResult, parse_feed, poll_feed, watch_loop
from bot.fetch import FetchRefused
from bot.sandbox import Sandbox
from bot.store import Store, connect

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
SETTINGS = Settings(allow_private_network=True, timeout=5, feed_categories_as_tags=True)


@dataclass
class Item:
    guid: str | None
    link: str | None
    title: str
    day: int  # published T0 + day days
    summary: str = "<p>Some <b>bold</b> text &amp; more.</p>"
    tags: tuple[str, ...] = ()
    image: str | None = None


def rss(items: list[Item]) -> bytes:
    parts = []
    for it in items:
        xml = [f"<title>{escape(it.title)}</title>"]
        if it.link:
            xml.append(f"<link>{escape(it.link)}</link>")
        if it.guid:
            xml.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        xml.append(f"<pubDate>{format_datetime(T0 + timedelta(days=it.day))}</pubDate>")
        xml.append(f"<description>{escape(it.summary)}</description>")
        xml.extend(f"<category>{escape(t)}</category>" for t in it.tags)
        if it.image:
            xml.append(f'<media:content url="{escape(it.image)}" medium="image" type="image/jpeg"/>')
        parts.append("<item>" + "".join(xml) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        "<title>Cloud Ledger</title><link>https://blog.example.com/</link><language>en-gb</language>"
        "<description>news</description>" + "".join(parts) + "</channel></rss>"
    ).encode()


def atom(items: list[Item]) -> bytes:
    parts = []
    for it in items:
        stamp = (T0 + timedelta(days=it.day)).isoformat().replace("+00:00", "Z")
        xml = [f'<title type="html">{escape(escape(it.title))}</title>', f"<updated>{stamp}</updated>"]
        xml.append(f"<published>{stamp}</published>")
        if it.guid:
            xml.append(f"<id>{escape(it.guid)}</id>")
        if it.link:
            xml.append(f'<link rel="alternate" href="{escape(it.link)}"/>')
        if it.image:
            xml.append(f'<link rel="enclosure" type="image/png" href="{escape(it.image)}"/>')
        xml.append(f'<summary type="html">{escape(it.summary)}</summary>')
        xml.extend(f'<category term="{escape(t)}"/>' for t in it.tags)
        parts.append("<entry>" + "".join(xml) + "</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Cloud Ledger</title><id>urn:feed:1</id><updated>2026-04-01T00:00:00Z</updated>"
        + "".join(parts)
        + "</feed>"
    ).encode()


@dataclass
class FeedServer:
    """A feed on 127.0.0.1 whose document and status the test changes between polls."""

    body: bytes = b""
    content_type: str = "application/rss+xml"
    status: int = 200
    hits: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = connect(f"sqlite:///{tmp_path / 'feeds.sqlite3'}")
    yield s
    s.close()


def three() -> list[Item]:
    """Three entries, newest first as feeds list them."""
    return [
        Item("g3", "https://blog.example.com/three/", "Three", 3, tags=("Cloud", "AI")),
        Item("g2", "https://blog.example.com/two/", "Two", 2),
        Item("g1", "https://blog.example.com/one/", "One", 1),
    ]


def poll(store: Store, feed: FeedServer, **kw: Any) -> PollResult:
    return poll_feed(store, feed.url, settings=SETTINGS, targets=["mastodon"], **kw)


def titles(store: Store) -> list[str]:
    return [j.article["title"] for j in sorted(store.list_jobs(include_finished=True), key=lambda j: j.id)]


@pytest.mark.parametrize("render", [rss, atom], ids=["rss", "atom"])
def test_first_run_queues_nothing_then_new_entry_once(feed: FeedServer, store: Store, render: Any) -> None:
    """The first poll only marks the back catalogue; a new entry is queued once; no change queues nothing."""
    items = three()
    feed.body = render(items)
    first = poll(store, feed)
    assert first.first_run and first.queued == [] and first.seen_now == 3
    assert titles(store) == []
    items.insert(0, Item("g4", "https://blog.example.com/four/", "Four", 4, tags=("News",)))
    feed.body = render(items)
    second = poll(store, feed)
    assert not second.first_run and len(second.queued) == 1 and second.seen_now == 1
    job = store.get_job(second.queued[0])
    assert job is not None and job.targets == ["mastodon"]
    assert job.article["title"] == "Four" and job.article["url"] == "https://blog.example.com/four/"
    assert job.article["tags"] == ["News"]
    assert job.dedupe_key == job.article_key == Article(url="https://blog.example.com/four/").key
    third = poll(store, feed)
    assert third.queued == [] and third.seen_now == 0
    assert titles(store) == ["Four"]


@pytest.mark.parametrize("render", [rss, atom], ids=["rss", "atom"])
def test_backfill_queues_the_newest_oldest_first(feed: FeedServer, store: Store, render: Any) -> None:
    """backfill=2 on the first poll queues the two newest entries, the older one first."""
    items = three()
    items.reverse()  # a feed in oldest-first order: dates, not positions, decide what is newest
    feed.body = render(items)
    result = poll(store, feed, backfill=2)
    assert result.first_run and len(result.queued) == 2
    assert titles(store) == ["Two", "Three"]
    assert poll(store, feed, backfill=2).queued == []  # backfill only applies to the first poll


def test_edited_entry_is_not_queued_again(feed: FeedServer, store: Store) -> None:
    """Same guid with a new title (and even a new link) is the same entry: not queued again."""
    items = three()
    feed.body = rss(items)
    poll(store, feed)
    items.insert(0, Item("g4", "https://blog.example.com/four/", "Four", 4))
    feed.body = rss(items)
    assert len(poll(store, feed).queued) == 1
    items[0] = Item("g4", "https://blog.example.com/four-renamed/", "Four (corrected)", 4)
    feed.body = rss(items)
    assert poll(store, feed).queued == []
    assert titles(store) == ["Four"]


def test_entry_with_new_id_but_same_link_is_not_queued_again(feed: FeedServer, store: Store) -> None:
    """A feed that re-keys an entry (new guid, same link) does not make it new."""
    items = three()
    feed.body = rss(items)
    poll(store, feed)
    items[0] = Item("https://blog.example.com/?p=3", "https://blog.example.com/three/", "Three", 3)
    feed.body = rss(items)
    result = poll(store, feed)
    assert result.queued == [] and result.seen_now == 0
    assert titles(store) == []


def test_entries_sharing_an_id_with_different_links_are_warned_about(feed: FeedServer, store: Store) -> None:
    """Two entries with one guid and two links: the first is queued, and one warning line names the id."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("crosspost.feeds")
    logger.addHandler(handler)
    try:
        feed.body = rss(three())
        poll(store, feed)
        feed.body = rss([Item("same", "https://blog.example.com/a/", "A", 5),
                         Item("same", "https://blog.example.com/b/", "B", 4), *three()])
        result = poll(store, feed)
    finally:
        logger.removeHandler(handler)
    assert titles(store) == ["A"] and len(result.queued) == 1
    warned = [r for r in records if "share an id" in r.getMessage()]
    assert len(warned) == 1 and warned[0].__dict__["id"] == "same"
    assert warned[0].__dict__["links"] == "https://blog.example.com/a/ https://blog.example.com/b/"


def test_feed_whose_entries_all_changed_still_queues(feed: FeedServer, store: Store) -> None:
    """After the first poll, a document with only unseen entries is news, not another first run."""
    feed.body = rss(three())
    poll(store, feed)
    feed.body = rss([Item("g9", "https://blog.example.com/nine/", "Nine", 9)])
    result = poll(store, feed)
    assert not result.first_run and len(result.queued) == 1


def test_article_fields_from_rss_and_atom(feed: FeedServer) -> None:
    """Title, link (relative ones joined), summary as text, tags, image, date, id and lang of an entry."""
    item = Item(
        "g1",
        "https://blog.example.com/one/",
        "AT&T <meets> OpenAI",
        1,
        tags=("Cloud", "#AI", "cloud"),
        image="https://blog.example.com/img/one.jpg",
    )
    for render in (rss, atom):
        (plain,) = parse_feed(render([item]), feed_url="https://blog.example.com/feed.xml")
        assert plain.article.tags == () and plain.article.extra["categories"] == ["Cloud", "AI"]
        (entry,) = parse_feed(render([item]), feed_url="https://blog.example.com/feed.xml", categories_as_tags=True)
        article = entry.article
        assert article.title == "AT&T <meets> OpenAI"
        assert article.url == "https://blog.example.com/one/"
        assert article.summary == "Some bold text & more."
        assert article.tags == ("Cloud", "AI")
        assert article.image == "https://blog.example.com/img/one.jpg"
        assert article.published_at == (T0 + timedelta(days=1)).isoformat()
        assert article.source_id == "g1"
        assert set(entry.keys) == {"id:g1", "link:https://blog.example.com/one/"}
    relative = Item("g7", "/seven/", "Seven", 7, image="img/seven.png")
    for render in (rss, atom):
        (entry,) = parse_feed(render([relative]), feed_url="https://blog.example.com/feed.xml")
        assert entry.article.url == "https://blog.example.com/seven/"
        assert entry.article.image == "https://blog.example.com/img/seven.png"
    (rss_entry,) = parse_feed(rss([item]), feed_url="https://blog.example.com/feed.xml")
    assert rss_entry.article.lang == "en-gb" or rss_entry.article.lang == "en-GB"


def test_entry_without_link_is_not_queued(feed: FeedServer, store: Store) -> None:
    """An entry without a link cannot be posted: it is marked seen, not queued, and not retried."""
    feed.body = rss(three())
    poll(store, feed)
    feed.body = rss([Item("g5", None, "No link", 5), *three()])
    first = poll(store, feed)
    assert first.queued == [] and first.seen_now == 1
    assert poll(store, feed).seen_now == 0


def test_article_already_queued_by_webhook_is_not_queued_again(feed: FeedServer, store: Store) -> None:
    """An article the webhook already queued (same canonical URL) gets no second job from the feed."""
    feed.body = rss(three())
    poll(store, feed)
    url = "https://blog.example.com/four/"
    store.enqueue(
        article=Article(title="Four", url=url).to_dict(),
        article_key=Article(url=url).key,
        targets=["x"],
        run_at=T0,
        dedupe_key=Article(url=url).key,
    )
    feed.body = rss([Item("g4", url, "Four", 4), *three()])
    result = poll(store, feed)
    assert result.queued == [] and result.seen_now == 1
    assert len(store.list_jobs(include_finished=True)) == 1


def test_fetch_goes_through_the_guard(feed: FeedServer, store: Store) -> None:
    """Without allow_private_network the guarded fetcher refuses the feed on 127.0.0.1."""
    feed.body = rss(three())
    with pytest.raises(FetchRefused, match="loopback"):
        poll_feed(store, feed.url, settings=Settings(), targets=["x"])
    assert feed.hits == []


def test_not_a_feed_and_too_big_are_input_errors(feed: FeedServer, store: Store) -> None:
    """An HTML page is not a feed; a document over 5 MiB is refused; neither marks the feed polled."""
    feed.body, feed.content_type = b"<html><body><p>hello</p></body></html>", "text/html"
    with pytest.raises(InputError, match="not an RSS or Atom feed"):
        poll(store, feed)
    feed.body, feed.content_type = rss(three()) + b" " * (5 * 1024 * 1024), "application/rss+xml"
    with pytest.raises(InputError, match="limit"):
        poll(store, feed)
    feed.body = rss(three())
    assert poll(store, feed).first_run


def test_no_targets_is_a_config_error(feed: FeedServer, store: Store) -> None:
    """Without explicit targets and without credentials, polling refuses rather than queue jobs for nobody."""
    feed.body = rss(three())
    with pytest.raises(ConfigError, match="no platform"):
        poll_feed(store, feed.url, settings=SETTINGS)


def test_watch_loop_polls_until_stopped_and_survives_failures(feed: FeedServer, store: Store) -> None:
    """watch_loop keeps polling through a failing feed, queues the new entry, and stops when told."""
    feed.body = rss(three())
    results: list[PollResult] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_loop,
        args=(store, feed.url, 0.05, stop),
        kwargs={"settings": SETTINGS, "targets": ["x"], "on_poll": results.append},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not results and time.monotonic() < deadline:
        time.sleep(0.01)
    assert results and results[0].first_run
    feed.status = 500
    hits = len(feed.hits)
    while len(feed.hits) < hits + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    feed.status = 200
    feed.body = rss([Item("g4", "https://blog.example.com/four/", "Four", 4), *three()])
    while not any(r.queued for r in results) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert titles(store) == ["Four"]
    assert sum(len(r.queued) for r in results) == 1



# --- a changed entry is an edit: polled, published through the real SDKs to the sandbox, then changed ----


PLATFORMS = ("x", "bluesky", "mastodon")
NEW_SUMMARY = "<p>A corrected summary after a reader spotted the typo.</p>"
FOUR = "https://blog.example.com/four/"


def edit_rig(sandbox: Sandbox, tmp_path: Path, toml: str = "") -> tuple[Settings, Store]:
    from tests.test_lifecycle import make_settings

    settings = make_settings(sandbox, tmp_path, "feed_max_age_days = 0\n" + toml)  # the items are of April
    return settings, connect(settings.database_url)


def drain(settings: Settings, store: Store) -> None:
    from bot.publish import Publisher
    from bot.worker import Worker

    worker = Worker(settings, store, poll_interval=0.05)
    worker.publisher = Publisher(settings, store, sleep=worker._sleep, backoff=0.01)
    worker.run(once=True)


def poll_all(store: Store, feed: FeedServer, settings: Settings) -> PollResult:
    return poll_feed(store, feed.url, settings=settings, targets=list(PLATFORMS))


def queue_four(feed: FeedServer, settings: Settings, store: Store) -> list[Item]:
    """The back catalogue, then a new entry "Four", queued by the next poll."""
    items = three()
    feed.body = rss(items)
    poll_all(store, feed, settings)
    items.insert(0, Item("g4", FOUR, "Four", 4))
    feed.body = rss(items)
    assert len(poll_all(store, feed, settings).queued) == 1
    return items


def test_changed_entry_updates_mastodon_in_place(feed: FeedServer, sandbox: Sandbox, tmp_path: Path) -> None:
    """on_edit = "update": the entry's summary changes → the Mastodon status is edited (two versions in its
    history); X and Bluesky cannot edit (not_editable) and keep their post; an unchanged poll does nothing."""
    from mastodon import Mastodon

    from bot.lifecycle import NOT_EDITABLE, UNCHANGED, Lifecycle
    from bot.publish import Publisher

    settings, store = edit_rig(sandbox, tmp_path, 'on_edit = "update"\n')
    items = queue_four(feed, settings, store)
    drain(settings, store)
    assert all(len(sandbox.app.posts(p)) == 1 for p in PLATFORMS)
    before = len(sandbox.app.requests)
    same = poll_all(store, feed, settings)
    assert same.edited == [] and same.queued == []
    drain(settings, store)
    assert len(sandbox.app.requests) == before  # an unchanged entry: no job, no request

    items[0].summary = NEW_SUMMARY
    feed.body = rss(items)
    changed = poll_all(store, feed, settings)
    assert changed.edited == [Article(url=FOUR).key] and changed.queued == []
    assert poll_all(store, feed, settings).edited == []  # the new content is recorded: one edit, once
    drain(settings, store)
    [status] = sandbox.app.posts("mastodon")
    assert "A corrected summary" in status["text"]
    api = Mastodon(api_base_url=sandbox.url, access_token=sandbox.env()["MASTODON_ACCESS_TOKEN"])
    history = api.status_history(status["id"])
    assert len(history) == 2 and "A corrected summary" not in history[0]["content"]
    assert all("A corrected summary" not in sandbox.app.posts(p)[0]["text"] for p in ("x", "bluesky"))
    assert sandbox.app.received("x.tweets.create")[-1:] and len(sandbox.app.posts("x")) == 1
    [update] = [j for j in store.list_jobs(include_finished=True) if j.kind == "update"]
    assert update.state == "done" and "A corrected summary" in update.article["summary"]
    results = Lifecycle(Publisher(settings, store)).update(Article.from_dict(update.article))
    assert {r.platform: r.status for r in results} == {"mastodon": UNCHANGED, "x": NOT_EDITABLE,
                                                       "bluesky": NOT_EDITABLE}
    store.close()


def test_changed_entry_with_on_edit_ignore_changes_nothing(
    feed: FeedServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """on_edit = "ignore" (the default): a changed entry after publishing queues nothing, edits nothing."""
    settings, store = edit_rig(sandbox, tmp_path)
    items = queue_four(feed, settings, store)
    drain(settings, store)
    items[0].summary = NEW_SUMMARY
    feed.body = rss(items)
    assert poll_all(store, feed, settings).edited == [Article(url=FOUR).key]
    drain(settings, store)
    assert [j.kind for j in store.list_jobs(include_finished=True)] == ["publish"]
    assert sandbox.app.received("mastodon.statuses.update") == []
    assert "A corrected summary" not in sandbox.app.posts("mastodon")[0]["text"]
    store.close()


def test_changed_entry_while_queued_posts_the_new_text(feed: FeedServer, sandbox: Sandbox, tmp_path: Path) -> None:
    """The entry changes before the worker ran: the queued job is given the new article, which is posted."""
    settings, store = edit_rig(sandbox, tmp_path)
    items = queue_four(feed, settings, store)
    items[0].summary = NEW_SUMMARY
    items[0].title = "Four, corrected"
    feed.body = rss(items)
    assert poll_all(store, feed, settings).edited == [Article(url=FOUR).key]
    drain(settings, store)
    for platform in PLATFORMS:
        [post] = sandbox.app.posts(platform)
        assert "Four, corrected" in post["text"], platform
    assert len(store.list_jobs(include_finished=True)) == 1
    store.close()


def test_first_poll_after_upgrade_records_fingerprints_without_edits(feed: FeedServer, store: Store) -> None:
    """Marks made before fingerprints were kept (NULL) are not edits: the next poll records the content;
    a change after that is an edit."""
    items = three()
    feed.body = rss(items)
    poll(store, feed)
    with store._transaction(write=True) as tx:  # as version 2 of the schema left them
        tx.run("UPDATE feed_seen SET fingerprint = NULL")
    items[0].summary = NEW_SUMMARY
    feed.body = rss(items)
    assert poll(store, feed).edited == []
    assert set(store.feed_fingerprints(feed.url, ["id:g3", "link:https://blog.example.com/three/"]).values()) \
        - {None}
    assert poll(store, feed).edited == []
    items[0].title = "Three, retitled"
    feed.body = rss(items)
    assert poll(store, feed).edited == [Article(url="https://blog.example.com/three/").key]
    assert titles(store) == []  # never queued (back catalogue), and an edit of it queues nothing
