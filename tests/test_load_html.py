"""HTML article pages: OpenGraph, canonical link, article:tag, main text without page furniture."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.article import Article
from bot.errors import InputError
from bot.load import load_article, parse_article

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
PAGE = FIXTURES / "blog-post.html"


def _html(markup: str, base_url: str | None = None) -> Article:
    return parse_article(markup.encode(), fmt="html", origin="page.html", base_url=base_url)


def test_page_fixture_metadata() -> None:
    """Canonical link beats og:url; og:title, og:description, og:image (+alt), tags, lang, date."""
    article = load_article(str(PAGE))
    assert article.title == "Microsoft and OpenAI loosen their partnership"
    assert article.url == "https://cloudledger.example.com/2026/04/microsoft-openai-partnership/"
    assert article.summary == (
        "OpenAI’s models can now run on rival clouds & Microsoft keeps its stake. Here’s what changed."
    )
    assert article.tags == ("Microsoft", "OpenAI", "Cloud")
    # og:image is relative: resolved against the canonical URL when there is no base URL.
    assert article.image == ("https://cloudledger.example.com/wp-content/uploads/2026/04/microsoft-openai-1200x630.jpg")
    assert article.image_alt == "Satya Nadella and Sam Altman on stage"
    assert article.lang == "en-US"
    assert article.published_at == "2026-04-28T07:15:00+00:00"
    assert article.extra["site_name"] == "The Cloud Ledger"
    assert article.extra["modified_at"] == "2026-04-28T12:02:11+00:00"


def test_page_fixture_body_is_the_article_text_only() -> None:
    """The body is the article's text: no nav, header, byline, caption, code, share, related, footer."""
    article = load_article(str(PAGE))
    assert article.body == (
        "Microsoft and OpenAI have rewritten the deal that made Azure the only cloud for OpenAI’s models. "
        "The exclusivity clause is gone.\n\n"
        "The change opens the door to Amazon Web Services and Google Cloud.\nMicrosoft keeps its stake.\n\n"
        "What changed\n\n"
        "- Azure keeps a licence until 2032.\n- OpenAI may sell through other clouds.\n\n"
        "3. Third point\n4. Fourth point\n\n"
        "“A partnership of equals,” one executive said.\n\n"
        "Cloud | Before | After\nAzure | only | one of many"
    )
    for furniture in ("Skip to content", "News", "cookies", "Dana", "Nadella", "curl", "Share", "Related",
                      "Popular", "comments", "Subscribe", "2026 The Cloud Ledger", "dataLayer"):  # fmt: skip
        assert furniture not in article.body


def test_relative_canonical_and_image_resolve_against_base_url() -> None:
    """A relative canonical link and og:image are joined with the page's URL."""
    article = _html(
        '<html><head><link rel="canonical" href="/posts/a/"><meta property="og:image" content="img/c.png">'
        "<title>T</title></head><body><p>Text.</p></body></html>",
        base_url="https://blog.example.com/posts/a/?utm=1",
    )
    assert article.url == "https://blog.example.com/posts/a/"
    assert article.image == "https://blog.example.com/posts/a/img/c.png"


def test_og_url_when_no_canonical_and_nothing_when_neither() -> None:
    """og:url is the fallback; with neither the URL stays absent (the CLI then asks for --url)."""
    with_og = _html('<head><meta property="og:url" content="https://x.example/p"></head><p>Text.</p>')
    assert with_og.url == "https://x.example/p"
    assert _html("<title>T</title><p>Text.</p>").url is None


def test_title_fallbacks() -> None:
    """Without og:title the <title> is used with the site name stripped; else the first <h1>."""
    titled = _html(
        '<head><title>My Post — Example Blog</title><meta property="og:site_name" content="Example Blog">'
        "</head><body><p>Text.</p></body>"
    )
    assert titled.title == "My Post"
    assert _html("<body><h1>Heading  Title</h1><p>Text.</p></body>").title == "Heading Title"


def test_summary_falls_back_to_meta_description_then_first_paragraph() -> None:
    """meta description when there is no og:description; else the first paragraph of the text."""
    described = _html('<head><meta name="description" content="Meta\u00a0desc."></head><p>Para.</p>')
    assert described.summary == "Meta desc."
    plain = _html("<title>T</title><main><h2>Sub</h2><ul><li>x</li></ul><p>First  para.</p></main>")
    assert plain.summary == "First para."


def test_main_when_no_article_and_og_locale_when_no_lang() -> None:
    """<main> is the text root when there is no <article>; og:locale gives lang (en_GB -> en-GB)."""
    article = _html(
        '<head><meta property="og:locale" content="en_GB"><title>T</title></head>'
        "<body><nav>Menu</nav><main><p>Main text.</p></main><footer>Foot</footer></body>"
    )
    assert article.body == "Main text."
    assert article.lang == "en-GB"


def test_charset_from_meta_tag() -> None:
    """A page declaring ISO-8859-1 in <meta charset> decodes with it."""
    markup = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>Cr\xe8me.</p></body></html>'
    article = parse_article(markup.encode("latin-1"), origin="page.html")
    assert article.title == "Café"
    assert article.body == "Crème."


@pytest.mark.parametrize(
    "markup",
    [
        "<html><head></head><body></body></html>",
        "<html><body><script>var x = 1;</script><nav>Menu only</nav></body></html>",
        "<div><img src='a.png'></div>",
    ],
)
def test_html_with_no_title_and_no_text_is_an_error(markup: str) -> None:
    """A page with nothing usable is an InputError naming the source."""
    with pytest.raises(InputError, match=r"^page\.html: no title and no text found in the HTML$"):
        _html(markup)
