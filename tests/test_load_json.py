"""JSON articles: Ghost webhooks and posts, WordPress REST posts, generic objects, and dispatch among them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.article import Article
from bot.errors import InputError
from bot.load import from_generic, from_ghost, from_wordpress, load_article, parse_article

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _json(data: object) -> Article:
    return parse_article(json.dumps(data).encode(), origin="in.json")


# ---------------------------------------------------------------------------- Ghost


def test_ghost_webhook_fixture_exact_fields() -> None:
    """post.current gives every field; the '#newsletter' internal tag is left out."""
    article = from_ghost(_fixture("ghost-post-published.json"))
    assert article.title == "Microsoft and OpenAI loosen their partnership"
    assert article.url == "https://cloudledger.ghost.io/microsoft-openai-partnership/"
    assert article.summary == "OpenAI’s models can now run on rival clouds; Microsoft keeps its stake."
    assert article.tags == ("Microsoft", "OpenAI", "Cloud Computing")
    assert article.image == "https://cloudledger.ghost.io/content/images/2026/04/microsoft-openai.jpg"
    assert article.image_alt == "Satya Nadella and Sam Altman on stage"
    assert article.published_at == "2026-04-28T07:15:00.000Z"
    assert article.source_id == "ghost:6630f1c2a5e4b20001d3c9e1"
    assert article.extra["uuid"] == "9b2f6c1e-7d4a-4b8e-a1f3-2c5d8e9f0a1b"
    assert article.extra["status"] == "published"


def test_ghost_body_from_plaintext_without_link_notes() -> None:
    """Ghost's plaintext is the body, minus html-to-text's "[https://…]" link notes; list items keep lines."""
    article = from_ghost(_fixture("ghost-post-published.json"))
    assert article.body == (
        "Microsoft and OpenAI have rewritten the deal that made Azure the only cloud for OpenAI’s models. "
        "The exclusivity clause is gone.\n\n"
        "What changed\n\n"
        "The change opens the door to Amazon Web Services and Google Cloud.\n\n"
        "- Azure keeps a licence until 2032.\n- OpenAI may sell through other clouds."
    )


def test_ghost_canonical_url_wins_and_html_when_no_plaintext() -> None:
    """canonical_url beats url; without plaintext the html is converted; excerpt when no custom_excerpt."""
    payload = _fixture("ghost-post-published.json")
    post = payload["post"]["current"]
    post["canonical_url"] = "https://original.example.com/the-story"
    post["plaintext"] = None
    post["custom_excerpt"] = None
    post["excerpt"] = "Auto excerpt."
    article = from_ghost(payload)
    assert article.url == "https://original.example.com/the-story"
    assert article.summary == "Auto excerpt."
    assert article.body.startswith("Microsoft and OpenAI have rewritten")
    assert "What changed\n\n" in article.body
    assert article.body.endswith("- Azure keeps a licence until 2032.\n- OpenAI may sell through other clouds.")


def test_ghost_bare_post_and_content_api_reply() -> None:
    """A bare Ghost post object and a Content API {"posts": [...]} reply load the same article."""
    webhook = _fixture("ghost-post-published.json")
    bare = webhook["post"]["current"]
    expected = from_ghost(webhook)
    assert _json(bare) == expected
    assert _json({"posts": [bare]}) == expected
    assert _json(webhook) == expected


def test_ghost_deleted_post_is_an_error() -> None:
    """A payload whose post.current is empty (post.deleted) is an InputError."""
    with pytest.raises(InputError, match=r"empty post\.current"):
        from_ghost({"post": {"current": {}, "previous": {"id": "1"}}})


# ---------------------------------------------------------------------------- WordPress


def test_wordpress_fixture_exact_fields() -> None:
    """Entities decode; tags from the post_tag terms; image from featuredmedia; id and date_gmt."""
    article = from_wordpress(_fixture("wordpress-post.json"))
    assert article.title == "Microsoft & OpenAI’s partnership: no longer exclusive"
    assert article.url == "https://cloudledger.example.com/2026/04/microsoft-openai-partnership/"
    assert article.summary == "OpenAI’s models can now run on rival clouds – and Microsoft keeps its stake …"
    assert article.tags == ("Microsoft", "OpenAI", "AI & Ethics")
    assert article.image == "https://cloudledger.example.com/wp-content/uploads/2026/04/microsoft-openai.jpg"
    assert article.image_alt == "Satya Nadella and Sam Altman on stage"
    assert article.source_id == "wp:4711"
    assert article.published_at == "2026-04-28T07:15:00Z"
    assert article.extra["categories"] == ["News & Analysis"]
    assert article.body == (
        "Microsoft and OpenAI have rewritten the deal that made Azure the only cloud for OpenAI’s models. "
        "The exclusivity clause is gone.\n\n"
        "What changed\n\n"
        "The change opens the door to Amazon Web Services & Google Cloud.\n\n"
        "- Azure keeps a licence until 2032.\n- OpenAI may sell through other clouds."
    )


def test_wordpress_without_embeds_uses_tag_names_and_jetpack_image() -> None:
    """Without _embedded: a tag_names field gives tags, jetpack_featured_media_url the image."""
    post = copy.deepcopy(_fixture("wordpress-post.json"))
    del post["_embedded"]
    post["tag_names"] = ["Microsoft", "Azure"]
    article = from_wordpress(post)
    assert article.tags == ("Microsoft", "Azure")
    assert article.image == "https://cloudledger.example.com/wp-content/uploads/2026/04/microsoft-openai-jetpack.jpg"
    assert article.image_alt is None


def test_wordpress_list_of_one_and_dispatch() -> None:
    """The /wp/v2/posts list endpoint's one-item list loads; dispatch recognises the shape."""
    post = _fixture("wordpress-post.json")
    assert _json([post]) == from_wordpress(post)
    assert load_article(str(FIXTURES / "wordpress-post.json")).extra["format"] == "json:wordpress"


# ---------------------------------------------------------------------------- generic


def test_generic_fixture_exact_fields() -> None:
    """The generic shape maps field by field; NBSP squeezed; '#' and case-repeats dropped from tags."""
    article = load_article(str(FIXTURES / "generic.json"))
    assert article == Article(
        title="Microsoft and OpenAI loosen their partnership",
        url="https://news.example.com/2026/04/28/microsoft-openai",
        summary="OpenAI’s models can now run on rival clouds; Microsoft keeps its stake.",
        body=(
            "Microsoft and OpenAI have rewritten their deal.\n\n"
            "The exclusivity clause is gone.\n\nOpenAI may now sell through AWS."
        ),
        tags=("Microsoft", "OpenAI", "CloudComputing"),
        image="https://news.example.com/img/microsoft-openai.jpg",
        image_alt="Two logos",
        lang="en",
        published_at="2026-04-28T07:15:00Z",
        thread=False,
    )
    assert article.extra["author"] == "Dana Whitfield"


def test_generic_round_trips_article_to_dict() -> None:
    """from_generic(article.to_dict()) gives the same article back."""
    original = from_wordpress(_fixture("wordpress-post.json"))
    assert from_generic(original.to_dict()) == original


def test_generic_rejects_a_relative_url() -> None:
    """A generic article's url must be absolute: a relative one is an error, not silently dropped."""
    with pytest.raises(InputError, match="'url' must be an absolute http"):
        from_generic({"title": "T", "url": "/relative"})


# ---------------------------------------------------------------------------- bad JSON


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"title": "T",\n  "url": }', "not valid JSON (line 2, column 10)"),
        (b'{"foo": 1, "bar": [2]}', "JSON is an object without title, url, summary or body"),
        (b"[1, 2]", "JSON holds a list of 2 items"),
        (b'"just a string"', "JSON is str"),
        (b'{"title": ["a"], "tags": "a"}', "'title' must be a string"),
        (b'{"title": "T", "tags": {"a": 1}}', "'tags' must be a list of strings"),
    ],
)
def test_bad_json_is_a_one_line_error(data: bytes, fragment: str) -> None:
    """Invalid JSON, unknown shapes and ill-typed fields are InputErrors naming the source."""
    with pytest.raises(InputError) as caught:
        parse_article(data, fmt="json", origin="in.json")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("in.json: ")
    assert "\n" not in str(caught.value)


def test_generic_tag_strings() -> None:
    """A generic tags string: commas split, a run of #hashtags splits, anything else is one tag."""
    assert from_generic({"title": "T", "tags": "#AI #Cloud"}).tags == ("AI", "Cloud")
    assert from_generic({"title": "T", "tags": "Cloud Computing"}).tags == ("Cloud Computing",)
    assert from_generic({"title": "T", "tags": "a, b"}).tags == ("a", "b")
