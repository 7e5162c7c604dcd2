"""How often the consumption anomaly notice (issue 18) is right on the demo data.

    python bench/anomaly_bench.py [--customers 600] [--threshold 3.0] [--min-rise 1.4]

Generates the demo data in memory (bot/demo/generate.py, the seed and day the tests
use) and, for every customer, judges each bill as the bill notice would on the day it
was issued: with the customer's earlier bills only (bot/billing/anomaly.py). The
generator says which periods it changed (`DemoData.events`); a period is a true
anomaly when

* a faulty meter over-read it, or
* an air conditioner added at least TRUE_SHARE of the period's ordinary use and the
  same period a year earlier had none of it (its first hot season: the second one the
  customer's own year-ago bills expect).

Prints the alarms, true and false positives, misses, the false alarms per customer-year
of judged bills, and the meter-check suggestions (right: a faulty meter's period), as
Markdown for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.billing import anomaly
from bot.billing.tariffs import default_tariffs
from bot.demo.generate import DEFAULT_CUSTOMERS, SEED, generate
from bot.store.backend import BillRecord

DEMO_TODAY = date(2026, 11, 26)  # tests/conftest.py's
TRUE_SHARE = 0.25

Period = tuple[int, int, int]  # year, month, term


@dataclass
class Tally:
    judged: int = 0
    customer_years: float = 0.0
    alarms: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_on_changed: int = 0  # of the false: on a period a story changed a little
    misses: int = 0
    truths: int = 0
    meter_right: int = 0
    meter_unneeded: int = 0
    not_judged: Counter[str] | None = None
    # Misses by why: no year-ago bill (the first year), a rise under MIN_RISE, other.
    missed_why: Counter[str] | None = None
    # Stories with a true anomaly, and those with at least one of them told.
    stories: Counter[str] | None = None
    stories_told: Counter[str] | None = None


def record(code: str, bill: dict[str, Any]) -> BillRecord:
    return BillRecord(
        customer_code=code,
        term=bill["term"],
        month=bill["month"],
        year=bill["year"],
        period_start=bill["period_start"],
        period_end=bill["period_end"],
        old_index=bill["old_index"],
        new_index=bill["new_index"],
        kwh=bill["kwh"],
        before_vat=bill["before_vat"],
        vat_rate=bill["vat_rate"],
        vat=bill["vat"],
        total=bill["total"],
        issued_on=bill["issued_on"],
        due_date=bill["due_date"],
        status=bill["status"],
        paid_at=None,
        paid_channel=None,
        invoice=None,
    )


def truths_of(
    events: list[dict[str, Any]], bills: list[BillRecord]
) -> tuple[set[Period], set[Period], set[Period]]:
    """(true anomalies, faulty-meter periods, periods any story changed)."""
    kwh = {(b.year, b.month, b.term): b.kwh for b in bills}
    true: set[Period] = set()
    faulty: set[Period] = set()
    changed: set[Period] = set()
    for event in events:
        added = {(y, m, t): k for y, m, t, k in event["periods"]}
        for period, extra in added.items():
            changed.add(period)
            if event["kind"] == "faulty_meter":
                faulty.add(period)
                true.add(period)
                continue
            ordinary = kwh[period] - extra
            year_ago = (period[0] - 1, period[1], period[2])
            if extra >= TRUE_SHARE * max(ordinary, 1) and not added.get(year_ago):
                true.add(period)
    return true, faulty, changed


def run(customers: int, seed: int = SEED) -> tuple[Tally, list[str]]:
    data = generate(default_tariffs(), today=DEMO_TODAY, customers=customers, seed=seed)
    bills_of: dict[int, list[BillRecord]] = {}
    for index, bill, _ in data.bills:
        bills_of.setdefault(index, []).append(record(data.customers[index]["code"], bill))
    events_of: dict[int, list[dict[str, Any]]] = {}
    for index, event in data.events:
        events_of.setdefault(index, []).append(event)
    tally = Tally(
        not_judged=Counter(), missed_why=Counter(), stories=Counter(), stories_told=Counter()
    )
    alarms: list[str] = []
    for index, bills in bills_of.items():
        customer = data.customers[index]
        true, faulty, changed = truths_of(events_of.get(index, []), bills)
        tally.truths += len(true)
        kinds = {event["kind"] for event in events_of.get(index, [])}
        told = False
        if true:
            tally.stories.update(kinds)  # type: ignore[union-attr]
        ordered = sorted(bills, key=lambda b: (b.period_end, b.term))
        for position in range(len(ordered)):
            found = anomaly.insight(ordered[: position + 1])
            assert found is not None
            verdict, bill = found.verdict, ordered[position]
            period = (bill.year, bill.month, bill.term)
            if verdict.status not in (anomaly.NORMAL, anomaly.ANOMALOUS):
                assert not verdict.anomalous
                tally.not_judged[verdict.status] += 1  # type: ignore[index]
                if period in true:
                    tally.misses += 1
                    tally.missed_why["no references"] += 1  # type: ignore[index]
                continue
            tally.judged += 1
            tally.customer_years += 1 / (12 * customer["terms_per_month"])
            if verdict.anomalous:
                tally.alarms += 1
                if period in true:
                    tally.true_positives += 1
                    told = True
                else:
                    tally.false_positives += 1
                    tally.false_on_changed += period in changed
                alarms.append(
                    f"{customer['code']} {period} {float(verdict.kwh_per_day):.1f} kWh/day,"
                    f" expected {verdict.expected:.1f} ({'true' if period in true else 'FALSE'})"
                )
            elif period in true:
                tally.misses += 1
                ratio = verdict.ratio or 0.0
                why = (
                    "no year-ago bill"
                    if not verdict.seasonal
                    else "rise under the minimum"
                    if ratio <= float(anomaly.MIN_RISE)
                    else "within the spread"
                )
                tally.missed_why[why] += 1  # type: ignore[index]
            if found.meter_check:
                if period in faulty:
                    tally.meter_right += 1
                else:
                    tally.meter_unneeded += 1
        if told:
            tally.stories_told.update(kinds)  # type: ignore[union-attr]
    return tally, alarms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threshold", type=float, default=anomaly.THRESHOLD)
    parser.add_argument("--min-rise", type=float, default=float(anomaly.MIN_RISE))
    parser.add_argument("--max-spread", type=float, default=anomaly.MAX_SPREAD)
    parser.add_argument("--list", action="store_true", help="print every alarm")
    args = parser.parse_args()
    anomaly.THRESHOLD = args.threshold
    anomaly.MAX_SPREAD = args.max_spread
    anomaly.MIN_RISE = anomaly.Fraction(args.min_rise).limit_denominator(100)
    tally, alarms = run(args.customers, args.seed)
    if args.list:
        print("\n".join(alarms))
    per_year = tally.false_positives / tally.customer_years if tally.customer_years else 0.0
    print(
        f"threshold {args.threshold} spreads, rise above {args.min_rise}× (season known) or"
        f" {float(anomaly.MIN_RISE_UNSEASONED)}× (not); {args.customers} customers"
    )
    print()
    print(
        "| bills judged | customer-years | alarms | true positives | false positives "
        "| false alarms per customer-year | true anomalies | missed "
        "| meter checks right / unneeded |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {tally.judged} | {tally.customer_years:.0f} | {tally.alarms} | {tally.true_positives}"
        f" | {tally.false_positives} ({tally.false_on_changed} on a period a story changed less)"
        f" | {per_year:.4f} | {tally.truths} | {tally.misses} | {tally.meter_right} /"
        f" {tally.meter_unneeded} |"
    )
    print()
    print(f"not judged: {dict(tally.not_judged or {})}")
    print(f"missed, why: {dict(tally.missed_why or {})}")
    print(
        f"stories with a true anomaly: {dict(tally.stories or {})}, told at least once:"
        f" {dict(tally.stories_told or {})}"
    )


if __name__ == "__main__":
    main()
