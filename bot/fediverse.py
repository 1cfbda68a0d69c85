"""Mastodon-API servers are not all Mastodon: each software's own counting rule, limit and idempotency.

Mastodon.py talks to Pleroma, Akkoma, GoToSocial, Takahē, Iceshrimp.NET, Sharkey, Friendica, snac and
others, but each of them measures a status its own way (Friendica and snac do not check it at all).
This module is the one table of what each software does (read from its code; the source is on every
row) and the one place that turns what a server told us (:class:`ServerFacts`, discovered by the
adapter from NodeInfo and the instance document) into the limit, the counting rule and a sentence
saying where the limit came from. A server we do not know is measured conservatively: every character
of every link counts, in UTF-16 units (the largest unit any of these servers counts in: Iceshrimp.NET
and Sharkey count UTF-16, where an emoji is 2), and the limit is 500 unless the instance announces one.

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
            "iceshrimp.net", "Iceshrimp.NET", "UTF-16 units (C# string.Length of status + spoiler_text)",
            "full length (it announces 23 but does not apply it); mentions in full", _utf16_units,
            "configuration.statuses.max_characters (v1, v2), max_toot_chars (v1)", True,
            "iceshrimp/iceshrimp.net Iceshrimp.Backend/Core/Services/NoteService.cs CreateNoteAsync; "
            "Controllers/Mastodon/StatusController.cs PostNote (Idempotency-Key kept 24 h)",
        ),
        ServerRule(
            "iceshrimp", "Iceshrimp (JavaScript, before .NET)", "UTF-16 units (conservative: not verified)",
            "full length", _utf16_units, "configuration.statuses.max_characters", False,
            "not verified: its length check was not found in the code read (iceshrimp.dev); JavaScript "
            "string length is UTF-16", verified=False,
        ),
        ServerRule(
            "sharkey", "Sharkey", "UTF-16 units (JavaScript text.length of status, checked by notes/create)",
            "full length (it announces the length of its own URL, not applied); mentions in full",
            _utf16_units, "configuration.statuses.max_characters (v1, v2)", False,
            "Sharkey packages/backend/src/server/api/endpoints/notes/create.ts (maxNoteLength); "
            "server/api/mastodon/endpoints/status.ts passes status unchanged; read in a GitHub mirror",
        ),
        ServerRule(
            "friendica", "Friendica", "no check on POST /api/v1/statuses; code points against the announced number",
            "full length (it announces 23; nothing is applied)", _code_points,
            "configuration.statuses.max_characters (v1, v2), max_toot_chars (v1): config api_import_size, "
            "else max_import_size (200000)", False,
            "friendica/friendica src/Module/Api/Mastodon/Statuses.php post; "
            "src/Module/Api/Mastodon/InstanceV2.php buildConfigurationInfo",
        ),
        ServerRule(
            "snac", "snac", "no check on POST /api/v1/statuses; code points against the announced number",
            "full length (it announces 32; nothing is applied)", _code_points,
            "configuration.statuses.max_characters (v1 only; fixed 100000)", False,
            "grunfink/snac2 mastoapi.c mastoapi_post_handler \"/v1/statuses\", "
            "mastoapi_get_handler \"/v1/instance\"",
        ),
        ServerRule(
            CONSERVATIVE, "unknown server", "UTF-16 units", "full length", _utf16_units,
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
    wordings = ("too long", "character limit", "cannot exceed", "max_length")  # Iceshrimp.NET; Sharkey's code
    return status in (400, 422) and any(w in lowered for w in wordings)


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

    if not registry.get(platform).server_limits:  # imports no adapter: a dry run stays fast
        return options
    found = [a for a in settings.accounts if a.platform == platform and a.account == account]
    if not found:
        return no_account_limit(options)
    adapter = registry.get(platform).adapter_class()(found[0], kv())
    try:
        return server_options(options, adapter) or options
    finally:
        adapter.close()
