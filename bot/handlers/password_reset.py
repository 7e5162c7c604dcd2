"""Đăng nhập → "Quên mật khẩu": a one-time code to the phone of the portal account, then
a new password; the chat is activated with the account's codes and every other chat
logged in with the old password is logged out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.auth import accounts, guard
from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.core.state import LoginFlow
from bot.handlers.account import activated, consented, login
from bot.handlers.common import ask
from bot.handlers.otp_flow import check_code, send_code

STEP_RESET_USERNAME = "reset.username"
STEP_RESET_OTP = "reset.otp"
STEP_NEW_PASSWORD = "reset.password"
RESET_WINDOW = timedelta(minutes=10)  # time to choose a new password after the code

router = Router()


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
        LoginFlow(
            subject=f"portal:{username}",
            purpose="reset_password",
            delivery="sms",
            address=account.phone if account and account.phone else None,
            target=username,
            step=STEP_RESET_OTP,
            sent_key="account.reset_sent",
        ),
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
    asked = ctx.state.asked
    username = asked.username or ""
    if asked.verified_at is None:  # not reached through a right code
        return await forgot(ctx)
    verified_at = datetime.fromisoformat(asked.verified_at)
    if ctx.now() - verified_at > RESET_WINDOW:  # the code proved it then, not now
        return await forgot(ctx)
    password = ctx.incoming.text or ""
    if len(password) < 8 or not re.search(r"\d", password) or not re.search(r"\D", password):
        return ask(
            ctx,
            STEP_NEW_PASSWORD,
            ctx.t("account.weak_password"),
            username=username,
            verified_at=asked.verified_at,
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
        for c in [await ctx.services.backend.customer(link.customer_code) for link in account.codes]
        if c is not None
    ]
    done = [Reply(text=ctx.t("account.password_reset"))]
    return done + await activated(
        ctx, f"portal:{username}", customers, phone=None, method="password_reset"
    )
