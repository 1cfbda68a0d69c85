"""The README's dry-run example is what `crosspost examples/launch-post.md --dry-run` prints, exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "`crosspost examples/launch-post.md --dry-run` prints:\n\n```\n"


def test_the_readme_dry_run_example_is_the_real_output() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split(MARKER, 1)[1].split("```", 1)[0]
    from bot import platforms

    prefixes = ("CROSSPOST_", *(f"{name.upper()}_" for name in platforms.names()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["HOME"] = str(ROOT / "examples")  # no crosspost.toml or .env of the user's
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; raise SystemExit(main())",
            "examples/launch-post.md",
            "--dry-run",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown
