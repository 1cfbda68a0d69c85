"""The error types that decide what happens next.

::

    CrosspostError
    ├── ConfigError       missing or invalid settings            -> exit 2
    ├── InputError        an article we cannot read or use       -> exit 2
    └── PublishError      raised by adapters, judged by the publisher
        ├── RateLimited   wait until ``retry_at`` (or defer the target)
        ├── Transient     5xx, reset, timeout *before* the request was sent: retry with backoff
        │   └── MediaPending  an upload the platform is still processing: wait, then ask again
        ├── Ambiguous     the request may have reached the platform: reconcile before any retry
        └── Permanent     auth, validation, other 4xx: report the platform's message
            └── NotSupported  the platform cannot do this at all (edit a post on X or Bluesky)

Adapters translate SDK exceptions into these at their boundary; nothing above them sees an SDK type.
"""

from __future__ import annotations

from datetime import datetime


class CrosspostError(Exception):
    """Base of every error crosspost reports to a user as one line."""


class ConfigError(CrosspostError):
    """Settings are missing or invalid."""


class InputError(CrosspostError):
    """The article (file, URL, payload) cannot be read or lacks what a post needs."""


class PublishError(CrosspostError):
    """A platform call failed; the subclass says whether and how to retry."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(PublishError):
    """The platform refused for quota; ``retry_at`` is when it says to come back (aware UTC)."""

    def __init__(self, message: str, *, retry_at: datetime | None = None, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at


class Transient(PublishError):
    """The request certainly did not take effect (5xx, connection refused, timeout before sending)."""


class MediaPending(Transient):
    """An uploaded image is still being processed: nothing was posted yet.

    ``keep`` is what the adapter needs on the next attempt so that it asks about the same upload instead
    of uploading again (Mastodon: the media id); the publisher merges it into the part's prepared state
    in the ledger, so a run that stops here resumes with it. ``retry_after`` is how long to wait first.
    """

    def __init__(self, message: str, *, keep: dict[str, str], retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.keep = keep
        self.retry_after = retry_after


class Ambiguous(PublishError):
    """The request may have taken effect (timeout after sending, connection dropped mid-response)."""


class Permanent(PublishError):
    """Retrying cannot help: bad credentials, validation failure, another 4xx."""


class NotSupported(Permanent):
    """The platform has no way to do this (X and Bluesky cannot edit a post in place); says why."""
