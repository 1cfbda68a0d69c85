"""The article's language: the source's when it names one, else detected (13 languages), never for
short or mixed text; sent as Bluesky ``langs`` and Mastodon ``language`` and shown in the dry run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from bot.article import Article
from bot.language import detect_language, with_language
from bot.publish import PUBLISHED
from bot.sandbox import Sandbox
from tests.conftest import ROOT
from tests.test_publish import Rig, rig  # noqa: F401  (rig: a fixture)

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "languages" / "articles.json").read_text("utf-8"))


def _article(entry: dict[str, str], n: int) -> Article:
    return Article(title=entry["title"], summary=entry["summary"], body=entry["summary"],
                   url=f"https://blog.example.com/{entry['lang']}/{n}")


@pytest.mark.parametrize("entry", FIXTURES, ids=[e["lang"] for e in FIXTURES])
def test_language_is_detected_from_title_and_summary(entry: dict[str, str]) -> None:
    """Each fixture's language comes out of title + summary."""
    assert with_language(_article(entry, 0)).lang == entry["lang"]


@pytest.mark.parametrize(
    "text",
    [
        "Hello world today",
        "Bonjour mon ami",
        "Neues Release 2.0",
        "This is an English sentence about software. Das ist aber ein deutscher Satz über Software.",
        "Nous avons publié la version deux. We published version two of the tool today.",
    ],
)
def test_short_or_mixed_text_gets_no_language(text: str) -> None:
    """Three words, or two languages in one text: no language rather than a wrong one."""
    assert detect_language(text) is None


def test_the_source_language_wins_and_skips_detection() -> None:
    """A declared language is kept as it is, even when the text reads otherwise."""
    article = replace_lang(_article(FIXTURES[1], 0), "fr-CA")
    assert with_language(article).lang == "fr-CA"


def replace_lang(article: Article, lang: str) -> Article:
    from dataclasses import replace

    return replace(article, lang=lang)


def _mastodon_language(body: bytes) -> Any:
    try:
        return json.loads(body).get("language")
    except ValueError:
        return (parse_qs(body.decode()).get("language") or [None])[0]


def test_detected_language_goes_over_the_wire(rig: Rig) -> None:  # noqa: F811
    """Bluesky records carry ``langs`` and Mastodon statuses ``language`` for every fixture language."""
    for n, entry in enumerate(FIXTURES):
        results = rig.publish(_article(entry, n), ("bluesky", "mastodon"))
        assert {r.status for r in results} == {PUBLISHED}, results
    records = [r.json()["record"] for r in rig.sandbox.app.received("bluesky.repo.putRecord")]
    statuses = [_mastodon_language(r.body) for r in rig.sandbox.app.received("mastodon.statuses.create")]
    expected = [e["lang"] for e in FIXTURES]
    assert [r.get("langs") for r in records] == [[lang] for lang in expected]
    assert statuses == expected


def test_no_language_is_sent_for_a_three_word_title(rig: Rig) -> None:  # noqa: F811
    """Nothing to go on: no ``langs`` and no ``language`` on the wire."""
    rig.publish(Article(title="Release notes 2.0", url="https://blog.example.com/r"), ("bluesky", "mastodon"))
    record = rig.sandbox.app.received("bluesky.repo.putRecord")[0].json()["record"]
    assert "langs" not in record
    assert _mastodon_language(rig.sandbox.app.received("mastodon.statuses.create")[0].body) in (None, "")


def test_dry_run_json_shows_the_detected_language(sandbox: Sandbox, tmp_path: Path) -> None:
    """`crosspost ARTICLE --dry-run --json` says the language it would send."""
    entry = next(e for e in FIXTURES if e["lang"] == "de")
    path = tmp_path / "artikel.json"
    path.write_text(json.dumps({"title": entry["title"], "summary": entry["summary"],
                                "url": "https://blog.example.com/de/1"}), "utf-8")
    done = subprocess.run([sys.executable, "-m", "bot.cli", str(path), "--dry-run", "--json"], cwd=ROOT,
                          capture_output=True, text=True, env={**sandbox.env(), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["article"]["lang"] == "de"
