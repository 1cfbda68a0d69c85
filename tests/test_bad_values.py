"""Every value a user gives is checked: each option of each subcommand (found by walking the parsers),
each environment variable the code reads and each crosspost.toml key, fed bad values through the real
CLI. Each must be one line ``error: ...`` on stderr, exit 2, and never a traceback.

The bad values are derived from what the parsers and settings declare (an option's checked type, a
setting's check), so a new option or key is walked without editing this file; an option with no
check at all fails :func:`test_every_option_that_takes_a_value_is_checked`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli, config, platforms
from bot.checks import Check, Choice, Flag, HttpUrl, Number, Text, TextTable
from bot.cliargs import ArgType, UsageError
from tests.conftest import ROOT

ARTICLE = str(ROOT / "examples" / "launch-post.md")
COMMANDS: list[str | None] = [None, *cli.SUBCOMMANDS]  # None: ``crosspost ARTICLE``
VALID_POSITIONALS: dict[str | None, list[str]] = {  # so that the bad option is what fails
    None: [ARTICLE],
    "schedule": [ARTICLE],
    "cancel": ["1"],
    "retry": ["1"],
    "watch": ["https://blog.example.com/feed.xml"],
}
DELEGATED: set[tuple[str, str]] = set()
"""Checked by the change that owns serve's port and webhook settings (issue 7, item 5), with its tests."""
SERVE_ENV_PREFIXES = ("CROSSPOST_WEBHOOK_", "CROSSPOST_API_TOKEN", "CROSSPOST_CATCHUP_", "CROSSPOST_GHOST_",
                      "CROSSPOST_WORDPRESS_URL", "CROSSPOST_DASHBOARD_", "CROSSPOST_NOTIFY")
"""Environment variables with checks of their own: the webhook server's are walked in
tests/test_serve_hardening.py, the catch-up's and notifications' below (:data:`CATCHUP_CASES`,
:data:`NOTIFY_CASES`); the dashboard's password and cookie secret may be any text."""

TYPE_BAD: dict[str, list[str]] = {
    "tag": ["", "   ", "#", "a#b", "x" * 101, "a\nb"],
    "host": ["", "no such host!", "a" * 300, "-x"],
    "article": ["", "  ", "ftp://example.com/post.md"],
    "article-ref": ["", "a\nb"],
    "file": ["", "/nonexistent/crosspost.toml", "/", "x" * 300],
    "directory": ["", "/nonexistent/templates", ARTICLE, "x" * 300],
    "platforms": ["", ",", " , ", "twitter", "blusky", "myspace", "x,myspace"],
    "duration": ["", "0", "0s", "-5m", "soon", "2 hours", "100000000d", "9" * 400 + "s"],
    "zone": ["", "Mars/Olympus", "Europe", "../../etc/passwd"],
    "datetime": ["", "tomorrow", "2037-13-01 09:00", "09:00"],
    "account": ["", " work", "a b", "-x", "x" * 65],
    "output": ["", "/nonexistent/dir/page.html", "a\nb"],
}
"""Bad values for the option types that have no :mod:`bot.checks` check behind them, by type name."""


def bad_texts(check: Check) -> list[str]:
    """Values as typed on a command line or in the environment that ``check`` must refuse."""
    if isinstance(check, Number):
        low = check.above if check.above is not None else (check.minimum or 0) - 1
        values = ["", "abc", "nan", "inf", "-inf", f"{low:g}", f"{check.maximum + 1:g}", "9" * 30, "1e400"]
        return values + (["1.5"] if check.integer else [])
    if isinstance(check, Flag):
        return ["maybe", "2", "yess"]
    if isinstance(check, Choice):
        return ["", "garbage", check.choices[0] + "x"]
    if isinstance(check, Text):
        return ["", "   ", "a\nb", "x" * (check.max_length + 1)]
    if isinstance(check, HttpUrl):
        return ["", "garbage", "ftp://example.com/", "https://", "https://ex ample.com/", "javascript:alert(1)",
                "https://example.com:99999/"]
    return ["anything"]  # TextTable: never typed as text


def bad_toml(check: Check) -> list[str]:
    """TOML right-hand sides ``check`` must refuse (wrong type, out of range, garbage)."""
    if isinstance(check, Number):
        low = check.above if check.above is not None else (check.minimum or 0) - 1
        values = ['"lots"', "true", f"{low:g}", f"{check.maximum + 1:g}", "inf", "nan", "[1]"]
        return values + (["1.5"] if check.integer else [])
    if isinstance(check, Flag):
        return ['"yes"', "1", '"true"']
    if isinstance(check, Choice):
        return ['"garbage"', '""', "3"]
    if isinstance(check, Text):
        return ['""', "5", '"a\\nb"', '"' + "x" * (check.max_length + 1) + '"']
    if isinstance(check, HttpUrl):
        return ['"garbage"', '"ftp://example.com"', "5", '"https://ex ample.com"']
    assert isinstance(check, TextTable)
    return ['"utm_source=x"', "{ utm_source = 1 }", '{ utm_source = "" }', "[1, 2]"]


def value_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The parser's arguments that take a value (positionals included)."""
    for action in parser._actions:
        if action.nargs != 0 and not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield action


def bad_option_values(action: argparse.Action) -> list[str]:
    if action.choices is not None:
        return ["", "garbage"]
    kind = action.type
    if not isinstance(kind, ArgType):  # unchecked (test_every_option_that_takes_a_value_is_checked says so)
        return ["", "abc", "-3", "9" * 30, "nan"] if kind in (int, float) else ["", "a\nb"]
    if kind.check is not None:
        return bad_texts(kind.check)
    return TYPE_BAD.get(kind.name, [""])


def walk() -> Iterator[tuple[str | None, list[str], str]]:
    """(command, argv after the command, label) for every bad value of every argument of every command."""
    for command in COMMANDS:
        parser = cli.parser_for(command)
        positionals = VALID_POSITIONALS.get(command, [])
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            if (command, name) in DELEGATED:
                continue
            if action.nargs == 0:
                yield command, [*positionals, f"{name}=garbage"], f"{command} {name}=garbage"
                continue
            for value in bad_option_values(action):
                if action.option_strings:
                    argv = [*positionals, f"{name}={value}"]
                else:  # a positional: the bad value in its place, the others valid
                    index = [a.dest for a in parser._actions if not a.option_strings].index(action.dest)
                    argv = [*positionals[:index], "--", value, *positionals[index + 1:]]
                yield command, argv, f"{command} {name}={value[:40]!r}"


CASES = list(walk())


def assert_one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No platform credentials or crosspost settings from the caller; a store of our own; cwd in tmp."""
    for name in list(os.environ):
        if name.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.sqlite3'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_walk_covers_every_command_and_option() -> None:
    """The walk reaches every subcommand and more than a hundred bad values (a sanity check on itself)."""
    assert {c for c, _, _ in CASES} == set(COMMANDS)
    assert len(CASES) > 150


def test_every_option_that_takes_a_value_is_checked() -> None:
    """An option added without a checked type (or choices) fails here, before it can take a bad value."""
    for command in COMMANDS:
        for action in value_actions(cli.parser_for(command)):
            name = action.option_strings[-1] if action.option_strings else action.dest
            if (command, name) in DELEGATED:
                continue
            assert action.choices is not None or isinstance(action.type, ArgType), (command, name)
            if isinstance(action.type, ArgType) and action.type.check is None:
                assert action.type.name in TYPE_BAD, f"{command} {name}: add bad values for {action.type.name}"


@pytest.mark.parametrize(("command", "argv"), [(c, a) for c, a, _ in CASES], ids=[label for _, _, label in CASES])
def test_bad_option_value_is_one_line_exit_2(
    command: str | None, argv: list[str], capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    """Each bad value is refused while parsing (so nothing starts), and ``crosspost`` prints one line."""
    with pytest.raises(UsageError):
        cli.parser_for(command).parse_args(argv)
    code = cli.main([command, *argv] if command else argv)
    out, err = capsys.readouterr()
    line = assert_one_line_error(code, out, err)
    option = next((a.split("=")[0] for a in argv if a.startswith("--")), None)
    if option and option != "--":
        assert option in line, line


def env_names_in_code() -> set[str]:
    """Every CROSSPOST_* / DATABASE_URL name written in bot/ and adapters/ (the sandbox sets, not reads)."""
    names: set[str] = set()
    for folder in ("bot", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            names.update(re.findall(r"[\"']((?:CROSSPOST_[A-Z0-9_]+)|DATABASE_URL)[\"']", path.read_text("utf-8")))
    return names


def test_every_environment_variable_in_the_code_has_a_check() -> None:
    """A new CROSSPOST_* variable read anywhere must be in config.ENV_CHECKS (or be serve's own)."""
    unchecked = {n for n in env_names_in_code() if n not in config.ENV_CHECKS and not n.startswith(SERVE_ENV_PREFIXES)}
    assert unchecked == set()


ENV_CASES = [(name, value) for name, check in config.ENV_CHECKS.items() for value in bad_texts(check) if value.strip()]
ENV_CASES += [("DATABASE_URL", v) for v in ("garbage", "mysql://u@h/db", "sqlite://relative.db",
                                              "sqlite:////nonexistent-dir/deeper/crosspost.sqlite3")]
ENV_CASES += [(name, value) for name in platforms.credential_keys() for value in (" key", "a\nb", "a b")]


@pytest.mark.parametrize(("name", "value"), ENV_CASES, ids=[f"{n}={v[:30]!r}" for n, v in ENV_CASES])
def test_bad_environment_value_is_one_line_exit_2(
    name: str, value: str, capsys: pytest.CaptureFixture[str], clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``crosspost queue`` (which reads the settings and opens the store) refuses it, naming the variable."""
    monkeypatch.setenv(name, value)
    code = cli.main(["queue"])
    out, err = capsys.readouterr()
    line = assert_one_line_error(code, out, err)
    assert name in line or (name == "DATABASE_URL" and re.search("database|sqlite url", line, re.I)), line


def toml_cases() -> Iterator[tuple[str, str, str]]:
    """(label, crosspost.toml text, what the error must name) for every key and a few table shapes."""
    for key, check in config.COMPOSE_CHECKS.items():
        for value in bad_toml(check):
            yield f"compose.{key}={value}", f"[compose.x]\n{key} = {value}\n", key
    account = {"platform": '"mastodon"', "name": '"work"'}
    mastodon_options = {k: config.ACCOUNT_OPTION_CHECKS[k] for k in platforms.get("mastodon").account_options}
    for key, check in {**config.ACCOUNT_CHECKS, **config.COMPOSE_CHECKS, **mastodon_options}.items():
        for value in bad_toml(check):
            lines = {**account, key: value}
            yield f"accounts.{key}={value}", "[[accounts]]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items()), key
    for value in bad_toml(Text()):
        yield f"templates={value}", f"templates = {value}\n", "templates"
    yield "templates missing", 'templates = "/nonexistent/templates"\n', "templates"
    yield "unknown top-level", "colour = 1\n", "colour"
    yield "unknown compose key", "[compose.x]\nmax_hashtag = 3\n", "max_hashtag"
    yield "unknown platform", "[compose.twitter]\nlink = \"omit\"\n", "twitter"
    yield "unknown account key", "[[accounts]]\nplatform = \"mastodon\"\nname = \"w\"\nvisiblity = \"direct\"\n", \
        "visiblity"
    yield "option of another platform", "[[accounts]]\nplatform = \"x\"\nname = \"w\"\nvisibility = \"direct\"\n", \
        "visibility"
    yield "compose not a table", "compose = 3\n", "compose"
    yield "compose.x not a table", "compose = { x = 5 }\n", "compose.x"
    yield "accounts not tables", "accounts = \"all\"\n", "accounts"
    yield "not TOML", "max_hashtags = \n", "not valid TOML"


TOML_CASES = list(toml_cases())


@pytest.mark.parametrize(("text", "needle"), [(t, n) for _, t, n in TOML_CASES], ids=[c[0] for c in TOML_CASES])
def test_bad_toml_value_is_one_line_exit_2(
    text: str, needle: str, capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    """A dry run with the file refuses it in one line naming the key and the file."""
    path = clean_env / "crosspost.toml"
    path.write_text(text, encoding="utf-8")
    code = cli.main([ARTICLE, "--dry-run", "--config", str(path)])
    out, err = capsys.readouterr()
    line = assert_one_line_error(code, out, err)
    assert needle in line and str(path) in line, line


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=full,
                          timeout=60, cwd=cwd or ROOT)


@pytest.mark.parametrize(("args", "needle"), [
    (("schedule", ARTICLE, "--in", "100000000d"), "--in '100000000d'"),
    (("watch", "https://blog.example.com/feed.xml", "--backfill", "-3"), "--backfill '-3'"),
    (("watch", "https://blog.example.com/feed.xml", "--every", "0"), "--every '0'"),
    (("cancel", "9" * 30), "job"),
    (("statu",), "unknown command 'statu' — did you mean status?"),
])
def test_known_tracebacks_are_one_line_errors_in_a_real_process(
    args: tuple[str, ...], needle: str, tmp_path: Path
) -> None:
    """The cases that used to print a traceback, run as a user runs them."""
    proc = run(*args, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert needle in assert_one_line_error(proc.returncode, proc.stdout, proc.stderr)


def test_toml_and_database_url_in_a_real_process(tmp_path: Path) -> None:
    """``max_hashtags = "lots"`` and a DATABASE_URL into a missing directory, from a subprocess."""
    (tmp_path / "crosspost.toml").write_text('[compose.x]\nmax_hashtags = "lots"\n', encoding="utf-8")
    proc = run(ARTICLE, "--dry-run", cwd=tmp_path)
    assert "max_hashtags = 'lots' must be a whole number" in assert_one_line_error(
        proc.returncode, proc.stdout, proc.stderr)
    missing = tmp_path / "no" / "such" / "dir" / "db.sqlite3"
    proc = run("queue", env={"DATABASE_URL": f"sqlite:///{missing}"})
    assert f"{missing} does not exist" in assert_one_line_error(
        proc.returncode, proc.stdout, proc.stderr)
    assert not missing.parent.exists()


# ---------------------------------------------------------------------------- what a newcomer expects


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    """``crosspost --version`` prints the installed distribution's version."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"crosspost {version('crosspost')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_every_command_examples(command: str | None) -> None:
    """Each option of each subcommand says what it does; each ``--help`` ends with examples."""
    parser = cli.parser_for(command)
    for action in parser._actions:
        assert action.help and action.help.strip(), (command, action.option_strings or action.dest)
    assert parser.epilog and "examples:" in parser.epilog
    assert "examples:" in parser.format_help()


def test_serve_help_states_signatures_and_environment() -> None:
    """``serve --help`` names both signing schemes and the variables it reads."""
    text = cli.parser_for("serve").format_help()
    for needle in ("X-Ghost-Signature", "X-Crosspost-Signature", "X-Crosspost-Timestamp", "HMAC-SHA256",
                   "CROSSPOST_WEBHOOK_SECRET", "CROSSPOST_WEBHOOK_INSECURE", "DATABASE_URL"):
        assert needle in text


@pytest.mark.parametrize(("argv", "needle"), [
    (["statu"], "unknown command 'statu' — did you mean status?"),
    (["shedule", ARTICLE], "did you mean schedule?"),
    ([ARTICLE, "--dry-run", "--platform", "twitter"], "unknown platform 'twitter' — did you mean x?"),
    ([ARTICLE, "--dry-run", "--platform", "blusky"], "did you mean bluesky?"),
    ([ARTICLE, "--dry-run", "--platform", "x,mastodn"], "did you mean mastodon?"),
    ([ARTICLE, "--dry-run", "--platform", ""], "--platform"),
    (["watch", "https://blog.example.com/feed.xml", "--every", "0"], "--every '0'"),
])
def test_mistakes_get_a_suggestion(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                   clean_env: Path) -> None:
    """A near miss of a command or a platform (aliases included) names what was probably meant."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert needle in assert_one_line_error(code, out, err)


def test_schedule_at_in_the_past_needs_now(capsys: pytest.CaptureFixture[str], clean_env: Path) -> None:
    """A past --at is refused (nothing queued); with --now the job is queued due now."""
    import json
    from datetime import UTC, datetime

    code = cli.main(["schedule", ARTICLE, "--at", "2020-01-01 09:00", "--tz", "UTC"])
    out, err = capsys.readouterr()
    assert "--now" in assert_one_line_error(code, out, err)
    assert cli.main(["queue", "--all", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    before = datetime.now(UTC)
    assert cli.main(["schedule", ARTICLE, "--at", "2020-01-01 09:00", "--tz", "UTC", "--now", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert datetime.fromisoformat(job["run_at"]) >= before.replace(microsecond=0)


def test_status_of_an_article_never_posted_exits_1(capsys: pytest.CaptureFixture[str], clean_env: Path) -> None:
    """``status ARTICLE`` with nothing in the ledger: one line, exit 1 (a script can tell)."""
    assert cli.main(["status", ARTICLE]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and "never posted" in err
    assert cli.main(["status"]) == 0 and "nothing posted yet" in capsys.readouterr().out


CATCHUP_CASES = [
    ("CROSSPOST_CATCHUP_FEED", "ftp://blog.example.com/rss"),
    ("CROSSPOST_CATCHUP_FEED", "not a url"),
    ("CROSSPOST_WORDPRESS_URL", "blog.example.com"),
    ("CROSSPOST_GHOST_URL", "https://blog.example.com"),  # without its content key
    ("CROSSPOST_GHOST_CONTENT_KEY", "0123456789abcdef"),  # without its URL
    ("CROSSPOST_CATCHUP_EVERY", "soon"),
    ("CROSSPOST_CATCHUP_EVERY", "-5"),
    ("CROSSPOST_CATCHUP_EVERY", "1s"),
    ("CROSSPOST_CATCHUP_EVERY", "99999999999999d"),
    ("CROSSPOST_CATCHUP_WINDOW", "0"),
    ("CROSSPOST_CATCHUP_WINDOW", "forever"),
    ("CROSSPOST_CATCHUP_WINDOW", "1e400"),
    ("CROSSPOST_CATCHUP_WINDOW", "99999999999999"),
]


@pytest.mark.parametrize(("name", "value"), CATCHUP_CASES, ids=[f"{n}={v!r}" for n, v in CATCHUP_CASES])
def test_bad_catchup_value_is_one_line_exit_2(
    name: str, value: str, capsys: pytest.CaptureFixture[str], clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``crosspost serve`` checks the catch-up settings before it listens: one line naming the variable."""
    monkeypatch.setenv("CROSSPOST_WEBHOOK_SECRET", "s3cret-for-the-walk")
    monkeypatch.setenv(name, value)
    code = cli.main(["serve", "--port", "1"])  # never reached: the settings fail first
    out, err = capsys.readouterr()
    line = assert_one_line_error(code, out, err)
    assert "CROSSPOST_" in line, line


NOTIFY_CASES = [
    ("CROSSPOST_NOTIFY", "not-a-url"),
    ("CROSSPOST_NOTIFY", "json://127.0.0.1:1/ and-junk"),
    ("CROSSPOST_NOTIFY_ON", "failed,exploded"),
    ("CROSSPOST_NOTIFY_ON", "always"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "abc"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "0"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "-1"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "inf"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "nan"),
    ("CROSSPOST_NOTIFY_TIMEOUT", "1e400"),
]


@pytest.mark.parametrize(("name", "value"), NOTIFY_CASES, ids=[f"{n}={v!r}" for n, v in NOTIFY_CASES])
def test_bad_notify_value_is_one_line_exit_2(
    name: str, value: str, capsys: pytest.CaptureFixture[str], clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notification settings are read with the others: one line naming the variable, exit 2."""
    monkeypatch.setenv(name, value)
    code = cli.main(["queue"])
    out, err = capsys.readouterr()
    line = assert_one_line_error(code, out, err)
    assert name in line, line
