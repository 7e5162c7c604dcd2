"""The bill explanation (issue 18): the causes add up to the difference to the đồng, on
every demo bill, and each cause takes what a customer would blame on it."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date
from fractions import Fraction

from sqlalchemy import select

from bot.billing.explain import (
    CORRECTION,
    DAYS,
    HOUSEHOLDS,
    LAST_YEAR,
    PER_DAY,
    PREVIOUS,
    PRICE,
    SIMILAR_AT_LEAST,
    TIERS,
    VAT_ROUNDING,
    Comparison,
    compare,
    explain,
    similar_customers,
)
from bot.billing.tariffs import default_tariffs
from bot.store.backend import BillRecord, SqlUtilityBackend
from bot.store.db import Database
from bot.store.models import Customer
from tests.billing.test_invoice_pdf import make_bill, make_customer

BOOK = default_tariffs()


def amounts(comparison: Comparison) -> dict[str, int]:
    return {cause.kind: cause.amount for cause in comparison.causes}


def adds_up(comparison: Comparison) -> bool:
    total = sum(cause.amount for cause in comparison.causes)
    return total == comparison.difference == comparison.bill.total - comparison.earlier.total


async def test_the_causes_add_up_to_the_difference_on_every_demo_bill(seeded_url: str) -> None:
    db = Database(seeded_url)
    backend = SqlUtilityBackend(db)
    try:
        async with db.reading() as session:
            codes = list(await session.scalars(select(Customer.code)))
        checked = 0
        for code in codes:
            customer = await backend.customer(code)
            assert customer is not None
            bills = await backend.bills(code, limit=200)
            for bill, earlier in itertools.pairwise(bills):
                comparison = compare(PREVIOUS, bill, earlier, customer, BOOK)
                assert adds_up(comparison), (code, bill.year, bill.month, comparison.causes)
                # The demo bills are computed by the tariff engine: nothing to correct.
                assert CORRECTION not in amounts(comparison)
                # Each part is shown with VAT and rounded once: the rest is a few đồng.
                assert abs(amounts(comparison).get(VAT_ROUNDING, 0)) <= 3
                checked += 1
    finally:
        await db.dispose()
    assert checked > 10_000  # 600 customers, 24 periods (a few read 3 times a month)


def test_the_same_use_over_the_same_days_explains_nothing() -> None:
    an = make_customer()
    earlier = make_bill(an, 150, date(2026, 8, 16), date(2026, 9, 15))
    bill = make_bill(an, 150, date(2026, 9, 16), date(2026, 10, 16))  # 31 days, like it
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert comparison.difference == 0 and comparison.causes == ()


def test_more_days_at_the_same_use_per_day() -> None:
    an = make_customer()
    earlier = make_bill(an, 150, date(2026, 9, 1), date(2026, 9, 30))  # 30 days, 5 kWh a day
    bill = make_bill(an, 170, date(2026, 10, 1), date(2026, 11, 3))  # 34 days, 5 kWh a day
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert adds_up(comparison)
    parts = amounts(comparison)
    assert set(parts) <= {DAYS, TIERS, VAT_ROUNDING} and PER_DAY not in parts
    # 4 more days at the earlier average price: 150 kWh cost 50 x 1.984 + 50 x 2.050
    # + 50 x 2.380 = 320.700 đ before VAT.
    assert parts[DAYS] == round(Fraction(320_700 * 4, 30) * Fraction(108, 100))
    # The 20 kWh more are all tier 3 (2.380 đ), dearer than the average (2.138 đ).
    assert parts[TIERS] > 0
    days = next(c for c in comparison.causes if c.kind == DAYS)
    assert days.days == 4


def test_kwh_pushed_into_a_higher_tier_are_counted() -> None:
    an = make_customer()
    earlier = make_bill(an, 180, date(2026, 9, 1), date(2026, 9, 30))  # tiers 1-3
    bill = make_bill(an, 264, date(2026, 10, 1), date(2026, 10, 30))  # 64 kWh in tier 4
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert adds_up(comparison)
    tiers = next(c for c in comparison.causes if c.kind == TIERS)
    assert (tiers.tier, tiers.tier_kwh) == (4, 64)
    assert comparison.causes[0].kind == PER_DAY  # largest first
    per_day = comparison.causes[0]
    assert per_day.kwh_per_day == Fraction(84, 30)


def test_a_price_change_between_and_inside_periods() -> None:
    an = make_customer()
    # Quyết định 1279/QĐ-BCT took effect on 10/05/2025, inside the May-June period.
    earlier = make_bill(an, 150, date(2025, 4, 6), date(2025, 5, 5))
    bill = make_bill(an, 150, date(2025, 5, 6), date(2025, 6, 4))  # 30 days both
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert adds_up(comparison)
    price = next(c for c in comparison.causes if c.kind == PRICE)
    assert price.price_from == date(2025, 5, 10)
    assert set(amounts(comparison)) <= {PRICE, VAT_ROUNDING}
    # 26 of 30 days at the new prices: the bill rose by about 26/30 of the full step.
    full = (
        BOOK.compute(150, date(2025, 6, 1), date(2025, 6, 30)).total
        - BOOK.compute(150, date(2025, 4, 1), date(2025, 4, 30)).total
    )
    assert abs(price.amount - full * 26 / 30) < full * 0.02


def test_a_vat_change_is_vat_and_rounding() -> None:
    an = make_customer()
    # The reduced 8% VAT ends on 31/12/2026.
    earlier = make_bill(an, 150, date(2026, 12, 1), date(2026, 12, 31))
    bill = make_bill(an, 150, date(2027, 1, 1), date(2027, 1, 31))
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert adds_up(comparison)
    assert amounts(comparison) == {VAT_ROUNDING: comparison.difference}
    assert comparison.difference == round(earlier.before_vat * Fraction(2, 100))


def test_more_households_on_the_meter() -> None:
    one = make_customer(households=1)
    two = make_customer(households=2)
    earlier = make_bill(one, 300, date(2026, 9, 1), date(2026, 9, 30))
    bill = make_bill(two, 300, date(2026, 10, 1), date(2026, 10, 30))
    # The utility's records hold today's count (2): the earlier bill's is read off it.
    comparison = compare(PREVIOUS, bill, earlier, two, BOOK)
    assert adds_up(comparison)
    assert set(amounts(comparison)) <= {HOUSEHOLDS, VAT_ROUNDING}
    households = next(c for c in comparison.causes if c.kind == HOUSEHOLDS)
    assert households.households == (1, 2) and households.amount < 0


def test_a_bill_corrected_after_issue_keeps_its_correction_apart() -> None:
    an = make_customer()
    earlier = make_bill(an, 150, date(2026, 9, 1), date(2026, 9, 30))
    issued = make_bill(an, 150, date(2026, 10, 1), date(2026, 10, 30))
    bill = dataclasses.replace(issued, total=issued.total - 25_000)  # a credit after issue
    comparison = compare(PREVIOUS, bill, earlier, an, BOOK)
    assert adds_up(comparison)
    assert amounts(comparison) == {CORRECTION: -25_000}


def nothing_used(bill: BillRecord) -> BillRecord:
    """`bill` with no kWh, as the utility issues it: 0 đ."""
    return dataclasses.replace(
        bill, kwh=0, new_index=bill.old_index, before_vat=0, vat=0, total=0, invoice=None
    )


def test_zero_consumption_before_or_now() -> None:
    an = make_customer()
    empty = nothing_used(make_bill(an, 1, date(2026, 9, 1), date(2026, 9, 30)))
    used = make_bill(an, 120, date(2026, 10, 1), date(2026, 10, 31))
    up = compare(PREVIOUS, used, empty, an, BOOK)
    assert adds_up(up) and set(amounts(up)) <= {PER_DAY, VAT_ROUNDING}
    down = compare(PREVIOUS, empty, used, an, BOOK)
    assert adds_up(down) and down.difference == -used.total
    both = nothing_used(make_bill(an, 1, date(2026, 11, 1), date(2026, 11, 30)))
    nothing = compare(PREVIOUS, both, empty, an, BOOK)
    assert nothing.difference == 0 and nothing.causes == ()


def test_the_latest_bill_by_default_and_a_chosen_month() -> None:
    an = make_customer()
    bills = [
        make_bill(an, 100 + 10 * month, date(2025, month, 1), date(2025, month, 28))
        for month in range(1, 13)
    ] + [make_bill(an, 400, date(2026, 1, 1), date(2026, 1, 28))]
    newest_first = bills[::-1]
    latest = explain(an, newest_first, BOOK)
    assert latest is not None and (latest.bill.year, latest.bill.month) == (2026, 1)
    assert latest.previous is not None and latest.previous.earlier.month == 12
    assert latest.last_year is not None and latest.last_year.against == LAST_YEAR
    assert latest.last_year.earlier.year == 2025 and latest.last_year.earlier.month == 1
    assert len(latest.history) == 13 and latest.history[-1] == latest.bill
    # 400 kWh against 220 and 110 the year before: more than 1.5 times both, per day.
    assert latest.meter_check
    chosen = explain(an, newest_first, BOOK, period=(2025, 6))
    assert chosen is not None and chosen.bill.month == 6 and chosen.last_year is None
    assert not chosen.meter_check
    assert explain(an, newest_first, BOOK, period=(2024, 6)) is None


def test_the_first_bill_has_nothing_to_compare() -> None:
    an = make_customer()
    only = make_bill(an, 90, date(2026, 10, 1), date(2026, 10, 31))
    first = explain(an, [only], BOOK)
    assert first is not None
    assert first.previous is None and first.last_year is None and not first.meter_check
    assert explain(an, [], BOOK) is None


async def test_similar_customers_are_of_the_same_ward_group_and_households(
    seeded_url: str,
) -> None:
    db = Database(seeded_url)
    backend = SqlUtilityBackend(db)
    try:
        home = await backend.customer("PC05CC0123456")
        shop = await backend.customer("PC05CC0123457")
        assert home is not None and shop is not None
        latest = (await backend.bills(home.code))[0]
        similar = await similar_customers(backend, home, latest)
        assert similar is not None and similar.customers >= SIMILAR_AT_LEAST
        # Their mean, worked out from their own bills of the month.
        async with db.reading() as session:
            codes = list(
                await session.scalars(
                    select(Customer.code).where(
                        Customer.ward_code == home.ward_code,
                        Customer.tariff_group == "household",
                        Customer.households == 1,
                        Customer.code != home.code,
                    )
                )
            )
        rates = []
        for code in codes:
            month = await backend.bills(code, year=latest.year, month=latest.month)
            if month:
                days = sum((b.period_end - b.period_start).days + 1 for b in month)
                rates.append(sum(b.kwh for b in month) / days)
        assert similar.customers == len(rates)
        assert abs(similar.kwh_per_day - sum(rates) / len(rates)) < 1e-9
        # The only restaurant of its ward has no one to be compared with.
        assert await similar_customers(backend, shop, (await backend.bills(shop.code))[0]) is None
    finally:
        await db.dispose()
