"""Keeping secrets: the store private to its owner (0700 / 0600), and no credential in any output or stored
row, in any form a server may echo it back in (JSON-escaped, percent-encoded, HTML-escaped, base64)."""

from __future__ import annotations

import base64
import html
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.redact import forget_secrets, redact, register_secrets
from bot.sandbox import Sandbox
from tests.conftest import ROOT

SECRETS = ('pw"Q\\ZZZ777é', "XK+EY/ZZZ888=", "a&b%c d", "tök€n'<>;\"\\+/=&% 999")
"""Each holds characters that change under some encoding: ``" \\ + / = & %``, a space, non-ASCII."""

ARTICLE = "---\ntitle: Secrets stay secret\nurl: https://example.com/secret-post\ntags: [Security]\n---\nBody.\n"


def encodings(secret: str, users: tuple[str, ...] = ()) -> dict[str, str]:
    """Every form of ``secret`` that must never be printed or stored, by name."""
    forms = {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-twice": json.dumps(json.dumps(secret)[1:-1])[1:-1],
        "quote": quote(secret, safe=""),
        "quote-default": quote(secret),
        "quote-lower": _lower_hex(quote(secret, safe="")),
        "quote_plus": quote_plus(secret),
        "quote_plus-lower": _lower_hex(quote_plus(secret)),
        "html": html.escape(secret),
        "html-noquote": html.escape(secret, quote=False),
        "html-hex": "".join(c if c.isascii() and c.isalnum() else f"&#x{ord(c):x};" for c in secret),
        "html-dec": "".join(c if c.isascii() and c.isalnum() else f"&#{ord(c)};" for c in secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "mime-q": "".join(chr(b) if (b < 128 and chr(b).isalnum()) or chr(b) in "-!*+/"
                          else "_" if b == 32 else f"={b:02X}" for b in secret.encode()),
    }
    for user in users:
        forms[f"basic-{user}"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return forms


def _lower_hex(text: str) -> str:
    import re

    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def leaks(text: str, secrets: tuple[str, ...], users: tuple[str, ...] = ()) -> list[str]:
    """The (secret, form) pairs found in ``text``."""
    return [f"{secret!r} as {name}" for secret in secrets for name, form in encodings(secret, users).items()
            if form in text]


# --- redact() on its own ------------------------------------------------------------------------------
@pytest.fixture
def registered() -> Iterator[None]:
    forget_secrets()
    register_secrets(SECRETS, users=("alice.example",))
    yield
    forget_secrets()


@pytest.mark.parametrize("secret", SECRETS)
def test_every_encoding_of_a_secret_is_masked(registered: None, secret: str) -> None:
    """Each form, embedded in a message, comes out as *** and the message around it survives."""
    for name, form in encodings(secret, ("alice.example",)).items():
        out = redact(f"server said: <{form}> (end)")
        assert out == "server said: <***> (end)", (name, form, out)


def test_extra_secrets_and_short_values(registered: None) -> None:
    """A secret passed to one call is masked too; values under 4 characters are not (they hide nothing)."""
    assert redact("token=ab%2Fcd.ef", extra=["ab/cd.ef"]) == "token=***"
    forget_secrets()
    register_secrets(["abc"])
    assert redact("abc") == "abc"


# --- file modes of the default store ------------------------------------------------------------------
def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120, umask=0)  # umask 0: nothing may rely on the user's umask


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    prefixes = ("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL", "XDG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_store_is_private_after_a_real_publish(sandbox: Sandbox, tmp_path: Path) -> None:
    """A publish with the default store: state directory 0700, database and companions 0600."""
    env = _clean_env({**sandbox.env(), "XDG_STATE_HOME": str(tmp_path / "state")})
    md = tmp_path / "post.md"
    md.write_text(ARTICLE, encoding="utf-8")
    proc = _cli([str(md)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(sandbox.app.posts("bluesky")) == 1
    directory = tmp_path / "state" / "crosspost"
    assert _mode(directory) == 0o700
    files = sorted(directory.iterdir())
    assert directory / "crosspost.sqlite3" in files
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert "store_permissions" not in proc.stderr  # created private: nothing to fix, nothing said


def test_looser_modes_are_tightened_once_with_a_notice(sandbox: Sandbox, tmp_path: Path) -> None:
    """An existing 0755 directory and 0644 database are made 0700 / 0600, said once on stderr."""
    env = _clean_env({**sandbox.env(), "XDG_STATE_HOME": str(tmp_path / "state")})
    directory = tmp_path / "state" / "crosspost"
    directory.mkdir(parents=True)
    database = directory / "crosspost.sqlite3"
    sqlite3.connect(database).close()
    directory.chmod(0o755)
    database.chmod(0o644)
    proc = _cli(["status"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _mode(directory) == 0o700 and _mode(database) == 0o600
    notices = [line for line in proc.stderr.splitlines() if "store_permissions_tightened" in line]
    assert len(notices) == 2, proc.stderr  # the directory and the file
    again = _cli(["status"], env, tmp_path)
    assert "store_permissions" not in again.stderr


def test_wal_and_shm_made_by_the_first_write_are_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """-wal and -shm appear while the store is open; even under umask 0 they are 0600."""
    from bot.store import connect

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    old = os.umask(0)
    try:
        store = connect()
        try:
            store.kv_set("probe", {"n": 1})
            directory = tmp_path / "crosspost"
            companions = {p.name: _mode(p) for p in directory.iterdir()}
        finally:
            store.close()
    finally:
        os.umask(old)
    assert {"crosspost.sqlite3", "crosspost.sqlite3-wal", "crosspost.sqlite3-shm"} <= set(companions)
    assert set(companions.values()) == {0o600}, companions
    assert _mode(tmp_path / "crosspost") == 0o700


# --- a server that echoes every request in its errors --------------------------------------------------
class EchoHandler(BaseHTTPRequestHandler):
    """Refuses everything (401 for auth, else 400) with the whole request in the body, in several forms."""

    protocol_version = "HTTP/1.1"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        request = f"{self.command} {self.path}\n{self.headers}\n{body}"
        echo = f"{request} || url={quote(request)} || plus={quote_plus(request)} || html={html.escape(request)}"
        status = 401 if "Session" in self.path or "verify" in self.path else 400
        payload = json.dumps({
            "error": echo if self.path.startswith("/api/") else "InvalidRequest",  # Mastodon shows "error"
            "message": echo, "detail": echo, "title": echo, "error_description": echo,
            "errors": [{"message": echo, "code": 32}],
            "request": {"headers": dict(self.headers.items()), "body": body, "json_of_json": json.dumps(request)},
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Echo", quote(request)[:4000])
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _echo

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# A platform credential with whitespace in it is refused at start (a pasting mistake; see
# tests/test_bad_values.py), so these carry every other character; spaces are masked in
# test_every_encoding_of_a_secret_is_masked.
ECHO_SECRETS = tuple(s.replace(" ", "") for s in SECRETS)
ECHO_CREDENTIALS = {
    "X_API_KEY": ECHO_SECRETS[1],
    "X_API_SECRET": "xs-" + ECHO_SECRETS[0],
    "X_ACCESS_TOKEN": "1234-" + ECHO_SECRETS[2],
    "X_ACCESS_TOKEN_SECRET": "ts-" + ECHO_SECRETS[3],
    "BLUESKY_HANDLE": "alice.example",
    "BLUESKY_APP_PASSWORD": ECHO_SECRETS[0],
    "MASTODON_ACCESS_TOKEN": "mt-" + ECHO_SECRETS[2] + "-é",
}


def _stored_rows(database: Path) -> str:
    """Every row of every table, as text."""
    conn = sqlite3.connect(database)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    finally:
        conn.close()


def test_echoing_server_gets_no_secret_into_any_output_or_row(echo_server: str, tmp_path: Path) -> None:
    """Post, post --json, schedule + worker, status and queue against an echo server: no form of any secret."""
    database = tmp_path / "store.db"
    env = _clean_env({
        **ECHO_CREDENTIALS,
        "X_API_BASE_URL": echo_server, "BLUESKY_SERVICE_URL": echo_server, "MASTODON_API_BASE_URL": echo_server,
        "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1", "CROSSPOST_TIMEOUT": "2", "CROSSPOST_MAX_ATTEMPTS": "1",
        "CROSSPOST_LOG_LEVEL": "DEBUG", "DATABASE_URL": f"sqlite:///{database}",
    })
    md = tmp_path / "post.md"
    md.write_text(ARTICLE, encoding="utf-8")
    runs = [
        _cli([str(md)], env, tmp_path),
        _cli([str(md), "--json", "--force"], env, tmp_path),
        _cli(["schedule", str(md), "--in", "0s"], env, tmp_path),
        _cli(["worker", "--once"], env, tmp_path),
        _cli(["status", str(md), "--json"], env, tmp_path),
        _cli(["status"], env, tmp_path),
        _cli(["queue", "--all", "--json"], env, tmp_path),
    ]
    assert runs[0].returncode == 1 and "failed" in runs[0].stdout + runs[0].stderr
    results = json.loads(runs[1].stdout)["results"]
    assert {r["status"] for r in results} == {"failed"} and all(r["error"] for r in results)
    assert "level=debug" in runs[0].stderr or "level=warning" in runs[0].stderr  # the logs were captured
    stored = _stored_rows(database)
    assert "InvalidRequest" in stored or "400" in stored  # the echo did reach the ledger and the jobs
    outputs = "\n".join(p.stdout + "\n" + p.stderr for p in runs)
    secrets = tuple(v for k, v in ECHO_CREDENTIALS.items() if k != "BLUESKY_HANDLE")
    assert leaks(outputs, secrets, ("alice.example",)) == []
    assert leaks(stored, secrets, ("alice.example",)) == []


def test_bluesky_session_tokens_are_masked_once_known(sandbox: Sandbox, tmp_path: Path) -> None:
    """The access and refresh JWTs of a session (created or read back) are masked like the app password."""
    from bot.article import Article
    from bot.config import load_settings
    from bot.publish import PUBLISHED, Publisher
    from bot.store import connect

    forget_secrets()
    settings = load_settings(env={**sandbox.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"},
                             load_dotenv=False)
    store = connect(settings.database_url)
    try:
        article = Article(title="Tokens", url="https://example.com/tokens", summary="Tokens.", body="Tokens.")
        result = Publisher(settings, store, backoff=0.01).publish(article, settings.accounts_for(("bluesky",)))[0]
        assert result.status == PUBLISHED, result.error
        sessions = [v for k, v in _kv_rows(tmp_path / "s.db") if k.startswith("bluesky:session")]
    finally:
        store.close()
    assert len(sessions) == 1
    access, refresh = json.loads(sessions[0]).split(":::")[2:4]
    assert redact(f"echo {access} and {refresh}") == "echo *** and ***"  # registered when created
    forget_secrets()
    settings = load_settings(env={**sandbox.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"},
                             load_dotenv=False)
    assert access in redact(access)  # a fresh process knows only the configured credentials...
    store = connect(settings.database_url)
    try:
        article = Article(title="Tokens 2", url="https://example.com/tokens-2", summary="T.", body="T.")
        Publisher(settings, store, backoff=0.01).publish(article, settings.accounts_for(("bluesky",)))
    finally:
        store.close()
    assert redact(f"echo {access} and {refresh}") == "echo *** and ***"  # ...until it reads the session back
    forget_secrets()


def _kv_rows(database: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(database)
    try:
        return [(str(k), str(v)) for k, v in conn.execute("SELECT key, value FROM kv")]
    finally:
        conn.close()
