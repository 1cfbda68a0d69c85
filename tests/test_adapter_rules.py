"""Adapters only translate (adapters/base.py): read their source so that sleeping, fetching and judging an
error by its text cannot come back. The publisher waits (MediaPending), fetches (bot.images) and decides
retries from the error *types* an adapter raises."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS = sorted((Path(__file__).resolve().parent.parent / "adapters").glob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def sleeps(module: ast.Module) -> list[int]:
    """Lines that call ``sleep`` (``time.sleep``, ``asyncio.sleep``, a bare imported ``sleep``) or import it."""
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "sleep":
                found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "sleep" for a in node.names):
            found.append(node.lineno)
    return found


def text_judgements(module: ast.Module) -> list[int]:
    """Lines that test an exception's text: ``"..." in str(exc)`` (or ``repr(exc)``, ``exc.args``,
    ``exc.message``) where ``exc`` is bound by an ``except ... as exc``."""
    caught = {h.name for h in ast.walk(module) if isinstance(h, ast.ExceptHandler) and h.name}
    found = []
    for node in ast.walk(module):
        if not isinstance(node, ast.Compare) or not any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            continue
        names = {n.id for side in node.comparators for n in ast.walk(side) if isinstance(n, ast.Name)}
        if names & caught:
            found.append(node.lineno)
    return found


def fetches(module: ast.Module) -> list[int]:
    """Lines that import the fetcher (the publisher fetches images and hands over their bytes)."""
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        if any(m == "bot.fetch" or m.startswith("bot.fetch.") for m in modules):
            found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: p.name)
def test_adapters_never_sleep(path: Path) -> None:
    assert sleeps(tree(path)) == [], f"{path.name} sleeps: waiting is the publisher's job (raise MediaPending)"


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: p.name)
def test_adapters_never_judge_an_error_by_its_text(path: Path) -> None:
    assert text_judgements(tree(path)) == [], f"{path.name} reads an exception's text: use its type/attributes"


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: p.name)
def test_adapters_never_fetch(path: Path) -> None:
    assert fetches(tree(path)) == [], f"{path.name} fetches: the publisher hands it ImageData"


def test_the_checks_catch_what_they_forbid() -> None:
    """Each check finds its pattern in a sample (so an empty result above means something)."""
    sample = ast.parse(
        "import time\nfrom time import sleep\nfrom bot.fetch import fetch\n"
        "def f():\n"
        "    try:\n        pass\n"
        "    except OSError as exc:\n"
        "        if '-byte limit' in str(exc):\n            time.sleep(1)\n"
        "        if 'x' not in exc.args:\n            sleep(2)\n"
    )
    assert sleeps(sample) == [2, 9, 11]
    assert text_judgements(sample) == [8, 10]
    assert fetches(sample) == [3]
