"""What ``crosspost serve`` adds to the webhook app: ``GET /metrics``, the webhook request counter and,
when ``CROSSPOST_DASHBOARD_PASSWORD`` is set, the dashboard at ``/``. The webhook endpoints keep their
own authentication (signatures, bearer token); nothing here touches them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics


class WebhookCounter:
    """ASGI middleware: count each ``/hooks/…`` request by endpoint and answer code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/hooks/"):
            await self.app(scope, receive, send)
            return
        endpoint = path.removeprefix("/hooks/").split("/", 1)[0] or "?"
        if endpoint not in ("ghost", "wordpress", "generic"):
            endpoint = "other"  # never a label per unknown path
        code = [500]

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                code[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            metrics.WEBHOOK.labels(endpoint, str(code[0])).inc()


def extend(app: Starlette, settings: Any, store: Any, env: Mapping[str, str] | None = None) -> Starlette:
    """Add /metrics, the webhook counter and (if configured) the dashboard to the webhook ``app``."""
    env = os.environ if env is None else env

    async def metrics_endpoint(request: Request) -> Response:
        body = await run_in_threadpool(metrics.exposition, store)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    app.router.routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    password = env.get("CROSSPOST_DASHBOARD_PASSWORD") or ""
    if password:
        from bot.web.dashboard import mount

        mount(app, settings, store, password=password, secret=env.get("CROSSPOST_DASHBOARD_SECRET") or None)
    app.add_middleware(WebhookCounter)
    return app
