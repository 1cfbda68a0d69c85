"""What happens after each publishing run, besides the ledger: metrics and the notification.

:class:`bot.publish.Publisher` calls :func:`run_finished` once per run, after every outcome is on
record; nothing here can change or delay an outcome beyond the notification's timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.logs import get_logger

log = get_logger("crosspost.observers")


def run_finished(settings: Any, article: Any, results: Sequence[Any], job: Any = None) -> None:
    """Count the outcomes and tell whoever asked to be told (``job``: the queued job this run was for)."""
    from bot import metrics, notify

    try:
        metrics.record_run(results, job.run_at if job is not None else None)
    except Exception as exc:  # metrics must never break publishing
        log.warning("metrics_error", extra={"error": f"{type(exc).__name__}: {exc}"})
    notify.notify_run(settings.notify, article, results, job_id=job.id if job is not None else None,
                      secrets=settings.secrets)
