"""Structured logging: one ``key=value`` line per event, secrets replaced by ``***`` (:mod:`bot.redact`).

Events carry the article id, platform, account, idempotency key and post id as ``extra`` fields.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.redact import redact

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        parts = [f"level={record.levelname.lower()}", f"event={_quote(record.getMessage())}"]
        parts.extend(f"{k}={_quote(v)}" for k, v in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + _quote(self.formatException(record.exc_info).splitlines()[-1])
        return redact(line)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def setup_logging(default: str = "WARNING") -> None:
    """Log key=value lines to stderr at ``CROSSPOST_LOG_LEVEL`` (default ``default``)."""
    level = os.environ.get("CROSSPOST_LOG_LEVEL", default).upper()
    root = logging.getLogger("crosspost")
    if not any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(KeyValueFormatter())
        root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "WARNING")
    root.propagate = False
