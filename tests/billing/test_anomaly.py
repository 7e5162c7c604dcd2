"""The unusual-use method (issue 18 part 2): a bill against the customer's own
expectation, and the meter check after two unusual periods."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.billing import anomaly
from bot.billing.anomaly import ANOMALOUS, CORRECTED, NO_HISTORY, NORMAL, ZERO
from bot.demo.generate import SEASON
from bot.store.backend import BillRecord


def monthly(kwh_per_month: list[int], *, first: tuple[int, int] = (2024, 12)) -> list[BillRecord]:
    """Bills read on the 15th, the first for the month `first`, oldest first."""
    bills: list[BillRecord] = []
    year, month = first
    index = 1000
    for kwh in kwh_per_month:
        end = date(year, month, 15)
        start = (end.replace(day=1) - timedelta(days=1)).replace(day=16)
        bills.append(
            BillRecord(
                customer_code="PC05CC0000001",
                term=1,
                month=month,
                year=year,
                period_start=start,
                period_end=end,
                old_index=index,
                new_index=index + kwh,
                kwh=kwh,
                before_vat=0,
                vat_rate=8,
                vat=0,
                total=0,
                issued_on=end + timedelta(days=1),
                due_date=end + timedelta(days=10),
                status="paid",
                paid_at=None,
                paid_channel=None,
                invoice=None,
                id=len(bills) + 1,
            )
        )
        index += kwh
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return bills


def seasonal(base: float, months: int = 24, noise: list[float] | None = None) -> list[int]:
    """A household's use month by month from December, the demo's season, and noise."""
    values = []
    for position in range(months):
        month = (12 + position - 1) % 12 + 1
        wobble = noise[position] if noise else 1.0
        values.append(round(base * SEASON[month] * wobble))
    return values


def judged(bills: list[BillRecord]) -> anomaly.Insight:
    found = anomaly.insight(bills)
    assert found is not None
    return found


def test_a_first_bill_claims_nothing() -> None:
    found = judged(monthly([900]))
    assert found.verdict.status == NO_HISTORY
    assert not found.verdict.anomalous and not found.meter_check
    assert found.previous is None
    assert judged(monthly([100, 120, 900])).verdict.status == NO_HISTORY  # two references


def test_no_bills_no_insight() -> None:
    assert anomaly.insight([]) is None


def test_zero_consumption_is_not_called_unusual_use() -> None:
    found = judged(monthly([150, 160, 155, 150, 0]))
    assert found.verdict.status == ZERO
    assert not found.verdict.anomalous and not found.meter_check


def test_a_corrected_bill_is_not_judged_nor_used_as_a_reference() -> None:
    bills = monthly([150, 160, 155, 150, 158, 152, 400])
    wrong = dataclasses.replace(bills[-1], new_index=bills[-1].old_index + 150)  # re-read
    assert judged([*bills[:-1], wrong]).verdict.status == CORRECTED
    # A corrected bill in the history does not set the expectation: a huge one there
    # would hide the rise.
    history = monthly([150, 160, 155, 150, 158, 152, 160, 400])
    history[5] = dataclasses.replace(history[5], kwh=2000)  # readings say 152
    verdict = judged(history).verdict
    assert verdict.status == ANOMALOUS
    assert verdict.expected is not None and verdict.expected < 6


def test_a_steady_household_over_two_seasons_is_never_told() -> None:
    noise = [1.0, 1.1, 0.9, 1.05, 0.95, 1.12, 0.88, 1.0, 1.1, 0.9, 1.0, 1.05] * 2
    bills = monthly(seasonal(160, noise=noise))
    for end in range(1, len(bills) + 1):
        assert not judged(bills[:end]).verdict.anomalous, bills[end - 1].month


def test_a_jump_with_no_cause_two_periods_running_suggests_a_meter_check() -> None:
    use = seasonal(160)
    use[-2:] = [kwh * 2 for kwh in use[-2:]]
    bills = monthly(use)
    first = judged(bills[:-1])
    assert first.verdict.anomalous and first.verdict.seasonal
    assert not first.meter_check  # one period is not yet a pattern
    assert first.verdict.percent_above >= 90
    second = judged(bills)
    assert second.verdict.anomalous and second.previous is not None
    assert second.previous.anomalous
    assert second.meter_check


def test_the_meter_check_waits_when_the_households_or_the_days_changed() -> None:
    use = seasonal(160)
    use[-2:] = [kwh * 2 for kwh in use[-2:]]
    bills = monthly(use)
    one_more_household = {bills[-1].id}
    found = anomaly.insight(bills, households=lambda b: 2 if b.id in one_more_household else 1)
    assert found is not None and found.verdict.anomalous and not found.meter_check
    longer = dataclasses.replace(bills[-1], period_start=bills[-1].period_start - timedelta(9))
    longer = dataclasses.replace(
        longer,
        kwh=round(longer.kwh * 39 / 30),
        new_index=longer.old_index + round(longer.kwh * 39 / 30),
    )
    found = judged([*bills[:-1], longer])
    assert found.verdict.anomalous and not found.meter_check


def test_without_last_year_the_season_alone_is_not_called_unusual() -> None:
    # The first year of a contract: December to July, the hot months about 1.6x the cool.
    bills = monthly(seasonal(160, months=8))
    for end in range(1, len(bills) + 1):
        verdict = judged(bills[:end]).verdict
        assert verdict.status in (NO_HISTORY, NORMAL)
        if verdict.status == NORMAL:
            assert not verdict.seasonal


def test_a_rise_told_once_the_history_knows_the_season() -> None:
    # An air conditioner from June of the second year: the year before says June is
    # warm, not this warm.
    use = seasonal(160)
    for position in (18, 19, 20):  # June, July, August of the second year
        use[position] += 110
    verdict = judged(monthly(use)[:19]).verdict
    assert verdict.status == ANOMALOUS and verdict.seasonal


@settings(max_examples=60, deadline=None)
@given(
    base=st.integers(min_value=30, max_value=2000),
    noise=st.lists(st.floats(min_value=0.88, max_value=1.12), min_size=24, max_size=24),
    factor=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_bill_at_or_below_the_ordinary_is_never_told(
    base: int, noise: list[float], factor: float
) -> None:
    use = seasonal(base, noise=noise)
    bills = monthly(use)
    verdict = judged(bills).verdict
    if verdict.expected is None:
        return
    lower = round(verdict.expected * 30 * factor)  # the bill's 30 days at most the expectation
    last = dataclasses.replace(bills[-1], kwh=lower, new_index=bills[-1].old_index + lower)
    assert not judged([*bills[:-1], last]).verdict.anomalous


@settings(max_examples=60, deadline=None)
@given(
    base=st.integers(min_value=30, max_value=2000),
    noise=st.lists(st.floats(min_value=0.88, max_value=1.12), min_size=24, max_size=24),
    more=st.integers(min_value=0, max_value=5000),
)
def test_more_use_never_turns_an_alarm_off(base: int, noise: list[float], more: int) -> None:
    bills = monthly(seasonal(base, noise=noise))
    last = bills[-1]
    raised = dataclasses.replace(last, kwh=last.kwh + more, new_index=last.new_index + more)
    before, after = judged(bills).verdict, judged([*bills[:-1], raised]).verdict
    if before.anomalous:
        assert after.anomalous
    assert after.expected == before.expected  # the bill itself never sets its expectation
