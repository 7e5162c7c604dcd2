"""Tra cứu: the bill estimate now; the six lookups are interim until the lookups issue."""

from __future__ import annotations

import calendar
import re

from bot.core.context import Context
from bot.core.fmt import local, money, number
from bot.core.messages import Button, Reply
from bot.core.router import STATE_AWAITING, Router
from bot.handlers.common import home_button, interim

STEP_KWH = "estimate.kwh"
MAX_KWH = 1_000_000
_KWH = re.compile(r"^\s*(\d[\d.,\s]*)\s*(kwh|kw|số|so|ký|ki|kí)?\s*$", re.IGNORECASE)


def parse_kwh(text: str) -> int | None:
    """'250', '1.250', '250 kWh', '250 số' -> the number; None when it is not one."""
    match = _KWH.match(text)
    if not match:
        return None
    digits = re.sub(r"[.,\s]", "", match.group(1))
    value = int(digits) if digits.isdigit() else None
    return value if value is not None and value <= MAX_KWH else None


def estimate_answer(ctx: Context, kwh: int) -> list[Reply]:
    """A household bill for `kwh` this calendar month, tier by tier, as EVN bills it."""
    today = local(ctx.now()).date()
    start = today.replace(day=1)
    end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    bill = ctx.services.tariffs.compute(kwh, start, end)
    lines = [
        ctx.t(
            "estimate.line",
            tier=line.tier,
            kwh=number(line.kwh, ctx.lang) + " kWh",
            price=money(line.unit_price, ctx.lang),
            amount=money(line.amount, ctx.lang),
        )
        for line in bill.lines
    ]
    rate = "/".join(str(v.rate) for v in bill.vat_lines) or str(
        ctx.services.tariffs.vat_rate_on(end)
    )
    text = "\n".join(
        [
            ctx.t("estimate.title", kwh=number(kwh, ctx.lang) + " kWh", month=f"{end:%m/%Y}"),
            *lines,
            ctx.t(
                "estimate.totals",
                before_vat=money(bill.before_vat, ctx.lang),
                rate=rate,
                vat=money(bill.vat, ctx.lang),
                total=money(bill.total, ctx.lang),
            ),
        ]
    )
    again = Button(ctx.t("estimate.again"), payload="estimate")
    return [Reply(text=text, buttons=((again, home_button(ctx)),))]


def register(router: Router) -> None:
    @router.command("/lookup", "tra cuu")
    @router.button("lookups")
    async def lookups(ctx: Context) -> list[Reply]:
        return interim(ctx, "lookups")

    @router.command("/estimate", "tinh tien dien")
    @router.button("estimate")
    async def estimate(ctx: Context) -> list[Reply]:
        ctx.state[STATE_AWAITING] = {"step": STEP_KWH}
        return [Reply(text=ctx.t("estimate.ask_kwh"), buttons=((home_button(ctx),),))]

    @router.step(STEP_KWH)
    async def typed_kwh(ctx: Context) -> list[Reply]:
        kwh = parse_kwh(ctx.incoming.text or "")
        if kwh is None:
            return [Reply(text=ctx.t("estimate.bad_kwh"), buttons=((home_button(ctx),),))]
        ctx.state.pop(STATE_AWAITING, None)
        return estimate_answer(ctx, kwh)
