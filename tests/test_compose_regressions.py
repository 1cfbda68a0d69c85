"""Issue 13's reproductions, one test each: the composition failures found on generated articles.

Each test starts from the article the issue gives and checks the post the way the platform reads it:
links with the platforms' own detectors (:func:`bot.text.url_spans`, ``detect_facets``), mentions with
twitter-text's and Mastodon's mention rules.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bot import platforms, text
from bot.article import Article
from bot.compose import ComposeOptions, compose, compose_platform, cut_with_ellipsis
from bot.load import parse_article
from bot.measure import mastodon as measure_mastodon
from bot.measure import x as measure_x

CANONICAL = "https://blog.example.com/2026/notes/"
HASHTAG = re.compile(r"(?<![\w&])[#＃]([\w]+)")


def _posts(a: Article, platform: str, **opts: object) -> list[str]:
    plan = compose_platform(a, platform, ComposeOptions(**opts))  # type: ignore[arg-type]
    return [p.text for p in plan.posts]


def _markdown(source: str) -> Article:
    return parse_article(source.encode(), fmt="markdown", origin="post.md")


# --- 1. a hashtag twice ---------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(platforms.names()))
@pytest.mark.parametrize(
    ("tags", "summary"),
    [
        ("[Python]", "Learn #Python today."),  # the issue's reproduction
        ("[Python]", "Learn ＃Python today."),  # full-width "＃" is a hashtag on every platform
        ("[python]", "Learn #PYTHON today."),  # another case
        ("[ai]", "What #AI changes."),  # the tag "ai" is the hashtag "#AI"
        ("[Python, AI]", "Tips for #python and #ai."),
    ],
)
def test_a_hashtag_the_summary_writes_is_not_appended_again(platform: str, tags: str, summary: str) -> None:
    a = _markdown(f"---\ntitle: Notes\nurl: {CANONICAL}\ntags: {tags}\nsummary: \"{summary}\"\n---\n\nBody.\n")
    (post,) = _posts(a, platform)
    keys = Counter(text.hashtag_key(t) for t in HASHTAG.findall(post))
    assert keys and max(keys.values()) == 1, post


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_a_hashtag_the_title_writes_is_not_appended_again(platform: str) -> None:
    a = Article(title="Why ＃Ｐｙｔｈｏｎ wins", url=CANONICAL, summary="A summary.", tags=("python", "Rust"))
    (post,) = _posts(a, platform)
    keys = Counter(text.hashtag_key(t) for t in HASHTAG.findall(post))
    assert keys == Counter({"python": 1, "rust": 1}), post


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_a_tag_written_as_a_hashtag_is_not_made_a_hashtag_again_in_place(platform: str) -> None:
    """Corpus seed 301: the summary writes "＃Microsoft" and, later, the plain word "Microsoft"."""
    summary = "Learn ＃Microsoft today. Notes on OpenAI and Microsoft for everyone."
    a = Article(title="Notes", url=CANONICAL, summary=summary, tags=("Microsoft", "Rust"))
    (post,) = _posts(a, platform)
    keys = Counter(text.hashtag_key(t) for t in HASHTAG.findall(post))
    assert keys == Counter({"microsoft": 1, "rust": 1}), post
    assert "OpenAI and Microsoft for" in post


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_the_authors_own_repeated_hashtag_is_posted_as_written(platform: str) -> None:
    """No hashtag twice is about what the composer adds: it never rewrites the author's words."""
    summary = "Learn #Rust today. Learn #Rust today."
    a = Article(title="Notes", url=CANONICAL, summary=summary, tags=("rust", "Go"))
    (post,) = _posts(a, platform)
    assert summary in post and Counter(text.hashtag_key(t) for t in HASHTAG.findall(post)) == {"rust": 2, "go": 1}


# --- 2. links broken by the cut -------------------------------------------------------------------

URL_1 = "https://conf.example.org/2026/lisbon?session=keynote&lang=en"
URL_2 = "https://shop.example.net/p/123?utm_source=x&utm_medium=social"
LINK_SUMMARY = f"Notes at {URL_1} and ({URL_2}) sells things and more words here."
TITLE_41_WORDS = " ".join(["word"] * 41)


def _assert_links_whole(post: str, allowed: set[str]) -> None:
    """Every link any platform sees in ``post`` is one of ``allowed``, and no "…" touches one.

    Bluesky's short display text of the canonical link is no link of its own (its facet claims it).
    """
    post = post.replace(text.shorten_url_for_display(CANONICAL), "LINK")
    for start, end in text.url_spans(post):
        seen = post[start:end]
        assert "…" not in seen and not post[end:].startswith("…"), f"… glued to {seen!r}"
        assert seen.rstrip(".,;:!?)") in allowed, f"a broken link {seen!r} in {post!r}"


def _allowed_links(url: str = CANONICAL) -> set[str]:
    return {URL_1, URL_2, url, text.shorten_url_for_display(url)}


@pytest.mark.parametrize("platform", list(platforms.names()))
@pytest.mark.parametrize("title_words", range(15, 56))
def test_the_cut_keeps_each_link_whole_and_unglued(platform: str, title_words: int) -> None:
    """Every cut the title's length can force: the links stay whole, "…" never touches one."""
    title = " ".join(["word"] * title_words)
    a = Article(title=title, url=CANONICAL, summary=LINK_SUMMARY, tags=("Lisbon", "Shop"))
    (post,) = _posts(a, platform, limit=300 if platform == "mastodon" else None)
    _assert_links_whole(post, _allowed_links())


def test_the_issue_reproduction_cuts_before_the_parenthesised_link_on_x_and_bluesky() -> None:
    a = Article(title=TITLE_41_WORDS, url=CANONICAL, summary=LINK_SUMMARY)
    x_post, = _posts(a, "x")
    bluesky_post = compose_platform(Article(title=" ".join(["word"] * 40), url=CANONICAL, summary=LINK_SUMMARY),
                                    "bluesky").posts[0]
    assert "(https://s…" not in x_post
    assert "lang=en…" not in bluesky_post.text
    # The record's facets (Bluesky's own detector for all but the shortened canonical link): whole URLs only.
    for facet in bluesky_post.facets:
        uri = facet["features"][0].get("uri")
        assert uri is None or uri in {URL_1, URL_2, CANONICAL}


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_a_link_longer_than_a_thread_part_is_never_split(platform: str) -> None:
    long_url = "https://very.example.org/" + "/".join(f"segment{i:03d}" for i in range(120))  # 1,225 characters
    body = f"First paragraph.\n\nRead {long_url} for the details.\n\nLast paragraph with {URL_1} in it."
    a = Article(title="A thread", url=CANONICAL, summary="First paragraph.", body=body)
    plan = compose_platform(a, platform, ComposeOptions(thread=True))
    assert len(plan.posts) > 1
    allowed = _allowed_links() | {long_url}
    for post in plan.posts:
        _assert_links_whole(post.text, allowed)
        for facet in post.facets:
            uri = facet["features"][0].get("uri")
            assert uri is None or uri in allowed, f"a facet on a piece of a link: {uri!r}"
    if not platforms.get(platform).fits(long_url):  # 1,225 characters counted in full: left out whole
        assert not any("segment0" in p.text for p in plan.posts)
    else:  # a link counts 23 on X and Mastodon: it fits, whole
        assert any(long_url in p.text for p in plan.posts)
    assert any(URL_1 in p.text for p in plan.posts)


@pytest.mark.parametrize("platform", [name for name in platforms.names() if platforms.get(name).threads])
def test_the_last_part_of_a_cut_thread_puts_no_ellipsis_on_a_link(platform: str) -> None:
    """Corpus seed 448: the last part that fits ends in a link; "…" saying "more" must not touch it."""
    idn = "https://bücher.example.com/neu/straße"
    paragraphs = [f"Paragraph {i} " + " ".join(["word"] * 40) + f" © {idn}!" for i in range(12)]
    a = Article(title="A thread", url=CANONICAL, summary="Short.", body="\n\n".join(paragraphs))
    plan = compose_platform(a, platform, ComposeOptions(thread=True, max_parts=3))
    assert len(plan.posts) == 3
    last = re.sub(r"\n\n\d+/\d+$", "", plan.posts[-1].text)
    assert last.endswith("…"), last
    _assert_links_whole(plan.posts[-1].text, _allowed_links() | {idn})


# --- 3. the fit order -----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(platforms.names()))
@pytest.mark.parametrize("title_length", [180, 200, 220, 240, 250, 260])
def test_no_post_keeps_hashtags_while_its_summary_is_gone(platform: str, title_length: int) -> None:
    """Bluesky kept all five hashtags and dropped the whole summary: hashtags must go first."""
    title = ("Long title words " * 40)[:title_length].strip()
    summary = "Considerations about everything that matters."
    tags = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")
    a = Article(title=title, url=CANONICAL, summary=summary, tags=tags)
    limit = 300 if platform == "mastodon" else None
    (post,) = _posts(a, platform, limit=limit)
    if "Consider" not in post:
        assert not HASHTAG.search(post), f"hashtags kept while the summary is gone: {post!r}"


def test_bluesky_drops_hashtags_from_the_last_before_the_summarys_last_word() -> None:
    title = "T" * 220  # title + link + all five tags fit (285/300), but not with the summary's first word
    a = Article(title=title, url=CANONICAL, summary="Supercalifragilistic words follow.",
                tags=("Alpha", "Bravo", "Charlie", "Delta", "Echo"))
    (post,) = _posts(a, "bluesky")
    assert "Supercalifragilistic…" in post
    assert "#Charlie" in post and "#Delta" not in post
    assert text.graphemes(post) <= 300


# --- 4. double ellipsis ---------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["wait…", "wait...", "wait…,"])
def test_no_second_ellipsis_after_the_authors_own(word: str) -> None:
    assert cut_with_ellipsis(f"And {word} then more words", 2) == "And " + word.rstrip(",")


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_no_double_ellipsis_in_a_fitted_post(platform: str) -> None:
    summary = "Then… " + " ".join(["more"] * 200)
    a = Article(title="T " * 120, url=CANONICAL, summary=summary)
    (post,) = _posts(a, platform, limit=300 if platform == "mastodon" else None)
    assert "……" not in post and "...…" not in post
    assert "Then…" in post


# --- 5. HTML with only og:description ------------------------------------------------------------


def test_html_with_only_og_description_is_an_article() -> None:
    page = (
        '<html><head><meta property="og:description" content="Only a description of the page.">'
        f'<link rel="canonical" href="{CANONICAL}"></head><body></body></html>'
    )
    a = parse_article(page.encode(), fmt="html", origin="page.html")
    assert a.title == "" and a.summary == "Only a description of the page." and a.url == CANONICAL
    plan = compose(a, [(p, "default", ComposeOptions()) for p in platforms.names()])
    for platform_plan in plan.platforms:
        assert "Only a description of the page." in platform_plan.posts[0].text


# --- 6. X length is X's own measure ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "margin"),
    [("Acme® and Foo© launch", 2), ("Hot \u2764\ufe0f\u200d\U0001f525 news", 0), ("Plain title", 0)],
)
def test_x_length_is_twitter_texts_count_and_the_margin_is_reported_apart(title: str, margin: int) -> None:
    a = Article(title=title, url=CANONICAL, summary="A summary.")
    plan = compose_platform(a, "x")
    post = plan.posts[0]
    assert post.length == measure_x.x_parse(post.text)[0]  # twitter-text 3.1.0 parseTweet, config v3
    assert post.safe_length == measure_x.x_length(post.text) == post.length + margin
    data = plan.to_json()["posts"][0]
    assert data["length"] == post.length and data["safe_length"] == post.length + margin


def test_x_length_matches_the_python_port_where_the_lists_agree() -> None:
    """twitter-text-parser (the Python port, Emoji 12 list) agrees with our count for a text-style ®."""
    from twitter_text import parse_tweet as port_parse_tweet

    a = Article(title="Acme® launches", url=CANONICAL, summary="A summary.")
    post = compose_platform(a, "x").posts[0]
    # The port counts "®" as an emoji (2), twitter-text 3.1.0 as a character (1): the safe length is the port's.
    assert post.safe_length == port_parse_tweet(post.text).weightedLength
    assert post.length == post.safe_length - 1


# --- 7. mentions across platforms ----------------------------------------------------------------

# twitter-text 3.1.0 regexp/validMentionOrList.js and endMentionMatch.js (latin accents left out:
# the texts below have none).
_X_MENTION = re.compile(
    r"(?:^|[^a-zA-Z0-9_!#$%&*@＠]|(?:^|[^a-zA-Z0-9_+~.-])(?:rt|RT|rT|Rt):?)[@＠]([a-zA-Z0-9_]{1,20})"
)
_X_END_MENTION = re.compile(r"[@＠]|://")


def _x_mentions(post: str) -> list[str]:
    return [m.group(1) for m in _X_MENTION.finditer(post) if not _X_END_MENTION.match(post, m.end())]


def _mastodon_mentions(post: str) -> list[str]:
    return [post[start:end] for start, end, _ in measure_mastodon._mastodon_mentions(post)]


QUOTES = "Thanks @alice@mastodon.example, @bob.bsky.social and @carol for the review."


def test_x_mentions_only_x_style_handles() -> None:
    (post,) = _posts(Article(title="Credits", url=CANONICAL, summary=QUOTES), "x")
    assert _x_mentions(post) == ["carol"]
    assert "@\u2060alice@mastodon.example" in post and "https://bsky.app/profile/bob.bsky.social" in post


def test_mastodon_mentions_only_fediverse_handles() -> None:
    (post,) = _posts(Article(title="Credits", url=CANONICAL, summary=QUOTES), "mastodon")
    assert _mastodon_mentions(post) == ["@alice@mastodon.example"]
    assert "@\u2060carol" in post  # shows as "@carol", links nobody on the instance
    assert "https://bsky.app/profile/bob.bsky.social" in post


def test_bluesky_text_is_kept_and_gets_no_mention_facet_without_a_lookup() -> None:
    plan = compose_platform(Article(title="Credits", url=CANONICAL, summary=QUOTES), "bluesky")
    post = plan.posts[0]
    assert QUOTES in post.text
    assert all(f["features"][0]["$type"] != "app.bsky.richtext.facet#mention" for f in post.facets)


def test_mention_like_text_in_links_and_addresses_is_left_alone() -> None:
    summary = "Mail me@example.com or see https://mastodon.social/@dana today."
    for platform in platforms.names():
        (post,) = _posts(Article(title="T", url=CANONICAL, summary=summary), platform)
        assert summary in post


def test_a_link_longer_than_a_post_goes_in_the_card_only_where_the_platform_has_one() -> None:
    """A platform that counts links in full (Threads: 500) cannot show a 700-character link: its card carries
    the link and the text goes without it; the other platforms still compose, nothing is refused."""
    from bot import platforms as registry
    from bot.article import Article
    from bot.compose import compose_platform

    url = "https://blog.example.com/" + "a" * 700
    article = Article(title="A long address", url=url, summary="The summary stays.", tags=("Python",))
    for name in registry.names():
        plan = compose_platform(article, name)
        [post] = plan.posts
        assert post.length <= plan.limit, name
        if registry.get(name).card and url not in post.text and not registry.get(name).shortens_links:
            assert post.card is not None and post.card.uri == url, name
    threads = compose_platform(article, "threads")
    assert url not in threads.posts[0].text and threads.posts[0].card is not None
    assert "The summary stays." in threads.posts[0].text
