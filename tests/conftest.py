"""Shared fixtures: the sandbox on 127.0.0.1, an in-memory key/value store, paths to sample data."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ImageData
from bot.sandbox import Sandbox
from tests.pds_harness import pds  # noqa: F401

if os.environ.get("CROSSPOST_TEST_TOY") == "1":  # tests/test_registry.py: the toy joins every parametrised test
    from bot import platforms
    from tests.toy import ENTRY

    platforms.register(ENTRY)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "samples" / "microsoft-openai.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class MemoryKV:
    """The adapters' KeyValue protocol in memory (the store implements it on disk)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, float | None]] = {}

    def kv_get(self, key: str) -> Any | None:
        value, expires = self.data.get(key, (None, None))
        if expires is not None and expires < time.time():
            return None
        return value

    def kv_set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> None:
        self.data[key] = (value, time.time() + ttl_seconds if ttl_seconds else None)


def image_at(platform: str, url: str, alt: str = "") -> ImageData:
    """What the publisher hands ``platform``'s adapter for the image at ``url``: fetched (loopback
    allowed) within the platform's cap, typed from its bytes. Raises Transient / Permanent as it does."""
    from bot import images
    from bot import platforms as registry

    entry = registry.get(platform)
    return images.load_image(images.ImageFetches(entry.image_max_bytes), url, alt=alt,
                             max_bytes=entry.image_max_bytes, types=entry.image_types, label=platform,
                             timeout=5.0, allow_private=True)


@pytest.fixture
def kv() -> MemoryKV:
    return MemoryKV()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (all three platforms) on a free port of 127.0.0.1."""
    with Sandbox(seed=1234) as sb:
        yield sb


@pytest.fixture
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.skip("../shared/samples is not present (a user's checkout): sample-article test skipped")
    return SAMPLE


def sandbox_env_for(sandbox: Sandbox, names: tuple[str, ...]) -> dict[str, str]:
    """The sandbox's environment with credentials for ``names`` only (the others are then no target)."""
    from bot import platforms

    others = {c for p in platforms.all_platforms() if p.name not in names for c in p.credentials}
    return {k: v for k, v in sandbox.env().items() if k not in others}
