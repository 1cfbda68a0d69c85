"""``crosspost delete`` and ``crosspost purge``: parse, call bot/lifecycle.py or the store, print.

Entry points only; the rules (what is deleted, in which order, what purge may drop) live in the core.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.commands import Parser, UsageError, _article_key

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def duration(value: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``2w``, ``3600s`` -> a timedelta (argparse type)."""
    m = _DURATION.match(value)
    if not m or int(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like 90d, 12h, 30m, 2w or 3600s")
    return timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})


def account_name(value: str) -> str:
    """An account name as ``[[accounts]] name`` spells it (argparse type)."""
    if not _ACCOUNT.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an account name (letters, digits, _ . -)")
    return value


def platform_list(value: str) -> tuple[str, ...]:
    """``x,mastodon`` -> the platforms, each checked against the registry (argparse type)."""
    from bot.errors import ConfigError
    from bot.rules import parse_platforms

    try:
        return parse_platforms(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def delete(argv: Sequence[str]) -> int:
    """``crosspost delete ARTICLE``: retract every post of an article, on every account it went to."""
    from bot.rules import PLATFORM_NAMES

    p = Parser(prog="crosspost delete",
               description="Delete every post of an article on every platform it was posted to (thread parts "
               "last to first) and mark them deleted in the ledger. Safe to run again: posts already "
               "deleted are not asked about; a run that stopped half-way resumes.")
    p.add_argument("article", nargs="?", help="the article file or its canonical URL (or use --key)")
    p.add_argument("--key", help="the article's ledger key, as crosspost status --json shows it")
    p.add_argument("--platform", type=platform_list, metavar="LIST",
                   help=f"only these platforms (comma-separated subset of {','.join(PLATFORM_NAMES)})")
    p.add_argument("--account", type=account_name, metavar="NAME",
                   help="only this account (the [[accounts]] name in crosspost.toml, or 'default')")
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted; delete nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--config", type=Path, metavar="FILE", help="crosspost.toml (default: ./crosspost.toml)")
    args = p.parse_args(argv)
    if bool(args.article) == bool(args.key):
        raise UsageError("crosspost delete: give the ARTICLE or --key KEY (one of them)")
    from bot.config import load_settings
    from bot.lifecycle import run_delete

    settings = load_settings(config_file=args.config)
    key = args.key or _article_key(args.article, settings)
    platforms: tuple[str, ...] = args.platform or PLATFORM_NAMES
    targets = [f"{p}:{args.account}" if args.account else p for p in platforms]
    return run_delete(key, settings, targets, dry_run=args.dry_run, as_json=args.json)


def purge(argv: Sequence[str]) -> int:
    """``crosspost purge --older-than 90d``: drop old history (jobs, feed marks, cached facts)."""
    p = Parser(prog="crosspost purge",
               description="Remove finished jobs, feed-seen marks and cached server facts last changed before "
               "the cut. The ledger stays unless --ledger, and even then only rows whose post no longer "
               "exists (deleted or failed) are removed.")
    p.add_argument("--older-than", type=duration, required=True, metavar="AGE",
                   help="the cut, as an age: 90d, 12h, 30m, 2w or 3600s")
    p.add_argument("--ledger", action="store_true",
                   help="also drop ledger rows of deleted or failed posts older than the cut")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    from bot.config import load_settings
    from bot.store import connect

    settings = load_settings()
    cut = datetime.now(UTC) - args.older_than
    store = connect(settings.database_url)
    try:
        counts = store.purge(older_than=cut, ledger=args.ledger)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"older_than": cut.isoformat(), "removed": counts}, indent=2))
    else:
        print(f"removed (last changed before {cut:%Y-%m-%d %H:%M} UTC): "
              + ", ".join(f"{n} {table}" for table, n in counts.items()))
    return 0


__all__ = ["delete", "purge"]
