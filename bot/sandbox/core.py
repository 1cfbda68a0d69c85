"""The sandbox's HTTP machinery: routing, the request log, quotas and fault injection.

Platform behaviour lives in ``bot/sandbox/{x,bluesky,mastodon}.py``; each module registers its routes on a
:class:`SandboxApp` and formats its own errors and rate-limit headers through :class:`PlatformHooks`.
One server on one port serves all three APIs (their paths do not collide: ``/2/…``, ``/xrpc/…``, ``/api/…``).

Faults are injected per endpoint name (``fnmatch`` patterns such as ``"mastodon.statuses.create"`` or
``"x.*"``). Kinds:

- ``error``: answer ``status`` (default 500) without doing anything;
- ``rate_limit``: answer 429 with a reset ``reset_in`` seconds ahead, without doing anything;
- ``timeout``: sleep ``delay`` seconds *before* doing anything, then drop the connection;
- ``drop``: close the connection without an answer, without doing anything;
- ``after_commit``: do the work (the post exists), then drop the connection without an answer;
- ``after_commit_timeout``: do the work, then sleep ``delay`` seconds and drop the connection.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import random
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("error", "rate_limit", "timeout", "drop", "after_commit", "after_commit_timeout")


@dataclass
class Request:
    """One request as the sandbox received it (kept in the request log for assertions)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    endpoint: str = ""
    platform: str = ""
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes → as is; None → empty
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        return json.dumps(self.body).encode("utf-8"), "application/json; charset=utf-8"


@dataclass
class Fault:
    endpoint: str  # fnmatch pattern over endpoint names
    kind: str
    count: int = 1
    status: int = 500
    reset_in: float = 60.0
    delay: float = 3.0


@dataclass
class QuotaState:
    limit: int
    remaining: int
    reset_epoch: float
    exceeded: bool


@dataclass
class Quota:
    limit: int
    window: float
    used: int = 0
    window_start: float = 0.0

    def consume(self, now: float) -> QuotaState:
        if now >= self.window_start + self.window:
            self.window_start, self.used = now, 0
        reset = self.window_start + self.window
        if self.used >= self.limit:
            return QuotaState(self.limit, 0, reset, True)
        self.used += 1
        return QuotaState(self.limit, self.limit - self.used, reset, False)


@dataclass
class PlatformHooks:
    """How one platform words its errors and rate limits."""

    error: Callable[[int, str], Response]
    rate_limited: Callable[[QuotaState], Response]
    quota_headers: Callable[[QuotaState], dict[str, str]]


Handler = Callable[..., Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    platform: str
    endpoint: str
    handler: Handler
    quota_bucket: str | None


class _Drop(Exception):
    """Close the connection without an answer."""


class SandboxApp:
    """All state of one sandbox: routes, per-platform data, request log, faults, quotas, latency."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.routes: list[Route] = []
        self.hooks: dict[str, PlatformHooks] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.quotas: dict[tuple[str, str], Quota] = {}
        self.quota_defaults: dict[tuple[str, str], tuple[int, float]] = {}
        self.latency: dict[str, float] = {}
        self.chaos_rate = 0.0
        self.chaos_kinds: tuple[str, ...] = ()
        self.chaos_endpoints = "*"
        self.chaos_delay = 3.0
        self.injected: list[tuple[str, str]] = []  # (endpoint, kind) of every fault that fired
        self.random = random.Random(seed)
        self._resetters: list[Callable[[], None]] = []

    # --- registration (platform modules) ---------------------------------------------------------
    def route(
        self, method: str, path_regex: str, platform: str, endpoint: str, *, quota: str | None = None
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(method, re.compile(path_regex + r"\Z"), platform, endpoint, handler, quota)
            )
            return handler

        return register

    def platform(self, name: str, hooks: PlatformHooks, reset: Callable[[], dict[str, Any]]) -> None:
        """Register a platform: its error wording and a function that builds its empty state."""
        self.hooks[name] = hooks
        self.state[name] = reset()
        self._resetters.append(lambda: self.state.__setitem__(name, reset()))

    def default_quota(self, platform: str, bucket: str, limit: int, window: float) -> None:
        self.quota_defaults[(platform, bucket)] = (limit, window)

    # --- control (tests, the control API) ---------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            for reset in self._resetters:
                reset()
            self.requests.clear()
            self.faults.clear()
            self.quotas.clear()
            self.latency.clear()
            self.injected.clear()
            self.chaos_rate = 0.0

    def inject(self, endpoint: str, kind: str, **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        fault = Fault(endpoint, kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def chaos(
        self, rate: float, kinds: tuple[str, ...] = FAULT_KINDS, endpoints: str = "*", delay: float = 3.0
    ) -> None:
        """Inject a random fault of a random kind into ``rate`` of matching requests."""
        with self.lock:
            self.chaos_rate, self.chaos_kinds, self.chaos_endpoints = rate, tuple(kinds), endpoints
            self.chaos_delay = delay

    def set_quota(self, platform: str, bucket: str, limit: int, window: float) -> None:
        with self.lock:
            self.quotas[(platform, bucket)] = Quota(limit, window)

    def posts(self, platform: str) -> list[dict[str, Any]]:
        """Everything published on ``platform`` (live, not deleted), oldest first."""
        with self.lock:
            return [p for p in self.state[platform].get("posts", []) if not p.get("deleted")]

    def received(self, endpoint: str = "*") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if fnmatch.fnmatchcase(r.endpoint, endpoint)]

    # --- dispatch ---------------------------------------------------------------------------------
    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                m = route.pattern.match(path)
                if m:
                    return route, m.groupdict()
        return None

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fnmatch.fnmatchcase(endpoint, fault.endpoint):
                    fault.count -= 1
                    return fault
            chosen = self.chaos_rate and fnmatch.fnmatchcase(endpoint, self.chaos_endpoints)
            if chosen and self.random.random() < self.chaos_rate:
                kind = self.random.choice(self.chaos_kinds)
                return Fault(endpoint, kind, status=self.random.choice((500, 502, 503)),
                             reset_in=1.0, delay=self.chaos_delay)
        return None

    def _consume_quota(self, route: Route) -> QuotaState | None:
        if route.quota_bucket is None:
            return None
        key = (route.platform, route.quota_bucket)
        with self.lock:
            quota = self.quotas.get(key)
            if quota is None and key in self.quota_defaults:
                limit, window = self.quota_defaults[key]
                quota = self.quotas[key] = Quota(limit, window)
            return quota.consume(time.time()) if quota else None

    def dispatch(self, request: Request) -> Response:
        """Answer one request, applying latency, faults and quotas. Raises _Drop to hang up."""
        found = self._match(request.method, request.path)
        if found is None:
            if request.path.startswith("/_sandbox/"):
                return control(self, request)
            return Response(404, {"error": "not_found", "message": f"no route {request.method} {request.path}"})
        route, params = found
        request.endpoint, request.platform = route.endpoint, route.platform
        with self.lock:
            self.requests.append(request)
        hooks = self.hooks[route.platform]
        delay = self.latency.get(route.platform, 0.0)
        if delay:
            time.sleep(delay)
        fault = self._take_fault(route.endpoint)
        if fault is not None:
            with self.lock:
                self.injected.append((route.endpoint, fault.kind))
            if fault.kind == "error":
                return hooks.error(fault.status, "Internal Server Error (injected)")
            if fault.kind == "rate_limit":
                return hooks.rate_limited(QuotaState(0, 0, time.time() + fault.reset_in, True))
            if fault.kind == "timeout":
                time.sleep(fault.delay)
                raise _Drop
            if fault.kind == "drop":
                raise _Drop
        quota = self._consume_quota(route)
        if quota is not None and quota.exceeded:
            return hooks.rate_limited(quota)
        response = route.handler(self, request, **params)
        if quota is not None:
            response.headers.update(hooks.quota_headers(quota))
        if fault is not None and fault.kind == "after_commit":
            raise _Drop
        if fault is not None and fault.kind == "after_commit_timeout":
            time.sleep(fault.delay)
            raise _Drop
        return response


def control(app: SandboxApp, request: Request) -> Response:
    """``/_sandbox/…``: the control API other processes (chaos runs, the demo) use."""
    body = request.json() if request.body else {}
    path, method = request.path, request.method
    if path == "/_sandbox/health":
        return Response(200, {"ok": True})
    if path == "/_sandbox/sample.png":  # an image to link to without the internet (the demo's card)
        return Response(200, sample_png(), {"Content-Type": "image/png"})
    if path == "/_sandbox/reset" and method == "POST":
        app.reset()
        return Response(200, {"ok": True})
    if path == "/_sandbox/faults" and method == "POST":
        try:
            app.inject(**body)
        except (TypeError, ValueError) as exc:
            return Response(400, {"error": str(exc)})
        return Response(201, {"ok": True})
    if path == "/_sandbox/chaos" and method == "POST":
        app.chaos(float(body["rate"]), tuple(body.get("kinds") or FAULT_KINDS), body.get("endpoints", "*"),
                  float(body.get("delay", 3.0)))
        return Response(200, {"ok": True})
    if path == "/_sandbox/latency" and method == "POST":
        with app.lock:
            app.latency.update({k: float(v) for k, v in body.items()})
        return Response(200, {"ok": True})
    if path == "/_sandbox/quota" and method == "POST":
        app.set_quota(body["platform"], body["bucket"], int(body["limit"]), float(body["window"]))
        return Response(200, {"ok": True})
    if path == "/_sandbox/posts":
        return Response(200, {name: app.posts(name) for name in app.state})
    if path == "/_sandbox/requests":
        pattern = request.arg("endpoint", "*") or "*"
        return Response(200, [
            {"method": r.method, "path": r.path, "endpoint": r.endpoint, "status_note": None}
            for r in app.received(pattern)
        ])
    if path == "/_sandbox/injected":
        with app.lock:
            return Response(200, [list(x) for x in app.injected])
    return Response(404, {"error": f"no control route {method} {path}"})


class _Handler(BaseHTTPRequestHandler):
    server_version = "crosspost-sandbox/1"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive requests wait ~40 ms on delayed ACKs
    app: SandboxApp  # set on the subclass the server makes

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.app.dispatch(request)
        except _Drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception as exc:  # a sandbox bug must look like a 500, not kill the thread silently
            response = Response(500, {"error": "InternalServerError", "message": f"sandbox: {exc!r}"})
        payload, content_type = response.encode()
        self.send_response(response.status)
        headers = {"Content-Type": content_type, **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("BoundHandler", (_Handler,), {"app": app})
        super().__init__((host, port), handler)
        self.app = app


def sample_png(width: int = 4, height: int = 3) -> bytes:
    """A small, valid RGB PNG (built by hand so the sandbox needs no image library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(  # each scanline: filter type 0, then RGB triples
        b"\x00" + b"".join(bytes((x * 60 % 256, y * 80 % 256, 200)) for x in range(width))
        for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))
