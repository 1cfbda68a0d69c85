"""The guarded fetcher and URL loading, against HTTP servers on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.errors import InputError
from bot.fetch import ALLOW_PRIVATE_ENV, MAX_REDIRECTS, FetchRefused, address_refusal, fetch
from bot.load import MAX_ARTICLE_BYTES, load_article

PAGE = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Fetched page | Local</title><meta property="og:title" content="Fetched page">
<meta property="og:description" content="Served from 127.0.0.1."></head>
<body><nav>Home</nav><article><p>The text of the fetched page.</p></article></body></html>"""
CANONICAL_PAGE = PAGE.replace(b"<title>", b'<link rel="canonical" href="/canonical/"><title>')


@dataclass
class Server:
    """A local HTTP server with canned routes; ``requests`` lists the paths it was asked for."""

    port: int
    requests: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


Route = Callable[[BaseHTTPRequestHandler, Server], None]


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, length: bool = True) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading (size cap)
        handler.wfile.write(body)


def _redirect(status: int, location: Callable[[Server], str]) -> Route:
    def route(handler: BaseHTTPRequestHandler, server: Server) -> None:
        handler.send_response(status)
        handler.send_header("Location", location(server))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def _drip(handler: BaseHTTPRequestHandler, server: Server) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    try:
        for _ in range(100):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass


ROUTES: dict[str, Route] = {
    "/article.html": lambda h, s: _send(h, 200, PAGE, "text/html; charset=utf-8"),
    "/canonical.html": lambda h, s: _send(h, 200, CANONICAL_PAGE, "text/html"),
    "/post.json": lambda h, s: _send(
        h, 200, b'{"title": "JSON post", "url": "https://x.example/j"}', "application/json"
    ),
    "/post.md": lambda h, s: _send(h, 200, b"---\ntitle: Markdown post\n---\nBody.\n", "text/plain; charset=utf-8"),
    "/image.png": lambda h, s: _send(h, 200, b"\x89PNG\r\n\x1a\n", "image/png"),
    "/r1": _redirect(302, lambda s: "/r2"),
    "/r2": _redirect(301, lambda s: s.url("/r3")),
    "/r3": _redirect(307, lambda s: "article.html"),
    "/loop": _redirect(302, lambda s: "/loop"),
    "/missing": lambda h, s: _send(h, 404, b"not here", "text/plain"),
    "/declared-big": lambda h, s: _send(h, 200, b"a" * 5000, "text/plain"),
    "/streamed-big": lambda h, s: _send(h, 200, b"a" * 5000, "text/plain", length=False),
    "/exactly-cap": lambda h, s: _send(h, 200, b"a" * 1000, "text/plain", length=False),
    "/huge-article": lambda h, s: _send(h, 200, b"word " * (MAX_ARTICLE_BYTES // 5 + 10), "text/plain", length=False),
    "/to-internal": _redirect(302, lambda s: s.url("/secret", host="internal.test")),
    "/to-localhost": _redirect(302, lambda s: s.url("/secret", host="localhost")),
    "/secret": lambda h, s: _send(h, 200, b"internal data", "text/plain"),
    "/echo": lambda h, s: _send(h, 200, json.dumps(s.headers.get("/echo", {})).encode(), "application/json"),
    "/drip": _drip,
}


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            state.headers[self.path] = {k.lower(): v for k, v in self.headers.items()}
            ROUTES.get(self.path, lambda h, s: _send(h, 404, b"", "text/plain"))(self, state)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def _fetch(url: str, **kwargs: object) -> object:
    options: dict[str, object] = {"max_bytes": 10_000, "timeout": 2.0, "allow_private": True}
    options.update(kwargs)
    return fetch(url, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- plain fetching


def test_fetch_follows_a_redirect_chain(server: Server) -> None:
    """302 -> 301 (absolute) -> 307 (relative) -> 200; the final URL and content type come back."""
    result = fetch(server.url("/r1"), max_bytes=10_000, allow_private=True)
    assert result.url_final == server.url("/article.html")
    assert result.status == 200
    assert result.content_type == "text/html; charset=utf-8"
    assert result.body == PAGE
    assert server.requests == ["/r1", "/r2", "/r3", "/article.html"]


def test_fetch_sends_identifying_headers(server: Server) -> None:
    """The request carries Host, a crosspost User-Agent, the Accept asked for, and no compression."""
    fetch(server.url("/echo"), max_bytes=10_000, allow_private=True, accept="text/html")
    headers = server.headers["/echo"]
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["user-agent"].startswith("crosspost/")
    assert headers["accept"] == "text/html"
    assert headers["accept-encoding"] == "identity"


def test_too_many_redirects(server: Server) -> None:
    """A redirect loop stops after MAX_REDIRECTS hops."""
    with pytest.raises(InputError, match=rf"more than {MAX_REDIRECTS} redirects"):
        _fetch(server.url("/loop"))
    assert len(server.requests) == MAX_REDIRECTS + 1


def test_http_error_status(server: Server) -> None:
    """A 404 is an InputError with the URL, the status and the reason."""
    with pytest.raises(InputError) as caught:
        _fetch(server.url("/missing"))
    assert str(caught.value) == f"{server.url('/missing')}: HTTP 404 Not Found"


def test_size_cap_from_content_length(server: Server) -> None:
    """A declared Content-Length over the cap is refused before reading the body."""
    with pytest.raises(InputError, match=r"response is 5,000 bytes, over the 1,000-byte limit"):
        _fetch(server.url("/declared-big"), max_bytes=1000)


def test_size_cap_while_streaming(server: Server) -> None:
    """A body without Content-Length is cut off as soon as it passes the cap; the cap itself is fine."""
    with pytest.raises(InputError, match=r"response is over the 1,000-byte limit"):
        _fetch(server.url("/streamed-big"), max_bytes=1000)
    assert len(_fetch(server.url("/exactly-cap"), max_bytes=1000).body) == 1000  # type: ignore[attr-defined]


def test_silent_server_times_out(silent_port: int) -> None:
    """A server that accepts and never answers gives a timeout error in about the timeout."""
    started = time.monotonic()
    with pytest.raises(InputError, match=r"timed out after 0\.5 s$"):
        _fetch(f"http://127.0.0.1:{silent_port}/", timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_dripping_server_hits_the_deadline(server: Server) -> None:
    """A body trickling in a byte at a time is stopped by the overall deadline (3 x timeout)."""
    started = time.monotonic()
    with pytest.raises(InputError, match=r"download took longer than 0\.9 s"):
        _fetch(server.url("/drip"), timeout=0.3)
    assert time.monotonic() - started < 2.0


def test_connection_refused() -> None:
    """A closed port is 'connection refused'."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(InputError, match=r": connection refused$"):
        _fetch(f"http://127.0.0.1:{port}/")


def test_https_to_a_plain_http_server_is_a_tls_error(server: Server) -> None:
    """The HTTPS path runs the TLS handshake; a non-TLS server gives a one-line TLS error."""
    with pytest.raises(InputError, match=r"TLS error"):
        _fetch(f"https://127.0.0.1:{server.port}/article.html")


# ---------------------------------------------------------------------------- the guard


def test_loopback_refused_unless_allowed(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 is refused by default, allowed with allow_private=True or the environment variable."""
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(FetchRefused) as caught:
        fetch(server.url("/article.html"), max_bytes=10_000)
    assert "127.0.0.1 is loopback" in str(caught.value)
    assert ALLOW_PRIVATE_ENV in str(caught.value)
    assert server.requests == []
    assert fetch(server.url("/article.html"), max_bytes=10_000, allow_private=True).status == 200
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "true")
    assert fetch(server.url("/article.html"), max_bytes=10_000).status == 200
    with pytest.raises(FetchRefused):
        fetch(server.url("/article.html"), max_bytes=10_000, allow_private=False)


class _FakeDNS:
    """Resolves test names to fixed addresses and connects every checked address to the local server."""

    def __init__(self, port: int, names: dict[str, str]) -> None:
        self.port = port
        self.names = names
        self.connected: list[str] = []

    def resolve(self, host: str, port: int, timeout: float) -> list[str]:
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return [self.names[host]]

    def connect(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.connected.append(ip)
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


def test_redirect_from_public_host_to_private_host_is_refused(server: Server) -> None:
    """Every hop is checked: a public host redirecting to a private address is refused before connecting."""
    dns = _FakeDNS(server.port, {"public.test": "93.184.216.34", "internal.test": "10.0.0.7"})
    with pytest.raises(FetchRefused) as caught:
        fetch(
            server.url("/to-internal", host="public.test"),
            max_bytes=10_000,
            allow_private=False,
            resolve=dns.resolve,
            connect=dns.connect,
        )
    message = str(caught.value)
    assert "refused to fetch internal.test (10.0.0.7 is private)" in message
    assert "redirected from" in message
    assert server.requests == ["/to-internal"]  # /secret was never asked for
    assert dns.connected == ["93.184.216.34"]  # the connection went to the address that was checked


def test_public_host_is_fetched_through_the_checked_address(server: Server) -> None:
    """A public address passes the guard and the Host header keeps the name."""
    dns = _FakeDNS(server.port, {"public.test": "93.184.216.34"})
    result = fetch(
        server.url("/echo", host="public.test"),
        max_bytes=10_000,
        allow_private=False,
        resolve=dns.resolve,
        connect=dns.connect,
    )
    assert json.loads(result.body)["host"] == f"public.test:{server.port}"
    assert dns.connected == ["93.184.216.34"]


def test_redirect_to_localhost_is_refused(server: Server) -> None:
    """A redirect to 'localhost' (real resolver) is refused even though the first hop was allowed."""
    dns = _FakeDNS(server.port, {"public.test": "93.184.216.34"})

    def resolve(host: str, port: int, timeout: float) -> list[str]:
        from bot.fetch import resolve_host

        return dns.resolve(host, port, timeout) if host == "public.test" else resolve_host(host, port, timeout)

    with pytest.raises(FetchRefused, match=r"refused to fetch localhost \((127\.0\.0\.1|::1) is loopback\)"):
        fetch(
            server.url("/to-localhost", host="public.test"),
            max_bytes=10_000,
            allow_private=False,
            resolve=resolve,
            connect=dns.connect,
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://localhost/",
    ],
)
def test_private_addresses_refused_in_any_spelling(url: str) -> None:
    """IPv4-mapped IPv6, cloud metadata, private, unspecified, decimal and named loopback are refused."""
    with pytest.raises(FetchRefused):
        fetch(url, max_bytes=100, allow_private=False)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file:///etc/passwd", "only http and https URLs can be fetched"),
        ("ftp://example.com/x", "only http and https URLs can be fetched"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http:///path-only", "no host name"),
    ],
)
def test_unfetchable_urls(url: str, fragment: str) -> None:
    """Other schemes, credentials in the URL and host-less URLs are refused without any lookup."""
    with pytest.raises(FetchRefused, match=fragment):
        fetch(url, max_bytes=100, resolve=lambda *a: pytest.fail("must not resolve"))


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not globally routable"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private (inside ::ffff:a00:1)"),
        ("64:ff9b::7f00:1", "loopback (inside 64:ff9b::7f00:1)"),
        ("2002:a00:1::1", "private (inside 2002:a00:1::1)"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_address_refusal_table(ip: str, reason: str | None) -> None:
    """The guard's verdict for each kind of address, IPv4 and IPv6."""
    assert address_refusal(ip) == reason


# ---------------------------------------------------------------------------- loading URLs


def test_load_html_url_without_canonical_uses_the_final_url(server: Server) -> None:
    """An HTML page with no canonical gets the URL after redirects as its url."""
    article = load_article(server.url("/r1"), allow_private=True)
    assert article.title == "Fetched page"
    assert article.summary == "Served from 127.0.0.1."
    assert article.body == "The text of the fetched page."
    assert article.url == server.url("/article.html")
    assert article.lang == "en"


def test_load_html_url_keeps_its_canonical(server: Server) -> None:
    """A relative canonical link is resolved against the final URL and wins."""
    assert load_article(server.url("/canonical.html"), allow_private=True).url == server.url("/canonical/")


def test_load_json_and_markdown_urls(server: Server) -> None:
    """Content-Type picks JSON; text/plain with a .md path is Markdown."""
    assert load_article(server.url("/post.json"), allow_private=True).title == "JSON post"
    markdown = load_article(server.url("/post.md"), allow_private=True)
    assert markdown.title == "Markdown post"
    assert markdown.url is None  # the raw file's address is not the article's canonical URL


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/image.png", "Content-Type image/png is not an article"),
        ("/huge-article", f"response is over the {MAX_ARTICLE_BYTES:,}-byte limit"),
    ],
)
def test_load_url_errors(server: Server, path: str, fragment: str) -> None:
    """404, a non-article type and a body over 5 MB are one-line InputErrors naming the URL."""
    with pytest.raises(InputError) as caught:
        load_article(server.url(path), allow_private=True)
    assert str(caught.value).startswith(server.url(path))
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_url_refused_by_the_guard(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a 127.0.0.1 URL without permission is refused with the way out."""
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(FetchRefused, match=ALLOW_PRIVATE_ENV):
        load_article(server.url("/article.html"))
    assert server.requests == []
