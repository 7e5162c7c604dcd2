"""Reading the dates customers type in Vietnamese, for the `date` field (docs/FORMS.md).

"1/10", "01/10/2026", "1.10.2026", "ngày 1 tháng 10 năm 2026", "hôm nay", "mai"...
The text is folded first (no case, diacritics or punctuation), so "1/10/2026",
"1-10-2026" and "ngày 1 tháng 10 năm 2026" all become the numbers "1 10 2026".

Days as people say them are read too (issue 15): a weekday ("thứ hai", "thứ 6", "T2",
"chủ nhật", "monday"), of a week ("thứ hai tuần sau", "next monday", "friday next
week"), and the ends of a week or month ("cuối tuần", "cuối tháng", "đầu tháng sau",
"end of the month"). No date library reads Vietnamese like this (dateparser's
Vietnamese knows month names, not "tuần sau"), so the few phrases are ours. Weeks
start on Monday, as Vietnamese calendars do.

This module only reads; `fields.parse_date` checks the field's rule and turns these
exceptions into the customer-facing `FieldError`s (fields.py imports this module, so
it cannot import fields.py back).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from nlu.normalize import fold, normalize

RULES = ("any", "past", "future")
# Normalised weekday names -> Monday 0 .. Sunday 6.
_WEEKDAYS = {
    **{f"thu {word}": n for n, word in enumerate(("hai", "ba", "tu", "nam", "sau", "bay"))},
    **{f"thu {n + 2}": n for n in range(6)},
    **{f"t{n + 2}": n for n in range(6)},
    "chu nhat": 6,
    "cn": 6,
    **{day: n for n, day in enumerate(calendar.day_name[i].lower() for i in range(7))},
    **{day: n for n, day in enumerate(calendar.day_abbr[i].lower() for i in range(7))},
}
# Which week or month, after the word ("tuần sau", "tháng này") or before it ("next").
_AFTER = {"nay": 0, "sau": 1, "toi": 1, "truoc": -1, "roi": -1}
_BEFORE = {"this": 0, "next": 1, "last": -1}
_SPOKEN_FILLER = frozenset({"vao", "ngay", "hom", "on", "the", "of", "a", "nhe", "nha", "please"})
# Normalised words naming a day relative to today.
_RELATIVE_DAYS = {
    "hom nay": 0,
    "nay": 0,
    "today": 0,
    "ngay mai": 1,
    "mai": 1,
    "tomorrow": 1,
    "ngay kia": 2,
    "ngay mot": 2,
    "hom qua": -1,
    "qua": -1,
    "yesterday": -1,
    "hom kia": -2,
}
_RELATIVE_YEARS = {"nay": 0, "sau": 1, "toi": 1, "ngoai": -1, "truoc": -1, "roi": -1}
_RELATIVE_YEAR = re.compile(r"\bnam (" + "|".join(_RELATIVE_YEARS) + r")\b")
# Words around the numbers that carry nothing ("vào ngày 1 tháng 10 năm 2026").
_FILLER = frozenset({"ngay", "thang", "nam", "vao", "hom", "on"})
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class UnreadableDate(ValueError):
    """The text is not a date written in a way we know."""


class NoSuchDate(ValueError):
    """Day and month that the calendar does not have ("31/2", "29/2/2027", "1/13")."""


def read_date(text: str, *, today: date, rule: str = "any") -> date:
    """The date the text names; without a year, the next such day (rule=future), the
    last one (past) or this year's (any).

    Raises:
        UnreadableDate: no date in a form we read.
        NoSuchDate: a day the calendar does not have.
    """
    relative = normalize(text)  # also "hnay", "hôm nay ạ"
    if relative in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[relative])
    if (spoken := _spoken(fold(text), today, rule)) is not None:
        return spoken
    folded = _RELATIVE_YEAR.sub(lambda m: str(today.year + _RELATIVE_YEARS[m[1]]), fold(text))
    numbers = [word for word in folded.split() if word not in _FILLER]
    if not numbers or not all(_DIGITS.fullmatch(n) for n in numbers):
        raise UnreadableDate(text)
    if len(numbers) == 1 and len(numbers[0]) == 8:  # "01102026"
        numbers = [numbers[0][:2], numbers[0][2:4], numbers[0][4:]]
    if len(numbers) == 3 and len(numbers[0]) == 4:  # ISO order, "2026-10-01"
        numbers.reverse()
    if not 2 <= len(numbers) <= 3 or any(len(n) > 2 for n in numbers[:2]):
        raise UnreadableDate(text)
    day, month = int(numbers[0]), int(numbers[1])
    if len(numbers) == 2:
        found = _without_year(day, month, today, rule)
    elif len(numbers[2]) in (2, 4):
        found = _on(_year(numbers[2], today, rule), month, day)
    else:
        raise UnreadableDate(text)
    if found is None:
        raise NoSuchDate(text)
    return found


def _year(digits: str, today: date, rule: str) -> int:
    """'26' -> 2026; for a past date (a birth date) a two-digit year may be 19xx."""
    year = int(digits)
    if len(digits) == 2:
        year += 2000
        if rule == "past" and year > today.year:
            year -= 100
    return year


def _without_year(day: int, month: int, today: date, rule: str) -> date | None:
    """This year's day, or next (future) / last (past) year's when this one is on the
    wrong side of today; None when no year tried has that day (29/2)."""
    offsets = {"future": (0, 1), "past": (0, -1)}.get(rule, (0,))
    for offset in offsets:
        found = _on(today.year + offset, month, day)
        if found is None:
            continue
        if (rule == "future" and found < today) or (rule == "past" and found > today):
            continue
        return found
    return None


def _on(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # 31/2, 29/2 outside a leap year, month 13, year 0
        return None


def _spoken(phrase: str, today: date, rule: str) -> date | None:
    """A weekday or the end of a week or month as said ("thứ hai tuần sau", "cuối
    tháng", "next monday"); None when the phrase is none of these."""
    words = [w for w in phrase.split() if w not in _SPOKEN_FILLER]
    shift: int | None = None
    if words and words[0] in _BEFORE:  # "next monday", "this friday", "next month"
        shift, words = _BEFORE[words[0]], words[1:]
    if len(words) >= 2 and words[-2] in ("tuan", "week", "thang", "month"):
        if words[-1] in _AFTER:  # "tuần sau", "tháng này"
            shift, words = _AFTER[words[-1]], [*words[:-1]]
    elif len(words) >= 2 and words[-1] in ("week", "month") and words[-2] in _BEFORE:
        shift, words = _BEFORE[words[-2]], [*words[:-2], words[-1]]  # "friday next week"
    text = " ".join(words)
    monday = today - timedelta(days=today.weekday())
    for ends, day_of in (
        (("cuoi thang", "end month", "end of month"), _month_end),
        (("dau thang", "start month", "beginning month"), _month_start),
    ):
        if text in ends:
            return day_of(today, shift or 0)
    if text in ("cuoi tuan", "weekend", "end week"):
        return monday + timedelta(days=5 + 7 * (shift or 0))
    weekday_words = text.removesuffix(" tuan").removesuffix(" week")
    if weekday_words not in _WEEKDAYS:
        return None
    weekday = _WEEKDAYS[weekday_words]
    if shift is not None and (text != weekday_words or phrase.split()[0] not in _BEFORE):
        return monday + timedelta(days=weekday + 7 * shift)  # "thứ hai tuần sau"
    if shift == 0:  # "this friday": this week's
        return monday + timedelta(days=weekday)
    ahead = (weekday - today.weekday()) % 7 or 7  # the coming one ("next monday", "thứ 6")
    if shift == -1 or (shift is None and rule == "past"):
        return today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    return today + timedelta(days=ahead)


def _month_end(today: date, shift: int) -> date:
    year, month = divmod(today.month - 1 + shift, 12)
    year, month = today.year + year, month + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _month_start(today: date, shift: int) -> date:
    year, month = divmod(today.month - 1 + shift, 12)
    return date(today.year + year, month + 1, 1)
