"""Each platform's limits and counting rule, as data plus one measuring function per platform.

This table is the one list of platforms: the CLI's ``--platform`` choices, the settings reader, the
``.env.example`` check and the docs all read it (``adapters.PLATFORMS`` is checked against it by a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot import mentions, text


@dataclass(frozen=True)
class PlatformRules:
    """How one platform measures a post and what it allows."""

    name: str
    label: str
    limit: int  # in the platform's own unit (weighted chars / graphemes / characters)
    unit: str
    measure: Callable[[str, int], int]  # (text, url_weight) -> the length the fitter keeps within the limit
    url_weight: int = text.URL_WEIGHT
    byte_limit: int | None = None  # Bluesky also caps UTF-8 bytes
    shortens_links: bool = False  # Bluesky shows a short display text, the facet carries the full URL
    link_card: bool = False  # Bluesky: an app.bsky.embed.external card in the record
    record_tags: int = 0  # Bluesky: hashtags that do not fit in the text go to the record's tags (max 8)
    mention_kind: str = ""  # the mentions this platform links itself (bot.mentions: x, atproto, fediverse)
    mention_facets: bool = False  # Bluesky: only a record facet mentions someone, never the text
    # The platform's own count where ``measure`` deliberately counts more to stay safe (X: the larger
    # of two emoji readings); None when ``measure`` is the platform's own count.
    own_measure: Callable[[str], int] | None = None
    # Each server sets its own limit, which the adapter reads (``server_facts``): a dry run asks it, or
    # says it assumed the default. Lets a dry run without accounts skip importing the adapters.
    server_limits: bool = False
    credentials: tuple[str, ...] = ()  # environment variables an account needs
    base_url_env: str = ""
    default_base_url: str = ""
    aliases: tuple[str, ...] = ()  # other names people use for it (``twitter``): suggested, never guessed
    account_options: tuple[str, ...] = ()  # crosspost.toml [[accounts]] keys the adapter reads

    def length(self, post: str) -> int:
        return self.measure(post, self.url_weight)

    def own_length(self, post: str) -> int:
        """The platform's own count of ``post`` (what the dry run reports as ``length``)."""
        return self.own_measure(post) if self.own_measure else self.length(post)

    def fits(self, post: str) -> bool:
        if self.length(post) > self.limit:
            return False
        return self.byte_limit is None or text.utf8_len(post) <= self.byte_limit

    def with_limit(self, limit: int | None, url_weight: int | None = None) -> PlatformRules:
        """The same rules with an account's own limit (e.g. what a Mastodon instance says)."""
        if not limit and not url_weight:
            return self
        return replace(self, limit=limit or self.limit, url_weight=url_weight or self.url_weight)


def _x(post: str, _url_weight: int) -> int:
    return text.x_length(post)


def _x_own(post: str) -> int:
    return text.x_parse(post)[0]


def _bluesky(post: str, _url_weight: int) -> int:
    return text.bluesky_length(post)


def _mastodon(post: str, url_weight: int) -> int:
    return text.mastodon_length(post, url_length=url_weight)


RULES: dict[str, PlatformRules] = {
    r.name: r
    for r in (
        PlatformRules(
            "x", "X", text.X_LIMIT, "weighted characters", _x, mention_kind=mentions.X_STYLE, own_measure=_x_own,
            credentials=("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
            base_url_env="X_API_BASE_URL", default_base_url="https://api.twitter.com", aliases=("twitter",),
        ),
        PlatformRules(
            "bluesky", "Bluesky", text.BLUESKY_GRAPHEMES, "graphemes", _bluesky,
            byte_limit=text.BLUESKY_BYTES, shortens_links=True, link_card=True, record_tags=8,
            mention_kind=mentions.ATPROTO, mention_facets=True,
            credentials=("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"),
            base_url_env="BLUESKY_SERVICE_URL", default_base_url="https://bsky.social", aliases=("bsky",),
        ),
        PlatformRules(
            "mastodon", "Mastodon", text.MASTODON_DEFAULT_LIMIT, "characters", _mastodon,
            mention_kind=mentions.FEDIVERSE, server_limits=True,
            credentials=("MASTODON_ACCESS_TOKEN",),
            base_url_env="MASTODON_API_BASE_URL", default_base_url="", aliases=("toot", "fediverse"),
            account_options=("visibility", "spoiler_text", "sensitive"),
        ),
    )
}

PLATFORM_NAMES: tuple[str, ...] = tuple(RULES)


def parse_platforms(value: str | None) -> tuple[str, ...]:
    """``"x,bluesky"`` -> ``("x", "bluesky")``; every name checked; None means all.

    An unknown name is a ConfigError that suggests the nearest platform, by name or alias
    (``twitter`` -> x, ``blusky`` -> bluesky); an empty list is an error, not "all".
    """
    from bot.errors import ConfigError

    if value is None:
        return PLATFORM_NAMES
    names = tuple(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))
    if not names:
        raise ConfigError(f"no platform named in {value!r}: choose from {', '.join(PLATFORM_NAMES)}")
    for name in names:
        if name not in RULES:
            raise ConfigError(f"unknown platform {name!r}{_suggestion(name)}; choose from {', '.join(PLATFORM_NAMES)}")
    return names


def _suggestion(name: str) -> str:
    """`` — did you mean x?`` when ``name`` is close to a platform's name or one of its aliases."""
    import difflib

    known = {r.name: r.name for r in RULES.values()} | {a: r.name for r in RULES.values() for a in r.aliases}
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" — did you mean {known[close[0]]}?" if close else ""
