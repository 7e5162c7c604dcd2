"""Dates as Vietnamese customers read them: "today" is the day in Vietnam."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core.clock import FakeClock
from bot.core.fmt import today


def test_today_is_the_day_in_vietnam_not_in_utc() -> None:
    assert today(FakeClock(datetime(2026, 11, 26, 16, 59, tzinfo=UTC))) == date(2026, 11, 26)
    assert today(FakeClock(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))) == date(2026, 11, 27)
