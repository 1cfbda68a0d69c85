"""Mentions written for one network, made inert on the others (an article quotes people everywhere).

An article may quote ``@alice@mastodon.example`` (fediverse), ``@alice.bsky.social`` (Bluesky) or
``@alice`` (X). Posted as written elsewhere, each can ping an unrelated person: X's twitter-text
reads ``@alice.bsky.social`` as the X user ``@alice``; Mastodon's ``Account::MENTION_RE`` reads a
bare ``@alice`` as the local user ``alice`` of the instance. :func:`defuse_mentions` keeps each such
mention readable but never live on a platform it was not written for:

- a Bluesky handle becomes its profile's link, ``https://bsky.app/profile/alice.bsky.social``:
  readable, useful, and with no "@" in it nothing can read a mention into it;
- a fediverse handle or a bare ``@alice`` gets U+2060 WORD JOINER after its first ``@``: it shows
  as written, but Mastodon's MENTION_RE and twitter-text both need a username character right after
  the ``@``, and U+2060 is none (it is not ``[[:word:]]``, not Join_Control). The second ``@`` of
  ``@alice@mastodon.example`` follows a letter, which neither detector takes as a mention, and
  twitter-text takes no link right after an ``@``. (The profile link ``https://mastodon.example/@alice``
  would not do: where twitter-text does not know the TLD, it is no link and ``/@alice`` pings
  the X user ``alice``.)

Bluesky makes no mention from text: only a record facet pings, and the composer never writes a
mention facet (the publisher adds one for a handle it resolved). So Bluesky's text is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from bot import data
from bot.facets import MENTION_FEATURE

WORD_JOINER = "\u2060"

# Which kind of mention each platform itself links (bot.platforms.Platform.mention_kind).
FEDIVERSE = "fediverse"  # @user@domain
ATPROTO = "atproto"  # @handle.with.tld
SHORT = "short"  # @name


@cache
def _mention_pattern() -> Any:
    import regex

    # Not after a word character, "@", "/" (a URL path such as /@alice) or "." (an e-mail address);
    # the name is atomic so that a longer handle is never read as a shorter one.
    return regex.compile(
        r"(?<![\w@＠/.+\-])[@＠](?P<name>(?>[A-Za-z0-9_]+(?:[.\-][A-Za-z0-9_]+)*))"
        r"(?:@(?P<domain>(?>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)))?(?![\w@＠])"
    )


@cache
def _tlds() -> frozenset[str]:
    return frozenset(data.lines("atproto_tlds.txt"))


def mention_kind(name: str, domain: str | None) -> str | None:
    """``FEDIVERSE``, ``ATPROTO``, ``SHORT`` or None (not a mention any platform would link)."""
    if domain:
        return FEDIVERSE
    if "." in name:
        # As @atproto/api's detectFacets: a known TLD, or ".test" (the PDS's handle domain in tests).
        tld = name.rpartition(".")[2].lower()
        return ATPROTO if tld in _tlds() or tld == "test" else None
    return SHORT if len(name) <= 15 and "-" not in name else None


def _profile_link(kind: str, name: str) -> str | None:
    """A link to the profile, where it holds no "@" (see the module docstring)."""
    from bot import platforms

    for platform in platforms.all_platforms():
        if platform.mention_kind == kind and platform.profile_url:
            return platform.profile_url.format(name=name)
    return None


def defuse_mentions(text: str, native: str, *, facets_only: bool = False) -> str:
    """``text`` with every mention not of the ``native`` kind made inert (see the module docstring).

    ``facets_only``: the platform links mentions only through record facets (Bluesky), so the text
    is already inert and is returned unchanged.
    """
    if facets_only or ("@" not in text and "＠" not in text):
        return text

    def replace(match: Any) -> str:
        name, domain = match.group("name"), match.group("domain")
        kind = mention_kind(name, domain)
        if kind is None or kind == native:
            return str(match.group(0))
        link = _profile_link(kind, name)
        return link if link else "@" + WORD_JOINER + match.group(0)[1:]

    return str(_mention_pattern().sub(replace, text))


def handles_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) in code points of every ``@handle.tld`` (a Bluesky handle) in ``text``."""
    found = []
    for match in _mention_pattern().finditer(text):
        if match.group(0)[0] == "@" and mention_kind(match.group("name"), match.group("domain")) == ATPROTO:
            found.append((match.start(), match.end(), str(match.group("name"))))
    return found


def with_mention_facets(
    text: str, facets: Sequence[dict[str, Any]], resolve: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    """``facets`` plus a mention facet (the DID) for every ``@handle`` in ``text`` that ``resolve`` answers.

    Bluesky pings only through such a facet, so a handle is a mention only when it really resolves on
    Bluesky; one that does not (``resolve`` gives None) stays plain text. A handle inside another
    facet (a link) is left alone; each distinct handle is resolved once. Sorted by ``byteStart``.
    """
    taken = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in facets]
    dids: dict[str, str | None] = {}
    added: list[dict[str, Any]] = []
    for start, end, handle in handles_in(text):
        byte_start, byte_end = len(text[:start].encode("utf-8")), len(text[:end].encode("utf-8"))
        if any(byte_start < e and s < byte_end for s, e in taken):
            continue
        key = handle.lower()
        if key not in dids:
            dids[key] = resolve(key)
        did = dids[key]
        if did:
            feature = {"$type": MENTION_FEATURE, "did": did}
            added.append({"index": {"byteStart": byte_start, "byteEnd": byte_end}, "features": [feature]})
    return sorted([*facets, *added], key=lambda facet: int(facet["index"]["byteStart"]))
