"""The registry is the one list of platforms: a new one is an adapter, a template, a sandbox module and an entry."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import platforms
from bot.cli import main
from bot.sandbox import Sandbox
from tests.toy import ENTRY as TOY

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "examples" / "launch-post.md"

# Modules that may name a platform besides the registry and each platform's own modules (own_modules).
ALLOWED = {"bot/platforms.py"}
# Words that name a protocol several platforms share, not a platform.
PROTOCOL_WORDS = {"fediverse"}
# Strings that carry a platform's name but mean a web standard: the Twitter Card meta tags every page has.
ALLOWED_STRINGS = {'"twitter:title"', '"twitter:description"', '"twitter:image"', '"twitter:image:alt"'}
# Standard-library identifiers that carry a platform's name as an ordinary word (socketserver's attribute).
ALLOWED_NAMES = {"daemon_threads"}


def _platform_words() -> set[str]:
    words = {w.lower() for p in platforms.all_platforms() for w in (p.name, p.label, *p.aliases)}
    return words - PROTOCOL_WORDS - {"toy"}


def _docstring_lines(source: str) -> set[int]:
    import ast

    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        # a bare string statement: a docstring of a module, class, function or attribute
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def platform_names_in(path: Path, words: set[str]) -> Iterator[str]:
    """``line: token`` for every identifier or string (not a comment, not a docstring) naming a platform."""
    source = path.read_text(encoding="utf-8")
    docstrings = _docstring_lines(source)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.start[0] in docstrings or tok.string in ALLOWED_STRINGS or tok.string in ALLOWED_NAMES:
            continue
        if tok.type == tokenize.NAME:
            parts = re.split(r"_|(?<=[a-z])(?=[A-Z])", tok.string)
        elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            parts = re.split(r"[^A-Za-z0-9]+|_", tok.string)
        else:
            continue
        if any(part.lower() in words for part in parts if part and part.lower() != "x") or (
                "x" in words and _names_x(tok)):
            yield f"{tok.start[0]}: {tok.string}"


def _names_x(tok: tokenize.TokenInfo) -> bool:
    """"x" is also a variable and a multiplication sign: only ``"x"``, ``X_…`` settings and ``x_…``/``…_x``
    identifiers count."""
    if tok.type == tokenize.STRING:
        value = tok.string.strip("\"'rbf")
        return value in ("x", "X") or bool(re.match(r"X_[A-Z]", value))
    return bool(re.match(r"(x|X)_\w", tok.string) or re.search(r"_x$", tok.string))


def test_no_platform_name_outside_the_registry_and_its_own_modules() -> None:
    """No platform is named in bot/ outside bot/platforms.py and the modules its entry lists as its own."""
    own = {m for p in platforms.all_platforms() for m in p.own_modules} | ALLOWED
    words = _platform_words()
    found = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in own:
            continue
        hits = list(platform_names_in(path, words))
        if hits:
            found[rel] = hits
    assert not found, f"platform names outside the registry: {found}"


def test_the_scan_finds_a_platform_name() -> None:
    """The scan itself sees a name in code and in a string, and not in a comment or a docstring."""
    words = _platform_words()
    probe = ROOT / "build" / "probe_names.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text('"""Bluesky and X in a docstring."""\n# mastodon in a comment\n'
                     'limit = bluesky_limit\nname = "mastodon"\nkey = "X_API_KEY"\nx = 1\n', encoding="utf-8")
    assert [h.split(": ")[1] for h in platform_names_in(probe, words)] == [
        "bluesky_limit", '"mastodon"', '"X_API_KEY"']


def env_example_missing(text: str) -> list[str]:
    """Registered platforms whose section (registry.env_example_block) is not in ``.env.example``."""
    return [p.name for p in platforms.all_platforms() if platforms.env_example_block(p) not in text]


def test_env_example_lists_every_platform_as_the_registry_says() -> None:
    """.env.example holds each platform's section exactly as its registry entry renders it."""
    assert env_example_missing((ROOT / ".env.example").read_text(encoding="utf-8")) == []


@pytest.fixture
def toy() -> Iterator[platforms.Platform]:
    platforms.register(TOY)
    try:
        yield TOY
    finally:
        platforms.unregister(TOY.name)


def test_a_platform_registered_at_run_time_is_everywhere(toy: platforms.Platform, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The toy (one adapter, one template, one sandbox module, one entry) is a --platform choice, a sandbox
    target with its environment, a row of the .env.example check, composed in the dry run and published."""
    assert "toy" in platforms.parse_platforms(None) and platforms.parse_platforms("toy") == ("toy",)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "toy" in capsys.readouterr().out
    assert env_example_missing((ROOT / ".env.example").read_text(encoding="utf-8")) == ["toy"]
    with Sandbox() as sb:
        env = sb.env()
        assert env["TOY_TOKEN"] == "sandbox-toy-token" and env["TOY_API_BASE_URL"] == sb.url
        for name, value in {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}.items():
            monkeypatch.setenv(name, value)
        assert main([str(ARTICLE), "--dry-run", "--json", "--platform", "toy"]) == 0
        plan = json.loads(capsys.readouterr().out)
        (toy_plan,) = plan["platforms"]
        assert toy_plan["platform"] == "toy" and toy_plan["limit"] == 200
        assert len(toy_plan["posts"][0]["text"]) <= 200
        assert main([str(ARTICLE), "--platform", "toy"]) == 0
        (post,) = sb.app.posts("toy")
        assert post["text"] == toy_plan["posts"][0]["text"]


def test_the_toy_joins_the_tests_parametrised_over_the_registry() -> None:
    """With the toy registered before collection, the parametrised compose tests run for it too."""
    env = {**os.environ, "CROSSPOST_TEST_TOY": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "tests/test_compose.py", "-k", "toy"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert re.search(r"\b[1-9]\d* passed", done.stdout), done.stdout[-500:]


@pytest.mark.parametrize("name", platforms.names())
def test_the_sandbox_refuses_what_a_wrong_measure_let_through(name: str, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sandbox judges lengths with its own code: a measure that counts a third of the text composes
    posts too long for the platform, and the sandbox refuses them (nothing is published)."""
    from dataclasses import replace

    right = platforms.get(name)
    monkeypatch.setattr("bot.fediverse.with_server_rule", lambda rules, _counting: rules)  # a server's rule too
    platforms.register(replace(right, measure=lambda post, _w: len(post) // 3, own_measure=None))
    try:
        with Sandbox() as sb:
            for key, value in {**sb.env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}.items():
                monkeypatch.setenv(key, value)
            long_article = tmp_path / "long.md"
            long_article.write_text("---\ntitle: A long one\nurl: https://blog.example.com/p/long\n---\n\n"
                                    + "A sentence that goes on and on. " * 200 + "\n", encoding="utf-8")
            assert main([str(long_article), "--dry-run", "--json", "--platform", name]) == 0
            (plan,) = json.loads(capsys.readouterr().out)["platforms"]
            assert right.length(plan["posts"][0]["text"]) > right.limit  # the wrong measure let it through
            assert main([str(long_article), "--platform", name]) != 0
            assert sb.app.posts(name) == []
    finally:
        platforms.register(right)
