"""One module per platform, each with one adapter class; loaded on demand so a dry run imports no SDK."""

from __future__ import annotations

import importlib

from adapters.base import Adapter

PLATFORMS: tuple[str, ...] = ("x", "bluesky", "mastodon")


def adapter_class(platform: str) -> type[Adapter]:
    """The adapter class for ``platform`` (imports ``adapters.<platform>`` now, and its SDK on first use)."""
    if platform not in PLATFORMS:
        raise KeyError(platform)
    module = importlib.import_module(f"adapters.{platform}")
    cls: type[Adapter] = module.ADAPTER
    return cls
