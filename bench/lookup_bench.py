"""How fast the lookups answer on the demo data (issue 5: p95 < 300 ms; a PDF or a chart
in under 1 s).

    python bench/lookup_bench.py [--runs 50]

Seeds a fresh SQLite database, logs the persona Nguyễn Văn An in through the engine
(username/password, as a customer would), then times engine.handle for each lookup:
the whole update — routing, the utility queries, rendering, and the transaction that
stores state and transcript. Prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import build_runtime
from bot.core.messages import Incoming
from bot.settings import Settings

CODE = "PC05CC0123456"


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, var_dir=Path(tmp), secret_key="bench")  # type: ignore[call-arg]
        runtime = await build_runtime(settings)
        engine = runtime.engine
        bills = await engine.services.backend.bills(CODE)
        other = f"{bills[3].year}-{bills[3].month}-{bills[3].term}"

        async def send(**content: object) -> list[object]:
            return list(await engine.handle(Incoming(channel="rest", user_id="bench", **content)))

        for step in (
            {"payload": "login"},
            {"payload": "consent:yes"},
            {"payload": "login_portal"},
            {"text": "annguyen"},
            {"text": "An@2026cskh"},
        ):
            await send(**step)
        cases = {
            "payment information, latest period": {"payload": f"lk_pay:{CODE}"},
            "payment information, a chosen period": {"payload": f"lk_pay:{CODE}:{other}"},
            "meter-reading schedule, 6 months": {"payload": f"lk_sched:{CODE}:-6"},
            "payment points near the address": {"payload": f"lk_points:{CODE}"},
            "planned outages in the ward": {"payload": f"lk_outage:{CODE}"},
            "outages by area, typed": None,
            "bill estimate, typed": None,
            "e-invoice PDF": {"payload": f"lk_inv:{CODE}:{other}"},
            "consumption table and chart": {"payload": f"lk_use:{CODE}"},
        }
        print("| lookup | median (ms) | p95 (ms) | runs |")
        print("|---|---:|---:|---:|")
        for name, content in cases.items():
            timings = []
            for _ in range(runs):
                if name == "outages by area, typed":
                    await send(payload="lk_outarea")
                    content = {"text": "phuong hoi an"}
                if name == "bill estimate, typed":
                    await send(payload="estimate")
                    content = {"text": "250 so 2 ho"}
                started = time.perf_counter()
                replies = await send(**content)
                timings.append((time.perf_counter() - started) * 1000)
                assert replies, name
            timings.sort()
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            print(f"| {name} | {statistics.median(timings):.0f} | {p95:.0f} | {runs} |")
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args().runs))
