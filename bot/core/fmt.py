"""Numbers, money and dates as Vietnamese customers read them (see UX.md).

Vietnamese: 305.230 đ · 1.234 kWh · 26/11/2026 · 14:30. English keeps the day-first
dates (they are printed on the bill that way) with comma thousands: 305,230 VND.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.core.clock import Clock

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def number(value: int, lang: str = "vi") -> str:
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if lang == "vi" else grouped


def money(vnd: int, lang: str = "vi") -> str:
    return f"{number(vnd, lang)} đ" if lang == "vi" else f"{number(vnd, lang)} VND"


def kwh(value: int, lang: str = "vi") -> str:
    return f"{number(value, lang)} kWh"


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ)


def today(clock: Clock) -> date:
    """The day it is in Vietnam: what "today" means to a customer. A Context is a Clock."""
    return local(clock.now()).date()


def day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime("%d/%m/%Y")


def short_day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime("%d/%m")


def clock(moment: datetime) -> str:
    return local(moment).strftime("%H:%M")
