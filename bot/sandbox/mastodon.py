"""A Mastodon 4.3 instance, as far as crosspost (through Mastodon.py 2.3.3) talks to one.

Endpoints, with the names fault injection and ``app.received()`` use, and their quota buckets:

====== ====================================== ======================================= =========
method path                                   endpoint name                           bucket
====== ====================================== ======================================= =========
GET    /api/v1/instance                       mastodon.instance.v1                    api
GET    /api/v2/instance                       mastodon.instance.v2                    api
GET    /api/v1/accounts/verify_credentials    mastodon.accounts.verify_credentials    api
GET    /api/v1/accounts/:id/statuses          mastodon.accounts.statuses              api
POST   /api/v1/statuses                       mastodon.statuses.create                statuses
GET    /api/v1/statuses/:id                   mastodon.statuses.get                   api
DELETE /api/v1/statuses/:id                   mastodon.statuses.delete                api
PUT    /api/v1/statuses/:id                   mastodon.statuses.update                statuses
GET    /api/v1/statuses/:id/history           mastodon.statuses.history               api
POST   /api/v2/media                          mastodon.media.create                   media
GET    /api/v1/media/:id                      mastodon.media.get                      api
GET    /mastodon-media/:name                  mastodon.files (sandbox only: uploaded  none
                                              files and test fixtures, see add_file)
====== ====================================== ======================================= =========

What it validates the way Mastodon does (messages are Mastodon's own English wording):

- ``Authorization: Bearer <token>`` on everything but the instance endpoints: 401
  ``{"error": "The access token is invalid"}``.
- ``POST /api/v1/statuses`` (form or JSON, as Mastodon.py sends form): the length of
  ``spoiler_text + status`` counted like ``StatusLengthValidator`` (graphemes; every URL weighs
  ``characters_reserved_per_url``; ``@user@domain`` counts as ``@user``) against the instance's
  ``max_characters`` -> 422 ``Validation failed: Text character limit of 500 exceeded``; blank text
  without media -> 422; an ``in_reply_to_id`` that does not exist -> 404; media that do not exist,
  belong to someone else, are already attached or are still processing -> 422; more than
  ``max_media_attachments`` -> 422; an unknown ``visibility`` -> 422.
- ``Idempotency-Key``: the same key from the same account within ``idempotency_ttl`` (3600 s, as
  Mastodon keeps it in Redis) returns the first status (200) and creates nothing. Only successful
  posts are remembered, so a failed attempt never blocks its retry.
- ``POST /api/v2/media`` (multipart): answers 202 with ``url: null``; ``GET /api/v1/media/:id``
  answers 206 until the upload is processed (after ``media_processing_polls`` polls), then 200.
  ``media_processing_polls=0`` makes uploads synchronous (200 at once), as small images often are.
- Rate limits: ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (ISO 8601, UTC)
  on every API answer; 429 ``{"error": "Too many requests"}`` with the same headers.

Knobs live in ``app.state["mastodon"]["config"]`` (reset to the ``register`` values by ``app.reset()``):
``max_characters``, ``characters_reserved_per_url``, ``max_media_attachments``, ``instance_v2`` (False
makes ``/api/v2/instance`` 404, like a server older than 4.0), ``media_processing_polls``,
``idempotency_ttl``, ``version``.

Statuses are kept in ``app.state["mastodon"]["posts"]`` (oldest first) as dicts with ``id``, ``text``,
``spoiler_text``, ``visibility``, ``language``, ``in_reply_to_id``, ``media_ids``, ``sensitive``,
``idempotency_key``, ``account_id``, ``created_at``, ``uri``, ``url``, ``content``, once edited
``edited_at`` and ``edits`` (the earlier versions, oldest first, each ``text``/``spoiler_text``/
``created_at``), and once deleted ``deleted: True``.

- ``PUT /api/v1/statuses/:id`` (an edit) validates the new text like a new status, keeps the previous
  version in ``edits`` and sets ``edited_at``; ``GET /api/v1/statuses/:id/history`` lists every version,
  oldest first, the current one last (one entry for a status never edited), as Mastodon does.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import json
import os
import re
import struct
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.sandbox import flavors
from bot.sandbox.core import PlatformHooks, QuotaState, Request, Response, SandboxApp, sample_png

PLATFORM = "mastodon"
VERSION = "4.3.0"
MAX_DESCRIPTION = 1500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024  # 4.3: 16 MB images
VIDEO_SIZE_LIMIT = 99 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp", "image/avif")
VIDEO_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/ogg")
AUDIO_TYPES = ("audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wave", "audio/vnd.wave", "audio/ogg",
               "audio/vorbis", "audio/mpeg", "audio/mp3", "audio/webm", "audio/flac", "audio/aac",
               "audio/m4a", "audio/x-m4a", "audio/mp4", "audio/3gpp", "video/x-ms-asf")
VISIBILITIES = ("public", "unlisted", "private", "direct")
ACCOUNT_ID = "109348872138419876"
USERNAME = "crosspost"

NOT_FOUND = "Record not found"
INVALID_TOKEN = "The access token is invalid"
IN_REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
MEDIA_NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"

_FALSE = {"0", "f", "false", "off", ""}
_URL_RE = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TAG_RE = re.compile(r"(?<![/)\w])#(\w*[^\W\d_]\w*)")
_LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z]{2,4})?$")


# --- hooks: how Mastodon words errors and rate limits -------------------------------------------
def _iso(epoch: float) -> str:
    """Mastodon's timestamps: ISO 8601 in UTC with a ``Z`` (``Time#iso8601(6)`` for rate-limit resets)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _created_at(epoch: float) -> str:
    """``created_at``: ISO 8601 in UTC with milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quota_headers(quota: QuotaState) -> dict[str, str]:
    """The headers Mastodon's rate limiter puts on every throttled-family answer."""
    return {
        "X-RateLimit-Limit": str(quota.limit),
        "X-RateLimit-Remaining": str(quota.remaining),
        "X-RateLimit-Reset": _iso(quota.reset_epoch),
    }


def rate_limited(quota: QuotaState) -> Response:
    return Response(429, {"error": "Too many requests"}, quota_headers(quota))


def error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


def _unprocessable(message: str) -> Response:
    return Response(422, {"error": message})


def _not_found(message: str = NOT_FOUND) -> Response:
    return Response(404, {"error": message})


def _unauthorized() -> Response:
    return Response(401, {"error": INVALID_TOKEN}, {
        "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token", '
                            'error_description="The access token is invalid"',
    })


# --- registration -------------------------------------------------------------------------------
# The sandbox's own account: not a secret, it only opens the local sandbox.
CREDENTIALS: dict[str, str] = {"MASTODON_ACCESS_TOKEN": "sandbox-mastodon-token"}

# ``crosspost sandbox --mastodon-OPTION``: option -> (argparse keywords).
CLI_OPTIONS: dict[str, dict[str, Any]] = {
    "max_characters": {"type": "count", "help": "the post limit the local instance announces "
                       "(default: the flavour's own)"},
    "flavor": {"choices": flavors.FLAVOR_NAMES, "metavar": "SOFTWARE",
               "help": f"play {'|'.join(flavors.FLAVOR_NAMES)} (default: ${flavors.FLAVOR_ENV}, else mastodon)"},
}


def register(app: SandboxApp, credentials: dict[str, str], *, max_characters: int | None = None,
             flavor: str | None = None, **options: Any) -> None:
    """Add the Mastodon emulation to ``app``; ``options`` override the defaults in ``state["config"]``.

    ``flavor`` plays another Mastodon-API server software (see :mod:`bot.sandbox.flavors`): its NodeInfo,
    instance fields, counting rule, error wording, idempotency and path quirks.
    """
    token = credentials["MASTODON_ACCESS_TOKEN"]
    played = flavors.flavor(flavor or os.environ.get(flavors.FLAVOR_ENV) or "mastodon")

    def fresh_state() -> dict[str, Any]:
        config = {
            "flavor": played.name,
            "max_characters": max_characters or played.default_max_characters,
            "characters_reserved_per_url": played.announced_url_weight,
            "max_media_attachments": 4,
            "instance_v2": played.instance_v2,
            "instance_v1": True,
            "nodeinfo": True,
            "media_processing_polls": 1,
            "idempotency_ttl": 3600.0,
            "version": VERSION,
        }
        config.update(options)
        return {
            "config": config,
            "accounts": {token: _account_record(ACCOUNT_ID, USERNAME)},
            "posts": [],
            "statuses": {},  # id -> the same dicts as in "posts"
            "media": {},
            "idempotency": {},  # (account id, key) -> (status id, expires epoch)
            "files": {"sample.png": (sample_png(), "image/png")},
            "last_id": 0,
        }

    app.platform(PLATFORM, PlatformHooks(error=error, rate_limited=rate_limited, quota_headers=quota_headers),
                 fresh_state)
    # Generous defaults (Mastodon's real ones are 300 / 5 min, 300 statuses / 3 h, 30 media / 30 min);
    # tests and benches set tight ones with app.set_quota("mastodon", "statuses", 30, 1800).
    app.default_quota(PLATFORM, "api", 100_000, 300)
    app.default_quota(PLATFORM, "statuses", 100_000, 3 * 3600)
    app.default_quota(PLATFORM, "media", 100_000, 1800)

    routes = (
        ("GET", r"/\.well-known/nodeinfo", "mastodon.nodeinfo.links", None, nodeinfo_links),
        ("GET", r"/nodeinfo/(?P<schema>2\.[01](?:\.json)?)", "mastodon.nodeinfo.document", None, nodeinfo),
        ("GET", r"/api/v1/instance/?", "mastodon.instance.v1", "api", instance_v1),
        ("GET", r"/api/v2/instance/?", "mastodon.instance.v2", "api", instance_v2),
        ("GET", r"/api/v1/accounts/verify_credentials", "mastodon.accounts.verify_credentials", "api",
         verify_credentials),
        ("GET", r"/api/v1/accounts/(?P<account_id>[^/]+)/statuses", "mastodon.accounts.statuses", "api",
         account_statuses),
        ("POST", r"/api/v1/statuses", "mastodon.statuses.create", "statuses", create_status),
        ("GET", r"/api/v1/statuses/(?P<status_id>[^/]+)", "mastodon.statuses.get", "api", get_status),
        ("DELETE", r"/api/v1/statuses/(?P<status_id>[^/]+)", "mastodon.statuses.delete", "api",
         delete_status),
        ("PUT", r"/api/v1/statuses/(?P<status_id>[^/]+)", "mastodon.statuses.update", "statuses",
         update_status),
        ("GET", r"/api/v1/statuses/(?P<status_id>[^/]+)/history", "mastodon.statuses.history", "api",
         status_history),
        ("POST", r"/api/v2/media", "mastodon.media.create", "media", create_media),
        ("GET", r"/api/v1/media/(?P<media_id>[^/]+)", "mastodon.media.get", "api", get_media),
        ("GET", r"/mastodon-media/(?P<name>[^/]+)", "mastodon.files", None, serve_file),
    )
    for method, path, endpoint, bucket, handler in routes:
        app.route(method, path, PLATFORM, endpoint, quota=bucket)(handler)


def add_account(app: SandboxApp, token: str, username: str) -> dict[str, Any]:
    """Give the sandbox another account (for tests of per-account behaviour); returns its record."""
    with app.lock:
        state = app.state[PLATFORM]
        account_id = str(_next_id(state))
        record = _account_record(account_id, username)
        state["accounts"][token] = record
        return record


def add_file(app: SandboxApp, name: str, data: bytes, content_type: str) -> str:
    """Serve ``data`` at ``/mastodon-media/<name>`` (an image for the adapter to fetch); returns the path."""
    with app.lock:
        app.state[PLATFORM]["files"][name] = (data, content_type)
    return f"/mastodon-media/{name}"


# --- helpers ------------------------------------------------------------------------------------
def _account_record(account_id: str, username: str) -> dict[str, Any]:
    return {"id": account_id, "username": username, "created_at": "2022-11-14T00:00:00.000Z"}


def _next_id(state: dict[str, Any]) -> int:
    """A Mastodon snowflake: milliseconds since the epoch << 16, plus a sequence; strictly increasing."""
    candidate = int(time.time() * 1000) << 16
    state["last_id"] = max(candidate, state["last_id"] + 1)
    return int(state["last_id"])


def _host(request: Request) -> str:
    return request.header("host", "127.0.0.1")


def _authenticated(app: SandboxApp, request: Request) -> dict[str, Any] | None:
    value = request.header("authorization")
    if not value.lower().startswith("bearer "):
        return None
    with app.lock:
        account: dict[str, Any] | None = app.state[PLATFORM]["accounts"].get(value[7:].strip())
        return account


def _params(request: Request) -> dict[str, Any]:
    """The request's parameters as Rails sees them: query, then form, JSON or multipart body."""
    params: dict[str, Any] = {k: (v if k.endswith("[]") else v[-1]) for k, v in request.query.items()}
    content_type = request.header("content-type").lower()
    if not request.body:
        return params
    if content_type.startswith("application/json"):
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return params
        if isinstance(body, dict):
            params.update(body)
    elif content_type.startswith("multipart/form-data"):
        params.update(_multipart(request.body, request.header("content-type")))
    else:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: (v if k.endswith("[]") else v[-1]) for k, v in form.items()})
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Parse multipart/form-data: text fields become str, file fields ``(filename, type, bytes)``."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            fields[str(name)] = (filename, part.get_content_type(), data)
        else:
            fields[str(name)] = data.decode("utf-8", "replace")
    return fields


def _flag(value: Any) -> bool:
    """ActiveModel's boolean cast: "0", "false", "f", "off" and "" are false; anything else true."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() not in _FALSE


def _id_list(params: dict[str, Any]) -> list[str]:
    raw = params.get("media_ids[]", params.get("media_ids")) or []
    if not isinstance(raw, list):
        raw = [raw]
    return [str(x) for x in raw if str(x) != ""]


def _sniff_image(data: bytes) -> str | None:
    """The image type the bytes really are (what Paperclip's content-type spoof check looks at)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"heif"):
        return "image/heic" if data[8:12] != b"avif" else "image/avif"
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    return None


# --- text to HTML, as Mastodon's TextFormatter renders a local plain-text status ------------------
def _trim_url(url: str) -> str:
    while url and url[-1] in ".,:;!?'\"":
        url = url[:-1]
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1]
    return url


def _link(url: str) -> str:
    prefix = re.match(r"https?://(?:www\.)?", url, re.IGNORECASE)
    head = prefix.group(0) if prefix else ""
    rest = url[len(head):]
    display, suffix = rest[:30], rest[30:]
    ellipsis = "ellipsis" if len(rest) > 30 else ""
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(head)}</span><span class="{ellipsis}">'
            f'{html.escape(display)}</span><span class="invisible">{html.escape(suffix)}</span></a>')


def _linkify(segment: str, host: str) -> str:
    """Escape a piece of text, turning hashtags into tag links."""
    out, last = [], 0
    for match in _TAG_RE.finditer(segment):
        out.append(html.escape(segment[last:match.start(1) - 1], quote=False))
        tag = match.group(1)
        out.append(f'<a href="https://{host}/tags/{html.escape(tag.lower())}" class="mention hashtag" '
                   f'rel="tag">#<span>{html.escape(tag)}</span></a>')
        last = match.end()
    out.append(html.escape(segment[last:], quote=False))
    return "".join(out)


def render_content(text: str, host: str) -> str:
    """``content`` of a status: paragraphs in ``<p>``, line breaks ``<br />``, links and hashtags linked."""
    if not text.strip():
        return ""
    pieces, last = [], 0
    for match in _URL_RE.finditer(text):
        url = _trim_url(match.group(0))
        pieces.append(_linkify(text[last:match.start()], host))
        pieces.append(_link(url))
        last = match.start() + len(url)
    pieces.append(_linkify(text[last:], host))
    body = "".join(pieces).replace("\r\n", "\n")
    paragraphs = [p for p in re.split(r"\n{2,}", body) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs)


def _tags(text: str, host: str) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for match in _TAG_RE.finditer(_URL_RE.sub(" ", text)):
        name = match.group(1).lower()
        seen.setdefault(name, {"name": name, "url": f"https://{host}/tags/{name}"})
    return list(seen.values())


def status_length(spoiler_text: str, text: str, url_weight: int) -> int:
    """``StatusLengthValidator``: graphemes of the spoiler (as written) plus the countable text.

    Written from Mastodon's validator, not taken from bot.text, so the sandbox judges crosspost's
    counting with its own: each link with a scheme (twitter-text's extractor, the official port
    ``twitter-text-parser``, ``extract_url_without_protocol: false``) counts ``url_weight``,
    ``@user@domain`` counts as ``@user``, and the rest counts grapheme clusters as Ruby 3.x does
    (Unicode 15.0: an Indic conjunct is more than one).
    """
    return _ruby_graphemes(spoiler_text) + _ruby_graphemes(_countable_text(text, url_weight))


_MENTION_RE = re.compile(r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+[\w]+)?)", re.IGNORECASE)


def _countable_text(text: str, url_weight: int) -> str:
    import warnings

    with warnings.catch_warnings():  # it imports pkg_resources, deprecated by setuptools
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from twitter_text.extract_urls import extract_urls_with_indices

    if not text.strip():
        return ""
    entities = [(u["indices"][0], u["indices"][1], "x" * url_weight)
                for u in extract_urls_with_indices(text, extract_urls_without_protocol=False)]
    entities += [(m.start(), m.end(), "@" + m.group(2)) for m in _MENTION_RE.finditer(text)]
    out, position = [], 0
    for start, end, replacement in sorted(entities):
        if start < position:
            continue
        out += [text[position:start], replacement]
        position = end
    return "".join(out) + text[position:]


def _ruby_graphemes(text: str) -> int:
    import regex

    clusters = regex.findall(r"\X", text)
    # Unicode 15.1's GB9c joins virama + consonant into one cluster; Ruby's Unicode 15.0 does not.
    joins = sum(len(regex.findall(r"\p{InCB=Linker}[\p{InCB=Extend}]*(?=\p{InCB=Consonant})", c)) for c in clusters)
    return len(clusters) + joins


# --- entities -----------------------------------------------------------------------------------
def _account_entity(app: SandboxApp, record: dict[str, Any], host: str) -> dict[str, Any]:
    username = record["username"]
    with app.lock:
        own = [p for p in app.state[PLATFORM]["posts"]
               if p["account_id"] == record["id"] and not p.get("deleted")]
    return {
        "id": record["id"],
        "username": username,
        "acct": username,
        "display_name": f"{username} (sandbox)",
        "locked": False,
        "bot": True,
        "discoverable": False,
        "indexable": False,
        "group": False,
        "created_at": record["created_at"],
        "note": "<p>crosspost's local stand-in for a Mastodon account.</p>",
        "url": f"https://{host}/@{username}",
        "uri": f"https://{host}/users/{username}",
        "avatar": f"https://{host}/avatars/original/missing.png",
        "avatar_static": f"https://{host}/avatars/original/missing.png",
        "header": f"https://{host}/headers/original/missing.png",
        "header_static": f"https://{host}/headers/original/missing.png",
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": len(own),
        "last_status_at": own[-1]["created_at"][:10] if own else None,
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def _media_entity(media: dict[str, Any], host: str) -> dict[str, Any]:
    ext = media["content_type"].split("/")[-1]
    url = f"http://{host}/mastodon-media/{media['id']}.{ext}" if media["processed"] else None
    size = media.get("size")
    meta: dict[str, Any] = {}
    if size:
        width, height = size
        info = {"width": width, "height": height, "size": f"{width}x{height}",
                "aspect": round(width / height, 6) if height else 1.0}
        meta = {"original": info, "small": info}
    return {
        "id": media["id"],
        "type": media["type"],
        "url": url,
        "preview_url": url,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": media["description"],
        "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH" if media["type"] == "image" else None,
    }


def _status_entity(app: SandboxApp, status: dict[str, Any], host: str) -> dict[str, Any]:
    state = app.state[PLATFORM]
    with app.lock:
        account = next((a for a in state["accounts"].values() if a["id"] == status["account_id"]), None)
        media = [state["media"][m] for m in status["media_ids"] if m in state["media"]]
        parent = state["statuses"].get(status["in_reply_to_id"] or "")
    return {
        "id": status["id"],
        "created_at": status["created_at"],
        "in_reply_to_id": status["in_reply_to_id"],
        "in_reply_to_account_id": parent["account_id"] if parent else None,
        "sensitive": status["sensitive"],
        "spoiler_text": status["spoiler_text"],
        "visibility": status["visibility"],
        "language": status["language"],
        "uri": status["uri"],
        "url": status["url"],
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "quotes_count": 0,
        "edited_at": status.get("edited_at"),
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "content": status["content"],
        "filtered": [],
        "reblog": None,
        "application": {"name": "crosspost", "website": None},
        "account": _account_entity(app, account or _account_record(status["account_id"], "unknown"), host),
        "media_attachments": [_media_entity(m, host) for m in media],
        "mentions": [],
        "tags": _tags(status["text"], host),
        "emojis": [],
        "card": None,
        "poll": None,
    }


# --- handlers -----------------------------------------------------------------------------------
def _instance_config(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "statuses": {
            "max_characters": config["max_characters"],
            "max_media_attachments": config["max_media_attachments"],
            "characters_reserved_per_url": config["characters_reserved_per_url"],
        },
        "media_attachments": {
            "supported_mime_types": [*IMAGE_TYPES, *VIDEO_TYPES, *AUDIO_TYPES],
            "description_limit": MAX_DESCRIPTION,
            "image_size_limit": IMAGE_SIZE_LIMIT,
            "image_matrix_limit": 33_177_600,
            "video_size_limit": VIDEO_SIZE_LIMIT,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,
        },
        "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
                  "max_expiration": 2_629_746},
    }


def _played(config: dict[str, Any]) -> flavors.Flavor:
    return flavors.flavor(str(config.get("flavor") or "mastodon"))


def _path_refused(config: dict[str, Any], request: Request) -> bool:
    """Takahē 0.11 routes the instance paths exactly: the trailing slash Mastodon.py adds is a 404."""
    return _played(config).exact_paths_only and request.path.split("?")[0].endswith("/")


def nodeinfo_links(app: SandboxApp, request: Request) -> Response:
    """``GET /.well-known/nodeinfo``: the link to the NodeInfo document (404 with ``nodeinfo`` off)."""
    with app.lock:
        config = dict(app.state[PLATFORM]["config"])
    if not config["nodeinfo"]:
        return _not_found()
    return Response(200, flavors.nodeinfo_links(f"http://{_host(request)}", _played(config)))


def nodeinfo(app: SandboxApp, request: Request, schema: str) -> Response:
    """``GET /nodeinfo/2.x``: software name and version of the flavour played."""
    with app.lock:
        config = dict(app.state[PLATFORM]["config"])
        posts = len(app.posts(PLATFORM))
    if not config["nodeinfo"]:
        return _not_found()
    return Response(200, flavors.nodeinfo_document(_played(config), posts))


def instance_v1(app: SandboxApp, request: Request) -> Response:
    """``GET /api/v1/instance`` (deprecated since 4.0 but still served, with ``configuration``)."""
    host = _host(request)
    with app.lock:
        config = dict(app.state[PLATFORM]["config"])
        posts = len(app.posts(PLATFORM))
    if not config["instance_v1"] or _path_refused(config, request):
        return _not_found()
    extra = {"max_toot_chars": config["max_characters"]} if _played(config).max_toot_chars_in_v1 else {}
    return Response(200, {
        **extra,
        "uri": host,
        "title": "crosspost sandbox",
        "short_description": "A local stand-in for a Mastodon server.",
        "description": "A local stand-in for a Mastodon server.",
        "email": "admin@sandbox.invalid",
        "version": config["version"],
        "urls": {"streaming_api": f"ws://{host}"},
        "stats": {"user_count": 1, "status_count": posts, "domain_count": 1},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {"accounts": {"max_featured_tags": 10}, **_instance_config(config)},
        "contact_account": None,
        "rules": [],
    }, {"Deprecation": "@1668384000"} if config["instance_v2"] else {})


def instance_v2(app: SandboxApp, request: Request) -> Response:
    """``GET /api/v2/instance``: where clients read the length limit and the URL weight."""
    host = _host(request)
    with app.lock:
        config = dict(app.state[PLATFORM]["config"])
    if not config["instance_v2"] or _path_refused(config, request):
        return _not_found()
    return Response(200, {
        "domain": host,
        "title": "crosspost sandbox",
        "version": config["version"],
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A local stand-in for a Mastodon server.",
        "usage": {"users": {"active_month": 1}},
        "thumbnail": {"url": f"https://{host}/packs/media/images/preview.png"},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": f"ws://{host}", "status": None, "about": f"https://{host}/about",
                     "privacy_policy": None, "terms_of_service": None},
            "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            **_instance_config(config),
            "translation": {"enabled": False},
            "timelines_access": {
                "live_feeds": {"local": "public", "remote": "public"},
                "hashtag_feeds": {"local": "public", "remote": "public"},
                "trending_link_feeds": {"local": "public", "remote": "public"},
            },
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None, "url": None},
        "api_versions": {"mastodon": 2},
        "contact": {"email": "admin@sandbox.invalid", "account": None},
        "rules": [],
    })


def verify_credentials(app: SandboxApp, request: Request) -> Response:
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    entity = _account_entity(app, account, _host(request))
    entity["source"] = {"privacy": "public", "sensitive": False, "language": "", "note": "", "fields": [],
                        "follow_requests_count": 0}
    entity["role"] = {"id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": False}
    return Response(200, entity)


def _visible(app: SandboxApp, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
    """Optional auth for public reads: a bad token is still a 401, no token is anonymous."""
    if not request.header("authorization"):
        return None, None
    account = _authenticated(app, request)
    return (account, None) if account is not None else (None, _unauthorized())


def account_statuses(app: SandboxApp, request: Request, account_id: str) -> Response:
    """``GET /api/v1/accounts/:id/statuses``: newest first, ``limit`` ≤ 40, max_id / since_id / min_id."""
    viewer, refusal = _visible(app, request)
    if refusal is not None:
        return refusal
    params = _params(request)
    with app.lock:
        state = app.state[PLATFORM]
        if not any(a["id"] == account_id for a in state["accounts"].values()):
            return _not_found()
        own = viewer is not None and viewer["id"] == account_id
        statuses = [p for p in state["posts"] if p["account_id"] == account_id and not p.get("deleted")
                    and (own or p["visibility"] in ("public", "unlisted"))]
    if _flag(params.get("pinned")):
        statuses = []
    if _flag(params.get("exclude_replies")):
        statuses = [p for p in statuses if not p["in_reply_to_id"]]
    if _flag(params.get("only_media")):
        statuses = [p for p in statuses if p["media_ids"]]
    try:
        limit = max(1, min(40, int(params.get("limit") or 20)))
    except ValueError:
        limit = 20
    for name in ("max_id", "since_id", "min_id"):
        value = params.get(name)
        if value and str(value).isdigit():
            bound = int(value)
            older = name == "max_id"
            statuses = [p for p in statuses if (int(p["id"]) < bound if older else int(p["id"]) > bound)]
    # min_id pages forward: the statuses right after it, still shown newest first
    page = statuses[:limit][::-1] if params.get("min_id") else statuses[::-1][:limit]
    host = _host(request)
    headers: dict[str, str] = {}
    if page:
        base = f"http://{host}/api/v1/accounts/{account_id}/statuses"
        headers["Link"] = (f'<{base}?{urlencode({"limit": limit, "max_id": page[-1]["id"]})}>; rel="next", '
                           f'<{base}?{urlencode({"limit": limit, "min_id": page[0]["id"]})}>; rel="prev"')
    return Response(200, [_status_entity(app, p, host) for p in page], headers)


def create_status(app: SandboxApp, request: Request) -> Response:
    """``POST /api/v1/statuses``: validate like Mastodon 4.3, honour ``Idempotency-Key``, store the post."""
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    params = _params(request)
    host = _host(request)
    text = str(params.get("status") or "")
    spoiler = str(params.get("spoiler_text") or "")
    reply_to = str(params.get("in_reply_to_id") or "") or None
    media_ids = _id_list(params)
    key = request.header("idempotency-key") or None
    now = time.time()
    with app.lock:
        state = app.state[PLATFORM]
        config = state["config"]
        # before_action :set_thread runs before the service (and its idempotency check)
        if reply_to is not None:
            parent = state["statuses"].get(reply_to)
            if parent is None or parent.get("deleted"):
                return _not_found(IN_REPLY_NOT_FOUND)
        played = _played(config)
        if key is not None and played.honours_idempotency_key:
            remembered = state["idempotency"].get((account["id"], key))
            if remembered is not None and remembered[1] > now:
                original = state["statuses"].get(remembered[0])
                if original is None or original.get("deleted"):
                    return _not_found()
                return Response(200, _status_entity(app, original, host))
        media: list[dict[str, Any]] = []
        if media_ids:
            limit = int(config["max_media_attachments"])
            if len(media_ids) > limit:
                return _unprocessable(f"Cannot attach more than {limit} files")
            missing = [m for m in media_ids if m not in state["media"]
                       or state["media"][m]["account_id"] != account["id"]
                       or state["media"][m]["status_id"] is not None]
            if missing:
                return _unprocessable(
                    f"Media {', '.join(missing)} not found or already attached to another post")
            media = [state["media"][m] for m in media_ids]
            if len(media) > 1 and any(m["type"] in ("video", "audio", "gifv") for m in media):
                return _unprocessable("Cannot attach a video to a post that already contains images")
            if any(not m["processed"] for m in media):
                return _unprocessable(MEDIA_NOT_READY)
        visibility = str(params.get("visibility") or "public").lower()
        problems = []
        if not text.strip() and not media:
            problems.append("Text can't be blank")
        elif played.length is not None:
            length, limit = played.length(text, spoiler, int(config["characters_reserved_per_url"])), int(
                config["max_characters"])
            if length > limit:
                return Response(played.too_long_status, {"error": played.too_long_message(length, limit)})
        elif status_length(spoiler, text, int(config["characters_reserved_per_url"])) > int(
                config["max_characters"]):
            problems.append(f"Text character limit of {config['max_characters']} exceeded")
        if visibility not in VISIBILITIES:
            problems.append("Visibility is not included in the list")
        if problems:
            return _unprocessable("Validation failed: " + ", ".join(problems))
        language = str(params.get("language") or "")
        status_id = str(_next_id(state))
        status = {
            "id": status_id,
            "text": text,
            "spoiler_text": spoiler,
            "visibility": visibility,
            "language": language if _LANG_RE.match(language) else None,
            "in_reply_to_id": reply_to,
            "media_ids": [m["id"] for m in media],
            "sensitive": _flag(params.get("sensitive")) or bool(spoiler),
            "idempotency_key": key,
            "account_id": account["id"],
            "created_at": _created_at(now),
            "uri": f"https://{host}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{host}/@{account['username']}/{status_id}",
            "content": render_content(text, host),
        }
        for m in media:
            m["status_id"] = status_id
        state["posts"].append(status)
        state["statuses"][status_id] = status
        if key is not None:
            state["idempotency"][(account["id"], key)] = (status_id, now + float(config["idempotency_ttl"]))
        return Response(200, _status_entity(app, status, host))


def get_status(app: SandboxApp, request: Request, status_id: str) -> Response:
    viewer, refusal = _visible(app, request)
    if refusal is not None:
        return refusal
    with app.lock:
        status = app.state[PLATFORM]["statuses"].get(status_id)
    if status is None or status.get("deleted"):
        return _not_found()
    owner = viewer is not None and viewer["id"] == status["account_id"]
    if status["visibility"] in ("private", "direct") and not owner:
        return _not_found()
    return Response(200, _status_entity(app, status, _host(request)))


def delete_status(app: SandboxApp, request: Request, status_id: str) -> Response:
    """``DELETE /api/v1/statuses/:id``: the deleted status with its source ``text`` (delete-and-redraft)."""
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    with app.lock:
        status = app.state[PLATFORM]["statuses"].get(status_id)
        if status is None or status.get("deleted"):
            return _not_found()
        if status["account_id"] != account["id"]:
            return Response(403, {"error": "This action is not allowed"})
        status["deleted"] = True
        entity = _status_entity(app, status, _host(request))
    entity["text"] = status["text"]
    return Response(200, entity)


def update_status(app: SandboxApp, request: Request, status_id: str) -> Response:
    """``PUT /api/v1/statuses/:id``: a new text (and content warning), the old version kept in history."""
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    params = _params(request)
    host = _host(request)
    with app.lock:
        state = app.state[PLATFORM]
        status = state["statuses"].get(status_id)
        if status is None or status.get("deleted"):
            return _not_found()
        if status["account_id"] != account["id"]:
            return Response(403, {"error": "This action is not allowed"})
        text = str(params.get("status") or "")
        spoiler = str(params["spoiler_text"]) if params.get("spoiler_text") is not None else status["spoiler_text"]
        config = state["config"]
        if not text.strip() and not status["media_ids"]:
            return _unprocessable("Validation failed: Text can't be blank")
        if status_length(spoiler, text, int(config["characters_reserved_per_url"])) > int(config["max_characters"]):
            return _unprocessable(f"Validation failed: Text character limit of {config['max_characters']} exceeded")
        previous = {"text": status["text"], "spoiler_text": status["spoiler_text"], "content": status["content"],
                    "created_at": status.get("edited_at") or status["created_at"]}
        status.setdefault("edits", []).append(previous)
        status.update(text=text, spoiler_text=spoiler, content=render_content(text, host),
                      edited_at=_created_at(time.time()))
        return Response(200, _status_entity(app, status, host))


def status_history(app: SandboxApp, request: Request, status_id: str) -> Response:
    """``GET /api/v1/statuses/:id/history``: every version of the status, oldest first, current last."""
    _viewer, refusal = _visible(app, request)
    if refusal is not None:
        return refusal
    host = _host(request)
    with app.lock:
        status = app.state[PLATFORM]["statuses"].get(status_id)
        if status is None or status.get("deleted"):
            return _not_found()
        account = next((a for a in app.state[PLATFORM]["accounts"].values() if a["id"] == status["account_id"]),
                       _account_record(status["account_id"], "unknown"))
        current = {"text": status["text"], "spoiler_text": status["spoiler_text"], "content": status["content"],
                   "created_at": status.get("edited_at") or status["created_at"]}
        versions = [*status.get("edits", []), current]
    entity = _account_entity(app, account, host)
    return Response(200, [
        {"content": v["content"], "spoiler_text": v["spoiler_text"], "sensitive": bool(v["spoiler_text"]),
         "created_at": v["created_at"], "account": entity, "poll": None, "media_attachments": [], "emojis": []}
        for v in versions
    ])


def create_media(app: SandboxApp, request: Request) -> Response:
    """``POST /api/v2/media``: store the upload; 202 with ``url: null`` until it is processed."""
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    params = _params(request)
    upload = params.get("file")
    if not isinstance(upload, tuple):
        return _unprocessable("Validation failed: File can't be blank, File content type is invalid")
    filename, content_type, data = upload
    description = params.get("description")
    description = str(description) if description not in (None, "") else None
    kind = ("image" if content_type in IMAGE_TYPES else "video" if content_type in VIDEO_TYPES
            else "audio" if content_type in AUDIO_TYPES else None)
    if kind is None or (kind == "image" and _sniff_image(data) is None):
        return _unprocessable("Validation failed: File content type is invalid, File is invalid")
    if kind == "image" and len(data) > IMAGE_SIZE_LIMIT:
        return _unprocessable("Validation failed: File file size must be less than 16 MB")
    if len(data) > VIDEO_SIZE_LIMIT:
        return _unprocessable("Validation failed: File file size must be less than 99 MB")
    if description is not None and len(description) > MAX_DESCRIPTION:
        return _unprocessable(
            f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)")
    with app.lock:
        state = app.state[PLATFORM]
        polls = int(state["config"]["media_processing_polls"])
        media_id = str(_next_id(state))
        media = {
            "id": media_id,
            "account_id": account["id"],
            "type": kind,
            "content_type": _sniff_image(data) or content_type,
            "filename": filename,
            "description": description,
            "data": data,
            "size": _image_size(data),
            "processed": polls <= 0,
            "polls_needed": polls,
            "polls": 0,
            "status_id": None,
        }
        state["media"][media_id] = media
        entity = _media_entity(media, _host(request))
    return Response(200 if media["processed"] else 202, entity)


def get_media(app: SandboxApp, request: Request, media_id: str) -> Response:
    """``GET /api/v1/media/:id``: 206 while processing, 200 when done; 404 once attached to a status."""
    account = _authenticated(app, request)
    if account is None:
        return _unauthorized()
    with app.lock:
        media = app.state[PLATFORM]["media"].get(media_id)
        if media is None or media["account_id"] != account["id"] or media["status_id"] is not None:
            return _not_found()
        if media["processed"]:
            return Response(200, _media_entity(media, _host(request)))
        entity = _media_entity(media, _host(request))
        media["polls"] += 1
        if media["polls"] >= media["polls_needed"]:
            media["processed"] = True
    return Response(206, entity)


def serve_file(app: SandboxApp, request: Request, name: str) -> Response:
    """Uploaded media (``<media id>.<ext>``) and fixtures added with :func:`add_file`."""
    with app.lock:
        state = app.state[PLATFORM]
        found = state["files"].get(name)
        if found is None:
            media = state["media"].get(name.split(".", 1)[0])
            if media is not None and media["processed"]:
                found = (media["data"], media["content_type"])
    if found is None:
        return _not_found()
    data, content_type = found
    return Response(200, data, {"Content-Type": content_type})
