"""Handoff: a conversation passes from the bot to a person and back.

Modes of a conversation: "bot" (the bot answers), "waiting" (the customer asked for a
person, or the bot failed to understand three times in a row: the bot still answers
buttons while the queue waits), "staff" (an agent took it over: the bot stays quiet
and every message goes to the agent live), "resolved" (the agent finished; the bot
answers again, and the customer is asked to rate the help 1-5).

Taking over is one conditional UPDATE (`staff_id IS NULL`): two agents pressing
"Tiếp nhận" at the same moment cannot both get it; the second is told who has it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.live import LiveFeed, conversation_changed
from bot.core.messages import Button, Reply
from bot.core.outbound import Push
from bot.core.texts import Texts
from bot.store.models import Conversation
from bot.store.staff_models import Handoff, StaffAccount

BOT, WAITING, STAFF, RESOLVED = "bot", "waiting", "staff", "resolved"
MODES = (BOT, WAITING, STAFF, RESOLVED)
MISUNDERSTOOD_LIMIT = 3  # failed understandings in a row that call a person
QUEUE_EVENT = {"type": "queue"}


class StaffSignature(Protocol):
    """Who acts: a staff account, or the console's signed-in view of one."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


class HandoffError(ValueError):
    """A handoff step that cannot be done as asked (said in plain words)."""


class AlreadyTaken(HandoffError):
    """Another staff member answers this conversation."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"{holder} đang hỗ trợ khách hàng này")
        self.holder = holder


async def request(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: str,
    now: datetime,
    live: LiveFeed,
) -> Handoff | None:
    """Put the conversation in the staff queue; None when it is there already (or an
    agent has it)."""
    if conversation.mode in (WAITING, STAFF):
        return None
    handoff = Handoff(conversation_id=conversation.id, reason=reason, requested_at=now)
    session.add(handoff)
    await session.flush()
    conversation.mode = WAITING
    conversation.waiting_since = now
    conversation.handoff_id = handoff.id
    conversation.staff_id = None
    _changed(session, live, conversation.id)
    return handoff


async def leave(
    session: AsyncSession, conversation: Conversation, *, now: datetime, live: LiveFeed
) -> None:
    """The customer goes back to the bot (stops waiting, or ends the talk with staff)."""
    if conversation.mode not in (WAITING, STAFF):
        return
    handoff = await _open_handoff(session, conversation)
    if handoff is not None:
        handoff.resolved_at = now
    conversation.mode = BOT
    conversation.staff_id = None
    conversation.waiting_since = None
    conversation.handoff_id = None
    _changed(session, live, conversation.id)


async def take_over(
    session: AsyncSession,
    conversation_id: int,
    staff: StaffSignature,
    *,
    now: datetime,
    live: LiveFeed,
) -> Conversation:
    """Give the conversation to `staff`.

    Raises:
        AlreadyTaken: another staff member has it (their name is said).
        HandoffError: no such conversation.
    """
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.staff_id.is_(None))
        .values(mode=STAFF, staff_id=staff.id)
        .execution_options(synchronize_session=False)
    )
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise HandoffError("không có hội thoại này")
    if cast(CursorResult[Any], result).rowcount != 1:
        if conversation.staff_id == staff.id:
            return conversation  # pressed twice: it is theirs already
        holder = await session.get(StaffAccount, conversation.staff_id)
        raise AlreadyTaken(holder.display_name if holder else "một nhân viên khác")
    handoff = await _open_handoff(session, conversation)
    if handoff is None:  # taken over without being asked for
        handoff = Handoff(conversation_id=conversation.id, reason="staff", requested_at=now)
        session.add(handoff)
        await session.flush()
        conversation.handoff_id = handoff.id
    handoff.staff_id = staff.id
    handoff.taken_at = now
    conversation.waiting_since = None
    _changed(session, live, conversation.id)
    return conversation


async def transfer(
    session: AsyncSession,
    conversation: Conversation,
    source: StaffSignature,
    target: StaffAccount,
    *,
    live: LiveFeed,
) -> None:
    """Hand a conversation `source` answers to `target`.

    Raises:
        HandoffError: `source` does not hold it, or `target` cannot answer customers.
    """
    if conversation.mode != STAFF or conversation.staff_id != source.id:
        raise HandoffError("chỉ chuyển được hội thoại mình đang hỗ trợ")
    if target.disabled or target.role not in ("agent", "supervisor", "admin"):
        raise HandoffError(f"{target.display_name} không nhận được hội thoại")
    if target.id == source.id:
        raise HandoffError("hội thoại đang ở chỗ bạn")
    conversation.staff_id = target.id
    handoff = await _open_handoff(session, conversation)
    if handoff is not None:
        handoff.staff_id = target.id
    _changed(session, live, conversation.id)


async def resolve(
    session: AsyncSession,
    conversation: Conversation,
    staff: StaffSignature,
    *,
    now: datetime,
    live: LiveFeed,
) -> Handoff:
    """End the staff's help: the bot answers again. The handoff's id goes into the
    rating question.

    Raises:
        HandoffError: `staff` does not hold the conversation.
    """
    if conversation.mode != STAFF or conversation.staff_id != staff.id:
        raise HandoffError("chỉ kết thúc được hội thoại mình đang hỗ trợ")
    handoff = await _open_handoff(session, conversation)
    if handoff is None:
        raise HandoffError("hội thoại không có yêu cầu hỗ trợ nào đang mở")
    handoff.resolved_at = now
    handoff.resolved_by = staff.id
    conversation.mode = RESOLVED
    conversation.staff_id = None
    conversation.handoff_id = None
    conversation.waiting_since = None
    _changed(session, live, conversation.id)
    return handoff


async def rate(
    session: AsyncSession,
    conversation: Conversation,
    handoff_id: int,
    score: int,
    *,
    now: datetime,
) -> Handoff | None:
    """Record the customer's rating of a resolved handoff of their own conversation;
    None when it is not theirs, not resolved, or rated already."""
    handoff = await session.get(Handoff, handoff_id)
    if (
        handoff is None
        or handoff.conversation_id != conversation.id
        or handoff.resolved_at is None
        or handoff.csat is not None
        or not 1 <= score <= 5
    ):
        return None
    handoff.csat = score
    handoff.csat_at = now
    return handoff


async def comment(
    session: AsyncSession, conversation: Conversation, handoff_id: int, text: str
) -> bool:
    handoff = await session.get(Handoff, handoff_id)
    if handoff is None or handoff.conversation_id != conversation.id or handoff.csat is None:
        return False
    handoff.csat_comment = text.strip()[:2000] or None
    return True


def rating_question(texts: Texts, lang: str, handoff_id: int, staff_name: str) -> Reply:
    """The question sent when staff resolve: five buttons, 1 to 5 stars."""
    stars = tuple(
        Button("⭐" * score, payload=f"csat:{handoff_id}-{score}") for score in range(1, 6)
    )
    return Reply(
        text=texts.get("handoff.resolved", lang, name=staff_name),
        buttons=((stars[4],), (stars[3],), (stars[2],), (stars[1],), (stars[0],)),
    )


async def _open_handoff(session: AsyncSession, conversation: Conversation) -> Handoff | None:
    if conversation.handoff_id is None:
        return await session.scalar(
            select(Handoff)
            .where(Handoff.conversation_id == conversation.id, Handoff.resolved_at.is_(None))
            .order_by(Handoff.id.desc())
            .limit(1)
        )
    return await session.get(Handoff, conversation.handoff_id)


def _changed(session: AsyncSession, live: LiveFeed, conversation_id: int) -> None:
    live.after_commit(session, conversation_changed(conversation_id))
    live.after_commit(session, QUEUE_EVENT)


STAFF_REPLY = "staff_reply"  # the notice kind of an agent's message (the outbox row)


async def reply(
    session: AsyncSession,
    pusher: Push,
    conversation: Conversation,
    staff: StaffSignature,
    message: Reply,
) -> int | None:
    """Queue an agent's message to the customer, on the customer's own channel, in the
    caller's transaction; the outbox row's id (send it with `send_now` after the
    commit), or None when the customer cannot be reached (they blocked the bot).

    Raises:
        HandoffError: the agent has not taken the conversation over.
        PushError: the customer's channel is not running here.
    """
    if conversation.mode != STAFF or conversation.staff_id != staff.id:
        raise HandoffError("Hãy tiếp nhận hội thoại trước khi trả lời khách hàng.")
    return await pusher.enqueue(
        session,
        conversation.chat_user_id,
        [message],
        author=f"staff:{staff.username}"[:40],
        kind=STAFF_REPLY,
        claim=True,
    )
