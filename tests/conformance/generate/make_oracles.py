"""Record what the official JavaScript libraries answer for a wide corpus, as test fixtures.

Usage (from the repository root, with twitter-text@3.1.0 and @atproto/api@0.21.0 installed)::

    .venv/bin/python tests/conformance/generate/make_oracles.py /tmp/js/node_modules

Writes ``tests/conformance/oracles/x_parse_tweet.json`` (twitter-text ``parseTweet`` with configs
v2 and v3) and ``tests/conformance/oracles/atproto_detect_facets.json`` (@atproto/api
``RichText.detectFacetsWithoutResolution``, mention facets dropped). With ``--mastodon ORACLE.rb``
it also writes ``tests/conformance/oracles/mastodon_length.json`` from a Ruby script that prints,
for a JSON list of texts on stdin, ``[[length, countable_text], ...]`` as Mastodon's
StatusLengthValidator computes them (see SOURCES.md for how that oracle was built). The corpus is
every text of the vendored conformance files plus seeded random mixes of URLs, mentions, emoji,
scripts, hashtags and punctuation, so the fixtures are reproducible.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CONFORMANCE = ROOT / "tests" / "conformance"

URLS = [
    "https://example.com",
    "http://example.com/",
    "https://www.example.com/articles/2026/11/slug?utm_source=x",
    "example.com",
    "www.example.co.uk/path?x=1&y=2#frag",
    "news.example/x",
    "https://news.example/x",
    "https://news.example.com/x",
    "http://t.co/abc123",
    "https://t.co/" + "a" * 45,
    "t.co",
    "it.so",
    "MLB.tv",
    "https://例え.テスト",
    "http://foobar.پاکستان/",
    "xn--80ak6aa92e.com",
    "https://xn--mnchen-3ya.de/x",
    "https://münchen.de/straße",
    "example.com:8080/a",
    "https://example.com:443/",
    "https://en.wikipedia.org/wiki/Primer_(film)",
    "https://example.com/a(b(c)d)e",
    "https://example.com/thing_(cool)",
    "HTTPS://EXAMPLE.COM/A",
    "Example.COM",
    "foo.bar.baz.qux.io",
    "a.b",
    "e.g.",
    "node.js",
    "index.php",
    "sub_domain.example.com",
    "-example.com",
    "_x.example.com",
    "example.com/",
    "example.com.",
    "https://example.com/path.",
    "https://example.com/path,",
    "(https://example.com)",
    "https://example.com/?q=a;b",
    "example.comics",
    "example.com日本",
    "日本example.com",
    "ftp://example.com",
    "mailto:x@example.com",
    "user@example.com",
    "@user@mastodon.social",
    "https://" + "a" * 64 + ".com",
    "https://" + "a" * 63 + ".com/x",
    "https://example.com/" + "p" * 180,
    "https://example.рф",
    "https://example.РФ",
    "https://example.ελ/x",
    "https://example.ΕΛ",
    "https://sub.example.co.jp/パス",
    "example.cat",
    "https://bsky.app/profile/x.bsky.social",
    "https://example.com/@user/",
    "https://example.com/%E2%9C%93?a=%20",
    "example.org/?a=b!",
    "http://localhost:3000",
    "https://192.168.0.1/x",
    "https://example.com/a–b",
    "https://example.com/путь",
    "https://example.com/ĉu",
    "example.xyz/ŝ",
    "https://example.com/#/route",
    "https://gemini.example.com",
    "gemini://example.com/x",
    "example.com/foo.",
    "bsky.app:",
    "website.com.jpg",
    "something-cool.jpg",
    "http://example.com/a'b",
]
EMOJI = [
    "👨‍👩‍👧‍👦",
    "🇫🇷",
    "👍🏽",
    "❤️‍🔥",
    "🧑‍🎄",
    "🧑‍🤝‍🧑",
    "🏳️‍⚧️",
    "🏴‍☠️",
    "1⃣",
    "1️⃣",
    "#️⃣",
    "©",
    "©️",
    "™",
    "☺",
    "☺️",
    "✌🏿",
    "🫠",
    "\ufe0f",
    "\ufe0e",
    "👩🏽‍🦰",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "🦋",
    "😷",
    "🐱",
    "🙋🏽",
    "👨‍🎤",
    "🥱",
    "🧕🏾",
    "⚠️",
    "↩",
    "🔥",
]
WORDS = [
    "hello",
    "Hello,",
    "world.",
    "日本語",
    "故人西辞",
    "مرحبا",
    "שלום",
    "नमस्ते",
    "e\u0301",
    "A\u030a",
    "Å",
    "\u200b",
    "\u200d",
    "\u2066",
    "\u202a",
    "\ufeff",
    "\uffff",
    "—",
    "…",
    "“quoted”",
    "(",
    ")",
    "!",
    "?",
    ":",
    ";",
    ",",
    ".",
    "'",
    '"',
    "/",
    "-",
    "_",
    "@",
    "＠",
    "$",
    "#",
    "&",
    "\t",
    "\u3000",
    "\u00a0",
    "ﬁ",
    "ß",
    "#tag",
    "#1",
    "##x",
    "#️⃣tag",
    "＃tag",
    "#AI",
    "#butter🦋fly",
    "#with,punct",
    "#trailing...",
    "#a\u200bb",
    "$AAPL",
    "$aapl",
    "$TOOLONG",
    "($GOOG)",
    "$100",
    "#" + "a" * 64,
    "#" + "b" * 65,
    "#机器学习",
    "#İstanbul",
]
MENTIONS = [
    "@user",
    "@user@mastodon.social",
    "@user@sub.example.co.uk",
    "x@y.com",
    "@Ünïcödé",
    "@user@例え.jp",
    "=@user",
    "/@user",
    "@user@host.",
    "@user@@host",
    "@üser",
    "@user.name",
    "@user-name",
    "@user_name@instance.social",
    "@user@" + "a" * 260 + ".com",
    "@user://x",
    "@user@host://x",
    "(@user@host.social)",
    "@user@host.social,",
    "＠user",
    "@user@host_social",
    "@user..x",
    "@1user",
    "a@user",
    "@handle.com",
    "@full123-chars.test",
]
MORE_URLS = [
    "gemini://example.com/x",
    "dat://example.com",
    "ipfs://example.com/x",
    "ssb://example.com",
    "gopher://example.com",
    "https://example.com/「x」",
    "https://example.com/?q=日本",
    "https://example.com/a_(b)",
    "https://example.com/a]b",
    "https://example.com/path!",
    "https://example.com/~user/",
    "https://example.com/a?b=c&",
    "https://example.com/a?",
    "http://例え.テスト/x",
    "https://example.com/x\u00a0y",
    "https://xn--80ak6aa92e.com",
    "https://example.com/" + "y" * 4090,
    "https://a.b.c.d.e.f.example.org/",
    "https://example.com:99999/x",
    "Https://Example.Com/X",
    "https://example.com/#frag",
    "https://example.com/<b>",
]
SEPARATORS = [" ", " ", " ", "", "\n", "\r\n", ", ", ". ", " (", ") ", "\u00a0", "\u3000", "\t"]


def corpus(rng: random.Random, count: int) -> list[str]:
    tokens = [t for t in URLS + MORE_URLS + MENTIONS + EMOJI + WORDS if len(t) < 300]  # giants stand alone
    texts = []
    for _ in range(count):
        parts = [rng.choice(tokens) for _ in range(rng.randint(1, 8))]
        text = ""
        for part in parts:
            text += part + rng.choice(SEPARATORS)
        texts.append(text[: rng.randint(1, len(text))] if rng.random() < 0.2 else text)
    return texts


def conformance_texts() -> list[str]:
    texts: list[str] = []
    for name in ("validate.yml", "extract.yml", "tlds.yml"):
        tests = yaml.safe_load((CONFORMANCE / "twitter-text" / name).read_text("utf-8"))["tests"]
        for cases in tests.values():
            texts += [case["text"] for case in cases if isinstance(case.get("text"), str)]
    facets = json.loads((CONFORMANCE / "atproto" / "detect_facets_cases.json").read_text("utf-8"))
    for section in ("segments_cases", "tag_cases", "cashtag_cases"):
        texts += [case["input"] for case in facets[section]]
    return texts


def _write(name: str, source: str, cases: list[dict[str, object]]) -> None:
    """One case per line: compact, and a changed answer shows as a one-line diff."""
    lines = ",\n".join(json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in cases)
    header = json.dumps(source, ensure_ascii=False)
    (CONFORMANCE / "oracles" / name).write_text(f'{{"source":{header},"cases":[\n{lines}\n]}}\n', "utf-8")


def main(node_modules: str, mastodon_oracle: str | None) -> None:
    rng = random.Random(20261126)
    texts = list(
        dict.fromkeys(conformance_texts() + URLS + MORE_URLS + MENTIONS + EMOJI + WORDS + corpus(rng, 2000))
    )
    payload = json.dumps({"x": texts, "bluesky": texts}, ensure_ascii=False)
    env = dict(os.environ, NODE_PATH=node_modules)
    script = Path(__file__).resolve().parent / "oracles.js"
    answers = json.loads(
        subprocess.run(
            ["node", str(script)], input=payload, env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    lengths: list[list[object]] = [[None]] * len(texts)
    if mastodon_oracle:
        lengths = json.loads(
            subprocess.run(
                ["ruby", mastodon_oracle], input=json.dumps(texts), check=True, capture_output=True, text=True
            ).stdout
        )
    cases = []
    for text, x, facets, mastodon in zip(texts, answers["x"], answers["bluesky"], lengths, strict=True):
        compact = [
            [
                f["index"]["byteStart"],
                f["index"]["byteEnd"],
                *(
                    ["link", feat["uri"]] if feat["$type"].endswith("#link") else ["tag", feat["tag"]]
                    for feat in f["features"]
                ),
            ]
            for f in facets
        ]
        cases.append(
            {"text": text, "x_v2": x[:2], "x_v3": x[2:], "bluesky": compact, "mastodon": mastodon[0]}
        )
    (CONFORMANCE / "oracles").mkdir(exist_ok=True)
    _write(
        "corpus.json",
        "Answers of the platforms' own code for each text. x_v2/x_v3: npm twitter-text 3.1.0 parseTweet with "
        "configs version2/version3, [weightedLength, valid]. bluesky: npm @atproto/api 0.21.0 "
        "RichText.detectFacetsWithoutResolution minus mentions, [byteStart, byteEnd, [kind, value]]. "
        "mastodon: "
        "Mastodon 4.x StatusLengthValidator length (twitter-text 3.1.0 Ruby regexes with Mastodon's "
        "twitter_regex.rb, run by Ruby 3.1; see SOURCES.md).",
        cases,
    )
    print(len(texts), "texts")


if __name__ == "__main__":
    args = sys.argv[1:]
    mastodon = args[args.index("--mastodon") + 1] if "--mastodon" in args else None
    positional = [a for a in args if a != "--mastodon" and a != mastodon]
    main(positional[0] if positional else "/tmp/js/node_modules", mastodon)
