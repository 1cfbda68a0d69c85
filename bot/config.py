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
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.base import PUBLIC_CREDENTIAL_SUFFIXES, AccountSettings
from bot.compose import ComposeOptions
from bot.errors import ConfigError
from bot.notify import NotifySettings
from bot.notify import read_settings as read_notify_settings
from bot.rules import RULES

_TRUE = {"1", "true", "yes", "on"}
DEFAULT_FEED_MAX_AGE_DAYS = 14
"""A feed entry older than this is old news (a back-dated post, a feed that re-keyed its entries)."""
_COMPOSE_KEYS = {"link", "utm", "max_hashtags", "inline_hashtags", "thread", "max_parts", "limit", "image"}


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

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for a in self.accounts for s in a.secrets)

    def options_for(self, platform: str, account: str) -> ComposeOptions:
        return self.account_compose.get((platform, account)) or self.compose.get(platform) or ComposeOptions()

    def accounts_for(self, platforms: tuple[str, ...]) -> tuple[AccountSettings, ...]:
        return tuple(a for a in self.accounts if a.platform in platforms)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def _compose_options(platform: str, table: Mapping[str, Any], base: ComposeOptions) -> ComposeOptions:
    unknown = set(table) - _COMPOSE_KEYS
    if unknown:
        raise ConfigError(f"crosspost.toml [compose.{platform}]: unknown key(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = dict(table)
    if "utm" in values:
        utm = values["utm"]
        if not isinstance(utm, Mapping):
            raise ConfigError(f"crosspost.toml [compose.{platform}] utm must be a table of name = value")
        values["utm"] = tuple((str(k), str(v)) for k, v in utm.items())
    try:
        return replace(base, **values)
    except TypeError as exc:
        raise ConfigError(f"crosspost.toml [compose.{platform}]: {exc}") from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


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
            from dotenv import load_dotenv as _load

            _load(Path.cwd() / ".env", override=False)
        env = os.environ
    if config_file is None and Path("crosspost.toml").is_file():
        config_file = Path("crosspost.toml")
    data = read_toml(config_file) if config_file else {}

    timeout = _number(env, "CROSSPOST_TIMEOUT", 15.0)
    allow_private = _flag(env, "CROSSPOST_ALLOW_PRIVATE_NETWORK")

    compose: dict[str, ComposeOptions] = {}
    for platform, table in (data.get("compose") or {}).items():
        if platform not in RULES:
            raise ConfigError(f"crosspost.toml [compose.{platform}]: unknown platform; one of {', '.join(RULES)}")
        compose[platform] = _compose_options(platform, table, ComposeOptions())

    accounts: list[AccountSettings] = []
    account_compose: dict[tuple[str, str], ComposeOptions] = {}
    for platform, rules in RULES.items():
        creds = {k: env.get(k, "") for k in rules.credentials}
        if all(creds.values()):
            accounts.append(
                AccountSettings(
                    platform, "default", creds, env.get(rules.base_url_env) or rules.default_base_url or None,
                    timeout=timeout, allow_private_network=allow_private,
                )
            )
    for entry in data.get("accounts") or []:
        account, options = _account_from_toml(entry, env, compose, timeout, allow_private)
        accounts.append(account)
        if options is not None:
            account_compose[(account.platform, account.account)] = options

    for account in accounts:  # a platform without a default server (Mastodon) needs its own
        if not account.base_url:
            env_key = RULES[account.platform].base_url_env
            raise ConfigError(
                f"{account.platform} account {account.account!r} has credentials but no server: set {env_key}"
            )

    from bot.logs import register_secrets

    register_secrets(
        env.get(k, "") for r in RULES.values() for k in r.credentials if not k.endswith(PUBLIC_CREDENTIAL_SUFFIXES)
    )
    register_secrets(s for a in accounts for s in a.secrets)
    categories_as_tags = data.get("feed_categories_as_tags", False)
    if not isinstance(categories_as_tags, bool):
        raise ConfigError(f"crosspost.toml feed_categories_as_tags must be true or false, not {categories_as_tags!r}")
    max_age = data.get("feed_max_age_days", DEFAULT_FEED_MAX_AGE_DAYS)
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age < 0:
        raise ConfigError(f"crosspost.toml feed_max_age_days must be a number of days >= 0, not {max_age!r}")
    tdir = templates_dir or (Path(data["templates"]) if data.get("templates") else None)
    if tdir is not None and not tdir.is_dir():
        raise ConfigError(f"templates directory {tdir} does not exist")
    return Settings(
        accounts=tuple(accounts),
        compose=compose,
        account_compose=account_compose,
        templates_dir=tdir,
        database_url=env.get("DATABASE_URL") or None,
        allow_private_network=allow_private,
        rate_limit_wait=_number(env, "CROSSPOST_RATE_LIMIT_WAIT", 60.0),
        timeout=timeout,
        max_attempts=int(_number(env, "CROSSPOST_MAX_ATTEMPTS", 5)),
        feed_categories_as_tags=categories_as_tags,
        feed_max_age_days=float(max_age) or None,
        notify=read_notify_settings(env),
    )


def _account_from_toml(
    entry: Mapping[str, Any],
    env: Mapping[str, str],
    compose: Mapping[str, ComposeOptions],
    timeout: float,
    allow_private: bool,
) -> tuple[AccountSettings, ComposeOptions | None]:
    platform = str(entry.get("platform", ""))
    name = str(entry.get("name", ""))
    if platform not in RULES or not name:
        raise ConfigError(f"crosspost.toml [[accounts]] needs platform (one of {', '.join(RULES)}) and name")
    rules = RULES[platform]
    mapping = entry.get("credentials") or {}
    creds: dict[str, str] = {}
    for key in rules.credentials:
        var = mapping.get(key, f"{key}_{name.upper()}")
        value = env.get(var, "")
        if not value:
            raise ConfigError(f"{platform} account {name!r}: environment variable {var} is not set")
        creds[key] = value
    options = {k: v for k, v in entry.items() if k not in {"platform", "name", "credentials", "base_url"}}
    compose_part = {k: v for k, v in options.items() if k in _COMPOSE_KEYS}
    account_options = {k: v for k, v in options.items() if k not in _COMPOSE_KEYS}
    base = compose.get(platform, ComposeOptions())
    return (
        AccountSettings(
            platform, name, creds, entry.get("base_url") or env.get(rules.base_url_env) or rules.default_base_url,
            options=account_options, timeout=timeout, allow_private_network=allow_private,
        ),
        _compose_options(platform, compose_part, base) if compose_part else None,
    )
