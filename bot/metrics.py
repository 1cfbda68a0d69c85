"""Prometheus metrics of this process (served at ``GET /metrics`` by ``crosspost serve``).

Counters move where the outcome is decided, through :func:`record_run` (called once per publishing run
by :class:`bot.publish.Publisher`) and the webhook middleware in :mod:`bot.web.app`. The queue depth is
read from the store when scraped, so every process sees the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

POSTS = Counter("crosspost_posts", "Publishing outcomes per target account (one per article and account)",
                ["platform", "outcome"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("crosspost_queue_jobs", "Jobs in the queue by state", ["state"], registry=REGISTRY)
JOB_LATENCY = Histogram("crosspost_job_latency_seconds", "From a job's due time to the end of its publishing run",
                        buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600), registry=REGISTRY)
WEBHOOK = Counter("crosspost_webhook_requests", "Webhook requests by endpoint and answer code",
                  ["endpoint", "code"], registry=REGISTRY)

OUTCOMES = {"published": "published", "already_published": "already_published", "deferred": "deferred",
            "failed": "failed"}


def record_run(results: Sequence[Any], job_due: datetime | None = None) -> None:
    """Count each target's outcome; with ``job_due``, the job's latency from its due time to now."""
    for r in results:
        POSTS.labels(r.platform, OUTCOMES.get(r.status, "failed")).inc()
    if job_due is not None:
        JOB_LATENCY.observe(max(0.0, (datetime.now(UTC) - job_due).total_seconds()))


def exposition(store: Any) -> bytes:
    """The text format, with the queue depth read from ``store`` now."""
    from bot.store.models import JOB_STATES

    counts = store.job_counts()
    for state in JOB_STATES:
        QUEUE_DEPTH.labels(state).set(counts.get(state, 0))
    return bytes(generate_latest(REGISTRY))
