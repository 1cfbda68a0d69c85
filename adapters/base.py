"""The contract between the core and one platform's SDK.

An adapter turns a fully composed :class:`PostRequest` into one call of its SDK and returns a
:class:`PostRef`. It only translates: it never measures or shortens text, never fetches (the publisher
hands it an image's bytes and media type, :class:`ImageData`), never retries, sleeps or waits for the
platform (media still processing is ``bot.errors.MediaPending``, which the publisher waits on), and never
reads an error's text to decide anything. It turns every SDK or network exception into one of
:mod:`bot.errors`' ``PublishError`` types at its boundary, and the publisher decides what happens next.

Construction does no I/O; the SDK is imported on first use so that a dry run never loads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class PostRef:
    """Where a post lives: enough to link to it and to reply to it."""

    platform: str
    id: str  # X tweet id, Mastodon status id, Bluesky at:// URI
    url: str  # the human-facing URL
    cid: str | None = None  # Bluesky: the record CID (a strong ref needs uri + cid)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostRef:
        return cls(platform=data["platform"], id=data["id"], url=data["url"], cid=data.get("cid"))


@dataclass(frozen=True)
class ImageData:
    """An image to attach, already fetched by the publisher (guarded, within the platform's size cap):
    its bytes and their media type as sniffed from them. ``url`` is where it came from, for a platform
    that takes images by URL."""

    data: bytes = field(repr=False)
    media_type: str
    alt: str = ""
    url: str = ""


@dataclass(frozen=True)
class LinkCard:
    """The card a link shows (title, description, image); each platform gives it its own shape."""

    uri: str
    title: str
    description: str
    thumb_url: str | None = None
    thumb: ImageData | None = None  # the thumbnail's bytes (the publisher fetched thumb_url)


@dataclass(frozen=True)
class PostRequest:
    """One post (one part of a thread) exactly as it must appear; nothing here is changed by adapters."""

    text: str
    idempotency_key: str  # stable across every retry of this part
    lang: str | None = None
    facets: tuple[dict[str, Any], ...] = ()  # Bluesky rich-text facets (atproto JSON shape)
    tags: tuple[str, ...] = ()  # Bluesky record ``tags`` (hashtags that did not fit in the text)
    card: LinkCard | None = None  # Bluesky link card
    image: ImageData | None = None
    reply_to: PostRef | None = None  # the previous part of the thread
    thread_root: PostRef | None = None  # the first part of the thread


PUBLIC_CREDENTIAL_SUFFIXES = ("_HANDLE",)  # identify an account but open nothing: fine in logs and URLs


@dataclass(frozen=True)
class AccountSettings:
    """One account on one platform, as the entry point read it from the environment / crosspost.toml."""

    platform: str
    account: str = "default"
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    base_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # visibility, spoiler_text, ...
    timeout: float = 15.0  # seconds, on every network call
    allow_private_network: bool = False  # let image/page fetches reach loopback/private addresses

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line, an error message or JSON output."""
        return tuple(v for k, v in self.credentials.items() if v and not k.endswith(PUBLIC_CREDENTIAL_SUFFIXES))


@dataclass(frozen=True)
class Quota:
    """What the platform's rate-limit headers said on the last write call of an account."""

    remaining: int | None
    limit: int | None = None
    reset_at: datetime | None = None  # aware UTC


class KeyValue(Protocol):
    """Durable small state an adapter keeps between runs (Bluesky sessions, Mastodon instance limits)."""

    def kv_get(self, key: str) -> Any | None: ...

    def kv_set(self, key: str, value: Any, *, ttl_seconds: float | None = None) -> None: ...


@runtime_checkable
class Adapter(Protocol):
    """What every platform module provides (one class per module, registered by ``platform``)."""

    platform: ClassVar[str]

    def __init__(self, settings: AccountSettings, kv: KeyValue) -> None: ...

    def character_limit(self) -> int | None:
        """The account's post length limit when the platform tells it (Mastodon's instance), else None."""
        ...

    def prepare(self, post: PostRequest) -> dict[str, Any]:
        """Choose, once, whatever must be identical on every retry (Bluesky: rkey and createdAt).

        The result is stored in the ledger before the first call and passed back unchanged on retries.
        """
        ...

    def publish(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef:
        """Create the post. Raises RateLimited / Transient (MediaPending: an upload still processing) /
        Ambiguous / Permanent."""
        ...

    def reconcile(self, post: PostRequest, prepared: dict[str, Any]) -> PostRef | None:
        """After an Ambiguous failure: find the post if it was created, else None (safe to send again)."""
        ...

    def delete(self, ref: PostRef) -> bool:
        """Delete a post: True when this call deleted it, False when it was already gone (404 / not found).

        Deleting is idempotent, so the retry policy may repeat it after an Ambiguous failure.
        """
        ...

    def edit(self, ref: PostRef, post: PostRequest) -> PostRef:
        """Change a published post's text in place (keeping the platform's edit history).

        Raises ``NotSupported`` (with the reason) where the platform cannot edit a post.
        """
        ...

    def quota(self, action: str = "post") -> Quota | None:
        """The write quota left after the last call, from the platform's headers (None if unknown).

        The worker paces an account by it: no post is sent when nothing is left before the reset.
        ``action`` ("post", "delete", "edit") names the call whose bucket is meant. A platform whose
        buckets differ by action lists the actions with a bucket of their own in the class attribute
        ``separate_quotas`` (X and Mastodon: ``{"delete"}``); the others share posting's bucket, and
        then any action's answer is posting's quota (Bluesky: every repo write costs points of one).
        """
        ...

    def close(self) -> None:
        """Release sessions and sockets."""
        ...
