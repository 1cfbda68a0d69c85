"""Property tests: whatever the article, every post fits by the platform's own measure, keeps the link
whole, carries only whole hashtags from the article, is never empty, and comes out the same every time."""

from __future__ import annotations

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import platforms, text
from bot.article import Article
from bot.compose import ComposeOptions, compose_platform
from bot.measure import mastodon as measure_mastodon
from bot.measure import x as measure_x

# Pieces of text from the hard corners of Unicode.
EMOJI = ["👩‍👩‍👧‍👦", "🇫🇷", "👍🏽", "❤️‍🔥", "🧑‍🎄", "😀", "🏳️‍🌈", "1️⃣"]
CJK = ["日本語", "中文字符", "한국어", "漢字かな"]
RTL = ["مرحبا", "שלום", "عالم\u200f", "\u202bنص\u202c"]
COMBINING = ["e\u0301", "a\u0308\u0304", "क्षि", "நி", "\u0915\u094d\u0937"]
LATIN = ["partnership", "cloud", "OpenAI", "exclusive", "agreement", "AI", "a", "the", "Microsoft"]
PIECES = EMOJI + CJK + RTL + COMBINING + LATIN

word = st.sampled_from(PIECES) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="#＃@$"),
    min_size=1, max_size=12,
)


@st.composite
def sentence(draw: st.DrawFn) -> str:
    words = draw(st.lists(word, min_size=1, max_size=40))
    return " ".join(words) + draw(st.sampled_from([".", "!", "?", "。", ""]))


@st.composite
def urls(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(["news.example.com", "blog.crosspost.dev", "例え.jp", "www.lemonde.fr"]))
    path = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/_", min_size=0, max_size=400))
    return f"https://{host}/{path}"


tag = st.sampled_from(["AI For Good", "node.js", "2026", "OpenAI", "openai", "C#", "日本", "🤖", "machine learning",
                       "Ελληνικά", "x" * 80, "under_score", "#Hash"]) | st.text(min_size=0, max_size=30)


@st.composite
def titles(draw: st.DrawFn) -> str:
    """Empty, short, long, and over-long titles; some one unbroken run of emoji (no word to cut at)."""
    size = draw(st.sampled_from([0, 4, 40, 120, 400]))
    if draw(st.booleans()):
        return " ".join(draw(st.lists(word, min_size=size, max_size=size)))
    return "".join(draw(st.lists(st.sampled_from(EMOJI + CJK), min_size=size, max_size=size)))


@st.composite
def articles(draw: st.DrawFn) -> Article:
    title = draw(titles())
    summary = " ".join(draw(st.lists(sentence(), min_size=0, max_size=8)))
    body = "\n\n".join(draw(st.lists(st.lists(sentence(), min_size=1, max_size=5).map(" ".join),
                                     min_size=0, max_size=6)))
    return Article(title=title, url=draw(urls()), summary=summary, body=body,
                   tags=tuple(draw(st.lists(tag, min_size=0, max_size=40))), lang="en")


_HASHTAG = regex.compile(r"(?<![\S])#([^\s#]+)")


def _hashtags_in(post: str) -> list[str]:
    return [regex.sub(r"\p{P}+$", "", m) for m in _HASHTAG.findall(post)]


def _check(article: Article, platform: str, options: ComposeOptions) -> None:
    plan = compose_platform(article, platform, options)
    again = compose_platform(article, platform, options)
    assert plan == again, "composition is deterministic"
    rules = platforms.get(platform).with_limit(options.limit)
    allowed = {text.hashtag_key(t) for t in (text.normalise_hashtag(x) for x in article.tags) if t}
    assert plan.posts
    assert article.url is not None
    for post in plan.posts:
        assert post.text.strip(), "no empty post"
        assert rules.fits(post.text), f"{platform}: {rules.length(post.text)}/{rules.limit}"
        _within_platform_limits(platform, post.text, options.limit)
        assert post.length == rules.own_length(post.text), "length is the platform's own count"
        if post.safe_length is not None:
            assert post.safe_length == rules.length(post.text) >= post.length
        for found in _hashtags_in(post.text):
            assert text.hashtag_key(found) in allowed, f"hashtag #{found} is not a whole tag of the article"
    first = plan.posts[0]
    if rules.shortens_links:
        links = [f for f in first.facets if f["features"][0]["$type"].endswith("#link")
                 and f["features"][0]["uri"] == article.url]
        assert links, "the canonical link is in a link facet"
        raw = first.text.encode("utf-8")
        shown = raw[links[0]["index"]["byteStart"]:links[0]["index"]["byteEnd"]].decode("utf-8")
        assert shown == text.shorten_url_for_display(article.url)
        assert first.card is not None and first.card.uri == article.url
        for f in first.facets:
            assert 0 <= f["index"]["byteStart"] < f["index"]["byteEnd"] <= len(raw)
    else:
        assert article.url in first.text, "the canonical link is whole"


def _within_platform_limits(platform: str, post: str, limit: int | None) -> None:
    """The limits as PLATFORMS.md and the platforms' docs state them, measured independently of the registry's
    measure (Threads and LinkedIn by their sandboxes' own counting, which shares no code with bot.measure)."""
    if platform == "x":
        assert measure_x.x_length(post) <= 280
    elif platform == "bluesky":
        assert text.graphemes(post) <= 300
        assert len(post.encode("utf-8")) <= 3000
    elif platform == "mastodon":
        assert measure_mastodon.mastodon_length(post) <= (limit or 500)
    elif platform == "threads":
        from bot.sandbox import threads as threads_sandbox

        assert threads_sandbox.own_length(post) <= (limit or 500)
    elif platform == "linkedin":
        from bot.sandbox import linkedin as linkedin_sandbox

        escaped = regex.sub(r"([\\|{}@\[\]()<>#*_~])", r"\\\1", post)  # little text: every reserved char escaped
        assert linkedin_sandbox.units(escaped) <= (limit or 3000)
    else:  # a platform registered by a test (the toy): its own rules are all there is
        assert platforms.get(platform).fits(post)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(articles())
def test_x_posts_fit_and_keep_link_and_whole_hashtags(article: Article) -> None:
    """X: fits 280 weighted, link whole, hashtags whole and from the article, deterministic."""
    _check(article, "x", ComposeOptions())


@SETTINGS
@given(articles())
def test_bluesky_posts_fit_and_keep_link_and_whole_hashtags(article: Article) -> None:
    """Bluesky: fits 300 graphemes and 3000 bytes, the link facet carries the full URL."""
    _check(article, "bluesky", ComposeOptions())


@SETTINGS
@given(articles(), st.sampled_from([500, 1000, 11000]))
def test_mastodon_posts_fit_any_instance_limit(article: Article, limit: int) -> None:
    """Mastodon: fits the instance's limit, link whole, hashtags whole."""
    _check(article, "mastodon", ComposeOptions(limit=limit))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles(), st.sampled_from(list(platforms.names())), st.integers(min_value=1, max_value=12))
def test_threads_fit_and_stay_within_max_parts(article: Article, platform: str, max_parts: int) -> None:
    """Threads: every part fits, numbering is right, never more than max_parts parts."""
    options = ComposeOptions(thread=True, max_parts=max_parts)
    _check(article, platform, options)
    posts = compose_platform(article, platform, options).posts
    assert len(posts) <= max_parts
    if len(posts) > 1:
        assert all(p.text.endswith(f"{i}/{len(posts)}") for i, p in enumerate(posts, 1))
