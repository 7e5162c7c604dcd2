"""Gặp nhân viên: the customer's side of the handoff to staff (bot/support/handoff.py).

"👤 Gặp nhân viên", the talk_to_human intent, or three misunderstandings in a row put
the conversation in the console's queue. While an agent has it, the bot stays quiet
except for "menu"/"hủy", which offer the way back to the bot. When the agent resolves,
the customer rates the help 1-5 and may add a comment.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.core import fmt
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.dialogs.deadlines import is_public_holiday, is_working_day
from bot.handlers.common import home_button, main_menu
from bot.store.staff_models import StaffAccount
from bot.support import handoff
from nlu.normalize import fold

router = Router()

# Typed while an agent answers: the customer wants out (or is lost), so ask.
LEAVE_WORDS = frozenset(
    fold(word)
    for word in ("menu", "/menu", "/start", "hủy", "huy", "thoát", "thoat", "quay lại", "bot")
)


@router.command("/staff", "gap nhan vien", "nhan vien", "tong dai vien")
@router.button("support")
async def support(ctx: Context) -> list[Reply]:
    """Ask for a person: queue the conversation, or say it is queued already."""
    ctx.state.screen = "support"
    if ctx.conversation.mode == handoff.WAITING:
        since = ctx.conversation.waiting_since or ctx.now()
        text = ctx.t("handoff.already_waiting", since=fmt.clock(since))
        return [Reply(text=text, buttons=waiting_buttons(ctx))]
    return await queue(ctx, reason="asked")


async def queue(ctx: Context, *, reason: str, before: str | None = None) -> list[Reply]:
    """Put the conversation in the staff queue and tell the customer what happens now
    (outside support hours: from when staff answer, and the 24/7 hotline)."""
    await handoff.request(
        ctx.session, ctx.conversation, reason=reason, now=ctx.now(), live=ctx.services.live
    )
    ctx.state.misunderstood = 0
    opens = next_opening(ctx)
    if opens is None:
        text = ctx.t("handoff.queued")
    else:
        text = ctx.t(
            "handoff.after_hours",
            hours=_hours(ctx),
            when=f"{fmt.clock(opens)} {fmt.day(opens)}",
            hotline=ctx.settings.hotline,
        )
    if before:
        text = f"{before}\n\n{text}"
    return [Reply(text=text, buttons=waiting_buttons(ctx))]


def next_opening(ctx: Context) -> datetime | None:
    """None when staff answer chats now; else when they next start (local time)."""
    start, end = ctx.settings.support_range
    now = fmt.local(ctx.now())
    if _support_day(ctx, now.date()) and start <= now.hour < end:
        return None
    day = now.date() if now.hour < start else now.date() + timedelta(days=1)
    while not _support_day(ctx, day):
        day += timedelta(days=1)
    return datetime.combine(day, time(start), tzinfo=fmt.LOCAL_TZ)


def _support_day(ctx: Context, day: date) -> bool:
    """Working days (no public holiday), and Saturdays unless CSKH_SUPPORT_SATURDAY=0."""
    if day.weekday() == 5 and ctx.settings.support_saturday:
        return not is_public_holiday(day)
    return is_working_day(day)


def _hours(ctx: Context) -> str:
    start, end = ctx.settings.support_range
    last = ctx.t(
        "handoff.last_day_sat" if ctx.settings.support_saturday else "handoff.last_day_fri"
    )
    return ctx.t("handoff.hours", start=start, end=end, last=last)


def waiting_buttons(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button(ctx.t("handoff.cancel_button"), payload="handoff:leave"),),
        (home_button(ctx),),
    )


@router.before
async def _understood_by_tapping(ctx: Context) -> None:
    """A tapped button breaks a run of misunderstood texts."""
    if ctx.incoming.payload:
        ctx.state.misunderstood = 0


@router.button("handoff")
async def handoff_choice(ctx: Context) -> list[Reply]:
    """ "Quay lại bot" / "Tiếp tục với nhân viên" / "Thôi, không chờ nữa"."""
    if ctx.arg == "stay" and ctx.conversation.mode == handoff.STAFF:
        return [Reply(text=ctx.t("handoff.stay", name=await _agent_name(ctx)))]
    if ctx.conversation.mode not in (handoff.WAITING, handoff.STAFF):
        return [main_menu(ctx)]
    was_waiting = ctx.conversation.mode == handoff.WAITING
    await handoff.leave(ctx.session, ctx.conversation, now=ctx.now(), live=ctx.services.live)
    return [main_menu(ctx, ctx.t("handoff.cancelled" if was_waiting else "handoff.left"))]


@router.with_staff
async def with_staff(ctx: Context) -> list[Reply]:
    """An agent answers: only the way back to the bot gets an answer from the bot."""
    payload = ctx.incoming.payload or ""
    if payload.startswith("handoff:"):
        ctx.arg = payload.partition(":")[2]
        return await handoff_choice(ctx)
    text = ctx.incoming.text or ""
    if payload in ("menu", "support") or (text and fold(text) in LEAVE_WORDS):
        name = await _agent_name(ctx)
        return [
            Reply(
                text=ctx.t("handoff.leave_question", name=name),
                buttons=(
                    (Button(ctx.t("handoff.leave_button"), payload="handoff:leave"),),
                    (Button(ctx.t("handoff.stay_button"), payload="handoff:stay"),),
                ),
            )
        ]
    return []  # the agent reads it live in the console


async def _agent_name(ctx: Context) -> str:
    staff_id = ctx.conversation.staff_id
    staff = await ctx.session.get(StaffAccount, staff_id) if staff_id else None
    return staff.display_name if staff else ""


@router.button("csat")
async def rating(ctx: Context) -> list[Reply]:
    """A star button under the "how satisfied" question: keep it, ask for a comment."""
    handoff_id, _, score = (ctx.arg or "").partition("-")
    if not (handoff_id.isdigit() and score.isdigit()):
        return [main_menu(ctx)]
    rated = await handoff.rate(
        ctx.session, ctx.conversation, int(handoff_id), int(score), now=ctx.now()
    )
    if rated is None:
        return [main_menu(ctx, ctx.t("handoff.rated_before"))]
    ctx.state.ask("csat_comment", code=handoff_id)
    return [
        Reply(
            text=ctx.t("handoff.rated", score=rated.csat),
            buttons=((Button(ctx.t("handoff.skip_button"), payload="csat_skip"),),),
        )
    ]


@router.step("csat_comment")
async def rating_comment(ctx: Context) -> list[Reply]:
    asked = ctx.state.answered()
    text = (ctx.incoming.text or "").strip()
    if asked is not None and asked.code and asked.code.isdigit() and text:
        await handoff.comment(ctx.session, ctx.conversation, int(asked.code), text)
    return [main_menu(ctx, ctx.t("handoff.comment_thanks"))]


@router.button("csat_skip")
async def rating_skipped(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    return [main_menu(ctx)]
