"""Process-wide event counters that /healthz or a metrics endpoint can read.

Only counts, never payloads: ``count("webhook_refused", reason="size")`` adds one to the series
``webhook_refused{reason="size"}``. A lock keeps increments from the thread pool exact.
"""

from __future__ import annotations

import threading
from collections import Counter

_LOCK = threading.Lock()
_COUNTS: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()


def count(name: str, **labels: str) -> None:
    """Add one to the series ``name`` with these labels."""
    key = (name, tuple(sorted(labels.items())))
    with _LOCK:
        _COUNTS[key] += 1


def value(name: str, **labels: str) -> int:
    """The current count of one series (0 when never counted)."""
    with _LOCK:
        return _COUNTS[(name, tuple(sorted(labels.items())))]


def snapshot() -> dict[str, int]:
    """Every series as ``name{label="value",...}`` -> count, Prometheus-style names."""
    with _LOCK:
        items = list(_COUNTS.items())
    out: dict[str, int] = {}
    for (name, labels), n in sorted(items):
        inner = ",".join(f'{k}="{v}"' for k, v in labels)
        out[f"{name}{{{inner}}}" if inner else name] = n
    return out
