"""How each Mastodon-API server software behaves where crosspost meets it, for the Mastodon sandbox.

Written from each software's own code, independently of crosspost's ``bot.fediverse`` (this is the judge
the tests hold crosspost's rules against, so it must not share them):

==========  =====================================================================================
mastodon    ``StatusLengthValidator`` (graphemes, URLs ``characters_reserved_per_url``, remote
            mentions as ``@user``); 422 ``Validation failed: Text character limit of N exceeded``;
            Idempotency-Key honoured for an hour.
pleroma     ``validate_character_limit``: Elixir ``String.length`` (graphemes) of
            ``String.trim(status <> spoiler_text)``, links at full length; 422 ``The status is over
            the character limit``; Idempotency-Key honoured (``IdempotencyPlug``). v1 instance
            carries ``max_toot_chars`` besides ``configuration``.
akkoma      as pleroma; this sandbox serves no ``/api/v2/instance`` for it (404), so v1's
            ``max_toot_chars`` is what a client reads.
gotosocial  ``validateNormalizeCreateStatus``: ``len([]rune(status)) + len([]rune(spoiler))``, links
            at full length, though it announces ``characters_reserved_per_url: 25``; 400 ``status too
            long, N characters provided (including spoiler/content warning) but limit is M``;
            Idempotency-Key ignored.
takahe      ``post_status``: Python ``len(status)`` (code points; the spoiler is not counted), links
            at full length though it announces 23; 400 ``Status is too long``; Idempotency-Key
            ignored; the instance paths answer only without a trailing slash (what Takahē 0.11 did
            to Mastodon.py 2.3.3's ``/api/v1/instance/``).
iceshrimp   Iceshrimp.NET (NodeInfo ``Iceshrimp.NET``): ``NoteService.CreateNoteAsync``: C#
.net        ``Text.Length + Cw.Length`` (UTF-16 code units), links at full length though it announces
            23; 422 ``Text & content warning cannot exceed N characters in total``; Idempotency-Key
            honoured (``StatusController.PostNote``, 24 h). Not played: Iceshrimp.NET stores the key
            before the note is made, so a key whose first request failed answers 408 for 24 h.
sharkey     ``notes/create``: JavaScript ``text.length`` (UTF-16 code units) of ``status`` (the
            Mastodon layer hands it over unchanged; ``spoiler_text`` has its own limit), links at full
            length; ``characters_reserved_per_url`` is the length of the instance's own URL; 400
            ``MAX_LENGTH`` (Misskey's ApiError code, which Mastodon.py reports); Idempotency-Key
            ignored (neither the Mastodon layer nor ``notes/create`` reads it).
==========  =====================================================================================

Friendica and snac are not played: neither checks the length of ``POST /api/v1/statuses`` (Friendica
``Statuses::post``, snac ``mastoapi_post_handler``), so there is no boundary to play.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FLAVOR_ENV = "CROSSPOST_SANDBOX_MASTODON_FLAVOR"


def _grapheme_count(value: str) -> int:
    import regex

    return len(regex.findall(r"\X", value))


def _pleroma_length(status: str, spoiler: str, _url_weight: int) -> int:
    return _grapheme_count((status + spoiler).strip())


def _gotosocial_length(status: str, spoiler: str, _url_weight: int) -> int:
    return len(status) + len(spoiler)


def _utf16_units(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _iceshrimp_net_length(status: str, spoiler: str, _url_weight: int) -> int:
    return _utf16_units(status) + _utf16_units(spoiler)


def _sharkey_length(status: str, _spoiler: str, _url_weight: int) -> int:
    return _utf16_units(status)


def _takahe_length(status: str, _spoiler: str, _url_weight: int) -> int:
    return len(status)


@dataclass(frozen=True)
class Flavor:
    """One server software as the sandbox plays it."""

    name: str  # NodeInfo software.name
    version: str
    default_max_characters: int
    length: Callable[[str, str, int], int] | None  # (status, spoiler, url weight); None: Mastodon's own
    too_long_status: int
    too_long_message: Callable[[int, int], str]  # (length, limit) -> the server's error text
    honours_idempotency_key: bool
    announced_url_weight: int = 23
    instance_v2: bool = True
    max_toot_chars_in_v1: bool = False
    exact_paths_only: bool = False  # a trailing slash on the instance paths is a 404
    nodeinfo_path: str = "/nodeinfo/2.0"
    nodeinfo_name: str = ""  # NodeInfo software.name when not ``name`` (e.g. "Iceshrimp.NET")


FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (
        Flavor("mastodon", "4.3.0", 500, None, 422,
               lambda _n, limit: f"Validation failed: Text character limit of {limit} exceeded", True),
        Flavor("pleroma", "2.7.0", 5000, _pleroma_length, 422,
               lambda _n, _limit: "The status is over the character limit", True,
               max_toot_chars_in_v1=True, nodeinfo_path="/nodeinfo/2.1.json"),
        Flavor("akkoma", "3.13.2", 5000, _pleroma_length, 422,
               lambda _n, _limit: "The status is over the character limit", True,
               instance_v2=False, max_toot_chars_in_v1=True, nodeinfo_path="/nodeinfo/2.1.json"),
        Flavor("gotosocial", "0.17.3", 5000, _gotosocial_length, 400,
               lambda n, limit: (f"Bad Request: status too long, {n} characters provided (including "
                                 f"spoiler/content warning) but limit is {limit}"), False,
               announced_url_weight=25),
        Flavor("takahe", "0.11.0", 500, _takahe_length, 400, lambda _n, _limit: "Status is too long", False,
               exact_paths_only=True),
        Flavor("iceshrimp.net", "2024.1-beta4.security2", 8192, _iceshrimp_net_length, 422,
               lambda _n, limit: f"Text & content warning cannot exceed {limit} characters in total", True,
               max_toot_chars_in_v1=True, nodeinfo_path="/nodeinfo/2.1", nodeinfo_name="Iceshrimp.NET"),
        Flavor("sharkey", "2025.5.2", 3000, _sharkey_length, 400, lambda _n, _limit: "MAX_LENGTH", False,
               announced_url_weight=len("https://sharkey.example"), nodeinfo_path="/nodeinfo/2.1"),
    )
}

FLAVOR_NAMES: tuple[str, ...] = tuple(FLAVORS)


def flavor(name: str) -> Flavor:
    """The flavour called ``name`` (ValueError naming the choices otherwise)."""
    try:
        return FLAVORS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Mastodon flavour {name!r}: choose from {', '.join(FLAVOR_NAMES)}") from None


def nodeinfo_links(base: str, chosen: Flavor) -> dict[str, Any]:
    """``/.well-known/nodeinfo``: where the NodeInfo document is."""
    schema = "2.1" if "2.1" in chosen.nodeinfo_path else "2.0"
    return {"links": [{"rel": f"http://nodeinfo.diaspora.software/ns/schema/{schema}",
                       "href": base + chosen.nodeinfo_path}]}


def nodeinfo_document(chosen: Flavor, posts: int) -> dict[str, Any]:
    """The NodeInfo 2.x document: software name and version, usage."""
    return {
        "version": "2.1" if "2.1" in chosen.nodeinfo_path else "2.0",
        "software": {"name": chosen.nodeinfo_name or chosen.name, "version": chosen.version},
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {"users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": posts},
        "openRegistrations": False,
        "metadata": {},
    }
