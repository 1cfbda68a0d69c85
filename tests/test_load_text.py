"""Plain-text articles: title line, paragraphs, trailing hashtags, references and share boilerplate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.load import load_article, parse_article

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "microsoft-openai.txt"


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.is_file():
        pytest.skip("../shared/samples not present (user checkout)")
    return SAMPLE


def test_sample_summary_is_the_lead_paragraph(sample: Path) -> None:
    """The sample has no title line: its first line is the lead paragraph and becomes the summary."""
    article = load_article(str(sample))
    first_line = sample.read_text(encoding="utf-8").split("\n", 1)[0]
    assert article.title == ""
    assert article.summary == first_line
    assert article.summary.startswith("In a significant shift in the tech landscape")
    assert article.summary.endswith("groundbreaking technology.")


def test_sample_tags_come_from_the_hashtag_line(sample: Path) -> None:
    """The hashtag line before the references becomes the tags, in order, without '#'."""
    assert load_article(str(sample)).tags == ("Microsoft", "OpenAI", "AIForGood", "NexSouk", "EthicalAI")


def test_sample_references_and_share_boilerplate_stay_out(sample: Path) -> None:
    """References, source links, hashtags and share boilerplate are neither summary nor body."""
    article = load_article(str(sample))
    for text in (article.summary, article.body):
        for unwanted in ("References", "nytimes", "Share or Link", "theverge", "Social Commentary", "🔗"):
            assert unwanted not in text
        assert "#" not in text


def test_sample_body_keeps_every_paragraph(sample: Path) -> None:
    """Each of the seven one-per-line paragraphs is a paragraph of the body, nothing else."""
    article = load_article(str(sample))
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == 7
    assert paragraphs[0] == article.summary
    assert paragraphs[-1].startswith("In conclusion, the decision by Microsoft and OpenAI")
    assert paragraphs[-1].endswith("and data governance.")
    assert article.url is None


def test_titled_fixture_exact_fields() -> None:
    """A title line, hard-wrapped paragraphs, a list, a Canonical line, Sources and trailing hashtags."""
    article = load_article(str(FIXTURES / "titled-post.txt"))
    assert article.title == "Microsoft and OpenAI loosen their partnership"
    assert article.url == "https://cloudledger.example.com/2026/04/microsoft-openai-partnership/"
    assert article.summary == (
        "Microsoft and OpenAI have rewritten the deal that made Azure the only cloud for OpenAI's models. "
        "The exclusivity clause is gone, and OpenAI may now sell through rival clouds."
    )
    assert article.body == (
        f"{article.summary}\n\n"
        "The change was announced on Monday. "
        "Microsoft keeps its stake and a licence to the models until 2032.\n\n"
        "What stays the same:\n\n"
        "- Azure remains OpenAI's main cloud.\n"
        "- The revenue share continues, at a lower rate."
    )
    assert article.tags == ("Microsoft", "OpenAI", "Cloud")
    assert article.extra["format"] == "text"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("A short title\n\nThe first paragraph of the article.\n", "A short title"),
        ("A short title\nA much longer first paragraph that follows right away.\n", "A short title"),
        ("Is this a title?\n\nYes, followed by a blank line it is.\n", "Is this a title?"),
        ("# Hash title\n\nBody text here.\n", "Hash title"),
        ("A sentence that ends here.\n\nAnother paragraph.\n", ""),
        ("Only one line without punctuation\n", ""),
        ("A long first line\nshort\n", ""),
        ("#Tag #Other\n\nBody.\n", ""),
    ],
)
def test_title_line_detection(text: str, title: str) -> None:
    """A title: a short first line without sentence-ending punctuation, then a blank or a longer line."""
    assert parse_article(text.encode(), fmt="text").title == title


def test_one_paragraph_per_line_and_hard_wrapped_paragraphs() -> None:
    """Long lines without blank lines are paragraphs; short wrapped lines between blank lines are joined."""
    one_per_line = "First paragraph is here and it is long enough to be a paragraph of its own, surely more than a hundred characters.\nSecond paragraph, also long enough to stand alone as a paragraph in this article, and then some more words.\n"  # noqa: E501
    assert parse_article(one_per_line.encode(), fmt="text").body.count("\n\n") == 1
    wrapped = (
        "Title\n\nThis paragraph was wrapped\nat a narrow width by an editor\nthat likes short lines.\n\nSecond one.\n"
    )
    article = parse_article(wrapped.encode(), fmt="text")
    assert article.body == (
        "This paragraph was wrapped at a narrow width by an editor that likes short lines.\n\nSecond one."
    )


def test_bold_references_heading_cuts_the_tail() -> None:
    """``**References:**`` and everything after it are dropped; hashtags after it still become tags."""
    text = (
        "Title here\n\nLead paragraph of the story.\n\nSecond paragraph.\n"
        "**References:**\n– The Verge: [x](https://www.theverge.com/x)\n#One #Two\n"
    )
    article = parse_article(text.encode(), fmt="text")
    assert article.body == "Lead paragraph of the story.\n\nSecond paragraph."
    assert article.tags == ("One", "Two")


def test_sources_heading_and_share_lines_removed() -> None:
    """A "Sources" section and share boilerplate lines stay out of the body."""
    text = (
        "Lead paragraph that is long enough to be the lead of this story.\n\n"
        "🔗 Share or Link to This Page\n\nMore text.\n\nSources\n- somewhere\n"
    )
    article = parse_article(text.encode(), fmt="text")
    assert article.body == "Lead paragraph that is long enough to be the lead of this story.\n\nMore text."
    assert article.tags == ()


def test_whitespace_normalised_in_title_and_summary() -> None:
    """NBSP and runs of spaces become one space; CRLF line endings work."""
    text = "A\u00a0title  with   gaps\r\n\r\nThe\u00a0lead   paragraph\u2009here.\r\n"
    article = parse_article(text.encode(), fmt="text")
    assert article.title == "A title with gaps"
    assert article.summary == "The lead paragraph here."


def test_url_line_is_taken_and_removed() -> None:
    """A ``URL: https://…`` line gives the canonical URL and is not part of the body."""
    text = "Title\n\nLead.\n\nURL: https://example.com/post/1\n"
    article = parse_article(text.encode(), fmt="text")
    assert article.url == "https://example.com/post/1"
    assert "example.com" not in article.body


def test_hashtags_in_middle_of_text_are_not_tags() -> None:
    """Only a trailing line of hashtags becomes tags; hashtags inside a sentence stay text."""
    text = "Title\n\nWe love #python and #rust here.\n\nThe end.\n"
    article = parse_article(text.encode(), fmt="text")
    assert article.tags == ()
    assert "#python" in article.body


def test_canonical_line_above_the_title() -> None:
    """A ``Canonical:`` line at the very top gives the URL and does not hide the title line."""
    text = "Canonical: https://example.com/a\n\nThe Title\n\nThe lead paragraph.\n"
    article = parse_article(text.encode(), fmt="text")
    assert (article.url, article.title, article.body) == ("https://example.com/a", "The Title", "The lead paragraph.")


def test_sample_with_a_title_line_prepended(sample: Path) -> None:
    """A short title line right above the sample's one-per-line paragraphs is the title; the rest is unchanged."""
    plain = load_article(str(sample))
    titled = parse_article(b"Microsoft and OpenAI loosen their partnership\n" + sample.read_bytes(), fmt="text")
    assert titled.title == "Microsoft and OpenAI loosen their partnership"
    assert (titled.summary, titled.body, titled.tags) == (plain.summary, plain.body, plain.tags)
