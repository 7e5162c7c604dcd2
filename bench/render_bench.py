"""How long the e-invoice PDF and the consumption chart take to render (target: < 1 s).

    python bench/render_bench.py [--runs 30]

Renders each once to warm up, then --runs times, and reports the median and the 95th
percentile; also the import time of each module in a fresh interpreter (median of 5),
which the first request after start-up pays. Prints a Markdown table for
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from bot.billing.charts import ChartPoint, consumption_chart
from bot.billing.invoice_pdf import render_invoice
from bot.billing.tariffs import default_tariffs
from bot.store.backend import BillRecord, CustomerRecord, InvoiceRecord


def sample_customer() -> CustomerRecord:
    return CustomerRecord(
        code="PC05CC0123456",
        name="Nguyễn Thị Thu Hương",
        address="12 Trần Phú",
        ward_code=20551,
        ward_name="phường Hội An",
        province_code=48,
        province_name="thành phố Đà Nẵng",
        former_district=None,
        latitude=None,
        longitude=None,
        phones=("+84905123456",),
        email=None,
        tariff_group="household",
        voltage_level=None,
        households=1,
        meter_number="14123456",
        reading_day=25,
        terms_per_month=1,
        unit_code="PC05CC",
        unit_name="Điện lực Hội An",
    )


def sample_bill(customer: CustomerRecord) -> BillRecord:
    """The worked example (300 kWh across the 2025-05-10 price change): the longest table."""
    start, end = date(2025, 4, 26), date(2025, 5, 25)
    breakdown = default_tariffs().compute(300, start, end)
    lines = tuple(
        {
            "tier": line.tier,
            "kwh": line.kwh,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "tariff_from": line.tariff_from.isoformat(),
            "vat_rate": line.vat_rate,
        }
        for line in breakdown.lines
    )
    issued = end + timedelta(days=1)
    return BillRecord(
        customer.code,
        1,
        end.month,
        end.year,
        start,
        end,
        12_345,
        12_645,
        300,
        breakdown.before_vat,
        8,
        breakdown.vat,
        breakdown.total,
        issued,
        end + timedelta(days=10),
        "paid",
        datetime(2025, 6, 1, 3, tzinfo=UTC),
        "bank_app",
        InvoiceRecord("1", "K25TAA", 100_123, issued, lines),
    )


def sample_points() -> list[ChartPoint]:
    kwh = [117, 132, 163, 160, 200, 212, 230, 155, 189, 134, 175, 215]
    before = [106, 120, 205, 187, 143, 215, 189, 90, 204, 148, 117, 171]
    labels = ["11/2025", "12/2025", *(f"{m:02d}/2026" for m in range(1, 11))]
    return [ChartPoint(*row) for row in zip(labels, kwh, before, strict=True)]


def timings_ms(render: Callable[[], bytes], runs: int) -> tuple[float, float]:
    render()  # warm-up: fonts parsed and cached, code paths loaded
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        render()
        samples.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[-1]
    return statistics.median(samples), p95


def import_ms(module: str, repeats: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    seconds = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    customer, bill, points = sample_customer(), sample_bill(sample_customer()), sample_points()
    title = "Điện năng tiêu thụ – PC05CC0123456"
    pdf = render_invoice(customer, bill)
    png = consumption_chart(points, title=title)

    print(
        f"Python {platform.python_version()} on {platform.machine()}, {runs} runs after a warm-up"
    )
    print()
    print("| What | Median (ms) | p95 (ms) | Output | Import, fresh process (ms) |")
    print("|---|---:|---:|---|---:|")
    cases = [
        (
            "E-invoice PDF (A4, 8 tier lines)",
            lambda: render_invoice(customer, bill),
            f"{len(pdf) // 1024} KB PDF",
            "bot.billing.invoice_pdf",
        ),
        (
            "Consumption chart (12 periods + year before)",
            lambda: consumption_chart(points, title=title),
            f"{len(png) // 1024} KB PNG, 1000×700",
            "bot.billing.charts",
        ),
    ]
    for label, render, output, module in cases:
        median, p95 = timings_ms(render, runs)
        print(f"| {label} | {median:.0f} | {p95:.0f} | {output} | {import_ms(module):.0f} |")


if __name__ == "__main__":
    main()
