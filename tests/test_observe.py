"""After each publishing run: Prometheus counters move and one Apprise notification goes to a local receiver;
a notifier that cannot be reached changes nothing about publishing."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot import metrics
from bot.errors import ConfigError
from bot.notify import read_settings
from bot.publish import DEFERRED, FAILED, PUBLISHED, Publisher
from bot.sandbox import Sandbox
from bot.store import connect
from bot.webhook import create_app
from tests.test_publish import CREATE, article, by_platform, make_settings


class Receiver:
    """A tiny HTTP server that keeps every JSON body POSTed to it (what Apprise's json:// sends)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _publish(sandbox: Sandbox, tmp_path: Path, platforms: tuple[str, ...], **env: str) -> list[Any]:
    settings = make_settings(sandbox, tmp_path, **env)
    store = connect(settings.database_url)
    try:
        return Publisher(settings, store, backoff=0.01).publish(article(), settings.accounts_for(platforms))
    finally:
        store.close()


def _count(platform: str, outcome: str) -> float:
    return metrics.REGISTRY.get_sample_value("crosspost_posts_total", {"platform": platform, "outcome": outcome}) or 0


def test_counters_move_as_the_sandbox_publishes_fails_and_defers(sandbox: Sandbox, tmp_path: Path) -> None:
    before = {(p, o): _count(p, o) for p in ("x", "bluesky", "mastodon") for o in ("published", "failed", "deferred")}
    sandbox.app.inject(CREATE["mastodon"], "error", status=403)
    sandbox.app.inject(CREATE["bluesky"], "rate_limit", reset_in=3600)
    results = by_platform(_publish(sandbox, tmp_path, ("x", "bluesky", "mastodon")))
    assert (results["x"].status, results["bluesky"].status, results["mastodon"].status) == (PUBLISHED, DEFERRED,
                                                                                          FAILED)
    moved = {k: _count(*k) - v for k, v in before.items() if _count(*k) != v}
    assert moved == {("x", "published"): 1, ("bluesky", "deferred"): 1, ("mastodon", "failed"): 1}


def test_metrics_endpoint_counts_webhook_answers_and_queue_depth(tmp_path: Path) -> None:
    from bot.config import Settings

    store = connect(f"sqlite:///{tmp_path / 'm.db'}")
    store.enqueue(article={"title": "t", "url": "https://e.example/1"}, article_key="k1", targets=["x"],
                  run_at=datetime.now(UTC) + timedelta(hours=1))
    app = create_app(Settings(), store, secret="s" * 32, targets=["x"])
    client = TestClient(app)

    def sample(text: str, name: str) -> float:
        for line in text.splitlines():
            if line.split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    key = 'crosspost_webhook_requests_total{code="401",endpoint="generic"}'
    first = client.get("/metrics")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
    assert client.post("/hooks/generic", content=b"{}", headers={"Content-Type": "application/json"}).status_code == 401
    second = client.get("/metrics").text
    assert sample(second, key) == sample(first.text, key) + 1
    assert sample(second, 'crosspost_queue_jobs{state="queued"}') == 1
    store.close()


def test_a_failed_target_sends_exactly_one_notification_with_the_platform_error(
        sandbox: Sandbox, tmp_path: Path, receiver: Receiver) -> None:
    sandbox.app.inject(CREATE["mastodon"], "error", status=403)
    results = by_platform(_publish(sandbox, tmp_path, ("x", "mastodon"), CROSSPOST_NOTIFY=receiver.url))
    assert results["mastodon"].status == FAILED and results["x"].status == PUBLISHED
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert "Internal Server Error (injected)" in body["message"]  # the platform's own words
    assert "mastodon (default): failed" in body["message"] and "next:" in body["message"]
    assert "Partnership news number 1" in body["title"]
    assert "x (default)" not in body["message"]  # published is not asked for by default


def test_a_clean_run_sends_nothing_unless_published_is_asked_for(
        sandbox: Sandbox, tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _publish(sandbox, tmp_path / "a", ("x",), CROSSPOST_NOTIFY=receiver.url)
    assert receiver.bodies == []
    _publish(sandbox, tmp_path / "b", ("bluesky",), CROSSPOST_NOTIFY=receiver.url, CROSSPOST_NOTIFY_ON="published")
    assert len(receiver.bodies) == 1 and "bluesky (default): published" in receiver.bodies[0]["message"]


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_an_unreachable_receiver_does_not_change_the_result(sandbox: Sandbox, tmp_path: Path, where: str) -> None:
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = _closed_port() if where == "refused" else silent.getsockname()[1]
    try:
        sandbox.app.inject(CREATE["mastodon"], "error", status=403)
        results = by_platform(_publish(sandbox, tmp_path, ("x", "mastodon"), CROSSPOST_NOTIFY_TIMEOUT="2",
                                       CROSSPOST_NOTIFY=f"json://127.0.0.1:{port}/"))
    finally:
        silent.close()
    assert results["x"].status == PUBLISHED and results["mastodon"].status == FAILED
    assert "Internal Server Error (injected)" in (results["mastodon"].error or "")
    assert len(sandbox.app.posts("x")) == 1


@pytest.mark.parametrize("env", [{"CROSSPOST_NOTIFY": "not-a-url"}, {"CROSSPOST_NOTIFY_ON": "failed,explode"},
                                 {"CROSSPOST_NOTIFY_TIMEOUT": "-1"}, {"CROSSPOST_NOTIFY_TIMEOUT": "soon"}])
def test_bad_notify_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        read_settings(env)


def test_notify_settings_split_on_commas_and_spaces() -> None:
    s = read_settings({"CROSSPOST_NOTIFY": "json://a/ ,ntfys://topic  mailto://u:p@e.com", "CROSSPOST_NOTIFY_ON": ""})
    assert s.urls == ("json://a/", "ntfys://topic", "mailto://u:p@e.com") and s.on == {"failed", "deferred"}
