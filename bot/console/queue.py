"""The queue: customers waiting for a person (oldest first) and customers' replies to
notices (what `cskh inbox` lists), each with a way to answer."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.auth.audit import record_staff
from bot.console.access import SUPPORT, Pages
from bot.console.base import console_of, int_or_none, redirect, staff_of
from bot.core.outbound import PushError
from bot.notify import inbox
from bot.store.models import ChatUser, Conversation
from bot.store.staff_models import Handoff
from bot.support import handoff

pages = Pages()

REASONS = {
    "asked": "Khách yêu cầu",
    "misunderstood": "Bot không hiểu 3 lần",
    "staff": "Nhân viên mở",
}

QUEUE_SIZE = 200


@pages.get("/console/queue", SUPPORT)
async def queue_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    async with console.services.db.reading() as session:
        waiting = (
            await session.execute(
                select(Conversation, ChatUser, Handoff.reason)
                .join(ChatUser, ChatUser.id == Conversation.chat_user_id)
                .outerjoin(Handoff, Handoff.id == Conversation.handoff_id)
                .where(Conversation.mode == handoff.WAITING)
                .order_by(Conversation.waiting_since.asc())
                .limit(QUEUE_SIZE)
            )
        ).all()
        replies = await inbox.queue(session, status="open", limit=QUEUE_SIZE)
    notice = {"answered": "Đã gửi câu trả lời cho khách hàng."}.get(request.query.get("ok", ""))
    return console.render(
        request,
        "queue.html",
        waiting=waiting,
        replies=replies,
        headline=inbox.headline,
        reasons=REASONS,
        notice=notice,
        error=None,
    )


@pages.post("/console/queue/replies/{item_id:\\d+}/answer", SUPPORT)
async def answer_reply(request: web.Request) -> web.StreamResponse:
    """Answer a customer's reply to a notice (the same as `cskh inbox reply`)."""
    console, staff = console_of(request), staff_of(request)
    item_id = int_or_none(request.match_info["item_id"])
    form = await request.post()
    text = str(form.get("text", ""))[:4000]
    try:
        async with console.services.db.transaction() as session:
            item, delivery_id = await inbox.answer(
                session,
                console.services.pusher,
                console.services.texts,
                item_id or 0,
                text,
                actor=f"staff:{staff.username}"[:40],
                now=console.now,
            )
            record_staff(
                session,
                "inbox_answered",
                staff.username,
                chat_user_id=item.chat_user_id,
                subject=f"inbox item {item_id}",
                delivered=delivery_id is not None,
            )
    except (inbox.InboxError, PushError) as error:
        raise web.HTTPBadRequest(text=f"Không gửi được: {error}") from error
    if delivery_id is not None:
        await console.services.pusher.send_now([delivery_id])
    return redirect("/console/queue?ok=answered")
