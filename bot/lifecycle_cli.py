"""``crosspost delete`` and ``crosspost purge``: parse, call bot/lifecycle.py or the store, print.

Entry points only; the rules (what is deleted, in which order, what purge may drop) live in the core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from bot import cliargs, platforms
from bot.checks import BadValue, Text
from bot.cliargs import ArgType, Parser, UsageError
from bot.commands import _article_key

_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _account_name(value: str) -> str:
    if not _ACCOUNT.match(value):
        raise BadValue("is not an account name (letters, digits, _ . -; at most 64)")
    return value


ACCOUNT = ArgType("account", _account_name)
"""An account name as ``[[accounts]] name`` spells it (or ``default``)."""

DELETE_EXAMPLES = f"""\
examples:
  crosspost delete post.md --dry-run            what would be deleted, where
  crosspost delete https://blog.example.com/p/1 --platform {platforms.example_list()}
  crosspost delete --key 3f2a9c… --account work --json
"""

PURGE_EXAMPLES = """\
examples:
  crosspost purge --older-than 90d
  crosspost purge --older-than 365d --ledger --json
"""


def delete_parser() -> Parser:
    p = Parser(prog="crosspost delete", epilog=DELETE_EXAMPLES,
               description="Delete every post of an article on every platform it was posted to (thread parts "
               "last to first) and mark them deleted in the ledger. Safe to run again: posts already "
               "deleted are not asked about; a run that stopped half-way resumes.")
    p.add_argument("article", nargs="?", type=cliargs.ARTICLE_REF,
                   help="the article file or its canonical URL (or use --key)")
    p.add_argument("--key", type=cliargs.checked(Text(max_length=200)),
                   help="the article's ledger key, as crosspost status --json shows it")
    p.add_argument("--platform", type=cliargs.PLATFORMS, metavar="LIST",
                   help=f"only these platforms (comma-separated subset of {','.join(platforms.names())})")
    p.add_argument("--account", type=ACCOUNT, metavar="NAME",
                   help="only this account (the [[accounts]] name in crosspost.toml, or 'default')")
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted; delete nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--config", type=cliargs.EXISTING_FILE, metavar="FILE",
                   help="crosspost.toml (default: ./crosspost.toml)")
    return p


def purge_parser() -> Parser:
    p = Parser(prog="crosspost purge", epilog=PURGE_EXAMPLES,
               description="Remove finished jobs, feed-seen marks and cached server facts last changed before "
               "the cut. The ledger stays unless --ledger, and even then only rows whose post no longer "
               "exists (deleted or failed) are removed.")
    p.add_argument("--older-than", type=cliargs.DURATION, required=True, metavar="AGE",
                   help="the cut, as an age: 90d, 12h, 30m, 2w (at most 3650d)")
    p.add_argument("--ledger", action="store_true",
                   help="also drop ledger rows of deleted or failed posts older than the cut")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def delete(argv: Sequence[str]) -> int:
    """``crosspost delete ARTICLE``: retract every post of an article, on every account it went to."""
    args = delete_parser().parse_args(argv)
    if bool(args.article) == bool(args.key):
        raise UsageError("crosspost delete: give the ARTICLE or --key KEY (one of them)")
    from bot.config import load_settings
    from bot.lifecycle import run_delete

    settings = load_settings(config_file=args.config)
    key = args.key or _article_key(args.article, settings)
    chosen: tuple[str, ...] = args.platform or platforms.names()
    targets = [f"{p}:{args.account}" if args.account else p for p in chosen]
    return run_delete(key, settings, targets, dry_run=args.dry_run, as_json=args.json)


def purge(argv: Sequence[str]) -> int:
    """``crosspost purge --older-than 90d``: drop old history (jobs, feed marks, cached facts)."""
    args = purge_parser().parse_args(argv)
    from bot.config import load_settings
    from bot.store import connect
    from bot.triggers import parse_duration

    settings = load_settings()
    cut = datetime.now(UTC) - parse_duration(args.older_than)
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


__all__ = ["delete", "delete_parser", "purge", "purge_parser"]
