"""Thông báo: the recent notices by category with unread marks, and replies to notices.

A reply ("Phản hồi lại tin nhắn") reaches the staff inbox three ways (bot/notify/inbox.py
says which notice each answers): a Telegram reply quoting the notice, the "💬 Phản hồi"
button under it, or a photo sent soon after it with no question open.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.context import Context
from bot.core.fmt import short_day
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.handlers.common import home_button, id_arg, main_menu
from bot.handlers.gates import gate
from bot.notify import inbox
from bot.notify.outbox import CATEGORIES, replies_of
from bot.store.models import Delivery

log = logging.getLogger(__name__)

STEP_REPLY = "notice.reply"
UNREAD_MARK = "● "
BUTTON_HEADLINE = 36  # with the mark and the day, a button a phone shows whole


router = Router()


@router.command("/notices", "thong bao")
@router.button("notices")
async def notices(ctx: Context) -> list[Reply]:
    # Personal: only for a logged-in customer (and behind the PIN when it is set).
    if (stop := gate(ctx, "notices")) is not None:
        return stop
    return [await tab(ctx)]


async def tab(ctx: Context, text: str | None = None) -> Reply:
    """The categories with their unread counts; `text` in place of the count line."""
    ctx.state.screen = "notices"
    shelves = await inbox.shelves(ctx.session, ctx.user)
    unread = sum(shelf.unread for shelf in shelves)
    settings_row = (Button(ctx.t("notices.settings_button"), payload="subs"), home_button(ctx))
    if not any(shelf.total for shelf in shelves):
        lines = [text, ctx.t("notices.empty")] if text else [ctx.t("notices.empty")]
        return Reply(text="\n".join(lines), buttons=(settings_row,))
    rows = [(shelf_button(ctx, shelf),) for shelf in shelves]
    if unread:
        rows.append((Button(ctx.t("notices.mark_all_button"), payload="nread_all"),))
        text = text or ctx.t("notices.title", unread=unread)
    return Reply(text=text or ctx.t("notices.all_read"), buttons=(*rows, settings_row))


def shelf_button(ctx: Context, shelf: inbox.Shelf) -> Button:
    title = ctx.t(f"notices.shelf_button.{shelf.category}")
    if shelf.unread:
        title = ctx.t("notices.unread_count", title=title, count=shelf.unread)
    return Button(title, payload=f"ncat:{shelf.category}")


@router.button("ncat")
async def shelf(ctx: Context) -> list[Reply]:
    category = ctx.arg if ctx.arg in CATEGORIES else "bill"
    if (stop := gate(ctx, f"ncat:{category}")) is not None:
        return stop
    ctx.state.screen = "notices.shelf"
    name = ctx.t(f"notices.category.{category}")
    found = await inbox.recent(ctx.session, ctx.user, category)
    counts = next(s for s in await inbox.shelves(ctx.session, ctx.user) if s.category == category)
    if not found:
        text = ctx.t("notices.shelf_empty", category=name)
    elif counts.unread:
        text = ctx.t("notices.shelf_unread", category=name, unread=counts.unread)
    else:
        text = ctx.t("notices.shelf_read", category=name)
    rows = [(Button(notice_title(d), payload=f"nview:{d.id}"),) for d in found]
    way_back = (Button(ctx.t("menu.back"), payload="notices"), home_button(ctx))
    return [Reply(text=text, buttons=(*rows, way_back))]


@router.button("nview")
async def view(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, f"nview:{ctx.arg}")) is not None:
        return stop
    delivery = None
    if (notice_id := id_arg(ctx.arg)) is not None:
        delivery = await inbox.shown_notice(ctx.session, ctx.user, notice_id)
    if delivery is None:
        return [await tab(ctx, ctx.t("notices.gone"))]
    inbox.mark_read(delivery, ctx.now())
    return shown_again(ctx, delivery)


@router.button("nread_all")
async def read_all(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "notices")) is not None:
        return stop
    count = await inbox.mark_all_read(ctx.session, ctx.user, ctx.now())
    return [await tab(ctx, ctx.t("notices.marked_all", count=count))]


# --- replies ------------------------------------------------------------------------------


@router.button(inbox.REPLY_PAYLOAD)
async def ask_reply(ctx: Context) -> list[Reply]:
    delivery = None
    if (notice_id := id_arg(ctx.arg)) is not None:
        delivery = await inbox.delivery_of_notice(ctx.session, ctx.user.id, notice_id)
    if delivery is None:
        return [main_menu(ctx, ctx.t("notices.gone"))]
    return ask(ctx, delivery, ctx.t("notices.ask_reply", notice=inbox.headline(delivery)))


def ask(ctx: Context, delivery: Delivery, text: str) -> list[Reply]:
    ctx.state.ask(STEP_REPLY, delivery=delivery.id)
    cancel = Button(ctx.t("notices.cancel_button"), payload="cancel")
    return [Reply(text=text, buttons=((cancel, home_button(ctx)),))]


@router.step(STEP_REPLY)
async def typed_reply(ctx: Context) -> list[Reply]:
    delivery_id = ctx.state.asked.delivery
    delivery = await ctx.session.get(Delivery, delivery_id) if delivery_id else None
    if delivery is None or delivery.chat_user_id != ctx.user.id:
        ctx.state.answered()
        return [main_menu(ctx, ctx.t("notices.gone"))]
    if not ((ctx.incoming.text or "").strip() or ctx.incoming_media):
        return ask(ctx, delivery, ctx.t("notices.reply_needed"))
    return acknowledge(ctx, delivery)


@router.on_answer
async def maybe_an_answer(ctx: Context) -> list[Reply]:
    delivery = await inbox.answered_delivery(
        ctx.session,
        ctx.user.id,
        ctx.incoming,
        question_open=ctx.state.awaiting is not None,
        now=ctx.now(),
    )
    if delivery is None:  # not about a notice: the conversation goes on as usual
        route = ctx.router.resolve(ctx, answers=False)
        ctx.arg = route.arg
        return await route.handler(ctx)
    return acknowledge(ctx, delivery)


def acknowledge(ctx: Context, delivery: Delivery) -> list[Reply]:
    if ctx.state.step == STEP_REPLY:
        ctx.state.answered()  # answered, whichever way it came
    inbox.record_reply(
        ctx.session, ctx.user.id, delivery, ctx.incoming.text, ctx.incoming_media, ctx.now()
    )
    log.info(
        "reply to notice %s from chat user %s queued for staff", delivery.notice_id, ctx.user.id
    )
    photos = len(ctx.incoming_media)
    text = ctx.t(
        "notices.reply_received_photos" if photos else "notices.reply_received",
        notice=inbox.headline(delivery),
        count=photos,
        hotline=ctx.settings.hotline,
    )
    tab_button = Button(ctx.t("menu.notices"), payload="notices")
    return [Reply(text=text, buttons=((tab_button, home_button(ctx)),))]


def shown_again(ctx: Context, delivery: Delivery) -> list[Reply]:
    """The notice as it was sent, with a way to answer it and the way back under it."""
    replies = replies_of(delivery) or [Reply(text=inbox.headline(delivery))]
    payloads = {b.payload or "" for r in replies for b in r.all_buttons}
    extra: list[tuple[Button, ...]] = []
    if not any(p.startswith(f"{inbox.REPLY_PAYLOAD}:") for p in payloads):
        reply_payload = f"{inbox.REPLY_PAYLOAD}:{delivery.notice_id}"
        extra.append((Button(ctx.t("notices.reply_button"), payload=reply_payload),))
    back = Button(ctx.t("menu.back"), payload=f"ncat:{delivery.category}")
    extra.append((back, home_button(ctx)))
    last = replies[-1]
    ctx.state.screen = "notices.notice"
    return [*replies[:-1], replace(last, buttons=(*last.buttons, *extra))]


def notice_title(delivery: Delivery) -> str:
    """A notice as a button: unread mark, the day it came, its headline."""
    mark = UNREAD_MARK if delivery.read_at is None else ""
    when = delivery.sent_at or delivery.created_at
    return f"{mark}{short_day(when)} {inbox.headline(delivery, limit=BUTTON_HEADLINE)}"
