"""Subcommands of ``crosspost`` other than posting: ``status`` and ``sandbox`` (and, in bot/triggers.py,
the queue, worker, webhook server and feed watcher). Entry points only: parse, call the core, print."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from bot import cliargs
from bot.cliargs import Parser, UsageError


def _article_key(source: str, settings: Any) -> str:
    """The ledger key of an article given as a path/URL, or a key/URL typed as is."""
    from bot.article import Article

    if source.startswith(("http://", "https://")):
        return Article(url=source).key
    from pathlib import Path

    if Path(source).exists():
        from bot.load import load_article

        return load_article(source, allow_private=settings.allow_private_network).key
    return source


STATUS_EXAMPLES = """\
examples:
  crosspost status                          every article, platform and account
  crosspost status post.md                  one article (exit 1 if it was never posted)
  crosspost status --url https://blog.example.com/p/1 --json
"""


def status_parser() -> Parser:
    p = Parser(prog="crosspost status", description="Show the post ledger: what was posted where.",
               epilog=STATUS_EXAMPLES)
    p.add_argument("article", nargs="?", type=cliargs.ARTICLE_REF,
                   help="an article file, its canonical URL or its key (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--url", type=cliargs.URL,
                   help="the canonical URL the article was posted with (if it came from --url)")
    return p


def status(argv: Sequence[str]) -> int:
    """``crosspost status [ARTICLE] [--json]``: what was posted where; exit 1 for an article never posted."""
    args = status_parser().parse_args(argv)
    from bot.config import load_settings
    from bot.store import connect

    settings = load_settings()
    key = None
    if args.url:
        from bot.article import Article

        key = Article(url=args.url).key
    elif args.article:
        key = _article_key(args.article, settings)
    store = connect(settings.database_url)
    try:
        rows = store.ledger_rows(key)
    finally:
        store.close()
    if args.json:
        print(json.dumps([_row_json(r) for r in rows], ensure_ascii=False, indent=2))
    if not rows and key:
        print(f"error: {args.article or args.url} was never posted (crosspost status lists what was)",
              file=sys.stderr)
        return 1
    if args.json:
        return 0
    if not rows:
        print("nothing posted yet")
        return 0
    header = ("article", "platform", "account", "part", "state", "attempts", "post")
    table = [header] + [
        (r.article_key[:12], r.platform, r.account, f"{r.part + 1}" + (f" g{r.generation}" if r.generation > 1 else ""),
         _state_text(r), str(r.attempts), r.post_url or (r.last_error or "")[:80])
        for r in rows
    ]
    print_table(table)
    return 0


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows as aligned columns (the first row is the header; the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _state_text(r: Any) -> str:
    """The state, with when a post was deleted or last edited (bot/lifecycle.py)."""
    if r.state == "deleted" and r.deleted_at:
        return f"deleted {r.deleted_at:%Y-%m-%d %H:%M}"
    if r.edited_at:
        return f"{r.state}, edited {r.edited_at:%Y-%m-%d %H:%M}"
    return str(r.state)


def _row_json(r: Any) -> dict[str, Any]:
    return {
        "article": r.article_key, "platform": r.platform, "account": r.account, "part": r.part,
        "generation": r.generation, "state": r.state, "attempts": r.attempts, "post_id": r.post_id,
        "url": r.post_url, "error": r.last_error, "updated_at": r.updated_at.isoformat(),
        "deleted_at": r.deleted_at.isoformat() if r.deleted_at else None,
        "edited_at": r.edited_at.isoformat() if r.edited_at else None,
    }


SANDBOX_EXAMPLES = """\
examples:
  crosspost sandbox                          serve on 127.0.0.1:8765 and print the environment to use
  eval "$(crosspost sandbox --port 9000 &)"  (or paste the printed export lines into another shell)
  crosspost sandbox --seed 7 --PLATFORM-OPTION VALUE   a platform's own options are listed above
"""


def _option_flag(platform: str, option: str) -> str:
    return f"--{platform}-{option.replace('_', '-')}"


def sandbox_parser() -> Parser:
    from bot import platforms
    from bot.sandbox import cli_options

    labels = [p.label for p in platforms.all_platforms()]
    p = Parser(prog="crosspost sandbox", description=f"Serve local stand-ins of {', '.join(labels)}.",
               epilog=SANDBOX_EXAMPLES)
    p.add_argument("--port", type=cliargs.PORT, default=8765, help="port to listen on (default 8765; 0: any free)")
    p.add_argument("--host", type=cliargs.HOST, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    for platform, options in cli_options().items():
        for option, keywords in options.items():
            keywords = dict(keywords)
            if keywords.get("type") == "count":
                keywords["type"] = cliargs.count(1, 1_000_000)
            p.add_argument(_option_flag(platform, option), dest=f"{platform}__{option}", default=None, **keywords)
    p.add_argument("--seed", type=cliargs.count(0, 2**32 - 1), default=None, help="random seed for chaos faults")
    return p


def sandbox(argv: Sequence[str]) -> int:
    """``crosspost sandbox [--port P]``: serve every platform's stand-in and print its environment."""
    args = sandbox_parser().parse_args(argv)
    from bot.sandbox import Sandbox

    options: dict[str, dict[str, Any]] = {}
    for dest, value in vars(args).items():
        if "__" in dest and value is not None:
            platform, _, option = dest.partition("__")
            options.setdefault(platform, {})[option] = value
    try:
        sb = Sandbox(args.port, host=args.host, seed=args.seed, options=options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"# crosspost sandbox on {sb.url} — paste into your shell or .env:")
    for name, value in sb.env().items():
        print(f"export {name}={value}")
    print("# control API: GET /_sandbox/posts, POST /_sandbox/faults, POST /_sandbox/reset", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sb.start()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    sb.stop()
    return 0


__all__ = ["print_table", "sandbox", "sandbox_parser", "status", "status_parser"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(status(sys.argv[1:]))
