"""Which notices a chat receives (Cài đặt → Nhận thông báo), as `notice_optouts` rows.

Everything is on by default; a row switches one category off, for one linked customer
code or, with code "", for the whole chat. Bills and outages are about a contract, so
the screen switches them per code; "other" (programmes, events, campaigns) is about
nobody's contract and is switched for the chat. `outbox.enqueue` reads the same rows,
so a category switched off gets no new rows; rows already waiting are skipped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notify.outbox import SWITCHABLE
from bot.store.models import Delivery, NoticeOptOut

# About one contract: switched per linked code ("usage": the unusual-use line of a bill
# notice, issue 18).
PER_CODE = ("bill", "usage", "outage")
CHAT_WIDE = "other"  # about no contract: switched for the chat (code "")
WAITING = ("queued", "held")  # rows not yet taken by a worker


@dataclass(frozen=True)
class Switch:
    """One category for one code ("" = the chat) and whether it is on."""

    category: str
    customer_code: str
    on: bool


async def switched_off(session: AsyncSession, chat_user_id: int) -> set[tuple[str, str]]:
    """(category, customer code) pairs the chat switched off."""
    rows = await session.execute(
        select(NoticeOptOut.category, NoticeOptOut.customer_code).where(
            NoticeOptOut.chat_user_id == chat_user_id
        )
    )
    return {(str(category), str(code)) for category, code in rows}


async def switches(
    session: AsyncSession, chat_user_id: int, customer_codes: Sequence[str]
) -> list[Switch]:
    """Bills, their unusual-use line and outages for each linked code, then "other" for
    the chat."""
    off = await switched_off(session, chat_user_id)
    found = [
        Switch(category, code, (category, code) not in off and (category, "") not in off)
        for code in customer_codes
        for category in PER_CODE
    ]
    return [*found, Switch(CHAT_WIDE, "", (CHAT_WIDE, "") not in off)]


async def switch(
    session: AsyncSession,
    chat_user_id: int,
    category: str,
    customer_code: str,
    *,
    on: bool,
    customer_codes: Sequence[str] = (),
    now: datetime,
) -> int:
    """Switch `category` on or off for `customer_code` ("" = every code of the chat).

    Switching one code on while the whole chat has the category off keeps the other
    `customer_codes` off. Switching off skips the rows still waiting to be sent; the
    number skipped is returned.
    """
    if category not in SWITCHABLE:
        raise ValueError(f"unknown notice category {category!r}")
    mine = (NoticeOptOut.chat_user_id == chat_user_id, NoticeOptOut.category == category)
    if on:
        chat_wide = await session.scalar(
            select(NoticeOptOut.id).where(*mine, NoticeOptOut.customer_code == "")
        )
        if chat_wide is not None and customer_code:
            await session.execute(delete(NoticeOptOut).where(NoticeOptOut.id == chat_wide))
            off = await switched_off(session, chat_user_id)
            for other in customer_codes:
                if other != customer_code and (category, other) not in off:
                    session.add(_row(chat_user_id, other, category, now))
        # The whole chat on: the per-code rows go too.
        which = (NoticeOptOut.customer_code == customer_code,) if customer_code else ()
        await session.execute(delete(NoticeOptOut).where(*mine, *which))
        return 0
    if (category, customer_code) not in await switched_off(session, chat_user_id):
        session.add(_row(chat_user_id, customer_code, category, now))
    return await _skip_waiting(session, chat_user_id, category, customer_code)


def _row(chat_user_id: int, customer_code: str, category: str, now: datetime) -> NoticeOptOut:
    return NoticeOptOut(
        chat_user_id=chat_user_id, customer_code=customer_code, category=category, created_at=now
    )


async def _skip_waiting(
    session: AsyncSession, chat_user_id: int, category: str, customer_code: str
) -> int:
    """A customer who switched a category off gets none of it from now on, even rows
    written before (a campaign waiting for its start, an outage notice in quiet hours)."""
    statement = (
        update(Delivery)
        .where(
            Delivery.chat_user_id == chat_user_id,
            Delivery.category == category,
            Delivery.status.in_(WAITING),
        )
        .values(status="skipped", error="unsubscribed")
        .execution_options(synchronize_session=False)
    )
    if customer_code:  # as enqueue reads it: a row without a code is the chat's
        statement = statement.where(Delivery.customer_code == customer_code)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
