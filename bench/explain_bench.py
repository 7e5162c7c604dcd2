"""How fast a bill is explained (issue 18: explanation and chart under 300 ms together).

    python bench/explain_bench.py [--runs 30]

Seeds a fresh SQLite database with the demo data, then for every demo persona's
customer codes times, after a warm-up:

* the explanation: reading the customer and bills through the backend and splitting the
  latest bill's difference into causes (bot/billing/explain.py);
* the chart: the kWh-per-day PNG (bot/billing/explain_chart.py), as the handler draws it;
* the whole update: engine.handle for the "❓ Vì sao tăng/giảm?" button (routing, the
  queries, the words, the chart in a worker thread, and the transaction that stores the
  state and transcript), for the persona logged in with username and password.

Prints a Markdown table for docs/BENCHMARKS.md, and last, as a yardstick of how busy
the machine was, the consumption chart of issue 5 (bench/render_bench.py's case) timed
the same way in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.app import build_runtime
from bot.billing import explain as bill_explain
from bot.billing.explain_chart import explanation_chart
from bot.core.messages import Incoming
from bot.demo.definitions import personas
from bot.handlers.bill_explain import BILLS_NEEDED
from bot.settings import Settings


def summary(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


async def timed(runs: int, work: Callable[[], Awaitable[object]]) -> list[float]:
    await work()  # warm-up: imports, fonts, caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, var_dir=Path(tmp), secret_key="bench")  # type: ignore[call-arg]
        runtime = await build_runtime(settings)
        engine = runtime.engine
        services = engine.services
        print(
            "| persona, code | explanation median / p95 (ms) | chart median / p95 (ms) "
            "| together p95 (ms) | whole update median / p95 (ms) | runs |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for persona in personas():
            user = f"bench-{persona['username']}"

            async def send(user: str = user, **content: object) -> list[object]:
                return list(await engine.handle(Incoming(channel="rest", user_id=user, **content)))

            for step in (
                {"payload": "login"},
                {"payload": "consent:yes"},
                {"payload": "login_portal"},
                {"text": persona["username"]},
                {"text": persona["password"]},
            ):
                await send(**step)
            for code in persona["customer_codes"]:
                explanation = None

                async def explain(code: str = code) -> object:
                    nonlocal explanation
                    customer = await services.backend.customer(code)
                    assert customer is not None
                    bills = await services.backend.bills(code, limit=BILLS_NEEDED)
                    explanation = bill_explain.explain(customer, bills, services.tariffs)
                    return explanation

                explaining = await timed(runs, explain)
                assert explanation is not None

                async def draw(done: object = explanation, code: str = code) -> object:
                    title = services.texts.get("explain.chart_title", "vi").format(code=code)
                    return await asyncio.to_thread(
                        explanation_chart,
                        done,
                        services.tariffs,
                        title=title,  # type: ignore[arg-type]
                    )

                drawing = await timed(runs, draw)
                together = [a + b for a, b in zip(explaining, drawing, strict=True)]

                async def whole(code: str = code) -> object:
                    replies = await send(payload=f"lk_why:{code}")
                    assert replies and replies[-1].image is not None  # type: ignore[attr-defined]
                    return replies

                updating = await timed(runs, whole)
                e_med, e_p95 = summary(explaining)
                c_med, c_p95 = summary(drawing)
                _, t_p95 = summary(together)
                u_med, u_p95 = summary(updating)
                print(
                    f"| {persona['name']}, {code} | {e_med:.0f} / {e_p95:.0f} "
                    f"| {c_med:.0f} / {c_p95:.0f} | {t_p95:.0f} | {u_med:.0f} / {u_p95:.0f} "
                    f"| {runs} |"
                )
        from bot.billing.charts import ChartPoint, consumption_chart

        points = [ChartPoint(f"{m:02d}/2026", 100 + m, 90 + m) for m in range(1, 13)]

        async def yardstick() -> object:
            return await asyncio.to_thread(consumption_chart, points, title="PC05CC0123456")

        r_med, r_p95 = summary(await timed(runs, yardstick))
        print(
            f"\nYardstick, the consumption chart of issue 5 in the same run: "
            f"median {r_med:.0f} ms, p95 {r_p95:.0f} ms"
        )
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main(parser.parse_args().runs))
