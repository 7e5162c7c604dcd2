"""One-time codes inside a conversation: sending one (by SMS or e-mail, with the answer
to each outcome: sent, wait, rate-limited, locked, the SMS budget spent) and checking
the one typed. Logging in, "forgot password" and adding a customer code use them."""

from __future__ import annotations

import re
from datetime import datetime

from bot.auth.guard import Requester
from bot.auth.otp import Checked, CodeMessage, SendResult, Sent
from bot.core.context import Context
from bot.core.fmt import clock
from bot.core.messages import Button, Reply
from bot.core.state import LoginFlow
from bot.handlers.common import ask, home_button
from bot.settings import Settings

CODE = re.compile(r"^\d{6}$")


def code_message(ctx: Context) -> CodeMessage:
    return CodeMessage(ctx.t("otp.sms"), ctx.t("otp.email_subject"), ctx.t("otp.email_body"))


def failed_lock(ctx: Context, key: str, until: datetime | None) -> list[Reply]:
    ctx.state.answered()
    when = clock(until) if until is not None else ""
    return [Reply(text=ctx.t(key, time=when), buttons=((home_button(ctx),),))]


def email_available(settings: Settings) -> bool:
    """E-mailed codes need an SMTP server; without one only development mode (which keeps
    messages in the dev outbox) may pretend to send them."""
    return bool(settings.smtp_host) or settings.sms_provider == "log"


def zalo_available(ctx: Context) -> bool:
    """Codes by Zalo's ZNS: the Zalo OA channel runs with CSKH_ZALO_ZNS_OTP_TEMPLATE."""
    return ctx.services.otp.senders.zalo is not None


def requester(ctx: Context) -> Requester:
    """Who asks for or types a code: this chat, from this network address."""
    return Requester(ctx.user.id, ctx.incoming.client_address)


async def send_code(ctx: Context, flow: LoginFlow) -> list[Reply]:
    """Send (or resend) the code of `flow`, which the conversation keeps until the code
    is typed right."""
    ctx.state.login = flow
    result = await ctx.services.otp.send(
        ctx.session,
        phone=flow.subject,
        purpose=flow.purpose,
        delivery=flow.delivery or "sms",
        requester=requester(ctx),
        address=flow.address,
        text=code_message(ctx),
        target=flow.target,
    )
    return sent_answer(ctx, result, flow)


def sent_answer(ctx: Context, result: SendResult, flow: LoginFlow) -> list[Reply]:
    step = str(flow.step)
    outcome = result.outcome
    if outcome == Sent.LOCKED:
        return failed_lock(ctx, "account.locked", result.locked_until)
    if outcome == Sent.RATE_LIMITED:
        ctx.state.answered()
        return [Reply(text=ctx.t("account.rate_limited"), buttons=((home_button(ctx),),))]
    if outcome == Sent.BUSY:  # the SMS budget is spent: e-mail, or later
        ctx.state.answered()
        if flow.purpose == "activate" and email_available(ctx.settings):
            email = Button(ctx.t("account.via_email"), payload="otp:email")
            return [
                Reply(text=ctx.t("account.sms_busy_email"), buttons=((email,), (home_button(ctx),)))
            ]
        return [Reply(text=ctx.t("account.sms_busy"), buttons=((home_button(ctx),),))]
    resend = Button(ctx.t("account.resend"), payload="otp:resend")
    if outcome == Sent.WAIT:
        return ask(ctx, step, ctx.t("account.resend_wait", seconds=result.wait_seconds), resend)
    return ask(ctx, step, ctx.t(str(flow.sent_key), **flow.params), resend)


async def check_code(ctx: Context, step: str) -> tuple[str | None, list[Reply] | None]:
    """The code typed for the conversation's code flow: (target, None) when right, else
    (None, the answer to give)."""
    flow = ctx.state.login
    code = "".join((ctx.incoming.text or "").split())
    if flow is None or not flow.subject:
        ctx.state.answered()
        return None, [
            Reply(text=ctx.t("account.code_wrong", left=0), buttons=((home_button(ctx),),))
        ]
    if not CODE.match(code):
        return None, ask(ctx, step, ctx.t("account.code_format"))
    result = await ctx.services.otp.check(
        ctx.session,
        phone=flow.subject,
        purpose=flow.purpose,
        code=code,
        requester=requester(ctx),
    )
    if result.outcome == Checked.LOCKED:
        return None, failed_lock(ctx, "account.locked", result.locked_until)
    if result.outcome == Checked.WRONG:
        resend = Button(ctx.t("account.resend"), payload="otp:resend")
        return None, ask(ctx, step, ctx.t("account.code_wrong", left=result.attempts_left), resend)
    ctx.state.login = None
    return result.target, None
