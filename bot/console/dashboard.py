"""Tổng quan, the supervisors' dashboard (issue 14): conversations and new chats per day
and channel, handoffs with their waits and ratings, what customers asked (and what the
bot did not understand, exported for the language team as Rasa nlu.yml), each service
form's funnel, and the notices delivered. Every chart has its table below it, and each
table downloads as CSV with the same rows (figures.py reads and shapes them).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from bot.auth.audit import record_staff
from bot.console import charts, stats
from bot.console.access import LEADS, Pages
from bot.console.base import console_of, staff_of
from bot.console.figures import Cell, Table, chart_set, read_figures, shown, tables
from bot.core import fmt

pages = Pages()

DEFAULT_DAYS = 14
MAX_DAYS = 366
UNSORTED_INTENT = "unsorted"  # the export's placeholder intent, for the language team
DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class PeriodError(ValueError):
    """The dates asked for cannot be read (said in Vietnamese)."""


def period_of(query: Any, today: date) -> stats.Period:
    """The period of `from` and `to` (YYYY-MM-DD, local days): by default the last 14
    days up to today."""
    typed_last, typed_first = query.get("to"), query.get("from")
    last = parse_day(typed_last, "Ngày kết thúc") if typed_last else today
    first = (
        parse_day(typed_first, "Ngày bắt đầu")
        if typed_first
        else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if first > last:
        raise PeriodError("Ngày bắt đầu phải trước hoặc trùng ngày kết thúc.")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError(f"Khoảng thời gian tối đa {MAX_DAYS} ngày.")
    return stats.Period(first, last)


def parse_day(value: str, name: str) -> date:
    """A day as a date field sends it (YYYY-MM-DD); `name` says which one in the error."""
    try:
        if not DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"{name} chưa đúng. Vui lòng chọn ngày, ví dụ 2026-11-26.") from None


# --- routes --------------------------------------------------------------------------------


def _range_query(period: stats.Period) -> str:
    return f"from={period.first.isoformat()}&to={period.last.isoformat()}"


@pages.get("/console/dashboard", LEADS)
async def dashboard(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    typed = {name: str(request.query.get(name, ""))[:20] for name in ("from", "to")}
    try:
        period = period_of(request.query, fmt.today(console.services.clock))
    except PeriodError as error:
        return console.render(
            request, "dashboard.html", status=400, error=str(error), typed=typed, figures=None
        )
    figures = await read_figures(console.services.db, period)
    texts = console.services.texts
    return console.render(
        request,
        "dashboard.html",
        typed={"from": period.first.isoformat(), "to": period.last.isoformat()},
        figures=figures,
        tables=tables(figures, texts),
        charts=chart_set(figures, texts),
        range_query=_range_query(period),
        show=shown,
        decimal=charts.decimal,
        quick=_quick_ranges(fmt.today(console.services.clock)),
    )


def _quick_ranges(today: date) -> list[tuple[str, str]]:
    return [
        (label, f"from={(today - timedelta(days=days - 1)).isoformat()}&to={today.isoformat()}")
        for label, days in (("7 ngày", 7), ("14 ngày", 14), ("30 ngày", 30), ("90 ngày", 90))
    ]


def _export_period(request: web.Request) -> stats.Period:
    try:
        return period_of(request.query, fmt.today(console_of(request).services.clock))
    except PeriodError as error:
        raise web.HTTPBadRequest(text=str(error)) from error


async def _audit_export(request: web.Request, what: str, period: stats.Period) -> None:
    """An export carries customers' words out of the console: it is kept in the log."""
    console, staff = console_of(request), staff_of(request)
    async with console.services.db.transaction() as session:
        record_staff(
            session,
            "export",
            staff.username,
            subject=f"dashboard {what} {period.first.isoformat()}..{period.last.isoformat()}",
        )


def _attachment(name: str, period: stats.Period) -> str:
    return f'attachment; filename="tong-quan-{name}-{period.first}-{period.last}"'


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Cell) -> str:
    """A CSV value: ISO dates, dot decimals; text that a spreadsheet would run as a
    formula (a customer's "=HYPERLINK(...)") starts with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return str(value)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([csv_cell(value) for value in row])
    return "\ufeff" + out.getvalue()  # the BOM: spreadsheets then read Vietnamese right


@pages.get("/console/dashboard/{table}.csv", LEADS)
async def table_csv(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    name = request.match_info["table"]
    period = _export_period(request)
    figures = await read_figures(console.services.db, period)
    table = tables(figures, console.services.texts).get(name)
    if table is None:
        raise web.HTTPNotFound(text="Không có bảng số liệu này.")
    await _audit_export(request, name, period)
    return web.Response(
        text=to_csv(table),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": _attachment(name, period) + ".csv"},
    )


def nlu_yaml(phrases: list[str], period: stats.Period) -> str:
    """The phrases as a Rasa 3 nlu.yml block under a placeholder intent, for the language
    team to move each one to its intent in nlu/data/nlu.yml."""
    lines = [
        f"# Câu bot chưa hiểu, {fmt.day(period.first)}–{fmt.day(period.last)}, "
        "câu gặp nhiều nhất trước.",
        f'# Chuyển từng câu sang intent phù hợp trong nlu/data/nlu.yml; "{UNSORTED_INTENT}" '
        "chỉ là chỗ tạm.",
        'version: "3.1"',
        "nlu:",
        f"- intent: {UNSORTED_INTENT}",
        "  examples: |",
    ]
    for phrase in phrases:
        printable = "".join(ch for ch in phrase if ch.isprintable()).strip()
        if printable:
            lines.append(f"    - {printable}")
    return "\n".join(lines) + "\n"


@pages.get("/console/dashboard/unknown.yml", LEADS)
async def unknown_yaml(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    period = _export_period(request)
    async with console.services.db.reading() as session:
        phrases, _ = await stats.not_understood(session, period, stats.PHRASE_ROWS)
    await _audit_export(request, "unknown.yml", period)
    return web.Response(
        text=nlu_yaml([phrase for phrase, _ in phrases], period),
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": _attachment("cau-chua-hieu", period) + ".yml"},
    )
