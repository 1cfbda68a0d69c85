"""Bluesky's counting rule: grapheme clusters (300) and UTF-8 bytes (3,000); facets live in :mod:`bot.facets`."""

from __future__ import annotations

from typing import Any

from bot.facets import bluesky_facets, is_bluesky_tag, link_spans
from bot.text import graphemes

__all__ = ["bluesky_facets", "bluesky_length", "card", "is_bluesky_tag", "link_spans"]


def bluesky_length(text: str) -> int:
    """Bluesky's length of ``text``: graphemes (limit 300). Check :func:`bot.text.utf8_len` <= 3000 too."""
    return graphemes(text)


def measure(text: str, _url_weight: int) -> int:
    return graphemes(text)


def card(uri: str, title: str, description: str) -> dict[str, Any]:
    """The record's link card in the atproto lexicon's shape (``app.bsky.embed.external``)."""
    return {"$type": "app.bsky.embed.external", "external": {"uri": uri, "title": title, "description": description}}
