"""Is a new bill's use out of the customer's ordinary (issue 18, part 2)? The bill
notice says so in one line when it is, and suggests a meter check when it is two
periods running with nothing to explain it.

The method, on kWh per day (so longer and shorter periods compare):

1. The references: the customer's own usable bills among the RECENT_DAYS before the
   bill (at most RECENT periods). A usable bill has kWh, a period, and is not corrected
   (its readings or its total not reproduced by its inputs).
2. Each reference predicts the bill: its kWh per day, carried to the bill's season by
   the customer's own year-ago bills when both have one (the reference's kWh per day
   × the year-ago bill of the new bill ÷ the year-ago bill of the reference: the
   customer's seasonal shape last year, their level now). Without a year-ago bill the
   prediction is the reference's kWh per day as it is.
3. The expectation is the median of the predictions (at least MIN_REFERENCES), the
   spread their median absolute deviation of log kWh per day, × 1.4826 (a standard
   deviation for normal noise), kept between MIN_SPREAD and MAX_SPREAD.
4. Anomalous: the bill above the expectation by more than THRESHOLD spreads and by
   more than MIN_RISE (with the season known from a year-ago bill) or MIN_RISE_UNSEASONED
   (without: the season alone moves central Vietnam's use by up to 1.5× in two
   months). Only rises are told: a drop saves the customer money, and a zero is told
   by the explanation (it suggests a meter check) rather than by a guess here.
5. A meter check is suggested when the bill and the one before it are both anomalous,
   both with the season known, with the same households on the meter and period
   lengths within MAX_DAYS_CHANGE of each other: no change of days, season or
   households explains it.

Bad input says what it is and claims nothing: a first bill or too few references
(NO_HISTORY), zero kWh (ZERO), a corrected bill (CORRECTED).

The threshold was chosen on the demo data by bench/anomaly_bench.py (docs/BENCHMARKS.md,
"Consumption anomaly: false alarms on the demo data").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from statistics import median

from bot.store.backend import BillRecord

NORMAL = "normal"
ANOMALOUS = "anomalous"
NO_HISTORY = "no_history"
ZERO = "zero"
CORRECTED = "corrected"

RECENT_DAYS = 190  # about six months of references
RECENT = 18  # periods at most (a customer read three times a month)
MIN_REFERENCES = 3
THRESHOLD = 3.0  # spreads above the expectation
MIN_SPREAD = 0.12  # log kWh/day: households vary by about ±12 % a period
# A wider spread comes from references that disagree because one of them was already
# unusual (the first month of a new air conditioner), not from the household's own
# noise: capped, one unusual period does not hide the next (bench: 42 -> 51 of the
# demo's true anomalies told, no more false alarms).
MAX_SPREAD = 0.2
MIN_RISE = Fraction(7, 5)  # 40 % above the expectation, the season known
MIN_RISE_UNSEASONED = Fraction(9, 5)  # 80 % without a year-ago bill
MAX_DAYS_CHANGE = 3
MAD_TO_SIGMA = 1.4826

Households = Callable[[BillRecord], int]
Corrected = Callable[[BillRecord], bool]


@dataclass(frozen=True)
class Verdict:
    """What the method says of one bill. `expected` and `ratio` (the bill's kWh per day
    over the expectation) are None when nothing was compared; `seasonal` tells that the
    year-ago bills carried the references to the bill's season."""

    status: str
    kwh_per_day: Fraction
    expected: float | None = None
    spread: float | None = None
    references: int = 0
    seasonal: bool = False

    @property
    def ratio(self) -> float | None:
        if self.expected is None or self.expected <= 0:
            return None
        return float(self.kwh_per_day) / self.expected

    @property
    def anomalous(self) -> bool:
        return self.status == ANOMALOUS

    @property
    def percent_above(self) -> int:
        """How far above the expectation, in whole percent (0 when not compared)."""
        ratio = self.ratio
        return max(0, round((ratio - 1) * 100)) if ratio is not None else 0


@dataclass(frozen=True)
class Insight:
    """The newest bill's verdict, the one before it's (None for a first bill) and
    whether the two together call for a meter check."""

    verdict: Verdict
    previous: Verdict | None
    meter_check: bool


def days_of(bill: BillRecord) -> int:
    return (bill.period_end - bill.period_start).days + 1


def rate(bill: BillRecord) -> Fraction:
    days = days_of(bill)
    return Fraction(bill.kwh, days) if days > 0 else Fraction(0)


def readings_corrected(bill: BillRecord) -> bool:
    """The readings do not give the kWh billed (a bill corrected after issue)."""
    return bill.new_index - bill.old_index != bill.kwh


def _newest_first(bills: Sequence[BillRecord]) -> list[BillRecord]:
    return sorted(bills, key=lambda b: (b.period_end, b.term), reverse=True)


def assess(
    bill: BillRecord,
    earlier: Sequence[BillRecord],
    *,
    corrected: Corrected = readings_corrected,
) -> Verdict:
    """`bill` against the customer's `earlier` bills (any order; later ones are ignored)."""
    per_day = rate(bill)
    if days_of(bill) <= 0 or corrected(bill):
        return Verdict(CORRECTED, per_day)
    if bill.kwh <= 0:
        return Verdict(ZERO, per_day)
    before = [b for b in earlier if b.period_end < bill.period_end or _same_end_earlier(b, bill)]
    usable = [b for b in _newest_first(before) if b.kwh > 0 and days_of(b) > 0 and not corrected(b)]
    since = bill.period_start - timedelta(days=RECENT_DAYS)
    recent = [b for b in usable if b.period_end >= since][:RECENT]
    by_period = {(b.year, b.month, b.term): b for b in usable}

    def year_ago(of: BillRecord) -> BillRecord | None:
        return by_period.get((of.year - 1, of.month, of.term))

    anchor = year_ago(bill)
    predictions: list[float] = []
    carried = 0
    for reference in recent:
        base = year_ago(reference)
        if anchor is not None and base is not None:
            predictions.append(float(rate(reference) * rate(anchor) / rate(base)))
            carried += 1
        else:
            predictions.append(float(rate(reference)))
    if len(predictions) < MIN_REFERENCES:
        return Verdict(NO_HISTORY, per_day, references=len(predictions))
    seasonal = carried * 2 > len(predictions)  # most references carried to the season
    expected = median(predictions)
    logs = [math.log(p) for p in predictions]
    centre = math.log(expected)
    spread = max(MIN_SPREAD, MAD_TO_SIGMA * median(abs(x - centre) for x in logs))
    spread = min(spread, MAX_SPREAD)
    score = (math.log(per_day) - centre) / spread
    least = MIN_RISE if seasonal else MIN_RISE_UNSEASONED
    above = score > THRESHOLD and per_day > least * Fraction(expected)
    return Verdict(
        ANOMALOUS if above else NORMAL,
        per_day,
        expected=expected,
        spread=spread,
        references=len(predictions),
        seasonal=seasonal,
    )


def _same_end_earlier(other: BillRecord, bill: BillRecord) -> bool:
    return other.period_end == bill.period_end and other.term < bill.term


def insight(
    bills: Sequence[BillRecord],
    *,
    households: Households | None = None,
    corrected: Corrected = readings_corrected,
) -> Insight | None:
    """The newest of `bills` (one customer's, any order) judged, with the meter check
    rule of the module docstring; None without bills. `households` gives the households
    on the meter for a bill (unknown: taken as unchanged)."""
    ordered = _newest_first(bills)
    if not ordered:
        return None
    bill, older = ordered[0], ordered[1:]
    verdict = assess(bill, older, corrected=corrected)
    if not older:
        return Insight(verdict, None, meter_check=False)
    previous_bill = older[0]
    previous = assess(previous_bill, older[1:], corrected=corrected)
    same_households = households is None or households(bill) == households(previous_bill)
    meter_check = (
        verdict.anomalous
        and previous.anomalous
        and verdict.seasonal
        and previous.seasonal
        and same_households
        and abs(days_of(bill) - days_of(previous_bill)) <= MAX_DAYS_CHANGE
    )
    return Insight(verdict, previous, meter_check)
