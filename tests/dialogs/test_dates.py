"""Dates as customers say them at a date question (issue 15, point 12): weekdays of this
or next week, the end of the month, with or without diacritics, and simple English."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dialogs.dates import UnreadableDate, read_date

THURSDAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("said", "rule", "meant"),
    [
        ("thứ hai tuần sau", "future", date(2026, 11, 30)),
        ("Thu hai tuan sau", "future", date(2026, 11, 30)),
        ("thứ 2 tuần tới", "future", date(2026, 11, 30)),
        ("vào thứ ba tuần sau ạ", "future", date(2026, 12, 1)),
        ("thứ sáu tuần này", "future", date(2026, 11, 27)),
        ("chủ nhật tuần sau", "future", date(2026, 12, 6)),  # weeks start on Monday
        ("T2", "future", date(2026, 11, 30)),
        ("thứ năm", "future", date(2026, 12, 3)),  # today's weekday: the next one
        ("thứ năm", "past", date(2026, 11, 19)),
        ("thứ hai tuần trước", "past", date(2026, 11, 16)),
        ("cuối tháng", "future", date(2026, 11, 30)),
        ("cuoi thang nay", "future", date(2026, 11, 30)),
        ("cuối tháng sau", "future", date(2026, 12, 31)),
        ("đầu tháng sau", "future", date(2026, 12, 1)),
        ("cuối tuần", "future", date(2026, 11, 28)),
        ("next monday", "future", date(2026, 11, 30)),
        ("Friday next week", "future", date(2026, 12, 4)),
        ("this friday", "future", date(2026, 11, 27)),
        ("last monday", "past", date(2026, 11, 23)),
        ("end of the month", "future", date(2026, 11, 30)),
        ("end of next month", "future", date(2026, 12, 31)),
    ],
)
def test_a_day_as_people_say_it(said: str, rule: str, meant: date) -> None:
    assert read_date(said, today=THURSDAY, rule=rule) == meant


def test_the_end_of_december_is_in_december_and_of_next_month_in_january() -> None:
    december = date(2026, 12, 10)
    assert read_date("cuối tháng", today=december) == date(2026, 12, 31)
    assert read_date("cuối tháng sau", today=december) == date(2027, 1, 31)


@pytest.mark.parametrize("said", ["thứ tám", "tuần sau", "cuối năm sau nữa", "monday week two"])
def test_what_names_no_day_is_still_refused(said: str) -> None:
    with pytest.raises(UnreadableDate):
        read_date(said, today=THURSDAY, rule="future")
