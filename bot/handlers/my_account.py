"""Cài đặt → Tài khoản: the linked customer codes (the default one, removing one, adding
one with a code sent to its phone), logging out here or everywhere, and deleting my data."""

from __future__ import annotations

import re

from bot.auth import accounts
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.core.state import LoginFlow
from bot.handlers.common import ask, back_button, home_button, main_menu
from bot.handlers.gates import gate
from bot.handlers.otp_flow import check_code, send_code
from bot.store.backend import CustomerRecord

CUSTOMER_CODE = re.compile(r"^[A-Z]{2}[0-9A-Z]{4}\d{7}$")
STEP_ADD_CODE = "account.add_code"
STEP_ADD_CODE_OTP = "account.add_code_otp"

router = Router()


async def linked_customers(ctx: Context) -> list[CustomerRecord]:
    found = [await ctx.services.backend.customer(code) for code in ctx.user.customer_codes]
    return [customer for customer in found if customer is not None]


# --- the account: linked codes ------------------------------------------------------------


@router.command("/account", "tai khoan")
@router.button("account")
async def account(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "account", pin=False)) is not None:
        return stop
    ctx.state.screen = "account"
    customers = await linked_customers(ctx)
    lines = [
        ("⭐ " if c.code == ctx.user.default_customer_code else "• ")
        + ctx.t("account.code_line", code=c.code, name=c.name, address=c.full_address)
        for c in customers
    ]
    rows: list[tuple[Button, ...]] = []
    for c in customers:
        row = [Button(ctx.t("account.remove", code=c.code), payload=f"unlink:{c.code}")]
        if c.code != ctx.user.default_customer_code:
            row.insert(
                0,
                Button(ctx.t("account.make_default", code=c.code), payload=f"default:{c.code}"),
            )
        rows.append(tuple(row))
    rows += [
        (Button(ctx.t("account.add_code"), payload="add_code"),),
        (
            Button(ctx.t("account.logout"), payload="logout"),
            Button(ctx.t("account.logout_all"), payload="logout_all"),
        ),
        (Button(ctx.t("account.forget"), payload="forget"),),
        (back_button(ctx), home_button(ctx)),
    ]
    return [Reply(text="\n".join([ctx.t("account.summary"), *lines]), buttons=tuple(rows))]


def refuse(ctx: Context) -> list[Reply]:
    return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]


@router.button("default")
async def make_default(ctx: Context) -> list[Reply]:
    code = (ctx.arg or "").upper()
    if (stop := gate(ctx, f"default:{code}")) is not None:
        return stop
    if not accounts.is_linked(ctx.user, code):
        return refuse(ctx)
    accounts.set_default(ctx.session, ctx.user, code)
    return [Reply(text=ctx.t("account.default_set", code=code))] + await account(ctx)


@router.button("unlink")
async def unlink(ctx: Context) -> list[Reply]:
    code = (ctx.arg or "").upper()
    if (stop := gate(ctx, f"unlink:{code}")) is not None:
        return stop
    if not accounts.is_linked(ctx.user, code):
        return refuse(ctx)
    yes = Button(ctx.t("account.confirm_yes"), payload=f"unlink_ok:{code}")
    no = Button(ctx.t("account.confirm_no"), payload="account")
    return [Reply(text=ctx.t("account.confirm_remove", code=code), buttons=((yes, no),))]


@router.button("unlink_ok")
async def unlink_confirmed(ctx: Context) -> list[Reply]:
    code = (ctx.arg or "").upper()
    if (stop := gate(ctx, f"unlink:{code}")) is not None:
        return stop
    if not accounts.is_linked(ctx.user, code):
        return refuse(ctx)
    accounts.unlink_code(ctx.session, ctx.user, code)
    return [Reply(text=ctx.t("account.removed", code=code))] + await account(ctx)


@router.button("add_code")
async def add_code(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "add_code")) is not None:
        return stop
    return ask(ctx, STEP_ADD_CODE, ctx.t("account.ask_code"))


@router.step(STEP_ADD_CODE)
async def typed_code(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "add_code")) is not None:
        return stop
    code = "".join((ctx.incoming.text or "").split()).upper()
    if not CUSTOMER_CODE.match(code):
        return ask(ctx, STEP_ADD_CODE, ctx.t("account.bad_code"))
    if accounts.is_linked(ctx.user, code):
        ctx.state.answered()
        return [Reply(text=ctx.t("account.already_linked", code=code))] + await account(ctx)
    customer = await ctx.services.backend.customer(code)
    phone = customer.phones[0] if customer and customer.phones else None
    # One answer whether the code exists or has a phone: codes are printed on bills,
    # but which ones exist and whose phone they carry is nobody else's business. The
    # request is counted under the customer code, never its phone: limits met by two
    # codes sharing a phone would tell that they share it (issue 12).
    return await send_code(
        ctx,
        LoginFlow(
            subject=f"code:{code}",
            purpose="add_code",
            delivery="sms",
            address=phone,
            target=code,
            step=STEP_ADD_CODE_OTP,
            sent_key="account.add_code_sent",
            params={"code": code},
        ),
    )


@router.step(STEP_ADD_CODE_OTP, secret=True)
async def add_code_otp(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "add_code")) is not None:
        return stop
    target, refused = await check_code(ctx, STEP_ADD_CODE_OTP)
    if refused is not None:
        return refused
    ctx.state.answered()
    customer_code = str(target)
    customer = await ctx.services.backend.customer(customer_code)
    accounts.link_code(ctx.session, ctx.user, customer_code)
    name = customer.name if customer else customer_code
    return [Reply(text=ctx.t("account.code_added", code=customer_code, name=name))] + (
        await account(ctx)
    )


# --- log out, delete my data -------------------------------------------------------------


def confirm(ctx: Context, text_key: str, payload: str) -> list[Reply]:
    yes = Button(ctx.t("account.confirm_yes"), payload=payload)
    no = Button(ctx.t("account.confirm_no"), payload="account")
    return [Reply(text=ctx.t(text_key), buttons=((yes, no),))]


def forget_conversation(ctx: Context) -> None:
    """Nothing of the logged-in session carries over: questions, drafts, resumes."""
    greeted = ctx.state.greeted
    ctx.state.clear()
    if greeted:
        ctx.state.greeted = greeted


@router.command("/logout", "dang xuat")
@router.button("logout")
async def logout(ctx: Context) -> list[Reply]:
    if not ctx.user.is_activated:
        return [main_menu(ctx)]
    # Behind the PIN: logging out must not be a way to get rid of it.
    if (stop := gate(ctx, "logout")) is not None:
        return stop
    return confirm(ctx, "account.confirm_logout", "logout_ok")


@router.button("logout_ok")
async def logout_confirmed(ctx: Context) -> list[Reply]:
    if not ctx.user.is_activated:
        return [main_menu(ctx)]
    if (stop := gate(ctx, "logout")) is not None:
        return stop
    accounts.logout(ctx.session, ctx.user)
    forget_conversation(ctx)
    return [main_menu(ctx, ctx.t("account.logged_out"))]


@router.button("logout_all")
async def logout_all(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "logout_all")) is not None:
        return stop
    return confirm(ctx, "account.confirm_logout_all", "logout_all_ok")


@router.button("logout_all_ok")
async def logout_all_confirmed(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "logout_all")) is not None:
        return stop
    count = await accounts.logout_everywhere(ctx.session, ctx.user)
    forget_conversation(ctx)
    return [main_menu(ctx, ctx.t("account.logged_out_all", count=count))]


@router.command("/forget", "xoa du lieu", "xoa du lieu cua toi")
@router.button("forget")
async def forget(ctx: Context) -> list[Reply]:
    if ctx.user.is_activated and (stop := gate(ctx, "forget")) is not None:
        return stop
    return confirm(ctx, "account.confirm_forget", "forget_ok")


@router.button("forget_ok")
async def forget_confirmed(ctx: Context) -> list[Reply]:
    if ctx.user.is_activated and (stop := gate(ctx, "forget")) is not None:
        return stop
    deletion = await accounts.forget(ctx.session, ctx.user)
    ctx.state.clear()
    if deletion.kept_requests:
        text = ctx.t(
            "account.forgotten_kept",
            messages=deletion.messages,
            media=deletion.media,
            codes=", ".join(deletion.kept_requests),
        )
    else:
        text = ctx.t("account.forgotten", messages=deletion.messages, media=deletion.media)
    return [main_menu(ctx, text)]
