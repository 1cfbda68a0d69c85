"""Threads (graph.threads.net v1.0) in the sandbox: containers, publishing, listing, quota and delete.

What it validates, as the Threads docs describe it (https://developers.facebook.com/docs/threads/posts/):

- the access token (``access_token`` as a query or form parameter, or a Bearer header): else code 190;
- ``media_type`` TEXT (``text`` required) or IMAGE (``image_url`` required; an IMAGE container stays
  ``IN_PROGRESS`` for ``image_polls`` status reads, as Threads fetches the image, and cannot be published
  before it is ``FINISHED``: code 9007);
- 500 characters, counted here with the ``emoji`` package ("Emojis are counted as the number of UTF-8
  bytes"), a second implementation that does not share code with the bot's measure;
- at most 5 unique links (text links plus a different ``link_attachment``), ``link_attachment`` only on
  TEXT, one ``topic_tag`` of 1–50 characters without ``.`` or ``&``, ``reply_to_id`` a live post.

A container is published once: publishing a ``PUBLISHED`` container again is not documented, so the
sandbox does the worst a server could do and publishes a second post (a client that does it is caught).
Errors are the Graph API's envelope; rate limits are code 613 with a ``Retry-After`` header (the real API
documents no such header: the adapter uses it when present and waits long when not). The 250 posts per
24 hours are the ``publish`` quota bucket of ``threads_publish`` (replies share it here, unlike the real
API's separate 1,000), reported by ``threads_publishing_limit``. Containers do not expire on their own;
a test sets ``status = "EXPIRED"`` on one in ``app.state["threads"]["containers"]``.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox.core import PlatformHooks, QuotaState, Request, Response, SandboxApp

USER_ID = "17841400008460056"
USERNAME = "crosspost"
CREDENTIALS: dict[str, str] = {"THREADS_ACCESS_TOKEN": "sandbox-threads-token", "THREADS_USER_ID": USER_ID}
LIMIT = 500
MAX_LINKS = 5
TOPIC_MAX = 50
PREFIX = "/v1.0"
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_ids = itertools.count(18000000000000001)


def own_length(text: str) -> int:
    """Threads' count: characters, each emoji (as the ``emoji`` package finds them) by its UTF-8 bytes."""
    import emoji

    total = len(text)
    for found in emoji.emoji_list(text):
        chars = text[found["match_start"]:found["match_end"]]
        total += len(chars.encode("utf-8")) - len(chars)
    return total


def _links(text: str) -> set[str]:
    return {m.group(0).rstrip(".,;:!?)]}'\"") for m in _LINK.finditer(text)}


def graph_error(status: int, message: str, code: int = 100, subcode: int | None = None,
                **extra: Any) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException" if code == 190 else "THApiException",
                             "code": code, "fbtrace_id": "AsandboxTrace", **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Response(status, {"error": error})


def _injected_error(status: int, message: str) -> Response:
    if status >= 500:
        return graph_error(status, "An unexpected error has occurred. Please retry your request later.", 2,
                           is_transient=True)
    return graph_error(status, message, 100)


def _rate_limited(quota: QuotaState) -> Response:
    response = graph_error(429, "Calls to this api have exceeded the rate limit.", 613)
    response.headers["Retry-After"] = str(max(1, math.ceil(quota.reset_epoch - time.time())))
    return response


def _params(request: Request) -> dict[str, str]:
    """Query and form parameters together (Threads takes either)."""
    merged = {k: v[0] for k, v in request.query.items() if v}
    if request.body and "json" not in request.header("content-type"):
        merged.update({k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items() if v})
    elif request.body:
        merged.update({k: str(v) for k, v in (request.json() or {}).items()})
    return merged


def _missing(object_id: str) -> Response:
    return graph_error(400, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation", 100, 33)


CLI_OPTIONS: dict[str, dict[str, Any]] = {
    "publish_quota": {"type": "count", "help": "posts per 24 hours (default: Threads' 250)"},
    "delete_quota": {"type": "count", "help": "deletes per 24 hours (default: Threads' 100)"},
}


def register(app: SandboxApp, credentials: dict[str, str], *, image_polls: int = 1, publish_quota: int = 250,
             delete_quota: int = 100, **_options: Any) -> None:
    """``publish_quota``/``delete_quota``: the 24-hour buckets, Threads' own by default; a run that posts
    more than a real account could in a day (the chaos and corpus runs) sets them higher."""
    token = credentials["THREADS_ACCESS_TOKEN"]
    user_id = credentials["THREADS_USER_ID"]

    def fresh() -> dict[str, Any]:
        return {"posts": [], "containers": {}, "media": {}, "config": {"image_polls": image_polls}}

    app.platform("threads", PlatformHooks(_injected_error, _rate_limited, lambda _q: {}), fresh)
    app.default_quota("threads", "publish", publish_quota, 86400.0)

    def authorised(request: Request) -> dict[str, str] | None:
        params = _params(request)
        given = params.get("access_token") or request.header("authorization").removeprefix("Bearer ")
        return params if given == token else None

    def refused() -> Response:
        return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)

    def state() -> dict[str, Any]:
        return app.state["threads"]

    def view(post: dict[str, Any], fields: str | None) -> dict[str, Any]:
        wanted = (fields or "id").split(",")
        return {f: post[f] for f in wanted if f in post}

    @app.route("GET", PREFIX + r"/me", "threads", "threads.me")
    def me(app: SandboxApp, request: Request) -> Response:
        if authorised(request) is None:
            return refused()
        return Response(200, {"id": user_id, "username": USERNAME})

    @app.route("POST", PREFIX + r"/(?P<uid>\d+)/threads", "threads", "threads.container.create")
    def create(app: SandboxApp, request: Request, uid: str) -> Response:
        params = authorised(request)
        if params is None:
            return refused()
        if uid != user_id:
            return _missing(uid)
        kind, text = params.get("media_type", ""), params.get("text", "")
        if kind not in ("TEXT", "IMAGE"):
            return graph_error(400, f"Param media_type must be one of {{TEXT, IMAGE}} here, got {kind!r}", 100)
        if kind == "TEXT" and not text:
            return graph_error(400, "Param text is required for a TEXT post", 100)
        if kind == "IMAGE" and not re.match(r"https?://", params.get("image_url", "")):
            return graph_error(400, "Param image_url is required for an IMAGE post (a public http(s) URL)", 100)
        if own_length(text) > LIMIT:
            return graph_error(400, f"Param text must be at most {LIMIT} characters long.", 100)
        attachment = params.get("link_attachment")
        if attachment and kind != "TEXT":
            return graph_error(400, "Param link_attachment is only allowed for TEXT posts", 100)
        if len(_links(text) | ({attachment} if attachment else set())) > MAX_LINKS:
            return graph_error(400, f"A post can contain at most {MAX_LINKS} links.", 100,
                               error_user_title="THREADS_API__LINK_LIMIT_EXCEEDED")
        topic = params.get("topic_tag")
        if topic is not None and not (0 < len(topic) <= TOPIC_MAX and "." not in topic and "&" not in topic):
            return graph_error(400, "Param topic_tag must be 1-50 characters without '.' or '&'", 100)
        reply_to = params.get("reply_to_id")
        with app.lock:
            if reply_to and (reply_to not in state()["media"] or state()["media"][reply_to].get("deleted")):
                return _missing(reply_to)
            container = {"id": str(next(_ids)), "media_type": kind, "text": text, "topic_tag": topic,
                         "link_attachment": attachment, "image_url": params.get("image_url"),
                         "alt_text": params.get("alt_text"), "reply_to_id": reply_to,
                         "status": "IN_PROGRESS" if kind == "IMAGE" else "FINISHED",
                         "polls": state()["config"]["image_polls"] if kind == "IMAGE" else 0}
            state()["containers"][container["id"]] = container
        return Response(200, {"id": container["id"]})

    @app.route("POST", PREFIX + r"/(?P<uid>\d+)/threads_publish", "threads", "threads.publish", quota="publish")
    def publish(app: SandboxApp, request: Request, uid: str) -> Response:
        params = authorised(request)
        if params is None:
            return refused()
        if uid != user_id:
            return _missing(uid)
        with app.lock:
            container = state()["containers"].get(params.get("creation_id", ""))
            if container is None:
                return _missing(params.get("creation_id", ""))
            if container["status"] == "IN_PROGRESS":
                return graph_error(400, "The media is not ready for publishing, please wait for a moment",
                                   9007, 2207027)
            if container["status"] in ("EXPIRED", "ERROR"):
                return graph_error(400, f"The container is {container['status']} and cannot be published",
                                   100, 4279013)
            media_id = str(next(_ids))
            post = {"id": media_id, "container_id": container["id"], "text": container["text"],
                    "media_type": "TEXT_POST" if container["media_type"] == "TEXT" else "IMAGE",
                    "topic_tag": container["topic_tag"], "link_attachment_url": container["link_attachment"],
                    "image_url": container["image_url"], "alt_text": container["alt_text"],
                    "reply_to_id": container["reply_to_id"], "is_reply": bool(container["reply_to_id"]),
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"), "username": USERNAME,
                    "permalink": f"https://www.threads.net/@{USERNAME}/post/S{media_id[-8:]}"}
            container["status"] = "PUBLISHED"
            state()["posts"].append(post)
            state()["media"][media_id] = post
        return Response(200, {"id": media_id})

    @app.route("GET", PREFIX + r"/(?P<uid>\d+)/threads_publishing_limit", "threads", "threads.publishing_limit")
    def publishing_limit(app: SandboxApp, request: Request, uid: str) -> Response:
        if authorised(request) is None:
            return refused()
        with app.lock:
            quota = app.quotas.get(("threads", "publish"))
            limit, window = app.quota_defaults[("threads", "publish")]
            if quota is not None:
                limit, window = quota.limit, quota.window
            used = quota.used if quota is not None and time.time() < quota.window_start + quota.window else 0
        return Response(200, {"data": [{"quota_usage": used,
                                        "config": {"quota_total": limit, "quota_duration": int(window)}}]})

    def listing(request: Request, uid: str, replies: bool) -> Response:
        params = authorised(request)
        if params is None:
            return refused()
        if uid != user_id:
            return _missing(uid)
        since = int(params.get("since") or 0)
        limit = min(int(params.get("limit") or 25), 100)
        with app.lock:
            found = [p for p in reversed(state()["posts"]) if not p.get("deleted") and p["is_reply"] == replies
                     and datetime.strptime(p["timestamp"], "%Y-%m-%dT%H:%M:%S%z").timestamp() >= since]
            data = [view(p, params.get("fields")) for p in found[:limit]]
        return Response(200, {"data": data, "paging": {}})

    @app.route("GET", PREFIX + r"/(?P<uid>\d+)/threads", "threads", "threads.list")
    def own_posts(app: SandboxApp, request: Request, uid: str) -> Response:
        return listing(request, uid, replies=False)

    @app.route("GET", PREFIX + r"/(?P<uid>\d+)/replies", "threads", "threads.replies")
    def own_replies(app: SandboxApp, request: Request, uid: str) -> Response:
        return listing(request, uid, replies=True)

    @app.route("GET", PREFIX + r"/(?P<object_id>\d+)", "threads", "threads.object")
    def read(app: SandboxApp, request: Request, object_id: str) -> Response:
        params = authorised(request)
        if params is None:
            return refused()
        with app.lock:
            container = state()["containers"].get(object_id)
            if container is not None:
                if container["status"] == "IN_PROGRESS":
                    container["polls"] -= 1
                    if container["polls"] < 0:
                        container["status"] = "FINISHED"
                answer = {"id": object_id, "status": container["status"]}
                return Response(200, answer if container["status"] != "ERROR"
                                else {**answer, "error_message": "UNKNOWN"})
            post = state()["media"].get(object_id)
            if post is None or post.get("deleted"):
                return _missing(object_id)
            return Response(200, view(post, params.get("fields")))

    @app.route("DELETE", PREFIX + r"/(?P<object_id>\d+)", "threads", "threads.delete", quota="delete")
    def delete(app: SandboxApp, request: Request, object_id: str) -> Response:
        if authorised(request) is None:
            return refused()
        with app.lock:
            post = state()["media"].get(object_id)
            if post is None or post.get("deleted"):
                return _missing(object_id)
            post["deleted"] = True
        return Response(200, {"success": True, "deleted_id": object_id})

    app.default_quota("threads", "delete", delete_quota, 86400.0)
