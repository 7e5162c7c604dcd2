"""The dashboard's figures (issue 14), counted by the database: every query is bounded
by the period on an indexed timestamp and grouped in SQL, so a month of a busy
utility's chats is read as a few hundred grouped rows, not as its messages.

Days are Vietnam's (UTC+7): a timestamp is shifted before its date is taken, in the
SQL of the database at hand (`local_day`), and a period's bounds are its first local
midnight and the one after its last day.
"""

from __future__ import annotations

import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.fmt import LOCAL_TZ
from bot.core.transcript import REDACTED
from bot.store.db import Database
from bot.store.models import ChatUser, Conversation, Delivery, FormRun, TranscriptMessage
from bot.store.staff_models import Handoff

LOCAL_ZONE = "Asia/Ho_Chi_Minh"
# Vietnam has kept UTC+7 without summer time since 1975: SQLite's date() shifts by it.
SQLITE_SHIFT = "+7 hours"
NOT_UNDERSTOOD = "?"  # TranscriptMessage.intent of a message the bot did not understand
TOP_INTENTS = 15
# Distinct phrases read for the export: more than the language team sorts in a sitting.
PHRASE_ROWS = 5000


@dataclass(frozen=True)
class Period:
    """Local days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), LOCAL_TZ).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def holds(self, column: Any) -> ColumnElement[bool]:
        """`column` (a UTC timestamp) falls in the period: a range its index serves."""
        return and_(column >= self.start, column < self.end)


def local_day(db: Database, column: Any) -> ColumnElement[Any]:
    """The Vietnam date of a UTC timestamp column, in the database's SQL. Constants are
    written into the SQL (not bound) so that PostgreSQL sees the same expression in
    SELECT and GROUP BY."""
    if db.is_postgres:
        return func.date(func.timezone(literal_column(f"'{LOCAL_ZONE}'"), column))
    if db.is_sqlite:
        return func.date(column, literal_column(f"'{SQLITE_SHIFT}'"))
    raise NotImplementedError(f"local days on {db.url.get_backend_name()}")


def seconds_between(db: Database, earlier: Any, later: Any) -> ColumnElement[Any]:
    """Seconds from `earlier` to `later` (two timestamp columns), in the database's SQL."""
    if db.is_postgres:
        return extract("epoch", later - earlier)
    if db.is_sqlite:
        return (func.julianday(later) - func.julianday(earlier)) * 86400
    raise NotImplementedError(f"durations on {db.url.get_backend_name()}")


def as_date(value: date | str) -> date:
    """A date column's value: a `date` from PostgreSQL, ISO text from SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass
class DayCounts:
    """Counts per local day and per key (a channel, a category): a stacked bar chart."""

    days: list[date]
    counts: dict[tuple[date, str], int] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """The keys with any count, the largest total first."""
        totals: Counter[str] = Counter()
        for (_, key), count in self.counts.items():
            totals[key] += count
        return [key for key, _ in totals.most_common()]

    def count(self, day: date, key: str) -> int:
        return self.counts.get((day, key), 0)

    def day_total(self, day: date) -> int:
        return sum(count for (d, _), count in self.counts.items() if d == day)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _day_counts(period: Period, rows: Iterable[Any]) -> DayCounts:
    counts = DayCounts(period.days)
    for day, key, count in rows:
        counts.counts[(as_date(day), str(key))] = int(count)
    return counts


async def conversations(session: AsyncSession, db: Database, period: Period) -> DayCounts:
    """Conversations per day and channel: those with a message from the customer that day."""
    day = local_day(db, TranscriptMessage.created_at).label("day")
    active = (
        select(day, TranscriptMessage.conversation_id.label("conversation_id"))
        .where(period.holds(TranscriptMessage.created_at), TranscriptMessage.direction == "in")
        .distinct()
        .subquery()
    )
    rows = await session.execute(
        select(active.c.day, ChatUser.channel, func.count())
        .select_from(active)
        .join(Conversation, Conversation.id == active.c.conversation_id)
        .join(ChatUser, ChatUser.id == Conversation.chat_user_id)
        .group_by(active.c.day, ChatUser.channel)
    )
    return _day_counts(period, rows)


async def new_chat_users(session: AsyncSession, db: Database, period: Period) -> DayCounts:
    """Chats seen for the first time, per day and channel."""
    day = local_day(db, ChatUser.created_at)
    rows = await session.execute(
        select(day, ChatUser.channel, func.count())
        .where(period.holds(ChatUser.created_at))
        .group_by(day, ChatUser.channel)
    )
    return _day_counts(period, rows)


async def notices_sent(session: AsyncSession, db: Database, period: Period) -> DayCounts:
    """Notices delivered per day, by "category/channel"."""
    day = local_day(db, Delivery.sent_at)
    rows = await session.execute(
        select(day, Delivery.category, Delivery.channel, func.count())
        .where(Delivery.status == "sent", period.holds(Delivery.sent_at))
        .group_by(day, Delivery.category, Delivery.channel)
    )
    return _day_counts(period, ((d, f"{cat}/{chan}", n) for d, cat, chan, n in rows))


# --- handoffs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffDay:
    """One day's requests for a person and how long the taken ones waited."""

    day: date
    requested: int
    taken: int
    median_wait: float | None  # minutes
    p95_wait: float | None


@dataclass(frozen=True)
class Handoffs:
    days: list[HandoffDay]
    requested: int
    taken: int
    median_wait: float | None
    p95_wait: float | None
    ratings: dict[int, int]  # CSAT score 1-5 -> how many customers gave it

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def average_rating(self) -> float | None:
        if not self.rated:
            return None
        return sum(score * count for score, count in self.ratings.items()) / self.rated


def percentile(values: list[float], share: float) -> float | None:
    """The value below which `share` of `values` fall (linear between two values)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _minutes(waits: list[float]) -> tuple[float | None, float | None]:
    minutes = sorted(seconds / 60 for seconds in waits)
    median = statistics.median(minutes) if minutes else None
    return median, percentile(minutes, 0.95)


async def handoffs(session: AsyncSession, db: Database, period: Period) -> Handoffs:
    """Requests for a person per day, the waits until an agent took them (median and
    95th percentile, from the period's rows only) and the customers' ratings."""
    day = local_day(db, Handoff.requested_at)
    waited = seconds_between(db, Handoff.requested_at, Handoff.taken_at)
    rows = await session.execute(select(day, waited).where(period.holds(Handoff.requested_at)))
    requested: Counter[date] = Counter()
    waits: dict[date, list[float]] = {}
    for raw_day, seconds in rows:
        on = as_date(raw_day)
        requested[on] += 1
        if seconds is not None:
            waits.setdefault(on, []).append(max(0.0, float(seconds)))
    days = []
    for on in period.days:
        median, p95 = _minutes(waits.get(on, []))
        days.append(HandoffDay(on, requested[on], len(waits.get(on, [])), median, p95))
    every_wait = [seconds for day_waits in waits.values() for seconds in day_waits]
    median, p95 = _minutes(every_wait)
    scores = await session.execute(
        select(Handoff.csat, func.count())
        .where(period.holds(Handoff.requested_at), Handoff.csat.is_not(None))
        .group_by(Handoff.csat)
    )
    ratings = {score: 0 for score in range(1, 6)}
    for score, count in scores:
        if score in ratings:
            ratings[score] = int(count)
    return Handoffs(days, sum(requested.values()), len(every_wait), median, p95, ratings)


# --- what customers wrote ---------------------------------------------------------------


async def top_intents(
    session: AsyncSession, period: Period, limit: int = TOP_INTENTS
) -> list[tuple[str, int]]:
    """The intents of customers' messages the bot understood, the most frequent first."""
    count = func.count().label("count")
    rows = await session.execute(
        select(TranscriptMessage.intent, count)
        .where(
            period.holds(TranscriptMessage.created_at),
            TranscriptMessage.intent.is_not(None),
            TranscriptMessage.intent != NOT_UNDERSTOOD,
        )
        .group_by(TranscriptMessage.intent)
        .order_by(count.desc(), TranscriptMessage.intent)
        .limit(limit)
    )
    return [(str(intent), int(n)) for intent, n in rows]


def phrase_key(text: str) -> str:
    """What makes two phrases the same one: case and spacing aside."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


async def not_understood(
    session: AsyncSession, period: Period, limit: int
) -> tuple[list[tuple[str, int]], int]:
    """The phrases the bot did not understand, deduplicated (case and spacing aside,
    each written as its most frequent variant), the most frequent first, at most
    `limit`; and how many such messages there were."""
    understood_not = (
        period.holds(TranscriptMessage.created_at),
        TranscriptMessage.intent == NOT_UNDERSTOOD,
        TranscriptMessage.text.is_not(None),
    )
    count = func.count().label("count")
    rows = (
        await session.execute(
            select(TranscriptMessage.text, count)
            .where(*understood_not)
            .group_by(TranscriptMessage.text)
            .order_by(count.desc(), TranscriptMessage.text)
            .limit(PHRASE_ROWS)
        )
    ).all()
    if len(rows) < PHRASE_ROWS:  # every phrase is here: their counts add up
        messages = sum(int(n) for _, n in rows)
    else:
        messages = await session.scalar(select(func.count()).where(*understood_not)) or 0
    merged: dict[str, list[Any]] = {}  # key -> [its most frequent variant, count]
    for text, n in rows:
        shown = " ".join(unicodedata.normalize("NFC", text or "").split())
        if shown and shown != REDACTED:
            merged.setdefault(phrase_key(shown), [shown, 0])[1] += int(n)
    ranked = sorted(merged.values(), key=lambda item: (-item[1], phrase_key(item[0])))
    return [(phrase, n) for phrase, n in ranked[:limit]], int(messages)


# --- forms ---------------------------------------------------------------------------------


@dataclass
class Funnel:
    """One service form's runs in the period: begun, sent, cancelled, left (and where)."""

    form_id: str
    started: int = 0
    submitted: int = 0
    cancelled: int = 0
    left_at: dict[str, int] = field(default_factory=dict)  # step -> runs left there

    @property
    def abandoned(self) -> int:
        return self.started - self.submitted - self.cancelled


async def form_funnels(session: AsyncSession, period: Period) -> list[Funnel]:
    """The funnel of every form begun in the period, the most begun first."""
    rows = await session.execute(
        select(
            FormRun.form_id,
            func.count(),
            func.sum(case((FormRun.outcome == "submitted", 1), else_=0)),
            func.sum(case((FormRun.outcome == "cancelled", 1), else_=0)),
        )
        .where(period.holds(FormRun.started_at))
        .group_by(FormRun.form_id)
    )
    funnels = {
        form_id: Funnel(form_id, int(n), int(sent or 0), int(cancelled or 0))
        for form_id, n, sent, cancelled in rows
    }
    left = await session.execute(
        select(FormRun.form_id, FormRun.step, func.count())
        .where(period.holds(FormRun.started_at), FormRun.outcome.is_(None))
        .group_by(FormRun.form_id, FormRun.step)
    )
    for form_id, step, n in left:
        if form_id in funnels:
            funnels[form_id].left_at[step or ""] = int(n)
    return sorted(funnels.values(), key=lambda f: (-f.started, f.form_id))
