"""The bill explanation's chart (issue 18): a phone-sized PNG, or a clear refusal."""

from __future__ import annotations

import io
from datetime import date

import pytest
from matplotlib.image import imread

from bot.billing.explain_chart import DayPoint, per_day_chart


def test_a_household_chart_with_tiers_and_a_price_change_is_1000_by_700() -> None:
    points = [DayPoint(f"{m:02d}/25", 4.0 + m / 3, 30 + m % 2) for m in range(1, 14)]
    png = per_day_chart(
        points,
        title="Điện dùng mỗi ngày – PC05CC0123456",
        tier_sizes=(50, 50, 100, 100, 100),
        households=2,
        price_changes=[(5, date(2025, 5, 10))],
    )
    height, width = imread(io.BytesIO(png)).shape[:2]
    assert (width, height) == (1000, 700)


def test_no_period_is_no_chart() -> None:
    with pytest.raises(ValueError, match="at least one period"):
        per_day_chart([], title="x")
