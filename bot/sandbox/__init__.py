"""A local stand-in for X, Bluesky and Mastodon: the endpoints the three SDKs call, validating as the
platforms do, with fault injection. ``crosspost sandbox`` serves it; tests and ``make demo`` use it.

>>> with Sandbox() as sb:                    # doctest: +SKIP
...     env = sb.env()                        # point crosspost at it
...     sb.app.inject("x.tweets.create", "error", status=503)
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from bot.sandbox.core import SandboxApp, SandboxServer

# The sandbox's own accounts. They are not secrets: they only open the local sandbox.
CREDENTIALS: dict[str, str] = {
    "X_API_KEY": "sandbox-x-consumer-key",
    "X_API_SECRET": "sandbox-x-consumer-secret",
    "X_ACCESS_TOKEN": "1000000001-sandboxaccesstoken",
    "X_ACCESS_TOKEN_SECRET": "sandbox-x-access-secret",
    "BLUESKY_HANDLE": "crosspost.sandbox.test",
    "BLUESKY_APP_PASSWORD": "sand-box0-app0-pass",
    "MASTODON_ACCESS_TOKEN": "sandbox-mastodon-token",
}


def build_app(*, seed: int | None = None, mastodon_max_characters: int | None = None,
              mastodon_flavor: str | None = None) -> SandboxApp:
    """A SandboxApp with all three platforms registered; Mastodon plays ``mastodon_flavor`` (default: the
    ``CROSSPOST_SANDBOX_MASTODON_FLAVOR`` environment variable, else ``mastodon``)."""
    import os

    from bot.sandbox import bluesky, flavors, mastodon, x

    app = SandboxApp(seed=seed)
    x.register(app, CREDENTIALS)
    bluesky.register(app, CREDENTIALS)
    flavor = mastodon_flavor or os.environ.get(flavors.FLAVOR_ENV) or "mastodon"
    mastodon.register(app, CREDENTIALS, max_characters=mastodon_max_characters, flavor=flavor)
    return app


class Sandbox:
    """Serve the sandbox on 127.0.0.1 in a background thread."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", **app_options: Any) -> None:
        self.app = build_app(**app_options)
        self.server = SandboxServer(self.app, host, port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """The environment that points crosspost at this sandbox."""
        return {
            **CREDENTIALS,
            "X_API_BASE_URL": self.url,
            "BLUESKY_SERVICE_URL": self.url,
            "MASTODON_API_BASE_URL": self.url,
            "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1",
        }

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self.server.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
