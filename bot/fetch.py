"""A guarded HTTP GET for anything crosspost fetches: article URLs, link-card images, webhook lookups.

Why not ``urllib.request.urlopen``: it follows redirects on its own, resolves the host once more when it
connects (so a DNS answer can change between our check and the connection), and honours proxy variables
that would bypass the check. This module drives :mod:`http.client` itself instead:

* every hop (the first URL and each redirect, at most ``MAX_REDIRECTS``) is checked: scheme http/https,
  no credentials in the URL, and every address the host resolves to must be public (not loopback,
  private, link-local, multicast, reserved, unspecified, shared/CGNAT; IPv4-mapped, NAT64, 6to4 and
  Teredo IPv6 addresses are judged by the IPv4 address inside them) unless private networks are allowed;
* the connection goes to the address that was checked (the host name is still used for ``Host`` and for
  TLS certificate verification), so DNS rebinding cannot slip a private address in;
* ``timeout`` bounds the name lookup, the connect and every read; the whole fetch also has a deadline of
  ``3 * timeout`` so a server dripping one byte at a time cannot hold us;
* the size cap is checked against ``Content-Length`` and again while reading, so at most
  ``max_bytes + 1`` bytes are ever read.

Errors are :class:`bot.errors.InputError` (one line, starting with the URL); their subclass says what
a caller may do about it, so nobody has to read the message: :class:`FetchRefused` (the guard refused a
hop), :class:`FetchTooLarge` (over the size cap) and :class:`FetchUnavailable` (the host was slow,
unreachable or failing: a later try may succeed). A plain ``InputError`` is lasting (4xx, bad redirect,
TLS failure). Tests inject ``resolve`` and ``connect`` to point public-looking
names at a server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bot import __version__
from bot.errors import InputError

MAX_REDIRECTS = 5
ALLOW_PRIVATE_ENV = "CROSSPOST_ALLOW_PRIVATE_NETWORK"
USER_AGENT = f"crosspost/{__version__} (+https://github.com/crosspost/crosspost)"
_READ_CHUNK = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Resolver = Callable[[str, int, float], Sequence[str]]
"""``(host, port, timeout) -> IP address strings``; raises ``OSError`` when the name does not resolve."""

Connector = Callable[[str, int, float], socket.socket]
"""``(ip, port, timeout) -> connected socket``; the IP is one the guard has already accepted."""


class FetchRefused(InputError):
    """The URL (or a redirect it led to) points somewhere crosspost must not go."""


class FetchTooLarge(InputError):
    """The body is over the caller's ``max_bytes`` (which the error keeps, to say the limit)."""

    def __init__(self, message: str, *, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class FetchUnavailable(InputError):
    """The host timed out, refused or dropped the connection, or answered 5xx: a later try may work."""


@dataclass(frozen=True)
class FetchResult:
    """What a successful fetch returns.

    ``url_final`` is the URL after redirects; ``content_type`` is the raw ``Content-Type`` header
    (parameters such as ``charset`` included) or ``None`` when the server sent none.
    """

    url_final: str
    status: int
    content_type: str | None
    body: bytes


def private_network_allowed(allow_private: bool | None = None) -> bool:
    """Resolve the ``allow_private`` argument: an explicit bool wins, ``None`` reads the environment."""
    if allow_private is not None:
        return allow_private
    value = os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def address_refusal(ip: str) -> str | None:
    """Say why ``ip`` is not a public address (e.g. ``"loopback"``), or ``None`` when it is public."""
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(str(embedded))
            return None if reason is None else f"{reason} (inside {addr})"
    checks = (
        ("unspecified", addr.is_unspecified),
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("private", addr.is_private),
        ("reserved", addr.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if not addr.is_global:
        return "not globally routable"
    return None


def resolve_host(host: str, port: int, timeout: float) -> list[str]:
    """Resolve ``host`` with the system resolver, giving up after ``timeout`` seconds.

    ``getaddrinfo`` has no timeout of its own, so it runs in a daemon thread that we stop waiting for.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    outcome: list[list[str] | BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(list(dict.fromkeys(str(info[4][0]) for info in infos)))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"name lookup timed out after {timeout:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def connect_tcp(ip: str, port: int, timeout: float) -> socket.socket:
    """Open a TCP connection to exactly this address (no second name lookup)."""
    return socket.create_connection((ip, port), timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked IP address, sending the original host name in ``Host``."""

    def __init__(self, host: str, port: int, *, ip: str, connector: Connector, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pinned_ip = ip
        self._pinned_timeout = timeout
        self._connector = connector

    def connect(self) -> None:
        self.sock = self._connector(self._pinned_ip, self.port, self._pinned_timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked IP address; the certificate is verified against the host name."""

    def __init__(self, host: str, port: int, *, ip: str, connector: Connector, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._pinned_ip = ip
        self._pinned_timeout = timeout
        self._connector = connector

    def connect(self) -> None:
        raw = self._connector(self._pinned_ip, self.port, self._pinned_timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


@dataclass(frozen=True)
class _Hop:
    url: str
    scheme: str
    host: str
    port: int
    target: str


def _parse_hop(url: str, shown: str) -> _Hop:
    """Split and validate one URL of the chain (scheme, host, port, no credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"{shown}: not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise FetchRefused(f"{shown}: only http and https URLs can be fetched (got {scheme or 'no'} scheme)")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"{shown}: the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused(f"{shown}: URLs with a user name or password are not fetched")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if any(ch in target for ch in " \r\n\t"):
        target = target.replace(" ", "%20").replace("\t", "%09").replace("\r", "").replace("\n", "")
    return _Hop(url, scheme, host, port or (443 if scheme == "https" else 80), target)


def _checked_addresses(hop: _Hop, shown: str, allow_private: bool, resolve: Resolver, timeout: float) -> list[str]:
    """Resolve the hop's host and apply the guard to every address it has."""
    try:
        addresses = list(resolve(hop.host, hop.port, timeout))
    except TimeoutError:
        raise FetchUnavailable(f"{shown}: looking up {hop.host} timed out after {timeout:g} s") from None
    except OSError as exc:
        raise FetchUnavailable(f"{shown}: cannot resolve host {hop.host} ({exc.strerror or exc})") from None
    if not addresses:
        raise InputError(f"{shown}: host {hop.host} has no address")
    if not allow_private:
        for ip in addresses:
            reason = address_refusal(ip)
            if reason is not None:
                raise FetchRefused(
                    f"{shown}: refused to fetch {hop.host} ({ip} is {reason}); "
                    f"set {ALLOW_PRIVATE_ENV}=1 to allow private networks"
                )
    return addresses


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 10.0,
    allow_private: bool | None = None,
    accept: str | None = None,
    resolve: Resolver | None = None,
    connect: Connector | None = None,
) -> FetchResult:
    """GET ``url`` with the guard, the redirect limit, the timeout and the size cap described above.

    Raises :class:`FetchRefused` when the guard refuses a hop and :class:`InputError` for every other
    failure (non-2xx status, timeout, refused connection, TLS failure, body over ``max_bytes``).
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must be >= 0")
    private_ok = private_network_allowed(allow_private)
    resolver = resolve or resolve_host
    connector = connect or connect_tcp
    deadline = time.monotonic() + 3 * timeout
    current = url
    redirects = 0
    while True:
        shown = current if current == url else f"{current} (redirected from {url})"
        hop = _parse_hop(current, shown)
        addresses = _checked_addresses(hop, shown, private_ok, resolver, timeout)
        response, conn = _open(hop, addresses, shown, connector, timeout, accept)
        try:
            if response.status in _REDIRECT_STATUSES:
                location = response.getheader("Location")
                if not location:
                    raise InputError(f"{shown}: HTTP {response.status} redirect without a Location header")
                if redirects == MAX_REDIRECTS:
                    raise InputError(f"{url}: more than {MAX_REDIRECTS} redirects (last to {location})")
                current = urljoin(current, location.strip())
                redirects += 1
                continue
            if not 200 <= response.status < 300:
                failed = FetchUnavailable if response.status >= 500 else InputError
                raise failed(f"{shown}: HTTP {response.status} {response.reason}".rstrip())
            body = _read_capped(response, shown, max_bytes, timeout, deadline)
            return FetchResult(current, response.status, response.getheader("Content-Type"), body)
        finally:
            conn.close()


def _open(
    hop: _Hop, addresses: list[str], shown: str, connector: Connector, timeout: float, accept: str | None
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    """Send the request to the first address that accepts a connection; return the response head."""
    conn_cls = _PinnedHTTPSConnection if hop.scheme == "https" else _PinnedHTTPConnection
    last: BaseException = FetchUnavailable(f"{shown}: no address to connect to")
    for ip in addresses:
        conn = conn_cls(hop.host, hop.port, ip=ip, connector=connector, timeout=timeout)
        try:
            conn.putrequest("GET", hop.target, skip_accept_encoding=True)
            conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Accept", accept or "*/*")
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("Connection", "close")
            conn.endheaders()
            return conn.getresponse(), conn
        except (ConnectionRefusedError, ConnectionResetError) as exc:
            conn.close()
            last = exc
            continue
        except BaseException as exc:
            conn.close()
            raise _translate(exc, shown, timeout) from None
    raise _translate(last, shown, timeout) from None


def _read_capped(
    response: http.client.HTTPResponse, shown: str, max_bytes: int, timeout: float, deadline: float
) -> bytes:
    """Read the body, refusing it as soon as it is known to exceed ``max_bytes``."""
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchTooLarge(f"{shown}: response is {int(length):,} bytes, over the {max_bytes:,}-byte limit",
                            max_bytes=max_bytes)
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise FetchUnavailable(f"{shown}: download took longer than {3 * timeout:g} s")
            chunk = response.read1(min(_READ_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise FetchTooLarge(f"{shown}: response is over the {max_bytes:,}-byte limit", max_bytes=max_bytes)
    except InputError:
        raise
    except BaseException as exc:
        raise _translate(exc, shown, timeout) from None
    return b"".join(chunks)


def _translate(exc: BaseException, shown: str, timeout: float) -> BaseException:
    """Turn a transport exception into a one-line InputError (anything else passes through): a TLS
    failure is lasting, every other transport failure :class:`FetchUnavailable`."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, TimeoutError):
        return FetchUnavailable(f"{shown}: timed out after {timeout:g} s")
    if isinstance(exc, ssl.SSLError):
        return InputError(f"{shown}: TLS error: {exc.reason or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return FetchUnavailable(f"{shown}: connection refused")
    if isinstance(exc, http.client.IncompleteRead):
        return FetchUnavailable(f"{shown}: the server closed the connection mid-body")
    if isinstance(exc, http.client.HTTPException | OSError):
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return FetchUnavailable(f"{shown}: {detail}")
    return exc
