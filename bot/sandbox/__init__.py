"""A local stand-in for every registered platform (:mod:`bot.platforms`): the endpoints their SDKs call,
validating as the platforms do, with fault injection. ``crosspost sandbox`` serves it; tests and ``make demo`` use it.

>>> with Sandbox() as sb:                    # doctest: +SKIP
...     env = sb.env()                        # point crosspost at it
...     sb.app.inject("PLATFORM.ROUTE", "error", status=503)
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from bot.sandbox.core import SandboxApp, SandboxServer


def credentials() -> dict[str, str]:
    """The sandbox's own accounts (each sandbox module's ``CREDENTIALS``): not secrets, they only open it."""
    from bot import platforms

    return {k: v for p in platforms.all_platforms() for k, v in p.sandbox_module().CREDENTIALS.items()}


def cli_options() -> dict[str, dict[str, Any]]:
    """Per platform, the options its sandbox module offers on ``crosspost sandbox`` (``CLI_OPTIONS``)."""
    from bot import platforms

    return {p.name: dict(getattr(p.sandbox_module(), "CLI_OPTIONS", {})) for p in platforms.all_platforms()}


def build_app(*, seed: int | None = None, options: dict[str, dict[str, Any]] | None = None) -> SandboxApp:
    """A SandboxApp with every registered platform's sandbox module registered on it.

    ``options``: per platform name, keyword arguments for that module's ``register`` (None values dropped).
    """
    from bot import platforms

    app = SandboxApp(seed=seed)
    creds = credentials()
    for platform in platforms.all_platforms():
        own = {k: v for k, v in ((options or {}).get(platform.name) or {}).items() if v is not None}
        platform.sandbox_module().register(app, creds, **own)
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
        from bot import platforms

        return {
            **credentials(),
            **{p.base_url_env: self.url for p in platforms.all_platforms() if p.base_url_env},
            "CROSSPOST_ALLOW_PRIVATE_NETWORK": "1",
        }

    @property
    def sample_image_url(self) -> str:
        """An image the sandbox serves (the demo's card image: no internet needed)."""
        return f"{self.url}/_sandbox/sample.png"

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
