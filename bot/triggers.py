"""Entry points for the other two triggers and the queue under them:
``schedule``, ``queue``, ``cancel``, ``retry``, ``worker``, ``serve`` and ``watch``."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.commands import Parser, UsageError, print_table
from bot.logs import setup_logging

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|w)", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"``, ``"1d"`` -> timedelta."""
    text = value.strip().replace(" ", "")
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNIT[m.group(2).lower()]
        pos = m.end()
    if pos != len(text) or not text or seconds <= 0:
        raise UsageError(f"--in {value!r} is not a duration like 90s, 15m, 2h, 1h30m or 1d")
    return timedelta(seconds=seconds)


def _zone(name: str | None) -> tzinfo | None:
    """The time zone called ``name`` (``UTC`` in any case); None for this machine's own (``TZ`` or the system's)."""
    if not name:
        return None
    if name.strip().upper() in ("UTC", "Z"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "Europe"
        raise UsageError(f"--tz {name!r} is not a time zone (e.g. Europe/Paris, America/New_York, UTC)") from None


def _in_zone(when: datetime, zone: tzinfo | None) -> datetime:
    """``when`` on the clock of ``zone`` (None: this machine's, with its daylight-saving rules for that date)."""
    return when.astimezone(zone) if zone is not None else when.astimezone()


def parse_when(at: str | None, in_: str | None, tz: str | None, now: datetime | None = None) -> datetime:
    """The UTC instant for ``--at`` (in ``--tz`` or local time) or ``--in``; now when neither is given.

    A wall-clock time is read with the zone's rules *for that date* (Paris is UTC+1 in winter and UTC+2
    in summer). A time the clocks skip (the spring-forward hour) is refused; a time they pass twice (the
    autumn hour) means the first of the two.
    """
    now = now or datetime.now(UTC)
    if at and in_:
        raise UsageError("give either --at or --in, not both")
    zone = _zone(tz)
    if in_:
        return now + parse_duration(in_)
    if not at:
        return now
    try:
        when = datetime.fromisoformat(at.strip().replace("T", " "))
    except ValueError:
        raise UsageError(f"--at {at!r} is not a date and time like \"2026-12-01 09:00\"") from None
    if when.tzinfo is not None:
        if tz:
            raise UsageError(f"--at {at!r} already carries a UTC offset; drop --tz")
        return when.astimezone(UTC)
    if zone is None:
        return when.astimezone(UTC)  # a naive datetime is local time to astimezone(), DST included
    aware = when.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != when:
        raise UsageError(f"--at {at!r} does not exist in {tz}: the clocks skip it (daylight saving); "
                         "pick a time outside the skipped hour")
    return aware.astimezone(UTC)


def _open() -> tuple[Any, Any]:
    from bot.config import load_settings
    from bot.store import connect

    settings = load_settings()
    return settings, connect(settings.database_url)


def _catchup_config() -> Any:
    """The catch-up sources from the environment (after ``.env`` was read), their key kept out of logs."""
    import os

    from bot.catchup import CatchupConfig
    from bot.logs import register_secrets

    config = CatchupConfig.from_env(os.environ)
    register_secrets(config.secrets)
    return config


def _targets(settings: Any, platform_arg: str | None) -> list[str]:
    from bot.rules import parse_platforms

    platforms = parse_platforms(platform_arg)
    return list(platforms)


def schedule(argv: Sequence[str]) -> int:
    """``crosspost schedule ARTICLE --at "2026-12-01 09:00" [--tz Europe/Paris] | --in 2h``."""
    p = Parser(prog="crosspost schedule", description="Queue an article to be posted later.")
    p.add_argument("article")
    p.add_argument("--at", help='local date and time, e.g. "2026-12-01 09:00"')
    p.add_argument("--tz", help="time zone of --at (default: this machine's)")
    p.add_argument("--in", dest="in_", metavar="DURATION", help="from now: 90s, 15m, 2h, 1d")
    p.add_argument("--platform", help="only these platforms (comma-separated)")
    p.add_argument("--url", help="the canonical link (overrides the article's)")
    p.add_argument("--publish-draft", action="store_true",
                   help="queue it even though the source marks it unpublished (draft, scheduled, private…)")
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--thread", action="store_true")
    p.add_argument("--format", choices=("text", "markdown", "html", "json"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    run_at = parse_when(args.at, args.in_, args.tz)
    from dataclasses import replace

    from bot.load import load_article
    from bot.policy import PUBLISH_DRAFT_KEY, check_option_url, check_publishable

    check_option_url(args.url)
    settings, store = _open()
    try:
        targets = _targets(settings, args.platform)
        article = load_article(args.article, fmt=args.format, allow_private=settings.allow_private_network)
        article = article.with_overrides(url=args.url, extra_tags=tuple(args.tag))
        check_publishable(article, allow_draft=args.publish_draft, origin=args.article)
        if args.thread:
            article = replace(article, thread=True)
        snapshot = {**article.to_dict(), **({PUBLISH_DRAFT_KEY: True} if args.publish_draft else {})}
        job, _ = store.enqueue(article=snapshot, article_key=article.key, targets=targets, run_at=run_at)
    finally:
        store.close()
    if args.json:
        print(json.dumps(_job_json(job), ensure_ascii=False))
    else:
        local = _in_zone(run_at, _zone(args.tz))
        print(f"job {job.id}: {article.title or article.url} → {', '.join(targets)} at "
              f"{local:%Y-%m-%d %H:%M %Z} ({run_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
    return 0


def _job_json(job: Any) -> dict[str, Any]:
    return {
        "id": job.id, "article": {"title": job.article.get("title"), "url": job.article.get("url")},
        "targets": job.targets, "run_at": job.run_at.isoformat(), "state": job.state,
        "attempts": job.attempts, "last_error": job.last_error,
    }


def queue(argv: Sequence[str]) -> int:
    """``crosspost queue [--all] [--json]``: the jobs, due first."""
    p = Parser(prog="crosspost queue", description="List queued and running jobs (--all: finished ones too).")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    _, store = _open()
    try:
        jobs = store.list_jobs(include_finished=args.all)
    finally:
        store.close()
    if args.json:
        print(json.dumps([_job_json(j) for j in jobs], ensure_ascii=False, indent=2))
        return 0
    if not jobs:
        print("the queue is empty")
        return 0
    rows = [("id", "article", "targets", "when", "state", "attempts", "last error")]
    for j in jobs:
        title = (j.article.get("title") or j.article.get("url") or "")[:40]
        when = _in_zone(j.run_at, None)
        rows.append((str(j.id), title, ",".join(j.targets), f"{when:%Y-%m-%d %H:%M %Z}", j.state,
                     str(j.attempts), " ".join((j.last_error or "").split())[:60]))
    print_table(rows)
    return 0


def _job_id(p: Parser, argv: Sequence[str]) -> int:
    p.add_argument("job", type=int)
    return int(p.parse_args(argv).job)


def _change_job(job_id: int, action: str, allowed: str, done: str) -> int:
    """Apply ``store.cancel`` or ``store.retry`` to a job, refusing the states it does not apply to."""
    _, store = _open()
    try:
        job = store.get_job(job_id)
        if job is None:
            raise UsageError(f"no job {job_id} (see crosspost queue --all)")
        if not getattr(store, action)(job_id):
            raise UsageError(f"job {job_id} is {job.state}: only {allowed} job can be {done}")
    finally:
        store.close()
    print(f"job {job_id} {done}" if action == "cancel" else f"job {job_id} queued again")
    return 0


def cancel(argv: Sequence[str]) -> int:
    """``crosspost cancel JOB``: a queued job will not run."""
    job_id = _job_id(Parser(prog="crosspost cancel", description="Cancel a queued job."), argv)
    return _change_job(job_id, "cancel", "a queued", "cancelled")


def retry(argv: Sequence[str]) -> int:
    """``crosspost retry JOB``: a failed or cancelled job is queued again, due now."""
    job_id = _job_id(Parser(prog="crosspost retry", description="Queue a failed or cancelled job again."), argv)
    return _change_job(job_id, "retry", "a failed or cancelled", "retried")


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def worker(argv: Sequence[str]) -> int:
    """``crosspost worker [--once] [--concurrency N] [--lease S] [--poll S]``: run due jobs.

    SIGTERM or Ctrl-C: stop claiming, let the jobs in flight finish (a job about to wait for a retry is
    released to the queue instead), exit 0.
    """
    p = Parser(prog="crosspost worker",
               description="Run due jobs from the queue (SIGTERM finishes or releases the jobs in flight).")
    p.add_argument("--once", action="store_true", help="run what is due now, then exit")
    p.add_argument("--concurrency", type=int, default=1, help="jobs at a time (default 1)")
    p.add_argument("--lease", type=float, default=120.0,
                   help="seconds a claimed job is held without a heartbeat before another worker may take it")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an idle queue")
    args = p.parse_args(argv)
    if args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency} must be at least 1")
    if not args.lease > 0:
        raise UsageError(f"--lease {args.lease:g} must be a positive number of seconds")
    if not args.poll > 0:
        raise UsageError(f"--poll {args.poll:g} must be a positive number of seconds")
    stop = threading.Event()
    _stop_on_signals(stop)  # first: a SIGTERM while starting up is a clean stop too
    setup_logging("INFO")
    from bot.logs import get_logger
    from bot.worker import Worker

    settings, store = _open()
    w = Worker(settings, store, concurrency=args.concurrency, lease_seconds=args.lease, poll_interval=args.poll)
    w.stop = stop
    get_logger("crosspost.worker").info("worker_started", extra={"worker": w.name, "store": store.url_display})
    try:
        count = w.run(once=args.once)
    finally:
        store.close()
    if args.once:
        print(f"ran {count} job{'s' if count != 1 else ''}")
    return 0


_SERVE_EPILOG = """\
signatures:
  POST /hooks/ghost       X-Ghost-Signature: sha256=<HMAC-SHA256(body + t)>, t=<ms>   (Ghost's own scheme)
  POST /hooks/wordpress   X-Crosspost-Signature: sha256=<HMAC-SHA256(timestamp "." body)>
  POST /hooks/generic       + X-Crosspost-Timestamp: <seconds>, at most 5 minutes off
  GET  /jobs/{id}         Authorization: Bearer <CROSSPOST_API_TOKEN>  (404 when the token is not set)
  GET  /healthz, GET /openapi.json   no authentication

environment:
  CROSSPOST_WEBHOOK_SECRET           the HMAC secret shared with the CMS (required)
  CROSSPOST_WEBHOOK_INSECURE=1       accept unsigned requests instead (development only; refused
                                     together with a secret)
  CROSSPOST_WEBHOOK_DELAY=0          seconds between a publish event and posting
  CROSSPOST_API_TOKEN                read token for GET /jobs, different from the secret
  CROSSPOST_WEBHOOK_HEADER_TIMEOUT=10  seconds a client has to send its request headers
  CROSSPOST_WEBHOOK_BODY_TIMEOUT=30    seconds for the whole body once the headers are in (408)
  CROSSPOST_WEBHOOK_IDLE_TIMEOUT=5     seconds an idle keep-alive connection stays open
  CROSSPOST_WEBHOOK_MAX_CONNECTIONS=100  connections at once; more are answered 503 and closed
  DATABASE_URL, platform credentials: as for every command (see .env.example)

examples:
  CROSSPOST_WEBHOOK_SECRET=... crosspost serve
  crosspost serve --host 0.0.0.0 --port 9000 --no-worker      # and crosspost worker elsewhere
"""


def serve(argv: Sequence[str]) -> int:
    """``crosspost serve [--host] [--port] [--no-worker]``: the signed publish webhook (and a worker).

    Everything is checked before the server starts (environment, then the port, bound here so a busy
    one is one line); then uvicorn serves on that socket with the limits of :mod:`bot.server`.
    """
    import argparse
    import os

    p = Parser(prog="crosspost serve", epilog=_SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Serve the publish webhooks; also run a worker unless told not to.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)")
    p.add_argument("--port", type=int, default=8080, help="TCP port, 1-65535 (default 8080)")
    p.add_argument("--no-worker", action="store_true",
                   help="only queue jobs; run them with crosspost worker (default: a worker runs here too)")
    p.add_argument("--platform", help="targets for webhook jobs, comma-separated (default: all configured)")
    args = p.parse_args(argv)
    from bot.config import read_env_file
    from bot.server import ServeEnv, listen, run_server
    from bot.webhook import MAX_BODY_ENV, parse_body_limit

    read_env_file()  # the serve settings below may come from .env, like the rest
    env = ServeEnv.read(os.environ)
    max_body = parse_body_limit(os.environ.get(MAX_BODY_ENV))
    catchup = _catchup_config()
    sock = listen(args.host, args.port)
    try:
        setup_logging("INFO")
        from bot.webhook import create_app
        from bot.worker import Worker

        settings, store = _open()
        background: Worker | None = None
        thread: threading.Thread | None = None
        polling = None
        try:
            app = create_app(settings, store, secret=env.secret, insecure=env.insecure,
                             delay_seconds=env.delay_seconds, targets=_targets(settings, args.platform),
                             api_token=env.api_token, body_timeout=env.limits.body_timeout,
                             max_body_bytes=max_body)
            if not args.no_worker:
                background = Worker(settings, store)
                thread = threading.Thread(target=background.run, name="worker", daemon=True)
                thread.start()
            from bot.catchup import start_catchup

            polling = start_catchup(store, catchup, settings=settings, targets=_targets(settings, args.platform))
            # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal with the handler
            # it found: make that ours, so a normal stop exits 0 after the worker has finished its jobs.
            _stop_on_signals(threading.Event())
            run_server(app, sock, env.limits)
        finally:
            if polling is not None:
                polling[1].set()
                polling[0].join(timeout=30)
            if background is not None and thread is not None:
                background.stop.set()
                thread.join(timeout=30)
            store.close()
    finally:
        sock.close()
    return 0


def watch(argv: Sequence[str]) -> int:
    """``crosspost watch FEED_URL [--every 10m] [--backfill N]``: queue new feed entries."""
    p = Parser(prog="crosspost watch", description="Poll an RSS/Atom feed and queue entries not seen before.")
    p.add_argument("feed")
    p.add_argument("--every", default="10m")
    p.add_argument("--backfill", type=int, default=0, help="on the first run, queue the N newest entries")
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument("--platform")
    args = p.parse_args(argv)
    every = parse_duration(args.every).total_seconds()
    setup_logging("INFO")
    from dataclasses import replace

    from bot.catchup import poll_all, start_catchup
    from bot.feeds import poll_feed, watch_loop

    settings, store = _open()
    catchup = replace(_catchup_config(), feed_url=None)  # the feed argument is polled below
    targets = _targets(settings, args.platform)
    polling = None
    try:
        if args.once:
            if catchup.enabled:
                poll_all(store, catchup, settings=settings, targets=targets)
            result = poll_feed(store, args.feed, settings=settings, targets=targets, backfill=args.backfill)
            print(f"{args.feed}: queued {len(result.queued)} new entr{'ies' if len(result.queued) != 1 else 'y'}")
            return 0
        stop = threading.Event()
        _stop_on_signals(stop)
        polling = start_catchup(store, catchup, settings=settings, targets=targets)
        watch_loop(store, args.feed, every, stop, settings=settings, targets=targets, backfill=args.backfill)
    finally:
        if polling is not None:
            polling[1].set()
            polling[0].join(timeout=30)
        store.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(queue(sys.argv[1:]))
