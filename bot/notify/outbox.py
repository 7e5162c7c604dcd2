"""The outbox: a notice becomes one `deliveries` row per recipient, written in the
transaction of the event that caused it; delivery workers (worker.py) send the rows.

A producer names its notice with a key ("bill:123:issued"); the (notice, chat user)
pair is unique, so running a producer twice adds nothing. Rows for a customer who
switched the category off (Cài đặt → Nhận thông báo) are not written, and marketing
rows beyond CSKH_MARKETING_PER_WEEK are written as `skipped` so a campaign counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.codec import reply_from_json, reply_to_json
from bot.core.messages import Reply
from bot.store.models import ChatUser, Delivery, Notice, NoticeOptOut, utcnow

log = logging.getLogger(__name__)

# What a customer can switch on or off; "service" (answers to their own requests and
# messages) always arrives.
CATEGORIES = ("bill", "outage", "other")
# What a customer can switch off that is a part of another category's notice, not a
# notice of its own: "usage", the unusual-use line under a new bill (issue 18).
LINES = ("usage",)
SWITCHABLE = (*CATEGORIES, *LINES)
SERVICE = "service"
MARKETING_WINDOW = timedelta(days=7)
ANALYZE_AFTER = 10_000  # rows written at once that call for fresh statistics
# Statuses of rows that still count for the marketing cap (everything but skipped).
_COUNTED = ("queued", "held", "claimed", "sending", "sent", "failed", "unreachable")


@dataclass(frozen=True)
class Addressee:
    """One recipient of a notice: the chat, the customer code it concerns (None when it
    is about the chat, not a contract) and the messages in the chat's language."""

    chat_user: ChatUser
    replies: Sequence[Reply]
    customer_code: str | None = None


async def notice_for(
    session: AsyncSession,
    key: str,
    *,
    kind: str,
    category: str,
    urgent: bool = False,
    marketing: bool = False,
    campaign_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Notice:
    """The notice with this key, made when it does not exist yet."""
    if category not in (*CATEGORIES, SERVICE):
        raise ValueError(f"unknown notice category {category!r}")
    notice = await session.scalar(select(Notice).where(Notice.key == key))
    if notice is not None:
        return notice
    # Another process may write the same key at this moment (two schedulers): the
    # insert then leaves theirs alone and we read it back.
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        module.insert(Notice)
        .values(
            key=key,
            kind=kind,
            category=category,
            urgent=urgent,
            marketing=marketing,
            campaign_id=campaign_id,
            meta=meta or {},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    notice = await session.scalar(select(Notice).where(Notice.key == key))
    assert notice is not None
    return notice


async def opted_out(
    session: AsyncSession, chat_user_ids: Iterable[int], category: str
) -> set[tuple[int, str]]:
    """(chat user, customer code) pairs that switched `category` off; code "" means
    the chat switched it off for every code."""
    ids = list(set(chat_user_ids))
    found: set[tuple[int, str]] = set()
    for start in range(0, len(ids), 5000):  # keep IN lists a reasonable size
        rows = await session.execute(
            select(NoticeOptOut.chat_user_id, NoticeOptOut.customer_code).where(
                NoticeOptOut.category == category,
                NoticeOptOut.chat_user_id.in_(ids[start : start + 5000]),
            )
        )
        found.update((int(user_id), str(code)) for user_id, code in rows)
    return found


async def marketing_received(
    session: AsyncSession, chat_user_ids: Iterable[int], at: datetime
) -> dict[int, int]:
    """Marketing rows per chat user sent, or due to be sent, less than seven days from
    `at` either way (queued and scheduled ones included): a message that goes at `at`
    then shares no seven days with more than the cap, whatever order campaigns were
    started in."""
    ids = list(set(chat_user_ids))
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        rows = await session.execute(
            select(Delivery.chat_user_id, func.count())
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(
                Notice.marketing.is_(True),
                Delivery.status.in_(_COUNTED),
                func.coalesce(Delivery.sent_at, Delivery.not_before) > at - MARKETING_WINDOW,
                func.coalesce(Delivery.sent_at, Delivery.not_before) < at + MARKETING_WINDOW,
                Delivery.chat_user_id.in_(ids[start : start + 5000]),
            )
            .group_by(Delivery.chat_user_id)
        )
        counts.update({int(user_id): int(count) for user_id, count in rows})
    return counts


async def enqueue(
    session: AsyncSession,
    notice: Notice,
    addressees: Iterable[Addressee],
    *,
    now: datetime,
    not_before: datetime | None = None,
    marketing_per_week: int | None = None,
    held: bool = False,
    claimed_by: str | None = None,
    despite_opt_out: bool = False,
) -> list[int]:
    """Write a row per addressee (not twice, not to who opted out); the ids written.
    `claimed_by`: the rows are that worker's already (it sends them right after the
    commit, and no other worker can take them first). `despite_opt_out`: the answer to
    the addressee's own action (a payment's receipt), filed under its category but sent
    even when that category is switched off.

    Replies must carry their media as stored ids (`transcript.store_reply_media`) or URLs:
    a row holds JSON, never bytes.
    """
    people = [a for a in addressees if a.chat_user.reachable]
    if notice.category in CATEGORIES and not despite_opt_out:
        people = await wanting(session, people, notice.category)
    received: dict[int, int] = {}
    if notice.marketing and marketing_per_week is not None:
        received = await marketing_received(
            session, (a.chat_user.id for a in people), not_before or now
        )
    rows: list[dict[str, Any]] = []
    for person in people:
        status = "held" if held else "claimed" if claimed_by else "queued"
        if notice.marketing and marketing_per_week is not None:
            if received.get(person.chat_user.id, 0) >= marketing_per_week:
                status = "skipped"
            else:
                received[person.chat_user.id] = received.get(person.chat_user.id, 0) + 1
        rows.append(
            delivery_row(
                notice, person, status, now=now, not_before=not_before, claimed_by=claimed_by
            )
        )
    return await insert_rows(session, rows)


async def wanting(
    session: AsyncSession, addressees: Sequence[Addressee], category: str
) -> list[Addressee]:
    """The addressees that did not switch `category` off, for every code or for theirs."""
    refused = await opted_out(session, (a.chat_user.id for a in addressees), category)
    return [
        a
        for a in addressees
        if (a.chat_user.id, "") not in refused
        and (a.chat_user.id, a.customer_code or "") not in refused
    ]


def delivery_row(
    notice: Notice,
    person: Addressee,
    status: str = "queued",
    *,
    now: datetime,
    not_before: datetime | None = None,
    claimed_by: str | None = None,
) -> dict[str, Any]:
    """The `deliveries` row of `notice` for `person` (for `insert_rows`)."""
    return {
        "notice_id": notice.id,
        "chat_user_id": person.chat_user.id,
        "customer_code": person.customer_code,
        "channel": person.chat_user.channel,
        "category": notice.category,
        "urgent": notice.urgent,
        "status": status,
        "message": [reply_to_json(r) for r in person.replies],
        "not_before": not_before or now,
        "attempts": 0,
        "in_doubt": False,
        "created_at": now,
        "error": "marketing_cap" if status == "skipped" else None,
        "worker": claimed_by if status == "claimed" else None,
        "claimed_at": now if status == "claimed" else None,
    }


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert delivery rows, leaving out those whose (notice, chat user) exists."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    written: list[int] = []
    for start in range(0, len(rows), 2000):
        statement = (
            module.insert(Delivery)
            .on_conflict_do_nothing(index_elements=["notice_id", "chat_user_id"])
            .returning(Delivery.id)
        )
        result = await session.execute(statement, rows[start : start + 2000])
        written.extend(int(row_id) for (row_id,) in result.all())
    if dialect == "postgresql" and len(written) >= ANALYZE_AFTER:
        # Fresh planner statistics in the same transaction (ANALYZE counts our own
        # uncommitted rows): without them the first claims of a bill run sort every
        # queued row instead of reading the claim index, until autovacuum comes by.
        await session.execute(text("ANALYZE deliveries"))
    return written


def replies_of(delivery: Delivery) -> list[Reply]:
    """The messages a row carries."""
    return [reply_from_json(item) for item in delivery.message]


def quiet(now_local: datetime, start_hour: int, end_hour: int) -> bool:
    """Whether `now_local` falls in the quiet hours (21:00–07:00 by default), when
    only urgent notices (incidents) are sent."""
    hour = now_local.hour
    if start_hour == end_hour:
        return False
    if start_hour < end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour
