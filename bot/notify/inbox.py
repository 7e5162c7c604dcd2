"""The customer's notices (the "Thông báo" tab) and their replies (the staff inbox).

The tab reads the outbox: a chat's `sent` deliveries of the three categories a
customer subscribes to, unread until opened (`read_at`). Rows about a customer code
the chat no longer holds are not shown (someone else may log in on a shared phone).

A reply to a notice ("Phản hồi lại tin nhắn", issue 7) is stored with the delivery it
answers as an `InboxItem` and waits for staff (`cskh inbox`). Which notice a message
answers:
  (a) the notice a Telegram reply quotes (the delivery's `platform_message_id`);
  (b) the notice whose "💬 Phản hồi" button was pressed before the message;
  (c) a photo sent with no question open, within REPLY_WINDOW of the latest notice:
      that notice. Free text never is (it goes to the language model: "mất điện rồi"
      is a question, not an answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Button, Incoming, Reply, nfc
from bot.core.outbound import Push
from bot.core.texts import Texts
from bot.notify import history
from bot.notify.outbox import CATEGORIES, replies_of
from bot.store.models import ChatUser, Delivery, InboxItem

REPLY_WINDOW = timedelta(hours=24)
RECENT = 8  # notices listed per category: a phone screen of buttons
ANSWER_KIND = "inbox_answer"
# "💬 Phản hồi" under a notice and under staff's answer: "nreply:<notice id>".
REPLY_PAYLOAD = "nreply"
HEADLINE_CHARS = 60
MAX_REPLY_CHARS = 2000
_LEADING_SIGNS = re.compile(r"^[^\w(]+")


class InboxError(Exception):
    """A staff action that cannot be done: unknown or answered item, empty answer."""


@dataclass(frozen=True)
class Shelf:
    """One category of the tab: how many notices there are and how many are unread."""

    category: str
    total: int
    unread: int


@dataclass(frozen=True)
class QueueEntry:
    """An inbox item with who sent it and the delivery it answers (None: deleted)."""

    item: InboxItem
    customer: ChatUser
    delivery: Delivery | None


def headline(delivery: Delivery | None, *, limit: int = HEADLINE_CHARS) -> str:
    """A notice in one short line: the producer's title, or the first line it said."""
    if delivery is None:
        return "—"
    title = str(delivery.notice.meta.get("title") or "")
    if not title:
        first = next((r.text for r in replies_of(delivery) if r.text.strip()), "")
        title = first.strip().splitlines()[0] if first.strip() else delivery.notice.kind
    title = _LEADING_SIGNS.sub("", title).strip() or title
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut[limit // 2 :]:  # end on a whole word when one is near
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.:;–-") + "…"


# --- the customer's notices ---------------------------------------------------------------


def _visible(user: ChatUser) -> tuple[ColumnElement[bool], ...]:
    return (
        Delivery.chat_user_id == user.id,
        Delivery.status == "sent",
        Delivery.category.in_(CATEGORIES),
        or_(Delivery.customer_code.is_(None), Delivery.customer_code.in_(user.customer_codes)),
    )


async def shelves(session: AsyncSession, user: ChatUser) -> list[Shelf]:
    """Every category, in the app's order, with its counts (the notices its codes had
    before it linked them join first: bot/notify/history.py)."""
    await history.catch_up(session, user)
    rows = await session.execute(
        select(
            Delivery.category,
            func.count(),
            func.count(Delivery.id).filter(Delivery.read_at.is_(None)),
        )
        .where(*_visible(user))
        .group_by(Delivery.category)
    )
    counts = {str(category): (int(total), int(unread)) for category, total, unread in rows}
    return [Shelf(c, *counts.get(c, (0, 0))) for c in CATEGORIES]


async def recent(session: AsyncSession, user: ChatUser, category: str) -> list[Delivery]:
    """The newest notices of `category`, newest first."""
    return list(
        await session.scalars(
            select(Delivery)
            .where(*_visible(user), Delivery.category == category)
            .order_by(Delivery.sent_at.desc(), Delivery.id.desc())  # history rows come late
            .limit(RECENT)
        )
    )


async def shown_notice(session: AsyncSession, user: ChatUser, delivery_id: int) -> Delivery | None:
    """The delivery when the tab may show it to this chat."""
    return await session.scalar(select(Delivery).where(*_visible(user), Delivery.id == delivery_id))


def mark_read(delivery: Delivery, now: datetime) -> None:
    if delivery.read_at is None:
        delivery.read_at = now


async def mark_all_read(session: AsyncSession, user: ChatUser, now: datetime) -> int:
    result = await session.execute(
        update(Delivery)
        .where(*_visible(user), Delivery.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- replies ---------------------------------------------------------------------------------


async def delivery_of_notice(
    session: AsyncSession, chat_user_id: int, notice_id: int
) -> Delivery | None:
    """What this chat received of the notice (the "💬 Phản hồi" button names a notice)."""
    return await session.scalar(
        select(Delivery).where(
            Delivery.chat_user_id == chat_user_id,
            Delivery.notice_id == notice_id,
            Delivery.status == "sent",
        )
    )


async def answered_delivery(
    session: AsyncSession,
    chat_user_id: int,
    incoming: Incoming,
    *,
    question_open: bool,
    now: datetime,
) -> Delivery | None:
    """The delivery `incoming` answers by rule (a) or (c) of the module docstring."""
    if not (incoming.text or incoming.photos):
        return None
    mine = (Delivery.chat_user_id == chat_user_id, Delivery.status == "sent")
    if incoming.reply_to_ref:
        quoted = await session.scalar(
            select(Delivery)
            .where(*mine, Delivery.platform_message_id == incoming.reply_to_ref)
            .order_by(Delivery.id.desc())
            .limit(1)
        )
        if quoted is not None:
            return quoted
    if not incoming.photos or question_open:
        return None
    return await session.scalar(
        select(Delivery)
        .where(
            *mine,
            Delivery.category.in_(CATEGORIES),
            Delivery.sent_at >= now - REPLY_WINDOW,
        )
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(1)
    )


def record_reply(
    session: AsyncSession,
    chat_user_id: int,
    delivery: Delivery,
    text: str | None,
    media_ids: Sequence[str],
    now: datetime,
) -> InboxItem:
    """Put the customer's answer in the staff queue; reading it answers it, so the
    notice counts as read."""
    item = InboxItem(
        chat_user_id=chat_user_id,
        delivery_id=delivery.id,
        text=(text or "").strip()[:MAX_REPLY_CHARS] or None,
        media=list(media_ids),
        status="open",
        created_at=now,
    )
    session.add(item)
    mark_read(delivery, now)
    return item


# --- the staff queue -------------------------------------------------------------------------


async def queue(
    session: AsyncSession, *, status: str | None = None, limit: int = 500
) -> list[QueueEntry]:
    """Open items first, oldest first (a queue); then answered ones, newest first."""
    entries: list[QueueEntry] = []
    for wanted, order in (("open", InboxItem.id.asc()), ("answered", InboxItem.id.desc())):
        if status not in (None, wanted):
            continue
        rows = await session.execute(
            select(InboxItem, ChatUser, Delivery)
            .join(ChatUser, ChatUser.id == InboxItem.chat_user_id)
            .outerjoin(Delivery, Delivery.id == InboxItem.delivery_id)
            .where(InboxItem.status == wanted)
            .order_by(order)
            .limit(limit - len(entries))
        )
        entries += [QueueEntry(item, user, delivery) for item, user, delivery in rows.all()]
    return entries


async def answer(
    session: AsyncSession,
    pusher: Push,
    texts: Texts,
    item_id: int,
    text: str,
    *,
    actor: str,
    now: datetime,
) -> tuple[InboxItem, int | None]:
    """Queue staff's answer to the customer and mark the item answered, in the caller's
    transaction (both happen or neither); the answer's outbox row, claimed by this
    process's worker when it sends for the customer's channel (then `send_now` it after
    the commit), or None when the customer cannot be reached (they blocked the bot).

    Raises:
        InboxError: empty answer, unknown item, item already answered.
        PushError: the customer's channel is not configured.
    """
    answer_text = nfc(text).strip()
    if not answer_text:
        raise InboxError("the answer is empty; write what the customer should read")
    item = await session.scalar(select(InboxItem).where(InboxItem.id == item_id).with_for_update())
    if item is None:
        raise InboxError(f"no inbox item {item_id}")
    if item.status == "answered":
        raise InboxError(f"inbox item {item_id} is already answered")
    user = await session.get(ChatUser, item.chat_user_id)
    assert user is not None  # the item is deleted with its chat user
    delivery = await session.get(Delivery, item.delivery_id) if item.delivery_id else None
    delivery_id = await pusher.enqueue(
        session,
        user.id,
        [staff_answer(texts, user.language, delivery, answer_text)],
        author=actor,
        kind=ANSWER_KIND,
        claim=True,
    )
    item.status = "answered"
    item.answer = answer_text
    item.answered_by = actor
    item.answered_at = now
    return item, delivery_id


def staff_answer(texts: Texts, lang: str, delivery: Delivery | None, answer_text: str) -> Reply:
    """The message the customer gets, with a way to answer again."""
    buttons: list[tuple[Button, ...]] = []
    if delivery is not None:
        again = Button(
            texts.get("notices.reply_button", lang),
            payload=f"{REPLY_PAYLOAD}:{delivery.notice_id}",
        )
        buttons.append((again,))
    buttons.append((Button(texts.get("menu.home", lang), payload="menu"),))
    return Reply(
        text=texts.get("notices.staff_answer", lang, notice=headline(delivery), answer=answer_text),
        buttons=tuple(buttons),
    )


def as_json(entry: QueueEntry, photo_links: Sequence[str]) -> dict[str, Any]:
    """An item as `cskh inbox list --json` prints it."""
    item, customer, delivery = entry.item, entry.customer, entry.delivery
    return {
        "id": item.id,
        "status": item.status,
        "at": item.created_at.isoformat(),
        "customer": {
            "chat_user_id": customer.id,
            "channel": customer.channel,
            "name": customer.display_name,
            "customer_code": (delivery.customer_code if delivery else None)
            or customer.default_customer_code,
        },
        "notice": {
            "id": delivery.notice_id if delivery else None,
            "category": delivery.category if delivery else None,
            "kind": delivery.notice.kind if delivery else None,
            "title": headline(delivery),
        },
        "text": item.text,
        "photos": list(photo_links),
        "answer": item.answer,
        "answered_by": item.answered_by,
        "answered_at": item.answered_at.isoformat() if item.answered_at else None,
    }
