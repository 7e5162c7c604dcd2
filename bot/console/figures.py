"""What the dashboard shows (issue 14): the period's figures read side by side, and
the tables and charts made of them. A table is what the page shows under its chart and
what its CSV download holds, row for row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import charts, stats
from bot.console.base import CHANNEL_LABELS
from bot.core import fmt
from bot.core.texts import Texts
from bot.dialogs.forms import default_forms
from bot.dialogs.runs import SUMMARY
from bot.store.db import Database

UNKNOWN_SHOWN = 50  # phrases in the table; the .yml export has them all
# Queries of one page at a time: the connections are shared with the conversations.
PARALLEL_QUERIES = 3

CATEGORY_LABELS = {
    "bill": "Hóa đơn",
    "outage": "Ngừng cấp điện",
    "other": "Thông báo khác",
    "service": "Trả lời khách hàng",
}
# Intents that open no flow, so domain.yml has no button text for them (nlu/intents.py).
TALK_INTENTS = {
    "greet": "Chào hỏi",
    "goodbye": "Tạm biệt",
    "thanks": "Cảm ơn",
    "affirm": "Đồng ý",
    "deny": "Không đồng ý",
    "help": "Hỏi cách dùng bot",
    "out_of_scope": "Ngoài phạm vi",
}
Cell = str | int | float | date | None
T = TypeVar("T")


@dataclass
class Figures:
    """Everything the dashboard shows for one period."""

    period: stats.Period
    conversations: stats.DayCounts
    new_users: stats.DayCounts
    handoffs: stats.Handoffs
    intents: list[tuple[str, int]]
    unknown: list[tuple[str, int]]
    unknown_messages: int
    funnels: list[stats.Funnel]
    notices: stats.DayCounts


async def read_figures(db: Database, period: stats.Period) -> Figures:
    """The period's figures; the queries run side by side, each on a session of its own
    (SQLite's readers do not wait for one another in WAL mode, nor PostgreSQL's), a few
    at a time."""
    turns = asyncio.Semaphore(PARALLEL_QUERIES)

    async def reading(query: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with turns, db.reading() as session:
            return await query(session)

    async with asyncio.TaskGroup() as group:
        conversations = group.create_task(reading(lambda s: stats.conversations(s, db, period)))
        new_users = group.create_task(reading(lambda s: stats.new_chat_users(s, db, period)))
        handoffs = group.create_task(reading(lambda s: stats.handoffs(s, db, period)))
        intents = group.create_task(reading(lambda s: stats.top_intents(s, period)))
        unknown = group.create_task(
            reading(lambda s: stats.not_understood(s, period, UNKNOWN_SHOWN))
        )
        funnels = group.create_task(reading(lambda s: stats.form_funnels(s, period)))
        notices = group.create_task(reading(lambda s: stats.notices_sent(s, db, period)))
    phrases, misunderstood = unknown.result()
    return Figures(
        period=period,
        conversations=conversations.result(),
        new_users=new_users.result(),
        handoffs=handoffs.result(),
        intents=intents.result(),
        unknown=phrases,
        unknown_messages=misunderstood,
        funnels=funnels.result(),
        notices=notices.result(),
    )


# --- tables: the page's and the CSV's rows ------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table under a chart; `/console/dashboard/<name>.csv` downloads the same rows."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def _per_channel(name: str, title: str, counts: stats.DayCounts) -> Table:
    channels = counts.keys
    headers = ["Ngày", *(CHANNEL_LABELS.get(c, c) for c in channels), "Tổng"]
    rows: list[list[Cell]] = [
        [day, *(counts.count(day, c) for c in channels), counts.day_total(day)]
        for day in counts.days
    ]
    return Table(name, title, headers, rows)


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def intent_label(texts: Texts, intent: str) -> str:
    """The intent as the customers' buttons name it, else as TALK_INTENTS does."""
    try:
        return texts.get(f"intents.{intent}")
    except KeyError:  # an intent without a button of its own (greet, thanks...)
        return TALK_INTENTS.get(intent, intent)


def form_title(form_id: str) -> str:
    form = default_forms().get(form_id)
    return form.title["vi"] if form is not None else form_id


def step_order(form_id: str, step: str) -> int:
    """Where `step` comes in its form (the summary last): the funnel's order."""
    form = default_forms().get(form_id)
    names = [f.name for f in form.fields] if form else []
    if step == SUMMARY:
        return len(names) + 1
    return names.index(step) + 1 if step in names else 0


def step_label(form_id: str, step: str) -> str:
    if step == SUMMARY:
        return "Bước xác nhận (đã trả lời hết)"
    form = default_forms().get(form_id)
    field = next((f for f in form.fields if f.name == step), None) if form else None
    return field.label("vi") if field is not None else (step or "Chưa hỏi câu nào")


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _funnel_row(f: stats.Funnel) -> list[Cell]:
    sent = _share(f.submitted, f.started)
    return [form_title(f.form_id), f.started, f.submitted, f.cancelled, f.abandoned, sent]


def tables(figures: Figures, texts: Texts) -> dict[str, Table]:
    """Every table of the page, by the name of its CSV."""
    h = figures.handoffs
    notices: list[list[Cell]] = [
        [day, CATEGORY_LABELS.get(category, category), CHANNEL_LABELS.get(channel, channel), n]
        for (day, key), n in sorted(figures.notices.counts.items())
        for category, _, channel in [key.partition("/")]
    ]
    every = [
        _per_channel("conversations", "Hội thoại theo ngày và kênh", figures.conversations),
        _per_channel("new_users", "Người dùng mới theo ngày và kênh", figures.new_users),
        Table(
            "handoffs",
            "Yêu cầu gặp nhân viên và thời gian chờ",
            ["Ngày", "Yêu cầu", "Đã tiếp nhận", "Chờ trung vị (phút)", "Chờ P95 (phút)"],
            [
                [d.day, d.requested, d.taken, _minutes(d.median_wait), _minutes(d.p95_wait)]
                for d in h.days
            ],
        ),
        Table(
            "csat",
            "Đánh giá của khách hàng (CSAT)",
            ["Điểm", "Số đánh giá", "Tỷ lệ (%)"],
            [[score, n, _share(n, h.rated)] for score, n in sorted(h.ratings.items())],
        ),
        Table(
            "intents",
            "Ý định khách hỏi nhiều nhất",
            ["Ý định", "Mã ý định", "Số tin nhắn"],
            [[intent_label(texts, i), i, n] for i, n in figures.intents],
        ),
        Table(
            "unknown",
            "Câu bot chưa hiểu",
            ["Câu khách viết", "Số lần"],
            [[phrase, n] for phrase, n in figures.unknown],
        ),
        Table(
            "forms",
            "Đơn dịch vụ: bắt đầu, gửi, hủy, bỏ dở",
            ["Dịch vụ", "Bắt đầu", "Đã gửi", "Đã hủy", "Bỏ dở", "Tỷ lệ gửi (%)"],
            [_funnel_row(f) for f in figures.funnels],
        ),
        Table(
            "form_steps",
            "Bước khách bỏ dở đơn",
            ["Dịch vụ", "Bước", "Số lượt bỏ dở"],
            [
                [form_title(f.form_id), step_label(f.form_id, step), n]
                for f in figures.funnels
                for step, n in sorted(f.left_at.items(), key=lambda i: step_order(f.form_id, i[0]))
            ],
        ),
        Table(
            "notices",
            "Thông báo đã gửi theo ngày, loại và kênh",
            ["Ngày", "Loại thông báo", "Kênh", "Đã gửi"],
            notices,
        ),
    ]
    return {table.name: table for table in every}


def shown(value: Cell) -> str:
    """A cell as staff read it: 26/11/2026, 1.234, 4,5; a missing value as a dash."""
    if value is None:
        return "–"
    if isinstance(value, date):
        return fmt.day(value)
    if isinstance(value, int):
        return fmt.number(value)
    if isinstance(value, float):
        return charts.decimal(value)
    return value


# --- charts --------------------------------------------------------------------------------


def chart_set(figures: Figures, texts: Texts) -> dict[str, charts.Chart]:
    """Every chart of the page, by the section that shows it."""
    days = figures.period.days
    h = figures.handoffs

    def by_channel(title: str, counts: stats.DayCounts) -> charts.Chart:
        series = [
            (CHANNEL_LABELS.get(c, c), [counts.count(d, c) for d in days]) for c in counts.keys
        ]
        return charts.stacked_days(title, days, series)

    per_category: dict[str, dict[date, int]] = {}
    for (day, key), n in figures.notices.counts.items():
        category = key.partition("/")[0]
        per_category.setdefault(category, {}).setdefault(day, 0)
        per_category[category][day] += n
    notices = [
        (CATEGORY_LABELS.get(category, category), [counts.get(d, 0) for d in days])
        for category, counts in sorted(per_category.items())
    ]
    return {
        "conversations": by_channel("Hội thoại theo ngày", figures.conversations),
        "new_users": by_channel("Người dùng mới theo ngày", figures.new_users),
        "handoffs": charts.stacked_days(
            "Yêu cầu gặp nhân viên theo ngày",
            days,
            [
                ("Đã tiếp nhận", [d.taken for d in h.days]),
                ("Chưa tiếp nhận", [d.requested - d.taken for d in h.days]),
            ],
        ),
        "waits": charts.lines_days(
            "Thời gian chờ nhân viên (phút)",
            days,
            [
                ("Trung vị", [_minutes(d.median_wait) for d in h.days]),
                ("P95", [_minutes(d.p95_wait) for d in h.days]),
            ],
            unit="′",
        ),
        "csat": charts.horizontal(
            "Phân bố điểm đánh giá",
            [(f"{'★' * score} ({score})", [n]) for score, n in sorted(h.ratings.items())],
        ),
        "intents": charts.horizontal(
            "Ý định khách hỏi nhiều nhất",
            [(intent_label(texts, i), [n]) for i, n in figures.intents],
        ),
        "forms": charts.horizontal(
            "Đơn dịch vụ theo kết quả",
            [
                (form_title(f.form_id), [f.submitted, f.cancelled, f.abandoned])
                for f in figures.funnels
            ],
            parts=["Đã gửi", "Đã hủy", "Bỏ dở"],
        ),
        "notices": charts.stacked_days("Thông báo đã gửi theo ngày", days, notices),
    }
