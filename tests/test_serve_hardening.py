"""`crosspost serve` as a subprocess against raw sockets: slow headers, slow bodies and idle keep-alive
connections are closed at the configured deadlines while signed requests still go through; connections
over the cap are answered 503 at once; every bad setting or option is one line and exit 2.

The same guards in process, for each protocol class (httptools, served by default, and the h11 fallback)
on a small app with a slow route, a route that reads its body and one that never does: each deadline,
keep-alive use, pipelining and the cap; and which class and event loop `crosspost serve` picks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import server as server_module
from bot.server import GuardedH11Protocol, GuardedHttpToolsProtocol, ServerLimits, protocol_for
from bot.signatures import sign_crosspost
from tests.conftest import ROOT

SECRET = "hardening-webhook-secret-0123456789"
HEADER, BODY, IDLE = 1, 2, 1  # seconds, as configured below
MARGIN = 4.0  # seconds of slack on a shared, loaded machine; the deadlines themselves are 1-2 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_WEBHOOK_", "CROSSPOST_API_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "CROSSPOST_WEBHOOK_SECRET": SECRET})
    env.update(extra)
    return env


@contextmanager
def _serving(tmp_path: Path, **extra: str) -> Iterator[int]:
    """`crosspost serve --no-worker` on a free port with ``extra`` environment; yields the port."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-worker", "--platform", "x"],
        cwd=ROOT, env=_env(tmp_path, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert "Traceback" not in output, output


@dataclass
class Held:
    """What a held connection saw: closed by the server after ``seconds``, having received ``received``."""

    closed: bool
    seconds: float
    received: bytes


def _read(sock: socket.socket, wait: float) -> bytes | None:
    """Bytes that arrive within ``wait`` seconds; b"" when the server closed (or reset); None for none."""
    ready, _, _ = select.select([sock], [], [], wait)
    if not ready:
        return None
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def _trickle(port: int, prefix: bytes, drip: bytes, bound: float) -> Held:
    """Send ``prefix`` at once, then ``drip`` a byte per 0.3 s, until the server closes or ``bound`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=bound) as sock:
        sock.sendall(prefix)
        start = time.monotonic()
        received = b""
        for byte in drip:
            if time.monotonic() - start > bound:
                break
            try:
                sock.send(bytes([byte]))
            except OSError:  # reset or broken pipe: closed
                return Held(True, time.monotonic() - start, received)
            data = _read(sock, 0.3)
            while data:  # the server's answer, then its close
                received += data
                data = _read(sock, 0.3)
            if data == b"":
                return Held(True, time.monotonic() - start, received)
        return Held(False, time.monotonic() - start, received)


def _idle(port: int, bound: float) -> Held:
    """One complete keep-alive request, its answer read, then nothing until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=bound) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b'"database":"ok"}' not in received:
            data = _read(sock, bound)
            assert data, f"no complete answer: {received!r}"
            received += data
        return _until_closed(sock, bound, received, step=0.2)


def _signed_generic(port: int, n: int) -> tuple[int, dict[str, object]]:
    body = json.dumps({"title": f"Held {n}", "url": f"https://blog.example.com/held-{n}/"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/generic", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **sign_crosspost(SECRET, body)})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


SLOW_HEADERS = b"POST /hooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 400
BODY_HEADERS = (b"POST /hooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 400\r\n\r\n")


def test_slow_header_slow_body_and_idle_connections_are_closed(tmp_path: Path) -> None:
    """Three of each are held at once; each is closed at its deadline; a signed request succeeds meanwhile."""
    limits = {"CROSSPOST_WEBHOOK_HEADER_TIMEOUT": str(HEADER), "CROSSPOST_WEBHOOK_BODY_TIMEOUT": str(BODY),
              "CROSSPOST_WEBHOOK_IDLE_TIMEOUT": str(IDLE), "CROSSPOST_WEBHOOK_MAX_CONNECTIONS": "50"}
    with _serving(tmp_path, **limits) as port, ThreadPoolExecutor(12) as pool:
        headers = [pool.submit(_trickle, port, b"", SLOW_HEADERS, HEADER + MARGIN) for _ in range(3)]
        bodies = [pool.submit(_trickle, port, BODY_HEADERS, b"{" + b" " * 398 + b"}", BODY + MARGIN)
                  for _ in range(3)]
        idles = [pool.submit(_idle, port, IDLE + MARGIN) for _ in range(3)]
        time.sleep(0.5)  # all nine are now in the middle of their slow requests
        status, job = _signed_generic(port, 1)
        assert status == 202 and job["state"] == "queued"
        for kind, futures, limit in (("headers", headers, HEADER), ("body", bodies, BODY), ("idle", idles, IDLE)):
            for future in futures:
                held = future.result()
                assert held.closed, f"slow {kind}: still open after {held.seconds:.1f} s"
                assert held.seconds >= limit - 0.5, f"slow {kind}: closed after {held.seconds:.1f} s"
        for future in headers:
            assert future.result().received.startswith(b"HTTP/1.1 408 "), future.result().received
        for future in bodies:
            answer = future.result().received
            assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer.lower(), answer
            assert b"the body did not arrive within 2 s" in answer
        with socket.create_connection(("127.0.0.1", port), timeout=5) as quitter:
            quitter.sendall(BODY_HEADERS + b"{")  # and leaves: no "Exception in ASGI application" logged
            time.sleep(0.2)
        status, _ = _signed_generic(port, 2)
        assert status == 202


def test_a_kept_alive_connection_serves_requests_within_the_idle_time(tmp_path: Path) -> None:
    """The deadlines cut slow clients, not ordinary keep-alive use: three requests on one connection."""
    with (_serving(tmp_path, CROSSPOST_WEBHOOK_IDLE_TIMEOUT="5") as port,
          socket.create_connection(("127.0.0.1", port), timeout=10) as sock):
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while b'"database":"ok"}' not in received:
                data = _read(sock, 10)
                assert data, received
                received += data
            assert received.startswith(b"HTTP/1.1 200 ")


def test_connections_over_the_cap_are_refused_at_once(tmp_path: Path) -> None:
    """With a cap of 3 and three silent connections open, a fourth gets 503 and is closed; room again after."""
    with _serving(tmp_path, CROSSPOST_WEBHOOK_MAX_CONNECTIONS="3", CROSSPOST_WEBHOOK_HEADER_TIMEOUT="60") as port:
        time.sleep(0.3)  # the start-up health checks' connections are gone
        silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        try:
            for sock in silent:
                assert _read(sock, 0.3) is None  # accepted and held, nothing said
            with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
                answer = b""
                while (data := _read(extra, 5)) and data is not None:
                    answer += data
                assert data == b"", "the connection over the cap was not closed"
                assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer, answer
        finally:
            for sock in silent:
                sock.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the three closes within moments
            try:
                assert _signed_generic(port, 3)[0] == 202
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)


def _run_serve(tmp_path: Path, args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--platform", "x", *args], cwd=ROOT,
                          env=_env(tmp_path, **extra), capture_output=True, text=True, timeout=60)


BAD_VALUES = [
    ([], {"CROSSPOST_WEBHOOK_DELAY": "abc"}, "CROSSPOST_WEBHOOK_DELAY='abc' is not a number of seconds"),
    ([], {"CROSSPOST_WEBHOOK_DELAY": "-5"}, "CROSSPOST_WEBHOOK_DELAY='-5' is not a number of seconds"),
    ([], {"CROSSPOST_WEBHOOK_DELAY": "inf"}, "CROSSPOST_WEBHOOK_DELAY='inf' is not a number of seconds"),
    (["--port", "99999"], {}, "--port '99999' must be a whole number from 1 to 65535"),
    (["--port", "-1"], {}, "--port '-1' must be a whole number from 1 to 65535"),
    (["--port", "0"], {}, "--port '0' must be a whole number from 1 to 65535"),
    (["--port", "http"], {}, "--port 'http' must be a whole number from 1 to 65535"),
    (["--host", "not a host!"], {}, "--host 'not a host!' must be a host name or an IP address"),
    (["--host", "999.1.1.1"], {}, "--host '999.1.1.1' is not an IP address or host name"),
    (["--host", ""], {}, "--host '' must be a host name or an IP address"),
    (["--host", "192.0.2.1"], {}, "192.0.2.1 is not an address of this machine; pass --host"),
    ([], {"CROSSPOST_WEBHOOK_INSECURE": "1"}, "CROSSPOST_WEBHOOK_SECRET is set and CROSSPOST_WEBHOOK_INSECURE=1"),
    ([], {"CROSSPOST_WEBHOOK_INSECURE": "maybe"}, "CROSSPOST_WEBHOOK_INSECURE='maybe' is not a yes/no value"),
    ([], {"CROSSPOST_API_TOKEN": SECRET}, "CROSSPOST_API_TOKEN must not be the signing secret"),
    ([], {"CROSSPOST_WEBHOOK_HEADER_TIMEOUT": "0"}, "CROSSPOST_WEBHOOK_HEADER_TIMEOUT='0' must be a whole number"),
    ([], {"CROSSPOST_WEBHOOK_BODY_TIMEOUT": "2.5"}, "CROSSPOST_WEBHOOK_BODY_TIMEOUT='2.5' must be a whole number"),
    ([], {"CROSSPOST_WEBHOOK_IDLE_TIMEOUT": "9999"}, "CROSSPOST_WEBHOOK_IDLE_TIMEOUT='9999' must be a whole number"),
    ([], {"CROSSPOST_WEBHOOK_MAX_CONNECTIONS": "-3"}, "CROSSPOST_WEBHOOK_MAX_CONNECTIONS='-3' must be a whole"),
]


@pytest.mark.parametrize(("args", "env", "message"), BAD_VALUES, ids=[m[:40] for _, _, m in BAD_VALUES])
def test_bad_serve_values_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    """Each bad option or setting: exit 2, one stderr line `error: ...` naming the value, no traceback."""
    port = [] if "--port" in args else ["--port", str(_free_port())]
    done = _run_serve(tmp_path, [*args, *port], **env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "uvicorn" not in done.stderr.lower()
    assert SECRET not in done.stderr


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    """A port something already listens on: the documented line, exit 2, nothing from uvicorn."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_serve(tmp_path, ["--port", str(port)])
    assert done.returncode == 2
    assert done.stderr == f"error: 127.0.0.1:{port} is already in use (another crosspost serve?); pass --port\n"
    assert done.stdout == ""


def test_every_serve_setting_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """Each variable `crosspost serve` reads is in .env.example, the README and `serve --help`."""
    import bot.server
    from bot.cli import main

    names = {value for name, value in vars(bot.server).items() if name.endswith("_ENV")}
    assert len(names) == 8
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    documents = {"serve --help": capsys.readouterr().out,
                 ".env.example": (ROOT / ".env.example").read_text("utf-8"),
                 "README.md": (ROOT / "README.md").read_text("utf-8")}
    for where, text in documents.items():
        assert not [name for name in names if name not in text], where


# ---------------------------------------------------------------------------- both protocol classes, in process

PROTOCOLS = pytest.mark.parametrize("protocol", [GuardedHttpToolsProtocol, GuardedH11Protocol],
                                    ids=["httptools", "h11"])
GRACE = server_module._BODY_GRACE
SLOW = 2.5  # seconds /slow takes to answer: longer than every deadline below (header 1 s, body 1 + 1 s)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/read reads its whole body, /slow answers after SLOW seconds, anything else at once without reading."""
    body = b""
    if scope["path"] == "/read":
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
    if scope["path"] == "/slow":
        await asyncio.sleep(SLOW)
    answer = f"{scope['path']} {len(body)}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


@contextmanager
def _in_process(protocol: type[Any], *, header: int = HEADER, body: int = 1, idle: int = 5,
                cap: int = 100) -> Iterator[int]:
    """uvicorn serving :func:`_app` with ``protocol`` bound to these limits, as run_server does, in a thread."""
    import uvicorn

    class Bound(protocol):  # type: ignore[misc,valid-type]
        limits = ServerLimits(header_timeout=header, body_timeout=body, idle_timeout=idle, max_connections=cap)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(_app, http=Bound, loop="auto", timeout_keep_alive=idle,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _until_closed(sock: socket.socket, bound: float, received: bytes = b"", step: float = 0.1) -> Held:
    """Read until the server closes (or ``bound`` seconds pass), sending nothing; ``received`` so far."""
    start = time.monotonic()
    while time.monotonic() - start < bound:
        data = _read(sock, step)
        if data == b"":
            return Held(True, time.monotonic() - start, received)
        received += data or b""
    return Held(False, time.monotonic() - start, received)


def _answers(sock: socket.socket, count: int, wait: float = 10) -> list[bytes]:
    """The bodies of the next ``count`` answers, each a 200 with a content-length."""
    buffer, bodies = b"", []
    while len(bodies) < count:
        head, blank, rest = buffer.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        if blank and length and len(rest) >= int(length[1]):
            assert head.startswith(b"HTTP/1.1 200 "), head
            bodies.append(rest[:int(length[1])])
            buffer = rest[int(length[1]):]
            continue
        data = _read(sock, wait)
        assert data, f"closed or silent after {bodies} and {buffer!r}"
        buffer += data
    return bodies


def _request(path: str, body: bytes = b"", *, length: int | None = None) -> bytes:
    """A POST of ``body`` to ``path``; with ``length``, the headers announce that many bytes instead."""
    size = len(body) if length is None else length
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode() + body


@PROTOCOLS
def test_a_silent_connection_is_closed_at_the_header_deadline_without_a_word(protocol: type[Any]) -> None:
    with _in_process(protocol) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        held = _until_closed(sock, HEADER + MARGIN)
    assert held.closed and held.seconds >= HEADER - 0.5 and held.received == b"", held


@PROTOCOLS
def test_the_first_request_has_its_header_time_from_the_connection(protocol: type[Any]) -> None:
    """A client that waits before it starts to trickle gets no fresh header time for starting."""
    with _in_process(protocol, header=3) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.monotonic()
        time.sleep(2)
        sock.sendall(SLOW_HEADERS[:10])
        held = _until_closed(sock, 3 + MARGIN)
    seconds = time.monotonic() - start
    assert held.closed and held.received == server_module._TOO_SLOW, held
    assert 3 - 0.5 <= seconds < 3 + 1.5, seconds  # not 2 + 3 s


@PROTOCOLS
def test_slow_headers_get_408_and_are_closed(protocol: type[Any]) -> None:
    """From the connection, and from the first byte of a next request on a kept-alive connection."""
    with _in_process(protocol, idle=5) as port:
        held = _trickle(port, b"", SLOW_HEADERS, HEADER + MARGIN)
        assert held.closed and held.seconds >= HEADER - 0.5, held
        assert held.received == server_module._TOO_SLOW
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_request("/fast"))
            assert _answers(sock, 1) == [b"/fast 0"]
            time.sleep(HEADER + 0.5)  # idle, within the keep-alive time: no header deadline runs
            start = time.monotonic()
            received, data = b"", None
            for byte in SLOW_HEADERS:  # a next request whose headers trickle in
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    break
                data = _read(sock, 0.3)
                while data:
                    received += data
                    data = _read(sock, 0.3)
                if data == b"" or time.monotonic() - start > HEADER + MARGIN:
                    break
            seconds = time.monotonic() - start
        assert data == b"" and HEADER - 0.5 <= seconds < HEADER + MARGIN, (seconds, received)
        assert received == server_module._TOO_SLOW


@PROTOCOLS
@pytest.mark.parametrize("path", ["/read", "/fast"])
def test_a_slow_body_is_cut_at_the_body_deadline(protocol: type[Any], path: str) -> None:
    """/read waits for its body; /fast answers at once and leaves it unread: either way the trickle is cut."""
    with _in_process(protocol, body=1) as port:
        held = _trickle(port, _request(path, length=400), b"x" * 400, 1 + GRACE + MARGIN)
    assert held.closed and held.seconds >= 1 + GRACE - 0.5, held
    if path == "/read":  # this app has no body timeout of its own (the webhook's answers 408 a second before)
        assert held.received == b"", held
    else:
        assert held.received.startswith(b"HTTP/1.1 200 ") and held.received.endswith(b"/fast 0"), held


@PROTOCOLS
def test_a_kept_alive_connection_outlives_the_request_deadlines(protocol: type[Any]) -> None:
    """Requests with bodies, pauses longer than the header and body deadlines between them: all answered."""
    with _in_process(protocol, header=1, body=1, idle=5) as port, \
            socket.create_connection(("127.0.0.1", port)) as sock:
        for n in range(2):
            sock.sendall(_request("/read", b"{}"))
            assert _answers(sock, 1) == [b"/read 2"], n
            time.sleep(1 + GRACE + 0.5)


@PROTOCOLS
def test_an_answer_slower_than_the_deadlines_is_waited_for(protocol: type[Any]) -> None:
    """The deadlines are the client's: once the request is in, the app may take longer than all of them."""
    with _in_process(protocol, header=1, body=1) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request("/slow", b"{}"))
        assert _answers(sock, 1, wait=SLOW + MARGIN) == [b"/slow 0"]


@PROTOCOLS
def test_pipelined_requests_are_all_answered(protocol: type[Any]) -> None:
    with _in_process(protocol) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request("/fast") + _request("/read", b"abc") + _request("/fast", b"xy"))
        assert _answers(sock, 3) == [b"/fast 0", b"/read 3", b"/fast 0"]


NEXT_HEADERS = b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"


@PROTOCOLS
@pytest.mark.parametrize(("first", "rest"), [(NEXT_HEADERS, b"\r\nabcd"),
                                             (NEXT_HEADERS + b"\r\nab", b"cd")], ids=["headers", "body"])
def test_a_pipelined_request_has_no_deadline_while_the_one_before_is_answered(
    protocol: type[Any], first: bytes, rest: bytes
) -> None:
    """Behind /slow (longer than every deadline) a half-sent request waits; its rest then is answered."""
    with _in_process(protocol, header=1, body=1) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request("/slow") + first)
        assert _answers(sock, 1, wait=SLOW + MARGIN) == [b"/slow 0"]
        sock.sendall(rest)
        assert _answers(sock, 1) == [b"/read 4"]


@PROTOCOLS
def test_a_pipelined_body_gets_its_deadline_on_its_turn(protocol: type[Any]) -> None:
    """Behind /slow, a request whose body stops coming: closed at the body deadline after /slow's answer."""
    with _in_process(protocol, header=1, body=1) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request("/slow") + NEXT_HEADERS + b"\r\nab")
        assert _answers(sock, 1, wait=SLOW + MARGIN) == [b"/slow 0"]
        held = _until_closed(sock, 1 + GRACE + MARGIN)
    assert held.closed and held.seconds >= 1 + GRACE - 0.5 and held.received == b"", held


@PROTOCOLS
def test_a_connection_over_the_cap_gets_503_at_once(protocol: type[Any]) -> None:
    with _in_process(protocol, header=60, cap=2) as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            for sock in held:
                assert _read(sock, 0.3) is None
            with socket.create_connection(("127.0.0.1", port)) as extra:
                refused = _until_closed(extra, 5)
            assert refused.closed and refused.received == server_module._REFUSED, refused
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_request("/fast"))
            assert _answers(sock, 1) == [b"/fast 0"]


def test_protocol_for_picks_httptools_and_falls_back_to_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = ServerLimits(header_timeout=3, body_timeout=4, idle_timeout=5, max_connections=6)
    chosen = protocol_for(limits)
    assert issubclass(chosen, GuardedHttpToolsProtocol) and chosen.limits == limits
    assert ServerLimits() == GuardedHttpToolsProtocol.limits  # binding one server's limits left the class alone
    monkeypatch.setattr(server_module, "HTTPTOOLS", False)
    fallback = protocol_for(limits)
    assert issubclass(fallback, GuardedH11Protocol) and fallback.limits == limits
    without = subprocess.run(  # where httptools does not import at all, bot.server still loads and picks h11
        [sys.executable, "-c", "import sys; sys.modules['httptools'] = None\nfrom bot.server import *\n"
         "print(HTTPTOOLS, protocol_for(ServerLimits()).__mro__[1].__name__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert without.stdout == "False GuardedH11Protocol\n", without.stderr


def test_run_server_uses_the_httptools_protocol_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: seen.append(self.config))
    server_module.run_server(_app, socket.socket(), ServerLimits(idle_timeout=7))
    (config,) = seen
    assert issubclass(config.http, GuardedHttpToolsProtocol) and config.timeout_keep_alive == 7
    assert config.loop == "auto"
    if sys.platform != "win32":
        import uvloop

        loop = config.get_loop_factory()()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
