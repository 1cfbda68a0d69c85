"""The command line: dry-run output, JSON shape, and one-line errors with exit 2 for every bad input."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import platforms, text
from bot.measure import mastodon as measure_mastodon
from bot.measure import x as measure_x
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "launch-post.md"
SAMPLE_URL = "https://www.nexsouk.com/news/microsoft-openai-loosen-partnership"


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "BLUESKY_", "MASTODON_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin.decode("utf-8", "replace") if stdin else None,
        capture_output=True, text=True, env=full_env, timeout=60, cwd=cwd or ROOT,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_dry_run_json_has_design_shape_and_fits() -> None:
    """--dry-run --json prints the DESIGN.md object with lengths by each platform's measure."""
    proc = run(str(EXAMPLE), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["article"]["url"] == "https://blog.crosspost.dev/2026/11/meet-crosspost/"
    assert [p["platform"] for p in data["platforms"]] == list(platforms.names())
    measures = {"x": measure_x.x_length, "bluesky": text.graphemes, "mastodon": measure_mastodon.mastodon_length}
    for entry in data["platforms"]:
        measure = measures.get(entry["platform"], platforms.get(entry["platform"]).own_length)
        for post in entry["posts"]:
            assert post["length"] == measure(post["text"])
            assert post["length"] <= entry["limit"]


def test_dry_run_readable_shows_length_over_limit() -> None:
    """The human dry run shows each post with length/limit in the platform's unit."""
    proc = run(str(EXAMPLE), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "/280 weighted characters" in proc.stdout
    assert "/300 graphemes" in proc.stdout
    assert "/500 characters" in proc.stdout
    assert "link card:" in proc.stdout


def test_platform_subset_and_tags_and_url_override() -> None:
    """--platform limits the targets, --tag adds hashtags, --url replaces the canonical link."""
    proc = run(str(EXAMPLE), "--dry-run", "--json", "--platform", "mastodon", "--tag", "Release Notes",
               "--url", "https://example.org/elsewhere")
    data = json.loads(proc.stdout)
    assert [p["platform"] for p in data["platforms"]] == ["mastodon"]
    post = data["platforms"][0]["posts"][0]["text"]
    assert "https://example.org/elsewhere" in post
    assert "Release Notes" in data["article"]["tags"]


def test_sample_article_gives_posts_an_editor_would_accept(sample_path: Path) -> None:
    """The real sample: lead of the story, the link, its hashtags; no references, no share boilerplate."""
    proc = run(str(sample_path), "--url", SAMPLE_URL, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for entry in data["platforms"]:
        post = entry["posts"][0]["text"]
        assert "In a significant shift in the tech landscape" in post
        assert "References" not in post and "nytimes" not in post and "Share or Link" not in post
        tags = {t.lower() for t in ("#Microsoft", "#OpenAI")}
        assert all(t in post.lower() for t in tags), post
        if entry["platform"] == "bluesky":
            uris = [f["features"][0].get("uri") for f in entry["posts"][0]["facets"]]
            assert SAMPLE_URL in uris
            assert entry["posts"][0]["embed"]["external"]["uri"] == SAMPLE_URL
        else:
            assert SAMPLE_URL in post


def test_help_has_examples() -> None:
    """--help lists the flags with examples."""
    proc = run("--help")
    assert proc.returncode == 0
    for flag in ("--dry-run", "--json", "--url", "--platform", "--tag", "--thread", "--templates", "--config"):
        assert flag in proc.stdout
    assert "examples:" in proc.stdout


# --- bad input: one line on stderr, exit 2, never a traceback ---------------------------------------

def test_no_canonical_link_is_exit_2(tmp_path: Path) -> None:
    """A plain-text article without --url is refused with a hint."""
    path = tmp_path / "post.txt"
    path.write_text("A title\n\nSome text that is long enough to be a paragraph of an article.\n", encoding="utf-8")
    assert_one_line_error(run(str(path), "--dry-run"), "--url")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.md", b"", "empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("latin1.txt", "Caf\u00e9 cr\u00e8me and more text here".encode("latin-1"), "UTF-8"),
        ("bad-front.md", b"---\ntitle: [unclosed\ntags: : :\n---\nBody text.\n", "front matter"),
        ("bad.json", b'{"title": "x", "url": ', "JSON"),
        ("bad.html", b"<html><body><nav>Home | About</nav><script>var x = 1;</script></body></html>", "html"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    """Empty, binary, non-UTF-8, malformed front matter/JSON/HTML: one line, exit 2."""
    path = tmp_path / name
    path.write_bytes(content)
    proc = run(str(path), "--dry-run", "--url", "https://example.com/a")
    assert_one_line_error(proc)
    assert needle.lower() in proc.stderr.lower()


def test_fifty_megabyte_file_is_refused(tmp_path: Path) -> None:
    """A 50 MB file is refused without being read whole."""
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    assert_one_line_error(run(str(path), "--dry-run", "--url", "https://example.com/a"))


def test_missing_file_and_unknown_platform() -> None:
    """A missing file and an unknown platform are one-line errors."""
    assert_one_line_error(run("/nonexistent/post.md", "--dry-run"), "/nonexistent/post.md")
    assert_one_line_error(run(str(EXAMPLE), "--dry-run", "--platform", "x,myspace"), "myspace")
    assert_one_line_error(run(str(EXAMPLE), "--dry-run", "--url", "ftp://nope"), "--url")


def test_unknown_flag_is_usage_error() -> None:
    """argparse's own errors also come out as one line with exit 2."""
    assert_one_line_error(run(str(EXAMPLE), "--frobnicate"))


@pytest.fixture
def local_server() -> Iterator[str]:
    """A local HTTP server: /missing answers 404, /slow never answers."""
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                stop.wait(10)
                return
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()


def test_url_404_and_timeout_are_one_line_errors(local_server: str) -> None:
    """A URL that 404s or never answers: one line, exit 2."""
    env = {"CROSSPOST_ALLOW_PRIVATE_NETWORK": "1", "CROSSPOST_TIMEOUT": "1"}
    assert_one_line_error(run(f"{local_server}/missing", "--dry-run", env=env), "404")
    assert_one_line_error(run(f"{local_server}/slow", "--dry-run", env=env), "timed out")


def test_private_address_refused_without_opt_in(local_server: str) -> None:
    """Fetching a loopback URL is refused unless private network access is allowed."""
    proc = run(f"{local_server}/missing", "--dry-run")
    assert_one_line_error(proc)
    assert "127.0.0.1" in proc.stderr


def test_bad_config_and_templates_are_one_line_errors(tmp_path: Path) -> None:
    """A broken crosspost.toml or a missing templates directory: one line, exit 2."""
    bad = tmp_path / "crosspost.toml"
    bad.write_text("[compose.x\nlink = 1", encoding="utf-8")
    assert_one_line_error(run(str(EXAMPLE), "--dry-run", "--config", str(bad)), "TOML")
    assert_one_line_error(run(str(EXAMPLE), "--dry-run", "--templates", str(tmp_path / "nope")), "templates")


def test_stdin_article() -> None:
    """'-' reads the article from standard input."""
    payload = json.dumps({"title": "From stdin", "url": "https://example.com/stdin", "summary": "Piped in.",
                          "tags": ["Unix"]}).encode()
    proc = run("-", "--format", "json", "--dry-run", "--json", "--platform", "x", stdin=payload)
    assert proc.returncode == 0, proc.stderr
    post = json.loads(proc.stdout)["platforms"][0]["posts"][0]["text"]
    assert post.startswith("From stdin") and "#Unix" in post


def test_draft_is_not_published_even_with_force(tmp_path: Path) -> None:
    """A front-matter draft is refused for publishing (exit 2), --force does not change that; a dry run shows it."""
    path = tmp_path / "draft.md"
    path.write_text("---\ntitle: Not yet\nurl: https://example.com/n\ndraft: true\n---\nBody.\n", encoding="utf-8")
    assert_one_line_error(run(str(path)), "draft", "--publish-draft")
    assert_one_line_error(run(str(path), "--force"), "draft")
    assert run(str(path), "--dry-run").returncode == 0
