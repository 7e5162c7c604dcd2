"""Dịch vụ: the tab and the seventeen service requests it starts (forms from domain.yml,
run by one engine). Answering an open form is in service_form.py; following a request
("Tra cứu tiến độ") and sending what it waits for are in progress.py."""

from __future__ import annotations

import functools
from typing import Any

from bot.core import phones
from bot.core.context import Context
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.dialogs.forms import GROUPS, FieldSpec, default_forms
from bot.dialogs.needs import refusal
from bot.dialogs.runner import FormRunner, session_of
from bot.handlers.common import back_button, home_button
from bot.handlers.gates import form_gate, without_login

router = Router()


async def prefill(
    ctx: Context, field: FieldSpec, answers: dict[str, Any]
) -> tuple[Any, str] | None:
    """What the records already say for this field: the customer's name, address,
    phone or e-mail (of the code chosen earlier in the form), or the verified phone —
    falling back to the contract's phone for customers who logged in by password."""
    if field.prefill == "user.phone" and ctx.user.verified_phone:
        phone = ctx.user.verified_phone
        return phone, phones.shown(phone)
    code = next(
        (
            v
            for v in answers.values()
            if isinstance(v, str) and len(v) == 13 and v in ctx.user.customer_codes
        ),
        # The default contract, else the first linked one: its phone and e-mail are the
        # customer's too (offered for confirmation, never taken without a tap).
        ctx.user.default_customer_code or next(iter(ctx.user.customer_codes), None),
    )
    customer = await ctx.services.backend.customer(code) if code else None
    if customer is None:
        return None
    if field.prefill == "customer.name":
        return customer.name, customer.name
    if field.prefill in ("customer.phone", "user.phone") and customer.phones:
        return customer.phones[0], phones.shown(customer.phones[0])
    if field.prefill == "customer.email" and customer.email:
        return customer.email, customer.email
    if field.prefill == "customer.address" and customer.ward_code is not None:
        value = {
            "line": customer.address,
            "ward_code": customer.ward_code,
            "ward": customer.ward_name,
            "province_code": customer.province_code,
            "province": customer.province_name,
        }
        return value, customer.full_address
    return None


async def describe(ctx: Context, field: FieldSpec, value: Any) -> str | None:
    """A contract chosen, as the summary shows it: its code and its address (which of
    the customer's contracts it is, and where an outage is)."""
    if field.type != "customer_code" or not isinstance(value, str):
        return None
    customer = await ctx.services.backend.customer(value)
    return f"{value} — {customer.full_address}" if customer is not None else None


@router.startup
@functools.cache
def form_runner() -> FormRunner:
    """The runner of domain.yml's forms, built once: it keeps no state of its own. Built
    when the engine is, so a mistake in a form stops the start (FormError)."""
    return FormRunner(default_forms(), prefill, describe)


def title(ctx: Context, form_id: str) -> str:
    forms = form_runner().forms
    return forms[form_id].title.get(ctx.lang) or forms[form_id].title["vi"]


@router.before
async def drop_old_draft(ctx: Context) -> None:
    runner = form_runner()
    draft = runner.current(ctx)
    if draft is not None and draft.ended_by_logout(session_of(ctx.user)):
        runner.drop(ctx)  # silently: whoever is here now may not be its author
        return
    if draft is not None and draft.expired(ctx.now()):
        runner.drop(ctx)
        ctx.notices.append(
            Reply(text=ctx.t("services.draft_expired", title=title(ctx, draft.form_id)))
        )


@router.command("/services", "dich vu")
@router.button("services")
async def services(ctx: Context) -> list[Reply]:
    buttons = [Button(ctx.t(f"services.{group}"), payload=f"svc_group:{group}") for group in GROUPS]
    buttons.append(Button(ctx.t("services.progress"), payload="req_list"))
    draft = form_runner().current(ctx)
    text = ctx.t("services.menu")
    if draft is not None:  # the form's name in the text: a button holds too few letters
        text = ctx.t("services.menu_draft", title=title(ctx, draft.form_id))
        buttons.insert(0, continue_button(ctx))
    return [Reply(text=text, buttons=(*rows(*buttons, per_row=1), (home_button(ctx),)))]


def continue_button(ctx: Context) -> Button:
    """Back to the question of the draft in hand (or its summary)."""
    return Button(ctx.t("services.continue_draft"), payload="form:resume")


@router.button("svc_group")
async def group(ctx: Context) -> list[Reply]:
    forms = form_runner().forms
    if ctx.arg not in GROUPS:
        return await services(ctx)
    choices = [
        Button(title(ctx, form_id), payload=f"svc:{form_id}")
        for form_id, form in forms.items()
        if form.group == ctx.arg
    ]
    return [
        Reply(
            text=ctx.t("services.group_title"),
            buttons=(*rows(*choices, per_row=1), (back_button(ctx), home_button(ctx))),
        )
    ]


@router.button("svc")
async def start(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    form_id = ctx.arg or ""
    if form_id not in forms and (chosen := forms.by_intent(form_id)):
        if len(chosen) > 1:  # an intent of several forms (a new connection): the choice
            ctx.arg = chosen[0].group
            return await group(ctx)
        form_id = chosen[0].id
    if form_id not in forms:
        return await services(ctx)
    if (stop := form_gate(ctx, forms[form_id], f"svc:{form_id}")) is not None:
        return stop
    draft = runner.current(ctx)
    if draft is not None and draft.form_id == form_id:
        return await runner.resume(ctx)
    if draft is not None:
        go_on = Button(ctx.t("form.cancel_no"), payload="form:resume")
        fresh = Button(ctx.t("services.start_new"), payload=f"svc_new:{form_id}")
        return [
            Reply(
                text=ctx.t("services.other_draft", title=title(ctx, draft.form_id)),
                buttons=((go_on,), (fresh,), (home_button(ctx),)),
            )
        ]
    replies = await runner.start(ctx, form_id)
    if runner.current(ctx) is not None:  # begun: after its intro, what login would add
        replies[1:1] = without_login(ctx, forms[form_id])
    return replies


@router.button("svc_new")
async def start_over(ctx: Context) -> list[Reply]:
    runner = form_runner()
    forms = runner.forms
    form = forms.get(ctx.arg or "")
    if form is None:
        return await services(ctx)
    # The draft in hand goes only once the new form can start.
    if (stop := form_gate(ctx, form, f"svc_new:{form.id}")) is not None:
        return stop
    if (refused := refusal(ctx, form)) is not None:
        return refused
    runner.drop(ctx)
    return await start(ctx)
