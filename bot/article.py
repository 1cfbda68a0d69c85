"""The Article: what every loader produces and the composer consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Article:
    """One article, whatever format it came in.

    ``tags`` are the article's own tag names as written (not yet hashtags); ``body`` is plain text with
    paragraphs separated by blank lines; ``url`` is the canonical link (``None`` when the source had
    none -- the CLI then requires ``--url``). ``status`` is what the source says of its publication, in
    one word (``published``, ``draft``, ``scheduled``, ``private``, ``trashed``…, see
    :func:`bot.policy.publication_state`), None when it says nothing; :mod:`bot.policy` judges it.
    """

    title: str = ""
    url: str | None = None
    summary: str = ""
    body: str = ""
    tags: tuple[str, ...] = ()
    image: str | None = None
    image_alt: str | None = None
    lang: str | None = None
    published_at: str | None = None
    source_id: str | None = None
    thread: bool | None = None
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """A stable identity for the ledger: the canonical URL, else the source id, else the content."""
        basis = self.url or self.source_id or f"{self.title}\n{self.summary}\n{self.body}"
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]

    def with_overrides(self, *, url: str | None = None, extra_tags: tuple[str, ...] = ()) -> Article:
        """Return a copy with the user's ``--url`` and ``--tag`` applied."""
        tags = self.tags + tuple(t for t in extra_tags if t not in self.tags)
        return replace(self, url=url or self.url, tags=tags)

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``extra``, ``tags`` as a list (what a job stores; shallow: the values are immutable)."""
        data = {name: getattr(self, name) for name in _STORED_FIELDS}
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "extra"}
        known["tags"] = tuple(known.get("tags") or ())
        return cls(**known)


_STORED_FIELDS = tuple(f.name for f in fields(Article) if f.name != "extra")
