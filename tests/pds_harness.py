"""A real Bluesky PDS for the tests: install it from npm, start it on 127.0.0.1, make accounts, stop it.

The server is `@atproto/pds` 0.4.217 with a local in-memory PLC directory (`@did-plc/server`), both run
by `tests/pds/server.mjs` in one Node process (see tests/pds/README.md). It validates records for real,
so tests against it catch what a hand-written fake would let through (grapheme limits, facets, TIDs).

Use the session fixture `pds` (import it into conftest) and mark the tests `@pytest.mark.pds`. When the
server cannot start, the tests are skipped on a developer's machine and fail loudly in CI (CI=true).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

import pytest

if TYPE_CHECKING:
    from atproto import Client

PDS_DIR = Path(__file__).resolve().parent / "pds"
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 480.0  # below pytest-timeout (600 s), which counts fixture setup
LOG_TAIL_CHARS = 4000


class PDSUnavailable(Exception):
    """The local PDS could not be installed or started; `reason` says why (with the log tail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Account(NamedTuple):
    """An account made on the local PDS; unpacks as `handle, password, did`."""

    handle: str
    password: str
    did: str


def _tail(text: str, chars: int = LOG_TAIL_CHARS) -> str:
    """The end of a log, enough to see why a process died."""
    return text if len(text) <= chars else "…" + text[-chars:]


def ensure_installed() -> None:
    """Run tests/pds/install.sh (a no-op when node_modules matches the lock file)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PDSUnavailable("node/npm not found on PATH: the local PDS needs Node.js 20 and npm")
    try:
        done = subprocess.run(
            ["bash", str(PDS_DIR / "install.sh")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PDSUnavailable(f"tests/pds/install.sh took more than {INSTALL_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise PDSUnavailable(
            f"tests/pds/install.sh failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _post_json(url: str, body: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """POST a JSON body to an XRPC procedure and return the JSON answer; HTTPError on 4xx/5xx."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


class LocalPDS:
    """One local PDS + PLC directory process, with its data in a temporary directory."""

    def __init__(self) -> None:
        self.admin_password = secrets.token_hex(16)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._workdir: Path | None = None
        self._pds_port = 0
        self._plc_port = 0

    @property
    def url(self) -> str:
        """Base URL of the PDS (give it to `atproto.Client(base_url=...)`)."""
        if self._proc is None:
            raise RuntimeError("LocalPDS is not started")
        return f"http://127.0.0.1:{self._pds_port}"

    @property
    def plc_url(self) -> str:
        """Base URL of the local PLC directory (resolves the accounts' did:plc)."""
        if self._proc is None:
            raise RuntimeError("LocalPDS is not started")
        return f"http://127.0.0.1:{self._plc_port}"

    @property
    def log_path(self) -> Path | None:
        """The server's stdout+stderr log (removed by stop())."""
        return None if self._workdir is None else self._workdir / "server.log"

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_text(errors="replace")

    def start(self) -> LocalPDS:
        """Install if needed, start the server and wait until it answers; PDSUnavailable if it cannot."""
        if self._proc is not None:
            return self
        ensure_installed()
        last_reason = ""
        for _attempt in range(3):  # a picked port can be taken by someone else before node binds it
            try:
                self._spawn()
                self._wait_healthy()
                return self
            except PDSUnavailable as exc:
                last_reason = exc.reason
                self.stop()
                if "EADDRINUSE" not in last_reason:
                    break
        raise PDSUnavailable(last_reason)

    def _spawn(self) -> None:
        """Start `node server.mjs` with its output going to a log file."""
        self._workdir = Path(tempfile.mkdtemp(prefix="crosspost-pds-"))
        self._pds_port = free_port()
        self._plc_port = free_port()
        while self._plc_port == self._pds_port:
            self._plc_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PDS_", "LOG_"))}
        env.update(LOG_ENABLED="true", LOG_LEVEL=os.environ.get("CROSSPOST_PDS_LOG_LEVEL", "info"))
        assert self.log_path is not None
        self._log = self.log_path.open("wb")
        # stdin stays an open pipe: when this Python process dies, node sees it close and exits.
        self._proc = subprocess.Popen(
            [
                "node",
                "server.mjs",
                "--pds-port",
                str(self._pds_port),
                "--plc-port",
                str(self._plc_port),
                "--data-dir",
                str(self._workdir / "data"),
                "--admin-password",
                self.admin_password,
            ],
            cwd=PDS_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_healthy(self) -> None:
        """Poll GET /xrpc/_health until it answers 200, the process dies, or START_TIMEOUT passes."""
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        health = f"http://127.0.0.1:{self._pds_port}/xrpc/_health"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise PDSUnavailable(
                    f"the PDS exited with code {code} while starting:\n{_tail(self.log_text())}"
                )
            try:
                with urllib.request.urlopen(health, timeout=2):
                    return  # urlopen raises HTTPError (an OSError) on anything but 2xx
            except OSError:
                time.sleep(0.1)
        raise PDSUnavailable(
            f"the PDS did not answer {health} within {START_TIMEOUT:.0f} s:\n{_tail(self.log_text())}"
        )

    def create_account(self, handle_prefix: str = "user") -> Account:
        """Make an account `<prefix><random>.test` with a random password, over plain HTTP."""
        if not handle_prefix.isalnum() or not handle_prefix.isascii() or len(handle_prefix) > 10:
            raise ValueError(f"handle_prefix must be 1-10 ASCII letters/digits, got {handle_prefix!r}")
        # The PDS allows 3-18 characters before the service domain.
        handle = f"{handle_prefix.lower()}{secrets.token_hex(4)}.test"
        password = secrets.token_urlsafe(18)
        try:
            answer = _post_json(
                f"{self.url}/xrpc/com.atproto.server.createAccount",
                {"handle": handle, "password": password, "email": f"{handle}@example.com"},
            )
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise RuntimeError(f"createAccount {handle} failed: HTTP {exc.code} {body}") from exc
        return Account(handle=answer["handle"], password=password, did=answer["did"])

    def client(self, handle: str, password: str) -> Client:
        """An `atproto.Client` logged in to this PDS (no AppView here, so no profile fetch)."""
        from atproto import Client

        client = Client(base_url=self.url)
        client.login(handle, password, fetch_bsky_profile=False)
        return client

    def stop(self) -> None:
        """Stop the server (stdin close, then SIGTERM, then SIGKILL) and remove its data."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> LocalPDS:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def in_ci() -> bool:
    """True when the environment says this is CI (CI=true, as .ci/run sets)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


_shared: LocalPDS | None = None
_shared_failure: str | None = None


def shared_pds() -> LocalPDS:
    """The one LocalPDS of this test process, started on first use; PDSUnavailable (remembered) if not.

    A module-level singleton, so that the `pds` fixture imported into conftest and into a test module
    (two fixture definitions to pytest) still runs a single server.
    """
    global _shared, _shared_failure
    if _shared_failure is not None:
        raise PDSUnavailable(_shared_failure)
    if _shared is None:
        server = LocalPDS()
        try:
            server.start()
        except PDSUnavailable as exc:
            _shared_failure = exc.reason
            raise
        _shared = server
    return _shared


def stop_shared_pds() -> None:
    """Stop the shared LocalPDS, if one runs (safe to call twice)."""
    global _shared
    server, _shared = _shared, None
    if server is not None:
        server.stop()


def pds_or_skip() -> LocalPDS:
    """The shared LocalPDS; if it cannot start, fail loudly in CI and skip elsewhere, with the reason."""
    try:
        return shared_pds()
    except PDSUnavailable as exc:
        message = f"local Bluesky PDS unavailable: {exc.reason}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def pds() -> Iterator[LocalPDS]:
    """One local PDS for the whole test session (make a fresh account per test with create_account)."""
    server = pds_or_skip()
    try:
        yield server
    finally:
        stop_shared_pds()
