"""A seeded generator of hostile articles in every input format, for tests/test_corpus.py.

``generate(seed)`` always gives the same article for the same seed: its format, the raw bytes a
user or a CMS would hand to crosspost, and the ``Spec`` it was built from (what the author meant:
title, summary, tags, canonical link, the mentions it wrote in each network's style). The bytes go
through the public loader (``bot.load.parse_article``), exactly as ``crosspost post --dry-run`` reads
a file, so the corpus tests the loaders and the composer together.

Ingredients, mixed at random into titles, summaries and bodies: emoji ZWJ sequences, flags, skin
tones, keycaps and emoji newer than twitter-text's list; bare ® and ©; CJK and Thai (no spaces
between words); Arabic and Hebrew with Latin islands; zalgo (stacked combining marks); URLs bare,
in parentheses, with IDN hosts and with trailing punctuation; mentions in X, Bluesky and Mastodon
style; 0 to 60 tags (case and width variants of each other among them); canonical links up to
1,500 characters; summaries that already write some tags as #hashtags (also as ＃ and in another
case); words that end in "…".
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass

import yaml

FORMATS = ("text", "markdown", "html", "ghost", "wordpress", "generic")

WORDS = [
    "the",
    "cloud",
    "deal",
    "changes",
    "how",
    "models",
    "ship",
    "across",
    "regions",
    "and",
    "teams",
    "while",
    "prices",
    "fall",
    "for",
    "everyone",
    "who",
    "builds",
    "small",
    "tools",
    "on",
    "open",
    "standards",
    "with",
    "careful",
    "tests",
    "and",
    "honest",
    "benchmarks",
    "measured",
    "every",
    "week",
]
EMOJI = ("👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️", "🇵🇹", "🇯🇵", "🇺🇦", "👍🏽", "🫠", "🪿", "🫶🏾", "1️⃣", "❤️‍🔥", "🧑🏿‍🚀")
SYMBOLS = ("®", "©", "™", "°C", "½", "→")
CJK = (
    "東京で会議が開かれた。",
    "人工知能の研究が進む",
    "数据中心的能源消耗",
    "서울에서 만나요",
    "クラウドの新しい契約",
)
THAI = ("ภาษาไทยไม่มีช่องว่างระหว่างคำ", "ปัญญาประดิษฐ์กำลังเปลี่ยนโลก")
RTL = (
    "مرحبا بالعالم API v2 جديد",
    "שלום GitHub Actions עולם",
    "الذكاء الاصطناعي OpenAI و Microsoft",
    "עדכון iOS 18 זמין",
)
ZALGO_MARKS = "\u0300\u0301\u0302\u0303\u0308\u030a\u0323\u0327\u0336\u0337\u0345\u035c\u0361"
ELLIPSIS_WORDS = ("and so on…", "wait for it…", "more soon…", "etc…", "to be continued…")
URLS = (
    "https://conf.example.org/2026/lisbon?session=keynote&lang=en",
    "https://shop.example.net/p/123?utm_source=x&utm_medium=social",
    "https://en.example.org/wiki/Cloud_(computing)",
    "https://bücher.example.com/neu/straße",
    "https://xn--bcher-kva.example.com/liste",
    "https://münchen.example.de/events?tag=ki",
    "https://docs.example.io/api/v2/reference#section-4",
    "http://old.example.com/path/to/a/very/long/page/with/many/segments/index.html",
)
URL_WRAPS = ("{u}", "({u})", "{u}.", "{u},", "{u}!", "{u}?", "“{u}”", "[{u}]", "{u}:")
MENTION_NAMES = ("alice", "bob_dev", "carol", "dan99", "eve")
MASTODON_HOSTS = ("mastodon.example", "fosstodon.example", "hachyderm.example")
TAG_POOL = (
    "Python",
    "python",
    "ＰＹＴＨＯＮ",
    "ai",
    "AI",
    "OpenAI",
    "openai",
    "Microsoft",
    "cloud computing",
    "C++",
    "C#",
    ".NET",
    "machine-learning",
    "東京",
    "ภาษาไทย",
    "العربية",
    "Rust",
    "rust",
    "DevOps",
    "open source",
    "WebAssembly",
    "k8s",
    "2026",
    "#Already",
    "LLM",
    "data",
    "Data",
    "ＡＩ",
    "café",
    "Café",
    "emoji🙂",
    "a" * 70,
    "Security",
    "privacy",
    "Privacy",
)


@dataclass(frozen=True)
class Spec:
    """What the author wrote, before any format wrapped it."""

    title: str
    summary: str
    body: str
    tags: tuple[str, ...]
    url: str
    mentions: tuple[tuple[str, str], ...]  # (network, token as written), network in x/bluesky/mastodon


@dataclass(frozen=True)
class Generated:
    """One article of the corpus: the seed that made it, its format, its raw bytes, its Spec."""

    seed: int
    fmt: str
    data: bytes
    spec: Spec

    @property
    def origin(self) -> str:
        """A file name with the format's extension, as a user would pass to ``crosspost post``."""
        ext = {"text": "txt", "markdown": "md", "html": "html"}.get(self.fmt, "json")
        return f"corpus-{self.seed}.{ext}"


class _Writer:
    """The random choices for one article (one ``random.Random`` per seed, nothing global)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mentions: list[tuple[str, str]] = []

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(count))

    def zalgo(self, word: str) -> str:
        return "".join(c + "".join(self.rng.choices(ZALGO_MARKS, k=self.rng.randint(1, 6))) for c in word)

    def url(self) -> str:
        return self.rng.choice(URL_WRAPS).format(u=self.rng.choice(URLS))

    def mention(self) -> str:
        name = self.rng.choice(MENTION_NAMES)
        network = self.rng.choice(("x", "bluesky", "mastodon"))
        token = {
            "x": f"@{name}",
            "bluesky": f"@{name.replace('_', '-')}.bsky.social",
            "mastodon": f"@{name}@{self.rng.choice(MASTODON_HOSTS)}",
        }[network]
        self.mentions.append((network, token))
        return token

    def ingredient(self) -> str:
        kind = self.rng.choice(
            ("emoji", "symbol", "cjk", "thai", "rtl", "zalgo", "url", "mention", "ellipsis", "words")
        )
        if kind == "emoji":
            return "".join(self.rng.choices(EMOJI, k=self.rng.randint(1, 3)))
        if kind == "symbol":
            return self.rng.choice(SYMBOLS)
        if kind == "cjk":
            return self.rng.choice(CJK)
        if kind == "thai":
            return self.rng.choice(THAI)
        if kind == "rtl":
            return self.rng.choice(RTL)
        if kind == "zalgo":
            return self.zalgo(self.rng.choice(WORDS))
        if kind == "url":
            return self.url()
        if kind == "mention":
            return self.mention()
        if kind == "ellipsis":
            return self.rng.choice(ELLIPSIS_WORDS)
        return self.words(self.rng.randint(1, 4))

    def sentence(self, spice: float) -> str:
        parts = []
        for _ in range(self.rng.randint(3, 12)):
            parts.append(self.ingredient() if self.rng.random() < spice else self.words(1))
        text = " ".join(parts)
        if not text.endswith(("…", ".", "!", "?", "。")):
            text += self.rng.choice((".", ".", "!", "?"))
        return text[0].upper() + text[1:]

    def title(self) -> str:
        if self.rng.random() < 0.08:
            return ""
        size = self.rng.choice((3, 6, 9, 14, 41))
        parts = [self.ingredient() if self.rng.random() < 0.25 else self.words(1) for _ in range(size)]
        text = " ".join(parts).rstrip(".!?")
        return text[0].upper() + text[1:]

    def tags(self) -> tuple[str, ...]:
        count = self.rng.choice((0, 0, 1, 3, 5, 8, 12, 25, 60))
        return tuple(self.rng.choice(TAG_POOL) for _ in range(count))

    def summary(self, tags: tuple[str, ...]) -> str:
        if self.rng.random() < 0.06:
            return ""
        sentences = [self.sentence(0.3) for _ in range(self.rng.randint(1, 5))]
        if tags and self.rng.random() < 0.5:
            # the author already wrote some tags as hashtags (in another case or width, too)
            for tag in self.rng.sample(tags, k=min(len(tags), self.rng.randint(1, 3))):
                word = tag.replace(" ", "")
                if not word.replace("-", "").isalnum():
                    continue
                word = self.rng.choice((word, word.lower(), word.upper()))
                sign = self.rng.choice(("#", "#", "＃"))
                sentences.insert(self.rng.randint(0, len(sentences)), f"Learn {sign}{word} today.")
        return " ".join(sentences)

    def body(self) -> str:
        if self.rng.random() < 0.15:
            return ""
        paragraphs = []
        for _ in range(self.rng.randint(1, 8)):
            paragraphs.append(" ".join(self.sentence(0.35) for _ in range(self.rng.randint(1, 6))))
        if self.rng.random() < 0.2:
            # one URL longer than any post, which a thread must never split
            paragraphs.append("Read the dump at " + self.long_url(self.rng.randint(400, 900)) + " first.")
        return "\n\n".join(paragraphs)

    def long_url(self, size: int) -> str:
        base = f"https://archive.example.com/{self.rng.randint(2000, 2026)}/report?q="
        return base + "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789-_", k=max(1, size - len(base))))

    def canonical(self) -> str:
        pick = self.rng.random()
        slug = "-".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(2, 8)))
        if pick < 0.15:
            return self.long_url(self.rng.randint(300, 1500))
        if pick < 0.25:
            return f"https://bücher.example.com/2026/{slug}/"
        if pick < 0.32:
            return f"https://en.example.org/wiki/{slug}_(article)"
        if pick < 0.40:
            return f"https://blog.example.com/{slug}?ref=feed&id={self.rng.randint(1, 10**6)}"
        return f"https://blog.example.com/2026/05/{slug}/"


def _spec(writer: _Writer) -> Spec:
    tags = writer.tags()
    title = writer.title()
    summary = writer.summary(tags)
    if not title and not summary:
        summary = writer.sentence(0.3)
    body = writer.body()
    return Spec(title, summary, body, tags, writer.canonical(), tuple(writer.mentions))


def _paragraphs_html(body: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>\n" for p in body.split("\n\n") if p)


def _encode(fmt: str, spec: Spec, seed: int, rng: random.Random) -> bytes:
    if fmt == "text":
        # The dry run's --url and --tag carry link and tags (applied by the corpus test): text has neither.
        parts = [spec.title, spec.summary, spec.body] if spec.title else [spec.summary, spec.body]
        return "\n\n".join(p for p in parts if p).encode("utf-8") + b"\n"
    if fmt == "markdown":
        meta = {"title": spec.title, "canonical_url": spec.url, "summary": spec.summary, "tags": list(spec.tags)}
        front = yaml.safe_dump({k: v for k, v in meta.items() if v}, allow_unicode=True, sort_keys=False, width=10**6)
        return f"---\n{front}---\n\n{spec.body}\n".encode()
    if fmt == "html":
        # Only og:description (no title, no body text): only when there is a summary to describe, or the
        # page would be legitimately empty and rightly refused.
        og_only = rng.random() < 0.1 and bool(spec.summary)
        head = [f'<link rel="canonical" href="{html.escape(spec.url)}">']
        if not og_only and spec.title:
            head += [
                f"<title>{html.escape(spec.title)}</title>",
                f'<meta property="og:title" content="{html.escape(spec.title)}">',
            ]
        if spec.summary:
            head.append(f'<meta property="og:description" content="{html.escape(spec.summary)}">')
        head += [f'<meta property="article:tag" content="{html.escape(t)}">' for t in spec.tags]
        body = (
            ""
            if og_only
            else (f"<h1>{html.escape(spec.title)}</h1>\n" if spec.title else "") + _paragraphs_html(spec.body)
        )
        doc = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            + "\n".join(head)
            + f"\n</head><body><article>\n{body}</article></body></html>\n"
        )
        return doc.encode("utf-8")
    if fmt == "ghost":
        post = {
            "id": f"{seed:024x}",
            "uuid": f"00000000-0000-4000-8000-{seed:012x}",
            "title": spec.title,
            "slug": f"post-{seed}",
            "html": _paragraphs_html(spec.body),
            "custom_excerpt": spec.summary or None,
            "canonical_url": None,
            "url": spec.url,
            "status": "published",
            "visibility": "public",
            "tags": [{"name": t, "slug": t.lower(), "visibility": "public"} for t in spec.tags],
        }
        return json.dumps({"post": {"current": post, "previous": {}}}, ensure_ascii=rng.random() < 0.5).encode()
    if fmt == "wordpress":
        post = {
            "id": seed,
            "link": spec.url,
            "status": "publish",
            "type": "post",
            "slug": f"post-{seed}",
            "title": {"rendered": html.escape(spec.title)},
            "content": {"rendered": _paragraphs_html(spec.body), "protected": False},
            "excerpt": {
                "rendered": f"<p>{html.escape(spec.summary)}</p>\n" if spec.summary else "",
                "protected": False,
            },
            "_embedded": {"wp:term": [[{"taxonomy": "post_tag", "name": html.escape(t)} for t in spec.tags]]},
        }
        return json.dumps(post, ensure_ascii=rng.random() < 0.5).encode()
    obj = {"title": spec.title, "url": spec.url, "summary": spec.summary, "tags": list(spec.tags), "body": spec.body}
    return json.dumps({k: v for k, v in obj.items() if v}, ensure_ascii=False).encode()


def generate(seed: int) -> Generated:
    """The article of ``seed`` (the format cycles with the seed, so every slice covers all formats)."""
    writer = _Writer(seed)
    spec = _spec(writer)
    fmt = FORMATS[seed % len(FORMATS)]
    return Generated(seed, fmt, _encode(fmt, spec, seed, writer.rng), spec)


def corpus(count: int, first_seed: int = 1) -> list[Generated]:
    """``count`` articles, seeds ``first_seed`` .. ``first_seed + count - 1``."""
    return [generate(seed) for seed in range(first_seed, first_seed + count)]
