"""Bad input, format choice, stdin and the import cost of ``bot.load``."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.errors import InputError
from bot.load import MAX_ARTICLE_BYTES, load_article, parse_article

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
ROOT = Path(__file__).resolve().parent.parent


def _error(source: str, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        load_article(source, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist says so, naming the path."""
    path = tmp_path / "nope.md"
    assert _error(str(path)) == f"{path}: no such file"


def test_directory(tmp_path: Path) -> None:
    """A directory is refused with the way out."""
    assert _error(str(tmp_path)) == f"{tmp_path}: is a directory; pass an article file"


def test_empty_and_blank_files(tmp_path: Path) -> None:
    """An empty file and a whitespace-only file are refused."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.md"
    blank.write_bytes(b" \n\t\n")
    assert _error(str(empty)) == f"{empty}: is empty"
    assert _error(str(blank)) == f"{blank}: contains only whitespace"


def test_binary_file(tmp_path: Path) -> None:
    """A file with NUL bytes is binary; the message says where."""
    png = tmp_path / "cover.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert _error(str(png)).startswith(f"{png}: looks like a binary file (NUL byte at offset 8)")


def test_utf16_file(tmp_path: Path) -> None:
    """UTF-16 text gets a specific message rather than 'binary'."""
    path = tmp_path / "post.txt"
    path.write_bytes("Title\n\nText.\n".encode("utf-16"))
    assert _error(str(path)) == f"{path}: is UTF-16 encoded; save it as UTF-8"


def test_invalid_utf8_names_the_offset(tmp_path: Path) -> None:
    """Latin-1 bytes in a UTF-8 file: the message gives the byte and its offset."""
    path = tmp_path / "post.txt"
    path.write_bytes("Title\n\nCafé au lait.\n".encode("latin-1"))
    assert _error(str(path)) == f"{path}: not valid UTF-8 (byte 0xe9 at offset 10); save it as UTF-8"


def test_fifty_megabyte_file_is_refused_quickly(tmp_path: Path) -> None:
    """A 50 MB (sparse) file is refused by size after reading at most cap+1 bytes."""
    huge = tmp_path / "huge.md"
    with huge.open("wb") as handle:
        handle.seek(50 * 1024 * 1024 - 1)
        handle.write(b"x")
    started = time.monotonic()
    message = _error(str(huge))
    assert time.monotonic() - started < 1.0
    assert message.startswith(f"{huge}: larger than the 5 MB limit (5,242,880 bytes)")


class _CountingStream(io.RawIOBase):
    """An endless stream of text that counts how many bytes were taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        buffer[:size] = b"a" * size
        self.taken += size
        return size


def test_stdin_reads_at_most_cap_plus_one_byte() -> None:
    """An endless stdin is cut at cap+1 bytes and refused by size."""
    stream = _CountingStream()
    with pytest.raises(InputError, match=r"^<stdin>: larger than the 5 MB limit"):
        load_article("-", stdin=io.BufferedReader(stream))
    assert stream.taken <= MAX_ARTICLE_BYTES + 1 + io.DEFAULT_BUFFER_SIZE


def test_stdin_article_and_empty_stdin() -> None:
    """'-' reads standard input; an empty one is an error naming <stdin>."""
    article = load_article("-", stdin=io.BytesIO(b"---\ntitle: From stdin\n---\nBody.\n"))
    assert article.title == "From stdin"
    assert article.extra["format"] == "markdown"
    with pytest.raises(InputError, match=r"^<stdin>: is empty$"):
        load_article("-", stdin=io.BytesIO(b""))


def test_unknown_format_and_scheme() -> None:
    """An unknown --format and a non-http URL scheme are refused with the choices."""
    assert _error(str(FIXTURES / "generic.json"), fmt="docx").endswith(
        "unknown format 'docx'; use one of text, markdown, html, json"
    )
    assert _error("ftp://example.com/post.md").startswith("ftp://example.com/post.md: only http and https URLs")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without read permission is an InputError, not a traceback."""
    path = tmp_path / "secret.md"
    path.write_text("# T\n")
    path.chmod(0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root reads every file: the OS answers as it would a user
        real_open = Path.open

        def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refusing_open)
    assert _error(str(path)) == f"{path}: permission denied"


# ---------------------------------------------------------------------------- format choice


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("post.markdown", "Just text, but the extension says Markdown.", "markdown"),
        ("post.htm", "<p>Para</p>", "html"),
        ("post.json", '{"title": "T"}', "json:generic"),
        ("post.txt", "# Looks like Markdown\n\nbut the extension says text.", "text"),
        ("noext", '  {"title": "Sniffed JSON"}', "json:generic"),
        ("noext", "<!DOCTYPE html><html><body><p>Sniffed</p></body></html>", "html"),
        ("noext", "---\ntitle: Sniffed\n---\nBody.", "markdown"),
        ("noext", "## A heading\n\nText.", "markdown"),
        ("noext", "Plain words.\n**References:**\n- [a](https://a.example)", "text"),
    ],
)
def test_format_by_extension_then_sniffing(tmp_path: Path, name: str, content: str, fmt: str) -> None:
    """The extension decides; without one, the content is sniffed (links and bold alone are not Markdown)."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert load_article(str(path)).extra["format"] == fmt


def test_fmt_argument_wins_over_extension(tmp_path: Path) -> None:
    """fmt forces the format whatever the extension."""
    path = tmp_path / "post.txt"
    path.write_text("---\ntitle: Forced\n---\nBody.\n", encoding="utf-8")
    assert load_article(str(path), fmt="md").title == "Forced"


def test_content_type_decides_and_refuses_non_articles() -> None:
    """A Content-Type picks the format (and charset); an image type is refused."""
    article = parse_article(
        b'{"title": "Caf\xe9"}',
        origin="https://x.example/a",
        content_type="application/json; charset=latin-1",
    )
    assert article.title == "Café"
    with pytest.raises(InputError, match=r"Content-Type image/png is not an article"):
        parse_article(b"\x89PNG", origin="https://x.example/a.png", content_type="image/png")


def test_sample_from_stdin_is_sniffed_as_text() -> None:
    """The sample piped through stdin (no extension) loads exactly like the file."""
    sample = ROOT.parent / "shared" / "samples" / "microsoft-openai.txt"
    if not sample.is_file():
        pytest.skip("../shared/samples not present (user checkout)")
    from_stdin = load_article("-", stdin=io.BytesIO(sample.read_bytes()))
    assert from_stdin == load_article(str(sample))
    assert from_stdin.extra["format"] == "text"


def test_importing_bot_load_stays_light() -> None:
    """`import bot.load` imports neither BeautifulSoup, PyYAML nor the HTTP fetcher."""
    code = (
        "import sys, bot.load\n"
        "print(','.join(m for m in ('bs4', 'yaml', 'bot.fetch', 'http.client', 'ssl') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == ""


def test_empty_source_name() -> None:
    """An empty source string says what to pass instead."""
    assert _error("  ").startswith("no article given")


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("markdown", b"[" * 1_000_000),
        ("markdown", b"*a " * 300_000),
        ("markdown", b"_a " * 300_000),
        ("markdown", b"<a " * 300_000),
        ("markdown", b"<!--" * 250_000),
        ("markdown", b"{{" * 500_000),
        ("markdown", b"# a" + b" " * 1_000_000 + b"b"),
        ("text", b"Sources " * 120_000),
        ("html", b"<p " * 300_000),
        ("html", b'<p a="' * 200_000),
        ("html", b"<!--" * 250_000),
    ],
)
def test_hostile_input_is_read_in_linear_time(fmt: str, data: bytes) -> None:
    """Inputs built to make a parser backtrack or rescan take about a second, not minutes."""
    started = time.monotonic()
    with contextlib.suppress(InputError):
        parse_article(data, fmt=fmt, origin="hostile")
    assert time.monotonic() - started < 5.0  # the quadratic versions took from 30 s to several minutes


@pytest.mark.parametrize(("fmt", "data"), [("html", b"<div>" * 20_000 + b"x"), ("json", b"[" * 100_000)])
def test_deeply_nested_input_is_an_input_error(fmt: str, data: bytes) -> None:
    """Nesting deeper than Python's recursion limit is a one-line InputError, not a RecursionError."""
    with pytest.raises(InputError, match=r"^deep: .*nested too deeply to read$"):
        parse_article(data, fmt=fmt, origin="deep")
