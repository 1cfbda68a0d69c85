"""Webhook signatures: make and check the HMAC-SHA256 headers that prove a request came from the CMS.

Two schemes, both HMAC-SHA256 keyed with the shared webhook secret, hex digests:

* **Ghost** (what Ghost core's ``WebhookTrigger`` sends): header
  ``X-Ghost-Signature: sha256=<hex>, t=<ms>`` where ``<hex>`` is the HMAC of the raw body followed
  directly by the timestamp digits (``body + str(t)``, no separator) and ``t`` is milliseconds since
  the epoch (JavaScript ``Date.now()``).
* **crosspost** (WordPress plugins, scripts, anything else): headers
  ``X-Crosspost-Timestamp: <seconds>`` and ``X-Crosspost-Signature: sha256=<hex>`` where ``<hex>`` is
  the HMAC of ``timestamp + "." + body``.

A timestamp more than :data:`TOLERANCE_SECONDS` away from now (either way) is refused, so a captured
request cannot be replayed later. Digests are compared with :func:`hmac.compare_digest`. Every
refusal is a :class:`SignatureError` whose message says what was wrong (never the expected digest).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from bot.errors import CrosspostError

TOLERANCE_SECONDS = 300
"""How far (seconds, past or future) a signed timestamp may be from this host's clock."""

GHOST_HEADER = "X-Ghost-Signature"
SIGNATURE_HEADER = "X-Crosspost-Signature"
TIMESTAMP_HEADER = "X-Crosspost-Timestamp"

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_DIGITS = re.compile(r"[0-9]{1,20}")


class SignatureError(CrosspostError):
    """A webhook request is unsigned, wrongly signed, or signed too long ago (HTTP 401)."""


Body = bytes | bytearray
"""A raw request body; the webhook reads into a bytearray and signs it without copying."""


def _hmac_hex(secret: str, *parts: Body) -> str:
    """HMAC-SHA256 of the parts in order, fed one by one (a 16 MiB body is never copied to append)."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest()


def _same_digest(expected_hex: str, given: str) -> bool:
    """Constant-time comparison of two hex digests (``given`` is already known to be 64 hex digits)."""
    return hmac.compare_digest(expected_hex.encode("ascii"), given.lower().encode("ascii"))


def _check_age(timestamp_seconds: float, now: float, tolerance: float) -> None:
    skew = now - timestamp_seconds
    if skew > tolerance:
        raise SignatureError(
            f"signature timestamp is {skew:.0f} s old (over {tolerance:g} s): a replayed or delayed request"
        )
    if -skew > tolerance:
        raise SignatureError(
            f"signature timestamp is {-skew:.0f} s in the future (over {tolerance:g} s): check the clocks"
        )


# ---------------------------------------------------------------------------- Ghost


def ghost_signature(secret: str, body: bytes, timestamp_ms: int) -> str:
    """The ``X-Ghost-Signature`` value Ghost sends for ``body`` at ``timestamp_ms``."""
    digest = _hmac_hex(secret, body, str(timestamp_ms).encode("ascii"))
    return f"sha256={digest}, t={timestamp_ms}"


def sign_ghost(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Headers a Ghost delivery of ``body`` would carry now (for tests, benchmarks and replays)."""
    timestamp_ms = int((time.time() if now is None else now) * 1000)
    return {GHOST_HEADER: ghost_signature(secret, body, timestamp_ms)}


def verify_ghost(
    secret: str,
    body: Body,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Check an ``X-Ghost-Signature`` header against ``body``; raise :class:`SignatureError` if it fails."""
    if not header or not header.strip():
        raise SignatureError(f"missing {GHOST_HEADER} header (set the webhook secret in Ghost)")
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    digest, stamp = fields.get("sha256", ""), fields.get("t", "")
    if not _HEX_DIGEST.fullmatch(digest) or not _DIGITS.fullmatch(stamp):
        raise SignatureError(f"malformed {GHOST_HEADER} header: expected 'sha256=<64 hex digits>, t=<ms>'")
    expected = _hmac_hex(secret, body, stamp.encode("ascii"))
    if not _same_digest(expected, digest):
        raise SignatureError(
            f"{GHOST_HEADER} does not match the body (wrong secret, or the body was altered)"
        )
    _check_age(int(stamp) / 1000, time.time() if now is None else now, tolerance)


# ---------------------------------------------------------------------------- crosspost (generic, WordPress)


def crosspost_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Crosspost-Signature`` value for ``body`` sent with ``X-Crosspost-Timestamp: timestamp``."""
    return "sha256=" + _hmac_hex(secret, str(timestamp).encode("ascii"), b".", body)


def sign_crosspost(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Both headers a sender puts on ``body``: the timestamp (seconds) and the signature."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: crosspost_signature(secret, body, timestamp)}


def verify_crosspost(
    secret: str,
    body: Body,
    signature: str | None,
    timestamp: str | None,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Check ``X-Crosspost-Signature`` and ``-Timestamp``; raise :class:`SignatureError` if they fail."""
    if not signature or not signature.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if not timestamp or not timestamp.strip():
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header (seconds since the epoch)")
    stamp = timestamp.strip()
    if not _DIGITS.fullmatch(stamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be whole seconds since the epoch")
    scheme, _, digest = signature.strip().partition("=")
    if scheme.strip().lower() != "sha256" or not _HEX_DIGEST.fullmatch(digest.strip()):
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected 'sha256=<64 hex digits>'")
    expected = _hmac_hex(secret, stamp.encode("ascii"), b".", body)
    if not _same_digest(expected, digest.strip()):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match timestamp and body (wrong secret, or the body was altered)"
        )
    _check_age(int(stamp), time.time() if now is None else now, tolerance)
