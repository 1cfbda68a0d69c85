"""The dashboard's security and pages, in process (Starlette's TestClient over the real app)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.config import Settings
from bot.signatures import sign_ghost
from bot.store import connect
from bot.webhook import create_app

PASSWORD = "correct horse battery staple"
SECRET = "w" * 32
API_TOKEN = "r" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = connect(f"sqlite:///{tmp_path / 'dash.db'}")
    yield s
    s.close()


@pytest.fixture
def client(store: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("CROSSPOST_DASHBOARD_PASSWORD", PASSWORD)
    return TestClient(create_app(Settings(), store, secret=SECRET, targets=["x"], api_token=API_TOKEN),
                      base_url="http://testserver", follow_redirects=False)


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the form"
    return m.group(1)


def login(client: TestClient, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"password": password, "csrf": _token(page.text)})


def test_no_page_or_action_without_a_session(client: TestClient, store: Any) -> None:
    for path in ("/", "/queue", "/posts", "/health"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    job, _ = store.enqueue(article={"title": "t", "url": "https://e.example/1"}, article_key="k", targets=["x"],
                           run_at=datetime.now(UTC) + timedelta(hours=1))
    for path in ("/", f"/queue/{job.id}/cancel", "/logout"):
        assert client.post(path, data={"csrf": "x"}).status_code == 403, path
    assert store.get_job(job.id).state == "queued"


def test_login_sets_a_hardened_cookie(client: TestClient) -> None:
    answer = login(client)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert client.get("/").status_code == 200


def test_cookie_is_secure_behind_https(client: TestClient) -> None:
    page = client.get("/login")
    answer = client.post("/login", data={"password": PASSWORD, "csrf": _token(page.text)},
                         headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, store: Any) -> None:
    login(client)
    job, _ = store.enqueue(article={"title": "t", "url": "https://e.example/1"}, article_key="k", targets=["x"],
                           run_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.post(f"/queue/{job.id}/cancel").status_code == 403
    assert client.post(f"/queue/{job.id}/cancel", data={"csrf": "forged"}).status_code == 403
    assert store.get_job(job.id).state == "queued"
    token = _token(client.get("/queue").text)
    assert client.post(f"/queue/{job.id}/cancel", data={"csrf": token}).status_code == 303
    assert store.get_job(job.id).state == "cancelled"
    assert client.post(f"/queue/{job.id}/retry", data={"csrf": token}).status_code == 303
    assert store.get_job(job.id).state == "queued"
    assert client.post("/login", data={"password": PASSWORD}).status_code == 403  # the login form's token too


def test_five_wrong_passwords_are_slowed(client: TestClient) -> None:
    for _ in range(5):
        assert login(client, "wrong").status_code == 401
    blocked = login(client)  # even the right password waits out the window
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "crosspost_session" not in blocked.headers.get("set-cookie", "")


def test_forged_or_tampered_cookie_is_no_session(client: TestClient) -> None:
    login(client)
    value = client.cookies.get("crosspost_session")
    assert value
    client.cookies.set("crosspost_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/queue").status_code == 303


def test_webhooks_keep_their_own_signatures(client: TestClient) -> None:
    login(client)  # a dashboard session is no webhook credential
    body = b'{"post": {"current": {"id": "1", "title": "T", "url": "https://b.example/p/"}}}'
    assert client.post("/hooks/ghost", content=body, headers={"Content-Type": "application/json"}).status_code == 401
    signed = client.post("/hooks/ghost", content=body,
                         headers={"Content-Type": "application/json", **sign_ghost(SECRET, body)})
    assert signed.status_code in (200, 202)
    assert client.get("/jobs/1").status_code == 401  # the session cookie does not open the read API
    assert client.get("/jobs/1", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200


def test_compose_preview_schedule_and_the_pages(client: TestClient, store: Any) -> None:
    login(client)
    token = _token(client.get("/").text)
    text = "---\ntitle: Hello <b>there</b>\nurl: https://blog.example.com/p/1\ntags: [Python]\n---\nA summary.\n"
    preview = client.post("/", data={"csrf": token, "text": text, "action": "preview", "target": ["x", "bluesky"]})
    assert preview.status_code == 200 and 'data-platform="bluesky"' in preview.text and "data-count" in preview.text
    scheduled = client.post("/", data={"csrf": token, "text": text, "action": "schedule", "target": ["x"],
                                       "at": "2031-01-02T09:30", "tz": "Europe/Paris"})
    assert scheduled.status_code == 200 and "queued at 2031-01-02 08:30 UTC" in scheduled.text
    (job,) = store.list_jobs()
    assert job.targets == ["x"] and job.run_at == datetime(2031, 1, 2, 8, 30, tzinfo=UTC)
    assert client.post("/", data={"csrf": token, "text": "", "action": "publish"}).status_code == 400
    for path in ("/queue", "/posts", "/posts?platform=x&state=failed", "/health"):
        assert client.get(path).status_code == 200, path


def test_dashboard_is_off_without_a_password(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSPOST_DASHBOARD_PASSWORD", raising=False)
    client = TestClient(create_app(Settings(), store, secret=SECRET, targets=["x"]))
    assert client.get("/").status_code == 404 and client.get("/login").status_code == 404
