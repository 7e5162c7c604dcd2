"""Tra cứu → "Tính tiền điện": a household bill for a number of kWh, tier by tier, this
month or between two dates, for one household or several."""

from __future__ import annotations

import calendar
import re
from datetime import date

from bot.core.context import Context
from bot.core.fmt import day, kwh, money, today
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.handlers.diversion import other_flow
from bot.handlers.lookups import way_back
from nlu.entities import extract_entities

STEP_KWH = "estimate.kwh"
MAX_KWH = 1_000_000
_KWH = re.compile(r"^\s*(\d[\d.,\s]*)\s*(kwh|kw|số|so|ký|ki|kí)?\s*$", re.IGNORECASE)
_HOUSEHOLDS = re.compile(r"(\d{1,2})\s*(?:hộ|ho)\b", re.IGNORECASE)

router = Router()


def parse_kwh(text: str) -> int | None:
    """'250', '1.250', '250 kWh', '250 số' -> the number; None when it is not one."""
    match = _KWH.match(text)
    if not match:
        return None
    digits = re.sub(r"[.,\s]", "", match.group(1))
    value = int(digits) if digits.isdigit() else None
    return value if value is not None and value <= MAX_KWH else None


def estimate_answer(
    ctx: Context,
    kwh_used: int,
    *,
    start: date | None = None,
    end: date | None = None,
    households: int = 1,
) -> list[Reply]:
    """A household bill for `kwh_used` (this calendar month unless dates are given), tier
    by tier, as EVN bills it (split across a price change, tiers times households)."""
    now = today(ctx)
    start = start or now.replace(day=1)
    end = end or now.replace(day=calendar.monthrange(now.year, now.month)[1])
    bill = ctx.services.tariffs.compute(kwh_used, start, end, households=households)
    split = len({line.tariff_from for line in bill.lines}) > 1
    lines = []
    for line in bill.lines:
        text = ctx.t(
            "estimate.line",
            tier=line.tier,
            kwh=kwh(line.kwh, ctx.lang),
            price=money(line.unit_price, ctx.lang),
            amount=money(line.amount, ctx.lang),
        )
        lines.append(f"{text} ({day(line.tariff_from)})" if split else text)
    rate = "/".join(str(v.rate) for v in bill.vat_lines) or str(
        ctx.services.tariffs.vat_rate_on(end)
    )
    if start == now.replace(day=1) and households == 1:
        title = ctx.t("estimate.title", kwh=kwh(kwh_used, ctx.lang), month=f"{end:%m/%Y}")
    else:
        title = ctx.t(
            "estimate.title_period",
            kwh=kwh(kwh_used, ctx.lang),
            households=households,
            start=day(start),
            end=day(end),
        )
    text = "\n".join(
        [
            title,
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
    return [Reply(text=text, buttons=((again,), way_back(ctx)))]


def estimate_from_text(ctx: Context, text: str) -> list[Reply] | None:
    """'250', '250 số 2 hộ', '300 kwh từ 26/4/2025 đến 25/5/2025' -> the estimate."""
    entities = extract_entities(text, today=today(ctx))
    kwh_used = next((e.value for e in entities if e.entity == "kwh"), None)
    if kwh_used is None:
        kwh_used = parse_kwh(text)
    if not isinstance(kwh_used, int) or not 0 <= kwh_used <= MAX_KWH:
        return None
    dates = sorted(date.fromisoformat(e.value) for e in entities if e.entity == "date")
    households_match = _HOUSEHOLDS.search(text)
    households = int(households_match.group(1)) if households_match else 1
    if households < 1:
        return None
    if len(dates) >= 2:
        return estimate_answer(ctx, kwh_used, start=dates[0], end=dates[-1], households=households)
    return estimate_answer(ctx, kwh_used, households=households)


@router.command("/estimate", "tinh tien dien")
@router.button("estimate")
async def estimate(ctx: Context) -> list[Reply]:
    if ctx.parse is not None:
        answer = estimate_from_text(ctx, ctx.parse.text)
        if answer is not None:
            return answer
    ctx.state.ask(STEP_KWH)
    return [Reply(text=ctx.t("estimate.ask_kwh"), buttons=(way_back(ctx),))]


@router.step(STEP_KWH)
async def typed_kwh(ctx: Context) -> list[Reply]:
    text = ctx.incoming.text or ""
    answer = estimate_from_text(ctx, text)
    if answer is None:
        found = extract_entities(text, today=today(ctx))
        if (other := await other_flow(ctx, text, own="estimate", details=found)) is not None:
            return other
        return [Reply(text=ctx.t("estimate.bad_kwh"), buttons=(way_back(ctx),))]
    ctx.state.answered()
    return answer
