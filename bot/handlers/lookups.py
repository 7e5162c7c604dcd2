"""Tra cứu: the tab, and what every lookup shares: the customer code it is for (the
only one, else the default, else asked; "Mã khác" asks again), the way back to the tab,
and the parts of a button's argument.

The lookups themselves each have a module: estimate.py ("Tính tiền điện"),
schedule.py ("Lịch ghi chỉ số"), points.py ("Điểm thu tiền điện"), outages.py
("Lịch tạm ngừng cung cấp điện"), and bills.py (consumption, payment information,
e-invoices). Each asks for its inputs with buttons for the usual answers, so typing is
rarely needed.
"""

from __future__ import annotations

import dataclasses

from bot.auth import accounts
from bot.core.context import Context
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers.common import back_button, home_button
from bot.store.backend import CustomerRecord

# The screen of a lookup's answer or question: "⬅ Quay lại" (tapped or typed) from it
# leads to the Tra cứu tab (navigation.PARENT_SCREEN), not the main menu (issue 15).
ANSWER_SCREEN = "lookups.answer"
# The argument of "Mã khác": the code chooser even when a default is set.
OTHER_CODE = "other"

router = Router()


async def pick_code(ctx: Context, lookup: str) -> str | list[Reply]:
    """The customer code this lookup is for: the one in the payload (which must be
    linked: a forged one is refused), the one named in the sentence, the only linked
    one, the default, or a question ("Mã khác" asks even when there is a default)."""
    codes = ctx.user.customer_codes
    wanted = (ctx.arg or "").split(":")[0].upper()
    if wanted == OTHER_CODE.upper():
        return await choose_code(ctx, lookup)
    if wanted:
        if accounts.is_linked(ctx.user, wanted):
            return wanted
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    if ctx.parse is not None:  # "hóa đơn PC05CC0123456 tháng 9"
        typed = [str(e.value) for e in ctx.parse.entities if e.entity == "customer_code"]
        if typed and accounts.is_linked(ctx.user, typed[0]):
            return typed[0]
        if typed:  # somebody else's code, named in a sentence: refused like a forged button
            return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    if len(codes) == 1:
        return codes[0]
    if not codes:
        add = Button(ctx.t("account.add_code"), payload="add_code")
        return [Reply(text=ctx.t("account.activated_none"), buttons=((add,), (home_button(ctx),)))]
    if ctx.user.default_customer_code in codes:
        return str(ctx.user.default_customer_code)
    return await choose_code(ctx, lookup)


async def choose_code(ctx: Context, lookup: str) -> list[Reply]:
    """Which of the linked codes: one button each, the default first."""
    ctx.state.answered()  # a period or dates asked for the code before are no longer asked
    codes = ctx.user.customer_codes
    ordered = sorted(codes, key=lambda c: c != ctx.user.default_customer_code)
    buttons = []
    for code in ordered:
        customer = await ctx.services.backend.customer(code)
        name = customer.name if customer else ""
        buttons.append(
            Button(ctx.t("lookups.code_button", code=code, name=name), payload=f"{lookup}:{code}")
        )
    return [
        Reply(
            text=ctx.t("lookups.choose_code"),
            buttons=(*rows(*buttons, per_row=1), way_back(ctx)),
        )
    ]


def other_code(ctx: Context, lookup: str) -> list[Button]:
    """ "Mã khác" under an answer for one code, when the customer has several."""
    if len(ctx.user.customer_codes) < 2:
        return []
    return [Button(ctx.t("lookups.other_code"), payload=f"{lookup}:{OTHER_CODE}")]


def with_other_code(ctx: Context, replies: list[Reply], lookup: str) -> list[Reply]:
    """`replies` with "Mã khác" above the way-back row of the last one (several codes)."""
    other = other_code(ctx, lookup)
    if not other or not replies:
        return replies
    *before, last = replies
    buttons = (*last.buttons[:-1], tuple(other), *last.buttons[-1:])
    return [*before, dataclasses.replace(last, buttons=buttons)]


def way_back(ctx: Context) -> tuple[Button, Button]:
    """The last row of a lookup's answer or question: back to the Tra cứu tab, home."""
    ctx.state.screen = ANSWER_SCREEN
    return (back_button(ctx), home_button(ctx))


def arg_part(ctx: Context, index: int) -> str | None:
    parts = (ctx.arg or "").split(":")
    return parts[index] if len(parts) > index and parts[index] else None


async def customer_of(ctx: Context, code: str) -> CustomerRecord:
    customer = await ctx.services.backend.customer(code)
    if customer is None:  # linked but gone from the utility's records
        raise LookupError(f"linked customer {code} is unknown to the backend")
    return customer


@router.command("/lookup", "tra cuu")
@router.button("lookups")
async def lookups(ctx: Context) -> list[Reply]:
    ctx.state.screen = "lookups"
    ctx.state.answered()
    buttons = [
        Button(ctx.t(f"lookups.{key}"), payload=payload)
        for key, payload in (
            ("payment_info", "lk_pay"),
            ("invoice", "lk_inv"),
            ("consumption", "lk_use"),
            ("schedule", "lk_sched"),
            ("outages", "lk_outage"),
            ("points", "lk_points"),
            ("estimate", "estimate"),
        )
    ]
    return [Reply(text=ctx.t("lookups.menu"), buttons=(*rows(*buttons), (home_button(ctx),)))]
