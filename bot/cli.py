"""The ``crosspost`` command: parse, call the core, print. Every failure is one line and an exit code.

Exit codes: 0 done; 1 some target failed or was deferred; 2 usage, configuration or input error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot.errors import CrosspostError
from bot.rules import PLATFORM_NAMES, RULES

EXAMPLES = """\
examples:
  crosspost post.md --dry-run                       show what would be posted, with lengths
  crosspost article.txt --url https://blog.example.com/p/1 --dry-run --json
  crosspost https://blog.example.com/p/1 --platform bluesky,mastodon
  cat post.json | crosspost - --format json --tag Python --tag "Open Source"
  crosspost post.md --thread                        the body as a numbered thread
  crosspost status                                  what was posted where
  crosspost preview post.md --open                  an HTML page: each post as the platform shows it
  crosspost sandbox                                 local X/Bluesky/Mastodon to try it all

other commands: status, preview, sandbox, schedule, queue, cancel, retry, worker, serve, watch
  (crosspost COMMAND --help for each)
"""


class UsageError(CrosspostError):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see crosspost --help)")


def _post_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="crosspost",
        description="Cross-post an article to X, Bluesky and Mastodon: fitted by each platform's own "
        "counting, hashtags whole, the canonical link intact, exactly once.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("article", help="a file (.txt .md .html .json), an http(s) URL, or - for stdin")
    p.add_argument("--dry-run", action="store_true", help="compose and print; publish nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--url", help="the canonical link (overrides the article's)")
    p.add_argument("--platform", help=f"comma-separated subset of {','.join(PLATFORM_NAMES)}")
    p.add_argument("--tag", action="append", default=[], metavar="TAG", help="add a hashtag (repeatable)")
    p.add_argument("--thread", action="store_true", help="post the body as a numbered thread")
    p.add_argument("--templates", type=Path, metavar="DIR", help="directory with x.j2, bluesky.j2, mastodon.j2")
    p.add_argument("--config", type=Path, metavar="FILE", help="crosspost.toml (default: ./crosspost.toml)")
    p.add_argument("--format", choices=("text", "markdown", "html", "json"), help="force the input format")
    p.add_argument("--force", action="store_true", help="post again even where the article is already out")
    return p


def _fail(message: str, code: int = 2, *, as_json: bool = False) -> int:
    """One ``error:`` line on stderr; with ``--json`` also ``{"error", "code"}`` on stdout for scripts."""
    print(f"error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "code": code}, ensure_ascii=False))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    from bot.logs import redact, setup_logging

    args = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[list[str]], int]] = _commands()
    setup_logging("WARNING")
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        if args and args[0] in commands:
            return commands[args[0]](args[1:])
        options = _post_parser().parse_args(args)
        return run_post(options)
    except CrosspostError as exc:
        return _fail(redact(str(exc)).replace("\n", " "), as_json=as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, as_json=as_json)
    except BrokenPipeError:
        return 1


def _commands() -> dict[str, Callable[[list[str]], int]]:
    """Subcommands, imported only when used so that the common path stays fast."""

    def lazy(module: str, name: str) -> Callable[[list[str]], int]:
        def run(argv: list[str]) -> int:
            import importlib

            func: Callable[[list[str]], int] = getattr(importlib.import_module(module), name)
            return func(argv)

        return run

    return {
        "status": lazy("bot.commands", "status"),
        "sandbox": lazy("bot.commands", "sandbox"),
        "schedule": lazy("bot.commands", "schedule"),
        "queue": lazy("bot.commands", "queue"),
        "cancel": lazy("bot.commands", "cancel"),
        "retry": lazy("bot.commands", "retry"),
        "worker": lazy("bot.commands", "worker"),
        "serve": lazy("bot.commands", "serve"),
        "watch": lazy("bot.commands", "watch"),
        "preview": lazy("bot.web.preview", "command"),
    }


def load_input(options: argparse.Namespace, *, allow_private: bool, timeout: float) -> Any:
    """The Article named on the command line with --url and --tag applied."""
    from bot.load import load_article

    article = load_article(options.article, fmt=options.format, stdin=sys.stdin.buffer, allow_private=allow_private,
                           timeout=timeout)
    for warning in article.extra.get("warnings", ()):
        print(f"warning: {warning}", file=sys.stderr)
    return article.with_overrides(url=options.url, extra_tags=tuple(options.tag))


def run_post(options: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.rules import parse_platforms

    platforms = parse_platforms(options.platform)
    settings = load_settings(config_file=options.config, templates_dir=options.templates)
    if options.url is not None:
        _check_url(options.url)
    article = load_input(options, allow_private=settings.allow_private_network, timeout=settings.timeout)
    if not article.url:
        raise UsageError(
            f"{options.article}: the article has no canonical link; pass --url URL "
            "(crosspost only posts with the canonical link)"
        )

    unpublished = _unpublished(article)
    if unpublished and not options.dry_run and not options.force:
        raise UsageError(f"{options.article}: the article is {unpublished}; publish it first or pass --force")

    if options.dry_run:
        from bot.planning import dry_run_plan

        plan = dry_run_plan(article, settings, platforms, thread=options.thread)
        refused = f"the article is {unpublished}" if unpublished and not options.force else None
        if refused:
            print(f"note: a real run would refuse this: {refused}; publish it first or pass --force", file=sys.stderr)
        if options.json:
            print(json.dumps({**plan.to_json(), **({"refused": refused} if refused else {})}, ensure_ascii=False,
                             indent=2))
        else:
            print(render_plan(plan))
        return 0

    from bot.publish import run_publish

    return run_publish(article, settings, platforms, thread=options.thread, force=options.force,
                       as_json=options.json)


def _unpublished(article: Any) -> str | None:
    """Why the CMS says this is not public yet (a draft, a scheduled post), or None."""
    extra = article.extra
    if extra.get("draft") in (True, "true", "yes"):
        return "a draft (front matter draft: true)"
    status = str(extra.get("status") or "publish").lower()
    if status not in ("publish", "published", "public"):
        return f"not published (status {status!r})"
    return None


def _check_url(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url!r} is not an http(s) URL")


def render_plan(plan: Any) -> str:
    """The dry run for people: each platform's posts with their length against the limit."""
    lines: list[str] = []
    article = plan.article
    lines.append(f"article: {article.title or '(no title)'}")
    lines.append(f"link:    {article.url}")
    if article.tags:
        lines.append(f"tags:    {', '.join(article.tags)}")
    for pp in plan.platforms:
        rules = RULES[pp.platform]
        count = len(pp.posts)
        lines.append("")
        lines.append(f"── {rules.label} ({pp.account}) · {count} post{'s' if count != 1 else ''} " + "─" * 20)
        if pp.limit_source:
            lines.append(f"limit {pp.limit} ({pp.limit_source}; counted in {pp.unit or rules.unit})")
        for i, post in enumerate(pp.posts, 1):
            head = f"[{i}/{count}] " if count > 1 else ""
            lines.append(f"{head}{post.length}/{pp.limit} {pp.unit or rules.unit}")
            lines.extend(f"  │ {line}" for line in post.text.split("\n"))
            if post.embed:
                ext = post.embed["external"]
                lines.append(f"  ↳ link card: {ext['title']} <{ext['uri']}>")
            if post.tags:
                lines.append(f"  ↳ record tags: {', '.join(post.tags)}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
