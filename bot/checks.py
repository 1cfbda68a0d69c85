"""Checks for the values a user gives: command-line options, environment variables, crosspost.toml keys.

Each check reads a value either as text (an option or an environment variable) or as the typed value TOML
gave, and raises :class:`BadValue` saying what it must be (``"must be a whole number from 0 to 30"``).
The caller adds where the value came from (``--backfill``, ``CROSSPOST_TIMEOUT``, ``crosspost.toml
[compose.x] max_hashtags``), so every bad value is reported as one line naming its source.

Each check also describes itself (``kind``, bounds, choices), which is how the bad-value test derives
values to try for every option, variable and key without a hand-kept list.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class BadValue(ValueError):
    """A value outside what its setting accepts; the message says what it must be."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``" — did you mean status?"`` for a near miss of one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(value.lower(), list(choices), n=1, cutoff=0.6)
    return f" — did you mean {close[0]}?" if close else ""


@dataclass(frozen=True)
class Number:
    """A number in ``[minimum, maximum]`` (``above`` instead of ``minimum``: strictly greater)."""

    minimum: float | None = None
    maximum: float = 10**9
    integer: bool = True
    above: float | None = None
    unit: str = ""
    kind: str = "number"

    def describe(self) -> str:
        what = "a whole number" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        if self.above is not None:
            return f"{what} greater than {_num(self.above)} and at most {_num(self.maximum)}{unit}"
        return f"{what} from {_num(self.minimum or 0)} to {_num(self.maximum)}{unit}"

    def from_text(self, text: str) -> float:
        raw = text.strip()
        try:
            value: float = int(raw) if self.integer else float(raw)
        except ValueError:
            raise BadValue(f"must be {self.describe()}") from None
        return self._in_range(value)

    def from_value(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or (self.integer and isinstance(value, float)):
            raise BadValue(f"must be {self.describe()}")
        return self._in_range(value)

    def _in_range(self, value: float) -> float:
        low_ok = (self.above is None or value > self.above) and (self.minimum is None or value >= self.minimum)
        if not math.isfinite(value) or not low_ok or value > self.maximum:
            raise BadValue(f"must be {self.describe()}")
        return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
"""The words a yes/no setting may be written with (any case); empty is no."""


@dataclass(frozen=True)
class Flag:
    """Yes or no: TOML ``true``/``false``; as text 1/0, true/false, yes/no, on/off (empty: no)."""

    kind: str = "flag"

    def describe(self) -> str:
        return "true or false (1/0, yes/no, on/off)"

    def from_text(self, text: str) -> bool:
        raw = text.strip().lower()
        if raw in TRUE_WORDS:
            return True
        if raw in FALSE_WORDS:
            return False
        raise BadValue(f"must be {self.describe()}")

    def from_value(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise BadValue("must be true or false")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a few words (case-insensitive as text); a near miss gets a suggestion."""

    choices: tuple[str, ...]
    kind: str = "choice"

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def from_text(self, text: str) -> str:
        raw = text.strip().lower()
        if raw not in self.choices:
            raise BadValue(f"must be {self.describe()}{did_you_mean(raw, self.choices)}")
        return raw

    def from_value(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue(f"must be {self.describe()}")
        return self.from_text(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Text:
    """Non-empty text on one line, at most ``max_length`` characters."""

    max_length: int = 1000
    kind: str = "text"

    def describe(self) -> str:
        return f"non-empty text on one line, at most {self.max_length} characters"

    def from_text(self, text: str) -> str:
        if not text.strip() or _CONTROL.search(text) or len(text) > self.max_length:
            raise BadValue(f"must be {self.describe()}")
        return text

    def from_value(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue(f"must be {self.describe()}")
        return self.from_text(value)


@dataclass(frozen=True)
class HttpUrl:
    """An absolute http(s) URL with a host, without whitespace or control characters."""

    kind: str = "url"

    def describe(self) -> str:
        return "an http(s) URL such as https://example.com/path"

    def from_text(self, text: str) -> str:
        value = text.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise BadValue(f"must be {self.describe()}") from None
        bad = not value or any(c.isspace() for c in value) or _CONTROL.search(value)
        if bad or parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(value) > 2048:
            raise BadValue(f"must be {self.describe()}")
        return value

    def from_value(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue(f"must be {self.describe()}")
        return self.from_text(value)


@dataclass(frozen=True)
class TextTable:
    """A TOML table of ``name = "value"`` (e.g. ``utm``); every value a non-empty string."""

    kind: str = "table"

    def describe(self) -> str:
        return 'a table of name = "value"'

    def from_text(self, text: str) -> dict[str, str]:
        raise BadValue(f"must be {self.describe()}, which only crosspost.toml can hold")

    def from_value(self, value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) and v.strip() for v in value.values()):
            raise BadValue(f"must be {self.describe()}")
        return {str(k): str(v) for k, v in value.items()}


Check = Number | Flag | Choice | Text | HttpUrl | TextTable
