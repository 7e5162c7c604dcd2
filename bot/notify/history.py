"""Notices a customer code had before a chat linked it (issue 15).

A new user of the demo logs in as a persona and opens Thông báo: the tab was empty,
where a customer of the app sees the bills, reminders and outages of their code. The
demo data now holds a few such notices per persona (bot/demo/history.py writes them,
rendered in both languages, keyed "history:<code>:<what>"); when a chat holding the
code opens the tab, they become its own `sent` rows, unread, in its language, so
reading, replying and switching a category off work on them as on any notice. A
deployment without such notices sees no change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notify import outbox
from bot.store.models import ChatUser, Delivery, Notice

PREFIX = "history"


def history_key(code: str, what: str) -> str:
    """'history:PC05CC0123456:bill:123:issued'."""
    return f"{PREFIX}:{code}:{what}"


async def record(
    session: AsyncSession,
    *,
    code: str,
    what: str,
    kind: str,
    category: str,
    sent_at: datetime,
) -> Notice:
    """The notice (its id is in its buttons: `set_messages` once the caller has them)."""
    notice = Notice(
        key=history_key(code, what),
        kind=kind,
        category=category,
        meta={"customer_code": code, "messages": {}},
        created_at=sent_at,
    )
    session.add(notice)
    await session.flush()
    return notice


def set_messages(notice: Notice, messages: dict[str, list[dict[str, Any]]]) -> None:
    """The notice's replies (core/codec.py JSON) per language."""
    notice.meta = {**notice.meta, "messages": messages}


async def catch_up(session: AsyncSession, user: ChatUser) -> int:
    """Give `user` the history notices of its codes it does not have yet, as sent rows
    (not in a category it switched off); how many it got."""
    codes = user.customer_codes
    if not codes:
        return 0
    notices = list(
        await session.scalars(
            select(Notice)
            .where(or_(*(Notice.key.startswith(history_key(code, "")) for code in codes)))
            .where(
                Notice.id.not_in(select(Delivery.notice_id).where(Delivery.chat_user_id == user.id))
            )
            .order_by(Notice.created_at, Notice.id)
        )
    )
    added = 0
    for notice in notices:
        code = str(notice.meta.get("customer_code") or "")
        refused = await outbox.opted_out(session, [user.id], notice.category)
        if (user.id, "") in refused or (user.id, code) in refused:
            continue
        messages = notice.meta.get("messages") or {}
        message = messages.get(user.language) or messages.get("vi")
        if not message:
            continue
        session.add(
            Delivery(
                notice_id=notice.id,
                chat_user_id=user.id,
                customer_code=code,
                channel=user.channel,
                category=notice.category,
                status="sent",
                message=message,
                not_before=notice.created_at,
                sent_at=notice.created_at,
                created_at=notice.created_at,
            )
        )
        added += 1
    if added:
        await session.flush()
    return added
