"""``crosspost preview ARTICLE``: one self-contained HTML page showing each target's posts as the platform
shows them — handle, text with links shortened and hashtags/mentions styled, the Bluesky link card,
thread parts in order, images with their alt text, the length against the limit, and what was dropped.

The page is built from the same :func:`bot.planning.dry_run_plan` the dry run prints, so the counts on
it are the dry run's counts. It needs no network to view: inline CSS, no script, and remote images are
not fetched (a box with the alt text stands in for them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import regex

from bot import platforms
from bot.compose import Plan, PlannedPost, PlatformPlan, article_hashtags
from bot.config import Settings
from bot.web import environment

_HASHTAG = regex.compile(r"(?<![\w&#＃])[#＃][\p{L}\p{M}\p{N}_]+")
_MENTION = regex.compile(r"(?<![\w@＠])[@＠][\w.-]+(?:@[\w.-]+\.\w+)?")


@dataclass(frozen=True)
class Segment:
    """A run of post text: plain, a link (``href`` is the full URL), a hashtag or a mention."""

    kind: str  # text | link | tag | mention
    text: str
    href: str = ""


@dataclass
class PostView:
    segments: list[Segment]
    length: int
    limit: int
    index: int
    total: int
    card: dict[str, Any] | None = None
    image_alt: str | None = None
    record_tags: tuple[str, ...] = ()

    @property
    def over(self) -> bool:
        return self.length > self.limit


@dataclass
class TargetView:
    platform: str
    label: str
    account: str
    handle: str
    unit: str
    limit: int
    limit_source: str | None
    posts: list[PostView] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _display_url(url: str, keep: int) -> str:
    """A link as most platforms show it: no scheme (nor ``www.``), cut to ``keep`` characters with "…"."""
    shown = str(regex.sub(r"^https?://(www\.)?", "", url))
    return shown if len(shown) <= keep else shown[:keep] + "…"


def _spans_for(platform: str, post_text: str) -> list[tuple[int, int, str]]:
    urls = platforms.get(platform).link_spans(post_text)
    spans = [(s, e, "link") for s, e in urls]
    taken = [(s, e) for s, e, _ in spans]

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for pattern, kind in ((_HASHTAG, "tag"), (_MENTION, "mention")):
        for m in pattern.finditer(post_text):
            if free(m.start(), m.end()):
                spans.append((m.start(), m.end(), kind))
                taken.append((m.start(), m.end()))
    return sorted(spans)


def segments(platform: str, post: PlannedPost) -> list[Segment]:
    """The post's text cut into styled runs, the way ``platform`` links it."""
    if platforms.get(platform).shortens_links:  # the facets say exactly what is a link, tag or mention
        data = post.text.encode("utf-8")
        out: list[Segment] = []
        pos = 0
        for facet in sorted(post.facets, key=lambda f: f["index"]["byteStart"]):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            if start < pos:
                continue
            feature = facet["features"][0]
            kind = {"link": "link", "tag": "tag", "mention": "mention"}.get(feature["$type"].rsplit("#", 1)[-1], "text")
            if start > pos:
                out.append(Segment("text", data[pos:start].decode("utf-8", "replace")))
            out.append(Segment(kind, data[start:end].decode("utf-8", "replace"), feature.get("uri", "")))
            pos = end
        if pos < len(data):
            out.append(Segment("text", data[pos:].decode("utf-8", "replace")))
        return out
    out = []
    pos = 0
    for start, end, kind in _spans_for(platform, post.text):
        if start > pos:
            out.append(Segment("text", post.text[pos:start]))
        raw = post.text[start:end]
        if kind == "link":
            href = raw if raw.startswith(("http://", "https://")) else "https://" + raw
            out.append(Segment("link", _display_url(raw, platforms.get(platform).display_url_length), href))
        else:
            out.append(Segment(kind, raw))
        pos = end
    if pos < len(post.text):
        out.append(Segment("text", post.text[pos:]))
    return out


def _handle(platform: str, account: str, settings: Settings | None) -> str:
    for a in settings.accounts if settings else ():
        if a.platform == platform and a.account == account:
            rules = platforms.get(platform)
            handle = next((a.credentials[k] for k in rules.public_credentials if a.credentials.get(k)), "")
            if handle:
                return f"@{handle}"
            if not rules.default_base_url and a.base_url:  # an account of its own server: @name@server
                return f"@{account}@{urlsplit(a.base_url).hostname}"
    return f"@{account}"


def view(plan: Plan, settings: Settings | None = None) -> list[TargetView]:
    """What the template shows, per target, in the Plan's order."""
    article = plan.article
    wanted = article_hashtags(article.tags)
    targets: list[TargetView] = []
    for pp in plan.platforms:
        rules = platforms.get(pp.platform)
        image = settings.options_for(pp.platform, pp.account).image if settings else False
        target = TargetView(pp.platform, rules.label, pp.account, _handle(pp.platform, pp.account, settings),
                            pp.unit or rules.unit, pp.limit, pp.limit_source)
        for i, post in enumerate(pp.posts):
            card = asdict(post.card) if post.card else None
            if card is not None:
                card["domain"] = urlsplit(card["uri"]).hostname or ""
                card["thumb"] = bool(post.card.thumb_url) if post.card else False
                card["thumb_alt"] = article.image_alt or article.title or "link card image"
            target.posts.append(PostView(
                segments(pp.platform, post), post.length, pp.limit, i + 1, len(pp.posts), card,
                (article.image_alt or "image without a description") if (image and i == 0 and article.image)
                else None,
                post.tags,
            ))
        target.dropped = dropped_hashtags(pp, wanted)
        targets.append(target)
    return targets


def dropped_hashtags(pp: PlatformPlan, wanted: Sequence[str]) -> list[str]:
    """The article's hashtags that are in none of the target's posts nor in its record tags."""
    from bot import text

    present = {text.hashtag_key(m.group(0)[1:]) for post in pp.posts for m in _HASHTAG.finditer(post.text)}
    present |= {text.hashtag_key(t) for post in pp.posts for t in post.tags}
    return [f"#{t}" for t in wanted if text.hashtag_key(t) not in present]


def render_page(plan: Plan, settings: Settings | None = None) -> str:
    """The whole self-contained page."""
    page: str = environment().get_template("preview.html").render(article=plan.article,
                                                                   targets=view(plan, settings))
    return page


# --- the command ------------------------------------------------------------------------------------


PREVIEW_EXAMPLES = f"""\
examples:
  crosspost preview post.md --open                  write crosspost-preview.html and open it
  crosspost preview post.md -o - > preview.html     the page on stdout
  crosspost preview article.txt --url https://blog.example.com/p/1 --platform {platforms.names()[-1]} --thread
"""


def preview_parser() -> argparse.ArgumentParser:
    from bot import cliargs

    p = cliargs.Parser(prog="crosspost preview", epilog=PREVIEW_EXAMPLES,
                       description="Write one HTML page showing each platform's posts as that platform shows them "
                       "(the same posts and counts as --dry-run). Needs no network to view.")
    p.add_argument("article", type=cliargs.ARTICLE,
                   help="a file (.txt .md .html .json), an http(s) URL, or - for stdin")
    p.add_argument("-o", "--output", type=cliargs.OUTPUT, metavar="FILE",
                   help="where to write the page (default: crosspost-preview.html; - for stdout)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    cliargs.add_composition_options(p)
    return p


def preview(argv: Sequence[str]) -> int:
    """``crosspost preview ARTICLE [--open] [-o FILE]``: the same checks as a dry run, then the page."""
    from bot.cli import load_input
    from bot.cliargs import UsageError
    from bot.config import load_settings
    from bot.planning import dry_run_plan
    from bot.policy import check_option_url, check_publishable

    options = preview_parser().parse_args(argv)
    chosen = options.platform or platforms.names()
    settings = load_settings(config_file=options.config, templates_dir=options.templates)
    check_option_url(options.url)
    article = load_input(options, allow_private=settings.allow_private_network, timeout=settings.timeout)
    check_publishable(article, allow_draft=True, origin=options.article)  # a preview posts nothing
    page = render_page(dry_run_plan(article, settings, chosen, thread=options.thread), settings)
    if options.output == "-":
        sys.stdout.write(page)
        return 0
    out = Path(options.output or "crosspost-preview.html")
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"preview written to {out}")
    if options.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0
