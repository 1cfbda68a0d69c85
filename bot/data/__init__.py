"""Tables generated from the platforms' own code (see NOTICE.md), read lazily on first use.

The files are plain text so that importing :mod:`bot.text` costs nothing: each table is read and
parsed by the first function that needs it. ``tests/conformance/generate/build_bot_data.py``
regenerates them.
"""

from __future__ import annotations

import os

_DIR = os.path.dirname(os.path.abspath(__file__))


def lines(name: str) -> list[str]:
    """The non-empty, non-comment lines of the data file ``name``."""
    with open(os.path.join(_DIR, name), encoding="utf-8") as handle:
        text = handle.read()
    return [line for line in text.splitlines() if line and not line.startswith("# ")]


def ranges(text: str) -> list[tuple[int, int]]:
    """Parse ``"41-5a 61 ..."`` (hex code points, single or ``a-b``) into inclusive pairs."""
    pairs: list[tuple[int, int]] = []
    for item in text.split():
        first, _, last = item.partition("-")
        pairs.append((int(first, 16), int(last or first, 16)))
    return pairs
