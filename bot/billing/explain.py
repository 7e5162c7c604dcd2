"""Why a bill differs from the one before it (issue 18): the difference in đồng split
into its causes, each with its amount, from the customer's own bills and the tariff book.

The split is a chain: starting from the earlier bill, one input of the bill changes at a
time and each step's change in the computed amount is that input's share, so the parts
add up to the difference by construction:

1. the earlier bill repriced at the reference prices (those in force on its last day,
   `TariffBook.frozen_on`) — the first half of "a price change";
2. the number of households on the meter (its tiers) changed to the new bill's;
3. the kWh scaled to the new bill's days at the same kWh per day — "more or fewer days",
   valued at the earlier bill's average price per kWh;
4. the kWh per day changed to the new bill's — "more kWh per day", at the same average;
5. what the tiers add beyond the average price (the new kWh priced tier by tier, less
   steps 3 and 4) — "kWh pushed into higher tiers";
6. the new bill priced at its real prices, prorated by days as EVN bills a period with a
   price change in it — the second half of "a price change".

Steps 1–6 are amounts before VAT; each is shown with VAT at the reference rate, rounded
to the đồng. What is left of the real difference — a change of VAT rate and the rounding
of each part — is "VAT and rounding". A stored bill that its inputs do not reproduce (a
bill corrected after issue) keeps its gap apart as "correction", never spread over the
other causes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from bot.billing import anomaly
from bot.billing.tariffs import BillBreakdown, TariffBook, TariffError, TariffGroup
from bot.store.backend import (
    AreaUsage,
    BillRecord,
    CustomerFilter,
    CustomerRecord,
    UtilityBackend,
)

# Cause kinds, in the order of the chain (the order a tie is shown in).
PRICE = "price"
HOUSEHOLDS = "households"
DAYS = "days"
PER_DAY = "per_day"
TIERS = "tiers"
CORRECTION = "correction"
VAT_ROUNDING = "vat_rounding"
CHAIN_ORDER = (DAYS, PER_DAY, TIERS, PRICE, HOUSEHOLDS, CORRECTION, VAT_ROUNDING)

PREVIOUS = "previous"
LAST_YEAR = "last_year"

# A rise in kWh per day above this, against the period before and against the same
# period a year earlier alike, is not explained by days, season or tiers: the answer
# offers a meter check. The demo's households vary by ±12% a period and by up to 1.5x
# between neighbouring months of the season; a year apart they stay within ~1.4x.
UNEXPLAINED_RATIO = Fraction(3, 2)
# The chart's history: this period and up to a year before it.
CHART_PERIODS = 13
# Enough bills for the chart's 13 periods and the same period a year earlier, for a
# customer read three times a month, whichever of the last two years is explained.
BILLS_NEEDED = 3 * 12 * 2 + 3
MOST_HOUSEHOLDS = 10  # the largest count tried when a bill's households are inferred
# Fewer similar customers than this say too little about an area to compare a first
# bill with.
SIMILAR_AT_LEAST = 5


class ExplainError(ValueError):
    """A bill that cannot be explained: its period has no tariff in the book."""


@dataclass(frozen=True)
class Cause:
    """One cause's share of the difference, in VND with VAT (negative: it lowered the bill).

    The details the wording needs ride along: `days` (more or fewer days), `kwh_per_day`
    (the change, to 0.1 kWh), `tier` and `tier_kwh` (the highest tier reached and the kWh
    above the earlier bill's highest), `price_from` (the price decision's date),
    `households` (before, after).
    """

    kind: str
    amount: int
    days: int = 0
    kwh_per_day: Fraction = Fraction(0)
    tier: int | None = None
    tier_kwh: int = 0
    price_from: date | None = None
    households: tuple[int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "amount": self.amount}
        if self.kind == DAYS:
            data["days"] = self.days
        if self.kind == PER_DAY:
            data["kwh_per_day"] = round(float(self.kwh_per_day), 1)
        if self.kind == TIERS:
            data.update(tier=self.tier, tier_kwh=self.tier_kwh)
        if self.kind == PRICE:
            data["price_from"] = self.price_from.isoformat() if self.price_from else None
        if self.kind == HOUSEHOLDS and self.households:
            data["households"] = list(self.households)
        return data


@dataclass(frozen=True)
class Comparison:
    """A bill against an earlier one (`against`: PREVIOUS or LAST_YEAR): the difference
    and its causes, largest first; they add up to `difference` exactly."""

    against: str
    bill: BillRecord
    earlier: BillRecord
    difference: int
    causes: tuple[Cause, ...]

    @property
    def ratio(self) -> Fraction | None:
        """The bill over the earlier one (None when the earlier was 0 đ)."""
        return Fraction(self.bill.total, self.earlier.total) if self.earlier.total else None

    def as_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "period": period_label(self.earlier),
            "total": self.earlier.total,
            "kwh": self.earlier.kwh,
            "days": days_of(self.earlier),
            "difference": self.difference,
            "causes": [cause.as_json() for cause in self.causes],
        }


@dataclass(frozen=True)
class Explanation:
    """The explanation of one bill: against the period before and the same period a year
    earlier (each None when there is no such bill), and the bills the chart shows."""

    customer: CustomerRecord
    bill: BillRecord
    previous: Comparison | None
    last_year: Comparison | None
    history: tuple[BillRecord, ...]  # oldest first, ending with `bill`
    households: int  # on the meter for this bill (inferred from it when it can be)
    meter_check: bool  # a rise that days, season and tiers do not explain
    tier_sizes: tuple[int, ...] = field(default=())  # empty for single-price groups
    # The meter check the bill notice suggests (anomaly.py): unusual use two periods
    # running, though the bill may differ little from the one before (also unusual).
    unusual_twice: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_code": self.customer.code,
            "period": period_label(self.bill),
            "period_start": self.bill.period_start.isoformat(),
            "period_end": self.bill.period_end.isoformat(),
            "kwh": self.bill.kwh,
            "days": days_of(self.bill),
            "total": self.bill.total,
            "households": self.households,
            "previous": self.previous.as_json() if self.previous else None,
            "last_year": self.last_year.as_json() if self.last_year else None,
            "meter_check_suggested": self.meter_check,
        }


def days_of(bill: BillRecord) -> int:
    return (bill.period_end - bill.period_start).days + 1


def kwh_per_day(bill: BillRecord) -> Fraction:
    return Fraction(bill.kwh, days_of(bill))


def period_label(bill: BillRecord) -> str:
    """2026-10 (and /2, /3 for the second and third term of a month)."""
    label = f"{bill.year}-{bill.month:02d}"
    return label if bill.term == 1 else f"{label}/{bill.term}"


def explain(
    customer: CustomerRecord,
    bills: Sequence[BillRecord],
    book: TariffBook,
    *,
    period: tuple[int, ...] | None = None,
) -> Explanation | None:
    """The explanation of the latest bill, or of the last bill of `period` (year, month,
    and the term when a month has several); None when there is no such bill. `bills` are
    the customer's, in any order.

    Raises:
        ExplainError: the bill or an earlier one has a period the tariff book cannot price.
    """
    ordered = sorted(bills, key=lambda b: (b.period_end, b.term), reverse=True)
    if period is not None:
        wanted = next((i for i, b in enumerate(ordered) if _in_period(b, period)), len(ordered))
        ordered = ordered[wanted:]
    if not ordered:
        return None
    bill, older = ordered[0], ordered[1:]
    previous = compare(PREVIOUS, bill, older[0], customer, book) if older else None
    year_ago = next(
        (b for b in older if (b.year, b.month, b.term) == (bill.year - 1, bill.month, bill.term)),
        None,
    )
    last_year = compare(LAST_YEAR, bill, year_ago, customer, book) if year_ago else None
    rise = unexplained_rise(bill, older[0] if older else None, year_ago)
    usage = anomaly.insight(
        ordered[:BILLS_NEEDED], households=lambda b: households_of(b, customer, book)
    )
    twice = usage is not None and usage.meter_check
    return Explanation(
        customer=customer,
        bill=bill,
        previous=previous,
        last_year=last_year,
        history=tuple(reversed(ordered[:CHART_PERIODS])),
        households=households_of(bill, customer, book),
        meter_check=rise or twice,
        tier_sizes=book.tier_sizes if customer.tariff_group == TariffGroup.HOUSEHOLD else (),
        unusual_twice=twice and not rise,
    )


def _in_period(bill: BillRecord, period: tuple[int, ...]) -> bool:
    return (bill.year, bill.month, bill.term)[: len(period)] == period


def unexplained_rise(
    bill: BillRecord, previous: BillRecord | None, year_ago: BillRecord | None
) -> bool:
    """kWh per day up by more than UNEXPLAINED_RATIO on the period before, and on the
    same period a year earlier when there is one (else the season is not known to
    explain it)."""
    if previous is None or bill.kwh == 0:
        return False
    rate = kwh_per_day(bill)
    if rate <= UNEXPLAINED_RATIO * kwh_per_day(previous):
        return False
    return year_ago is None or rate > UNEXPLAINED_RATIO * kwh_per_day(year_ago)


def _compute(
    book: TariffBook, bill: BillRecord, customer: CustomerRecord, households: int, kwh: int
) -> BillBreakdown:
    try:
        return book.compute(
            kwh,
            bill.period_start,
            bill.period_end,
            group=customer.tariff_group,
            voltage=customer.voltage_level,
            households=households,
        )
    except TariffError as error:
        raise ExplainError(str(error)) from error


def households_of(bill: BillRecord, customer: CustomerRecord, book: TariffBook) -> int:
    """The households on the meter when `bill` was computed: the customer's today if they
    reproduce it, else the first count that does (the utility's records keep only
    today's), else today's."""
    if customer.tariff_group != TariffGroup.HOUSEHOLD:
        return customer.households
    candidates = [customer.households, *range(1, MOST_HOUSEHOLDS + 1)]
    for households in candidates:
        if _compute(book, bill, customer, households, bill.kwh).total == bill.total:
            return households
    return customer.households


def reproduced(bill: BillRecord, customer: CustomerRecord, book: TariffBook) -> bool:
    """The bill's kWh and period, priced by the book, give its total (else it was
    corrected after issue).

    Raises:
        ExplainError: a period the tariff book cannot price.
    """
    households = households_of(bill, customer, book)
    return _compute(book, bill, customer, households, bill.kwh).total == bill.total


def compare(
    against: str,
    bill: BillRecord,
    earlier: BillRecord,
    customer: CustomerRecord,
    book: TariffBook,
) -> Comparison:
    """`bill` against `earlier`: the chain of the module docstring.

    Raises:
        ExplainError: a period the tariff book cannot price.
    """
    old_households = households_of(earlier, customer, book)
    new_households = households_of(bill, customer, book)
    real_old = _compute(book, earlier, customer, old_households, earlier.kwh)
    real_new = _compute(book, bill, customer, new_households, bill.kwh)
    reference = book.frozen_on(earlier.period_end)

    def at_reference(kwh: int, households: int) -> BillBreakdown:
        return _compute(reference, bill, customer, households, kwh)

    old_days, new_days = days_of(earlier), days_of(bill)
    repriced_old = at_reference(earlier.kwh, old_households)
    rehoused_old = at_reference(earlier.kwh, new_households)
    reference_new = at_reference(bill.kwh, new_households)
    base = Fraction(rehoused_old.before_vat)
    if earlier.kwh:
        average = base / earlier.kwh
        by_days = base * (new_days - old_days) / old_days
        by_rate = average * (bill.kwh - Fraction(earlier.kwh * new_days, old_days))
    else:  # nothing used before: all of it is "more per day", at the new bill's average
        by_days = Fraction(0)
        by_rate = Fraction(reference_new.before_vat)
    by_tiers = reference_new.before_vat - base - by_days - by_rate
    price = (repriced_old.before_vat - real_old.before_vat) + (
        real_new.before_vat - reference_new.before_vat
    )
    by_households = rehoused_old.before_vat - repriced_old.before_vat

    gross = Fraction(100 + reference.vat_rate_on(bill.period_end), 100)
    difference = bill.total - earlier.total
    correction = (bill.total - real_new.total) - (earlier.total - real_old.total)
    top_new, top_old = _top_tier(reference_new), _top_tier(repriced_old)
    causes = [
        Cause(DAYS, round(by_days * gross), days=new_days - old_days),
        Cause(
            PER_DAY, round(by_rate * gross), kwh_per_day=kwh_per_day(bill) - kwh_per_day(earlier)
        ),
        Cause(
            TIERS,
            round(by_tiers * gross),
            tier=top_new if top_new >= top_old else top_old,
            tier_kwh=_kwh_above(reference_new, top_old)
            if top_new > top_old
            else _kwh_above(repriced_old, top_new),
        ),
        Cause(PRICE, round(price * gross), price_from=_price_change(book, customer, earlier, bill)),
        Cause(
            HOUSEHOLDS, round(by_households * gross), households=(old_households, new_households)
        ),
        Cause(CORRECTION, correction),
    ]
    rest = difference - sum(cause.amount for cause in causes)
    causes.append(Cause(VAT_ROUNDING, rest))
    shown = sorted(
        (cause for cause in causes if cause.amount),
        key=lambda cause: (-abs(cause.amount), CHAIN_ORDER.index(cause.kind)),
    )
    return Comparison(against, bill, earlier, difference, tuple(shown))


def _top_tier(breakdown: BillBreakdown) -> int:
    return max((line.tier or 0 for line in breakdown.lines), default=0)


def _kwh_above(breakdown: BillBreakdown, tier: int) -> int:
    return sum(line.kwh for line in breakdown.lines if (line.tier or 0) > tier)


def _price_change(
    book: TariffBook, customer: CustomerRecord, earlier: BillRecord, bill: BillRecord
) -> date | None:
    """The latest price decision that took effect after the earlier bill's first day
    and by the new bill's last (None: the same prices throughout)."""
    group, voltage = customer.tariff_group, customer.voltage_level
    try:
        first, _ = book.prices_on(earlier.period_start, group, voltage)
        last, _ = book.prices_on(bill.period_end, group, voltage)
    except TariffError:
        return None
    return last if last != first else None


async def similar_customers(
    backend: UtilityBackend, customer: CustomerRecord, bill: BillRecord
) -> AreaUsage | None:
    """What customers like this one (the same ward, or province when the ward is not
    known; the same tariff group and households on the meter) used a day in the bill's
    month: a first bill's comparison. None when fewer than SIMILAR_AT_LEAST had a bill."""
    where = CustomerFilter(
        province_code=customer.province_code,
        ward_code=customer.ward_code,
        tariff_group=customer.tariff_group,
        households=customer.households,
    )
    usage = await backend.area_usage(where, bill.year, bill.month, excluding=customer.code)
    return usage if usage.customers >= SIMILAR_AT_LEAST else None
