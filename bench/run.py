"""Run every benchmark in bench/ in turn (`make bench`). Each prints its own figures, yardsticks and goals.

The machine's load average is printed before and after each: on a shared machine, read the figures
with it (the compose and ingest benches also measure their yardsticks in the same run for this reason).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    failed = 0
    print(f"{os.cpu_count()} CPUs; load average {load()}")
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name}: .venv/bin/python bench/{script.name}   (load average {load()})", flush=True)
        failed |= subprocess.call([sys.executable, str(script)])
    print(f"\nload average at the end: {load()}")
    sys.exit(failed)
