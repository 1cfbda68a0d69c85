"""``crosspost schedule / queue / cancel / retry`` run as a subprocess against a SQLite file in tmp_path:
the UTC instant stored for each way of saying when, time zones with their daylight-saving rules, the
queue as a table and as JSON, and one-line errors (exit 2) for every bad value or wrong job state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import platforms
from tests.conftest import ROOT


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """Run ``python -m bot.cli ...`` with its database in tmp_path, no credentials, cwd = tmp_path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL", "TZ"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'queue.db'}", "PYTHONPATH": str(ROOT), "TZ": "UTC"})

    def run(*args: str, tz: str | None = None) -> subprocess.CompletedProcess[str]:
        full = {**env, "TZ": tz} if tz else env
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                              env=full, cwd=tmp_path, timeout=60)

    return run


@pytest.fixture
def post_md(tmp_path: Path) -> str:
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: Scheduling works\nurl: https://blog.example.com/2026/scheduling\n"
                    "description: Posts go out when they should.\ntags: [Scheduling]\nlang: en\n---\n\n"
                    "Posts go out when they should.\n", encoding="utf-8")
    return str(path)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def scheduled(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(proc).stdout)
    return data


def stored(cli: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(ok(cli("queue", "--all", "--json")).stdout)
    return data


@pytest.mark.parametrize(("at", "tz", "utc"), [
    ("2037-12-01 09:00", "Europe/Paris", "2037-12-01T08:00:00+00:00"),  # CET, UTC+1
    ("2037-07-01 09:00", "Europe/Paris", "2037-07-01T07:00:00+00:00"),  # CEST, UTC+2
    ("2037-12-01 09:00", "America/New_York", "2037-12-01T14:00:00+00:00"),  # EST, UTC-5
    ("2037-07-01T09:00", "America/New_York", "2037-07-01T13:00:00+00:00"),  # EDT, UTC-4
    ("2037-12-01 09:00", "UTC", "2037-12-01T09:00:00+00:00"),
    ("2037-10-25 02:30", "Europe/Paris", "2037-10-25T00:30:00+00:00"),  # passed twice: the first one
])
def test_at_in_a_time_zone_stores_the_utc_instant(cli: Any, post_md: str, at: str, tz: str, utc: str) -> None:
    """--at read in --tz with that date's daylight-saving rules; the job stores the UTC instant."""
    job = scheduled(cli("schedule", post_md, "--at", at, "--tz", tz, "--json"))
    assert job["run_at"] == utc
    assert [j["run_at"] for j in stored(cli) if j["id"] == job["id"]] == [utc]


@pytest.mark.parametrize(("tz", "utc"), [
    ("America/New_York", "2037-12-01T14:00:00+00:00"),
    ("Europe/Paris", "2037-12-01T08:00:00+00:00"),
    ("Asia/Kolkata", "2037-12-01T03:30:00+00:00"),
])
def test_at_without_tz_is_the_machines_local_time(cli: Any, post_md: str, tz: str, utc: str) -> None:
    """Without --tz the machine's zone (TZ) applies, and the human output names it."""
    proc = ok(cli("schedule", post_md, "--at", "2037-12-01 09:00", tz=tz))
    assert "2037-12-01 09:00" in proc.stdout and utc[:16].replace("T", " ") + " UTC" in proc.stdout
    assert stored(cli)[0]["run_at"] == utc


def test_summer_date_in_winter_uses_the_summer_offset_of_the_local_zone(cli: Any, post_md: str) -> None:
    """Local time is read with the rules of the target date, not today's offset."""
    winter = scheduled(cli("schedule", post_md, "--at", "2037-01-15 12:00", "--json", tz="Europe/Paris"))
    summer = scheduled(cli("schedule", post_md, "--at", "2037-08-15 12:00", "--json", tz="Europe/Paris"))
    assert (winter["run_at"], summer["run_at"]) == ("2037-01-15T11:00:00+00:00", "2037-08-15T10:00:00+00:00")


def test_at_with_an_offset_needs_no_tz(cli: Any, post_md: str) -> None:
    """An --at that carries its offset (or Z) is taken as written."""
    assert scheduled(cli("schedule", post_md, "--at", "2037-12-01T09:00+01:00", "--json"))["run_at"] == \
        "2037-12-01T08:00:00+00:00"
    assert scheduled(cli("schedule", post_md, "--at", "2037-12-01T09:00Z", "--json"))["run_at"] == \
        "2037-12-01T09:00:00+00:00"


def test_in_duration_is_from_now(cli: Any, post_md: str) -> None:
    """--in 2h and --in 1h30m are counted from the moment of scheduling."""
    before = datetime.now(UTC)
    two = scheduled(cli("schedule", post_md, "--in", "2h", "--json"))
    mixed = scheduled(cli("schedule", post_md, "--in", "1h30m", "--json"))
    after = datetime.now(UTC)
    run_at = datetime.fromisoformat(two["run_at"])
    assert before + timedelta(hours=2) <= run_at <= after + timedelta(hours=2)
    run_at = datetime.fromisoformat(mixed["run_at"])
    assert before + timedelta(minutes=90) <= run_at <= after + timedelta(minutes=90)


def test_platform_choice_becomes_the_job_targets(cli: Any, post_md: str) -> None:
    """--platform mastodon queues a Mastodon-only job; no --platform means every platform."""
    only = scheduled(cli("schedule", post_md, "--in", "1h", "--platform", "mastodon", "--json"))
    two = scheduled(cli("schedule", post_md, "--in", "1h", "--platform", "bluesky,x", "--json"))
    every = scheduled(cli("schedule", post_md, "--in", "1h", "--json"))
    assert only["targets"] == ["mastodon"]
    assert two["targets"] == ["bluesky", "x"]
    assert every["targets"] == list(platforms.names())
    assert only["article"] == {"title": "Scheduling works", "url": "https://blog.example.com/2026/scheduling"}
    assert {j["id"]: j["targets"] for j in stored(cli)} == {
        only["id"]: ["mastodon"], two["id"]: ["bluesky", "x"], every["id"]: list(platforms.names())}


@pytest.mark.parametrize(("args", "needles"), [
    (("--at", "tomorrow"), ("--at 'tomorrow'", "2026-12-01 09:00")),
    (("--at", "2037-13-01 09:00"), ("--at '2037-13-01 09:00'",)),
    (("--at", "09:00"), ("--at '09:00'",)),
    (("--at", "2037-12-01 09:00", "--tz", "Mars/Olympus"), ("--tz 'Mars/Olympus'", "Europe/Paris")),
    (("--at", "2037-12-01 09:00", "--tz", "Europe"), ("--tz 'Europe'",)),
    (("--at", "2037-12-01 09:00", "--tz", "../../etc/passwd"), ("--tz",)),
    (("--at", "2037-12-01T09:00+01:00", "--tz", "Europe/Paris"), ("drop --tz",)),
    (("--at", "2037-03-29 02:30", "--tz", "Europe/Paris"), ("does not exist in Europe/Paris",)),
    (("--in", "2 hours"), ("--in '2 hours'", "2h")),
    (("--in", "0s"), ("--in '0s'",)),
    (("--in", "-1h"), ("--in",)),
    (("--in", "soon"), ("--in 'soon'",)),
    (("--at", "2037-12-01 09:00", "--in", "2h"), ("either --at or --in",)),
    (("--in", "1h", "--platform", "myspace"), ("myspace",)),
])
def test_bad_when_is_a_one_line_error(cli: Any, post_md: str, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    """Bad --at / --tz / --in / --platform: one line on stderr, exit 2, nothing queued."""
    one_line_error(cli("schedule", post_md, *args), *needles)
    assert stored(cli) == []


def test_queue_lists_due_first_as_table_and_json(cli: Any, post_md: str) -> None:
    """queue shows queued jobs soonest first; --json gives the same as objects; --all adds finished ones."""
    late = scheduled(cli("schedule", post_md, "--in", "3h", "--platform", "x", "--json"))
    soon = scheduled(cli("schedule", post_md, "--in", "1h", "--platform", "mastodon", "--json"))
    gone = scheduled(cli("schedule", post_md, "--in", "2h", "--json"))
    ok(cli("cancel", str(gone["id"])))
    table = ok(cli("queue")).stdout.splitlines()
    assert table[0].split() == ["id", "article", "targets", "when", "state", "attempts", "last", "error"]
    assert [line.split()[0] for line in table[1:]] == [str(soon["id"]), str(late["id"])]
    assert "Scheduling works" in table[1] and "mastodon" in table[1] and "queued" in table[1]
    listed = json.loads(ok(cli("queue", "--json")).stdout)
    assert [(j["id"], j["state"], j["targets"]) for j in listed] == [
        (soon["id"], "queued", ["mastodon"]), (late["id"], "queued", ["x"])]
    assert set(listed[0]) >= {"id", "article", "targets", "run_at", "state", "attempts", "last_error"}
    everything = json.loads(ok(cli("queue", "--all", "--json")).stdout)
    assert [(j["id"], j["state"]) for j in everything] == [
        (soon["id"], "queued"), (gone["id"], "cancelled"), (late["id"], "queued")]
    assert "cancelled" in ok(cli("queue", "--all")).stdout


def test_queue_when_empty_says_so(cli: Any) -> None:
    """An empty queue is a sentence, not a bare header; JSON is an empty list."""
    assert ok(cli("queue")).stdout.strip() == "the queue is empty"
    assert json.loads(ok(cli("queue", "--json")).stdout) == []


def test_cancel_and_retry_move_jobs_and_refuse_wrong_states(cli: Any, post_md: str) -> None:
    """cancel: queued only; retry: failed or cancelled only; anything else is a one-line error, exit 2."""
    job = scheduled(cli("schedule", post_md, "--in", "1h", "--json"))
    jid = str(job["id"])
    one_line_error(cli("retry", jid), f"job {jid} is queued", "failed or cancelled")
    assert ok(cli("cancel", jid)).stdout.strip() == f"job {jid} cancelled"
    one_line_error(cli("cancel", jid), f"job {jid} is cancelled", "only a queued job")
    assert ok(cli("retry", jid)).stdout.strip() == f"job {jid} queued again"
    again = next(j for j in stored(cli) if j["id"] == job["id"])
    assert again["state"] == "queued" and again["run_at"] == job["run_at"]  # a cancelled job keeps its time
    ok(cli("cancel", jid))
    before = datetime.now(UTC)
    assert ok(cli("retry", jid, "--now")).stdout.strip() == f"job {jid} queued again"
    again = next(j for j in stored(cli) if j["id"] == job["id"])
    assert again["state"] == "queued" and datetime.fromisoformat(again["run_at"]) <= datetime.now(UTC)
    assert datetime.fromisoformat(again["run_at"]) >= before - timedelta(seconds=1)  # due now, not in 1 h
    one_line_error(cli("cancel", "999"), "no job 999")
    one_line_error(cli("retry", "999"), "no job 999")
    one_line_error(cli("cancel", "abc"), "job 'abc' must be a whole number")
    one_line_error(cli("retry"), "required")


def test_retry_at_moves_a_queued_failed_or_cancelled_job(cli: Any, post_md: str) -> None:
    """retry --at/--tz (or --in) moves a job nobody holds to that time, read in the zone's rules; a past
    --at needs --now; a bad zone and an unknown job are one-line errors."""
    job = scheduled(cli("schedule", post_md, "--in", "1h", "--json"))
    jid = str(job["id"])
    moved = ok(cli("retry", jid, "--at", "2037-07-01 09:00", "--tz", "Europe/Paris")).stdout.strip()
    assert moved == f"job {jid} queued for 2037-07-01 09:00 CEST (2037-07-01 07:00 UTC)"
    again = next(j for j in stored(cli) if j["id"] == job["id"])
    assert (again["state"], again["run_at"]) == ("queued", "2037-07-01T07:00:00+00:00")
    ok(cli("cancel", jid))
    ok(cli("retry", jid, "--at", "2037-12-01 09:00", "--tz", "America/New_York"))
    again = next(j for j in stored(cli) if j["id"] == job["id"])
    assert (again["state"], again["run_at"]) == ("queued", "2037-12-01T14:00:00+00:00")
    before = datetime.now(UTC)
    ok(cli("retry", jid, "--in", "2h"))
    due = datetime.fromisoformat(next(j for j in stored(cli) if j["id"] == job["id"])["run_at"])
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= due <= datetime.now(UTC) + timedelta(hours=2)
    one_line_error(cli("retry", jid, "--at", "2020-01-01 09:00", "--tz", "UTC"), "in the past", "--now")
    one_line_error(cli("retry", jid, "--at", "2037-12-01 09:00", "--tz", "Mars/Olympus"), "--tz 'Mars/Olympus'")
    one_line_error(cli("retry", jid, "--tz", "UTC"), "--tz goes with --at")
    one_line_error(cli("retry", "999", "--in", "1h"), "no job 999")
    ok(cli("retry", jid, "--at", "2020-01-01 09:00", "--tz", "UTC", "--now"))
    due = datetime.fromisoformat(next(j for j in stored(cli) if j["id"] == job["id"])["run_at"])
    assert due >= before - timedelta(seconds=1)  # a passed time with --now: due at once, not in 2020
