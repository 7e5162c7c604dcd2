"""Dịch vụ, inside a form: the answers to its questions and the buttons under them, a
question about something else asked mid-form, the outage report's check for outages
already announced, and submitting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.context import Context
from bot.core.fmt import clock, day, local
from bot.core.messages import Button, Reply
from bot.core.router import STATE_AWAITING, Router
from bot.dialogs.runner import STEP_FORM, draft_of, shown_phone
from bot.handlers.common import home_button, id_arg, main_menu
from bot.handlers.gates import gate
from bot.handlers.services import form_runner, services, title
from bot.store import requests as store
from nlu.model import CONFIDENT

WHERE_TYPES = ("customer_code", "address", "location")

router = Router()


@router.step(STEP_FORM)
async def answered(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    draft = draft_of(ctx)
    if draft is None:
        ctx.state.pop(STATE_AWAITING, None)
        return await services(ctx)
    if (other := await elsewhere(ctx)) is not None:
        return other
    if draft.get("index", -1) >= len(forms[draft["id"]].fields):
        return runner.summary(ctx)  # every question answered: the summary's buttons
    if draft.get("index", -1) < 0:
        return await runner.resume(ctx)  # nothing asked yet: the first question
    before = dict(draft["answers"])
    replies = await runner.answer(ctx)
    return await _with_outage_check(ctx, before, replies)


async def elsewhere(ctx: Context) -> list[Reply] | None:
    """A question asked in the middle of a form ("mất điện rồi", "hóa đơn tháng 9"):
    answer it, then offer to go on where the customer stopped."""
    from bot.handlers.freetext import INTENT_FLOWS

    runner = form_runner()
    forms = runner.forms
    draft, text = draft_of(ctx), ctx.incoming.text or ""
    if draft is None or not text or draft["index"] >= len(forms[draft["id"]].fields):
        return None
    field = forms[draft["id"]].fields[draft["index"]]
    # Free text is an answer to a text or address question; elsewhere only what the
    # question cannot take is a candidate for another flow.
    if field.type in ("text", "address", "photos", "location") or runner.accepts(ctx, text):
        return None
    parse = ctx.services.understanding.parse(text)
    if parse is None or parse.confidence < CONFIDENT or parse.intent not in INTENT_FLOWS:
        return None
    route = ctx.router.for_payload(INTENT_FLOWS[parse.intent])
    if route is None or route.arg == draft["id"]:
        return None
    ctx.state.pop(STATE_AWAITING, None)
    ctx.arg, ctx.parse = route.arg, parse
    answer = await route.handler(ctx)
    step = sum(
        1
        for f in forms[draft["id"]].fields[: draft["index"] + 1]
        if f.shown(draft["answers"]) or f is field
    )
    total = sum(1 for f in forms[draft["id"]].fields if f.shown(draft["answers"]))
    go_on = Button(ctx.t("form.cancel_no"), payload="form:resume")
    offer = Reply(
        text=ctx.t(
            "services.continue_after",
            title=title(ctx, draft["id"]),
            step=step,
            total=max(total, step),
        ),
        buttons=((go_on, Button(ctx.t("form.cancel"), payload="form:cancel")),),
    )
    return [*answer, offer]


@router.button("form")
async def form_button(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    draft = draft_of(ctx)
    action, _, arg = (ctx.arg or "").partition(":")
    if draft is None:
        return await services(ctx)
    before = dict(draft["answers"])
    at_summary = draft.get("index", -1) >= len(forms[draft["id"]].fields)
    if action == "resume":
        replies = await runner.resume(ctx)
    elif action == "cancel":
        yes = Button(ctx.t("form.cancel_yes"), payload="form:cancel_ok")
        no = Button(ctx.t("form.cancel_no"), payload="form:resume")
        return [
            Reply(
                text=ctx.t("form.confirm_cancel", title=title(ctx, draft["id"])),
                buttons=((yes, no),),
            )
        ]
    elif action == "cancel_ok":
        runner.drop(ctx)
        return [main_menu(ctx, ctx.t("form.cancelled", title=title(ctx, draft["id"])))]
    elif action == "submit" and at_summary:
        return await submit(ctx)
    elif action == "edit" and at_summary and (index := id_arg(arg)) is not None:
        # Only from the summary: a forged edit mid-form must not skip to the end.
        replies = await runner.edit(ctx, index)
    elif at_summary:
        replies = runner.summary(ctx)
    elif draft.get("index", -1) < 0:  # nothing asked yet: no answer to take
        replies = await runner.resume(ctx)
    elif action == "back":
        back = await runner.back(ctx)
        if back is None:
            ctx.arg = "cancel"
            return await form_button(ctx)
        replies = back
    elif action in ("pick", "toggle", "done", "keep", "retype", "skip"):
        handler = {"pick": runner.pick, "toggle": runner.toggle}.get(action)
        if handler is not None:
            replies = await handler(ctx, arg)
        else:
            replies = await getattr(runner, action)(ctx)
    else:
        replies = await runner.resume(ctx)
    return await _with_outage_check(ctx, before, replies)


# --- the outage report knows about outages already announced ---------------------------


async def _with_outage_check(
    ctx: Context, before: dict[str, Any], replies: list[Reply]
) -> list[Reply]:
    forms = form_runner().forms
    draft = draft_of(ctx)
    if draft is None or draft["id"] != "report_outage":
        return replies
    form = forms[draft["id"]]
    for field in form.fields:
        if (
            field.type in WHERE_TYPES
            and field.name in draft["answers"]
            and field.name not in before
        ):
            known = await known_outage(ctx, draft["answers"][field.name], field.type)
            if known is not None:
                return [known, *replies]
    return replies


async def known_outage(ctx: Context, where: Any, kind: str) -> Reply | None:
    backend = ctx.services.backend
    province = ward = None
    area = ""
    if kind == "customer_code":
        customer = await backend.customer(str(where))
        if customer is not None:
            province, ward, area = (
                customer.province_code,
                customer.ward_code,
                customer.ward_name,
            )
    elif kind == "address":
        province, ward, area = where["province_code"], where["ward_code"], where["ward"]
    elif kind == "location":
        # No ward boundaries here: the ward of the nearest payment point stands in.
        near = await backend.payment_points_near(where["lat"], where["lon"], limit=1)
        if near:
            province, ward, area = near[0].province_code, near[0].ward_code, near[0].ward_name
    if province is None:
        return None
    now = ctx.now()
    found = await backend.outages(
        province, ward, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    current = [o for o in found if o.start_at <= now <= o.end_at]
    if not current:
        return None
    outage = current[0]
    area_text = area[:1].lower() + area[1:]
    key = "services.incident_known" if outage.kind == "incident" else "services.outage_known"
    return Reply(
        text=ctx.t(
            key,
            area=area_text,
            start=clock(outage.start_at),
            end=clock(outage.end_at),
            day=day(outage.end_at),
            reason=outage.reason,
        )
    )


# --- submitting -------------------------------------------------------------------------------


async def submit(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    draft = draft_of(ctx)
    assert draft is not None
    form = forms[draft["id"]]
    answers = runner.visible_answers(draft)
    codes = [
        v for f in form.fields if f.type == "customer_code" for v in [answers.get(f.name)] if v
    ]
    if any(code not in ctx.user.customer_codes for code in codes):
        runner.drop(ctx)
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    if (stop := gate(ctx, "form:submit")) is not None:
        return stop
    photos = [
        {"type": "photo", "media": media, "field": f.name}
        for f in form.fields
        if f.type == "photos"
        for media in answers.get(f.name, [])
    ]
    display = {f.name: draft["display"].get(f.name) for f in form.fields if f.name in answers}
    labels = {f.name: f.label("vi") for f in form.fields if f.name in answers}
    now = ctx.now()
    request = await store.create_request(
        ctx.session,
        chat_user_id=ctx.user.id,
        form_id=form.id,
        customer_code=codes[0] if codes else None,
        data={
            "answers": answers,
            "display": display,
            "labels": labels,
            "title": form.title["vi"],
        },
        attachments=photos,
        urgent=form.urgent,
        now=now,
    )
    runner.drop(ctx)
    unit = ctx.t("services.any_unit")
    if codes and (customer := await ctx.services.backend.customer(codes[0])) is not None:
        unit = customer.unit_name
    progress = Button(ctx.t("services.progress"), payload=f"req:{request.code}")
    buttons = ((progress,), (home_button(ctx),))
    if form.urgent:
        phone = next(
            (v for f in form.fields if f.type == "phone" for v in [answers.get(f.name)] if v),
            ctx.user.verified_phone or "",
        )
        text = ctx.t(
            "services.received_urgent",
            code=request.code,
            unit=unit,
            hours=form.commitment.get("hours", 2),
            phone=shown_phone(phone),
        )
        return [Reply(text=text, buttons=buttons)]
    days, deadline = runner.deadline(form, answers, local(now).date())
    text = ctx.t(
        "services.received", code=request.code, unit=unit, deadline=day(deadline), days=days
    )
    return [Reply(text=text, buttons=buttons)]
