"""Judge composed plans: the platforms' own code (tests/judge/judge.mjs under node) plus editorial rules.

Nothing here uses bot.text: X is judged by npm twitter-text 3.1.0, Bluesky by @atproto/api's
RichText, Mastodon by :func:`mastodon_length` below (Mastodon's StatusLengthValidator re-written
here: URLs found by twitter-text's extractor count 23, ``@user@domain`` counts as ``@user``, the
rest in grapheme clusters). The editorial rules are in :func:`judge_plan`; each failure names its
class, so the corpus test can group them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

JUDGE_DIR = Path(__file__).resolve().parent.parent / "judge"
INSTALL_TIMEOUT = 300.0
X_LIMIT, BLUESKY_GRAPHEMES, BLUESKY_BYTES, MASTODON_LIMIT, MASTODON_URL = 280, 300, 3000, 500, 23
LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"
MENTION = "app.bsky.richtext.facet#mention"

# Mastodon's Account::MENTION_RE (app/models/account.rb), in Python's regex dialect.
MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@((?i:[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?)", regex.VERSION0
)
# A hashtag as a reader sees one (any platform): '#' or the full-width '＃' after a space or the start.
HASHTAG = regex.compile(r"(?:(?<=^)|(?<=[\s(]))[#＃]([\p{L}\p{M}\p{N}_]*[\p{L}\p{M}][\p{L}\p{M}\p{N}_]*)")
# Something a reader takes for a link: a scheme, or a dotted domain not right after a word character,
# "@", ".", "-" or "/" (twitter-text's invalid preceding characters: "@bob-dev.bsky.social" is a
# handle, "dev.bsky.social" in it is no link on any platform).
URLISH = regex.compile(r"https?://\S+|(?<![\w@.\-/])(?:[\w-]+\.)+[a-z]{2,}(?:/\S*)?", regex.IGNORECASE)
PART_NUMBER = regex.compile(r"\n*\d+/\d+\s*$")


class JudgeUnavailable(Exception):
    """node or the judge's npm packages are missing; ``str()`` says why."""


def install_judge() -> None:
    """Run tests/judge/install.sh (a no-op when node_modules matches the lock file)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise JudgeUnavailable("node/npm not found on PATH: the corpus judge needs Node.js 18+ and npm")
    try:
        done = subprocess.run(
            ["bash", str(JUDGE_DIR / "install.sh")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise JudgeUnavailable(f"tests/judge/install.sh took more than {INSTALL_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise JudgeUnavailable(
            f"tests/judge/install.sh failed (exit {done.returncode}): {(done.stdout + done.stderr)[-2000:]}"
        )


def run_judge(requests: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Answers of judge.mjs for (judge, text) pairs, in order: one node process for the whole batch."""
    lines = "".join(
        json.dumps({"id": i, "judge": j, "text": t}, ensure_ascii=False) + "\n" for i, (j, t) in enumerate(requests)
    )
    done = subprocess.run(
        ["node", "judge.mjs"], cwd=JUDGE_DIR, input=lines.encode("utf-8"), capture_output=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise JudgeUnavailable(f"judge.mjs exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    answers = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines() if line.strip()]
    if len(answers) != len(requests) or any("error" in a for a in answers):
        bad = next(
            (a for a in answers if "error" in a), {"error": f"{len(answers)} answers to {len(requests)} requests"}
        )
        raise JudgeUnavailable(f"judge.mjs did not answer every request: {bad['error']}")
    return answers


class Oracle:
    """Memoised judge answers: ``ask`` queues texts, ``settle`` runs node once, ``get`` reads."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], None] = {}
        self._answers: dict[tuple[str, str], dict[str, Any]] = {}

    def ask(self, judge: str, text: str) -> None:
        if (judge, text) not in self._answers:
            self._pending[(judge, text)] = None

    def settle(self) -> None:
        keys = list(self._pending)
        self._pending.clear()
        if keys:
            self._answers.update(zip(keys, run_judge(keys), strict=True))

    def get(self, judge: str, text: str) -> dict[str, Any]:
        return self._answers[(judge, text)]


# Mastodon's config/initializers/twitter_regex.rb widens twitter-text's URL path: any character but
# white space, <>()? (or balanced parentheses), ending on one that is not ASCII punctuation.
_M_GENERAL = r"[^\s<>()?]"
_M_BALANCED = r"\((?:[^\s<>()?]+|\([^\s<>()?]*\))*\)"
_M_ENDING = r"[^\s()?!*\"'「」<>;:=,.$%\[\]~&|@]"
MASTODON_PATH = regex.compile(rf"/(?:(?:{_M_GENERAL}|{_M_BALANCED})*(?:{_M_BALANCED}|{_M_ENDING}))?", regex.VERSION0)
MASTODON_QUERY = regex.compile(r"\?(?:[^\s<>()]*[^\s()?!*\"'「」<>;:=,.$%\[\]~&|@])?", regex.VERSION0)


def mastodon_url_spans(text: str, twitter_spans: Iterable[Sequence[Any]]) -> list[tuple[int, int, str]]:
    """twitter-text's URLs (with a scheme), each path re-read with Mastodon's wider path rule."""
    spans = []
    for start, end, url in twitter_spans:
        host_end = text.find("/", text.find("://", start) + 3)
        query = url.find("?")
        if query >= 0:
            match = MASTODON_QUERY.match(text, start + query)
        elif 0 <= host_end < end + 1:
            match = MASTODON_PATH.match(text, host_end)
        else:
            match = None
        if match is not None and match.end() > end:
            end = match.end()
        spans.append((start, end, text[start:end]))
    return spans


def mastodon_length(text: str, url_spans: Iterable[Sequence[Any]]) -> int:
    """Mastodon's StatusLengthValidator: URL entities count 23, mentions as @user, the rest in graphemes."""
    if not text.strip():
        return 0
    entities = [(s, e, "x" * MASTODON_URL) for s, e, _ in url_spans]
    entities += [(m.start(), m.end(), "@" + m.group(1).split("@")[0]) for m in MASTODON_MENTION.finditer(text)]
    entities.sort()
    out, position = [], 0
    for start, end, replacement in entities:
        if start < position:
            continue
        out += [text[position:start], replacement]
        position = end
    out.append(text[position:])
    return len(regex.findall(r"\X", "".join(out)))


def tag_key(tag: str) -> str:
    """How the platforms compare hashtags: width- and case-insensitively."""
    return unicodedata.normalize("NFKC", tag).casefold()


@dataclass(frozen=True)
class Failure:
    kind: str
    seed: int
    fmt: str
    platform: str  # "x", "x/thread", ... or "load"
    post: int  # 1-based; 0 for the whole plan
    detail: str
    text: str = ""


# The platforms these judges know, each with the oracle that reads its posts: the platforms' own code
# (twitter-text, atproto's RichText) and the reader's view of links for Mastodon. Threads and LinkedIn
# have no published parser to run here; their sandboxes judge the same corpus with their own count
# (tests/test_corpus_publish.py, parametrised over the registry).
JUDGES = {"x": "x", "bluesky": "bluesky", "mastodon": "urls"}


@dataclass
class Case:
    """One composed plan to judge: the platform's posts and what the article said."""

    seed: int
    fmt: str
    platform: str
    thread: bool
    canonical: str
    title: str
    summary: str
    sources: tuple[str, ...]  # the article's title, summary and body: where other URLs may come from
    mentions: tuple[tuple[str, str], ...]
    posts: list[dict[str, Any]] = field(default_factory=list)  # {"text", "length", "facets"}

    @property
    def label(self) -> str:
        return self.platform + ("/thread" if self.thread else "")

    def ask(self, oracle: Oracle) -> None:
        judge = JUDGES[self.platform]
        for post in self.posts:
            oracle.ask(judge, post["text"])
        for source in self.sources:
            oracle.ask(judge, source)


def _dupes(tags: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice = []
    for tag in tags:
        key = tag_key(tag)
        if key in seen:
            twice.append(tag)
        seen.add(key)
    return twice


def _platform_hashtags(case: Case, oracle: Oracle, text: str) -> list[str]:
    """The hashtags the platform's own detector finds (Mastodon's is not run: the reader's view judges it)."""
    if case.platform == "x":
        return [h for _, _, h in oracle.get("x", text)["hashtags"]]
    if case.platform == "bluesky":
        return [x["tag"] for f in oracle.get("bluesky", text)["facets"] for x in f["features"] if x["$type"] == TAG]
    return []


def _added_twice(case: Case, oracle: Oracle, index: int, text: str, detected: list[str]) -> str | None:
    """A hashtag the composer wrote a second time into a post, or None.

    The rule is about what we add (appended tags, a tag made a hashtag in place), never about the
    author's own words: a summary that itself says ``Learn #Rust today.`` twice is posted as written
    (the composer never rewrites an author's text). So an appended tag (the last block of the first
    post) may not be in the post anywhere else, and no other hashtag may occur more often in a post
    than the author wrote it in the text it comes from (the title and summary together, or one source).
    """
    detectors: list[Callable[[str], list[str]]] = [lambda t: HASHTAG.findall(t)]
    if case.platform != "mastodon":
        detectors.append(lambda t: _platform_hashtags(case, oracle, t))
    blocks = PART_NUMBER.sub("", text).rsplit("\n\n", 1)
    appended = []
    if index == 1 and len(blocks) == 2 and regex.fullmatch(r"(?:[#＃]\S+\s*)+", blocks[1]):
        appended = HASHTAG.findall(blocks[1])
    before = [tag_key(h) for h in HASHTAG.findall(blocks[0])] if appended else []
    twice = _dupes(appended)
    if twice or any(tag_key(h) in before for h in appended):
        return (twice or [h for h in appended if tag_key(h) in before])[0]
    head = [s for s in case.sources if " ".join(s.split()) in (case.title, case.summary)]
    for found, tags in zip(detectors, (HASHTAG.findall(text), detected), strict=False):
        in_post = Counter(tag_key(h) for h in tags)
        written: Counter[str] = Counter()
        for group in [head, *([s] for s in case.sources)]:
            written |= sum((Counter(tag_key(h) for h in found(s)) for s in group), Counter())
        for key, count in in_post.items():
            if count > 1 and count > written[key]:
                return key
    return None


def _urls(case: Case, oracle: Oracle, text: str) -> list[tuple[int, int, str]]:
    """URLs the platform's own detector finds in ``text``, as (start, end, url) in code points."""
    if case.platform == "bluesky":
        raw = text.encode("utf-8")
        found = []
        for facet in oracle.get("bluesky", text)["facets"]:
            for feature in facet["features"]:
                if feature["$type"] == LINK:
                    start = len(raw[: facet["index"]["byteStart"]].decode("utf-8", "replace"))
                    end = len(raw[: facet["index"]["byteEnd"]].decode("utf-8", "replace"))
                    found.append((start, end, feature["uri"]))
        return found
    if case.platform == "mastodon":
        return mastodon_url_spans(text, oracle.get("urls", text)["urls"])
    return [(s, e, u) for s, e, u in oracle.get("x", text)["urls"]]


def judge_plan(case: Case, oracle: Oracle) -> list[Failure]:
    """Every rule broken by one plan (see the module docstring)."""
    failures: list[Failure] = []

    def fail(kind: str, index: int, detail: str) -> None:
        text = case.posts[index - 1]["text"] if index else ""
        failures.append(Failure(kind, case.seed, case.fmt, case.label, index, detail, text))

    source_urls = {u for s in case.sources for _, _, u in _urls(case, oracle, s)} | _profile_links(case)
    canonical_seen = 0
    for index, post in enumerate(case.posts, 1):
        text: str = post["text"]
        urls = _urls(case, oracle, text)
        ours = [f for f in post.get("facets", ())]
        canonical_ranges = {
            (f["index"]["byteStart"], f["index"]["byteEnd"])
            for f in ours
            if any(x["$type"] == LINK and x.get("uri") == case.canonical for x in f["features"])
        }

        # length, by the platform's own code
        if case.platform == "x":
            answer = oracle.get("x", text)
            if answer["weightedLength"] > X_LIMIT or not answer["valid"]:
                fail(
                    "too-long",
                    index,
                    f"twitter-text weightedLength {answer['weightedLength']}, valid={answer['valid']}",
                )
            if post["length"] != answer["weightedLength"]:
                fail("length-differs", index, f"plan says {post['length']}, twitter-text {answer['weightedLength']}")
            canonical_seen += sum(1 for _, _, u in urls if u == case.canonical)
            hashtags = [h for _, _, h in answer["hashtags"]]
        elif case.platform == "bluesky":
            answer = oracle.get("bluesky", text)
            if answer["graphemeLength"] > BLUESKY_GRAPHEMES or answer["byteLength"] > BLUESKY_BYTES:
                fail(
                    "too-long",
                    index,
                    f"RichText graphemeLength {answer['graphemeLength']}, {answer['byteLength']} bytes",
                )
            if post["length"] != answer["graphemeLength"]:
                fail("length-differs", index, f"plan says {post['length']}, RichText {answer['graphemeLength']}")
            canonical_seen += len(canonical_ranges)
            card = (post.get("embed") or {}).get("external", {}).get("uri")
            if canonical_ranges and card != case.canonical:
                fail("link-card", index, f"the post links the canonical link but its card is {card!r}")
            detected = answer["facets"]
            hashtags = [x["tag"] for f in detected for x in f["features"] if x["$type"] == TAG]
            failures.extend(_facet_failures(case, index, text, ours, detected, canonical_ranges))
        else:
            count = mastodon_length(text, urls)
            if count > MASTODON_LIMIT:
                fail("too-long", index, f"Mastodon counts {count}")
            if post["length"] != count:
                fail("length-differs", index, f"plan says {post['length']}, Mastodon counts {count}")
            canonical_seen += sum(1 for _, _, u in urls if u == case.canonical)
            hashtags = []

        # no hashtag twice that we wrote (the platform's detector, and as a reader sees them)
        twice = _added_twice(case, oracle, index, text, hashtags)
        if twice:
            fail("hashtag-twice", index, f"#{twice} again")

        # links: never cut, never glued to "…"
        for start, end, url in urls:
            after = text[end : end + 1]
            if any(start < e and s < end for s, e in (_cp_range(text, r) for r in canonical_ranges)):
                continue  # Bluesky's short display of the canonical link (its facet carries the URL)
            if "…" in url or after == "…":
                fail("ellipsis-glued-to-url", index, f"{url!r} then {after!r}")
            elif url not in source_urls and url != case.canonical:
                fail("link-cut", index, f"{url!r} is not a URL of the article")
        for m in regex.finditer(r"(\S+)…", text):
            if URLISH.search(m.group(1)) and "..." not in m.group(1):
                fail("ellipsis-glued-to-url", index, f"{m.group()!r}")
                break

        if regex.search(r"(?<=\s)…", text):
            fail("ellipsis-after-space", index, "a '…' after a space")
        if regex.search(r"…\s*…|\.\.\.…|…\.\.\.", text):
            fail("double-ellipsis", index, "two ellipses in a row")

        # no post that is only link and tags (or a part number) when the article had words
        rest = PART_NUMBER.sub("", text)
        rest = HASHTAG.sub("", URLISH.sub("", rest))
        if (case.title or case.summary) and not regex.sub(r"[\s\p{P}\p{S}]", "", rest):
            fail("empty-post", index, "only link, hashtags or a part number")

        failures.extend(_mention_failures(case, index, text, ours, oracle))

    if canonical_seen != 1:
        failures.append(
            Failure(
                "canonical-link-count",
                case.seed,
                case.fmt,
                case.label,
                0,
                f"the canonical link ({len(case.canonical)} chars) is found whole {canonical_seen} times",
                "\n---\n".join(p["text"] for p in case.posts),
            )
        )
    failures.extend(_fit_order(case))
    return failures


BLUESKY_PROFILE = "https://bsky.app/profile/"
WORD_JOINER = "\u2060"


def _profile_links(case: Case) -> set[str]:
    """The profile links of the Bluesky handles the article wrote, on the platforms that are not Bluesky.

    The issue asks for a foreign mention to be kept readable but inert, "e.g. turn it into that
    profile's link": ``@carol.bsky.social`` becomes ``https://bsky.app/profile/carol.bsky.social`` on
    X and Mastodon. Such a link is a URL of the article, exactly and only for a handle the article
    wrote: a cut one (``.../carol.bsky``) is still a cut link.
    """
    if case.platform == "bluesky":
        return set()
    return {BLUESKY_PROFILE + token[1:] for network, token in case.mentions if network == "bluesky"}


def as_written(text: str) -> str:
    """``text`` with the inert forms of foreign mentions read back as the author wrote them.

    The composer makes a foreign mention inert (U+2060 after its "@", or a Bluesky handle as its
    profile link); a title or summary so changed is not a cut one.
    """
    text = text.replace(WORD_JOINER, "")
    return regex.sub(regex.escape(BLUESKY_PROFILE) + r"(?=[\w-]+\.)", "@", text)


def _cp_range(text: str, byte_range: tuple[int, int]) -> tuple[int, int]:
    raw = text.encode("utf-8")
    return len(raw[: byte_range[0]].decode("utf-8", "replace")), len(raw[: byte_range[1]].decode("utf-8", "replace"))


def _host(url: str) -> str:
    return regex.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=regex.IGNORECASE).split("/")[0].split("?")[0]


def _display_problem(shown: str, canonical: str) -> str | None:
    """Why ``shown`` is not the canonical link's display text (None when it is).

    The display is the link without its scheme and "www.": whole, or its start with the host whole,
    then "...". Where the host is ASCII, RichText must also detect a link there (a client that reads
    the text again finds the same link). An IDN host (``bücher.example.com``) is shown as written:
    RichText's URL_REGEX (no /u flag) detects no scheme-less Unicode host at all, so no readable short
    form of it could pass; on Bluesky the record's facet is authoritative (the AppView and every client
    render links from facets, the server detects nothing), so for such a host the facet, its bytes
    over exactly this display and the link card (checked in :func:`judge_plan`) are what must be right.
    """
    bare = regex.sub(r"^[a-z][a-z0-9+.-]*://", "", canonical, flags=regex.IGNORECASE)
    if bare[:4].lower() == "www.":
        bare = bare[4:]
    if shown == bare:
        return None
    head = shown.removesuffix("...")
    if head != shown and bare.startswith(head) and len(head) >= len(_host(canonical)):
        return None
    return f"the canonical link's facet is over {shown!r}, not its display"


def _facet_failures(
    case: Case,
    index: int,
    text: str,
    ours: list[dict[str, Any]],
    detected: list[dict[str, Any]],
    canonical_ranges: set[tuple[int, int]],
) -> list[Failure]:
    """Our facets: in order, not overlapping, on character boundaries, and what RichText detects."""
    raw = text.encode("utf-8")
    problems = []
    previous_end = 0
    for facet in ours:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if not 0 <= start < end <= len(raw) or start < previous_end:
            problems.append(f"facet {start}-{end} out of order, overlapping or outside {len(raw)} bytes")
            break
        previous_end = end
        try:
            piece = raw[start:end].decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"facet {start}-{end} cuts a character")
            continue
        for feature in facet["features"]:
            if feature["$type"] == TAG and piece[1:] != feature["tag"]:
                problems.append(f"tag facet {feature['tag']!r} over {piece!r}")
    found = {(f["index"]["byteStart"], f["index"]["byteEnd"]): f["features"] for f in detected}
    for rng in canonical_ranges:
        shown = raw[rng[0] : rng[1]].decode("utf-8", "replace")
        problem = _display_problem(shown, case.canonical)
        # The display text may end in "..." that RichText leaves out of the link: same start, within ours.
        if (
            problem is None
            and _host(case.canonical).isascii()
            and not any(
                s == rng[0] and e <= rng[1] and any(x["$type"] == LINK for x in fs) for (s, e), fs in found.items()
            )
        ):
            problem = f"RichText finds no link at the canonical link's bytes {rng}"
        if problem is not None:
            return [Failure("canonical-display-undetected", case.seed, case.fmt, case.label, index, problem, text)]
    for facet in ours:
        rng = (facet["index"]["byteStart"], facet["index"]["byteEnd"])
        if rng in canonical_ranges:
            continue
        for feature in facet["features"]:
            if feature["$type"] in (LINK, TAG) and feature not in found.get(rng, ()):
                problems.append(f"our facet {rng} {feature} is not what RichText detects there")
    return [Failure("facets", case.seed, case.fmt, case.label, index, p, text) for p in problems[:1]]


def _mention_failures(case: Case, index: int, text: str, ours: list[dict[str, Any]], oracle: Oracle) -> list[Failure]:
    """A mention written for another network must not be a live mention here."""
    foreign = {tok for net, tok in case.mentions if net != case.platform}
    if not foreign:
        return []
    live: list[str] = []
    if case.platform == "x":
        for start, _end, _name in oracle.get("x", text)["mentions"]:
            live += [tok for tok in foreign if text.startswith(tok, start)]
    elif case.platform == "mastodon":
        # Live: @user@domain, or @user naming a local account (local names have no dots or dashes).
        live += [
            m.group()
            for m in MASTODON_MENTION.finditer(text)
            if m.group() in foreign and ("@" in m.group(1) or regex.fullmatch(r"\w+", m.group(1)))
        ]
    else:
        handles = {tok[1:] for tok in foreign}
        live += [x["did"] for f in ours for x in f["features"] if x["$type"] == MENTION and x.get("did") in handles]
    return (
        [
            Failure(
                "mention-cross-platform",
                case.seed,
                case.fmt,
                case.label,
                index,
                f"{live[0]!r} is a live {case.platform} mention",
                text,
            )
        ]
        if live
        else []
    )


def _fit_order(case: Case) -> list[Failure]:
    """The fitter drops the summary's end, then hashtags, then the title: never the other way round."""
    if not case.posts:
        return []
    text = as_written(case.posts[0]["text"])
    plain = text.replace("#", "").replace("＃", "")
    appended = [h for h in HASHTAG.findall(text.rsplit("\n\n", 1)[-1])] if "\n\n" in text else []
    first_word = next(iter(regex.findall(r"[\p{L}\p{N}]+", case.summary)), "")
    if first_word and first_word not in plain and appended:
        return [
            Failure(
                "fit-order",
                case.seed,
                case.fmt,
                case.label,
                1,
                f"the summary is gone but {len(appended)} hashtags stay",
                text,
            )
        ]
    if case.title and not text.startswith(case.title) and appended:
        return [Failure("fit-order", case.seed, case.fmt, case.label, 1, "the title is cut while hashtags stay", text)]
    return []


def report(failures: Sequence[Failure], plans: int, articles: int) -> str:
    """Failures grouped by class, each with its smallest example (seed, format, platform, text)."""
    by_kind: dict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        by_kind[failure.kind].append(failure)
    lines = [
        f"{len(failures)} failures in {len({(f.seed, f.platform) for f in failures})} of {plans} plans "
        f"({len({f.seed for f in failures})} of {articles} articles):"
    ]
    for kind, group in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        example = min(group, key=lambda f: (len(f.text), f.seed))
        lines.append(
            f"- {kind}: {len(group)} (articles: {len({f.seed for f in group})}); smallest: seed {example.seed} "
            f"({example.fmt}) {example.platform} post {example.post}: {example.detail}"
        )
        if example.text:
            lines.extend("    | " + line for line in example.text[:1200].split("\n"))
    return "\n".join(lines)
