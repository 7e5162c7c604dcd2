"""Đăng nhập: activation by phone + OTP (SMS or e-mail), by portal username/password,
or by sharing one's own contact where the channel vouches for it (Telegram). "Forgot
password" is in password_reset.py.

Every way in starts with the personal-data notice when it has not been accepted (a
hand-made button payload included), and ends by linking the customer codes proven for
the phone or account, then resuming what the customer asked for before logging in.
After 5 wrong PINs only a one-time code re-activates the chat.
"""

from __future__ import annotations

import logging

from bot.auth import accounts, audit
from bot.auth.otp import Undelivered
from bot.core import phones
from bot.core.context import Context, Services
from bot.core.messages import Button, KeyboardRequest, Reply, RequestButton
from bot.core.outbound import PushError
from bot.core.router import Router
from bot.core.state import LoginFlow
from bot.handlers import my_account
from bot.handlers.common import ask, back_button, home_button
from bot.handlers.gates import gate, resume
from bot.handlers.otp_flow import (
    check_code,
    email_available,
    failed_lock,
    requester,
    send_code,
    zalo_available,
)
from bot.store.backend import CustomerRecord
from bot.store.models import ChatUser

log = logging.getLogger(__name__)

STEP_PHONE = "login.phone"
STEP_OTP = "login.otp"
STEP_USERNAME = "login.username"
STEP_PASSWORD = "login.password"

router = Router()


def codes_text(ctx: Context, customers: list[CustomerRecord]) -> str:
    lines = [
        ctx.t("account.code_line", code=c.code, name=c.name, address=c.full_address)
        for c in customers
    ]
    return "\n".join(lines)


async def code_not_delivered(services: Services, failed: Undelivered) -> None:
    """The gateway refused a code the customer was told is on its way: tell them, with
    the other way to receive it where activation offers one."""
    async with services.db.reading() as session:
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
    failed_key = {"sms": "account.sms_failed", "zalo": "account.zalo_failed"}
    text = services.texts.get(failed_key.get(failed.delivery, "account.email_failed"), lang)
    try:
        await services.pusher.push(failed.chat_user_id, [Reply(text=text, buttons=buttons)])
    except PushError as error:  # e.g. `cskh chat` has ended
        log.warning("could not tell chat user %s its code failed: %s", failed.chat_user_id, error)


def consent_prompt(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    yes = Button(ctx.t("account.consent_yes"), payload="consent:yes")
    no = Button(ctx.t("account.consent_no"), payload="consent:no")
    return [Reply(text=ctx.t("account.consent"), buttons=((yes, no), (home_button(ctx),)))]


def consented(ctx: Context) -> bool:
    return ctx.user.consent_version == accounts.CONSENT_VERSION


@router.command("/login", "dang nhap", "kich hoat", "login")
@router.button("login")
async def login(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    if ctx.user.is_activated:
        return await my_account.account(ctx)
    if not consented(ctx):
        return consent_prompt(ctx)
    return choose_method(ctx)


def choose_method(ctx: Context) -> list[Reply]:
    phone = Button(ctx.t("account.method_phone"), payload="login_phone")
    portal = Button(ctx.t("account.method_portal"), payload="login_portal")
    requests: tuple[RequestButton, ...] = ()
    if ctx.incoming.channel_caps.verified_contact and not ctx.user.otp_required:
        requests = (RequestButton(KeyboardRequest.CONTACT, ctx.t("account.share_contact")),)
    rows: tuple[tuple[Button, ...], ...] = ((phone,), (portal,), (home_button(ctx),))
    if ctx.user.otp_required:  # after 5 wrong PINs: a code to the phone, nothing else
        rows = ((phone,), (home_button(ctx),))
    return [Reply(text=ctx.t("account.choose_method"), buttons=rows, requests=requests)]


@router.button("consent")
async def consent(ctx: Context) -> list[Reply]:
    if ctx.arg != "yes":
        ctx.state.take_resume()
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
    if ctx.incoming.channel_caps.verified_contact and not ctx.user.otp_required:
        share = RequestButton(KeyboardRequest.CONTACT, ctx.t("account.share_contact"))
        replies = [Reply(replies[0].text, replies[0].buttons, requests=(share,))]
    return replies


@router.step(STEP_PHONE)
async def typed_phone(ctx: Context) -> list[Reply]:
    if ctx.incoming.contact is not None:
        return await shared_contact(ctx)
    try:
        phone = phones.parse_mobile(ctx.incoming.text or "")
    except phones.NotAPhone:
        return ask(ctx, STEP_PHONE, ctx.t("account.bad_phone"))
    ctx.state.login = LoginFlow(subject=phone, purpose="activate")
    ctx.state.answered()
    choices = [Button(ctx.t("account.via_sms"), payload="otp:sms")]
    if zalo_available(ctx):
        choices.append(Button(ctx.t("account.via_zalo"), payload="otp:zalo"))
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
    flow = ctx.state.login
    if ctx.arg == "resend" and flow is not None and flow.step:
        return await send_code(ctx, flow)  # the same flow, purpose and address again
    if (
        ctx.arg not in ("sms", "email", "zalo")
        or flow is None
        or flow.purpose != "activate"
        or not flow.subject
        or not consented(ctx)
    ):
        return await login(ctx)
    if ctx.arg == "email" and not email_available(ctx.settings):
        return await login(ctx)
    if ctx.arg == "zalo" and not zalo_available(ctx):
        return await login(ctx)
    phone = flow.subject
    customers = await ctx.services.backend.customers_by_phone(phone)
    address: str | None = None
    if customers and ctx.arg in ("sms", "zalo"):
        address = phone
    elif customers:
        address = next((c.email for c in customers if c.email), None)
    return await send_code(
        ctx,
        LoginFlow(
            subject=phone,
            purpose="activate",
            delivery=ctx.arg,
            address=address,
            step=STEP_OTP,
            sent_key=f"account.code_sent_{ctx.arg}",
            params={"phone": phones.masked(phone)},
        ),
    )


@router.step(STEP_OTP, secret=True)
async def typed_code(ctx: Context) -> list[Reply]:
    phone = ctx.state.login.subject if ctx.state.login else ""
    _, refused = await check_code(ctx, STEP_OTP)
    if refused is not None:
        return refused
    customers = await ctx.services.backend.customers_by_phone(phone)
    return await activated(ctx, f"phone:{phone}", customers, phone=phone, method="otp")


# --- the customer's own contact, vouched for by the channel (verified_contact) ----------


@router.on_contact
async def shared_contact(ctx: Context) -> list[Reply]:
    contact = ctx.incoming.contact
    assert contact is not None
    if ctx.user.is_activated:
        return await my_account.account(ctx)
    if not consented(ctx) or ctx.user.otp_required:
        return await login(ctx)
    try:
        phone = accounts.own_mobile(ctx.incoming)
    except phones.NotAPhone:
        return ask(ctx, STEP_PHONE, ctx.t("account.bad_phone"))
    if phone is None:
        return ask(ctx, STEP_PHONE, ctx.t("account.contact_not_own"))
    customers = await ctx.services.backend.customers_by_phone(phone)
    if not customers:
        ctx.state.answered()
        text = ctx.t(
            "account.not_on_contract", phone=phones.masked(phone), hotline=ctx.settings.hotline
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
    username = str(ctx.state.asked.username or "")
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
        return await activated(ctx, f"portal:{username}", customers, phone=None, method="password")
    if attempt.locked is not None:
        keys = {"account": "account.login_locked", "requester": "account.login_locked_here"}
        key = keys.get(attempt.locked, "account.login_slowed")
        return failed_lock(ctx, key, attempt.locked_until)
    forgot = Button(ctx.t("account.forgot"), payload="forgot")
    return ask(ctx, STEP_USERNAME, ctx.t("account.login_wrong", left=attempt.attempts_left), forgot)


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
    ctx.state.answered()
    ctx.state.login = None
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
    if ctx.user.default_customer_code is None:
        # Several codes: which one lookups use is asked once, alone on the screen; what
        # the customer asked for before logging in opens once it is answered (issue 15).
        defaults = tuple(
            (
                Button(
                    ctx.t("account.default_choice", code=c.code, name=c.name),
                    payload=f"first_default:{c.code}",
                ),
            )
            for c in customers
        )
        text = f"{text}\n{ctx.t('account.pick_default')}"
        return [Reply(text=text, buttons=(*defaults, (home_button(ctx),)))]
    if ctx.state.resume:  # what was asked for comes next, with its own buttons
        return await resume(ctx, [Reply(text=text)])
    return [Reply(text=text, buttons=(ways_on(ctx),))]


def ways_on(ctx: Context) -> tuple[Button, Button]:
    """Where a new customer goes next: the lookups, or home."""
    return (Button(ctx.t("menu.lookups"), payload="lookups"), home_button(ctx))


@router.button("first_default")
async def first_default(ctx: Context) -> list[Reply]:
    """The default code chosen right after activation; then what the customer asked
    for before logging in, if anything."""
    code = (ctx.arg or "").upper()
    if (stop := gate(ctx, f"first_default:{code}", pin=False)) is not None:
        return stop
    if not accounts.is_linked(ctx.user, code):
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    accounts.set_default(ctx.session, ctx.user, code)
    text = ctx.t("account.default_chosen", code=code)
    if ctx.state.resume:
        return await resume(ctx, [Reply(text=text)])
    return [Reply(text=text, buttons=(ways_on(ctx),))]
