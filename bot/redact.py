"""Masking credentials in every form a server may echo them back in: the one redaction of crosspost.

A platform that answers an error with the request it received echoes a secret as the SDK sent it:
inside a JSON body (``\\"``, ``\\\\``, ``\\u00e9``), in a form or a query (``%2B``, ``+`` for a space),
in an HTML error page (``&amp;``, ``&#x27;``), in a Basic ``Authorization`` header (base64 of
``user:secret``), or as a mail-style parser shows a non-ASCII header (``=C3=A9``). Such an echo may
itself be JSON-escaped or URL-encoded once more by the server's error page. Masking only the literal
value lets all of these through, so for each secret this module builds every such form, up to two
encodings deep, once per set of secrets, and :func:`redact` replaces them all in one regex pass.

Secrets are registered once by the settings reader (:func:`register_secrets`); callers that hold an
account's credentials may pass them again as ``extra``. Values shorter than :data:`MIN_LENGTH` are
not masked: masking ``"x"`` everywhere would destroy messages and hide nothing worth hiding.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar
from urllib.parse import quote, quote_plus

from bot.errors import PublishError

MASK = "***"
MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_basic_pairs: set[tuple[str, str]] = set()


def register_secrets(values: Iterable[str], *, users: Iterable[str] = ()) -> None:
    """Values that must never be printed; ``users`` are names sent with them in Basic credentials."""
    new = {v for v in values if v and len(v) >= MIN_LENGTH}
    with _lock:
        _secrets.update(new)
        _basic_pairs.update((u, s) for u in users if u for s in new if u != s)


def forget_secrets() -> None:
    """Drop every registered secret (tests that load several settings in one process)."""
    with _lock:
        _secrets.clear()
        _basic_pairs.clear()


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and each of ``extra``) masked, in any encoding below."""
    with _lock:
        secrets = frozenset(_secrets | {s for s in extra if s and len(s) >= MIN_LENGTH})
        pairs = frozenset(_basic_pairs)
    if not secrets or not text:
        return text
    return _pattern(secrets, pairs).sub(MASK, text)


E = TypeVar("E", bound=PublishError)


def redact_error(error: E, extra: Iterable[str] = ()) -> E:
    """The same error (type, status, retry time kept) with its message redacted."""
    message = str(error)
    clean = redact(message, extra)
    if clean != message:
        error.args = (clean, *error.args[1:])
    return error


# --- the forms a secret takes ------------------------------------------------------------------------
def _json(value: str) -> list[str]:
    ascii_ = json.dumps(value)[1:-1]
    unicode_ = json.dumps(value, ensure_ascii=False)[1:-1]
    return [ascii_, unicode_, ascii_.replace("/", "\\/"), unicode_.replace("/", "\\/"),
            ascii_.replace("\\u", "\\U")]


def _percent(value: str) -> list[str]:
    return [quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")]


def _numeric_entity(value: str, hexadecimal: bool) -> str:
    def one(char: str) -> str:
        if char.isascii() and char.isalnum():
            return char
        return f"&#x{ord(char):x};" if hexadecimal else f"&#{ord(char)};"

    return "".join(one(c) for c in value)


def _html(value: str) -> list[str]:
    escaped = html.escape(value)
    return [escaped, html.escape(value, quote=False), escaped.replace("&#x27;", "&#39;"),
            _numeric_entity(value, True), _numeric_entity(value, False)]


def _mime_q(value: str) -> list[str]:
    """RFC 2047 "Q" encoding, how a mail-style header parser shows a non-ASCII header it echoes."""
    import email.quoprimime

    word = email.quoprimime.header_encode(value.encode("utf-8"), charset="utf-8")
    return [word[len("=?utf-8?q?"):-len("?=")]]


_ENCODINGS: tuple[Callable[[str], list[str]], ...] = (_json, _percent, _html, _mime_q)


def _base64(raw: str) -> list[str]:
    data = raw.encode("utf-8")
    forms = [base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()]
    return forms + [f.rstrip("=") for f in forms]


def _forms(secret: str) -> set[str]:
    """``secret`` as is, encoded once and twice (e.g. JSON of a URL-encoded form), and in base64."""
    once = {secret} | {f for encode in _ENCODINGS for f in encode(secret)}
    twice = {f for value in once for encode in _ENCODINGS for f in encode(value)}
    return once | twice | set(_base64(secret))


@lru_cache(maxsize=32)
def _pattern(secrets: frozenset[str], pairs: frozenset[tuple[str, str]]) -> re.Pattern[str]:
    """One alternation of every form, longest first so a longer form is masked whole."""
    forms: set[str] = set()
    for secret in secrets:
        forms |= _forms(secret)
    for user, secret in pairs:
        if secret in secrets:
            basic = set(_base64(f"{user}:{secret}"))
            forms |= basic | {f for value in basic for encode in _ENCODINGS for f in encode(value)}
    ordered = sorted((f for f in forms if len(f) >= MIN_LENGTH), key=len, reverse=True)
    return re.compile("|".join(_any_hex_case(re.escape(f)) for f in ordered))


def _any_hex_case(pattern: str) -> str:
    """``%2b`` is ``%2B``: percent-escapes match in either case (servers and SDKs differ)."""
    def both(char: str) -> str:
        return f"[{char.lower()}{char.upper()}]" if char.isalpha() else char

    return re.sub(r"%([0-9A-Fa-f])([0-9A-Fa-f])", lambda m: "%" + both(m[1]) + both(m[2]), pattern)


