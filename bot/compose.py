"""Article + templates + platform rules -> a Plan of fitted posts. Pure: no I/O besides reading templates.

The fitter renders the platform's template and shortens, in this order, until the platform's own
measure fits: the summary (at a sentence, then at a word with "…"), then the hashtags (from the last;
a post never keeps hashtags while its summary is gone), then the summary altogether, then the title
(at a word with "…"). The canonical link is never cut, and a hashtag is kept whole or dropped whole.
Every link any platform's detector sees in the text is kept whole or cut away whole, never has "…"
glued to it, and is never split across the parts of a thread. A hashtag the title or summary already
writes (in any case or width: ``＃Python``, ``#AI`` for the tag ``ai``) is not appended again. A
mention written for another network is made inert (:mod:`bot.mentions`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import regex

from adapters.base import LinkCard
from bot import mentions, platforms, text
from bot.article import Article
from bot.errors import ConfigError, InputError
from bot.policy import validate_canonical_url

ELLIPSIS = "…"
LINK_POLICIES = ("always", "omit", "reply")

_SENTENCE_END = regex.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+|(?<=[。！？])")
_BLOCK_SPLIT = regex.compile(r"\n[ \t]*\n")
_GRAPHEME = regex.compile(r"\X")
_ATOMIC = regex.compile(r"^(?:https?://|www\.|[#$@])", regex.IGNORECASE)
# What "…" should not follow: the `regex` module's \s (Unicode White_Space) and some punctuation.
# str.rstrip of these characters is the same as removing r"[\s,;:–—\-(\[/]+$" (tests/test_perf.py).
UNICODE_WHITE_SPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                       "\u2028\u2029\u202f\u205f\u3000")
_TRAILING_PUNCT = UNICODE_WHITE_SPACE + ",;:–—-([/"
_ASCII_WHITE_SPACE = "\t\n\x0b\x0c\r "  # white space to every platform's link detector (not U+0085: JS \S)
_WORD = regex.compile(r"\S+")
_SPACE_RUN = regex.compile(r"\s+")


@dataclass(frozen=True)
class ComposeOptions:
    """How posts are composed for one platform account (from crosspost.toml, flags and the instance)."""

    link: str = "always"  # always | omit | reply (the link goes in a first reply)
    utm: tuple[tuple[str, str], ...] = ()  # e.g. (("utm_source", "mastodon"),)
    max_hashtags: int = 5
    inline_hashtags: bool = True  # "#OpenAI" in the summary instead of repeating it at the end
    thread: bool = False
    max_parts: int = 10
    limit: int | None = None  # the account's own limit (Mastodon instance), else the platform's
    url_weight: int | None = None
    image: bool = False  # attach the article's image (X, Mastodon); Bluesky uses it as the card's thumbnail
    counting: str | None = None  # a server software's counting rule (bot.fediverse.SERVER_RULES), if known
    limit_source: str | None = None  # where ``limit`` came from, said in the dry run and JSON
    software: str | None = None  # the server software and version the limit is for

    def __post_init__(self) -> None:
        if self.link not in LINK_POLICIES:
            raise ConfigError(f"link policy {self.link!r} is not one of {', '.join(LINK_POLICIES)}")
        if self.max_parts < 1:
            raise ConfigError(f"max_parts must be at least 1, not {self.max_parts}")


@dataclass(frozen=True)
class PlannedPost:
    """One post as it will be sent: its text, its length by the platform's measure, and Bluesky extras."""

    text: str
    length: int
    facets: tuple[dict[str, Any], ...] = ()
    card: LinkCard | None = None  # the link card, where the platform's record carries one (Platform.card)
    tags: tuple[str, ...] = ()  # record tags (hashtags that did not fit in the text)
    safe_length: int | None = None  # what the fitter kept within the limit, when it counts more than the platform

    def to_json(self, rules: platforms.Platform) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "length": self.length}
        if self.safe_length is not None:
            data["safe_length"] = self.safe_length
        if rules.shortens_links or self.facets:
            data["facets"] = list(self.facets)
        if self.card is not None and rules.card is not None:
            data["embed"] = rules.card(self.card.uri, self.card.title, self.card.description)
        if self.tags:
            data["tags"] = list(self.tags)
        return data


@dataclass(frozen=True)
class PlatformPlan:
    platform: str
    account: str
    limit: int
    posts: tuple[PlannedPost, ...]
    limit_source: str | None = None  # e.g. "takahe 0.11, announced" (servers that announce their own)
    software: str | None = None
    unit: str | None = None  # when the server counts in another unit than the platform's default

    def to_json(self) -> dict[str, Any]:
        rules = platforms.get(self.platform)
        data: dict[str, Any] = {
            "platform": self.platform,
            "account": self.account,
            "limit": self.limit,
        }
        if self.limit_source is not None:
            data.update(limit_source=self.limit_source, software=self.software, unit=self.unit)
        data["posts"] = [p.to_json(rules) for p in self.posts]
        return data


@dataclass(frozen=True)
class Plan:
    article: Article
    platforms: tuple[PlatformPlan, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        a = self.article
        return {
            "article": {"title": a.title, "url": a.url, "tags": list(a.tags), "lang": a.lang},
            "platforms": [p.to_json() for p in self.platforms],
        }


# --- templates ------------------------------------------------------------------------------------


@functools.cache
def default_templates_dir() -> Path:
    """``templates/`` of the checkout, or the copy shipped inside the wheel (looked up once per process)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the post templates are missing from this installation (templates/*.j2)")


@functools.lru_cache(maxsize=16)
def _environment(templates_dir: str) -> Any:
    """One Jinja environment per templates directory, for the whole process.

    Its bytecode cache (Jinja's own, in the user's temporary directory, keyed by each template's
    source) lets a new process skip lexing, parsing and compiling the templates: most of a dry run's
    template cost. Without a usable cache directory, templates are simply compiled each time.
    """
    import jinja2

    try:
        cache: jinja2.BytecodeCache | None = jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        cache = None
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir), bytecode_cache=cache, autoescape=False,
        keep_trailing_newline=False, undefined=jinja2.StrictUndefined, auto_reload=False,
    )


@functools.lru_cache(maxsize=16)
def _template(templates_dir: str, platform: str) -> Callable[..., str]:
    import jinja2

    path = Path(templates_dir) / f"{platform}.j2"
    shipped = platforms.get(platform).template if platforms.is_platform(platform) else None
    if not path.is_file() and shipped is not None and templates_dir == str(default_templates_dir()):
        path = Path(shipped)  # a platform registered from outside ships its own default template
    if not path.is_file():
        raise ConfigError(f"no template {path}: a templates directory needs {platform}.j2")
    try:
        template = _environment(str(path.parent)).get_template(path.name)
    except (jinja2.TemplateSyntaxError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", "?")
        raise ConfigError(f"template {path} line {line}: {exc}") from None
    return _fast_render(template)


def _fast_render(template: Any) -> Callable[..., str]:
    """``template.render``, with the template's globals copied once rather than at every call.

    Template.render builds each context from a ChainMap of the globals and the variables; the
    fitter renders a template a few times per platform and article, so that copy was a tenth of
    composing. Same context contents, same output; an error raises as from ``render``.
    """
    env = template.environment
    globals_ = dict(template.globals)

    def render(**fields: Any) -> str:
        context = template.new_context({**globals_, **fields}, shared=True)
        try:
            return str(env.concat(template.root_render_func(context)))
        except Exception:
            return str(env.handle_exception())

    return render


def _render(render: Callable[..., str], **fields: Any) -> str:
    try:
        raw = render(**fields)
    except Exception as exc:  # a user's template can fail in many ways: one line, no traceback
        raise ConfigError(f"template failed to render: {exc}") from None
    blocks = (b.strip() for b in _BLOCK_SPLIT.split(raw.replace("\r\n", "\n")))
    lines = ("\n".join(line.rstrip() for line in b.splitlines()) for b in blocks if b)
    return "\n\n".join(lines)


# --- text cutting ---------------------------------------------------------------------------------


def sentences(paragraph: str) -> list[str]:
    """Split at sentence ends (., !, ?, …, CJK full stops), keeping the punctuation."""
    parts = [s.strip() for s in _SENTENCE_END.split(paragraph)]
    return [s for s in parts if s]


def _cut_points(value: str) -> list[int]:
    """Offsets where ``value`` may be cut: word ends; inside very long non-atomic words, grapheme ends.

    Never inside a link any platform sees (:func:`bot.text.url_spans`): bare, in parentheses or
    followed by punctuation, a link is one unit.
    """
    points: list[int] = []
    for m in _WORD.finditer(value):
        word = m.group()
        if len(word) > 24 and not _ATOMIC.match(word):
            offset = m.start()
            for g in _GRAPHEME.finditer(word):
                points.append(offset + g.end())
        else:
            points.append(m.end())
    spans = text.url_spans(value)
    if spans:
        points = [p for p in points if not any(start < p < end for start, end in spans)]
    return points


def _ellipsis_head(value: str, point: int) -> str:
    """``value`` cut at ``point`` without the punctuation and spaces "…" should not follow."""
    return value[:point].rstrip(_TRAILING_PUNCT)


def _ends_in_ellipsis(head: str) -> bool:
    return head.endswith((ELLIPSIS, "..."))


def _glued_to_link(head: str) -> bool:
    """True when "…" after ``head`` would touch a link (Bluesky would make it part of the link).

    Only the text from the last ASCII white space before the last 4 characters on is looked at: no
    platform's link runs across one (X's and Bluesky's stop at any white space, Mastodon's windows
    at ASCII white space), so every link ending within 3 characters of the end is found there, and a
    long summary's cut points no longer cost a search of the whole head each (tests/test_perf.py).
    """
    before = max(0, len(head) - 4)  # a link may end up to 3 characters before the end (a "..." after it)
    cut = max(head.rfind(space, 0, before) for space in _ASCII_WHITE_SPACE)
    if cut > 0:
        head = head[cut:]
    if _ends_in_ellipsis(head):
        return any(end >= len(head) - 3 for _, end in text.url_spans(head))
    return any(end >= len(head) for _, end in text.url_spans(head + ELLIPSIS))


def ellipsis_points(value: str) -> list[int]:
    """The cut points of ``value`` after which "…" may go: none right after (or inside) a link."""
    return list(_ellipsis_points(value))


@functools.lru_cache(maxsize=64)  # one article's platforms share it; small, so a batch gains nothing across articles
def _ellipsis_points(value: str) -> tuple[int, ...]:
    """:func:`ellipsis_points`, kept: the fitter asks for the same summary's points many times."""
    points = _cut_points(value)
    if not text.url_spans(value):
        return tuple(points)
    last = len(value)
    return tuple(p for p in points if p >= last or not _glued_to_link(_ellipsis_head(value, p)))


@functools.lru_cache(maxsize=64)
def _sentences(paragraph: str) -> tuple[str, ...]:
    return tuple(sentences(paragraph))


def cut_with_ellipsis(value: str, keep: int, points: Sequence[int] | None = None) -> str:
    """The first ``keep`` cut points of ``value`` with "…" (``keep`` 0 gives "").

    A word that already ends in "…" or "..." gets no second one.
    """
    if keep <= 0:
        return ""
    points = points if points is not None else _ellipsis_points(value)
    if keep >= len(points):
        return value
    head = _ellipsis_head(value, points[keep - 1])
    if not head:
        return ""
    return head if _ends_in_ellipsis(head) else head + ELLIPSIS


def _longest(count: int, fits: Callable[[int], bool]) -> int:
    """The largest k in [0, count] with fits(k), assuming fits is monotone (checked by the caller)."""
    lo, hi = 0, count
    if fits(hi):
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- hashtags -------------------------------------------------------------------------------------


def article_hashtags(tags: Sequence[str]) -> list[str]:
    """The article's tags as valid hashtags (without '#'), de-duplicated case-insensitively, in order."""
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        normal = text.normalise_hashtag(tag)
        if normal is None:
            continue
        key = text.hashtag_key(normal)
        if key not in seen:
            seen.add(key)
            result.append(normal)
    return result


@functools.lru_cache(maxsize=1024)
def _word_pattern(tag: str) -> regex.Pattern[str]:
    # Whole word only, after whitespace or the start and before whitespace, the end or closing
    # punctuation: where all three platforms agree that "#word" is a hashtag and where it ends.
    return regex.compile(rf"(?<=^|\s){regex.escape(tag)}(?=$|\s|[.,;:!?]+(?:\s|$))", regex.IGNORECASE)


def _inline(summary: str, tags: Sequence[str]) -> tuple[str, list[str]]:
    """Hashtag, in place, the first word of ``summary`` equal to a tag; return the tags still to append."""
    rest: list[str] = []
    for tag in tags:
        m = _word_pattern(tag).search(summary)
        if m is None:
            rest.append(tag)
            continue
        summary = summary[: m.start()] + "#" + summary[m.start():]
    return summary, rest


# --- links ----------------------------------------------------------------------------------------


def with_utm(url: str, utm: Sequence[tuple[str, str]]) -> str:
    """``url`` with the UTM parameters added (existing ones of the same name are replaced)."""
    if not utm:
        return url
    parts = urlsplit(url)
    names = {k for k, _ in utm}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    query.extend(utm)
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the fitter -----------------------------------------------------------------------------------


@dataclass
class _Fitter:
    """Renders candidate posts and searches for the longest that fits.

    The searches ask about the same candidate more than once (each binary search re-checks its
    answer; the hashtag search re-runs the summary search): every rendered post, every verdict and
    every fitted summary is kept for the fitter's lifetime (one platform of one article).
    """

    rules: platforms.Platform
    render: Callable[..., str]
    title: str
    link: str  # what the text shows (Bluesky: the short display form)
    inline: bool
    lang: str | None
    suffix: str = ""  # the thread's part number
    _posts: dict[tuple[str, str, tuple[str, ...]], str] = field(default_factory=dict, repr=False)
    _fits: dict[tuple[str, str, tuple[str, ...]], bool] = field(default_factory=dict, repr=False)
    _summaries: dict[tuple[str, str, tuple[str, ...]], str] = field(default_factory=dict, repr=False)

    def post(self, title: str, summary: str, tags: Sequence[str]) -> str:
        key = (title, summary, tuple(tags))
        found = self._posts.get(key)
        if found is None:
            found = self._posts[key] = self._post(title, summary, tags)
        return found

    def _post(self, title: str, summary: str, tags: Sequence[str]) -> str:
        # A tag the author already wrote as a hashtag is neither made a hashtag again in place nor appended.
        written = _written_tags(title, summary)
        if written:
            tags = [t for t in tags if text.hashtag_key(t) not in written]
        if self.inline and summary:
            summary, tags = _inline(summary, tags)
        body = _render(
            self.render,
            title=title,
            summary=summary,
            link=self.link,
            hashtags=["#" + t for t in tags],
            lang=self.lang or "",
            platform=self.rules.name,
        )
        return body + self.suffix

    def fits(self, title: str, summary: str, tags: Sequence[str]) -> bool:
        key = (title, summary, tuple(tags))
        found = self._fits.get(key)
        if found is None:
            found = self._fits[key] = self.rules.fits(self.post(title, summary, tags))
        return found

    def fit(self, summary: str, tags: list[str]) -> str:
        """Shorten the summary, then drop hashtags from the last, then the summary, then cut the title.

        The hashtags go before the last word of the summary does: a post never keeps hashtags
        while its summary is gone.
        """
        title = self.title
        if self.fits(title, summary, tags):
            return self.post(title, summary, tags)
        if summary:
            keep = _longest(len(tags), lambda k: bool(self._fit_summary(title, summary, tags[:k])))
            fitted = self._fit_summary(title, summary, tags[:keep])
            if fitted:
                return self.post(title, fitted, tags[:keep])
        elif tags:
            keep = _longest(len(tags), lambda k: self.fits(title, "", tags[:k]))
            if keep:
                return self.post(title, "", tags[:keep])
        points = _ellipsis_points(title)
        keep = _longest(len(points), lambda k: self.fits(cut_with_ellipsis(title, k, points), "", []))
        post = self.post(cut_with_ellipsis(title, keep, points), "", [])
        if not self.rules.fits(post):
            raise InputError(
                f"{self.rules.name}: the link alone is {self.rules.length(post)}/{self.rules.limit} "
                f"{self.rules.unit}: it cannot be posted whole"
            )
        return post

    def _fit_summary(self, title: str, summary: str, tags: Sequence[str]) -> str:
        key = (title, summary, tuple(tags))
        found = self._summaries.get(key)
        if found is None:
            found = self._summaries[key] = self._fit_summary_uncached(title, summary, tags)
        return found

    def _fit_summary_uncached(self, title: str, summary: str, tags: Sequence[str]) -> str:
        if not summary:
            return ""
        parts = _sentences(summary)
        if len(parts) > 1:
            keep = _longest(len(parts) - 1, lambda k: self.fits(title, " ".join(parts[:k]), tags))
            if keep:
                return " ".join(parts[:keep])
        points = _ellipsis_points(summary)
        keep = _longest(len(points), lambda k: self.fits(title, cut_with_ellipsis(summary, k, points), tags))
        return cut_with_ellipsis(summary, keep, points)


def _split_units(body: str, room: Callable[[str], bool]) -> list[str]:
    """Break ``body`` into units that each fit: paragraphs, else sentences, else words, else graphemes."""
    units: list[str] = []
    for paragraph in (p.strip() for p in _BLOCK_SPLIT.split(body)):
        if not paragraph:
            continue
        if room(paragraph):
            units.append(paragraph)
            continue
        for sentence in sentences(paragraph):
            units.extend(_split_sentence(sentence, room))
    return [u for u in units if u]


def _split_sentence(sentence: str, room: Callable[[str], bool]) -> list[str]:
    """Cut one over-long sentence at words (an atomic word longer than a post: at graphemes).

    A link longer than a whole post is left out whole: split, each part would link somewhere else.
    """
    pieces: list[str] = []
    rest = sentence
    while rest:
        points = _cut_points(rest)
        head = rest

        def fits_words(k: int, head: str = head, points: list[int] = points) -> bool:
            return k == 0 or room(head[: points[k - 1]])

        keep = max(1, _longest(len(points), fits_words))
        piece = rest[: points[keep - 1]].strip()
        if not room(piece) and text.url_spans(piece):
            rest = rest[points[keep - 1]:].strip()
            continue
        if not room(piece):
            clusters = _GRAPHEME.findall(piece)

            def fits_clusters(k: int, clusters: list[str] = clusters) -> bool:
                return k == 0 or room("".join(clusters[:k]))

            piece = "".join(clusters[: max(1, _longest(len(clusters), fits_clusters))])
        pieces.append(piece)
        rest = rest[len(piece):].strip() if rest.startswith(piece) else rest[points[keep - 1]:].strip()
    return pieces


def _pack(units: Sequence[str], fits: Callable[[str], bool]) -> list[str]:
    """Greedily join units into as few chunks as fit."""
    chunks: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current}\n\n{unit}" if current else unit
        if fits(candidate):
            current = candidate
        else:
            if current:
                chunks.append(current)
            current = unit
    if current:
        chunks.append(current)
    return chunks


def _thread_body(article: Article, summary_used: str) -> str:
    body = article.body.strip()
    paragraphs = [p.strip() for p in _BLOCK_SPLIT.split(body) if p.strip()]
    if paragraphs and summary_used and paragraphs[0] == summary_used.strip():
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)


def compose_platform(
    article: Article,
    platform: str,
    options: ComposeOptions | None = None,
    *,
    account: str = "default",
    templates_dir: Path | None = None,
) -> PlatformPlan:
    """Fit ``article`` into posts for one platform account."""
    options = options or ComposeOptions()
    rules = platforms.get(platform).with_limit(options.limit, options.url_weight)
    if options.counting:
        from bot.fediverse import with_server_rule

        rules = with_server_rule(rules, options.counting)
    render = _template(str(templates_dir or default_templates_dir()), platform)
    if options.link != "omit":
        _validated_url(article.url)
    url = with_utm(article.url, options.utm) if article.url else ""
    shown = text.shorten_url_for_display(url) if (url and rules.shortens_links) else url
    links = [(shown, url)] if rules.shortens_links and url else []

    hashtags = article_hashtags(article.tags)
    tags_for_text = hashtags[: options.max_hashtags]

    def inert(value: str) -> str:
        return mentions.defuse_mentions(value, rules.mention_kind, facets_only=rules.mention_facets)

    title = inert(_clean(article.title))
    summary = inert(_clean(article.summary))
    thread = options.thread or bool(article.thread)

    extra: list[str] = []
    if options.link == "reply":
        extra.append(_Fitter(rules, render, "", shown, False, article.lang).fit("", []))
    if thread:
        body = inert(_thread_body(article, _clean(article.summary)))
        extra.extend(_body_parts(body, rules, options.max_parts - 1 - len(extra)))
    total = 1 + len(extra)
    in_first = options.link == "always"
    fitter = _Fitter(rules, render, title, shown if in_first else "", options.inline_hashtags, article.lang,
                     suffix=_part_number(1, total))
    card_only = False  # the link is too long for the text: the first post's card carries it alone
    try:
        texts = [fitter.fit(summary, list(tags_for_text))]
    except InputError:
        if not (in_first and url and rules.card):
            raise
        # The link alone is longer than a post (a platform counting links in full): its card carries it.
        fitter = _Fitter(rules, render, title, "", options.inline_hashtags, article.lang,
                         suffix=_part_number(1, total))
        texts = [fitter.fit(summary, list(tags_for_text))]
        card_only = True
    texts.extend(t + _part_number(i, total) for i, t in enumerate(extra, 2))

    posts = []
    card = _card(article, url, summary) if rules.card and url else None
    for index, post_text in enumerate(texts):
        has_link = bool(url) and shown in post_text
        facets = tuple(rules.facets(post_text, links if has_link else []))
        record_tags: tuple[str, ...] = ()
        if index == 0 and rules.record_tags:
            present = {text.hashtag_key(t) for t in _tags_in(post_text)}
            record_tags = tuple(t for t in hashtags if text.hashtag_key(t) not in present)[: rules.record_tags]
        posts.append(
            PlannedPost(
                text=post_text,
                length=rules.own_length(post_text),
                safe_length=rules.length(post_text) if rules.own_measure else None,
                facets=facets,
                card=card if has_link or (card_only and index == 0) else None,
                tags=record_tags,
            )
        )
    return PlatformPlan(platform, account, rules.limit, tuple(posts), options.limit_source, options.software,
                        rules.unit if options.counting else None)


@functools.lru_cache(maxsize=256)
def _validated_url(url: Any) -> str:
    """validate_canonical_url, once per link rather than once per platform (a refusal is not kept)."""
    return validate_canonical_url(url)


def _body_parts(body: str, rules: platforms.Platform, room_parts: int) -> list[str]:
    if room_parts <= 0:
        return []
    if not body:
        return []
    reserve = _part_number(room_parts + 1, room_parts + 1)

    def fits(chunk: str) -> bool:
        return rules.fits(chunk + reserve)

    chunks = _pack(_split_units(body, fits), fits)
    if len(chunks) > room_parts:
        chunks = chunks[:room_parts]
        while chunks:
            continued = _continued(chunks[-1], fits)
            if continued:
                chunks[-1] = continued
                break
            chunks.pop()
    return chunks


def _continued(chunk: str, fits: Callable[[str], bool]) -> str:
    """The last part of a thread that goes on beyond ``max_parts``: ``chunk`` cut to end in "…".

    The "…" follows a word, never a link (even when the whole chunk fits, as "…" glued to a link
    that ends it would become part of that link); "" when no word of ``chunk`` fits before it.
    """
    points = [p for p in ellipsis_points(chunk) if not _glued_to_link(_ellipsis_head(chunk, p))]

    def marked(k: int) -> str:
        head = _ellipsis_head(chunk, points[k - 1])
        return head if _ends_in_ellipsis(head) else head + ELLIPSIS

    keep = _longest(len(points), lambda k: k == 0 or fits(marked(k)))
    return marked(keep) if keep else ""


def _part_number(index: int, total: int) -> str:
    return f"\n\n{index}/{total}" if total > 1 else ""


_TAG_IN_TEXT = regex.compile(r"(?<![\w&])[#＃]([\p{L}\p{M}\p{N}_]+)")


@functools.lru_cache(maxsize=256)
def _written_tags(title: str, summary: str) -> frozenset[str]:
    """The hashtag keys a title and summary already write (the fitter asks for each candidate)."""
    return frozenset(text.hashtag_key(t) for t in _tags_in(f"{title}\n{summary}"))


def _tags_in(post: str) -> list[str]:
    return [str(t) for t in _TAG_IN_TEXT.findall(post)]


def _card(article: Article, url: str, summary: str) -> LinkCard:
    """The link card's content; its shape on the wire is the platform's (``Platform.card``)."""
    title = article.title or (sentences(summary)[0] if summary else url)
    return LinkCard(uri=url, title=title, description=_card_description(summary), thumb_url=article.image)


def _card_description(summary: str, max_graphemes: int = 300) -> str:
    if len(summary) <= max_graphemes:
        return summary
    points = _ellipsis_points(summary)
    keep = _longest(len(points), lambda k: text.graphemes(cut_with_ellipsis(summary, k, points)) <= max_graphemes)
    return cut_with_ellipsis(summary, keep, points)


def _clean(value: str) -> str:
    return str(_SPACE_RUN.sub(" ", value or "")).strip()


def compose(
    article: Article,
    targets: Sequence[tuple[str, str, ComposeOptions]],
    *,
    templates_dir: Path | None = None,
) -> Plan:
    """A Plan for every (platform, account, options) target, in the article's language (see :mod:`bot.language`)."""
    from bot.language import with_language

    article = with_language(article)
    return Plan(
        article,
        tuple(
            compose_platform(article, platform, options, account=account, templates_dir=templates_dir)
            for platform, account, options in targets
        ),
    )
