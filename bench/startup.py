"""How long `cskh serve` takes to be ready (/healthz 200), first and on later starts.

    python bench/startup.py [--runs 10]

The first start is a new install's: an empty directory, so the database is migrated
and seeded and the language model trained (and cached under var/nlu). Then `cskh
serve` starts --runs times on that directory (seeded database, cached model). Each
start is timed until the first answer from /healthz (503 "starting" while the model
loads, issue 15) and until its first 200 (ready: free text understood). Prints a
Markdown table for docs/BENCHMARKS.md.
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
import urllib.error
import urllib.request
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "cskh"
CSKH = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_healthz(cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds until /healthz first answers (any status) and until it answers 200."""
    port = free_port()
    answered: float | None = None
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
                        ready = time.perf_counter() - started
                        return (ready if answered is None else answered), ready
            except urllib.error.HTTPError:  # 503 "starting"
                if answered is None:
                    answered = time.perf_counter() - started
                time.sleep(0.01)
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
        # Empty directory: migrate + seed the demo data, train the language model.
        first_answer, first_ready = time_to_healthz(cwd, env)
        starts = [time_to_healthz(cwd, env) for _ in range(args.runs)]
    with tempfile.TemporaryDirectory() as tmp:  # no demo data: the port opens at once
        bare_answer, bare_ready = time_to_healthz(Path(tmp), {**env, "CSKH_DEMO_SEED": "0"})
    answers, times = [a for a, _ in starts], [r for _, r in starts]
    print("| measurement | first answer (503 starting) | ready (200) |")
    print("|---|---|---|")
    print(
        "| first start (migrate, seed 600 customers, train the model) "
        f"| {first_answer:.2f} | {first_ready:.2f} |"
    )
    print(
        "| first start, CSKH_DEMO_SEED=0 (migrate, train the model) "
        f"| {bare_answer:.2f} | {bare_ready:.2f} |"
    )
    print(
        f"| seeded database, cached model, median of {args.runs} "
        f"| {statistics.median(answers):.2f} | {statistics.median(times):.2f} |"
    )
    print(
        "| seeded database, cached model, fastest / slowest "
        f"| {min(answers):.2f} / {max(answers):.2f} | {min(times):.2f} / {max(times):.2f} |"
    )


if __name__ == "__main__":
    main()
