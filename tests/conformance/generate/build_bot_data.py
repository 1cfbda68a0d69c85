"""Regenerate the tables in bot/data/ from the platforms' own packages.

Usage (from the repository root)::

    mkdir -p /tmp/js && (cd /tmp/js && npm init -y && npm install twitter-text@3.1.0 tlds@1.261.0)
    .venv/bin/python tests/conformance/generate/build_bot_data.py /tmp/js/node_modules

What it writes, and from where:

- ``bot/data/twitter_tlds.txt``: twitter-text 3.1.0's TLD list. The list is read from
  ``tests/conformance/twitter-text/tlds.yml`` and checked against the regexes of the npm build,
  together with the characters JavaScript's ``/i`` flag lets stand for each non-ASCII TLD letter.
- ``bot/data/twemoji11.txt``: the emoji regex of twemoji-parser 11.0.2 (what twitter-text 3.1.0's
  ``parseTweet`` counts as one emoji), rewritten from UTF-16 surrogate pairs to code points.
- ``bot/data/x_hashtag_chars.txt``: the code points twitter-text's hashtag rule takes as letters
  (``hashtagAlpha``) and as hashtag characters (``hashtagAlphaNumeric``).
- ``bot/data/atproto_tlds.txt``: the ASCII TLDs of npm ``tlds`` 1.261.0, the list @atproto/api 0.21.0
  checks bare domains against.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "bot" / "data"
HERE = Path(__file__).resolve().parent


def _esc(cp: int) -> str:
    return f"\\U{cp:08X}" if cp > 0xFFFF else f"\\u{cp:04X}"


def twemoji_to_python(js_module: str) -> str:
    """Rewrite twemoji-parser's UTF-16 regex literal as an equivalent code-point regex."""
    match = re.search(r"exports\.default = /(.*)/g;", js_module)
    if match is None:
        raise SystemExit("twemoji-parser regex not found")
    js = match.group(1)
    out: list[str] = []
    i = 0

    def read_u(pos: int) -> tuple[int, int]:
        if js[pos : pos + 2] != "\\u":
            raise SystemExit(f"unexpected token at {pos}: {js[pos : pos + 12]!r}")
        return int(js[pos + 2 : pos + 6], 16), pos + 6

    def pair(hi: int, lo: int) -> int:
        return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)

    while i < len(js):
        if js.startswith("\\u", i):
            value, j = read_u(i)
            if 0xD800 <= value <= 0xDBFF:
                if js.startswith("\\u", j):
                    low, k = read_u(j)
                    out.append(_esc(pair(value, low)))
                    i = k
                    continue
                if js[j] != "[":
                    raise SystemExit(f"lone high surrogate at {i}")
                k = j + 1
                items: list[str] = []
                while js[k] != "]":
                    low, k = read_u(k)
                    if js[k] == "-":
                        high, k = read_u(k + 1)
                        items.append(_esc(pair(value, low)) + "-" + _esc(pair(value, high)))
                    else:
                        items.append(_esc(pair(value, low)))
                out.append("[" + "".join(items) + "]")
                i = k + 1
                continue
            if 0xDC00 <= value <= 0xDFFF:
                raise SystemExit(f"lone low surrogate at {i}")
            out.append(_esc(value))
            i = j
            continue
        if js[i] == "\\":
            out.append(js[i : i + 2])
            i += 2
            continue
        out.append(_esc(ord(js[i])) if ord(js[i]) > 127 else js[i])
        i += 1
    python = "".join(out)
    re.compile(python)
    return python


def first_chars(pattern: str) -> str:
    """A character class of every code point a match of ``pattern`` can start with.

    bot/twitter_text.py scans for these first and tries the emoji regex only there, which gives
    the same matches as ``finditer`` (no emoji can start elsewhere) at a fraction of the cost.
    """
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def first(seq: list[tuple[object, object]]) -> tuple[set[tuple[int, int]], bool]:
        chars: set[tuple[int, int]] = set()
        for op, arg in seq:
            if op is c.LITERAL:
                chars.add((arg, arg))  # type: ignore[arg-type]
                return chars, False
            if op is c.IN:
                for item_op, item in arg:  # type: ignore[union-attr]
                    if item_op is c.LITERAL:
                        chars.add((item, item))
                    elif item_op is c.RANGE:
                        chars.add(tuple(item))
                    else:
                        raise SystemExit(f"unsupported class item {item_op}")
                return chars, False
            if op is c.SUBPATTERN:
                sub, nullable = first(list(arg[3]))  # type: ignore[index]
            elif op is c.BRANCH:
                sub, nullable = set(), False
                for branch in arg[1]:  # type: ignore[index]
                    branch_chars, branch_nullable = first(list(branch))
                    sub |= branch_chars
                    nullable = nullable or branch_nullable
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                sub, nullable = first(list(arg[2]))  # type: ignore[index]
                nullable = nullable or arg[0] == 0  # type: ignore[index]
            elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):
                continue
            else:
                raise SystemExit(f"unsupported op {op}")
            chars |= sub
            if not nullable:
                return chars, False
        return chars, True

    chars, nullable = first(list(_parser.parse(pattern)))
    if nullable:
        raise SystemExit("the emoji regex can match the empty string")
    # Python's engine tests a class with astral ranges range by range; one astral range (a superset,
    # which is safe: the full regex still decides) keeps the class a fast bitmap lookup.
    astral = [pair for pair in chars if pair[1] > 0xFFFF]
    chars = {pair for pair in chars if pair[1] <= 0xFFFF}
    if astral:
        chars.add((min(a for a, _ in astral), max(b for _, b in astral)))
    merged: list[list[int]] = []
    for a, b in sorted(chars):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return "[" + "".join(_esc(a) if a == b else _esc(a) + "-" + _esc(b) for a, b in merged) + "]"


def _ranges(pairs: list[list[int]]) -> str:
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in pairs)


def main(node_modules: str) -> None:
    env = dict(os.environ, NODE_PATH=node_modules)
    raw = subprocess.run(
        ["node", str(HERE / "js_tables.js")], env=env, check=True, capture_output=True, text=True
    ).stdout
    tables = json.loads(raw)

    conformance = yaml.safe_load((ROOT / "tests/conformance/twitter-text/tlds.yml").read_text("utf-8"))
    generic = [case["text"].split(".", 1)[1] for case in conformance["tests"]["generic"]]
    country = [case["text"].split(".", 1)[1] for case in conformance["tests"]["country"]]
    if set(generic) != set(tables["gtld"]) or set(country) != set(tables["cctld"]):
        raise SystemExit("tlds.yml and the twitter-text build disagree")

    lines = [
        f"# twitter-text {tables['twitter_text_version']}: the TLDs a URL must end in (generic and country),",
        "# from tests/conformance/twitter-text/tlds.yml. Apache-2.0, Copyright Twitter, Inc. (NOTICE.md).",
        "# '~C VARIANTS': the characters JavaScript's /i flag lets stand for the TLD letter C.",
    ]
    lines += [f"~{char} {variants}" for char, variants in sorted(tables["variants"].items())]
    lines += sorted(set(generic) | set(country))
    (DATA / "twitter_tlds.txt").write_text("\n".join(lines) + "\n", "utf-8")

    emoji = twemoji_to_python(tables["twemoji_source"])
    (DATA / "twemoji11.txt").write_text(
        f"# twemoji-parser {tables['twemoji_parser_version']} emoji regex (MIT, Copyright Twitter, Inc.;"
        " NOTICE.md),\n# rewritten from UTF-16 surrogate pairs to code points by build_bot_data.py;"
        " then the class of\n# characters a match can start with.\n"
        + emoji
        + "\n"
        + first_chars(emoji)
        + "\n",
        "utf-8",
    )

    (DATA / "x_hashtag_chars.txt").write_text(
        f"# twitter-text {tables['twitter_text_version']} hashtag characters as code point ranges (hex).\n"
        "# alpha = hashtagAlpha (a hashtag needs one), alnum = hashtagAlphaNumeric (what it may hold).\n"
        f"alpha {_ranges(tables['hashtag_alpha'])}\n"
        f"alnum {_ranges(tables['hashtag_alnum'])}\n",
        "utf-8",
    )

    ascii_tlds = sorted(t for t in tables["atproto_tlds"] if re.fullmatch(r"[a-z0-9-]+", t))
    (DATA / "atproto_tlds.txt").write_text(
        f"# npm tlds {tables['tlds_version']} (MIT, Copyright Stephen Mathieson; NOTICE.md),"
        " ASCII entries only:\n"
        "# @atproto/api's detectFacets accepts a bare domain when its last label is one of these.\n"
        + "\n".join(ascii_tlds)
        + "\n",
        "utf-8",
    )
    print("wrote", ", ".join(p.name for p in sorted(DATA.glob("*.txt"))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/js/node_modules")
