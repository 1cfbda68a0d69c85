"""`crosspost serve` as a subprocess against raw sockets: slow headers, slow bodies and idle keep-alive
connections are closed at the configured deadlines while signed requests still go through; connections
over the cap are answered 503 at once; every bad setting or option is one line and exit 2."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

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
        start = time.monotonic()
        while time.monotonic() - start < bound:
            data = _read(sock, 0.2)
            if data == b"":
                return Held(True, time.monotonic() - start, received)
            received += data or b""
        return Held(False, time.monotonic() - start, received)


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
