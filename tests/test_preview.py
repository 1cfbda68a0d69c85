"""``crosspost preview``: the page shows the dry run's posts and counts, styled per platform, and never lets
article text become HTML."""

from __future__ import annotations

import json
import os
import re
from html import unescape
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from bot.cli import main

HOSTILE = """---
title: 'Hello <script>alert(1)</script> & <img src=x onerror=alert(2)>'
url: https://blog.example.com/p/hostile
tags: [Security, "<b>bold</b>"]
---
A summary with </div><script>alert(3)</script> and a #Security note.
"""

LONG = """---
title: A long look at partnership changes between two large companies
url: https://blog.example.com/2026/partnership
tags: [Microsoft, OpenAI, ArtificialIntelligence, CloudComputing, MachineLearning, Partnerships, Azure,
       Antitrust, Regulation, Startups, Investment, Technology]
image: https://blog.example.com/cover.png
image_alt: Two logos side by side
---
Microsoft and OpenAI amended their partnership. The exclusivity clause is gone, and OpenAI may now run on other
clouds. This changes the market for AI infrastructure in ways analysts are still counting.

The decision was announced on Monday. Both firms said the change was mutual.

Analysts expect other cloud providers to court OpenAI quickly, and regulators to watch closely.
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("X_", "BLUESKY_", "MASTODON_", "CROSSPOST_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")


def _page(tmp_path: Path, source: str, *extra: str) -> BeautifulSoup:
    article = tmp_path / "post.md"
    article.write_text(source, encoding="utf-8")
    out = tmp_path / "preview.html"
    assert main(["preview", str(article), "-o", str(out), *extra]) == 0
    return BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")


def _texts(html: str) -> list[str]:
    """The posts' texts as a browser reads them (BeautifulSoup folds whitespace-only runs between tags)."""
    return [unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r'<div class="text">(.*?)</div>', html, re.S)]


def _dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    capsys.readouterr()
    assert main([str(tmp_path / "post.md"), "--dry-run", "--json", *extra]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


@pytest.mark.parametrize("thread", [False, True])
def test_counts_and_texts_equal_the_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], thread: bool) -> None:
    flags = ["--thread"] if thread else []
    page = _page(tmp_path, LONG, *flags)
    plan = _dry_run(tmp_path, capsys, *flags)
    sections = page.select("section.target")
    assert [s["data-platform"] for s in sections] == [p["platform"] for p in plan["platforms"]]  # type: ignore[index]
    for section, target in zip(sections, plan["platforms"], strict=True):  # type: ignore[call-overload]
        counts = [c.get_text(strip=True) for c in section.select("[data-count]")]
        assert counts == [f"{p['length']} / {target['limit']}" for p in target["posts"]]
        assert [a["data-part"] for a in section.select("article.post")] == [
            str(i) for i in range(1, len(target["posts"]) + 1)]
        if thread:
            assert len(target["posts"]) > 1
        if target["platform"] == "bluesky":  # the text is the record's text, character for character
            raw = (tmp_path / "preview.html").read_text(encoding="utf-8")
            raw = raw[raw.index('<section class="target bluesky"'):]
            assert _texts(raw[: raw.index("</section>")]) == [p["text"] for p in target["posts"]]


def test_link_card_hashtags_and_what_was_dropped(tmp_path: Path) -> None:
    page = _page(tmp_path, LONG)
    bluesky = page.select_one("section.bluesky")
    assert bluesky is not None
    card = bluesky.select_one("[data-card]")
    assert card is not None and "A long look at partnership" in card.get_text()
    assert card.select_one(".thumb")["aria-label"] == "Two logos side by side"  # type: ignore[index]
    assert bluesky.select_one("[data-record-tags]") is not None  # twelve tags: the rest go to the record
    x = page.select_one("section.x")
    assert x is not None
    assert x.select("a.tag") and all(t.get_text().startswith("#") for t in x.select("a.tag"))
    dropped = x.select_one("[data-dropped]")
    assert dropped is not None and "#Technology" in dropped.get_text()
    link = x.select_one("a.link")
    assert link is not None and link["href"] == "https://blog.example.com/2026/partnership"
    assert not link.get_text().startswith("https://")  # shown the way X shows it


def test_hostile_article_text_stays_text(tmp_path: Path) -> None:
    page = _page(tmp_path, HOSTILE)
    assert page.find("script") is None
    assert page.find("img") is None and page.find("b") is None


def test_autoescape_holds_for_text_no_loader_cleaned() -> None:
    """The loaders strip markup; the page must not rely on that: an Article straight from a JSON job."""
    from bot.article import Article
    from bot.compose import ComposeOptions, compose
    from bot.web.preview import render_page

    evil = Article(title="T <script>alert(1)</script>", url="https://blog.example.com/p?a=1&b=<x>",
                   summary="S </div><img src=x onerror=alert(2)> \"quoted\"", tags=("Tag",),
                   image="https://blog.example.com/i.png", image_alt='"><script>alert(4)</script>')
    targets = [(p, "default", ComposeOptions(image=True)) for p in ("x", "bluesky", "mastodon")]
    html = render_page(compose(evil, targets))
    page = BeautifulSoup(html, "html.parser")
    assert page.find("script") is None and page.find("img") is None
    assert "<script>alert(1)</script>" in page.select_one("h1").get_text()  # type: ignore[union-attr]
    assert any("</div><img src=x onerror=alert(2)>" in t.get_text() for t in page.select(".text"))
    assert page.select_one(".card .thumb")["aria-label"] == '"><script>alert(4)</script>'  # type: ignore[index]


def test_needs_no_network_to_view(tmp_path: Path) -> None:
    raw = _page(tmp_path, LONG).decode()
    assert "<link" not in raw and "src=" not in raw and "<script" not in raw and "url(" not in raw


def test_bad_output_path_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = tmp_path / "post.md"
    article.write_text(LONG, encoding="utf-8")
    assert main(["preview", str(article), "-o", str(tmp_path / "missing" / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: crosspost preview: -o/--output") and "does not exist" in err and err.count("\n") == 1
