"""How ``crosspost serve`` puts the webhook app on the network: its settings, its socket, its HTTP protocol.

uvicorn alone keeps a connection as long as the client likes while headers or a body trickle in (its
protocols have a keep-alive timeout and a concurrency limit, nothing for a slow request), and its
``limit_concurrency`` only answers 503 once a whole request has arrived, so a thousand silent sockets
are all kept. :class:`GuardedHttpToolsProtocol` (uvicorn's C-parser protocol, on uvloop when installed)
adds what is missing, one deadline per connection for the phase it is in:

    connected, or the first byte of a next request   headers complete within ``header_timeout``
    headers complete, body still coming               whole body within ``body_timeout`` (the app
                                                      answers 408 then; the protocol closes 1 s later
                                                      for routes that never read their body)
    response sent, keep-alive                         uvicorn's own ``timeout_keep_alive`` (``idle_timeout``)

and a connection over ``max_connections`` is answered 503 and closed at once instead of being held.
:class:`GuardedH11Protocol` gives the same guarantees on uvicorn's pure-Python h11 protocol, used when
httptools does not import; the deadlines themselves are their shared base's.

The listening socket is bound here, before uvicorn starts, so a busy port, a port out of range or a
host that is no address of this machine is one line (``error: ...``, exit 2), not uvicorn's log and exit 3.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import math
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    HTTPTOOLS = True
except ImportError:  # uvicorn runs without httptools (a dependency, but C): then h11 serves, see protocol_for
    HttpToolsProtocol = asyncio.Protocol  # type: ignore[misc,assignment]  # GuardedHttpToolsProtocol is unused
    HTTPTOOLS = False

from bot.checks import FALSE_WORDS, TRUE_WORDS
from bot.errors import ConfigError
from bot.webhook import API_TOKEN_ENV, INSECURE_ENV, SECRET_ENV

DELAY_ENV = "CROSSPOST_WEBHOOK_DELAY"
HEADER_TIMEOUT_ENV = "CROSSPOST_WEBHOOK_HEADER_TIMEOUT"
BODY_TIMEOUT_ENV = "CROSSPOST_WEBHOOK_BODY_TIMEOUT"
IDLE_TIMEOUT_ENV = "CROSSPOST_WEBHOOK_IDLE_TIMEOUT"
MAX_CONNECTIONS_ENV = "CROSSPOST_WEBHOOK_MAX_CONNECTIONS"

_MAX_TIMEOUT = 3600  # an hour to send a webhook is no longer a timeout
_MAX_DELAY = 365 * 86400
_BODY_GRACE = 1.0  # the protocol's own body deadline trails the app's, so the app's 408 goes out first
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


@dataclass(frozen=True)
class ServerLimits:
    """How long a client may take and how many may be connected at once (the defaults are the documented ones)."""

    header_timeout: int = 10
    body_timeout: int = 30
    idle_timeout: int = 5
    max_connections: int = 100


@dataclass(frozen=True)
class ServeEnv:
    """Everything ``crosspost serve`` reads from the environment, checked."""

    secret: str | None
    insecure: bool
    delay_seconds: float
    api_token: str | None
    limits: ServerLimits

    @classmethod
    def read(cls, env: Mapping[str, str]) -> ServeEnv:
        """Parse and range-check; a bad value is a ConfigError naming the variable, its value and the range."""
        return cls(
            secret=env.get(SECRET_ENV) or None,
            insecure=_flag(env, INSECURE_ENV),
            delay_seconds=_seconds(env, DELAY_ENV, 0.0),
            api_token=env.get(API_TOKEN_ENV) or None,
            limits=ServerLimits(
                header_timeout=_whole(env, HEADER_TIMEOUT_ENV, ServerLimits.header_timeout, 1, _MAX_TIMEOUT),
                body_timeout=_whole(env, BODY_TIMEOUT_ENV, ServerLimits.body_timeout, 1, _MAX_TIMEOUT),
                idle_timeout=_whole(env, IDLE_TIMEOUT_ENV, ServerLimits.idle_timeout, 1, _MAX_TIMEOUT),
                max_connections=_whole(env, MAX_CONNECTIONS_ENV, ServerLimits.max_connections, 1, 65535),
            ),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "")
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value: use 1 or 0")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= _MAX_DELAY:  # also refuses nan and inf
        raise ConfigError(f"{name}={raw!r} is not a number of seconds from 0 to {_MAX_DELAY} (365 days)")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if not raw.strip():
        return default
    text = raw.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name}={raw!r} must be a whole number from {low} to {high} (default {default})")
    return int(text)


# ---------------------------------------------------------------------------- the listening socket


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, or a ConfigError that says why not in one line.

    ``host`` must be an IP address or a syntactically valid host name; nothing is looked up for a
    name that could not be one.
    """
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not _is_host(host):
        raise ConfigError(f"--host {host!r} is not an IP address or host name (e.g. 127.0.0.1, 0.0.0.0, ::1)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r} does not resolve to an address ({_reason(exc)})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart needn't wait for TIME_WAIT
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"{where} is already in use (another crosspost serve?); pass --port") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"cannot listen on {where}: permission denied (ports below 1024 need privileges); pass --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(
                f"cannot listen on {where}: {host} is not an address of this machine; pass --host"
            ) from None
        raise ConfigError(f"cannot listen on {where}: {_reason(exc)}") from None
    sock.set_inheritable(True)
    return sock


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if not host or len(host) > 253 or re.fullmatch(r"[\d.]+", host):  # 999.1.1.1 is a broken address
        return False
    return _HOSTNAME.fullmatch(host) is not None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------- the protocol


_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 20\r\nretry-after: 5\r\nconnection: close\r\n\r\ntoo many connections"
)
_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest headers too slow"
)


class _Deadlines(asyncio.Protocol):
    """What both guarded protocols share: the connection cap and one deadline at a time, for a phase.

    Each protocol says when a phase starts and ends (it knows its parser); this arms, disarms and
    expires. A header deadline that expires once some of the request has arrived answers 408 first;
    otherwise the connection is just closed. Mixed in before uvicorn's protocol class, which provides
    ``loop``, ``transport`` and ``connections``. Bound to a server's ``limits`` by :func:`protocol_for`;
    uvicorn instantiates the class per connection.
    """

    limits: ClassVar[ServerLimits] = ServerLimits()
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]
    _deadline: asyncio.TimerHandle | None = None
    _phase: str | None = None  # "headers" or "body": what the deadline waits for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.write(_REFUSED)
            transport.close()
            return
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_begun(self) -> bool:
        """Some of the request the header deadline waits for has arrived."""
        raise NotImplementedError

    def _arm(self, phase: str) -> None:
        self._disarm()
        self._phase = phase
        seconds = self.limits.header_timeout if phase == "headers" else self.limits.body_timeout + _BODY_GRACE
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _expire(self) -> None:
        if self.transport.is_closing():
            return
        if self._phase == "headers" and self._headers_begun():
            self.transport.write(_TOO_SLOW)
        self._disarm()
        self.transport.close()


class GuardedH11Protocol(_Deadlines, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the deadlines and the cap (the fallback without httptools).

    h11 parses a pipelined request only once the one before it is answered, so no deadline runs for it
    while the server works; a next request's headers then have ``idle_timeout`` (uvicorn's keep-alive
    timer) until another byte comes, and ``header_timeout`` from that byte.
    """

    _partial = False  # some bytes of a request's headers have arrived

    def data_received(self, data: bytes) -> None:
        if self._phase is None and self.conn.their_state is h11.IDLE:
            self._partial = False
            self._arm("headers")  # a next request on a kept-alive connection
        super().data_received(data)
        self._follow()
        if self._phase == "headers":
            self._partial = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()  # a pipelined request may have started

    def _headers_begun(self) -> bool:
        return self._partial

    def _follow(self) -> None:
        """Move the deadline to the phase the client is in now."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body")
        elif state is not h11.IDLE or self._phase != "headers":
            self._disarm()


class GuardedHttpToolsProtocol(_Deadlines, HttpToolsProtocol):
    """uvicorn's httptools (C parser) protocol with the deadlines and the cap, from the parser's callbacks.

    The callbacks note the phase of the request being parsed; the deadline follows it once a chunk is
    parsed and when an answer is complete, so a request that arrives whole in one chunk arms no timer.
    httptools parses pipelined requests as they arrive; a deadline runs only for the request the server
    is at, so one queued behind a request still being answered is not cut while the server works: its
    phase's deadline starts when the answer before it is complete.
    """

    _parsing: str | None = None  # the parser's current request: "headers", "body", or None between requests

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsing = "headers"

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._parsing = "body"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._parsing = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()  # a pipelined request's turn

    def _headers_begun(self) -> bool:
        return self._parsing == "headers"

    def _queued(self) -> bool:
        """The request being parsed waits behind an earlier one that is not answered yet."""
        if self._parsing == "headers":  # its cycle does not exist yet: self.cycle is the one before
            return self.cycle is not None and not self.cycle.response_complete
        return any(cycle is self.cycle for cycle, _ in self.pipeline)

    def _follow(self) -> None:
        """Move the deadline to the phase of the request being parsed (the connection's own header time stays)."""
        if self.transport.is_closing():
            return
        if self._parsing is None or self._queued():
            self._disarm()
        elif self._parsing != self._phase:
            self._arm(self._parsing)


def protocol_for(limits: ServerLimits) -> type[_Deadlines]:
    """A protocol class bound to ``limits`` (uvicorn takes a class, not an instance): the httptools one
    when httptools imports, else the h11 one."""
    base: type[_Deadlines] = GuardedHttpToolsProtocol if HTTPTOOLS else GuardedH11Protocol

    class Bound(base):  # type: ignore[valid-type,misc]
        pass

    Bound.limits = limits
    return Bound


def run_server(app: Any, sock: socket.socket, limits: ServerLimits) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGTERM/SIGINT (uvicorn then re-raises the signal)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        http=protocol_for(limits),
        loop="auto",  # uvloop when it imports, else asyncio (uvicorn's default, made explicit)
        timeout_keep_alive=limits.idle_timeout,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[sock])
