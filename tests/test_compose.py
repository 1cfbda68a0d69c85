"""The composer: fitting order, links, hashtags, threads, Bluesky extras — measured by each platform's rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import platforms, text
from bot.article import Article
from bot.compose import ComposeOptions, compose, compose_platform, sentences
from bot.errors import ConfigError, InputError
from bot.measure import mastodon as measure_mastodon
from bot.measure import x as measure_x

URL = "https://news.example.com/2026/04/27/technology/microsoft-openai-partnership-loosened.html"
SUMMARY = (
    "Microsoft and OpenAI have amended their partnership. The exclusivity clause is gone. "
    "OpenAI models may now run on rival clouds such as Amazon Web Services, which opens the market. "
    "Experts expect more competition in AI."
)


def article(**kw: object) -> Article:
    base: dict[str, object] = {
        "title": "Microsoft and OpenAI loosen their partnership",
        "url": URL,
        "summary": SUMMARY,
        "body": SUMMARY,
        "tags": ("Microsoft", "OpenAI", "AI For Good", "node.js", "2026"),
        "lang": "en",
    }
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


def only_post(platform: str, a: Article, **opts: object) -> str:
    plan = compose_platform(a, platform, ComposeOptions(**opts))  # type: ignore[arg-type]
    assert len(plan.posts) == 1
    return plan.posts[0].text


@pytest.mark.parametrize("platform", list(platforms.names()))
def test_everything_fits_when_there_is_room(platform: str) -> None:
    """With room to spare nothing is cut: full title, summary, link and all valid hashtags."""
    a = article(summary="Microsoft and OpenAI amended their deal.")
    post = only_post(platform, a, limit=1000)
    assert a.title in post
    assert "amended their deal." in post
    assert "#AIForGood" in post and "#nodejs" in post
    assert "#2026" not in post  # digits only: no hashtag on any platform


def test_hashtag_in_text_is_inlined_not_repeated() -> None:
    """A word of the summary equal to a tag is hashtagged in place and not appended again."""
    post = only_post("mastodon", article(summary="Microsoft and OpenAI amended their deal."))
    assert "#Microsoft and #OpenAI amended" in post
    assert post.count("#Microsoft") == 1 and post.count("#OpenAI") == 1


def test_x_shortens_summary_at_a_sentence_first() -> None:
    """On X the summary loses whole sentences before any word is cut."""
    post = only_post("x", article())
    assert measure_x.x_length(post) <= 280
    assert "The exclusivity clause is gone." in post
    assert "Experts expect" not in post
    assert "…" not in post
    assert URL in post


def test_word_cut_with_ellipsis_when_one_sentence_is_too_long() -> None:
    """A single long sentence is cut at a word boundary and ends with an ellipsis."""
    long_sentence = " ".join(["partnership"] * 60) + "."
    post = only_post("x", article(summary=long_sentence))
    summary_line = post.split("\n\n")[1]
    assert summary_line.endswith("…")
    assert all(w == "partnership" for w in summary_line.rstrip("…").split())
    assert measure_x.x_length(post) <= 280


def test_hashtags_dropped_from_the_last_before_the_summary_goes() -> None:
    """When the summary's last word no longer fits, hashtags go first, from the last one, whole."""
    title = "A title " * 30  # 239 weighted characters: title + link + 3 tags is 282
    post = only_post("x", article(title=title.strip(), summary="Short.", tags=("One", "Two", "Three")))
    assert "Short." in post
    assert measure_x.x_length(post) <= 280
    assert "#One" in post and "#Three" not in post


def test_summary_goes_with_the_hashtags_when_nothing_of_it_fits() -> None:
    """A post never keeps hashtags while its summary is gone: both go before the title is cut."""
    title = "A title " * 32  # 255 weighted characters: title + link is 280, no room for "Short." too
    post = only_post("x", article(title=title.strip(), summary="Short.", tags=("One", "Two", "Three")))
    assert "Short." not in post and "#" not in post
    assert post.startswith(title.strip())


def test_title_cut_last_and_link_never() -> None:
    """A title longer than the post is cut at a word with '…'; the link survives whole."""
    title = " ".join(["Headline"] * 80)
    post = only_post("mastodon", article(title=title, tags=("Tag",)))
    assert post.split("\n\n")[0].endswith("…")
    assert URL in post
    assert measure_mastodon.mastodon_length(post) <= 500


def test_link_counts_23_on_x_and_mastodon_whatever_its_length() -> None:
    """A 300-character URL costs 23 on X and Mastodon, so the summary keeps its room."""
    long_url = "https://www.example.com/" + "a" * 300
    x_post = only_post("x", article(url=long_url))
    assert long_url in x_post
    assert measure_x.x_length(x_post) <= 280
    m_post = only_post("mastodon", article(url=long_url))
    assert long_url in m_post
    assert measure_mastodon.mastodon_length(m_post) <= 500


def test_mastodon_limit_follows_the_instance() -> None:
    """A 5000-character instance gets the whole summary; the default 500 does not."""
    long_summary = " ".join(f"Sentence number {i} is here." for i in range(40))
    big = compose_platform(article(summary=long_summary), "mastodon", ComposeOptions(limit=5000))
    small = compose_platform(article(summary=long_summary), "mastodon", ComposeOptions())
    assert big.limit == 5000 and small.limit == 500
    assert "Sentence number 39 is here." in big.posts[0].text
    assert "Sentence number 39 is here." not in small.posts[0].text


def test_bluesky_link_shortened_with_full_url_in_facet_and_card() -> None:
    """Bluesky shows a short link; its facet and the link card carry the full URL."""
    plan = compose_platform(article(image="https://news.example.com/card.png"), "bluesky")
    post = plan.posts[0]
    assert URL not in post.text
    assert text.graphemes(post.text) <= 300
    links = [f for f in post.facets if f["features"][0]["$type"] == "app.bsky.richtext.facet#link"]
    assert len(links) == 1 and links[0]["features"][0]["uri"] == URL
    shown = post.text.encode()[links[0]["index"]["byteStart"]: links[0]["index"]["byteEnd"]].decode()
    assert shown == text.shorten_url_for_display(URL)
    assert post.to_json(platforms.get("bluesky"))["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {"uri": URL, "title": "Microsoft and OpenAI loosen their partnership",
                     "description": SUMMARY},
    }
    assert post.card is not None and post.card.thumb_url == "https://news.example.com/card.png"
    tags = [f["features"][0]["tag"] for f in post.facets if f["features"][0]["$type"].endswith("#tag")]
    assert tags and all(f"#{t}" in post.text for t in tags)


def test_bluesky_tags_that_do_not_fit_go_to_record_tags() -> None:
    """Hashtags beyond what the text holds go to the record's tags field, at most 8."""
    tags = tuple(f"Topic{i}" for i in range(20))
    post = compose_platform(article(tags=tags), "bluesky").posts[0]
    in_text = {t for t in tags if f"#{t}" in post.text}
    assert len(post.tags) == 8
    assert not in_text & set(post.tags)
    assert post.tags == tuple(t for t in tags if t not in in_text)[:8]


def test_link_policy_reply_and_omit() -> None:
    """'reply' puts the link in a first reply; 'omit' leaves it out."""
    plan = compose_platform(article(), "x", ComposeOptions(link="reply"))
    assert len(plan.posts) == 2
    assert URL not in plan.posts[0].text and URL in plan.posts[1].text
    assert plan.posts[0].text.endswith("1/2") and plan.posts[1].text.endswith("2/2")
    omitted = compose_platform(article(), "x", ComposeOptions(link="omit"))
    assert URL not in omitted.posts[0].text
    with pytest.raises(ConfigError):
        ComposeOptions(link="sometimes")


def test_utm_parameters_per_platform() -> None:
    """UTM parameters are added to the link (and replace existing ones of the same name)."""
    a = article(url=URL + "?utm_source=old&id=7")
    post = only_post("mastodon", a, utm=(("utm_source", "mastodon"), ("utm_medium", "social")))
    assert URL + "?id=7&utm_source=mastodon&utm_medium=social" in post


def test_thread_numbered_parts_that_fit() -> None:
    """--thread: part 1 carries title and link, the body follows in numbered parts that each fit."""
    body = "\n\n".join(" ".join(f"Paragraph {p} sentence {s} goes on." for s in range(12)) for p in range(6))
    plan = compose_platform(article(body=body, summary="Lead."), "x", ComposeOptions(thread=True))
    n = len(plan.posts)
    assert n > 3
    for i, post in enumerate(plan.posts, 1):
        assert post.text.endswith(f"{i}/{n}")
        assert measure_x.x_length(post.text) <= 280
        assert post.length == measure_x.x_parse(post.text)[0] and post.safe_length == measure_x.x_length(post.text)
    assert URL in plan.posts[0].text and "Microsoft and OpenAI loosen" in plan.posts[0].text
    assert "Paragraph 0 sentence 0 goes on." in plan.posts[1].text
    joined = " ".join(p.text for p in plan.posts[1:])
    assert "Paragraph 5 sentence 11 goes on." in joined


def test_thread_respects_max_parts() -> None:
    """A body longer than max_parts allows ends its last part with '…'."""
    body = "\n\n".join(" ".join(["word"] * 80) for _ in range(30))
    plan = compose_platform(article(body=body), "bluesky", ComposeOptions(thread=True, max_parts=4))
    assert len(plan.posts) == 4
    assert plan.posts[-1].text.split("\n\n")[0].endswith("…")
    assert all(text.graphemes(p.text) <= 300 for p in plan.posts)


def test_no_url_is_an_input_error() -> None:
    """Without a canonical link the composer refuses (the CLI turns this into exit 2)."""
    with pytest.raises(InputError):
        compose_platform(article(url=None), "x")


def test_templates_can_be_overridden(tmp_path: Path) -> None:
    """A templates directory replaces the built-in templates."""
    for name in platforms.names():
        (tmp_path / f"{name}.j2").write_text("New post: {{ title }}\n\n{{ link }}\n", encoding="utf-8")
    plan = compose(article(), [("x", "default", ComposeOptions())], templates_dir=tmp_path)
    assert plan.platforms[0].posts[0].text == f"New post: {article().title}\n\n{URL}"


def test_broken_template_is_a_config_error(tmp_path: Path) -> None:
    """A template with a syntax error is reported as configuration, with its line."""
    (tmp_path / "x.j2").write_text("{{ title \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line"):
        compose(article(), [("x", "default", ComposeOptions())], templates_dir=tmp_path)


def test_sentences_split_latin_and_cjk() -> None:
    """Sentence splitting keeps punctuation and handles CJK full stops."""
    assert sentences("One. Two! Three?") == ["One.", "Two!", "Three?"]
    assert sentences("これは文です。次の文です。") == ["これは文です。", "次の文です。"]


def test_plan_json_has_the_design_shape() -> None:
    """The dry-run JSON has exactly the keys DESIGN.md documents."""
    options = ComposeOptions()
    plan = compose(article(), [(p, "default", options) for p in platforms.names()]).to_json()
    assert set(plan) == {"article", "platforms"}
    assert set(plan["article"]) == {"title", "url", "tags", "lang"}
    for entry in plan["platforms"]:
        assert set(entry) == {"platform", "account", "limit", "posts"}
        for post in entry["posts"]:
            rules = platforms.get(entry["platform"])
            expected = {"text", "length"} | ({"facets"} if rules.shortens_links else set())
            expected |= {"embed"} if rules.card else set()  # the article has a link: a card where one is declared
            expected |= {"safe_length"} if rules.own_measure else set()  # an added field, see the README
            assert set(post) == expected
