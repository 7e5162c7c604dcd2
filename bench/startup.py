"""How long `cskh serve` takes to answer /healthz, on an already seeded SQLite database.

    python bench/startup.py [--runs 10]

Seeds a database once (timed too: that is a new user's first start), then starts
`cskh serve` --runs times on it and times each start until the first 200 from
/healthz. Prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "cskh"
CSKH = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_healthz(cwd: Path, env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*CSKH, "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                if process.poll() is not None:
                    raise SystemExit("cskh serve exited before answering") from None
                time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSKH_")}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        first = time_to_healthz(cwd, env)  # empty database: migrate + seed the demo data
        times = [time_to_healthz(cwd, env) for _ in range(args.runs)]
    print("| measurement | seconds |")
    print("|---|---|")
    print(f"| first start (migrate + seed 600 customers) | {first:.2f} |")
    print(f"| seeded database, median of {args.runs} | {statistics.median(times):.2f} |")
    print(f"| seeded database, fastest / slowest | {min(times):.2f} / {max(times):.2f} |")


if __name__ == "__main__":
    main()
