"""Entry points for the other two triggers and the queue under them:
``schedule``, ``queue``, ``cancel``, ``retry``, ``worker``, ``serve`` and ``watch``."""

from __future__ import annotations

import gc
import json
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot import cliargs, platforms
from bot.checks import BadValue
from bot.cliargs import Parser, UsageError
from bot.commands import print_table
from bot.logs import setup_logging

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|w)", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3650)
"""The longest ``--in`` / ``--every`` (ten years): beyond it a date would leave the calendar."""


def parse_duration(value: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"``, ``"1d"`` -> timedelta (more than 0, at most 3650 days)."""
    text = value.strip().replace(" ", "")
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNIT[m.group(2).lower()]
        pos = m.end()
    if pos != len(text) or not text or seconds <= 0 or seconds > MAX_DURATION.total_seconds():
        raise UsageError(f"{value!r} is not a duration like 90s, 15m, 2h, 1h30m or 1d (at most 3650d)")
    return timedelta(seconds=seconds)


def zone_named(name: str) -> tzinfo:
    """The time zone called ``name`` (``UTC`` in any case); BadValue when there is none by that name."""
    if name.strip().upper() in ("UTC", "Z"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "Europe"
        raise BadValue("is not a time zone (e.g. Europe/Paris, America/New_York, UTC)") from None


def _zone(name: str | None) -> tzinfo | None:
    """The time zone called ``name``; None for this machine's own (``TZ`` or the system's)."""
    if name is None:
        return None
    try:
        return zone_named(name)
    except BadValue as exc:
        raise UsageError(f"--tz {name!r} {exc}") from None


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
    if at is not None and in_ is not None:
        raise UsageError("give either --at or --in, not both")
    zone = _zone(tz)
    if in_ is not None:
        try:
            return now + parse_duration(in_)
        except UsageError as exc:
            raise UsageError(f"--in {exc}") from None
    if at is None:
        return now
    try:
        when = datetime.fromisoformat(at.strip().replace("T", " "))
    except ValueError:
        raise UsageError(f"--at {at!r} is not a date and time like \"2026-12-01 09:00\"") from None
    if when.tzinfo is not None:
        if tz is not None:
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
    from bot.redact import register_secrets

    config = CatchupConfig.from_env(os.environ)
    register_secrets(config.secrets)
    return config


def _targets(settings: Any, chosen: Sequence[str] | None) -> list[str]:
    return list(chosen or platforms.names())


PAST_GRACE = timedelta(minutes=1)
"""How far in the past ``--at`` may be without ``--now`` (the minute being typed)."""

def is_past(run_at: datetime, now: datetime) -> bool:
    """Whether ``run_at`` has passed by more than the minute being typed (:data:`PAST_GRACE`)."""
    return run_at < now - PAST_GRACE


def _due_time(args: Any, doing: str) -> datetime:
    """The instant ``--at``/``--tz``/``--in`` name; a past ``--at`` is refused unless ``--now`` (then: now)."""
    now = datetime.now(UTC)
    run_at = parse_when(args.at, args.in_, args.tz, now)
    if is_past(run_at, now):
        if not args.now:
            raise UsageError(f"--at {args.at!r} is in the past ({run_at:%Y-%m-%d %H:%M} UTC); "
                             f"pass --now to {doing} at once")
        run_at = now
    return run_at


SCHEDULE_EXAMPLES = f"""\
examples:
  crosspost schedule post.md --at "2026-12-01 09:00" --tz Europe/Paris
  crosspost schedule post.md --in 2h --platform {platforms.example_list()}
  crosspost schedule https://blog.example.com/p/1 --in 1h30m --tag Python --json
  crosspost schedule post.md --at "2020-01-01 09:00" --now    a past time: post at once
"""


def schedule_parser() -> Parser:
    p = Parser(prog="crosspost schedule", description="Queue an article to be posted later (run a worker "
               "or serve to post it).", epilog=SCHEDULE_EXAMPLES)
    p.add_argument("article", type=cliargs.ARTICLE, help="a file (.txt .md .html .json) or an http(s) URL")
    p.add_argument("--at", type=cliargs.WHEN, help='local date and time, e.g. "2026-12-01 09:00" (or with an '
                   "offset: 2026-12-01T09:00+01:00); a past time needs --now")
    p.add_argument("--tz", type=cliargs.ZONE, help="time zone of --at, e.g. Europe/Paris (default: this machine's)")
    p.add_argument("--in", dest="in_", type=cliargs.DURATION, metavar="DURATION",
                   help="from now: 90s, 15m, 2h, 1h30m, 1d (at most 3650d)")
    p.add_argument("--now", action="store_true", help="if --at has passed, post at once instead of refusing")
    p.add_argument("--publish-draft", action="store_true",
                   help="queue it even though the source marks it unpublished (draft, scheduled, private…)")
    p.add_argument("--platform", type=cliargs.PLATFORMS, help="only these platforms (comma-separated; default: all)")
    p.add_argument("--url", type=cliargs.URL, help="the canonical link (overrides the article's)")
    p.add_argument("--tag", action="append", default=[], type=cliargs.TAG, help="add a hashtag (repeatable)")
    p.add_argument("--thread", action="store_true", help="post the body as a numbered thread")
    p.add_argument("--format", choices=cliargs.FORMATS, help="force the input format (default: by extension)")
    p.add_argument("--json", action="store_true", help="print the job as JSON")
    return p


def schedule(argv: Sequence[str]) -> int:
    """``crosspost schedule ARTICLE --at "2026-12-01 09:00" [--tz Europe/Paris] | --in 2h``."""
    args = schedule_parser().parse_args(argv)
    run_at = _due_time(args, "post it")
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


def queue_parser() -> Parser:
    p = Parser(prog="crosspost queue", description="List queued and running jobs (--all: finished ones too).",
               epilog="examples:\n  crosspost queue\n  crosspost queue --all --json\n")
    p.add_argument("--all", action="store_true", help="also list done, failed and cancelled jobs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def queue(argv: Sequence[str]) -> int:
    """``crosspost queue [--all] [--json]``: the jobs, due first."""
    args = queue_parser().parse_args(argv)
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


def _job_parser(name: str, description: str, epilog: str) -> Parser:
    p = Parser(prog=f"crosspost {name}", description=description, epilog=epilog)
    p.add_argument("job", type=cliargs.JOB_ID, help="the job's id (see crosspost queue --all)")
    return p


def _change_job(job_id: int, action: str, allowed: str, done: str, **options: Any) -> int:
    """Apply ``store.cancel`` or ``store.retry`` to a job, refusing the states it does not apply to."""
    _, store = _open()
    try:
        job = store.get_job(job_id)
        if job is None:
            raise UsageError(f"no job {job_id} (see crosspost queue --all)")
        if not getattr(store, action)(job_id, **options):
            raise UsageError(f"job {job_id} is {job.state}: only {allowed} job can be {done}")
    finally:
        store.close()
    print(f"job {job_id} {done}" if action == "cancel" else f"job {job_id} queued again")
    return 0


def cancel_parser() -> Parser:
    return _job_parser("cancel", "Cancel a queued job (crosspost retry JOB queues it again).",
                       "examples:\n  crosspost cancel 12\n")


def cancel(argv: Sequence[str]) -> int:
    """``crosspost cancel JOB``: a queued job will not run."""
    job_id = cancel_parser().parse_args(argv).job
    return _change_job(job_id, "cancel", "a queued", "cancelled")


def retry_parser() -> Parser:
    p = _job_parser("retry", "Queue a failed or cancelled job again: a failed job is due now, a cancelled one "
                    "keeps its time unless --now. With --at or --in, move a queued, failed or cancelled job to "
                    "that time.",
                    "examples:\n  crosspost retry 12          a cancelled job: at its time again\n"
                    "  crosspost retry 12 --now    at once\n"
                    '  crosspost retry 12 --at "2026-12-01 09:00" --tz Europe/Paris    at that time\n'
                    "  crosspost retry 12 --in 2h\n")
    p.add_argument("--at", type=cliargs.WHEN, help='run it at this local date and time, e.g. "2026-12-01 09:00" '
                   "(a past time needs --now)")
    p.add_argument("--tz", type=cliargs.ZONE, help="time zone of --at, e.g. Europe/Paris (default: this machine's)")
    p.add_argument("--in", dest="in_", type=cliargs.DURATION, metavar="DURATION",
                   help="run it this long from now: 90s, 15m, 2h, 1d")
    p.add_argument("--now", action="store_true", help="due at once, even a cancelled job whose time is ahead "
                   "(with --at: if that time has passed)")
    return p


def retry(argv: Sequence[str]) -> int:
    """``crosspost retry JOB [--now] [--at WHEN [--tz ZONE] | --in DURATION]``: queue a job again, or move it."""
    args = retry_parser().parse_args(argv)
    if args.at is None and args.in_ is None:
        if args.tz is not None:
            raise UsageError("--tz goes with --at")
        return _change_job(args.job, "retry", "a failed or cancelled", "retried", due_now=args.now)
    run_at = _due_time(args, "run it")
    _, store = _open()
    try:
        job = store.get_job(args.job)
        if job is None:
            raise UsageError(f"no job {args.job} (see crosspost queue --all)")
        if not store.reschedule_queued(args.job, run_at):
            raise UsageError(f"job {args.job} is {job.state}: only a queued, failed or cancelled job can be "
                             "moved to another time")
    finally:
        store.close()
    local = _in_zone(run_at, _zone(args.tz))
    print(f"job {args.job} queued for {local:%Y-%m-%d %H:%M %Z} ({run_at:%Y-%m-%d %H:%M} UTC)")
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def worker_parser() -> Parser:
    p = Parser(prog="crosspost worker",
               description="Run due jobs from the queue (SIGTERM finishes or releases the jobs in flight).",
               epilog="examples:\n  crosspost worker                  run until stopped\n"
               "  crosspost worker --once           run what is due now, then exit (cron)\n"
               "  crosspost worker --concurrency 4 --poll 5\n")
    p.add_argument("--once", action="store_true", help="run what is due now, then exit")
    p.add_argument("--concurrency", type=cliargs.count(1, 64), default=1, help="jobs at a time, 1 to 64 (default 1)")
    p.add_argument("--lease", type=cliargs.seconds(), default=120.0,
                   help="seconds a claimed job is held without a heartbeat before another worker may take it "
                   "(default 120)")
    p.add_argument("--poll", type=cliargs.seconds(3600), default=1.0,
                   help="seconds between looks at an idle queue (default 1)")
    return p


def worker(argv: Sequence[str]) -> int:
    """``crosspost worker [--once] [--concurrency N] [--lease S] [--poll S]``: run due jobs.

    SIGTERM or Ctrl-C: stop claiming, let the jobs in flight finish (a job about to wait for a retry is
    released to the queue instead), exit 0.
    """
    args = worker_parser().parse_args(argv)
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


SERVE_EPILOG = """\
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


def serve_parser() -> Parser:
    import argparse

    p = Parser(prog="crosspost serve", epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Serve the publish webhooks; also run a worker unless told not to.")
    p.add_argument("--host", type=cliargs.HOST, default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)")
    p.add_argument("--port", type=cliargs.count(1, 65535), default=8080, help="TCP port, 1-65535 (default 8080)")
    p.add_argument("--no-worker", action="store_true",
                   help="only queue jobs; run them with crosspost worker (default: a worker runs here too)")
    p.add_argument("--platform", type=cliargs.PLATFORMS,
                   help="targets for webhook jobs, comma-separated (default: all configured)")
    return p


def serve(argv: Sequence[str]) -> int:
    """``crosspost serve [--host] [--port] [--no-worker]``: the signed publish webhook (and a worker).

    Everything is checked before the server starts (environment, then the port, bound here so a busy
    one is one line); then uvicorn serves on that socket with the limits of :mod:`bot.server`.
    """
    import os

    args = serve_parser().parse_args(argv)
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
            # Everything alive now (modules, app, templates) lives as long as the server: out of the
            # collector's sight, so a full collection under load walks only what requests made. Measured
            # with bench/bench_ingest.py: the webhook's p99 fell from ~32 ms to ~20 ms (issue 12).
            gc.collect()
            gc.freeze()
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


def watch_parser() -> Parser:
    p = Parser(prog="crosspost watch", description="Poll an RSS/Atom feed and queue entries not seen before "
               "(the first poll only remembers what is there, unless --backfill).",
               epilog="examples:\n  crosspost watch https://blog.example.com/feed.xml --every 15m\n"
               f"  crosspost watch https://blog.example.com/atom.xml --once --backfill 3 "
               f"--platform {platforms.names()[-1]}\n")
    p.add_argument("feed", type=cliargs.URL, help="the feed's http(s) URL")
    p.add_argument("--every", type=cliargs.DURATION, default="10m",
                   help="time between polls: 90s, 15m, 2h (default 10m)")
    p.add_argument("--backfill", type=cliargs.count(0, 1000), default=0,
                   help="on the first run, queue the N newest entries (0 to 1000, default 0)")
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument("--platform", type=cliargs.PLATFORMS,
                   help="targets for the queued jobs, comma-separated (default: all configured)")
    return p


def watch(argv: Sequence[str]) -> int:
    """``crosspost watch FEED_URL [--every 10m] [--backfill N]``: queue new feed entries."""
    args = watch_parser().parse_args(argv)
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
