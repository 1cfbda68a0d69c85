"""End to end: `crosspost serve` as a user runs it — a signed Ghost webhook in, posts out on the sandbox's
X, Bluesky and Mastodon through the server's own worker, the job done, and a repeat posting nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.sandbox import Sandbox
from bot.signatures import sign_ghost
from tests.conftest import ROOT

SECRET = "e2e-webhook-secret-0123456789"
API_TOKEN = "e2e-read-token-9876543210"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _ghost_payload(n: int) -> bytes:
    post = {
        "id": f"6541e2e{n}", "uuid": f"uuid-{n}", "title": f"Ghost post number {n}",
        "url": f"https://blog.example.com/ghost-post-{n}/", "canonical_url": None,
        "custom_excerpt": "A short excerpt that the composer can use as the summary.",
        "plaintext": "A short excerpt that the composer can use as the summary.\n\nMore text.",
        "status": "published", "published_at": "2026-11-26T08:00:00.000Z",
        "tags": [{"name": "Open Source", "slug": "open-source"}, {"name": "#internal", "slug": "hash-internal"}],
    }
    return json.dumps({"post": {"current": post, "previous": {}}}).encode()


def test_signed_ghost_webhook_is_published_everywhere_by_the_server(sandbox: Sandbox, tmp_path: Path) -> None:
    """A signed post.published reaches all three platforms once; the repeat is answered with the same job."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_"))}
    env.update(sandbox.env())
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "CROSSPOST_WEBHOOK_SECRET": SECRET,
                "CROSSPOST_API_TOKEN": API_TOKEN})
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _call(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        body = _ghost_payload(1)
        status, job = _call(f"{base}/hooks/ghost", body,
                            {"Content-Type": "application/json", **sign_ghost(SECRET, body)})
        assert status == 202, job
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        deadline = time.time() + 60
        state = None
        while time.time() < deadline:
            request = urllib.request.Request(f"{base}/jobs/{job['job']}", headers=auth)
            with urllib.request.urlopen(request, timeout=10) as answer:
                state = json.loads(answer.read())["state"]
            if state in ("done", "failed"):
                break
            time.sleep(0.2)
        assert state == "done"
        for platform in ("x", "bluesky", "mastodon"):
            posts = sandbox.app.posts(platform)
            assert len(posts) == 1, platform
        mastodon = sandbox.app.received("mastodon.statuses.create")[0].body.decode()
        assert "OpenSource" in mastodon and "internal" not in mastodon
        again, same = _call(f"{base}/hooks/ghost", body, {"Content-Type": "application/json",
                                                          **sign_ghost(SECRET, body)})
        assert again == 200 and same["job"] == job["job"]
        time.sleep(1.5)  # give the worker a chance to (wrongly) post again
        assert all(len(sandbox.app.posts(p)) == 1 for p in ("x", "bluesky", "mastodon"))
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    for value in (SECRET, API_TOKEN, env["X_API_SECRET"], env["MASTODON_ACCESS_TOKEN"]):
        assert value not in output
