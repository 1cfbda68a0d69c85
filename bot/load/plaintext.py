"""Plain text: an optional title line, paragraphs, a trailing hashtag line, a references section.

Paragraphs may be separated by blank lines (and then hard-wrapped lines are joined) or written one per
line, as in ``../shared/samples/microsoft-openai.txt``. A title is a short first line without
sentence-ending punctuation that is followed by a blank line or by a longer line; the sample's first
line is its lead paragraph, not a title.
"""

from __future__ import annotations

import re

from bot.article import Article
from bot.load.common import (
    Block,
    block_text,
    body_from_blocks,
    clean_tags,
    inline_text,
    is_special_line,
    lead_paragraph,
    line_kind,
    tidy_blocks,
)

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•–—▪◦]\s+|\d{1,3}[.)]\s+)")
_TITLE_MAX_CHARS = 150
_TITLE_MAX_WORDS = 25
_WRAP_WIDTH = 100  # hard-wrapped text keeps its lines shorter than this (72-80 is usual)


def _is_title(first: str, following: str, has_more: bool) -> bool:
    """Whether the first line reads as a title (see the module docstring)."""
    line = first.strip()
    if not has_more or len(line) > _TITLE_MAX_CHARS or len(line.split()) > _TITLE_MAX_WORDS:
        return False
    if is_special_line(line) or _LIST_ITEM.match(line):
        return False
    if not following.strip():
        # A blank line after it: a question or exclamation can still be a title.
        return not line.endswith((".", ",", ";", ":", "…"))
    if line.endswith((".", "!", "?", ",", ";", ":", "…")):
        return False
    return len(following.strip()) > len(line)


def _split_runs(lines: list[str]) -> list[Block]:
    """Turn one blank-line-delimited group into blocks: list runs, special lines, paragraphs."""
    blocks: list[Block] = []
    run: list[str] = []
    items: list[str] = []

    def flush_run() -> None:
        if not run:
            return
        body = run[:-1]
        wrapped = (
            len(run) > 1
            and all(len(line) <= _WRAP_WIDTH for line in run)
            and sum(line.rstrip().endswith((".", "!", "?", "…", '"', "”")) for line in body) * 2 < len(body)
        )
        if wrapped:
            blocks.append(Block("para", inline_text(" ".join(run))))
        else:
            blocks.extend(Block("para", inline_text(line)) for line in run)
        run.clear()

    def flush_items() -> None:
        if items:
            blocks.append(Block("list", block_text("\n".join(items))))
            items.clear()

    for line in lines:
        if _LIST_ITEM.match(line):
            flush_run()
            items.append(line.strip())
        elif is_special_line(line):
            flush_run()
            flush_items()
            blocks.append(Block("para", line.strip()))
        elif items and line[:1].isspace():
            items[-1] += " " + line.strip()  # an indented continuation of a list item
        else:
            flush_items()
            run.append(line.strip())
    flush_run()
    flush_items()
    return blocks


def text_blocks(lines: list[str]) -> list[Block]:
    """Blocks of plain-text lines: blank lines separate groups, each group split by :func:`_split_runs`."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [block for group in groups if group for block in _split_runs(group)]


def parse_text(text: str, *, origin: str) -> Article:
    """Build an Article from plain text (already decoded, newlines normalised)."""
    lines = [line.rstrip() for line in text.split("\n")]
    canonical: str | None = None
    while lines:  # drop leading blank lines and take a "Canonical: https://…" line above the title
        kind = line_kind(lines[0])
        if lines[0].strip() and (kind is None or kind[0] != "meta"):
            break
        lines.pop(0)
        canonical = canonical or (kind[1] if kind else None)
    title = ""
    if lines:
        first = lines[0]
        following = lines[1] if len(lines) > 1 else ""
        has_more = any(line.strip() for line in lines[1:])
        heading = first.lstrip()
        if heading.startswith("# "):  # a Markdown-style heading in a .txt file is meant as the title
            title, lines = heading[2:], lines[1:]
        elif _is_title(first, following, has_more):
            title, lines = first, lines[1:]

    tidied = tidy_blocks(text_blocks(lines))
    return Article(
        title=inline_text(title),
        url=canonical or tidied.canonical,
        summary=lead_paragraph(tidied.blocks),
        body=body_from_blocks(tidied.blocks),
        tags=clean_tags(tidied.hashtags),
        extra={"format": "text", "origin": origin},
    )
