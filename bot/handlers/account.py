"""Đăng nhập: activation by phone + OTP (SMS or e-mail), by portal username/password,
or (Telegram) by sharing one's own contact; and "forgot password".

Every way in starts with the personal-data notice when it has not been accepted (a
hand-made button payload included), and ends by linking the customer codes proven for
the phone or account, then resuming what the customer asked for before logging in.
After 5 wrong PINs only a one-time code re-activates the chat.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from bot.auth import accounts, audit, guard
from bot.auth.guard import Requester
from bot.auth.otp import Checked, CodeMessage, SendResult, Sent, Undelivered
from bot.core.context import Context, Services
from bot.core.fmt import clock, mask_phone
from bot.core.messages import Button, KeyboardRequest, Reply, RequestButton
from bot.core.push import PushError
from bot.core.router import STATE_AWAITING, Router
from bot.dialogs.fields import FieldError, parse_phone
from bot.handlers.common import back_button, home_button
from bot.handlers.gates import STATE_RESUME, resume
from bot.settings import Settings
from bot.store.backend import CustomerRecord
from bot.store.models import ChatUser

log = logging.getLogger(__name__)

STATE_LOGIN = "login"  # the code flow in progress: subject, purpose, where it went
STEP_PHONE = "login.phone"
STEP_OTP = "login.otp"
STEP_USERNAME = "login.username"
STEP_PASSWORD = "login.password"
STEP_RESET_USERNAME = "reset.username"
STEP_RESET_OTP = "reset.otp"
STEP_NEW_PASSWORD = "reset.password"
CODE = re.compile(r"^\d{6}$")
RESET_WINDOW = timedelta(minutes=10)  # time to choose a new password after the code


def code_message(ctx: Context) -> CodeMessage:
    return CodeMessage(ctx.t("otp.sms"), ctx.t("otp.email_subject"), ctx.t("otp.email_body"))


def ask(ctx: Context, step: str, text: str, *buttons: Button, **extra: object) -> list[Reply]:
    """One question, with the way back; the answer goes to `step`."""
    ctx.state[STATE_AWAITING] = {"step": step, **extra}
    rows = [tuple(buttons)] if buttons else []
    return [Reply(text=text, buttons=(*rows, (back_button(ctx), home_button(ctx))))]


def codes_text(ctx: Context, customers: list[CustomerRecord]) -> str:
    lines = [
        ctx.t("account.code_line", code=c.code, name=c.name, address=c.full_address)
        for c in customers
    ]
    return "\n".join(lines)


async def linked_customers(ctx: Context) -> list[CustomerRecord]:
    found = [await ctx.services.backend.customer(code) for code in ctx.user.customer_codes]
    return [customer for customer in found if customer is not None]


def failed_lock(ctx: Context, key: str, until: datetime | None) -> list[Reply]:
    ctx.state.pop(STATE_AWAITING, None)
    when = clock(until) if until is not None else ""
    return [Reply(text=ctx.t(key, time=when), buttons=((home_button(ctx),),))]


def email_available(settings: Settings) -> bool:
    """E-mailed codes need an SMTP server; without one only development mode (which keeps
    messages in the dev outbox) may pretend to send them."""
    return bool(settings.smtp_host) or settings.sms_provider == "log"


def requester(ctx: Context) -> Requester:
    """Who asks for or types a code: this chat, from this network address."""
    return Requester(ctx.user.id, ctx.incoming.client_address)


async def send_code(ctx: Context, flow: dict[str, Any]) -> list[Reply]:
    """Send (or resend) the code of a flow kept in state["login"]:
    {subject, purpose, delivery, address, target, step, sent_key, params}."""
    ctx.state[STATE_LOGIN] = flow
    result = await ctx.services.otp.send(
        ctx.session,
        phone=flow["subject"],
        purpose=flow["purpose"],
        delivery=flow["delivery"],
        requester=requester(ctx),
        address=flow.get("address"),
        text=code_message(ctx),
        target=flow.get("target"),
    )
    return sent_answer(ctx, result, flow)


def sent_answer(ctx: Context, result: SendResult, flow: dict[str, Any]) -> list[Reply]:
    step = str(flow["step"])
    outcome = result.outcome
    if outcome == Sent.LOCKED:
        return failed_lock(ctx, "account.locked", result.locked_until)
    if outcome == Sent.RATE_LIMITED:
        ctx.state.pop(STATE_AWAITING, None)
        return [Reply(text=ctx.t("account.rate_limited"), buttons=((home_button(ctx),),))]
    if outcome == Sent.BUSY:  # the SMS budget is spent: e-mail, or later
        ctx.state.pop(STATE_AWAITING, None)
        if flow["purpose"] == "activate" and email_available(ctx.settings):
            email = Button(ctx.t("account.via_email"), payload="otp:email")
            return [
                Reply(text=ctx.t("account.sms_busy_email"), buttons=((email,), (home_button(ctx),)))
            ]
        return [Reply(text=ctx.t("account.sms_busy"), buttons=((home_button(ctx),),))]
    resend = Button(ctx.t("account.resend"), payload="otp:resend")
    if outcome == Sent.WAIT:
        return ask(ctx, step, ctx.t("account.resend_wait", seconds=result.wait_seconds), resend)
    return ask(ctx, step, ctx.t(str(flow["sent_key"]), **flow.get("params", {})), resend)


async def code_not_delivered(services: Services, failed: Undelivered) -> None:
    """The gateway refused a code the customer was told is on its way: tell them, with
    the other way to receive it where activation offers one."""
    async with services.pusher.db.reading() as session:
        user = await session.get(ChatUser, failed.chat_user_id)
        lang = user.language if user is not None else services.settings.default_language
    by_sms = failed.delivery == "sms"
    home = Button(services.texts.get("menu.home", lang), payload="menu")
    buttons: tuple[tuple[Button, ...], ...] = ((home,),)
    if failed.purpose == "activate" and (not by_sms or email_available(services.settings)):
        key, payload = (
            ("account.via_email", "otp:email") if by_sms else ("account.via_sms", "otp:sms")
        )
        buttons = ((Button(services.texts.get(key, lang), payload=payload),), *buttons)
    text = services.texts.get("account.sms_failed" if by_sms else "account.email_failed", lang)
    try:
        await services.pusher.push(failed.chat_user_id, [Reply(text=text, buttons=buttons)])
    except PushError as error:  # e.g. `cskh chat` has ended
        log.warning("could not tell chat user %s its code failed: %s", failed.chat_user_id, error)


async def check_code(ctx: Context, step: str) -> tuple[Any, list[Reply] | None]:
    """The code typed for the flow in state["login"]: (target, None) when right, else
    (None, the answer to give)."""
    flow = ctx.state.get(STATE_LOGIN) or {}
    code = "".join((ctx.incoming.text or "").split())
    if not flow.get("subject"):
        ctx.state.pop(STATE_AWAITING, None)
        return None, [
            Reply(text=ctx.t("account.code_wrong", left=0), buttons=((home_button(ctx),),))
        ]
    if not CODE.match(code):
        return None, ask(ctx, step, ctx.t("account.code_format"))
    result = await ctx.services.otp.check(
        ctx.session,
        phone=flow["subject"],
        purpose=flow["purpose"],
        code=code,
        requester=requester(ctx),
    )
    if result.outcome == Checked.LOCKED:
        return None, failed_lock(ctx, "account.locked", result.locked_until)
    if result.outcome == Checked.WRONG:
        resend = Button(ctx.t("account.resend"), payload="otp:resend")
        return None, ask(ctx, step, ctx.t("account.code_wrong", left=result.attempts_left), resend)
    ctx.state.pop(STATE_LOGIN, None)
    return result.target, None


def register(router: Router) -> None:
    def consent_prompt(ctx: Context) -> list[Reply]:
        ctx.state.pop(STATE_AWAITING, None)
        yes = Button(ctx.t("account.consent_yes"), payload="consent:yes")
        no = Button(ctx.t("account.consent_no"), payload="consent:no")
        return [Reply(text=ctx.t("account.consent"), buttons=((yes, no), (home_button(ctx),)))]

    def consented(ctx: Context) -> bool:
        return ctx.user.consent_version == accounts.CONSENT_VERSION

    @router.command("/login", "dang nhap", "kich hoat", "login")
    @router.button("login")
    async def login(ctx: Context) -> list[Reply]:
        ctx.state.pop(STATE_AWAITING, None)
        if ctx.user.is_activated:
            return await router.button_handler("account")(ctx)
        if not consented(ctx):
            return consent_prompt(ctx)
        return choose_method(ctx)

    def choose_method(ctx: Context) -> list[Reply]:
        phone = Button(ctx.t("account.method_phone"), payload="login_phone")
        portal = Button(ctx.t("account.method_portal"), payload="login_portal")
        requests: tuple[RequestButton, ...] = ()
        if ctx.incoming.channel == "telegram" and not ctx.user.otp_required:
            requests = (RequestButton(KeyboardRequest.CONTACT, ctx.t("account.share_contact")),)
        rows: tuple[tuple[Button, ...], ...] = ((phone,), (portal,), (home_button(ctx),))
        if ctx.user.otp_required:  # after 5 wrong PINs: a code to the phone, nothing else
            rows = ((phone,), (home_button(ctx),))
        return [Reply(text=ctx.t("account.choose_method"), buttons=rows, requests=requests)]

    @router.button("consent")
    async def consent(ctx: Context) -> list[Reply]:
        if ctx.arg != "yes":
            ctx.state.pop(STATE_RESUME, None)
            return [Reply(text=ctx.t("account.consent_declined"), buttons=((home_button(ctx),),))]
        ctx.user.consent_version = accounts.CONSENT_VERSION
        ctx.user.consent_at = ctx.now()
        audit.record(
            ctx.session,
            "consent_accepted",
            chat_user_id=ctx.user.id,
            version=accounts.CONSENT_VERSION,
        )
        return choose_method(ctx)

    # --- phone + OTP ----------------------------------------------------------------------

    @router.button("login_phone")
    async def login_phone(ctx: Context) -> list[Reply]:
        if ctx.user.is_activated or not consented(ctx):
            return await login(ctx)
        replies = ask(ctx, STEP_PHONE, ctx.t("account.ask_phone"))
        if ctx.incoming.channel == "telegram" and not ctx.user.otp_required:
            share = RequestButton(KeyboardRequest.CONTACT, ctx.t("account.share_contact"))
            replies = [Reply(replies[0].text, replies[0].buttons, requests=(share,))]
        return replies

    @router.step(STEP_PHONE)
    async def typed_phone(ctx: Context) -> list[Reply]:
        if ctx.incoming.contact is not None:
            return await shared_contact(ctx)
        try:
            phone = parse_phone(ctx.incoming.text or "")
        except FieldError:
            return ask(ctx, STEP_PHONE, ctx.t("account.bad_phone"))
        ctx.state[STATE_LOGIN] = {"subject": phone, "purpose": "activate"}
        ctx.state.pop(STATE_AWAITING, None)
        choices = [Button(ctx.t("account.via_sms"), payload="otp:sms")]
        if email_available(ctx.settings):
            choices.append(Button(ctx.t("account.via_email"), payload="otp:email"))
        return [
            Reply(
                text=ctx.t("account.choose_delivery"),
                buttons=(tuple(choices), (back_button(ctx), home_button(ctx))),
            )
        ]

    @router.button("otp")
    async def otp_button(ctx: Context) -> list[Reply]:
        flow = dict(ctx.state.get(STATE_LOGIN) or {})
        if ctx.arg == "resend" and flow.get("step"):
            return await send_code(ctx, flow)  # the same flow, purpose and address again
        if (
            ctx.arg not in ("sms", "email")
            or flow.get("purpose") != "activate"
            or not flow.get("subject")
            or not consented(ctx)
        ):
            return await login(ctx)
        if ctx.arg == "email" and not email_available(ctx.settings):
            return await login(ctx)
        phone = str(flow["subject"])
        customers = await ctx.services.backend.customers_by_phone(phone)
        address: str | None = None
        if customers and ctx.arg == "sms":
            address = phone
        elif customers:
            address = next((c.email for c in customers if c.email), None)
        return await send_code(
            ctx,
            {
                "subject": phone,
                "purpose": "activate",
                "delivery": ctx.arg,
                "address": address,
                "step": STEP_OTP,
                "sent_key": f"account.code_sent_{ctx.arg}",
                "params": {"phone": mask_phone(phone)},
            },
        )

    @router.step(STEP_OTP, secret=True)
    async def typed_code(ctx: Context) -> list[Reply]:
        phone = str((ctx.state.get(STATE_LOGIN) or {}).get("subject", ""))
        _, refused = await check_code(ctx, STEP_OTP)
        if refused is not None:
            return refused
        customers = await ctx.services.backend.customers_by_phone(phone)
        return await activated(ctx, f"phone:{phone}", customers, phone=phone, method="otp")

    # --- Telegram: the customer's own contact, verified by the platform --------------------

    @router.on_contact
    async def shared_contact(ctx: Context) -> list[Reply]:
        contact = ctx.incoming.contact
        assert contact is not None
        if ctx.user.is_activated:
            return await router.button_handler("account")(ctx)
        if not consented(ctx) or ctx.user.otp_required:
            return await login(ctx)
        if not contact.verified:
            return ask(ctx, STEP_PHONE, ctx.t("account.contact_not_own"))
        try:
            phone = parse_phone(contact.phone)
        except FieldError:
            return ask(ctx, STEP_PHONE, ctx.t("account.bad_phone"))
        customers = await ctx.services.backend.customers_by_phone(phone)
        if not customers:
            ctx.state.pop(STATE_AWAITING, None)
            text = ctx.t(
                "account.not_on_contract", phone=mask_phone(phone), hotline=ctx.settings.hotline
            )
            portal = Button(ctx.t("account.method_portal"), payload="login_portal")
            return [Reply(text=text, buttons=((portal,), (home_button(ctx),)))]
        return await activated(ctx, f"phone:{phone}", customers, phone=phone, method="contact")

    # --- username / password -----------------------------------------------------------------

    @router.button("login_portal")
    async def login_portal(ctx: Context) -> list[Reply]:
        if ctx.user.is_activated or not consented(ctx) or ctx.user.otp_required:
            return await login(ctx)
        return ask(ctx, STEP_USERNAME, ctx.t("account.ask_username"))

    @router.step(STEP_USERNAME)
    async def typed_username(ctx: Context) -> list[Reply]:
        username = (ctx.incoming.text or "").strip().lower()[:60]
        if not username:
            return ask(ctx, STEP_USERNAME, ctx.t("account.ask_username"))
        forgot = Button(ctx.t("account.forgot"), payload="forgot")
        return ask(ctx, STEP_PASSWORD, ctx.t("account.ask_password"), forgot, username=username)

    @router.step(STEP_PASSWORD, secret=True)
    async def typed_password(ctx: Context) -> list[Reply]:
        if not consented(ctx) or ctx.user.otp_required:
            return await login(ctx)
        username = str(ctx.state.get(STATE_AWAITING, {}).get("username", ""))
        attempt = await accounts.check_password(
            ctx.session, username, ctx.incoming.text or "", requester(ctx), ctx.now()
        )
        if attempt.account is not None:
            customers = [
                c
                for c in [
                    await ctx.services.backend.customer(link.customer_code)
                    for link in attempt.account.codes
                ]
                if c is not None
            ]
            return await activated(
                ctx, f"portal:{username}", customers, phone=None, method="password"
            )
        if attempt.locked is not None:
            keys = {"account": "account.login_locked", "requester": "account.login_locked_here"}
            key = keys.get(attempt.locked, "account.login_slowed")
            return failed_lock(ctx, key, attempt.locked_until)
        forgot = Button(ctx.t("account.forgot"), payload="forgot")
        return ask(
            ctx, STEP_USERNAME, ctx.t("account.login_wrong", left=attempt.attempts_left), forgot
        )

    # --- forgot password: an OTP to the account's phone, then a new password -----------------

    @router.button("forgot")
    async def forgot(ctx: Context) -> list[Reply]:
        if not consented(ctx):
            return await login(ctx)
        return ask(ctx, STEP_RESET_USERNAME, ctx.t("account.reset_ask_username"))

    @router.step(STEP_RESET_USERNAME)
    async def reset_username(ctx: Context) -> list[Reply]:
        username = (ctx.incoming.text or "").strip().lower()[:60]
        account = await accounts.portal_account(ctx.session, username)
        # Limits are kept per typed username, so they tell nothing about the account's
        # phone; an unknown username gets the same answer and nothing is sent.
        return await send_code(
            ctx,
            {
                "subject": f"portal:{username}",
                "purpose": "reset_password",
                "delivery": "sms",
                "address": account.phone if account and account.phone else None,
                "target": username,
                "step": STEP_RESET_OTP,
                "sent_key": "account.reset_sent",
            },
        )

    @router.step(STEP_RESET_OTP, secret=True)
    async def reset_code(ctx: Context) -> list[Reply]:
        target, refused = await check_code(ctx, STEP_RESET_OTP)
        if refused is not None:
            return refused
        return ask(
            ctx,
            STEP_NEW_PASSWORD,
            ctx.t("account.ask_new_password"),
            username=str(target),
            verified_at=ctx.now().isoformat(),
        )

    @router.step(STEP_NEW_PASSWORD, secret=True)
    async def new_password(ctx: Context) -> list[Reply]:
        awaiting = ctx.state.get(STATE_AWAITING, {})
        username = str(awaiting.get("username", ""))
        verified_at = datetime.fromisoformat(str(awaiting.get("verified_at")))
        if ctx.now() - verified_at > RESET_WINDOW:  # the code proved it then, not now
            return await forgot(ctx)
        password = ctx.incoming.text or ""
        if len(password) < 8 or not re.search(r"\d", password) or not re.search(r"\D", password):
            return ask(
                ctx,
                STEP_NEW_PASSWORD,
                ctx.t("account.weak_password"),
                username=username,
                verified_at=awaiting.get("verified_at"),
            )
        account = await accounts.portal_account(ctx.session, username)
        if account is None:
            return await login(ctx)
        await accounts.set_portal_password(ctx.session, account, password, ctx.now())
        await guard.clear(ctx.session, f"portal:{username}")
        # Whoever knew the old password is out now.
        await accounts.logout_identity(ctx.session, f"portal:{username}", by=ctx.user.id)
        customers = [
            c
            for c in [
                await ctx.services.backend.customer(link.customer_code) for link in account.codes
            ]
            if c is not None
        ]
        done = [Reply(text=ctx.t("account.password_reset"))]
        return done + await activated(
            ctx, f"portal:{username}", customers, phone=None, method="password_reset"
        )

    # --- the end of every flow -------------------------------------------------------------------

    async def activated(
        ctx: Context,
        identity: str,
        customers: list[CustomerRecord],
        *,
        phone: str | None,
        method: str,
    ) -> list[Reply]:
        if not consented(ctx):  # defence in depth: no way in skips the notice
            return consent_prompt(ctx)
        if ctx.user.otp_required and method != "otp":
            return await login(ctx)
        ctx.state.pop(STATE_AWAITING, None)
        ctx.state.pop(STATE_LOGIN, None)
        await accounts.activate(
            ctx.session,
            ctx.user,
            identity=identity,
            codes=[c.code for c in customers],
            now=ctx.now(),
            phone=phone,
            method=method,
        )
        audit.record(
            ctx.session,
            "login_success",
            chat_user_id=ctx.user.id,
            subject=identity if identity.startswith("portal:") else None,
            method=method,
        )
        if not customers:
            return await resume(
                ctx,
                [Reply(text=ctx.t("account.activated_none"), buttons=((home_button(ctx),),))],
            )
        text = f"{ctx.t('account.activated')}\n{codes_text(ctx, customers)}"
        if len(customers) > 1:
            defaults = tuple(
                (Button(ctx.t("account.make_default", code=c.code), payload=f"default:{c.code}"),)
                for c in customers
            )
            replies = [
                Reply(text=text),
                Reply(text=ctx.t("account.pick_default"), buttons=(*defaults, (home_button(ctx),))),
            ]
        else:
            lookups = Button(ctx.t("menu.lookups"), payload="lookups")
            replies = [Reply(text=text, buttons=((lookups, home_button(ctx)),))]
        return await resume(ctx, replies)
