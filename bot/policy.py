"""The publishing policy: what may be posted at all. Written once, asked by every entry point.

An article is posted only when

1. its source says it is published (or says nothing about it): loaders record what the source says in
   ``Article.status`` through :func:`publication_state` -- front matter ``draft: true``,
   ``published: false`` or ``status: …``; Ghost and WordPress ``status``; generic JSON ``status`` /
   ``draft``; an HTML page's JSON-LD ``creativeWorkStatus``; a feed entry's ``wp:status``; and
2. it has a valid canonical link (:func:`validate_canonical_url`): the post links to it, and a link
   with a space or a newline in it is cut by X and Mastodon and refused by Bluesky, leaving the article
   half-published.

``crosspost ARTICLE``, ``crosspost schedule``, the webhooks, ``crosspost watch`` and the worker (again,
on the stored article, when the job runs) all call :func:`check_publishable`. The only way past rule 1
is the ``--publish-draft`` flag a person types (a job it queues carries :data:`PUBLISH_DRAFT_KEY` in its
article snapshot so that the worker honours it); nothing gets past rule 2.
"""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from bot.article import Article
from bot.checks import FALSE_WORDS, TRUE_WORDS
from bot.errors import InputError

PUBLISHED = "published"
"""The one state that may be posted; ``Article.status`` None means the source said nothing (published)."""

MAX_URL_LENGTH = 2048
"""The longest canonical link accepted, in characters."""

PUBLISH_DRAFT_FLAG = "--publish-draft"
"""The command-line flag that posts an unpublished article on purpose."""

PUBLISH_DRAFT_KEY = "publish_draft"
"""Key in a job's article snapshot saying the person who queued it passed :data:`PUBLISH_DRAFT_FLAG`."""

# What CMSs and static-site generators call their states, mapped to one word each.
_STATES = {
    "publish": PUBLISHED, "published": PUBLISHED, "public": PUBLISHED, "live": PUBLISHED,
    "draft": "draft", "auto-draft": "draft", "unpublished": "draft",
    "future": "scheduled", "scheduled": "scheduled",
    "pending": "pending", "private": "private", "sent": "sent (email only)",
    "trash": "trashed", "trashed": "trashed", "deleted": "trashed",
}  # fmt: skip
_TRUE = TRUE_WORDS
_FALSE = FALSE_WORDS - {""}  # an empty front-matter value says nothing


class NotPublished(InputError):
    """The source says the article is not published (a draft, scheduled, private, trashed…)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class BadCanonicalLink(InputError):
    """The article has no canonical link, or one that cannot be posted as a link."""


def _flag(value: Any) -> bool | None:
    """A YAML/JSON boolean, also written as a string; None for anything else (e.g. a date)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def publication_state(*, status: Any = None, draft: Any = None, published: Any = None) -> str | None:
    """The one word for what a source says of its publication, or None when it says nothing.

    ``status`` is the CMS's word (``publish``, ``draft``, ``future``, ``private``, ``trash``…; unknown
    words are kept, lower-cased, and count as not published); ``draft`` a flag (``draft: true``);
    ``published`` a flag (``published: false``; a date there says nothing). A source that says "not
    published" in any of them is not published.
    """
    if _flag(draft) is True:
        return "draft"
    if _flag(published) is False:
        return "draft"
    if isinstance(status, str) and status.strip():
        word = status.strip().lower()
        return _STATES.get(word, word)
    if _flag(published) is True or _flag(draft) is False:
        return PUBLISHED
    return None


def _bad_character(url: str) -> str | None:
    if url.isascii() and url.isprintable() and " " not in url:
        return None  # printable ASCII but space: no whitespace, control or invisible character
    for ch in url:
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zs", "Zl", "Zp"):
            return f"whitespace ({ch!a})"
        if category in ("Cc", "Cf", "Cs", "Co"):
            return f"a control or invisible character ({ch!a})"
    return None


@functools.lru_cache(maxsize=256)  # a blog's links share a host: IDNA-check it once per process
def _host_problem(host: str) -> str | None:
    """Why ``host`` (already lower-cased, brackets removed) is not a usable host name or IP, or None."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    import idna

    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        return f"host {host!r} is not a valid host name ({exc})"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        return f"host {host!r} is not a valid host name"
    if labels[-1].isdigit():
        return f"host {host!r} is neither an IP address nor a host name"
    return None


def validate_canonical_url(url: Any) -> str:
    """``url`` if it is a canonical link crosspost can post, else BadCanonicalLink with the reason.

    Valid: an absolute http(s) URL, at most :data:`MAX_URL_LENGTH` characters, with no whitespace or
    control characters anywhere, no user name or password before the host (``https://bank.com@evil``),
    a host that is an IP address or an IDNA-valid host name, and a valid port if any.
    """
    if not isinstance(url, str) or not url:
        raise BadCanonicalLink(
            "the article has no canonical link: give it one in the source, or --url URL on the command line"
        )
    shown = url if len(url) <= 80 else url[:77] + "..."
    if len(url) > MAX_URL_LENGTH:
        raise BadCanonicalLink(f"canonical link is {len(url):,} characters, over {MAX_URL_LENGTH:,}: {shown!r}")
    bad = _bad_character(url)
    if bad:
        raise BadCanonicalLink(f"canonical link {shown!r} contains {bad}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise BadCanonicalLink(f"canonical link {shown!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadCanonicalLink(f"canonical link {shown!r} is not an http(s) URL")
    if "@" in parts.netloc:
        raise BadCanonicalLink(f"canonical link {shown!r} has a user name before its host")
    if not host:
        raise BadCanonicalLink(f"canonical link {shown!r} has no host")
    problem = _host_problem(host)
    if problem:
        raise BadCanonicalLink(f"canonical link {shown!r}: {problem}")
    return url


def unpublished_reason(article: Article) -> str | None:
    """Why the source says ``article`` is not public yet, or None when it may be posted."""
    state = article.status
    if state is None or state == PUBLISHED:
        return None
    return f"the article is not published (its source says {state!r})"


def check_publishable(article: Article, *, allow_draft: bool = False, origin: str | None = None) -> None:
    """Raise NotPublished or BadCanonicalLink (both InputError, one line) unless ``article`` may be posted.

    ``allow_draft`` is the person's explicit :data:`PUBLISH_DRAFT_FLAG`; it never excuses a bad link.
    ``origin`` (a file name, a URL) starts the message when given.
    """
    prefix = f"{origin}: " if origin else ""
    reason = unpublished_reason(article)
    if reason and not allow_draft:
        raise NotPublished(
            f"{prefix}{reason}; crosspost posts only published articles: publish it first "
            f"(or post it on purpose with {PUBLISH_DRAFT_FLAG})",
            article.status or "",
        )
    try:
        validate_canonical_url(article.url)
    except BadCanonicalLink as exc:
        raise BadCanonicalLink(f"{prefix}{exc}") from None


def check_option_url(url: str | None, option: str = "--url") -> None:
    """A canonical link given on the command line: BadCanonicalLink naming ``option`` when it is invalid."""
    if url is None:
        return
    try:
        validate_canonical_url(url)
    except BadCanonicalLink as exc:
        raise BadCanonicalLink(f"{option}: {exc}") from None


def job_allows_draft(snapshot: dict[str, Any]) -> bool:
    """Whether a job's stored article snapshot was queued with :data:`PUBLISH_DRAFT_FLAG`."""
    return snapshot.get(PUBLISH_DRAFT_KEY) is True
