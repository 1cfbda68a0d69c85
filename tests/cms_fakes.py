"""A site on 127.0.0.1 for the catch-up tests: an RSS feed, Ghost's Content API, the WordPress REST API.

It answers like the real ones for what crosspost asks (Ghost's ``published_at:>'…'`` filter, WordPress's
``after``), so a wrong cursor or window in crosspost shows up as a missing or extra post.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

GHOST_KEY = "0123456789abcdef0123456789"


@dataclass
class Post:
    slug: str
    title: str
    published: datetime
    text: str = "A paragraph long enough to be the summary of this post."
    lang: str | None = None


@dataclass
class Site:
    base: str = ""
    posts: list[Post] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def url(self, post: Post) -> str:
        return f"{self.base}/{post.slug}/"

    def ghost_post(self, post: Post) -> dict[str, Any]:
        return {
            "id": hashlib.sha1(post.slug.encode()).hexdigest()[:24], "uuid": f"uuid-{post.slug}", "slug": post.slug,
            "title": post.title, "url": self.url(post), "canonical_url": None, "custom_excerpt": None,
            "excerpt": post.text[:60], "plaintext": post.text, "feature_image": None,
            "published_at": post.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "tags": [{"name": "Catch Up", "slug": "catch-up", "visibility": "public"}],
        }

    def webhook_body(self, post: Post) -> bytes:
        current = {**self.ghost_post(post), "status": "published"}
        return json.dumps({"event": "post.published", "post": {"current": current, "previous": {}}}).encode()

    def rss(self) -> bytes:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{self.url(p)}</link><guid isPermaLink=\"false\">"
            f"ghost-{p.slug}</guid><description>{escape(p.text)}</description>"
            f"<pubDate>{format_datetime(p.published.astimezone(UTC), usegmt=True)}</pubDate></item>"
            for p in sorted(self.posts, key=lambda p: p.published, reverse=True)
        )
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title><link>{self.base}/</link>'
                f"<description>d</description>{items}</channel></rss>").encode()

    def ghost_api(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if query.get("key") != [GHOST_KEY]:
            return 401, b'{"errors": [{"message": "Unknown Content API Key"}]}'
        since = None
        for part in query.get("filter", []):
            if part.startswith("published_at:>'") and part.endswith("'"):
                since = datetime.strptime(part[15:-1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        found = sorted((p for p in self.posts if since is None or p.published > since), key=lambda p: p.published)
        body = {"posts": [self.ghost_post(p) for p in found],
                "meta": {"pagination": {"page": 1, "limit": 50, "pages": 1, "total": len(found), "next": None}}}
        return 200, json.dumps(body).encode()

    def wordpress_api(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        after = datetime.fromisoformat(query["after"][0]).replace(tzinfo=UTC) if "after" in query else None
        found = sorted((p for p in self.posts if after is None or p.published > after), key=lambda p: p.published)
        posts = [{
            "id": i + 1, "link": self.url(p), "status": "publish", "slug": p.slug,
            "date_gmt": p.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "title": {"rendered": p.title}, "excerpt": {"rendered": f"<p>{escape(p.text)}</p>"},
            "content": {"rendered": f"<p>{escape(p.text)}</p>"},
            "_embedded": {"wp:term": [[{"taxonomy": "post_tag", "name": "Catch Up"}]]},
        } for i, p in enumerate(found)]
        return 200, json.dumps(posts).encode()


@contextmanager
def serve_site(site: Site) -> Iterator[Site]:
    """Serve ``site`` on a free port of 127.0.0.1 (its ``base`` is set) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            site.requests.append(self.path)
            if parts.path == "/rss/":
                status, body, kind = 200, site.rss(), "application/rss+xml"
            elif parts.path == "/ghost/api/content/posts/":
                status, body = site.ghost_api(query)
                kind = "application/json"
            elif parts.path == "/wp-json/wp/v2/posts":
                status, body = site.wordpress_api(query)
                kind = "application/json"
            else:
                status, body, kind = 404, b"{}", "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
