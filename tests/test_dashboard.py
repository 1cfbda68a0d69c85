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
    again = store.get_job(job.id)
    assert again.state == "queued" and again.run_at == job.run_at  # a cancelled job keeps its time, as in the CLI
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


def _failed_job(store: Any) -> Any:
    job, _ = store.enqueue(article={"title": "Old news", "url": "https://e.example/2"}, article_key="k2",
                           targets=["x"], run_at=datetime.now(UTC) - timedelta(minutes=5))
    claimed = store.claim("w", lease_seconds=60)
    assert claimed is not None and claimed.id == job.id
    assert store.finish(job.id, "w", state="failed", error="401 from x")
    return job


def test_reschedule_a_job_to_a_time_in_a_time_zone(client: TestClient, store: Any) -> None:
    """The Queue page links each queued, failed or cancelled job to a form (date and time, time zone select,
    CSRF); posting it moves the job to that instant; a past time, a bad zone or no time is a 400."""
    login(client)
    job, _ = store.enqueue(article={"title": "Later", "url": "https://e.example/1"}, article_key="k",
                           targets=["x"], run_at=datetime(2031, 1, 2, 8, 30, tzinfo=UTC))
    failed = _failed_job(store)
    queue = client.get("/queue").text
    assert f'href="/queue/{job.id}/reschedule"' in queue and f'href="/queue/{failed.id}/reschedule"' in queue
    form = client.get(f"/queue/{job.id}/reschedule?tz=Europe/Paris")
    assert form.status_code == 200 and '<select id="tz" name="tz">' in form.text
    assert "<option selected>Europe/Paris</option>" in form.text and "<option>America/New_York</option>" in form.text
    assert 'value="2031-01-02T09:30"' in form.text  # the current due time on Paris's clock
    assert "<option selected>UTC</option>" in client.get(f"/queue/{job.id}/reschedule").text
    token = _token(form.text)

    move = {"at": "2031-07-04T10:00", "tz": "Europe/Paris"}
    assert client.post(f"/queue/{job.id}/reschedule", data=move).status_code == 403  # no CSRF token
    assert store.get_job(job.id).run_at == datetime(2031, 1, 2, 8, 30, tzinfo=UTC)
    done = client.post(f"/queue/{job.id}/reschedule", data={**move, "csrf": token})
    assert done.status_code == 303
    notice = client.get(done.headers["location"]).text
    assert f"Job {job.id} rescheduled to 2031-07-04 10:00 Europe/Paris (2031-07-04 08:00 UTC)." in notice
    assert "2031-07-04 08:00" in notice  # the Due column
    assert store.get_job(job.id).run_at == datetime(2031, 7, 4, 8, 0, tzinfo=UTC)  # CEST, UTC+2

    assert client.post(f"/queue/{failed.id}/reschedule",
                       data={"csrf": token, "at": "2031-12-01T09:00", "tz": "America/New_York"}).status_code == 303
    again = store.get_job(failed.id)
    assert (again.state, again.run_at, again.attempts) == ("queued", datetime(2031, 12, 1, 14, 0, tzinfo=UTC), 0)

    for data, needle in (({"at": "2020-01-01T09:00", "tz": "UTC"}, "has passed"),
                         ({"at": "2031-12-01T09:00", "tz": "Mars/Olympus"}, "is not a time zone"),
                         ({"at": "", "tz": "UTC"}, "pick the date and time")):
        refused = client.post(f"/queue/{job.id}/reschedule", data={"csrf": token, **data})
        assert refused.status_code == 400 and needle in refused.text, data
    assert store.get_job(job.id).run_at == datetime(2031, 7, 4, 8, 0, tzinfo=UTC)
    assert client.get("/queue/999/reschedule").status_code == 404


def test_reschedule_leaves_a_running_job_to_its_worker(client: TestClient, store: Any) -> None:
    """A job a worker holds is not moved: the page says so and the job keeps its lease and time."""
    login(client)
    job, _ = store.enqueue(article={"title": "Now", "url": "https://e.example/3"}, article_key="k3",
                           targets=["x"], run_at=datetime.now(UTC) - timedelta(seconds=1))
    assert store.claim("busy-worker", lease_seconds=60) is not None
    token = _token(client.get(f"/queue/{job.id}/reschedule").text)
    answer = client.post(f"/queue/{job.id}/reschedule", data={"csrf": token, "at": "2031-01-01T09:00", "tz": "UTC"})
    assert "cannot be rescheduled: it is running" in client.get(answer.headers["location"]).text
    got = store.get_job(job.id)
    assert (got.state, got.worker, got.run_at) == ("running", "busy-worker", job.run_at)


def _until(condition: Any) -> None:
    """Wait (at most 20 s) until ``condition()`` holds: a worker thread's first beat, or its stop."""
    import time

    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_health_shows_the_workers_heartbeat_and_warns_when_none_runs(client: TestClient, store: Any) -> None:
    """A running worker is listed ("last seen … ago", jobs run); once it stops, or is not seen for more than
    two beats by the dashboard's clock, the page warns that no worker is running."""
    import threading

    from bot.worker import Worker

    login(client)
    board = client.app.state.dashboard  # type: ignore[attr-defined]
    page = client.get("/health").text
    assert "No worker is running: jobs will not be posted" in page and "No worker has been seen" in page

    store.enqueue(article={"title": "t", "url": "https://e.example/4"}, article_key="k4", targets=["x"],
                  run_at=datetime.now(UTC) - timedelta(seconds=1))  # no x account: the worker fails it
    worker = Worker(Settings(), store, poll_interval=0.05, heartbeat_seconds=5, name="host-a:4242:1")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _until(lambda: store.kv_get("worker:host-a:4242:1") is not None)
        page = client.get("/health").text
        assert 'data-worker="host-a:4242:1"' in page and re.search(r"last seen \d+ s ago", page)
        assert "No worker is running" not in page
        board.now = lambda: datetime.now(UTC) + timedelta(seconds=11)  # more than 2 beats of 5 s unseen
        page = client.get("/health").text
        assert "not responding" in page and "No worker is running: jobs will not be posted" in page
        board.now = lambda: datetime.now(UTC)
        assert "No worker is running" not in client.get("/health").text
    finally:
        worker.stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    page = client.get("/health").text
    assert "stopped" in page and "1 job run" in page and "No worker is running: jobs will not be posted" in page
    board.now = lambda: datetime.now(UTC) + timedelta(minutes=11)  # long gone: no longer listed
    page = client.get("/health").text
    assert 'data-worker="host-a:4242:1"' not in page and "No worker is running" in page
