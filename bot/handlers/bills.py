"""Tra cứu, the lookups of bills: consumption (table and chart), payment information,
the e-invoice PDF and why a bill changed (bill_explain.py). All show personal data:
login first, and the PIN when due.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from fractions import Fraction

from bot.core.context import Context
from bot.core.fmt import day, kwh, money, short_day, today
from bot.core.messages import Button, Media, Reply, rows
from bot.core.router import Router
from bot.handlers.bill_explain import explain_answer
from bot.handlers.diversion import other_flow, same_flow
from bot.handlers.gates import gate
from bot.handlers.lookups import arg_part, customer_of, lookups, other_code, pick_code, way_back
from bot.store.backend import BillRecord
from nlu.entities import Entity, extract_entities

STEP_PERIOD = "lookup.period"
RECENT_PERIODS = 6
# "❓ Vì sao tăng/giảm?" under a bill that differs from the one before by more (issue 18).
EXPLAIN_ABOVE = Fraction(15, 100)

router = Router()


def period_key(bill: BillRecord) -> str:
    return f"{bill.year}-{bill.month}-{bill.term}"


def period_name(ctx: Context, bill: BillRecord) -> str:
    return ctx.t("lookups.period_name", term=bill.term, month=f"{bill.month:02d}", year=bill.year)


# --- choosing the billing period (kỳ/tháng/năm) --------------------------------------


async def with_period(ctx: Context, lookup: str) -> list[Reply]:
    """Run `lookup` ("pay", "inv" or "why") for the period in the payload or the customer's
    words; a question with no period, and a period not billed yet ("tháng này" before
    this month's bill), answer with the latest bill (issue 15). A tapped e-invoice
    offers the recent periods as buttons."""
    if (stop := gate(ctx, f"lk_{lookup}:{ctx.arg or ''}")) is not None:
        return stop
    code = await pick_code(ctx, f"lk_{lookup}")
    if isinstance(code, list):
        return code
    bills = await ctx.services.backend.bills(code, limit=24)
    if not bills:
        return [Reply(text=ctx.t("lookups.no_bills", code=code), buttons=(way_back(ctx),))]
    wanted = arg_part(ctx, 1)
    if wanted:
        chosen = [b for b in bills if period_key(b) == wanted]
        if chosen:
            return await answer(ctx, lookup, code, chosen)
        return ask_period(ctx, lookup, code, bills)
    if ctx.parse is not None:
        said = await period_said(ctx, lookup, code, ctx.parse.text, bills)
        return said or await answer(ctx, lookup, code, [bills[0]])
    if lookup in ("pay", "why"):
        return await answer(ctx, lookup, code, [bills[0]])  # the latest at once
    return ask_period(ctx, lookup, code, bills)


def ask_period(
    ctx: Context, lookup: str, code: str, bills: list[BillRecord], text: str | None = None
) -> list[Reply]:
    """The recent periods as buttons under `text` (by default: which period, and of which
    code when several are linked)."""
    ctx.state.ask(STEP_PERIOD, lookup=lookup, code=code)
    choices = [
        Button(
            ctx.t("lookups.period_button", term=b.term, month=f"{b.month:02d}", year=b.year),
            payload=f"lk_{lookup}:{code}:{period_key(b)}",
        )
        for b in bills[:RECENT_PERIODS]
    ]
    if text is None:
        text = ctx.t("lookups.choose_period")
        if len(ctx.user.customer_codes) > 1:
            text = f"{ctx.t('lookups.for_code', code=code)}\n{text}"
    return [
        Reply(
            text=text,
            buttons=(
                *rows(*choices, per_row=3),
                *rows(*other_code(ctx, f"lk_{lookup}")),
                way_back(ctx),
            ),
        )
    ]


def details(ctx: Context, text: str) -> list[Entity]:
    """The periods and days named in `text`."""
    return [e for e in extract_entities(text, today=today(ctx)) if e.entity in ("period", "date")]


async def period_said(
    ctx: Context, lookup: str, code: str, text: str, bills: list[BillRecord]
) -> list[Reply] | None:
    """The answer for the period or day `text` names: its bill; the latest bill when it
    names one not billed yet; a choice of periods when it names an older one without a
    bill. None when `text` names no period (or there is no bill at all)."""
    if not bills:
        return None
    found = details(ctx, text)
    periods = [e.value for e in found if e.entity == "period"]
    dates = [date.fromisoformat(e.value) for e in found if e.entity == "date"]
    chosen = find_period(bills, periods, dates)
    if chosen:
        return await answer(ctx, lookup, code, chosen)
    if periods:
        wanted = periods[0]
        asked = ctx.t("lookups.month_name", month=f"{wanted['month']:02d}", year=wanted["year"])
        if wanted.get("term"):
            asked = ctx.t(
                "lookups.period_name",
                term=wanted["term"],
                month=f"{wanted['month']:02d}",
                year=wanted["year"],
            )
        later = (wanted["year"], wanted["month"], wanted.get("term") or 0) > (
            bills[0].year,
            bills[0].month,
            bills[0].term,
        )
    elif dates:
        asked = ctx.t("lookups.day_name", day=day(dates[0]))
        later = dates[0] > bills[0].period_end
    else:
        return None
    if later:
        return await latest_instead(ctx, lookup, code, bills, asked)
    return ask_period(ctx, lookup, code, bills, ctx.t("lookups.no_bill", code=code, period=asked))


async def latest_instead(
    ctx: Context, lookup: str, code: str, bills: list[BillRecord], asked: str
) -> list[Reply]:
    """The latest month's bills, said to be the latest: `asked` has none yet."""
    newest = bills[0]
    chosen = [b for b in bills if (b.year, b.month) == (newest.year, newest.month)]
    shown = (
        period_name(ctx, newest)
        if len(chosen) == 1
        else ctx.t("lookups.month_name", month=f"{newest.month:02d}", year=newest.year)
    )
    note = ctx.t("lookups.latest_instead", latest=shown, asked=asked)
    return await answer(ctx, lookup, code, chosen, note=note)


def find_period(
    bills: list[BillRecord], periods: list[dict], dates: list[date]
) -> list[BillRecord]:
    if periods:
        wanted = periods[0]
        return [
            b
            for b in bills
            if b.year == wanted["year"]
            and b.month == wanted["month"]
            and wanted.get("term") in (None, b.term)
        ]
    if dates:  # a day inside the period
        return [b for b in bills if b.period_start <= dates[0] <= b.period_end]
    return []


@router.step(STEP_PERIOD)
async def typed_period(ctx: Context) -> list[Reply]:
    asked = ctx.state.asked
    lookup, code = asked.lookup or "pay", asked.code or ""
    # An answer typed after a while goes through the same gates as a button.
    if (stop := gate(ctx, f"lk_{lookup}:{code}")) is not None:
        return stop
    if code not in ctx.user.customer_codes:
        return await lookups(ctx)
    text = ctx.incoming.text or ""
    own = f"lk_{lookup}"
    if (other := await other_flow(ctx, text, own=own, details=details(ctx, text))) is not None:
        return other
    bills = await ctx.services.backend.bills(code, limit=24)
    if (said := await period_said(ctx, lookup, code, text, bills)) is not None:
        return said
    if bills and await same_flow(ctx, text, own=own):  # "tiền điện bao nhiêu" again
        return await answer(ctx, lookup, code, [bills[0]])
    return ask_period(ctx, lookup, code, bills, ctx.t("lookups.bad_period"))


async def answer(
    ctx: Context, lookup: str, code: str, chosen: list[BillRecord], *, note: str | None = None
) -> list[Reply]:
    if ctx.state.step == STEP_PERIOD:
        ctx.state.answered()
    if lookup == "inv":
        return await invoice_answer(ctx, code, chosen[0], note=note)
    if lookup == "why":
        return await explain_answer(ctx, code, chosen[0], note=note)
    return await payment_answer(ctx, code, chosen, note=note)


# --- "Thông tin thanh toán tiền điện" ------------------------------------------------


@router.button("lk_pay")
async def payment_info(ctx: Context) -> list[Reply]:
    return await with_period(ctx, "pay")


async def payment_answer(
    ctx: Context, code: str, chosen: list[BillRecord], *, note: str | None = None
) -> list[Reply]:
    now = today(ctx)
    parts = [note] if note else []
    for bill in chosen:
        if bill.status == "paid" and bill.paid_at is not None:
            channel_key = f"paid_channel.{bill.paid_channel}"
            channel = ctx.t(channel_key) if channel_key in ctx.services.texts else "—"
            status = ctx.t("lookups.status_paid", date=day(bill.paid_at), channel=channel)
        elif bill.due_date < now:
            status = ctx.t("lookups.status_overdue", due=day(bill.due_date))
        else:
            status = ctx.t("lookups.status_unpaid", due=day(bill.due_date))
        parts.append(
            ctx.t(
                "lookups.bill_summary",
                period=period_name(ctx, bill),
                start=short_day(bill.period_start),
                end=short_day(bill.period_end),
                code=code,
                kwh=kwh(bill.kwh, ctx.lang),
                total=money(bill.total, ctx.lang),
                status=status,
            )
        )
    unpaid = await ctx.services.backend.unpaid_bills(code)
    if unpaid:
        parts.append(
            ctx.t(
                "lookups.debt",
                total=money(sum(b.total for b in unpaid), ctx.lang),
                count=len(unpaid),
            )
        )
    else:
        parts.append(ctx.t("lookups.no_debt", code=code))
    bill = chosen[0]
    buttons: list[Button] = []
    if unpaid:
        buttons.append(Button(ctx.t("lookups.pay"), payload=f"payments:{code}"))
    if await changed_much(ctx, code, bill):
        buttons.append(Button(ctx.t("explain.button"), payload=f"lk_why:{code}:{period_key(bill)}"))
    buttons += [
        Button(ctx.t("lookups.invoice"), payload=f"lk_inv:{code}:{period_key(bill)}"),
        Button(ctx.t("lookups.compare"), payload=f"lk_use:{code}"),
        Button(ctx.t("lookups.other_period"), payload=f"lk_pay:{code}:choose"),
        *other_code(ctx, "lk_pay"),
    ]
    return [Reply(text="\n".join(parts), buttons=(*rows(*buttons), way_back(ctx)))]


async def changed_much(ctx: Context, code: str, bill: BillRecord) -> bool:
    """Whether `bill` differs from the bill before it by more than EXPLAIN_ABOVE."""
    bills = await ctx.services.backend.bills(code, limit=24 * 3)
    older = [b for b in bills if b.period_end < bill.period_end]
    if not older:
        return False
    before = max(older, key=lambda b: b.period_end).total
    return abs(bill.total - before) > EXPLAIN_ABOVE * before


# --- "Vì sao tăng/giảm?" (bill_explain.py words the answer) ------------------------------


@router.button("lk_why")
async def why(ctx: Context) -> list[Reply]:
    return await with_period(ctx, "why")


# --- "Hóa đơn điện tử" -------------------------------------------------------------------


@router.button("lk_inv")
async def invoice(ctx: Context) -> list[Reply]:
    return await with_period(ctx, "inv")


async def invoice_answer(
    ctx: Context, code: str, bill: BillRecord, *, note: str | None = None
) -> list[Reply]:
    periods = Button(ctx.t("lookups.other_period"), payload=f"lk_inv:{code}:choose")
    more = rows(periods, *other_code(ctx, "lk_inv"))
    if bill.invoice is None:
        return [
            Reply(
                text=ctx.t("lookups.no_invoice", period=period_name(ctx, bill), code=code),
                buttons=(*more, way_back(ctx)),
            )
        ]
    customer = await customer_of(ctx, code)
    from bot.billing.invoice_pdf import render_invoice  # fpdf: imported when first used

    pdf = await asyncio.to_thread(render_invoice, customer, bill)  # CPU work: off the loop
    filename = f"hoa-don-{code}-{bill.year}-{bill.month:02d}-ky{bill.term}.pdf"
    text = ctx.t(
        "lookups.invoice_summary",
        period=period_name(ctx, bill),
        code=code,
        symbol=bill.invoice.symbol,
        number=f"{bill.invoice.number:07d}",
        total=money(bill.total, ctx.lang),
    )
    if note:
        text = f"{note}\n{text}"
    pay = Button(ctx.t("lookups.payment_info"), payload=f"lk_pay:{code}:{period_key(bill)}")
    return [
        Reply(
            text=text,
            document=Media("application/pdf", filename, data=pdf),
            buttons=((pay,), *more, way_back(ctx)),
        )
    ]


# --- "Điện năng tiêu thụ" ----------------------------------------------------------------


@router.button("lk_use")
async def consumption(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, f"lk_use:{ctx.arg or ''}")) is not None:
        return stop
    code = await pick_code(ctx, "lk_use")
    if isinstance(code, list):
        return code
    bills = await ctx.services.backend.bills(code, limit=3 * 24)
    if not bills:
        return [Reply(text=ctx.t("lookups.no_bills", code=code), buttons=(way_back(ctx),))]
    # Months, not terms: a large customer read 3 times a month shows one bar a month.
    by_month: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for bill in bills:
        by_month[(bill.year, bill.month)][0] += bill.kwh
        by_month[(bill.year, bill.month)][1] += bill.total
    months = sorted(by_month)[-12:]
    # matplotlib: imported when first used (see bot/app.py's warm-up)
    from bot.billing.charts import ChartPoint, change_in_words, consumption_chart

    points = [
        ChartPoint(
            label=f"{month:02d}/{year}",
            kwh=by_month[(year, month)][0],
            kwh_year_before=by_month[(year - 1, month)][0]
            if (year - 1, month) in by_month
            else None,
        )
        for year, month in months
    ]
    title = ctx.t("lookups.chart_title", code=code)
    png = await asyncio.to_thread(consumption_chart, points, title=title, lang=ctx.lang)
    lines = [
        ctx.t(
            "lookups.consumption_line",
            month=point.label,
            kwh=kwh(point.kwh, ctx.lang),
            amount=money(by_month[key][1], ctx.lang),
        )
        for point, key in zip(points, months, strict=True)
    ]
    if len(points) >= 2:
        lines.append(change_in_words(points[-1].kwh, points[-2].kwh, ctx.lang))
    text = "\n".join([ctx.t("lookups.consumption_title", code=code), *lines])
    pay = Button(ctx.t("lookups.payment_info"), payload=f"lk_pay:{code}")
    return [
        Reply(
            text=text,
            image=Media("image/png", f"dien-nang-{code}.png", data=png),
            buttons=(*rows(pay, *other_code(ctx, "lk_use")), way_back(ctx)),
        )
    ]
