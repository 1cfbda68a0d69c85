"""The toy platform in the sandbox: one route that keeps posts and refuses what is too long."""

from __future__ import annotations

from typing import Any

from bot.sandbox.core import PlatformHooks, QuotaState, Request, Response, SandboxApp

CREDENTIALS: dict[str, str] = {"TOY_TOKEN": "sandbox-toy-token"}
LIMIT = 200


def _error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


def _rate_limited(_quota: QuotaState) -> Response:
    return Response(429, {"error": "slow down"})


def register(app: SandboxApp, credentials: dict[str, str], **_options: Any) -> None:
    token = credentials["TOY_TOKEN"]
    app.platform("toy", PlatformHooks(_error, _rate_limited, lambda _q: {}), lambda: {"posts": []})

    @app.route("POST", r"/toy/posts", "toy", "toy.posts.create")
    def create(app: SandboxApp, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return _error(401, "bad token")
        body = request.json()
        if len(body["text"]) > LIMIT:  # the toy's own count, not bot.text's
            return _error(422, f"text is {len(body['text'])}/{LIMIT} characters")
        with app.lock:
            posts = app.state["toy"]["posts"]
            post = {"id": str(len(posts) + 1), "text": body["text"], "reply_to": body.get("reply_to")}
            posts.append(post)
        return Response(200, {"id": post["id"], "url": f"https://toy.invalid/{post['id']}"})
