"""The ``crosspost`` command: parse, call the core, print. Every failure is one line and an exit code.

Exit codes: 0 done; 1 some target failed or was deferred; 2 usage, configuration or input error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot import platforms
from bot.checks import did_you_mean
from bot.cliargs import Parser, UsageError
from bot.errors import CrosspostError

EXAMPLES = f"""\
examples:
  crosspost post.md --dry-run                       show what would be posted, with lengths
  crosspost article.txt --url https://blog.example.com/p/1 --dry-run --json
  crosspost https://blog.example.com/p/1 --platform {platforms.example_list()}
  cat post.json | crosspost - --format json --tag Python --tag "Open Source"
  crosspost post.md --thread                        the body as a numbered thread
  crosspost status                                  what was posted where
  crosspost preview post.md --open                  an HTML page: each post as the platform shows it
  crosspost sandbox                                 every platform's local stand-in, to try it all
  crosspost --version
  crosspost post.md --update                        edit what is out there (on_edit = "update")
  crosspost delete post.md                          retract every post of the article
"""


def _post_parser() -> argparse.ArgumentParser:
    from bot import cliargs

    p = Parser(
        prog="crosspost",
        description=f"Cross-post an article to {platforms.labels()}: fitted by each platform's own "
        "counting, hashtags whole, the canonical link intact, exactly once.",
        epilog=EXAMPLES + f"\nother commands: {', '.join(SUBCOMMANDS)}\n  (crosspost COMMAND --help for each)\n",
    )
    p.add_argument("article", type=cliargs.ARTICLE,
                   help="a file (.txt .md .html .json), an http(s) URL, or - for stdin")
    p.add_argument("--version", action="version", version=f"crosspost {cliargs.version()}",
                   help="print crosspost's version and exit")
    p.add_argument("--dry-run", action="store_true", help="compose and print; publish nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    cliargs.add_composition_options(p)
    p.add_argument("--force", action="store_true", help="post again even where the article is already out")
    p.add_argument("--publish-draft", action="store_true",
                   help="post even though the source marks the article unpublished (draft, scheduled, private…)")
    p.add_argument("--update", action="store_true",
                   help="the article changed: edit its published posts in place where on_edit = \"update\" "
                   "(where the platform can); others report not_editable")
    return p


SUBCOMMANDS: dict[str, str] = {
    "status": "bot.commands",
    "sandbox": "bot.commands",
    "schedule": "bot.triggers",
    "queue": "bot.triggers",
    "cancel": "bot.triggers",
    "retry": "bot.triggers",
    "worker": "bot.triggers",
    "serve": "bot.triggers",
    "watch": "bot.triggers",
    "delete": "bot.lifecycle_cli",
    "purge": "bot.lifecycle_cli",
    "preview": "bot.web.preview",
}
"""Each subcommand and the module that holds its ``NAME(argv)`` entry point and ``NAME_parser()``."""


def parser_for(command: str | None) -> argparse.ArgumentParser:
    """The parser of ``crosspost COMMAND`` (None: of ``crosspost ARTICLE``); the help test walks these."""
    import importlib

    if command is None:
        return _post_parser()
    builder: Callable[[], argparse.ArgumentParser] = getattr(
        importlib.import_module(SUBCOMMANDS[command]), f"{command}_parser"
    )
    return builder()


def _unknown_command(word: str) -> None:
    """Refuse ``crosspost statu``: a bare word that is neither a command nor a file is a mistyped command."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z_-]*", word) or Path(word).exists():
        return
    hint = did_you_mean(word, SUBCOMMANDS)
    if hint:
        raise UsageError(f"unknown command {word!r}{hint}")
    raise UsageError(f"{word!r} is neither a command ({', '.join(SUBCOMMANDS)}) nor an article file")


def _fail(message: str, code: int = 2, *, as_json: bool = False) -> int:
    """One ``error:`` line on stderr; with ``--json`` also ``{"error", "code"}`` on stdout for scripts."""
    print(f"error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "code": code}, ensure_ascii=False))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    from bot.logs import setup_logging
    from bot.redact import redact

    args = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[list[str]], int]] = _commands()
    setup_logging("WARNING")
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        if args and args[0] in commands:
            return commands[args[0]](args[1:])
        if args:
            _unknown_command(args[0])
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

    return {name: lazy(module, name) for name, module in SUBCOMMANDS.items()}


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
    from bot.policy import PUBLISH_DRAFT_FLAG, check_option_url, check_publishable, unpublished_reason

    chosen = options.platform or platforms.names()
    settings = load_settings(config_file=options.config, templates_dir=options.templates)
    check_option_url(options.url)
    article = load_input(options, allow_private=settings.allow_private_network, timeout=settings.timeout)
    # A dry run posts nothing, so it may preview a draft; the link must be valid all the same.
    check_publishable(article, allow_draft=options.publish_draft or options.dry_run, origin=options.article)

    if options.dry_run:
        from bot.planning import dry_run_plan

        plan = dry_run_plan(article, settings, chosen, thread=options.thread)
        unpublished = unpublished_reason(article)
        refused = unpublished if unpublished and not options.publish_draft else None
        if refused:
            print(f"note: a real run would refuse this: {refused}; publish it first or pass {PUBLISH_DRAFT_FLAG}",
                  file=sys.stderr)
        if options.json:
            print(json.dumps({**plan.to_json(), **({"refused": refused} if refused else {})}, ensure_ascii=False,
                             indent=2))
        else:
            print(render_plan(plan))
        return 0

    if options.update:
        if options.force:
            raise UsageError("--update edits what is published; it cannot be combined with --force")
        from bot.lifecycle import run_update

        return run_update(article, settings, chosen, as_json=options.json)

    from bot.publish import run_publish

    return run_publish(article, settings, chosen, thread=options.thread, force=options.force,
                       as_json=options.json)


def render_plan(plan: Any) -> str:
    """The dry run for people: each platform's posts with their length against the limit."""
    lines: list[str] = []
    article = plan.article
    lines.append(f"article: {article.title or '(no title)'}")
    lines.append(f"link:    {article.url}")
    if article.tags:
        lines.append(f"tags:    {', '.join(article.tags)}")
    for pp in plan.platforms:
        rules = platforms.get(pp.platform)
        count = len(pp.posts)
        lines.append("")
        lines.append(f"── {rules.label} ({pp.account}) · {count} post{'s' if count != 1 else ''} " + "─" * 20)
        if pp.limit_source:
            lines.append(f"limit {pp.limit} ({pp.limit_source}; counted in {pp.unit or rules.unit})")
        for i, post in enumerate(pp.posts, 1):
            head = f"[{i}/{count}] " if count > 1 else ""
            lines.append(f"{head}{post.length}/{pp.limit} {pp.unit or rules.unit}")
            lines.extend(f"  │ {line}" for line in post.text.split("\n"))
            if post.card:
                lines.append(f"  ↳ link card: {post.card.title} <{post.card.uri}>")
            if post.tags:
                lines.append(f"  ↳ record tags: {', '.join(post.tags)}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
