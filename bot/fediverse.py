"""Mastodon-API servers are not all Mastodon: each software's own counting rule, limit and idempotency.

Mastodon.py talks to Pleroma, Akkoma, GoToSocial, Takahē and others, but each of them measures a status
its own way. This module is the one table of what each software does (read from its code; the source is
on every row) and the one place that turns what a server told us (:class:`ServerFacts`, discovered by
the adapter from NodeInfo and the instance document) into the limit, the counting rule and a sentence
saying where the limit came from. A server we do not know is measured conservatively: every character
of every link counts, in code points, and the limit is 500 unless the instance announces one.

Units: *graphemes* are extended grapheme clusters (a ZWJ family emoji is 1), *code points* are Python's
``len`` (the family is 7), *UTF-16 units* count every astral character twice (the family is 11).
A rule that was not verified in the software's code takes the largest reading that software's language
could plausibly use, so a post that fits here fits there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

from bot import platforms, text
from bot.measure.mastodon import mastodon_length

ASSUMED_LIMIT = 500  # what an unknown or silent server is assumed to allow
CONSERVATIVE = "conservative"

Opts = TypeVar("Opts")


def _mastodon(post: str, url_weight: int) -> int:
    return mastodon_length(post, url_length=url_weight)


def _graphemes_trimmed(post: str, _url_weight: int) -> int:
    # Elixir's String.length counts graphemes; the Unicode 15.0 reading is the larger one.
    return text.graphemes_before_unicode_15_1(post.strip())


def _code_points(post: str, _url_weight: int) -> int:
    return len(post)


def _utf16_units(post: str, _url_weight: int) -> int:
    return len(post.encode("utf-16-le")) // 2


def _utf8_bytes(post: str, _url_weight: int) -> int:
    return text.utf8_len(post)


@dataclass(frozen=True)
class ServerRule:
    """How one server software measures a status, where its limit is announced, and what it promises."""

    name: str  # NodeInfo ``software.name`` (lower case)
    label: str
    unit: str
    links: str  # how a link counts
    measure: Callable[[str, int], int]  # (text, announced url weight) -> the server's length
    limit_field: str
    honours_idempotency_key: bool
    source: str
    verified: bool = True  # read in the software's own code (False: the conservative reading)


SERVER_RULES: dict[str, ServerRule] = {
    r.name: r
    for r in (
        ServerRule(
            "mastodon", "Mastodon (and Glitch, Hometown)", "graphemes (Unicode 15.0)",
            "characters_reserved_per_url (23); @user@domain counts as @user", _mastodon,
            "configuration.statuses.max_characters (v2, v1)", True,
            "mastodon/mastodon app/validators/status_length_validator.rb; "
            "app/services/post_status_service.rb (Idempotency-Key remembered 1 h)",
        ),
        ServerRule(
            "pleroma", "Pleroma", "graphemes (Elixir String.length of status <> spoiler, trimmed)",
            "full length", _graphemes_trimmed,
            "max_toot_chars (v1), configuration.statuses.max_characters", True,
            "pleroma lib/pleroma/web/common_api/utils.ex validate_character_limit, activity_draft.ex "
            "full_payload; lib/pleroma/web/plugs/idempotency_plug.ex",
        ),
        ServerRule(
            "akkoma", "Akkoma", "graphemes (Elixir String.length of status <> spoiler, trimmed)",
            "full length", _graphemes_trimmed,
            "max_toot_chars (v1), configuration.statuses.max_characters", True,
            "akkoma lib/pleroma/web/common_api/activity_draft.ex full_payload -> utils.ex "
            "validate_character_limit; IdempotencyPlug inherited from Pleroma",
        ),
        ServerRule(
            "gotosocial", "GoToSocial", "code points (Go len([]rune(status)) + len([]rune(spoiler)))",
            "full length (the announced characters_reserved_per_url is not applied)", _code_points,
            "configuration.statuses.max_characters (v1, v2)", False,
            "superseriousbusiness/gotosocial internal/api/client/statuses/statuscreate.go "
            "validateNormalizeCreateStatus",
        ),
        ServerRule(
            "takahe", "Takahē", "code points (Python len(status))",
            "full length (it announces 23 but does not apply it)", _code_points,
            "configuration.statuses.max_characters (v1, v2; exact paths, no trailing slash)", False,
            "jointakahe/takahe api/views/statuses.py post_status; api/views/instance.py",
        ),
        ServerRule(
            "iceshrimp", "Iceshrimp", "UTF-16 units (conservative: not verified)", "full length",
            _utf16_units, "configuration.statuses.max_characters", False,
            "not verified in code (iceshrimp.dev); JavaScript/C# string length is UTF-16", verified=False,
        ),
        ServerRule(
            "sharkey", "Sharkey", "UTF-16 units (conservative: not verified)", "full length",
            _utf16_units, "configuration.statuses.max_characters", False,
            "not verified in code (activitypub.software/TransFem-org/Sharkey); JavaScript string length",
            verified=False,
        ),
        ServerRule(
            "friendica", "Friendica", "code points (conservative: not verified)", "full length",
            _code_points, "configuration.statuses.max_characters / max_toot_chars", False,
            "not verified in code (github.com/friendica/friendica src/Module/Api/Mastodon)", verified=False,
        ),
        ServerRule(
            "snac", "snac", "UTF-8 bytes (conservative: not verified)", "full length",
            _utf8_bytes, "configuration.statuses.max_characters", False,
            "not verified in code (codeberg.org/grunfink/snac2 mastoapi.c); C strlen counts bytes",
            verified=False,
        ),
        ServerRule(
            CONSERVATIVE, "unknown server", "code points", "full length", _code_points,
            "configuration.statuses.max_characters / max_toot_chars, else 500 assumed", False,
            "crosspost's own conservative rule (issue 8)", verified=False,
        ),
    )
}


@dataclass(frozen=True)
class ServerFacts:
    """What a Mastodon-API server said about itself (NodeInfo and the instance document)."""

    software: str | None = None  # NodeInfo software.name, lower case
    version: str | None = None
    max_characters: int | None = None
    characters_reserved_per_url: int | None = None
    max_media_attachments: int | None = None
    image_size_limit: int | None = None
    unanswered: tuple[str, ...] = ()  # what did not answer: "nodeinfo", "instance"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unanswered"] = list(self.unanswered)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerFacts:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["unanswered"] = tuple(values.get("unanswered") or ())
        return cls(**values)


@dataclass(frozen=True)
class ServerLimit:
    """The limit and rule crosspost uses for one account, and why."""

    limit: int
    url_weight: int
    rule: ServerRule
    source: str  # e.g. "takahe 0.11, announced"
    software: str  # e.g. "takahe 0.11" or "unknown"


def rule_for(software: str | None) -> ServerRule:
    """The row for ``software`` (a NodeInfo name); unknown or None -> the conservative rule."""
    return SERVER_RULES.get((software or "").lower(), SERVER_RULES[CONSERVATIVE])


def decide(facts: ServerFacts, *, configured_limit: int | None = None,
           configured_url_weight: int | None = None) -> ServerLimit:
    """Turn what the server said (and crosspost.toml) into a limit, a counting rule and its source."""
    rule = rule_for(facts.software)
    software = " ".join(p for p in (facts.software, _short_version(facts.version)) if p) or "unknown"
    url_weight = configured_url_weight or facts.characters_reserved_per_url or text.URL_WEIGHT
    if configured_limit:
        return ServerLimit(configured_limit, url_weight, rule, "configured in crosspost.toml", software)
    if facts.max_characters:
        said = f"{software}, announced" if facts.software else "announced; software unknown: NodeInfo did not answer"
        return ServerLimit(facts.max_characters, url_weight, rule, said, software)
    if "instance" in facts.unanswered:
        why = "assumed: the instance did not answer"
    else:
        why = "assumed: the instance announced no limit"
    return ServerLimit(ASSUMED_LIMIT, url_weight, rule, why, software)


def with_server_rule(rules: platforms.Platform, counting: str) -> platforms.Platform:
    """``rules`` measuring by ``counting``'s row of :data:`SERVER_RULES` (the limit is kept)."""
    row = rule_for(counting)
    return replace(rules, measure=row.measure, unit=row.unit.split(" (")[0])


def apply(options: Opts, server: ServerLimit) -> Opts:
    """Compose options (``bot.compose.ComposeOptions``) carrying the server's limit, rule and source."""
    return replace(  # type: ignore[type-var]
        options, limit=server.limit, url_weight=server.url_weight, counting=server.rule.name,
        limit_source=server.source, software=server.software,
    )


def no_account_limit(options: Opts) -> Opts:
    """Options for a dry run without credentials: no server to ask, so Mastodon's own rule and 500, said."""
    if getattr(options, "limit", None):
        return replace(options, limit_source="configured in crosspost.toml")  # type: ignore[type-var]
    return replace(  # type: ignore[type-var]
        options, limit=ASSUMED_LIMIT, software="unknown",
        limit_source="assumed: no account configured, so no instance was asked",
    )


def is_length_refusal(status: int | None, message: str) -> bool:
    """Whether a refusal says the status was too long (any software's wording)."""
    lowered = message.lower()
    return status in (400, 422) and any(w in lowered for w in ("too long", "character limit"))


def _short_version(version: str | None) -> str:
    """``"0.11.0"`` -> ``"0.11"``; ``"4.3.0+glitch"`` -> ``"4.3"`` (enough to tell people which one)."""
    if not version:
        return ""
    head = version.split("+")[0].split(" ")[0]
    parts = head.split(".")
    if len(parts) >= 3 and parts[2].isdigit() and parts[2] == "0":
        return ".".join(parts[:2])
    return head


def facts_for(adapter: Any) -> ServerFacts | None:
    """The adapter's server facts if its platform has them (Mastodon-API servers), else None."""
    reader = getattr(adapter, "server_facts", None)
    if not callable(reader):
        return None
    facts = reader()
    return facts if isinstance(facts, ServerFacts) else None


def server_options(options: Opts, adapter: Any) -> Opts | None:
    """``options`` with the server's limit and rule when the adapter knows its server, else None."""
    facts = facts_for(adapter)
    if facts is None:
        return None
    server = decide(facts, configured_limit=getattr(options, "limit", None),
                    configured_url_weight=getattr(options, "url_weight", None))
    return apply(options, server)


def dry_run_options(settings: Any, platform: str, account: str, options: Opts,
                    kv: Callable[[], Any]) -> Opts:
    """``options`` for a dry run: with credentials, the server's facts (read, or cached in ``kv()``);
    without, the assumed limit and why. Platforms whose adapter knows no server are left as they are."""
    from bot import platforms as registry

    cls = registry.get(platform).adapter_class()
    if not callable(getattr(cls, "server_facts", None)):
        return options
    found = [a for a in settings.accounts if a.platform == platform and a.account == account]
    if not found:
        return no_account_limit(options)
    adapter = cls(found[0], kv())
    try:
        return server_options(options, adapter) or options
    finally:
        adapter.close()
