"""Subcommands of ``crosspost`` other than posting: ``status`` and ``sandbox`` (and, in bot/triggers.py,
the queue, worker, webhook server and feed watcher). Entry points only: parse, call the core, print."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from bot.errors import CrosspostError


class UsageError(CrosspostError):
    """Bad command-line usage (exit 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


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


def status(argv: Sequence[str]) -> int:
    """``crosspost status [ARTICLE] [--json]``: what was posted where."""
    p = Parser(prog="crosspost status", description="Show the post ledger: what was posted where.")
    p.add_argument("article", nargs="?", help="an article file or its canonical URL (default: all)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--url", help="the canonical URL the article was posted with (if it came from --url)")
    args = p.parse_args(argv)
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
        return 0
    if not rows:
        print("nothing posted yet" + (f" for {args.article or args.url}" if key else ""))
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


def sandbox(argv: Sequence[str]) -> int:
    """``crosspost sandbox [--port P]``: serve the local X/Bluesky/Mastodon and print its environment."""
    p = Parser(prog="crosspost sandbox", description="Serve local stand-ins of X, Bluesky and Mastodon.")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mastodon-max-characters", type=int, default=500)
    p.add_argument("--seed", type=int, default=None, help="random seed for chaos faults")
    args = p.parse_args(argv)
    from bot.sandbox import Sandbox

    try:
        sb = Sandbox(args.port, host=args.host, seed=args.seed, mastodon_max_characters=args.mastodon_max_characters)
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


def _delegate(name: str) -> Any:
    def run(argv: Sequence[str]) -> int:
        from bot import triggers

        result: int = getattr(triggers, name)(argv)
        return result

    return run


schedule = _delegate("schedule")
queue = _delegate("queue")
cancel = _delegate("cancel")
retry = _delegate("retry")
worker = _delegate("worker")
serve = _delegate("serve")
watch = _delegate("watch")

__all__ = ["cancel", "queue", "retry", "sandbox", "schedule", "serve", "status", "watch", "worker"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(status(sys.argv[1:]))
