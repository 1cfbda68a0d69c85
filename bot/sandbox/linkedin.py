"""LinkedIn's Posts and Images APIs (``/rest/…``, versioned), as far as crosspost talks to them.

====== ============================================ ========================== =======
method path                                         endpoint name              bucket
====== ============================================ ========================== =======
POST   /rest/posts                                  linkedin.posts.create      member
GET    /rest/posts?q=author&author=…                linkedin.posts.find        member
DELETE /rest/posts/{url-encoded URN}                linkedin.posts.delete      member
POST   /rest/images?action=initializeUpload         linkedin.images.initialize member
PUT    /linkedin-uploads/{id} (the uploadUrl)       linkedin.images.upload     none
====== ============================================ ========================== =======

It judges with its own code (not ``bot.measure``), as LinkedIn does:

- headers: ``Authorization: Bearer`` (401), ``X-Restli-Protocol-Version: 2.0.0`` (400) and an active
  ``LinkedIn-Version`` (426 ``NONEXISTENT_VERSION``); errors are ``{"status", "serviceErrorCode",
  "code", "message"}``.
- the create: the five required fields (422 naming each), ``commentary`` at most 3,000 UTF-16 units as
  received (400, LinkedIn's ShareCommentary wording), an article needs ``source`` and ``title``, a
  thumbnail or media URN must be an uploaded image (422); 201 with the URN in ``x-restli-id``.
- little text: the commentary is parsed; ``\\x`` is the plain character, a mention
  ``@[Name](urn:li:person:…)`` or a hashtag template ``{hashtag|\\#|tag}`` is kept, and any other
  unescaped reserved character **cuts the post there**, still answering 201 (LinkedIn's silent
  truncation). The post keeps ``commentary`` (what was kept, as sent) and ``text`` (what readers see).
- duplicates: the same author, commentary and article source as a live post → 422 ``DUPLICATE_POST``
  naming that post's URN.
- the finder answers the author's posts newest first (403 when ``config["can_read"]`` is False, as for
  a token without ``r_member_social``); delete answers 204, and 404 for an unknown URN.
- 429 without ``Retry-After`` (LinkedIn sends none) unless ``config["retry_after"]`` is True.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from bot.sandbox.core import PlatformHooks, QuotaState, Request, Response, SandboxApp

PLATFORM = "linkedin"
CREDENTIALS: dict[str, str] = {
    "LINKEDIN_ACCESS_TOKEN": "sandbox-linkedin-token",
    "LINKEDIN_AUTHOR": "urn:li:person:sandbox",
    "LINKEDIN_VERSION": "202411",
}
MAX_COMMENTARY = 3000
RESERVED = frozenset("\\|{}@[]()<>#*_~")
REQUIRED = ("author", "commentary", "visibility", "distribution", "lifecycleState")
ACTIVE_VERSIONS = frozenset(f"{y}{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)) - {"202401", "202402"}


def error(status: int, message: str, code: str = "", service_code: int | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    body["serviceErrorCode"] = service_code if service_code is not None else status
    return Response(status, body)


def rate_limited(quota: QuotaState) -> Response:
    response = error(429, "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
                     "TOO_MANY_REQUESTS", 101)
    return response


def units(text: str) -> int:
    """UTF-16 code units (the sandbox's own count)."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def read_little_text(raw: str) -> tuple[str, str]:
    """(commentary kept, text shown): cut at the first unescaped reserved character not in a template."""
    shown: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            shown.append(raw[i + 1])
            i += 2
            continue
        if char not in RESERVED:
            shown.append(char)
            i += 1
            continue
        template = _template(raw, i)
        if template is None:
            return raw[:i], "".join(shown)
        end, text = template
        shown.append(text)
        i = end
    return raw, "".join(shown)


def _template(raw: str, i: int) -> tuple[int, str] | None:
    """A mention ``@[Name](urn:li:…)`` or a hashtag ``{hashtag|\\#|tag}`` starting at ``i``: (end, shown)."""
    if raw.startswith("@[", i):
        close = raw.find("](urn:li:", i)
        end = raw.find(")", close + 1) if close > 0 else -1
        if close > 0 and end > 0 and not any(c in RESERVED for c in raw[i + 2:close]):
            return end + 1, "@" + raw[i + 2:close]
    if raw.startswith("{hashtag|\\#|", i):
        end = raw.find("}", i)
        tag = raw[i + len("{hashtag|\\#|"):end] if end > 0 else ""
        if tag and all(c.isalnum() for c in tag):
            return end + 1, "#" + tag
    return None


def _check_headers(request: Request, token: str, config: dict[str, Any]) -> Response | None:
    if request.header("authorization") != f"Bearer {token}":
        return error(401, "Invalid access token", "", 65600)
    if request.header("x-restli-protocol-version") != "2.0.0":
        return error(400, "X-Restli-Protocol-Version 2.0.0 is required", "ILLEGAL_ARGUMENT", 100)
    version = request.header("linkedin-version")
    if version not in config["versions"]:
        return error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION", 0)
    return None


CLI_OPTIONS: dict[str, dict[str, Any]] = {
    "member_daily_limit": {"type": "count", "help": "calls per member per day (default: 100000, for test runs)"},
}


def register(app: SandboxApp, credentials: dict[str, str], *, member_daily_limit: int = 100_000,
             retry_after: bool = False, **_options: Any) -> None:
    """``member_daily_limit``: the member bucket per day, high by default so that test and bench runs do
    not meet it (a test of the 429 path sets it low). ``retry_after``: 429s carry ``Retry-After`` (LinkedIn
    sends none; a chaos run whose injected 429s reset in a second sets it, or every one defers a day)."""
    token = credentials["LINKEDIN_ACCESS_TOKEN"]

    def reset() -> dict[str, Any]:
        return {"posts": [], "images": {}, "next_id": 7100000000000000001,
                "config": {"versions": set(ACTIVE_VERSIONS), "can_read": True, "retry_after": retry_after}}

    def limited(quota: QuotaState) -> Response:
        response = rate_limited(quota)
        if app.state[PLATFORM]["config"]["retry_after"]:
            response.headers["Retry-After"] = str(max(1, int(quota.reset_epoch - time.time())))
        return response

    app.platform(PLATFORM, PlatformHooks(lambda s, m: error(s, m), limited, lambda _q: {}), reset)
    app.default_quota(PLATFORM, "member", member_daily_limit, 86400)

    def state() -> dict[str, Any]:
        return app.state[PLATFORM]

    def next_id() -> int:
        state()["next_id"] += 1
        return int(state()["next_id"])

    @app.route("POST", r"/rest/posts", PLATFORM, "linkedin.posts.create", quota="member")
    def create(app: SandboxApp, request: Request) -> Response:
        refused = _check_headers(request, token, state()["config"])
        if refused is not None:
            return refused
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error(400, "Request body could not be converted to data map", "ILLEGAL_ARGUMENT", 100)
        missing = [f for f in REQUIRED if f not in body]
        if missing:
            return error(422, "\n".join(f"ERROR :: /{f} :: field is required but not found and has no default value"
                                        for f in missing), "UNPROCESSABLE_ENTITY", 100)
        if body["author"] != credentials["LINKEDIN_AUTHOR"]:
            return error(403, f"Not enough permissions to post as {body['author']}", "ACCESS_DENIED", 100)
        raw = str(body["commentary"])
        if units(raw) > MAX_COMMENTARY:
            response = error(400, "com.linkedin.content.common.exception.BadRequestResponseException: ShareCommentary "
                             f"text length ({units(raw)} characters) exceeded the maximum allowed "
                             f"({MAX_COMMENTARY} characters)", "", 400)
            response.body["errorDetails"] = {"inputErrors": [{
                "code": "FIELD_ARRAY_SIZE_TOO_HIGH", "input": {},
                "description": "Size of array cannot be higher than the maxLength"}]}
            return response
        content = body.get("content") or {}
        article = content.get("article")
        if article is not None and not (article.get("source") and article.get("title")):
            return error(422, "ERROR :: /content/article :: source and title are required", "UNPROCESSABLE_ENTITY", 100)
        image = (article or {}).get("thumbnail") or (content.get("media") or {}).get("id")
        if image is not None and not state()["images"].get(image, {}).get("bytes"):
            return error(422, f"ERROR :: {image} is not an uploaded image", "UNPROCESSABLE_ENTITY", 100)
        source = (article or {}).get("source")
        with app.lock:
            for post in app.posts(PLATFORM):
                if post["author"] == body["author"] and post["sent"] == raw and post["source"] == source:
                    response = error(422, "com.linkedin.content.common.exception.BadRequestResponseException: "
                                     f"Content is a duplicate of {post['id']}", "", 422)
                    response.body["errorDetails"] = {"inputErrors": [{"code": "DUPLICATE_POST", "input": {},
                                                                      "description": "Duplicate post is detected"}]}
                    return response
            kept, shown = read_little_text(raw)
            urn = f"urn:li:share:{next_id()}"
            now = int(time.time() * 1000)
            state()["posts"].append({
                "id": urn, "author": body["author"], "sent": raw, "commentary": kept, "text": shown,
                "truncated": kept != raw, "source": source, "article": article, "media": content.get("media"),
                "visibility": body["visibility"], "createdAt": now, "lastModifiedAt": now})
        return Response(201, None, {"x-restli-id": urn})

    @app.route("GET", r"/rest/posts", PLATFORM, "linkedin.posts.find", quota="member")
    def find(app: SandboxApp, request: Request) -> Response:
        refused = _check_headers(request, token, state()["config"])
        if refused is not None:
            return refused
        if request.arg("q") != "author" or not request.arg("author"):
            return error(400, "q=author and author are required", "ILLEGAL_ARGUMENT", 100)
        if not state()["config"]["can_read"]:
            return error(403, "Not enough permissions to access: partnerApiPostsExternal.FINDER-author",
                         "ACCESS_DENIED", 100)
        count = int(request.arg("count") or 10)
        mine = [p for p in app.posts(PLATFORM) if p["author"] == request.arg("author")]
        mine.sort(key=lambda p: (p["lastModifiedAt"], p["id"]), reverse=True)
        elements = [{"id": p["id"], "author": p["author"], "commentary": p["commentary"],
                     "createdAt": p["createdAt"], "lastModifiedAt": p["lastModifiedAt"],
                     "lifecycleState": "PUBLISHED", "visibility": p["visibility"],
                     "content": {"article": p["article"]} if p["article"] else {}} for p in mine[:count]]
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": count, "links": [],
                                                                "total": len(mine)}})

    @app.route("DELETE", r"/rest/posts/(?P<urn>[^/]+)", PLATFORM, "linkedin.posts.delete", quota="member")
    def delete(app: SandboxApp, request: Request, urn: str) -> Response:
        refused = _check_headers(request, token, state()["config"])
        if refused is not None:
            return refused
        with app.lock:
            post = next((p for p in state()["posts"] if p["id"] == unquote(urn)), None)
            if post is None:
                return error(404, f"Post {unquote(urn)} not found", "NOT_FOUND", 404)
            post["deleted"] = True  # LinkedIn answers 204 again for a deleted post: it is kept as deleted
        return Response(204)

    @app.route("POST", r"/rest/images", PLATFORM, "linkedin.images.initialize", quota="member")
    def initialize(app: SandboxApp, request: Request) -> Response:
        refused = _check_headers(request, token, state()["config"])
        if refused is not None:
            return refused
        body = request.json() or {}
        owner = (body.get("initializeUploadRequest") or {}).get("owner")
        if request.arg("action") != "initializeUpload" or owner != credentials["LINKEDIN_AUTHOR"]:
            return error(422, "ERROR :: /initializeUploadRequest/owner :: must be the author",
                         "UNPROCESSABLE_ENTITY", 100)
        with app.lock:
            number = next_id()
            state()["images"][f"urn:li:image:C{number}"] = {"bytes": b"", "owner": owner}
        host = request.header("host")
        return Response(200, {"value": {"uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
                                        "uploadUrl": f"http://{host}/linkedin-uploads/C{number}",
                                        "image": f"urn:li:image:C{number}"}})

    @app.route("PUT", r"/linkedin-uploads/(?P<key>[A-Za-z0-9]+)", PLATFORM, "linkedin.images.upload")
    def upload(app: SandboxApp, request: Request, key: str) -> Response:
        if request.header("authorization") != f"Bearer {token}":
            return error(401, "Invalid access token", "", 65600)
        image = state()["images"].get(f"urn:li:image:{key}")
        if image is None or not request.body:
            return error(400, "no such upload, or an empty body", "ILLEGAL_ARGUMENT", 100)
        image["bytes"], image["type"] = request.body, request.header("content-type")
        return Response(201)
