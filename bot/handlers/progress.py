"""Dịch vụ → "Tra cứu tiến độ": the customer's requests and the history of each, and
answering a request that waits for more information ("chờ bổ sung")."""

from __future__ import annotations

from typing import Any

from bot.core.context import Context
from bot.core.fmt import clock, day
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers.common import back_button, home_button
from bot.handlers.gates import gate
from bot.handlers.services import form_runner, title
from bot.store import requests as store

STEP_INFO = "request.info"

router = Router()


@router.command("/requests", "tra cuu tien do", "tien do")
@router.button("req_list")
async def my_requests(ctx: Context) -> list[Reply]:
    forms = form_runner().forms
    if (stop := gate(ctx, "req_list")) is not None:
        return stop
    found = await store.list_requests(ctx.session, chat_user_id=ctx.user.id, limit=10)
    if not found:
        return [Reply(text=ctx.t("requests.none"), buttons=((back_button(ctx), home_button(ctx)),))]
    lines = [ctx.t("requests.list_title")]
    buttons = []
    for request in found:
        name = title(ctx, request.type) if request.type in forms else request.type
        lines.append(
            ctx.t(
                "requests.line",
                code=request.code,
                title=name,
                status=ctx.t(f"status.{request.status}"),
                date=day(request.created_at),
            )
        )
        buttons.append(Button(request.code, payload=f"req:{request.code}"))
    return [
        Reply(
            text="\n".join(lines),
            buttons=(*rows(*buttons), (back_button(ctx), home_button(ctx))),
        )
    ]


async def own_request(ctx: Context, code: str) -> Any:
    request = await store.get_request(ctx.session, code)
    return request if request is not None and request.chat_user_id == ctx.user.id else None


async def opened(ctx: Context, action: str) -> tuple[Any, list[Reply] | None]:
    """The customer's own request named by the button, or what to answer instead
    (log in first, or "not one of yours")."""
    if (stop := gate(ctx, f"{action}:{ctx.arg or ''}")) is not None:
        return None, stop
    request = await own_request(ctx, ctx.arg or "")
    if request is None:
        return None, [Reply(text=ctx.t("requests.not_yours"), buttons=((home_button(ctx),),))]
    return request, None


@router.button("req")
async def one_request(ctx: Context) -> list[Reply]:
    forms = form_runner().forms
    request, refusal = await opened(ctx, "req")
    if refusal is not None:
        return refusal
    name = title(ctx, request.type) if request.type in forms else request.type
    lines = [
        ctx.t(
            "requests.detail",
            code=request.code,
            title=name,
            date=day(request.created_at),
            status=ctx.t(f"status.{request.status}"),
        )
    ]
    for event in request.events:
        key = "requests.event_note" if event.note else "requests.event"
        lines.append(
            ctx.t(
                key,
                date=day(event.created_at),
                time=clock(event.created_at),
                status=ctx.t(f"status.{event.status}"),
                note=event.note or "",
            )
        )
    buttons: list[tuple[Button, ...]] = []
    if request.status == "needs_info":
        buttons.append((Button(ctx.t("requests.send_info"), payload=f"req_info:{request.code}"),))
    buttons.append((Button(ctx.t("services.progress"), payload="req_list"), home_button(ctx)))
    return [Reply(text="\n".join(lines), buttons=tuple(buttons))]


# --- answering "chờ bổ sung" -------------------------------------------------------------


@router.button("req_info")
async def send_info(ctx: Context) -> list[Reply]:
    request, refusal = await opened(ctx, "req_info")
    if refusal is not None:
        return refusal
    ctx.state.ask(STEP_INFO, code=request.code)
    done = Button(ctx.t("form.done"), payload=f"req_info_done:{request.code}")
    return [
        Reply(
            text=ctx.t("requests.ask_info", code=request.code),
            buttons=((done,), (home_button(ctx),)),
        )
    ]


@router.step(STEP_INFO)
async def info_given(ctx: Context) -> list[Reply]:
    code = str(ctx.state.asked.code or "")
    request = await own_request(ctx, code)
    if request is None:
        ctx.state.answered()
        return [Reply(text=ctx.t("requests.not_yours"), buttons=((home_button(ctx),),))]
    store.add_customer_reply(
        request, text=ctx.incoming.text, media_ids=ctx.incoming_media, now=ctx.now()
    )
    done = Button(ctx.t("form.done"), payload=f"req_info_done:{code}")
    return [
        Reply(
            text=ctx.t("requests.info_received", code=code),
            buttons=((done,), (home_button(ctx),)),
        )
    ]


@router.button("req_info_done")
async def info_done(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    request, refusal = await opened(ctx, "req_info_done")  # a forged code is no code
    if refusal is not None:
        return refusal
    code = request.code
    return [
        Reply(
            text=ctx.t("requests.info_done", code=code),
            buttons=(
                (Button(ctx.t("services.progress"), payload=f"req:{code}"),),
                (home_button(ctx),),
            ),
        )
    ]
