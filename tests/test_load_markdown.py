"""Markdown with YAML/TOML front matter, as static-site generators publish it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.article import Article
from bot.errors import InputError
from bot.load import load_article, parse_article
from bot.load.markdown import inline_markdown, markdown_blocks

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
HUGO = FIXTURES / "hugo-post.md"


def _md(text: str, base_url: str | None = None) -> Article:
    return parse_article(text.encode(), fmt="markdown", origin="post.md", base_url=base_url)


def test_hugo_fixture_exact_fields() -> None:
    """Front matter gives title, summary, tags (plus the trailing hashtag line), lang, date, thread."""
    article = load_article(str(HUGO))
    assert article.title == "Microsoft and OpenAI loosen their partnership: what changes for developers"
    assert article.summary == (
        "Microsoft has dropped its exclusive licence to OpenAI's models. "
        "Here is what that means if you build on Azure OpenAI today."
    )
    assert article.tags == ("Microsoft", "OpenAI", "Cloud Computing", "AI", "Azure")
    assert article.lang == "en-GB"
    assert article.published_at == "2026-04-28T09:15:00+02:00"
    assert article.thread is True
    assert article.url is None  # a relative canonicalURL without a base stays absent
    assert article.image is None
    assert article.extra["relative_url"] == "/posts/microsoft-openai-partnership/"
    assert article.extra["categories"] == ["news", "ai"]
    assert article.extra["draft"] is False


def test_hugo_fixture_body_is_plain_text() -> None:
    """Headings, emphasis and links keep their words; images, fences, comments, shortcodes go."""
    body = load_article(str(HUGO)).body
    assert body == (
        "Microsoft and OpenAI have rewritten their deal. OpenAI's models, once licensed to Microsoft alone, "
        "may now run on other clouds, and the announcement was short on detail.\n\n"
        "What changed\n\n"
        "The exclusivity clause is gone; the revenue share and the AGI clause were rewritten. In short:\n\n"
        "- Azure keeps a licence to OpenAI's models until 2032.\n"
        "- OpenAI may sell its API through AWS and Google Cloud.\n"
        "- Microsoft keeps its ~27% stake.\n\n"
        '"This is a partnership of equals now," said one insider executive.\n\n'
        "Read our earlier analysis & timeline.\n\n"
        "What to do\n\n"
        "1. Check which region your deployment runs in.\n"
        "2. Read the new terms of service, especially section 4.2."
    )


def test_relative_permalink_and_image_join_the_base_url() -> None:
    """With a base URL (argument or front-matter key) relative canonical and cover image become absolute."""
    article = parse_article(HUGO.read_bytes(), origin=str(HUGO), base_url="https://blog.example.com/")
    assert article.url == "https://blog.example.com/posts/microsoft-openai-partnership/"
    assert article.image == "https://blog.example.com/images/microsoft-openai/cover.jpg"
    assert article.image_alt == "The Microsoft and OpenAI logos side by side"
    keyed = _md("---\ntitle: T\nbase_url: https://site.example.org\npermalink: /a/b/\n---\nText.\n")
    assert keyed.url == "https://site.example.org/a/b/"


def test_jekyll_permalink_pattern_is_not_a_url() -> None:
    """A permalink pattern such as /:year/:title/ is never joined into a URL."""
    article = _md("---\ntitle: T\npermalink: /:year/:title/\n---\nText.\n", base_url="https://x.example/")
    assert article.url is None


@pytest.mark.parametrize(
    ("front", "url"),
    [
        ("url: https://a.example/post/", "https://a.example/post/"),
        ("canonical_url: https://b.example/p\nurl: /ignored/", "https://b.example/p"),
        ("canonicalURL: https://c.example/p", "https://c.example/p"),
        ("permalink: https://d.example/p", "https://d.example/p"),
    ],
)
def test_url_keys(front: str, url: str) -> None:
    """url, canonical_url (wins), canonicalURL and permalink all give the canonical URL."""
    assert _md(f"---\ntitle: T\n{front}\n---\nText.\n").url == url


def test_tags_as_comma_string_and_keywords_fallback() -> None:
    """tags may be a comma string; keywords are used when there are no tags."""
    assert _md("---\ntags: 'a, b ,c'\n---\nx\n").tags == ("a", "b", "c")
    assert _md("---\nkeywords: [x, y]\n---\nx\n").tags == ("x", "y")


def test_toml_front_matter() -> None:
    """Hugo's TOML front matter (+++) is read like YAML."""
    article = _md(
        '+++\ntitle = "TOML post"\ndate = 2026-04-28T09:15:00Z\ntags = ["Go", "Hugo"]\n'
        'description = "About TOML."\n[cover]\nimage = "https://x.example/c.png"\n+++\nBody text.\n'
    )
    assert article.title == "TOML post"
    assert article.published_at == "2026-04-28T09:15:00+00:00"
    assert article.tags == ("Go", "Hugo")
    assert article.summary == "About TOML."
    assert article.image == "https://x.example/c.png"


def test_title_from_first_heading_and_summary_from_first_prose() -> None:
    """Without front matter the H1 is the title (not repeated in the body); the summary is the first prose."""
    article = _md("# The Title\n\n## Section\n\n- a list\n\nFirst *real* paragraph.\n\nSecond.\n")
    assert article.title == "The Title"
    assert article.summary == "First real paragraph."
    assert article.body.startswith("Section\n\n- a list")


def test_malformed_yaml_names_the_line() -> None:
    """Broken YAML is an InputError with the file's line number and YAML's reason, on one line."""
    with pytest.raises(InputError) as caught:
        _md("---\ntitle: Microsoft: the deal\ndate: 2026-04-28\n---\nBody.\n")
    message = str(caught.value)
    assert message.startswith("post.md: front matter is not valid YAML (line 2): ")
    assert "mapping values are not allowed" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("---\ntitle: never closed\n\nBody.\n", "never closed"),
        ("---\n- a\n- b\n---\nBody.\n", "must be key: value pairs"),
        ("+++\ntitle = \n+++\nBody.\n", "not valid TOML"),
        ("---\ntitle: T\nthread: maybe\n---\nBody.\n", "'thread' must be true or false"),
        ("---\ntitle: [1, 2]\n---\nBody.\n", "'title' must be a string"),
        ("---\ntags: 5\n---\nBody.\n", "'tags' must be a list of strings"),
    ],
)
def test_bad_front_matter(text: str, fragment: str) -> None:
    """Unclosed, non-mapping, invalid TOML or ill-typed front matter is a one-line InputError."""
    with pytest.raises(InputError) as caught:
        _md(text)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("post.md: ")
    assert "\n" not in str(caught.value)


def test_inline_markdown_conversion() -> None:
    """Emphasis, links, reference links, images, code spans, autolinks, escapes and tags convert to text."""
    source = (
        r"**Bold** and __bold__, *em* and _em_, ~~gone~~, `code_span`, [link](https://x.y/(a)), "
        r"[ref][r], ![img](i.png), <https://auto.example>, \*literal\*, snake_case_name, "
        r"<b>tag</b> &amp; [^1]"
    )
    assert inline_markdown(source) == (
        "Bold and bold, em and em, gone, code_span, link, ref, , https://auto.example, *literal*, "
        "snake_case_name, tag & "
    )


def test_markdown_blocks_structure() -> None:
    """Setext headings, quotes, tables, hard breaks and fences are handled block by block."""
    blocks = markdown_blocks(
        "Heading\n=======\n\n> quoted\n> text\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "line one  \nline two\n\n~~~\ncode\n~~~\n\n***\n"
    )
    assert [(b.kind, b.text) for b in blocks] == [
        ("heading", "Heading"),
        ("quote", "quoted text"),
        ("table", "a | b"),
        ("table", "1 | 2"),
        ("para", "line one\nline two"),
    ]


def test_jekyll_space_separated_tags_and_hashtag_strings() -> None:
    """Jekyll reads ``tags: ai cloud`` as two tags; a comma string splits on commas only."""
    assert _md("---\ntags: ai cloud\n---\nx\n").tags == ("ai", "cloud")
    assert _md("---\ntags: Cloud Computing, AI\n---\nx\n").tags == ("Cloud Computing", "AI")


def test_markdown_references_section_and_share_lines_are_cut() -> None:
    """A "## References" heading ends the body, as in plain text; trailing hashtags still become tags."""
    article = _md(
        "---\ntitle: T\n---\nLead paragraph.\n\n## References\n\n- [NYT](https://www.nytimes.com/x)\n\n#AI #Cloud\n"
    )
    assert article.body == "Lead paragraph."
    assert article.tags == ("AI", "Cloud")
