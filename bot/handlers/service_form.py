"""Dịch vụ, inside a form: the answers to its questions and the buttons under them, a
question about something else asked mid-form, and submitting. What a form checks as it
is filled in (an outage already announced) is declared in domain.yml and run by the
form engine."""

from __future__ import annotations

from bot.core import phones
from bot.core.context import Context
from bot.core.fmt import day, local
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.dialogs.field_types import field_type
from bot.dialogs.runner import STEP_FORM
from bot.handlers import freetext, incidents
from bot.handlers.common import home_button, id_arg, main_menu
from bot.handlers.freetext import intent_flows
from bot.handlers.gates import form_gate
from bot.handlers.navigation import OUTAGE_INTENT
from bot.handlers.services import form_runner, services, title
from bot.store import requests as store
from nlu.normalize import fold

router = Router()


@router.step(STEP_FORM)
async def answered(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    draft = runner.current(ctx)
    if draft is None:
        ctx.state.answered()
        return await services(ctx)
    if (other := await elsewhere(ctx)) is not None:
        return other
    if draft.index >= len(forms[draft.form_id].fields):
        return runner.summary(ctx)  # every question answered: the summary's buttons
    if draft.index < 0:
        return await runner.resume(ctx)  # nothing asked yet: the first question
    if (way := _typed_way(ctx)) is not None:
        ctx.arg = way
        return await form_button(ctx)
    before = dict(draft.answers)
    replies = await runner.answer(ctx)
    return await runner.checked(ctx, before, replies)


# The ways around a question (its footer), chosen by typing their title where a channel
# without buttons listed them by name ("bỏ qua"; "hủy" and "quay lại" are words anyway).
_WAYS = ("form:skip", "form:back", "form:cancel")


def _typed_way(ctx: Context) -> str | None:
    """The footer button whose title the customer typed (folded), as `form_button`'s arg."""
    text = ctx.incoming.text
    payload = ctx.state.shown_buttons.get(fold(text)) if text else None
    return payload.partition(":")[2] if payload in _WAYS else None


async def elsewhere(ctx: Context) -> list[Reply] | None:
    """A question asked in the middle of a form ("mất điện rồi", "hóa đơn tháng 9"):
    answer it, then offer to go on where the customer stopped."""
    runner = form_runner()
    forms = runner.forms
    draft, text = runner.current(ctx), ctx.incoming.text or ""
    if draft is None or not text or not 0 <= draft.index < len(forms[draft.form_id].fields):
        return None
    form = forms[draft.form_id]
    field = form.fields[draft.index]
    # Free text is an answer to a text or address question; elsewhere only what the
    # question cannot take is a candidate for another flow.
    if field_type(field).takes_any_text or runner.accepts(ctx, text):
        return None
    parse = ctx.services.understanding.parse(text)
    flows = intent_flows()
    if parse is None or not freetext.opens_at_once(parse) or parse.intent not in flows:
        return None
    route = ctx.router.for_payload(flows[parse.intent])
    if route is None or route.arg == draft.form_id:
        return None
    ctx.state.answered()
    ctx.arg, ctx.parse = route.arg, parse
    answer = await route.handler(ctx)
    step, total = runner.progress(ctx, draft)
    go_on = Button(ctx.t("form.cancel_no"), payload="form:resume")
    offer = Reply(
        text=ctx.t(
            "services.continue_after",
            title=title(ctx, draft.form_id),
            step=step,
            total=total,
        ),
        buttons=((go_on, Button(ctx.t("form.cancel"), payload="form:cancel")),),
    )
    return [*answer, offer]


@router.button("form")
async def form_button(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    draft = runner.current(ctx)
    action, _, arg = (ctx.arg or "").partition(":")
    if draft is None:
        return await services(ctx)
    before = dict(draft.answers)
    at_summary = draft.index >= len(forms[draft.form_id].fields)
    if action == "resume":
        replies = await runner.resume(ctx)
    elif action == "cancel":
        yes = Button(ctx.t("form.cancel_yes"), payload="form:cancel_ok")
        no = Button(ctx.t("form.cancel_no"), payload="form:resume")
        return [
            Reply(
                text=ctx.t("form.confirm_cancel", title=title(ctx, draft.form_id)),
                buttons=((yes, no),),
            )
        ]
    elif action == "cancel_ok":
        runner.drop(ctx)
        return [main_menu(ctx, ctx.t("form.cancelled", title=title(ctx, draft.form_id)))]
    elif action == "back" and (at_summary or draft.index >= 0):
        back = await runner.back(ctx)
        if back is None:  # at the first question: one step back is leaving the form
            ctx.arg = "cancel"
            return await form_button(ctx)
        replies = back
    elif action == "submit" and at_summary:
        return await submit(ctx)
    elif action == "edit" and at_summary and (index := id_arg(arg)) is not None:
        # Only from the summary: a forged edit mid-form must not skip to the end.
        replies = await runner.edit(ctx, index)
    elif at_summary:
        replies = runner.summary(ctx)
    elif draft.index < 0:  # nothing asked yet: no answer to take
        replies = await runner.resume(ctx)
    elif action == "area":  # ward buttons shown before they were form:pick (still on screen)
        replies = await runner.pick(ctx, arg)
    elif action in ("pick", "toggle", "done", "keep", "retype", "skip"):
        handler = {"pick": runner.pick, "toggle": runner.toggle}.get(action)
        if handler is not None:
            replies = await handler(ctx, arg)
        else:
            replies = await getattr(runner, action)(ctx)
    else:
        replies = await runner.resume(ctx)
    return await runner.checked(ctx, before, replies)


# --- submitting -------------------------------------------------------------------------------


async def submit(ctx: Context) -> list[Reply]:
    runner = form_runner()
    draft = runner.current(ctx)
    assert draft is not None
    form = runner.forms[draft.form_id]
    sent = runner.submission(draft)
    codes = sent.customer_codes
    if any(code not in ctx.user.customer_codes for code in codes):
        runner.drop(ctx)
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    if (stop := form_gate(ctx, form, "form:submit")) is not None:
        return stop
    now = ctx.now()
    days, deadline = runner.deadline(form, sent.answers, local(now).date())
    request = await store.create_request(
        ctx.session,
        chat_user_id=ctx.user.id,
        form_id=form.id,
        customer_code=codes[0] if codes else None,
        data={
            "answers": sent.answers,
            "display": sent.display,
            "labels": sent.labels,
            "title": form.title["vi"],
        },
        attachments=sent.photos,
        urgent=form.urgent,
        now=now,
        due_on=None if form.urgent else deadline,  # an urgent report is promised in hours
    )
    runner.drop(ctx)
    known: list[Reply] = []
    if form.id == OUTAGE_INTENT:  # counted by area (issue 19): "we know" when enough did
        known = await incidents.form_report(
            ctx, sent.answers, request.id, codes[0] if codes else None
        )
    unit = ctx.t("services.any_unit")
    if codes and (customer := await ctx.services.backend.customer(codes[0])) is not None:
        unit = customer.unit_name
    progress = Button(ctx.t("services.progress"), payload=f"req:{request.code}")
    buttons = ((progress,), (home_button(ctx),))
    if form.urgent:
        phone = sent.contact_phone or ctx.user.verified_phone or ""
        text = ctx.t(
            "services.received_urgent",
            code=request.code,
            unit=unit,
            hours=form.commitment.get("hours", 2),
            phone=phones.shown(phone),
        )
        return [Reply(text=text, buttons=((progress,),) if known else buttons), *known]
    text = ctx.t(
        "services.received", code=request.code, unit=unit, deadline=day(deadline), days=days
    )
    return [Reply(text=text, buttons=buttons)]
