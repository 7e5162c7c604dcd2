"""Gates in front of personal features: log in first, then the app PIN when it is due.

A gate remembers what the customer asked for (a button payload) and the flow that
lets them through resumes it, so "Thanh toán" → log in → payment happens in one go.

An urgent report (the outage report) has no login gate: the power is out now, and the
form itself asks where (a ward typed or a shared location) and a phone to call back.
"""

from __future__ import annotations

from bot.auth import accounts
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.dialogs.spec import FormSpec
from bot.handlers.common import home_button

STEP_PIN_UNLOCK = "pin.unlock"


def login_prompt(ctx: Context, resume: str | None) -> list[Reply]:
    if resume:
        ctx.state.resume = resume
    return [
        Reply(
            text=ctx.t("account.login_first"),
            buttons=((Button(ctx.t("menu.login"), payload="login"),), (home_button(ctx),)),
        )
    ]


def gate(ctx: Context, resume: str, *, pin: bool = True) -> list[Reply] | None:
    """None when the customer may go on; otherwise the login or PIN question."""
    if not ctx.user.is_activated:
        return login_prompt(ctx, resume)
    if pin and accounts.pin_needed(ctx.user, ctx.now()):
        ctx.state.resume = resume
        ctx.state.ask(STEP_PIN_UNLOCK)
        return [Reply(text=ctx.t("pin.ask_unlock"), buttons=((home_button(ctx),),))]
    return None


def form_gate(ctx: Context, form: FormSpec, resume: str) -> list[Reply] | None:
    """`gate` in front of a service form: an urgent one is open to a customer who has
    not logged in (issue 15); a logged-in customer still meets the PIN."""
    if form.urgent and not ctx.user.is_activated:
        return None
    return gate(ctx, resume)


def without_login(ctx: Context, form: FormSpec) -> list[Reply]:
    """What logging in would add, said as an urgent report starts without it."""
    if not form.urgent or ctx.user.is_activated:
        return []
    return [Reply(text=ctx.t("services.report_without_login"))]


async def resume(ctx: Context, replies: list[Reply]) -> list[Reply]:
    """`replies`, followed by what the customer asked for before a gate stopped them."""
    payload = ctx.state.take_resume()
    if not isinstance(payload, str):
        return replies
    route = ctx.router.for_payload(payload)
    if route is None:
        return replies
    ctx.arg = route.arg
    return replies + await route.handler(ctx)
