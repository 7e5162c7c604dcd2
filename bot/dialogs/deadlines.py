"""Working days: the processing-time commitments of service requests count neither
weekends nor Vietnamese public holidays (the `holidays` package keeps the list, Tết
included, with the substitute days off the government announces). Some commitments
are longer in rural areas: a ward is rural by its kind in vietnam-provinces."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays
from vietnam_provinces import VietNamDivisionType, Ward, WardCode


@functools.cache
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year))


def is_public_holiday(day: date) -> bool:
    return day in _public_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (a request received on a Friday with
    3 working days is due on Wednesday)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def is_rural(ward_code: int) -> bool:
    """Whether the ward is a commune (xã), the rural area of the supply regulations;
    a phường, a đặc khu (the island zones) or an unknown code is not."""
    try:
        ward = Ward.from_code(WardCode(ward_code))
    except ValueError:
        return False
    return ward.division_type is VietNamDivisionType.XA
