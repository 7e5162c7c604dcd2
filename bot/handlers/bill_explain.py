"""Tra cứu › "❓ Vì sao tăng/giảm?": why a bill differs from the one before it, in one
message with a chart (issue 18). The figures come from bot/billing/explain.py; this
module only words them and offers what helps next: a meter check when the rise is not
explained, the payment of an unpaid bill, a person.

The period is chosen like the other bill lookups' (bills.with_period: the button's
period, the month the customer named, else the latest bill).
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction

from bot.auth import accounts
from bot.billing import explain as bill_explain
from bot.billing.explain import BILLS_NEEDED, Cause, Comparison, ExplainError, Explanation
from bot.core.context import Context
from bot.core.fmt import day, kwh, money
from bot.core.messages import Button, Media, Reply, rows
from bot.core.router import Router
from bot.handlers import services
from bot.handlers.common import home_button
from bot.handlers.lookups import customer_of, way_back
from bot.handlers.services import form_runner
from bot.store.backend import BillRecord

log = logging.getLogger(__name__)

METER_FORM = "svc_check_meter"
# A cause smaller than this share of the difference joins the "small items" of the text
# (the figures in JSON and the CLI keep every cause).
SMALL_SHARE = Fraction(1, 100)

router = Router()


def decimal(value: Fraction, lang: str) -> str:
    """0.1 kWh precision, rounded half up, the Vietnamese way: 2,1."""
    tenths = int(abs(value) * 10 + Fraction(1, 2))
    shown = f"{tenths // 10}.{tenths % 10}"
    return shown.replace(".", ",") if lang == "vi" else shown


def period_of(ctx: Context, bill: BillRecord) -> str:
    return ctx.t("lookups.period_name", term=bill.term, month=f"{bill.month:02d}", year=bill.year)


def cause_text(ctx: Context, cause: Cause, amount: int) -> str:
    """One cause in words, with its amount (unsigned: the sentence gives the direction)."""
    shown = money(abs(amount), ctx.lang)
    kind = cause.kind
    if kind == bill_explain.DAYS:
        key = "cause_days_more" if cause.days > 0 else "cause_days_fewer"
        if abs(cause.days) == 1:  # "a day longer", not "1 days longer"
            key = "cause_day_more" if cause.days > 0 else "cause_day_fewer"
            return ctx.t(f"explain.{key}", amount=shown)
        return ctx.t(f"explain.{key}", amount=shown, days=abs(cause.days))
    if kind == bill_explain.PER_DAY:
        key = "cause_per_day_more" if cause.kwh_per_day > 0 else "cause_per_day_less"
        return ctx.t(f"explain.{key}", amount=shown, kwh=decimal(cause.kwh_per_day, ctx.lang))
    if kind == bill_explain.TIERS:
        if cause.tier_kwh:
            key = "cause_tiers_up" if amount > 0 else "cause_tiers_down"
        else:
            key = "cause_tiers_more" if amount > 0 else "cause_tiers_less"
        return ctx.t(f"explain.{key}", amount=shown, kwh=cause.tier_kwh, tier=cause.tier)
    if kind == bill_explain.PRICE:
        if cause.price_from is None:
            return ctx.t("explain.cause_price_days", amount=shown)
        return ctx.t("explain.cause_price", amount=shown, date=day(cause.price_from))
    if kind == bill_explain.HOUSEHOLDS and cause.households:
        before, after = cause.households
        return ctx.t("explain.cause_households", amount=shown, before=before, after=after)
    if kind == bill_explain.CORRECTION:
        return ctx.t("explain.cause_correction", amount=shown)
    return ctx.t("explain.cause_vat_rounding", amount=shown)


def causes_text(ctx: Context, comparison: Comparison) -> str:
    """The causes, largest first, those against the direction last ("bù lại …"); the
    small ones summed into one part, so the figures in the sentence add up to the
    difference."""
    difference = comparison.difference
    along: list[str] = []
    against: list[str] = []
    small = 0
    for cause in comparison.causes:
        if abs(cause.amount) < abs(difference) * SMALL_SHARE:
            small += cause.amount
            continue
        (along if (cause.amount > 0) == (difference > 0) else against).append(
            cause_text(ctx, cause, cause.amount)
        )
    if small:
        text = ctx.t("explain.cause_small", amount=money(abs(small), ctx.lang))
        (along if (small > 0) == (difference > 0) else against).append(text)
    text = joined(ctx, along)
    if against:
        text += ", " + ctx.t("explain.offset", cause=joined(ctx, against))
    return text


def joined(ctx: Context, parts: list[str]) -> str:
    """ "a, b và c"."""
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + ctx.t("explain.and") + parts[-1]


def comparison_text(ctx: Context, comparison: Comparison) -> str:
    period = period_of(ctx, comparison.bill)
    difference = comparison.difference
    if difference == 0:
        return ctx.t("explain.same", period=period, total=money(comparison.bill.total, ctx.lang))
    key = "explain.higher" if difference > 0 else "explain.lower"
    amount = money(abs(difference), ctx.lang)
    return ctx.t(key, period=period, amount=amount, causes=causes_text(ctx, comparison))


def last_year_text(ctx: Context, comparison: Comparison) -> str:
    period = period_of(ctx, comparison.earlier)
    if comparison.difference == 0:
        return ctx.t("explain.last_year_same", period=period)
    key = "explain.last_year_higher" if comparison.difference > 0 else "explain.last_year_lower"
    return ctx.t(
        key,
        period=period,
        amount=money(abs(comparison.difference), ctx.lang),
        per_day=decimal(bill_explain.kwh_per_day(comparison.bill), ctx.lang),
        per_day_before=decimal(bill_explain.kwh_per_day(comparison.earlier), ctx.lang),
    )


async def first_bill_text(ctx: Context, explanation: Explanation) -> str:
    """Nothing to compare with: the bill's use per day, beside similar customers' in the
    area when there are enough of them, else saying there are not."""
    bill, customer = explanation.bill, explanation.customer
    per_day = bill_explain.kwh_per_day(bill)
    lines = [
        ctx.t(
            "explain.first_bill",
            period=period_of(ctx, bill),
            kwh=kwh(bill.kwh, ctx.lang),
            total=money(bill.total, ctx.lang),
            code=bill.customer_code,
            per_day=decimal(per_day, ctx.lang),
        )
    ]
    similar = await bill_explain.similar_customers(ctx.services.backend, customer, bill)
    if similar is None or similar.kwh_per_day <= 0:
        lines.append(ctx.t("explain.no_area"))
        return "\n".join(lines)
    ratio = float(per_day) / similar.kwh_per_day
    percent = round(abs(ratio - 1) * 100)
    key = (
        "explain.area_same"
        if percent < 5
        else ("explain.area_more" if ratio > 1 else "explain.area_less")
    )
    lines.append(
        ctx.t(
            key,
            count=similar.customers,
            area=customer.ward_name or customer.province_name,
            per_day=decimal(Fraction(similar.kwh_per_day), ctx.lang),
            month=f"{bill.month:02d}/{bill.year}",
            percent=percent,
        )
    )
    return "\n".join(lines)


async def explanation_text(ctx: Context, explanation: Explanation) -> tuple[str, bool]:
    """The message, and whether it suggests a meter check."""
    bill, previous = explanation.bill, explanation.previous
    if bill.kwh == 0:
        if previous is None:
            lines = [
                ctx.t("explain.zero_first", period=period_of(ctx, bill), code=bill.customer_code)
            ]
        else:
            lines = [
                ctx.t(
                    "explain.zero",
                    period=period_of(ctx, bill),
                    code=bill.customer_code,
                    kwh_before=kwh(previous.earlier.kwh, ctx.lang),
                    total_before=money(previous.earlier.total, ctx.lang),
                )
            ]
        lines.append(ctx.t("explain.zero_meter"))
        return "\n".join(lines), True
    if previous is None:
        return await first_bill_text(ctx, explanation), False
    lines = [comparison_text(ctx, previous)]
    if explanation.last_year is not None:
        lines.append(last_year_text(ctx, explanation.last_year))
    if explanation.meter_check:
        hint = "explain.meter_hint_twice" if explanation.unusual_twice else "explain.meter_hint"
        lines.append(ctx.t(hint))
    return "\n".join(lines), explanation.meter_check


async def explain_answer(
    ctx: Context, code: str, bill: BillRecord, *, note: str | None = None
) -> list[Reply]:
    """The explanation of `bill` (one of `code`'s), its chart and the ways on."""
    customer = await customer_of(ctx, code)
    bills = await ctx.services.backend.bills(code, limit=BILLS_NEEDED)
    period = (bill.year, bill.month, bill.term)
    try:
        explanation = bill_explain.explain(customer, bills, ctx.services.tariffs, period=period)
    except ExplainError as error:
        log.warning("cannot explain %s %s: %s", code, period, error)
        text = ctx.t("explain.unavailable", period=period_of(ctx, bill))
        return [Reply(text=text, buttons=(*next_steps(ctx, code, bill, False), way_back(ctx)))]
    if explanation is None:  # the bill is gone since it was chosen
        return [Reply(text=ctx.t("lookups.no_bills", code=code), buttons=(way_back(ctx),))]
    text, meter = await explanation_text(ctx, explanation)
    if note:
        text = f"{note}\n{text}"
    # matplotlib: imported when first used (see bot/app.py's warm-up)
    from bot.billing.explain_chart import explanation_chart

    title = ctx.t("explain.chart_title", code=code)
    png = await asyncio.to_thread(
        explanation_chart, explanation, ctx.services.tariffs, title=title, lang=ctx.lang
    )
    return [
        Reply(
            text=text,
            image=Media("image/png", f"vi-sao-{code}-{bill.year}-{bill.month:02d}.png", data=png),
            buttons=(*next_steps(ctx, code, bill, meter), way_back(ctx)),
        )
    ]


def next_steps(ctx: Context, code: str, bill: BillRecord, meter: bool) -> list[tuple[Button, ...]]:
    buttons = []
    if meter:
        buttons.append(Button(ctx.t("explain.meter_button"), payload=f"lk_why_meter:{code}"))
    if bill.status != "paid":
        buttons.append(Button(ctx.t("lookups.pay"), payload=f"payments:{code}"))
    buttons.append(Button(ctx.t("menu.support"), payload="support"))
    return list(rows(*buttons))


@router.button("lk_why_meter")
async def meter_check(ctx: Context) -> list[Reply]:
    """ "Kiểm tra công tơ" opened with the customer code already answered."""
    code = (ctx.arg or "").upper()
    if not accounts.is_linked(ctx.user, code):
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    ctx.arg = METER_FORM
    replies = await services.start(ctx)
    runner = form_runner()
    draft = runner.current(ctx)
    if draft is None or draft.form_id != METER_FORM or draft.index < 0:
        return replies  # a gate, another draft in hand, or a refusal: as the form says
    asked = runner.forms[METER_FORM].fields[draft.index]
    if asked.type != "customer_code" or asked.name in draft.answers:
        return replies
    # The intro stays; the code question is answered with the code the bill was for.
    return [*replies[:-1], *await runner.pick(ctx, code)]
