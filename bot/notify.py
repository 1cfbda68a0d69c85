"""Tell a person when an unattended run went wrong: one message per article run through Apprise.

``CROSSPOST_NOTIFY`` holds one or more Apprise URLs (``mailto://…``, ``slack://…``, ``ntfys://…``,
``json://host/path`` …), separated by commas or spaces. ``CROSSPOST_NOTIFY_ON`` says which outcomes are
worth a message: ``failed,deferred`` by default, ``published`` too if wanted. The message names the
article, each target with that outcome, the platform's own error and what crosspost does next.

A notification never changes or holds up publishing: it is sent after the outcome is on record, in a
thread that is waited for at most ``CROSSPOST_NOTIFY_TIMEOUT`` seconds (default 10), and any failure
to deliver is logged, nothing more.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.checks import BadValue, Number
from bot.errors import ConfigError
from bot.logs import get_logger
from bot.redact import redact

log = get_logger("crosspost.notify")

OUTCOMES = ("published", "failed", "deferred")
DEFAULT_ON = frozenset({"failed", "deferred"})
_SPLIT = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class NotifySettings:
    urls: tuple[str, ...] = ()
    on: frozenset[str] = DEFAULT_ON
    timeout: float = 10.0


TIMEOUT_CHECK = Number(above=0, maximum=600, integer=False, unit="seconds")
"""How long a notification may take at most: past it, it is logged and dropped (publishing never waits more)."""


def read_settings(env: Mapping[str, str]) -> NotifySettings:
    """``CROSSPOST_NOTIFY``, ``CROSSPOST_NOTIFY_ON`` and ``CROSSPOST_NOTIFY_TIMEOUT``, checked."""
    urls = tuple(u for u in _SPLIT.split(env.get("CROSSPOST_NOTIFY", "").strip()) if u)
    for url in urls:
        if "://" not in url:
            raise ConfigError(f"CROSSPOST_NOTIFY: {url!r} is not an Apprise URL (like ntfys://topic or "
                              "mailto://user:pass@example.com)")
    raw_on = env.get("CROSSPOST_NOTIFY_ON", "").strip()
    on = frozenset(o.lower() for o in _SPLIT.split(raw_on) if o) if raw_on else DEFAULT_ON
    unknown = sorted(on - set(OUTCOMES))
    if unknown:
        raise ConfigError(f"CROSSPOST_NOTIFY_ON: unknown outcome {', '.join(unknown)}; "
                          f"choose from {', '.join(OUTCOMES)}")
    raw_timeout = env.get("CROSSPOST_NOTIFY_TIMEOUT", "").strip()
    try:
        timeout = TIMEOUT_CHECK.from_text(raw_timeout) if raw_timeout else 10.0
    except BadValue as exc:
        raise ConfigError(f"CROSSPOST_NOTIFY_TIMEOUT={raw_timeout[:60]!r} {exc}") from None
    return NotifySettings(urls, on, float(timeout))


def _next_step(result: Any, job_id: int | None) -> str:
    when = result.retry_at.strftime("%Y-%m-%d %H:%M UTC") if getattr(result, "retry_at", None) else "later"
    if result.status == "deferred":
        if job_id is not None:
            return f"crosspost tries again at {when} (the job is rescheduled)"
        return f"not retried by this run: run the same command again after {when}"
    if result.status == "failed":
        if job_id is not None:
            return f"not retried on its own: fix the cause, then `crosspost retry {job_id}`"
        return "not retried on its own: fix the cause, then run the same command again"
    return "nothing to do"


def message(article: Any, results: Sequence[Any], on: frozenset[str], job_id: int | None = None) -> tuple[str, str]:
    """(title, body) for the results whose outcome is in ``on``."""
    chosen = [r for r in results if r.status in on]
    counts = ", ".join(f"{sum(r.status == s for r in chosen)} {s}" for s in OUTCOMES
                       if any(r.status == s for r in chosen))
    name = article.title or article.url
    title = f"crosspost: {counts} — {name}"
    lines = [f"Article: {name}", f"Link: {article.url}"]
    if job_id is not None:
        lines.append(f"Job: {job_id}")
    for r in chosen:
        lines.append("")
        lines.append(f"{r.platform} ({r.account}): {r.status}")
        if r.posts and r.status == "published":
            lines.extend(f"  {p.url}" for p in r.posts)
        if r.error:
            lines.append(f"  error: {r.error}")
        if r.status != "published":
            lines.append(f"  next: {_next_step(r, job_id)}")
    return title, "\n".join(lines)


def notify_run(settings: NotifySettings, article: Any, results: Sequence[Any], *, job_id: int | None = None,
               secrets: Sequence[str] = ()) -> bool:
    """Send one message about this run if any outcome is wanted; True if it was delivered.

    Never raises: an undeliverable message is logged.
    """
    if not settings.urls or not any(r.status in settings.on for r in results):
        return False
    title, body = message(article, results, settings.on, job_id)
    title, body = redact(title, tuple(secrets)), redact(body, tuple(secrets))
    outcome: list[bool] = []

    def send() -> None:
        try:
            import apprise

            sender = apprise.Apprise()
            for url in settings.urls:
                if not sender.add(_with_timeouts(url, settings.timeout)):
                    log.warning("notify_bad_url", extra={"url": redact(url.split("://", 1)[0] + "://…")})
            outcome.append(bool(len(sender)) and bool(sender.notify(title=title, body=body)))
        except Exception as exc:  # a notifier bug must never reach publishing
            log.warning("notify_error", extra={"error": f"{type(exc).__name__}: {exc}"})

    thread = threading.Thread(target=send, name="notify", daemon=True)
    thread.start()
    thread.join(settings.timeout)
    delivered = bool(outcome and outcome[0])
    if not delivered:
        log.warning("notify_undelivered", extra={"article": getattr(article, "url", ""),
                                                 "timed_out": thread.is_alive()})
    return delivered


def _with_timeouts(url: str, timeout: float) -> str:
    """Apprise's connect and read timeouts (``cto``, ``rto``) within ours, unless the URL sets them."""
    if "cto=" in url or "rto=" in url:
        return url
    seconds = f"{max(1.0, timeout / 2):g}"
    return url + ("&" if "?" in url else "?") + f"cto={seconds}&rto={seconds}"
