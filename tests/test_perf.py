"""What the speed-ups (issue 12) rely on, checked so that they stay true."""

from __future__ import annotations

from adapters import adapter_class
from bot.rules import PLATFORM_NAMES, RULES


def test_server_limits_flag_matches_the_adapters() -> None:
    """A dry run skips importing adapters by reading ``server_limits``: it must say which adapters read servers."""
    for platform in PLATFORM_NAMES:
        asks = callable(getattr(adapter_class(platform), "server_facts", None))
        assert RULES[platform].server_limits == asks, platform
