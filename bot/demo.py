"""``make demo``: the whole job end to end against the built-in sandbox, no accounts needed.

1. start the sandbox (local X, Bluesky and Mastodon) on 127.0.0.1;
2. show the dry run of the project's example article;
3. publish it to all three platforms with the real SDKs and print the post URLs;
4. run again: nothing is posted twice;
5. stop the sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bot import platforms
from bot.sandbox import Sandbox

EXAMPLE = "launch-post.md"


def example_article() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_examples" / EXAMPLE, here.parent / "examples" / EXAMPLE):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: the example article {EXAMPLE} is missing from this installation")


def _run(title: str, args: list[str], env: dict[str, str]) -> int:
    print(f"\n$ crosspost {' '.join(args)}    # {title}", flush=True)
    return subprocess.call([sys.executable, "-m", "bot.cli", *args], env=env)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="crosspost-demo-") as tmp, Sandbox() as sandbox:
        # No internet here: the card image comes from the sandbox instead of the blog's server.
        source = example_article().read_text(encoding="utf-8")
        card = sandbox.sample_image_url
        copy = Path(tmp) / EXAMPLE
        copy.write_text(source.replace("https://blog.crosspost.dev/2026/11/meet-crosspost/card.png", card),
                        encoding="utf-8")
        article = str(copy)
        env = {**os.environ, **sandbox.env(), "DATABASE_URL": f"sqlite:///{Path(tmp) / 'demo.sqlite3'}"}
        print(f"sandbox: {platforms.labels()} stand-ins on {sandbox.url}")
        codes = [
            _run("what would be posted", [article, "--dry-run"], env),
            _run("publish to every platform", [article], env),
            _run("again: nothing is posted twice", [article], env),
            _run("the ledger", ["status"], env),
        ]
        posts = {name: len(sandbox.app.posts(name)) for name in platforms.names()}
        print(f"\nsandbox holds: {posts} (one post per platform, however often the demo publishes)")
    return 0 if not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main())
