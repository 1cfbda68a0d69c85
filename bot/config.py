"""Settings: secrets and endpoints from the environment (``.env`` via python-dotenv), everything else from
an optional ``crosspost.toml``. Entry points call :func:`load_settings`; everything below takes the result.

``crosspost.toml``::

    feed_categories_as_tags = false   # `watch`: RSS/Atom categories become hashtags (WordPress tags always do)
    feed_max_age_days = 14            # `watch`: never queue an entry older than this (0: no limit)

    [compose.x]                       # per platform: link = always|omit|reply, utm, hashtags, threads
    link = "always"
    utm = { utm_source = "x", utm_medium = "social" }
    max_hashtags = 3

    [compose.mastodon]
    max_parts = 6

    [[accounts]]                      # more accounts; credentials come from the env vars named here
    platform = "mastodon"
    name = "work"
    base_url = "https://hachyderm.io"
    credentials = { MASTODON_ACCESS_TOKEN = "MASTODON_WORK_TOKEN" }
    visibility = "unlisted"
    spoiler_text = "cross-post"
    on_edit = "update"                # per account (see below)

    on_edit = "ignore"                # an article changed after publishing: "update" edits posts in place
    on_unpublish = "keep"             # the CMS took it back: "delete" retracts every post (bot/lifecycle.py)

    [lifecycle.mastodon]              # per platform: on_edit / on_unpublish
    on_edit = "update"

The most specific setting wins: account, then ``[lifecycle.<platform>]``, then the top level.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.base import AccountSettings
from bot import platforms
from bot.checks import BadValue, Check, Choice, Flag, HttpUrl, Number, Text, TextTable, did_you_mean
from bot.compose import LINK_POLICIES, ComposeOptions
from bot.errors import ConfigError
from bot.notify import NotifySettings
from bot.notify import read_settings as read_notify_settings

DEFAULT_FEED_MAX_AGE_DAYS = 14
"""A feed entry older than this is old news (a back-dated post, a feed that re-keyed its entries)."""

ENV_CHECKS: dict[str, Check] = {
    "CROSSPOST_TIMEOUT": Number(above=0, maximum=600, integer=False, unit="seconds"),
    "CROSSPOST_RATE_LIMIT_WAIT": Number(minimum=0, maximum=86400, integer=False, unit="seconds"),
    "CROSSPOST_MAX_ATTEMPTS": Number(minimum=1, maximum=100),
    "CROSSPOST_ALLOW_PRIVATE_NETWORK": Flag(),
    "CROSSPOST_LOG_LEVEL": Choice(("debug", "info", "warning", "error", "critical")),
    "DATABASE_URL": Text(max_length=4096),
    **{r.base_url_env: HttpUrl() for r in platforms.all_platforms()},
}
"""The environment variables crosspost's settings read (besides credentials), each with its check."""

COMPOSE_CHECKS: dict[str, Check] = {
    "link": Choice(LINK_POLICIES),
    "utm": TextTable(),
    "max_hashtags": Number(minimum=0, maximum=30),
    "inline_hashtags": Flag(),
    "thread": Flag(),
    "max_parts": Number(minimum=1, maximum=100),
    "limit": Number(minimum=1, maximum=1_000_000),
    "image": Flag(),
}
"""``[compose.PLATFORM]`` keys (also allowed in an ``[[accounts]]`` entry), each with its check."""

ACCOUNT_CHECKS: dict[str, Check] = {
    "platform": Choice(platforms.names()),
    "name": Text(max_length=64),
    "credentials": TextTable(),
    "base_url": HttpUrl(),
}
"""``[[accounts]]`` keys every account has."""

ACCOUNT_OPTION_CHECKS: dict[str, Check] = {
    "visibility": Choice(("public", "unlisted", "private", "direct")),
    "spoiler_text": Text(max_length=500),
    "sensitive": Flag(),
}
"""Adapter options an ``[[accounts]]`` entry may set; which apply is ``platforms.Platform.account_options``."""

FEED_CHECKS: dict[str, Check] = {
    "feed_categories_as_tags": Flag(),
    "feed_max_age_days": Number(minimum=0, maximum=36500, integer=False, unit="days"),
}
"""Top-level keys for ``crosspost watch``: feed categories as hashtags, and the age window of entries."""

LIFECYCLE_CHOICES: dict[str, tuple[str, ...]] = {
    "on_edit": ("ignore", "update"),  # the first is the default
    "on_unpublish": ("keep", "delete"),
}
"""What to do with published posts when their article changes or is taken back (bot/lifecycle.py)."""

TOP_LEVEL_KEYS = ("compose", "accounts", "templates", *FEED_CHECKS, *LIFECYCLE_CHOICES, "lifecycle")
"""What crosspost.toml may hold at its top level."""


@dataclass(frozen=True)
class Settings:
    """Everything an entry point hands to the core."""

    accounts: tuple[AccountSettings, ...] = ()
    compose: Mapping[str, ComposeOptions] = field(default_factory=dict)
    account_compose: Mapping[tuple[str, str], ComposeOptions] = field(default_factory=dict)
    templates_dir: Path | None = None
    database_url: str | None = None
    allow_private_network: bool = False
    rate_limit_wait: float = 60.0  # wait in-process for a rate-limit reset at most this long, else defer
    timeout: float = 15.0
    max_attempts: int = 5
    feed_categories_as_tags: bool = False  # RSS/Atom <category> as hashtags (WordPress tags are found anyway)
    feed_max_age_days: float | None = None  # feed entries older than this are never queued; None: no window
    notify: NotifySettings = field(default_factory=NotifySettings)  # CROSSPOST_NOTIFY*: bot/notify.py
    # ("on_edit" | "on_unpublish", scope) -> choice; scope "" (everywhere), "mastodon" or "mastodon:work"
    lifecycle: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def lifecycle_for(self, setting: str, platform: str, account: str) -> str:
        """``on_edit`` / ``on_unpublish`` for one account: the account's, its platform's, the global one."""
        for scope in (f"{platform}:{account}", platform, ""):
            if (setting, scope) in self.lifecycle:
                return self.lifecycle[(setting, scope)]
        return LIFECYCLE_CHOICES[setting][0]

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for a in self.accounts for s in a.secrets)

    def options_for(self, platform: str, account: str) -> ComposeOptions:
        return self.account_compose.get((platform, account)) or self.compose.get(platform) or ComposeOptions()

    def accounts_for(self, platforms: tuple[str, ...]) -> tuple[AccountSettings, ...]:
        return tuple(a for a in self.accounts if a.platform in platforms)


def _env(env: Mapping[str, str], name: str, default: Any) -> Any:
    """The checked value of environment variable ``name`` (unset or empty: ``default``)."""
    raw = env.get(name, "")
    if not raw.strip():
        return default
    base_urls = {p.base_url_env for p in platforms.all_platforms()}
    check = ENV_CHECKS.get(name) or (HttpUrl() if name in base_urls else ENV_CHECKS[name])
    try:
        return check.from_text(raw)
    except BadValue as exc:
        shown = raw if len(raw) <= 60 else raw[:57] + "..."
        raise ConfigError(f"environment variable {name}={shown!r} {exc}") from None


def _check_credentials(env: Mapping[str, str]) -> None:
    """A credential with a space or a line break in it was pasted wrong; say so before a platform does."""
    for rules in platforms.all_platforms():
        for name in rules.credentials:
            value = env.get(name, "")
            if value and (value != value.strip() or any(c.isspace() or ord(c) < 32 for c in value)):
                raise ConfigError(f"environment variable {name} contains whitespace or a line break; "
                                  "copy the value again")


def _checked(where: str, key: str, value: Any, checks: Mapping[str, Check]) -> Any:
    """``value`` of TOML ``key`` through its check; a ConfigError naming the key and the file."""
    check = checks.get(key)
    if check is None:
        raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, checks)} "
                          f"(known: {', '.join(checks)})")
    try:
        return check.from_value(value)
    except BadValue as exc:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(f"{where}: {key} = {shown} {exc}") from None


def _compose_options(where: str, table: Mapping[str, Any], base: ComposeOptions) -> ComposeOptions:
    values = {key: _checked(where, key, value, COMPOSE_CHECKS) for key, value in table.items()}
    if "utm" in values:
        values["utm"] = tuple(values["utm"].items())
    try:
        return replace(base, **values)
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def read_env_file() -> None:
    """Load ``./.env`` into the environment (values already set win), as every entry point does first."""
    from dotenv import load_dotenv as _load

    _load(Path.cwd() / ".env", override=False)


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    templates_dir: Path | None = None,
    load_dotenv: bool = True,
) -> Settings:
    """Read settings from the environment (and ``.env``) and ``crosspost.toml`` (explicit or in cwd)."""
    if env is None:
        if load_dotenv:
            read_env_file()
        env = os.environ
    if config_file is None and Path("crosspost.toml").is_file():
        config_file = Path("crosspost.toml")
    data = read_toml(config_file) if config_file else {}
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{config_file}: unknown key {key!r}{did_you_mean(key, TOP_LEVEL_KEYS)} "
                              f"(known: {', '.join(TOP_LEVEL_KEYS)})")

    timeout = float(_env(env, "CROSSPOST_TIMEOUT", 15.0))
    allow_private = bool(_env(env, "CROSSPOST_ALLOW_PRIVATE_NETWORK", False))
    rate_limit_wait = float(_env(env, "CROSSPOST_RATE_LIMIT_WAIT", 60.0))
    max_attempts = int(_env(env, "CROSSPOST_MAX_ATTEMPTS", 5))
    _env(env, "CROSSPOST_LOG_LEVEL", "warning")
    database_url = _env(env, "DATABASE_URL", None)
    base_urls = {r.name: _env(env, r.base_url_env, None) for r in platforms.all_platforms()}
    _check_credentials(env)

    compose_tables = data.get("compose") or {}
    if not isinstance(compose_tables, Mapping):
        raise ConfigError(f"{config_file}: compose must be a table of [compose.PLATFORM] tables")
    compose: dict[str, ComposeOptions] = {}
    for platform, table in compose_tables.items():
        if not platforms.is_platform(platform):
            raise ConfigError(f"{config_file}: [compose.{platform}]: unknown platform"
                              f"{platforms.suggestion(platform)}; one of {', '.join(platforms.names())}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{config_file}: compose.{platform} must be a table of settings")
        compose[platform] = _compose_options(f"{config_file}: [compose.{platform}]", table, ComposeOptions())

    lifecycle = _lifecycle_settings(data)
    accounts: list[AccountSettings] = []
    account_compose: dict[tuple[str, str], ComposeOptions] = {}
    for platform, rules in ((p.name, p) for p in platforms.all_platforms()):
        creds = {k: env.get(k, "") for k in rules.credentials}
        if all(creds.values()):
            accounts.append(
                AccountSettings(
                    platform, "default", creds, base_urls[platform] or rules.default_base_url or None,
                    timeout=timeout, allow_private_network=allow_private,
                )
            )
    entries = data.get("accounts") or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigError(f"{config_file}: accounts must be [[accounts]] tables")
    for number, entry in enumerate(entries, 1):
        where = f"{config_file}: [[accounts]] #{number}"
        account_lifecycle = {k: entry[k] for k in LIFECYCLE_CHOICES if k in entry}
        entry = {k: v for k, v in entry.items() if k not in LIFECYCLE_CHOICES}
        account, options = _account_from_toml(where, entry, env, compose, timeout, allow_private)
        for setting, value in account_lifecycle.items():
            lifecycle[(setting, f"{account.platform}:{account.account}")] = _choice(setting, value, where)
        accounts.append(account)
        if options is not None:
            account_compose[(account.platform, account.account)] = options

    for account in accounts:  # a platform without a default server (Mastodon) needs its own
        if not account.base_url:
            env_key = platforms.get(account.platform).base_url_env
            raise ConfigError(
                f"{account.platform} account {account.account!r} has credentials but no server: set {env_key}"
            )

    from bot.redact import register_secrets

    register_secrets(
        env.get(k, "") for r in platforms.all_platforms() for k in r.secret_credentials
    )
    for account in accounts:  # any credential value may be the user of a Basic credential
        register_secrets(account.secrets, users=account.credentials.values())
    categories_as_tags = bool(_checked(str(config_file), "feed_categories_as_tags",
                                       data["feed_categories_as_tags"], FEED_CHECKS)) \
        if "feed_categories_as_tags" in data else False
    max_age = float(_checked(str(config_file), "feed_max_age_days", data["feed_max_age_days"], FEED_CHECKS)) \
        if "feed_max_age_days" in data else float(DEFAULT_FEED_MAX_AGE_DAYS)
    templates = _checked(str(config_file), "templates", data["templates"], {"templates": Text(4096)}) \
        if "templates" in data else None
    tdir = templates_dir or (Path(templates).expanduser() if templates else None)
    if tdir is not None and not _is_dir(tdir):
        where = "" if templates_dir else f"{config_file}: templates = {str(tdir)[:60]!r}: "
        raise ConfigError(f"{where}templates directory {str(tdir)[:200]} does not exist")
    return Settings(
        accounts=tuple(accounts),
        compose=compose,
        account_compose=account_compose,
        templates_dir=tdir,
        database_url=database_url,
        allow_private_network=allow_private,
        rate_limit_wait=rate_limit_wait,
        timeout=timeout,
        max_attempts=max_attempts,
        feed_categories_as_tags=categories_as_tags,
        feed_max_age_days=max_age or None,
        lifecycle=lifecycle,
        notify=read_notify_settings(env),
    )


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system
        return False


def _choice(setting: str, value: Any, where: str) -> str:
    choices = LIFECYCLE_CHOICES[setting]
    if value not in choices:
        raise ConfigError(f"{where}: {setting} = {value!r} is not one of "
                          f"{', '.join(repr(c) for c in choices)}")
    return str(value)


def _lifecycle_settings(data: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """The top-level ``on_edit`` / ``on_unpublish`` and the ``[lifecycle.<platform>]`` tables."""
    found: dict[tuple[str, str], str] = {}
    for setting in LIFECYCLE_CHOICES:
        if setting in data:
            found[(setting, "")] = _choice(setting, data[setting], "crosspost.toml")
    tables = data.get("lifecycle") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError("crosspost.toml [lifecycle] must hold tables [lifecycle.<platform>]")
    for platform, table in tables.items():
        if not platforms.is_platform(platform) or not isinstance(table, Mapping):
            raise ConfigError(f"crosspost.toml [lifecycle.{platform}]: unknown platform; "
                              f"one of {', '.join(platforms.names())}")
        unknown = set(table) - set(LIFECYCLE_CHOICES)
        if unknown:
            raise ConfigError(f"crosspost.toml [lifecycle.{platform}]: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"one of {', '.join(LIFECYCLE_CHOICES)}")
        for setting, value in table.items():
            found[(setting, platform)] = _choice(setting, value, f"crosspost.toml [lifecycle.{platform}]")
    return found


def _account_from_toml(
    where: str,
    entry: Mapping[str, Any],
    env: Mapping[str, str],
    compose: Mapping[str, ComposeOptions],
    timeout: float,
    allow_private: bool,
) -> tuple[AccountSettings, ComposeOptions | None]:
    if "platform" not in entry or "name" not in entry:
        raise ConfigError(f"{where} needs platform (one of {', '.join(platforms.names())}) and name")
    platform = _checked(where, "platform", entry["platform"], ACCOUNT_CHECKS)
    name = _checked(where, "name", entry["name"], ACCOUNT_CHECKS)
    rules = platforms.get(platform)
    where = f"{where} ({platform} {name})"
    own_options = {k: ACCOUNT_OPTION_CHECKS[k] for k in rules.account_options}
    known: dict[str, Check] = {**ACCOUNT_CHECKS, **COMPOSE_CHECKS, **own_options}
    for key, value in entry.items():
        _checked(where, key, value, known)
    mapping = entry.get("credentials") or {}
    creds: dict[str, str] = {}
    for key in rules.credentials:
        var = mapping.get(key, f"{key}_{name.upper()}")
        value = env.get(var, "")
        if not value:
            raise ConfigError(f"{platform} account {name!r}: environment variable {var} is not set")
        creds[key] = value
    compose_part = {k: v for k, v in entry.items() if k in COMPOSE_CHECKS}
    account_options = {k: v for k, v in entry.items() if k in own_options}
    base = compose.get(platform, ComposeOptions())
    return (
        AccountSettings(
            platform, name, creds,
            entry.get("base_url") or env.get(rules.base_url_env) or rules.default_base_url,
            options=account_options, timeout=timeout, allow_private_network=allow_private,
        ),
        _compose_options(where, compose_part, base) if compose_part else None,
    )
