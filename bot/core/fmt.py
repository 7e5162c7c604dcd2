"""Numbers, money and dates as Vietnamese customers read them (see UX.md).

Vietnamese: 305.230 đ · 1.234 kWh · 26/11/2026 · 14:30. English keeps the day-first
dates (they are printed on the bill that way) with comma thousands: 305,230 VND.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

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


def mask_phone(e164: str) -> str:
    """+84905123456 -> '0905 *** 456' (never show a whole number back)."""
    national = "0" + e164[3:] if e164.startswith("+84") else e164
    return f"{national[:4]} *** {national[-3:]}" if len(national) >= 8 else "***"
