"""What every ``crosspost`` subcommand parses with: one usage error, one parser, and checked option types.

Every option that takes a value has a type from here, so a bad value is refused while parsing, as one
line naming the option (``error: crosspost watch: argument --every: '0' must be ...``), exit 2.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from bot.checks import BadValue, Check, HttpUrl, Number, Text, did_you_mean
from bot.errors import CrosspostError


class UsageError(CrosspostError):
    """Bad command-line usage (exit 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so ``main`` prints and exits 2), and whose
    help keeps the examples in ``epilog`` as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        bad_value = re.fullmatch(r"argument ([^:]+): (.*)", message, re.DOTALL)
        if bad_value:  # "argument --tz: 'Mars' is not ..." -> "--tz 'Mars' is not ..."
            option, reason = bad_value.groups()
            message = f"{option}{'' if reason.startswith(chr(39)) else ':'} {reason}"
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class ArgType:
    """An argparse ``type=`` that reads text with ``parse`` and turns BadValue into argparse's message.

    ``name`` names the kind of value (the bad-value test keys on it); ``check``, when set, is the
    :mod:`bot.checks` check behind it.
    """

    def __init__(self, name: str, parse: Callable[[str], Any], check: Check | None = None, *,
                 quote_value: bool = True) -> None:
        self.name = name
        self.quote_value = quote_value
        self.__name__ = name  # argparse names the type in some messages
        self.parse = parse
        self.check = check

    def __call__(self, text: str) -> Any:
        try:
            return self.parse(text)
        except BadValue as exc:
            raise argparse.ArgumentTypeError(f"{_shown(text)} {exc}" if self.quote_value else str(exc)) from None

    def __repr__(self) -> str:
        return f"ArgType({self.name})"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def checked(check: Number | Text | HttpUrl) -> ArgType:
    """An option type from a :mod:`bot.checks` check."""
    return ArgType(check.kind, check.from_text, check)


def _number_type(check: Number) -> ArgType:
    def parse(text: str) -> Any:
        value = check.from_text(text)
        return int(value) if check.integer else float(value)

    return ArgType(check.kind, parse, check)


def count(minimum: int, maximum: int) -> ArgType:
    """A whole number in ``[minimum, maximum]``."""
    return _number_type(Number(minimum=minimum, maximum=maximum))


def seconds(maximum: float = 86400.0) -> ArgType:
    """A positive number of seconds, at most ``maximum``."""
    return _number_type(Number(above=0, maximum=maximum, integer=False, unit="seconds"))


PORT = count(0, 65535)
"""A TCP port (0: any free port)."""

JOB_ID = count(1, 2**63 - 1)
"""A job id as the store numbers them."""

URL = checked(HttpUrl())
"""An absolute http(s) URL."""


def _tag(text: str) -> str:
    tag = text.strip().lstrip("#").strip()
    if not tag or re.search(r"[\x00-\x1f\x7f#]", tag) or len(tag) > 100:
        raise BadValue("must be a hashtag: words, without # inside, at most 100 characters")
    return tag


TAG = ArgType("tag", _tag)


def _host(text: str) -> str:
    import ipaddress

    host = text.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or not all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", x) for x in labels):
        raise BadValue("must be a host name or an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    return host


HOST = ArgType("host", _host)


def _article(text: str) -> str:
    source = text.strip()
    if not source:
        raise BadValue("must be a file, an http(s) URL or - for stdin")
    if source == "-" or source.startswith(("http://", "https://")):
        return source
    if "://" in source:
        raise BadValue("must be a file, an http(s) URL or - for stdin")
    return source


ARTICLE = ArgType("article", _article)
"""An article's source; whether the file exists is the loader's to say (it names the file)."""


def _article_ref(text: str) -> str:
    if not text.strip() or re.search(r"[\x00-\x1f\x7f]", text):
        raise BadValue("must be an article file, its canonical URL or its key")
    return text.strip()


ARTICLE_REF = ArgType("article-ref", _article_ref)


def _existing(kind: str) -> Callable[[str], Path]:
    def parse(text: str) -> Path:
        if not text.strip():
            raise BadValue(f"must name a {kind}")
        path = Path(text).expanduser()
        try:
            exists, right_kind = path.exists(), path.is_file() if kind == "file" else path.is_dir()
        except OSError as exc:  # e.g. a name too long
            raise BadValue(f"cannot be used: {exc.strerror}") from None
        if not right_kind:
            raise BadValue(f"is not a {kind}" if exists else "does not exist")
        return path

    return parse


def _output(text: str) -> str:
    if text == "-":
        return text
    if not text.strip() or re.search(r"[\x00-\x1f\x7f]", text):
        raise BadValue("must be a file to write, or - for stdout")
    parent = Path(text).expanduser().parent
    try:
        usable = parent.is_dir()
    except OSError as exc:  # e.g. a name too long
        raise BadValue(f"cannot be used: {exc.strerror}") from None
    if not usable:
        raise BadValue(f"cannot be written: directory {str(parent)[:200]} does not exist")
    return text


OUTPUT = ArgType("output", _output)
"""A file to write (its directory must exist), or ``-`` for stdout."""

EXISTING_FILE = ArgType("file", _existing("file"))
EXISTING_DIR = ArgType("directory", _existing("directory"))


def _platforms(text: str) -> tuple[str, ...]:
    from bot import platforms

    if not text.strip():
        raise BadValue("name at least one platform (default: all)")
    try:
        return platforms.parse_platforms(text)
    except CrosspostError as exc:
        raise BadValue(str(exc)) from None


PLATFORMS = ArgType("platforms", _platforms, quote_value=False)
"""A comma-separated list of platforms (aliases such as twitter accepted), parsed to a tuple."""


def _duration(text: str) -> str:
    from bot.triggers import parse_duration

    try:
        parse_duration(text)
    except UsageError:
        raise BadValue("must be a duration like 90s, 15m, 2h, 1h30m or 1d, at most 3650d") from None
    return text


DURATION = ArgType("duration", _duration)


def _zone(text: str) -> str:
    from bot.triggers import zone_named

    zone_named(text)
    return text


ZONE = ArgType("zone", _zone)


def _when(text: str) -> str:
    from datetime import datetime

    try:
        datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise BadValue('must be a date and time like "2026-12-01 09:00"') from None
    return text


WHEN = ArgType("datetime", _when)

FORMATS = ("text", "markdown", "html", "json")


def add_composition_options(p: argparse.ArgumentParser) -> None:
    """The options that decide what is composed (link, targets, tags, thread, templates, settings, format),
    shared by ``crosspost ARTICLE`` and ``crosspost preview`` so the preview is the dry run's plan."""
    from bot import platforms

    p.add_argument("--url", type=URL, help="the canonical link (overrides the article's)")
    p.add_argument("--platform", type=PLATFORMS,
                   help=f"comma-separated subset of {','.join(platforms.names())} (default: all)")
    p.add_argument("--tag", action="append", default=[], type=TAG, metavar="TAG", help="add a hashtag (repeatable)")
    p.add_argument("--thread", action="store_true", help="post the body as a numbered thread")
    p.add_argument("--templates", type=EXISTING_DIR, metavar="DIR",
                   help=f"directory with {platforms.template_files()}")
    p.add_argument("--config", type=EXISTING_FILE, metavar="FILE", help="crosspost.toml (default: ./crosspost.toml)")
    p.add_argument("--format", choices=FORMATS, help="force the input format (default: by extension)")


def version() -> str:
    """crosspost's version from its package metadata."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("crosspost")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


__all__ = ["ArgType", "BadValue", "Parser", "UsageError", "did_you_mean"]
