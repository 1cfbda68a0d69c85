"""Bluesky in the sandbox: the XRPC endpoints atproto's ``Client`` calls, answering like @atproto/pds 0.4.

Endpoint names (for faults, quotas and ``app.received``) and what they do:

=================================  ===========================================================================
``bluesky.server.createSession``   handle, e-mail or DID + app password → access JWT (2 h) + refresh
                                   JWT (90 d); wrong → 401 ``AuthenticationRequired`` "Invalid identifier
                                   or password"
``bluesky.server.refreshSession``  refresh JWT → a new pair; the old refresh token keeps working for a 2 h
                                   grace period, a revoked one → 400 ``ExpiredToken``
``bluesky.server.getSession``      who the access token belongs to
``bluesky.repo.uploadBlob``        bytes → blob ref (CID = sha256 of the bytes, so the same bytes give the
                                   same ref); the MIME type is sniffed from the bytes like the PDS does
``bluesky.repo.createRecord``      validate, store; an rkey that exists → opaque 500 ``InternalServerError``
``bluesky.repo.putRecord``         validate, upsert: identical record → same uri/cid and no commit,
                                   different record → overwritten (an edit)
``bluesky.repo.getRecord``         the record, or 400 ``RecordNotFound``
``bluesky.repo.deleteRecord``      delete (a missing record is a no-op, as on the PDS)
``bluesky.repo.describeRepo``      the repo's handle, DID and collections
``bluesky.identity.resolveHandle`` a handle → its DID: the accounts here and ``state["handles"]`` (other
                                   people's handles, as DNS or the AppView would resolve them); any other
                                   → 400 ``InvalidRequest`` "Unable to resolve handle", as the PDS answers
``bluesky.actor.getProfile``       a profile view (the AppView's job; ``appview=False`` answers 400 like a
                                   bare PDS that has none)
``bluesky.media.get``              ``GET /bluesky-media/<name>``: files tests put in ``state["files"]``
=================================  ===========================================================================

``app.bsky.feed.post`` records are checked against the lexicon the way the PDS's validator does (text ≤ 300
graphemes and ≤ 3000 UTF-8 bytes, createdAt datetime, langs ≤ 3 BCP-47 tags, tags ≤ 8 of ≤ 64 graphemes /
640 bytes, facet indices and features, embed external/images with blobs that were uploaded and fit
``maxSize``) with the PDS's messages, e.g. ``Invalid app.bsky.feed.post record: grapheme too big (maximum 300,
got 301) at $.record.text``. Two checks are the sandbox's own, stricter than a real PDS (which leaves them
to the AppView) and marked "(sandbox check)" in their messages: facet byte ranges must lie inside the text,
and reply refs must name records that exist here with that CID.

Every answer carries ``ratelimit-limit`` / ``-remaining`` / ``-reset`` (epoch seconds) / ``-policy``;
a 429 is ``{"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}``. Quota buckets:
``createSession``, ``repo-write`` (uploadBlob and record writes) and ``global`` (everything else).

State (``app.state["bluesky"]``): ``posts`` (one dict per post record, ``id`` = at:// URI, the record's
fields flattened in, ``deleted``/``edits`` kept up to date), ``records``, ``blobs``, ``refresh_tokens``,
``files``, ``handles`` (handle → DID of people who are not accounts here), and the knobs ``access_ttl`` /
``refresh_ttl`` (seconds) and ``jwt_secret`` (change it to invalidate every token issued so far).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.sandbox.core import PlatformHooks, QuotaState, Request, Response, SandboxApp

PLATFORM = "bluesky"
POST_NSID = "app.bsky.feed.post"
ACCESS_TTL = 2 * 3600
REFRESH_TTL = 90 * 86400
REFRESH_GRACE = 2 * 3600
BLOB_UPLOAD_LIMIT = 5 * 1024 * 1024
EMBED_BLOB_MAX = 1_000_000  # app.bsky.embed.external#external.thumb and app.bsky.embed.images#image.image

_ERROR_NAMES = {
    400: "InvalidRequest",
    401: "AuthenticationRequired",
    403: "Forbidden",
    404: "XRPCNotSupported",
    413: "PayloadTooLarge",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    501: "MethodNotImplemented",
    502: "UpstreamFailure",
    503: "NotEnoughResources",
    504: "UpstreamTimeout",
}
_TID_RE = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_RKEY_RE = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")
_DID_RE = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_URI_RE = re.compile(r"\w+:(?://)?[^\s/]\S*")
_AT_URI_RE = re.compile(r"at://(?P<repo>[^/\s]+)/(?P<collection>[a-zA-Z0-9.-]+)/(?P<rkey>[^/\s]+)")
_CID_RE = re.compile(r"b[a-z2-7]{58}|Qm[1-9A-HJ-NP-Za-km-z]{44}")  # CIDv1 sha2-256 base32, or CIDv0
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,20})?(Z|[+-][0-2][0-9]:[0-5][0-9])"
)
# @atproto/syntax's BCP-47 pattern (language.js), unchanged apart from Python's named-group syntax.
_BCP47_RE = re.compile(
    r"^((?P<grandfathered>(en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|"
    r"i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)|(art-lojban|cel-gaulish|no-bok|"
    r"no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang))|((?P<language>([A-Za-z]{2,3}"
    r"(-(?P<extlang>[A-Za-z]{3}(-[A-Za-z]{3}){0,2}))?)|[A-Za-z]{4}|[A-Za-z]{5,8})(-(?P<script>[A-Za-z]{4}))?"
    r"(-(?P<region>[A-Za-z]{2}|[0-9]{3}))?(-(?P<variant>[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(-(?P<extension>[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+))*(-(?P<privateUseA>x(-[A-Za-z0-9]{1,8})+))?)|"
    r"(?P<privateUseB>x(-[A-Za-z0-9]{1,8})+))$"
)
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


# --- content addressing and tokens -----------------------------------------------------------------
# The sandbox's own account: not a secret, it only opens the local sandbox.
CREDENTIALS: dict[str, str] = {
    "BLUESKY_HANDLE": "crosspost.sandbox.test",
    "BLUESKY_APP_PASSWORD": "sand-box0-app0-pass",
}

def cid_for(data: bytes, *, codec: int = 0x71) -> str:
    """A CIDv1 string (sha2-256, base32): codec 0x71 (dag-cbor) for records → ``bafyrei…``, 0x55 (raw)
    for blobs → ``bafkrei…``. Records are hashed as canonical JSON rather than DAG-CBOR: what matters here
    is that the same content always gets the same CID and different content a different one."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def record_cid(value: Any) -> str:
    return cid_for(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def did_for(handle: str) -> str:
    """A stable did:plc for a handle (24 base32 characters, like the PLC directory's)."""
    digest = base64.b32encode(hashlib.sha256(handle.lower().encode()).digest()).decode().lower()
    return "did:plc:" + digest[:24]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def _xrpc_error(status: int, message: str, error: str | None = None) -> Response:
    return Response(
        status, {"error": error or _ERROR_NAMES.get(status, "InternalServerError"), "message": message}
    )


def _invalid(message: str, error: str = "InvalidRequest") -> Response:
    return _xrpc_error(400, message, error)


# --- registration ----------------------------------------------------------------------------------
def register(
    app: SandboxApp,
    credentials: dict[str, str],
    *,
    appview: bool = True,
    access_ttl: float = ACCESS_TTL,
    refresh_ttl: float = REFRESH_TTL,
) -> None:
    """Add Bluesky's endpoints to ``app``, with one account: BLUESKY_HANDLE / BLUESKY_APP_PASSWORD."""
    handle = credentials["BLUESKY_HANDLE"].lower()
    account = {
        "did": did_for(handle),
        "handle": handle,
        "password": credentials["BLUESKY_APP_PASSWORD"],
        "email": handle.split(".")[0] + "@sandbox.test",
    }

    def fresh_state() -> dict[str, Any]:
        return {
            "accounts": {account["did"]: dict(account)},
            "posts": [],
            "records": {},
            "blobs": {},
            "refresh_tokens": {},
            "files": {},
            "handles": {},
            "rev": 0,
            "access_ttl": access_ttl,
            "refresh_ttl": refresh_ttl,
            "jwt_secret": secrets.token_bytes(32),
        }

    app.platform(PLATFORM, _hooks(app), fresh_state)
    app.default_quota(PLATFORM, "createSession", 300, 300.0)  # the PDS allows 30 / 5 min: generous here
    app.default_quota(PLATFORM, "repo-write", 50_000, 3600.0)
    app.default_quota(PLATFORM, "global", 300_000, 300.0)
    _routes(app, appview)


def _hooks(app: SandboxApp) -> PlatformHooks:
    def policy_window(q: QuotaState) -> int:
        with app.lock:
            for (platform, _), quota in app.quotas.items():
                if (
                    platform == PLATFORM
                    and quota.limit == q.limit
                    and abs(quota.window_start + quota.window - q.reset_epoch) < 1e-6
                ):
                    return int(quota.window)
        return max(1, round(q.reset_epoch - time.time()))

    def quota_headers(q: QuotaState) -> dict[str, str]:
        return {
            "ratelimit-limit": str(q.limit),
            "ratelimit-remaining": str(q.remaining),
            "ratelimit-reset": str(int(q.reset_epoch)),
            "ratelimit-policy": f"{q.limit};w={policy_window(q)}",
        }

    def rate_limited(q: QuotaState) -> Response:
        response = _xrpc_error(429, "Rate Limit Exceeded", "RateLimitExceeded")
        response.headers.update(quota_headers(q))
        return response

    return PlatformHooks(error=_xrpc_error, rate_limited=rate_limited, quota_headers=quota_headers)


# --- sessions ---------------------------------------------------------------------------------------
def _state(app: SandboxApp) -> dict[str, Any]:
    return app.state[PLATFORM]


def _find_account(state: dict[str, Any], identifier: str) -> dict[str, Any] | None:
    ident = identifier.strip().lower()
    for acct in state["accounts"].values():
        if ident in (acct["did"], acct["handle"], acct["email"].lower()):
            return dict(acct)
    return None


def _did_doc(acct: dict[str, Any], request: Request) -> dict[str, Any]:
    endpoint = "http://" + (request.header("host") or "127.0.0.1")
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": acct["did"],
        "alsoKnownAs": [f"at://{acct['handle']}"],
        "verificationMethod": [],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}],
    }


def _issue_tokens(app: SandboxApp, did: str) -> dict[str, str]:
    """A new access/refresh pair shaped like the PDS's (HS256, typ at+jwt / refresh+jwt, aud, sub, exp)."""
    state = _state(app)
    now = int(time.time())
    jti = secrets.token_urlsafe(24)
    aud = "did:web:sandbox.bsky.test"
    access = make_jwt(
        state["jwt_secret"],
        {"typ": "at+jwt", "alg": "HS256"},
        {
            "scope": "com.atproto.appPass",
            "aud": aud,
            "sub": did,
            "iat": now,
            "exp": now + int(state["access_ttl"]),
        },
    )
    refresh = make_jwt(
        state["jwt_secret"],
        {"typ": "refresh+jwt", "alg": "HS256"},
        {
            "scope": "com.atproto.refresh",
            "aud": aud,
            "sub": did,
            "jti": jti,
            "iat": now,
            "exp": now + int(state["refresh_ttl"]),
        },
    )
    state["refresh_tokens"][jti] = {"did": did, "revoked": False, "grace_until": None}
    return {"accessJwt": access, "refreshJwt": refresh}


def _verify_bearer(
    app: SandboxApp, request: Request, *, typ: str, scopes: tuple[str, ...]
) -> tuple[dict[str, Any] | None, Response | None]:
    """The token's payload, or the error response the PDS's auth verifier gives."""
    authorization = request.header("authorization")
    if not authorization:
        return None, _xrpc_error(401, "Authentication Required", "AuthMissing")
    parts = authorization.split(" ")
    if len(parts) != 2:
        return None, _invalid("Malformed authorization header", "InvalidToken")
    if parts[0].lower() != "bearer":
        return None, _invalid("Unexpected authorization type", "InvalidToken")
    try:
        head_b64, body_b64, sig_b64 = parts[1].split(".")
        expected = hmac.new(_state(app)["jwt_secret"], f"{head_b64}.{body_b64}".encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.digest(), _unb64url(sig_b64)):
            raise ValueError("bad signature")
        header = json.loads(_unb64url(head_b64))
        payload = json.loads(_unb64url(body_b64))
    except (ValueError, TypeError):
        return None, _invalid("Token could not be verified", "InvalidToken")
    if int(payload.get("exp", 0)) <= time.time():
        return None, _invalid("Token has expired", "ExpiredToken")
    if header.get("typ") and header.get("typ") != typ:
        return None, _invalid("Invalid token type", "InvalidToken")
    if payload.get("scope") not in scopes:
        return None, _invalid("Bad token scope", "InvalidToken")
    return payload, None


def _access(app: SandboxApp, request: Request) -> tuple[str | None, Response | None]:
    payload, error = _verify_bearer(
        app, request, typ="at+jwt", scopes=("com.atproto.access", "com.atproto.appPass")
    )
    return (payload["sub"] if payload else None), error


def _session_body(acct: dict[str, Any], request: Request, tokens: dict[str, str]) -> dict[str, Any]:
    return {
        **tokens,
        "handle": acct["handle"],
        "did": acct["did"],
        "didDoc": _did_doc(acct, request),
        "email": acct["email"],
        "emailConfirmed": True,
        "active": True,
    }


# --- records ----------------------------------------------------------------------------------------
def _uri(did: str, collection: str, rkey: str) -> str:
    return f"at://{did}/{collection}/{rkey}"


def _resolve_repo(app: SandboxApp, repo: Any, auth_did: str) -> tuple[str | None, Response | None]:
    acct = _find_account(_state(app), str(repo or ""))
    if acct is None:
        return None, _invalid(f"Could not find repo: {repo}")
    if acct["did"] != auth_did:
        return None, _xrpc_error(401, "Authentication Required")
    return acct["did"], None


def _write_checks(
    app: SandboxApp, did: str, collection: str, rkey: str, record: Any, validate: Any
) -> Response | None:
    """prepareWrite's checks, in the PDS's order, then its blob checks."""
    if not isinstance(record, dict):
        return _invalid("Expected object value type (got " + type(record).__name__ + ") at $.input.record")
    if record.get("$type", collection) != collection:
        return _invalid(f"Invalid $type: expected {collection}, got {record.get('$type')}")
    if not _RKEY_RE.fullmatch(rkey) or rkey in {".", ".."}:
        return _invalid(f"Invalid record key: {rkey}")
    if collection != POST_NSID or validate is False:
        return None
    if not _TID_RE.fullmatch(rkey):
        return _invalid(f'Invalid record key for {POST_NSID}: Invalid TID string (got {_shown(rkey)}) at $')
    issue = validate_post({**record, "$type": collection}, _state(app))
    if issue:
        return _invalid(f"Invalid {POST_NSID} record: {issue}")
    for blob in _blob_refs(record):
        stored = _state(app)["blobs"].get(blob["ref"]["$link"])
        if stored is None:
            return _invalid(f"Could not find blob: {blob['ref']['$link']}", "BlobNotFound")
        if stored["mimeType"] != blob["mimeType"]:
            return _invalid(
                "Referenced Mimetype does not match stored blob. "
                f"Expected: {stored['mimeType']}, Got: {blob['mimeType']}",
                "InvalidMimeType",
            )
        if stored["size"] != blob["size"]:
            return _invalid(
                f"Referenced Size does not match stored blob. Expected: {stored['size']}, "
                f"Got: {blob['size']}",
                "InvalidSize",
            )
    return None


def _store(app: SandboxApp, did: str, collection: str, rkey: str, record: dict[str, Any]) -> dict[str, Any]:
    """Write the record (new or replacing), keep the posts list in step, and return the write result."""
    state = _state(app)
    value = {**record, "$type": record.get("$type", collection)}
    uri, cid = _uri(did, collection, rkey), record_cid(value)
    state["rev"] += 1
    previous = state["records"].get(uri)
    state["records"][uri] = {
        "uri": uri,
        "cid": cid,
        "value": value,
        "did": did,
        "collection": collection,
        "rkey": rkey,
    }
    if collection == POST_NSID:
        post = {k: v for k, v in value.items() if k != "$type"}
        post.update(
            {"id": uri, "uri": uri, "cid": cid, "rkey": rkey, "repo": did, "record": value, "deleted": False}
        )
        existing = next((p for p in state["posts"] if p["id"] == uri and not p.get("deleted")), None)
        if previous is not None and existing is not None:
            edits = existing.get("edits", 0) + 1
            existing.clear()
            existing.update(post, edits=edits)
        else:
            state["posts"].append({**post, "edits": 0})
    commit = {"cid": cid_for(f"commit:{state['rev']}:{cid}".encode()), "rev": _tid_now(state["rev"])}
    return {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}


def _tid_now(clock: int) -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = (int(time.time() * 1_000_000) << 10) | (clock & 0x3FF)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _blob_refs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("$type") == "blob":
            return [value]
        return [b for v in value.values() for b in _blob_refs(v)]
    if isinstance(value, list):
        return [b for v in value for b in _blob_refs(v)]
    return []


# --- the app.bsky.feed.post lexicon ------------------------------------------------------------------
def _graphemes(text: str) -> int:
    """Extended grapheme clusters (UAX #29), as the lexicon's ``maxGraphemes`` counts them; written here,
    not taken from bot.text, so the sandbox judges crosspost's counting with its own."""
    import regex  # imported here so that registering the sandbox stays cheap

    return len(regex.findall(r"\X", text))


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_string(
    value: Any,
    path: str,
    *,
    max_bytes: int | None = None,
    max_graphemes: int | None = None,
    fmt: str | None = None,
) -> str | None:
    if not isinstance(value, str):
        return f"Expected string value type (got {_shown(value)}) at {path}"
    size = _utf8_len(value)
    if max_bytes is not None and size > max_bytes:
        return f"string too big (maximum {max_bytes}, got {size}) at {path}"
    if max_graphemes is not None and len(value) > max_graphemes:
        count = _graphemes(value)
        if count > max_graphemes:
            return f"grapheme too big (maximum {max_graphemes}, got {count}) at {path}"
    if fmt is not None and not _FORMATS[fmt](value):
        return f"Invalid {_FORMAT_NAMES.get(fmt, fmt)} (got {_shown(value)}) at {path}"
    return None


def _is_datetime(value: str) -> bool:
    if not _DATETIME_RE.fullmatch(value) or value.endswith("-00:00") or value.startswith("0000"):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS: dict[str, Callable[[str], bool]] = {
    "datetime": _is_datetime,
    "language": lambda v: bool(_BCP47_RE.match(v)),
    "uri": lambda v: bool(_URI_RE.fullmatch(v)),
    "did": lambda v: bool(_DID_RE.fullmatch(v)),
    "at-uri": lambda v: bool(_AT_URI_RE.fullmatch(v)),
    "cid": lambda v: bool(_CID_RE.fullmatch(v)),
}


_FORMAT_NAMES = {"did": "DID", "cid": "CID string"}  # lex-schema's IssueInvalidFormat wording


def _shown(value: Any) -> str:
    """A value as lex-schema's ``stringifyValue`` shows it in a message (strings cut at 48 UTF-16 units,
    at most two array items / object keys)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, str):
        units = value.encode("utf-16-le")
        if len(units) >= 96:
            value = units[: 2 * 47].decode("utf-16-le", "ignore") + "…"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value[:2]) + (", ..." if len(value) > 2 else "") + "]"
    if isinstance(value, dict):
        keys = list(value)
        shown = ", ".join(f"{json.dumps(k, ensure_ascii=False)}: ..." for k in keys[:2])
        return "{" + shown + (", ..." if len(keys) > 2 else "") + "}"
    return "object"


def _require(obj: Any, keys: tuple[str, ...], path: str) -> str | None:
    if not isinstance(obj, dict):
        return f"Expected object value type (got {_shown(obj)}) at {path}"
    for key in keys:
        if key not in obj:
            return f'Missing required key "{key}" at {path}'
    return None


def _check_array(value: Any, path: str, max_len: int | None = None) -> str | None:
    if not isinstance(value, list):
        return f"Expected array value type (got {_shown(value)}) at {path}"
    if max_len is not None and len(value) > max_len:
        return f"array too big (maximum {max_len}, got {len(value)}) at {path}"
    return None


def _check_blob(blob: Any, path: str) -> str | None:
    ref = blob.get("ref") if isinstance(blob, dict) else None
    if not (
        isinstance(blob, dict)
        and blob.get("$type") == "blob"
        and isinstance(ref, dict)
        and isinstance(ref.get("$link"), str)
        and isinstance(blob.get("mimeType"), str)
        and isinstance(blob.get("size"), int)
    ):
        return f"Expected blob value type (got {_shown(blob)}) at {path}"
    if not blob["mimeType"].startswith("image/"):
        return f'Expected "image/*" (got {_shown(blob["mimeType"])}) at {path}.mimeType'
    if blob["size"] > EMBED_BLOB_MAX:
        return f"blob too big (maximum {EMBED_BLOB_MAX}, got {blob['size']}) at {path}"
    return None


def _check_facets(facets: Any, text: str, path: str) -> str | None:
    problem = _check_array(facets, path)
    if problem:
        return problem
    text_bytes = _utf8_len(text)
    for i, facet in enumerate(facets):
        at = f"{path}[{i}]"
        problem = _require(facet, ("index", "features"), at) or _require(
            facet["index"], ("byteStart", "byteEnd"), f"{at}.index"
        )
        if problem:
            return problem
        for key in ("byteStart", "byteEnd"):
            value = facet["index"][key]
            if not isinstance(value, int) or isinstance(value, bool):
                return f"Expected integer value type (got {_shown(value)}) at {at}.index.{key}"
            if value < 0:
                return f"integer too small (minimum 0, got {value}) at {at}.index.{key}"
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if not start < end <= text_bytes:
            return (
                f"facet byte range {start}-{end} is not inside the text ({text_bytes} bytes) at "
                f"{at}.index (sandbox check)"
            )
        problem = _check_array(facet["features"], f"{at}.features")
        if problem:
            return problem
        for j, feature in enumerate(facet["features"]):
            problem = _check_feature(feature, f"{at}.features[{j}]")
            if problem:
                return problem
    return None


def _untyped(value: Any, at: str) -> str:
    return f'Expected an object which includes the "$type" property value type (got {_shown(value)}) at {at}'


def _check_feature(feature: Any, at: str) -> str | None:
    if not isinstance(feature, dict) or not isinstance(feature.get("$type"), str):
        return _untyped(feature, at)
    kind = feature["$type"]
    if kind == "app.bsky.richtext.facet#link":
        return _require(feature, ("uri",), at) or _check_string(feature["uri"], f"{at}.uri", fmt="uri")
    if kind == "app.bsky.richtext.facet#tag":
        return _require(feature, ("tag",), at) or _check_string(
            feature["tag"], f"{at}.tag", max_bytes=640, max_graphemes=64
        )
    if kind == "app.bsky.richtext.facet#mention":
        return _require(feature, ("did",), at) or _check_string(feature["did"], f"{at}.did", fmt="did")
    return None  # an open union: unknown features pass, as on the PDS


def _check_reply(reply: Any, state: dict[str, Any], path: str) -> str | None:
    problem = _require(reply, ("root", "parent"), path)
    if problem:
        return problem
    for part in ("root", "parent"):
        ref, at = reply[part], f"{path}.{part}"
        problem = (
            _require(ref, ("uri", "cid"), at)
            or _check_string(ref["uri"], f"{at}.uri", fmt="at-uri")
            or _check_string(ref["cid"], f"{at}.cid", fmt="cid")
        )
        if problem:
            return problem
        target = state["records"].get(ref["uri"])
        if target is None:
            return f"reply {part} {ref['uri']} does not exist at {at} (sandbox check)"
        if target["cid"] != ref["cid"]:
            return f"reply {part} cid {ref['cid']} is not {target['cid']} at {at} (sandbox check)"
    return None


def _check_embed(embed: Any, path: str) -> str | None:
    if not isinstance(embed, dict) or not isinstance(embed.get("$type"), str):
        return _untyped(embed, path)
    if embed["$type"] == "app.bsky.embed.external":
        ext: Any = embed.get("external")
        at = f"{path}.external"
        problem = _require(embed, ("external",), path) or _require(ext, ("uri", "title", "description"), at)
        if problem:
            return problem
        problem = (
            _check_string(ext["uri"], f"{at}.uri", fmt="uri")
            or _check_string(ext["title"], f"{at}.title")
            or _check_string(ext["description"], f"{at}.description")
        )
        if problem or "thumb" not in ext:
            return problem
        return _check_blob(ext["thumb"], f"{at}.thumb")
    if embed["$type"] == "app.bsky.embed.images":
        problem = _require(embed, ("images",), path) or _check_array(embed["images"], f"{path}.images", 4)
        if problem:
            return problem
        for i, image in enumerate(embed["images"]):
            at = f"{path}.images[{i}]"
            problem = (
                _require(image, ("image", "alt"), at)
                or _check_blob(image["image"], f"{at}.image")
                or _check_string(image["alt"], f"{at}.alt")
            )
            if problem:
                return problem
    return None


def validate_post(record: dict[str, Any], state: dict[str, Any]) -> str | None:
    """The first problem with an ``app.bsky.feed.post`` record, worded like the PDS, or None."""
    base = "$.record"
    problem = _require(record, ("text", "createdAt"), base)
    if problem:
        return problem
    text = record["text"]
    problem = _check_string(text, f"{base}.text", max_bytes=3000, max_graphemes=300)
    if problem:
        return problem
    if "facets" in record:
        problem = _check_facets(record["facets"], text, f"{base}.facets")
    if not problem and "reply" in record:
        problem = _check_reply(record["reply"], state, f"{base}.reply")
    if not problem and "embed" in record:
        problem = _check_embed(record["embed"], f"{base}.embed")
    if not problem and "langs" in record:
        problem = _check_array(record["langs"], f"{base}.langs", 3) or next(
            (
                p
                for i, lang in enumerate(record["langs"])
                if (p := _check_string(lang, f"{base}.langs[{i}]", fmt="language"))
            ),
            None,
        )
    if not problem and "tags" in record:
        problem = _check_array(record["tags"], f"{base}.tags", 8) or next(
            (
                p
                for i, tag in enumerate(record["tags"])
                if (p := _check_string(tag, f"{base}.tags[{i}]", max_bytes=640, max_graphemes=64))
            ),
            None,
        )
    return problem or _check_string(record["createdAt"], f"{base}.createdAt", fmt="datetime")


def sniff_mime(data: bytes, declared: str) -> str:
    """What the PDS's file-type sniffing would say, falling back to the declared Content-Type."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    declared = declared.split(";")[0].strip()
    return declared if declared and declared != "*/*" else "application/octet-stream"


# --- routes -----------------------------------------------------------------------------------------
def _routes(app: SandboxApp, appview: bool) -> None:
    xrpc = r"/xrpc/"

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.server\.createSession",
        PLATFORM,
        "bluesky.server.createSession",
        quota="createSession",
    )
    def create_session(app: SandboxApp, request: Request) -> Response:
        body = _json(request)
        for key in ("identifier", "password"):
            if not isinstance(body.get(key), str):
                return _invalid(f'Missing required key "{key}" at $.input')
        with app.lock:
            acct = _find_account(_state(app), body["identifier"])
            if acct is None or not hmac.compare_digest(acct["password"], body["password"]):
                return _xrpc_error(401, "Invalid identifier or password")
            return Response(200, _session_body(acct, request, _issue_tokens(app, acct["did"])))

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.server\.refreshSession",
        PLATFORM,
        "bluesky.server.refreshSession",
        quota="global",
    )
    def refresh_session(app: SandboxApp, request: Request) -> Response:
        with app.lock:
            payload, error = _verify_bearer(app, request, typ="refresh+jwt", scopes=("com.atproto.refresh",))
            if error or payload is None:
                return error or _invalid("Token could not be verified", "InvalidToken")
            state = _state(app)
            token = state["refresh_tokens"].get(payload.get("jti"))
            now = time.time()
            if token is None or token["revoked"] or (token["grace_until"] and now > token["grace_until"]):
                return _invalid("Token has been revoked", "ExpiredToken")
            token["grace_until"] = token["grace_until"] or now + REFRESH_GRACE
            acct = state["accounts"].get(payload["sub"])
            if acct is None:
                return _invalid(f"Could not find user info for account: {payload['sub']}")
            return Response(200, _session_body(acct, request, _issue_tokens(app, acct["did"])))

    @app.route(
        "GET",
        xrpc + r"com\.atproto\.server\.getSession",
        PLATFORM,
        "bluesky.server.getSession",
        quota="global",
    )
    def get_session(app: SandboxApp, request: Request) -> Response:
        with app.lock:
            did, error = _access(app, request)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            acct = _state(app)["accounts"][did]
            body = _session_body(acct, request, {})
            return Response(200, body)

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.repo\.uploadBlob",
        PLATFORM,
        "bluesky.repo.uploadBlob",
        quota="repo-write",
    )
    def upload_blob(app: SandboxApp, request: Request) -> Response:
        with app.lock:
            did, error = _access(app, request)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            if len(request.body) > BLOB_UPLOAD_LIMIT:
                return _xrpc_error(413, "request entity too large", "PayloadTooLarge")
            cid = cid_for(request.body, codec=0x55)
            mime = sniff_mime(request.body, request.header("content-type"))
            _state(app)["blobs"][cid] = {
                "mimeType": mime,
                "size": len(request.body),
                "data": request.body,
                "did": did,
            }
            return Response(
                200,
                {
                    "blob": {
                        "$type": "blob",
                        "ref": {"$link": cid},
                        "mimeType": mime,
                        "size": len(request.body),
                    }
                },
            )

    def write(app: SandboxApp, request: Request, *, upsert: bool) -> Response:
        body = _json(request)
        with app.lock:
            did, error = _access(app, request)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            for key in ("repo", "collection", "record") + (("rkey",) if upsert else ()):
                if key not in body:
                    return _invalid(f'Missing required key "{key}" at $.input')
            did, error = _resolve_repo(app, body["repo"], did)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            collection = str(body["collection"])
            rkey = str(body.get("rkey") or _tid_now(_state(app)["rev"]))
            problem = _write_checks(app, did, collection, rkey, body["record"], body.get("validate"))
            if problem:
                return problem
            current = _state(app)["records"].get(_uri(did, collection, rkey))
            if current is not None and not upsert:
                # What @atproto/pds 0.4 answers: the unique index on the record URI fails inside the commit.
                return _xrpc_error(500, "Internal Server Error", "InternalServerError")
            value = {**body["record"], "$type": body["record"].get("$type", collection)}
            if current is not None and current["cid"] == record_cid(value):
                return Response(
                    200, {"uri": current["uri"], "cid": current["cid"], "validationStatus": "valid"}
                )
            return Response(200, _store(app, did, collection, rkey, value))

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.repo\.createRecord",
        PLATFORM,
        "bluesky.repo.createRecord",
        quota="repo-write",
    )
    def create_record(app: SandboxApp, request: Request) -> Response:
        return write(app, request, upsert=False)

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.repo\.putRecord",
        PLATFORM,
        "bluesky.repo.putRecord",
        quota="repo-write",
    )
    def put_record(app: SandboxApp, request: Request) -> Response:
        return write(app, request, upsert=True)

    @app.route(
        "POST",
        xrpc + r"com\.atproto\.repo\.deleteRecord",
        PLATFORM,
        "bluesky.repo.deleteRecord",
        quota="repo-write",
    )
    def delete_record(app: SandboxApp, request: Request) -> Response:
        body = _json(request)
        with app.lock:
            did, error = _access(app, request)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            did, error = _resolve_repo(app, body.get("repo"), did)
            if error or did is None:
                return error or _xrpc_error(401, "Authentication Required")
            state = _state(app)
            uri = _uri(did, str(body.get("collection")), str(body.get("rkey")))
            if state["records"].pop(uri, None) is None:
                return Response(200, {})
            state["rev"] += 1
            for post in state["posts"]:
                if post["id"] == uri and not post.get("deleted"):
                    post["deleted"] = True
            return Response(
                200,
                {
                    "commit": {
                        "cid": cid_for(f"delete:{uri}:{state['rev']}".encode()),
                        "rev": _tid_now(state["rev"]),
                    }
                },
            )

    @app.route(
        "GET", xrpc + r"com\.atproto\.repo\.getRecord", PLATFORM, "bluesky.repo.getRecord", quota="global"
    )
    def get_record(app: SandboxApp, request: Request) -> Response:
        with app.lock:
            state = _state(app)
            acct = _find_account(state, request.arg("repo") or "")
            if acct is None:
                return _invalid("Could not locate record")
            uri = _uri(acct["did"], request.arg("collection") or "", request.arg("rkey") or "")
            found = state["records"].get(uri)
            wanted = request.arg("cid")
            if found is None or (wanted and wanted != found["cid"]):
                return _invalid(f"Could not locate record: {uri}", "RecordNotFound")
            return Response(200, {"uri": uri, "cid": found["cid"], "value": found["value"]})

    @app.route(
        "GET",
        xrpc + r"com\.atproto\.repo\.describeRepo",
        PLATFORM,
        "bluesky.repo.describeRepo",
        quota="global",
    )
    def describe_repo(app: SandboxApp, request: Request) -> Response:
        with app.lock:
            state = _state(app)
            acct = _find_account(state, request.arg("repo") or "")
            if acct is None:
                return _invalid(f"Could not find user: {request.arg('repo')}")
            collections = sorted(
                {r["collection"] for r in state["records"].values() if r["did"] == acct["did"]}
            )
            return Response(
                200,
                {
                    "handle": acct["handle"],
                    "did": acct["did"],
                    "didDoc": _did_doc(acct, request),
                    "collections": collections,
                    "handleIsCorrect": True,
                },
            )

    @app.route(
        "GET",
        xrpc + r"com\.atproto\.identity\.resolveHandle",
        PLATFORM,
        "bluesky.identity.resolveHandle",
        quota="global",
    )
    def resolve_handle(app: SandboxApp, request: Request) -> Response:
        handle = (request.arg("handle") or "").strip().lower()
        if not handle:
            return _invalid('Params must have the property "handle"')
        with app.lock:
            state = _state(app)
            did = state["handles"].get(handle) or next(
                (a["did"] for a in state["accounts"].values() if a["handle"] == handle), None
            )
        if did is None:
            return _invalid("Unable to resolve handle")
        return Response(200, {"did": did})

    @app.route(
        "GET", xrpc + r"app\.bsky\.actor\.getProfile", PLATFORM, "bluesky.actor.getProfile", quota="global"
    )
    def get_profile(app: SandboxApp, request: Request) -> Response:
        if not appview:
            return _invalid("No service configured for app.bsky.actor.getProfile")
        with app.lock:
            state = _state(app)
            acct = _find_account(state, request.arg("actor") or "")
            if acct is None:
                return _invalid("Profile not found")
            posts = sum(1 for p in state["posts"] if p["repo"] == acct["did"] and not p.get("deleted"))
            return Response(
                200,
                {
                    "did": acct["did"],
                    "handle": acct["handle"],
                    "displayName": "",
                    "followersCount": 0,
                    "followsCount": 0,
                    "postsCount": posts,
                    "indexedAt": "2024-01-01T00:00:00.000Z",
                },
            )

    @app.route("GET", r"/bluesky-media/(?P<name>[^/]+)", PLATFORM, "bluesky.media.get")
    def media(app: SandboxApp, request: Request, name: str) -> Response:
        with app.lock:
            found = _state(app)["files"].get(name)
        if found is None:
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        content_type, data = found
        return Response(200, bytes(data), {"Content-Type": content_type})


def _json(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
