"""The registry: everything a platform declares, in one entry per platform.

Every other part of crosspost asks this module about platforms and never names one itself: the CLI's
``--platform`` choices and help, the settings reader, adapter loading, the sandbox (its registration and
the environment it prints), the demo, feeds, the dry run, ``.env.example`` (``tests/test_registry.py``
compares the file with :func:`env_example_block`) and the tests (parametrised over :func:`names`).
``tests/test_registry.py`` also fails when a platform's name appears in ``bot/`` outside this module and
the platform's own modules (:attr:`Platform.own_modules`).

A new platform is one adapter module (``adapters/NAME.py``), one template (``templates/NAME.j2``), one
sandbox module (``bot/sandbox/NAME.py``) and one :class:`Platform` entry here, or at run time through
:func:`register` (how the test suite adds a toy platform).

Adapters and sandbox modules are named by import path and imported on first use, so ``import
bot.platforms`` costs no SDK and a dry run stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot import text
from bot.measure import bluesky as bluesky_measure
from bot.measure import linkedin as linkedin_measure
from bot.measure import mastodon as mastodon_measure
from bot.measure import threads as threads_measure
from bot.measure import x as x_measure
from bot.mentions import ATPROTO as MENTION_ATPROTO
from bot.mentions import FEDIVERSE as MENTION_FEDIVERSE
from bot.mentions import SHORT as MENTION_SHORT

if TYPE_CHECKING:
    from types import ModuleType

    from adapters.base import Adapter


CardShape = Callable[[str, str, str], dict[str, Any]]
"""(uri, title, description) -> the link card as the platform's record carries it (the dry run shows it)."""


def _no_facets(_post: str, _links: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class Platform:
    """Everything one platform declares: who it is, its settings, how it measures, what it allows."""

    name: str  # the key everywhere: --platform, the ledger, [compose.NAME], templates/NAME.j2
    label: str  # the display name
    limit: int  # in the platform's own unit (weighted chars / graphemes / characters)
    unit: str
    measure: Callable[[str, int], int]  # (text, url_weight) -> the length the fitter keeps within the limit
    adapter: str  # "module:Class", imported on first use (adapter_class)
    sandbox: str  # the sandbox module: register(app, credentials, **options) and its CREDENTIALS
    credentials: tuple[str, ...]  # environment variables an account needs
    accepts_hashtag: Callable[[str], bool]  # True when the platform takes "#" + tag as the tag ``tag``
    link_spans: Callable[[str], list[tuple[int, int]]]  # the platform's own link detector (code points)
    public_credentials: tuple[str, ...] = ()  # credentials that are names, not secrets (a handle)
    base_url_env: str = ""
    default_base_url: str = ""  # empty: every account names its own server
    setup: str = ""  # where a user finds the credentials (the .env.example section heading)
    aliases: tuple[str, ...] = ()  # other names people use for it (``twitter``): suggested, never guessed
    account_options: tuple[str, ...] = ()  # crosspost.toml [[accounts]] keys the adapter reads
    url_weight: int = text.URL_WEIGHT  # what a link counts, when measure counts links at a fixed weight
    announces_url_weight: bool = False  # the server says its own url weight (Adapter.url_weight)
    byte_limit: int | None = None  # a second limit in UTF-8 bytes
    shortens_links: bool = False  # the text shows a short link; a facet carries the full URL
    facets: Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]] = _no_facets
    card: CardShape | None = None  # a link card in the record, in this shape
    record_tags: int = 0  # hashtags that do not fit in the text go to the record's tags (at most this many)
    mention_kind: str = ""  # the mentions this platform links itself (MENTION_*)
    mention_facets: bool = False  # only a record facet mentions someone, never the text
    profile_url: str = ""  # "https://…/{name}": a link to a profile of this platform's mention kind
    display_url_length: int = 30  # characters the platform shows of a link before "…"
    threads: bool = True  # replies to its own posts make a thread
    # The platform's own count where ``measure`` deliberately counts more to stay safe (X: the larger
    # of two emoji readings); None when ``measure`` is the platform's own count.
    own_measure: Callable[[str], int] | None = None
    # Each server sets its own limit, which the adapter reads (``server_facts``): a dry run asks it, or
    # says it assumed the default. Lets a dry run without accounts skip importing the adapters.
    server_limits: bool = False
    template: str | None = None  # the default template's path when not templates/NAME.j2 (a plug-in's own)
    own_modules: tuple[str, ...] = field(default=())  # bot/ modules that may name this platform
    # Images the publisher fetches for the adapter: the byte cap it fetches within, and the media types
    # the platform takes (judged from the bytes). A card's thumbnail has its own cap.
    image_max_bytes: int = 5 * 1024 * 1024
    image_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")
    thumb_max_bytes: int = 1_000_000
    image_by_url: bool = False  # the platform fetches the image itself: the adapter gets its URL, no bytes

    def length(self, post: str) -> int:
        return self.measure(post, self.url_weight)

    def own_length(self, post: str) -> int:
        """The platform's own count of ``post`` (what the dry run reports as ``length``)."""
        return self.own_measure(post) if self.own_measure else self.length(post)

    def fits(self, post: str) -> bool:
        if self.length(post) > self.limit:
            return False
        return self.byte_limit is None or text.utf8_len(post) <= self.byte_limit

    def with_limit(self, limit: int | None, url_weight: int | None = None) -> Platform:
        """The same platform with an account's own limit (e.g. what its server says)."""
        if not limit and not url_weight:
            return self
        return replace(self, limit=limit or self.limit, url_weight=url_weight or self.url_weight)

    def adapter_class(self) -> type[Adapter]:
        """The adapter class (imports its module now, and its SDK on first use)."""
        module_name, _, class_name = self.adapter.partition(":")
        cls: type[Adapter] = getattr(importlib.import_module(module_name), class_name)
        return cls

    def sandbox_module(self) -> ModuleType:
        return importlib.import_module(self.sandbox)

    @property
    def secret_credentials(self) -> tuple[str, ...]:
        return tuple(k for k in self.credentials if k not in self.public_credentials)


_REGISTRY: dict[str, Platform] = {}


def register(platform: Platform) -> Platform:
    """Add ``platform`` to the registry (or replace the entry of that name); returns it.

    The built-in platforms are registered below; a plug-in or a test registers its own the same way,
    and from then on it is a ``--platform`` choice, a sandbox target and a row of every parametrised test.
    """
    _REGISTRY[platform.name] = platform
    return platform


def unregister(name: str) -> None:
    """Remove a platform registered at run time (tests clean up with it)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered platform's name, in registration order."""
    return tuple(_REGISTRY)


def all_platforms() -> Iterator[Platform]:
    return iter(tuple(_REGISTRY.values()))


def get(name: str) -> Platform:
    """The entry of ``name``; KeyError for an unknown name (user input goes through parse_platforms)."""
    return _REGISTRY[name]


def is_platform(name: str) -> bool:
    return name in _REGISTRY


def parse_platforms(value: str | None) -> tuple[str, ...]:
    """``"a,b"`` -> ``("a", "b")``; every name checked; None means all.

    An unknown name is a ConfigError that suggests the nearest platform, by name or alias; an empty
    list is an error, not "all".
    """
    from bot.errors import ConfigError

    if value is None:
        return names()
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))
    if not chosen:
        raise ConfigError(f"no platform named in {value!r}: choose from {', '.join(names())}")
    for name in chosen:
        if name not in _REGISTRY:
            raise ConfigError(f"unknown platform {name!r}{suggestion(name)}; choose from {', '.join(names())}")
    return chosen


def suggestion(name: str) -> str:
    """`` — did you mean NAME?`` when ``name`` is close to a platform's name or one of its aliases."""
    import difflib

    known = {p.name: p.name for p in all_platforms()} | {a: p.name for p in all_platforms() for a in p.aliases}
    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
    return f" — did you mean {known[close[0]]}?" if close else ""


def env_example_block(platform: Platform) -> str:
    """The platform's section of ``.env.example``: its credentials, then its server's URL."""
    lines = [f"# --- {platform.label}" + (f" ({platform.setup})" if platform.setup else "")]
    lines += [f"{key}=" for key in platform.credentials]
    if platform.base_url_env:
        lines.append(f"# {platform.base_url_env}={platform.default_base_url}" if platform.default_base_url
                     else f"{platform.base_url_env}=")
    return "\n".join(lines)


def labels() -> str:
    """"A, B and C": every platform's display name, for help texts."""
    shown = [p.label for p in all_platforms()]
    return " and ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else "".join(shown)


def example_list() -> str:
    """A comma-separated pair of platform names for help examples (``--platform A,B``)."""
    return ",".join(names()[-2:])


def template_files() -> str:
    return ", ".join(f"{n}.j2" for n in names())


def credential_keys() -> tuple[str, ...]:
    return tuple(k for p in all_platforms() for k in p.credentials)


# --- the built-in platforms -----------------------------------------------------------------------

register(Platform(
    "x", "X", 280, "weighted characters", x_measure.measure,
    adapter="adapters.x:XAdapter", sandbox="bot.sandbox.x",
    credentials=("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
    accepts_hashtag=x_measure.is_x_hashtag, link_spans=x_measure.extract_url_spans,
    base_url_env="X_API_BASE_URL", default_base_url="https://api.twitter.com",
    setup="OAuth 1.0a user context: developer portal → your app → Keys and tokens",
    aliases=("twitter",), mention_kind=MENTION_SHORT, display_url_length=25, own_measure=x_measure.own_measure,
    image_max_bytes=5 * 1024 * 1024,  # X's limit for images
    own_modules=("bot/measure/x.py", "bot/twitter_text.py", "bot/sandbox/x.py"),
))
register(Platform(
    "bluesky", "Bluesky", 300, "graphemes", bluesky_measure.measure,
    adapter="adapters.bluesky:BlueskyAdapter", sandbox="bot.sandbox.bluesky",
    credentials=("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"), public_credentials=("BLUESKY_HANDLE",),
    accepts_hashtag=bluesky_measure.is_bluesky_tag, link_spans=bluesky_measure.link_spans,
    base_url_env="BLUESKY_SERVICE_URL", default_base_url="https://bsky.social",
    setup="Settings → Privacy and security → App passwords", aliases=("bsky",),
    byte_limit=3000, shortens_links=True, facets=bluesky_measure.bluesky_facets, card=bluesky_measure.card,
    record_tags=8, mention_kind=MENTION_ATPROTO, mention_facets=True,
    profile_url="https://bsky.app/profile/{name}",
    image_max_bytes=1_000_000,  # app.bsky.embed.images#image.image maxSize in the PDS's lexicon
    thumb_max_bytes=1_000_000,  # app.bsky.embed.external#external.thumb maxSize
    own_modules=("bot/measure/bluesky.py", "bot/facets.py", "bot/sandbox/bluesky.py"),
))
register(Platform(
    "mastodon", "Mastodon", 500, "characters", mastodon_measure.measure,
    adapter="adapters.mastodon:MastodonAdapter", sandbox="bot.sandbox.mastodon",
    credentials=("MASTODON_ACCESS_TOKEN",),
    accepts_hashtag=mastodon_measure.is_mastodon_hashtag, link_spans=mastodon_measure.mastodon_url_spans,
    base_url_env="MASTODON_API_BASE_URL",
    setup="Preferences → Development → New application, scope write:statuses write:media",
    aliases=("toot", "fediverse"), account_options=("visibility", "spoiler_text", "sensitive"),
    announces_url_weight=True, mention_kind=MENTION_FEDIVERSE, server_limits=True,
    image_max_bytes=16 * 1024 * 1024,  # Mastodon 4.3's image size limit
    image_types=("image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/heic"),
    own_modules=("bot/measure/mastodon.py", "bot/fediverse.py", "bot/sandbox/mastodon.py",
                 "bot/sandbox/flavors.py"),
))
register(Platform(
    "linkedin", "LinkedIn", 3000, "UTF-16 units of the escaped commentary", linkedin_measure.measure,
    adapter="adapters.linkedin:LinkedInAdapter", sandbox="bot.sandbox.linkedin",
    credentials=("LINKEDIN_ACCESS_TOKEN", "LINKEDIN_AUTHOR", "LINKEDIN_VERSION"),
    public_credentials=("LINKEDIN_AUTHOR", "LINKEDIN_VERSION"),
    accepts_hashtag=linkedin_measure.is_linkedin_hashtag, link_spans=linkedin_measure.link_spans,
    base_url_env="LINKEDIN_API_BASE_URL", default_base_url="https://api.linkedin.com",
    setup="an app with w_member_social; LINKEDIN_AUTHOR is urn:li:person:… or urn:li:organization:…",
    card=linkedin_measure.card, threads=False, image_max_bytes=10 * 1024 * 1024,
    image_types=("image/png", "image/jpeg", "image/gif"),
    own_modules=("bot/measure/linkedin.py", "bot/sandbox/linkedin.py"),
))
# Threads counts 500 "characters" with emoji at their UTF-8 bytes ("Emojis are counted as the number of
# UTF-8 bytes", https://developers.facebook.com/docs/threads/posts/ "Limitations"): bot/measure/threads.py
# counts code points, and an emoji's cluster by its bytes. The link goes out as ``link_attachment`` (the
# preview card); the first valid hashtag is also sent as the one ``topic_tag``, the others stay text.
register(Platform(
    "threads", "Threads", 500, "characters (emoji by UTF-8 bytes)", threads_measure.measure,
    adapter="adapters.threads:ThreadsAdapter", sandbox="bot.sandbox.threads",
    credentials=("THREADS_ACCESS_TOKEN", "THREADS_USER_ID"),
    accepts_hashtag=threads_measure.is_threads_hashtag, link_spans=threads_measure.link_spans,
    base_url_env="THREADS_API_BASE_URL", default_base_url="https://graph.threads.net",
    setup="Meta app with threads_basic, threads_content_publish, threads_delete; a long-lived user token",
    card=lambda uri, _title, _description: {"link_attachment": uri}, image_by_url=True,
    own_modules=("bot/measure/threads.py", "bot/sandbox/threads.py"),
))
