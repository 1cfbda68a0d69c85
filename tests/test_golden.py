"""Golden dry runs: speed-ups must not change a single character of what crosspost would post.

Two kinds of golden file under tests/golden/, both generated from the code as it was before the
performance work (issue 12) and compared byte for byte:

* ``<fixture>.json`` -- ``crosspost FIXTURE --dry-run --json`` (and ``--thread``) for every fixture
  article and examples/launch-post.md, run in-process exactly as the command line does;
* ``corpus.jsonl`` -- the plan (text, length, facets, card) for the first seeds of the hostile corpus
  (tests/corpus/generate.py), every platform, single post and thread.

A deliberate change of output (a composer fix) regenerates them: ``CROSSPOST_UPDATE_GOLDEN=1
.venv/bin/python -m pytest tests/test_golden.py``, then review ``git diff tests/golden``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot import cli, platforms
from bot.compose import ComposeOptions, compose
from bot.errors import CrosspostError
from bot.load import parse_article
from tests.conftest import FIXTURES, ROOT
from tests.corpus.generate import generate

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("CROSSPOST_UPDATE_GOLDEN", "").strip() not in ("", "0")
ARTICLES = [*sorted((FIXTURES / "articles").iterdir()), ROOT / "examples" / "launch-post.md"]
NO_LINK = "https://blog.example.com/golden/"  # for fixtures without a canonical link of their own
CORPUS_SEEDS = range(100)
TARGETS = [(p, "default", ComposeOptions(thread=t)) for p in platforms.names() for t in (False, True)]


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run with CROSSPOST_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (CROSSPOST_UPDATE_GOLDEN=1 regenerates)"


@pytest.mark.parametrize("article", ARTICLES, ids=lambda p: p.name)
def test_dry_run_json_matches_golden(article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`crosspost ARTICLE --dry-run --json` (single posts and thread) prints what it printed before."""
    monkeypatch.chdir(tmp_path)  # no crosspost.toml of the checkout's
    for key in list(os.environ):
        if key.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_")) and key != "CROSSPOST_UPDATE_GOLDEN":
            monkeypatch.delenv(key)
    runs: dict[str, Any] = {}
    for label, extra in (("single", []), ("thread", ["--thread"])):
        argv = [str(article), "--dry-run", "--json", *extra]
        code = cli.main(argv)
        out = capsys.readouterr().out
        if code == 2 and "no canonical link" in out:
            code = cli.main([*argv, "--url", NO_LINK])
            out = capsys.readouterr().out
        runs[label] = {"exit": code, "output": json.loads(out)}
    _compare(f"{article.name}.json", json.dumps(runs, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def _corpus_plan(seed: int) -> dict[str, Any]:
    item = generate(seed)
    try:
        article = parse_article(item.data, origin=item.origin)
        if item.fmt == "text":
            article = article.with_overrides(url=item.spec.url, extra_tags=item.spec.tags)
        plan = compose(article, TARGETS)
    except CrosspostError as exc:
        return {"seed": seed, "error": type(exc).__name__}
    return {"seed": seed, "plan": plan.to_json()}


def test_corpus_plans_match_golden() -> None:
    """The hostile corpus's first seeds compose to exactly the same posts, facets and cards as before."""
    plans = [_corpus_plan(seed) for seed in CORPUS_SEEDS]
    lines = (json.dumps(plan, ensure_ascii=False, sort_keys=True) for plan in plans)  # one line per seed
    _compare("corpus.jsonl", "".join(line + "\n" for line in lines))
