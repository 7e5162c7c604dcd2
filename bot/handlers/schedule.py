"""Tra cứu → "Lịch ghi chỉ số": the meter readings of a customer code over the last
months, a typed range, or the coming ones (the reading days still to come)."""

from __future__ import annotations

import calendar
from datetime import date

from bot.auth import accounts
from bot.core.context import Context
from bot.core.fmt import day, kwh, number, today
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers.diversion import other_flow
from bot.handlers.gates import gate
from bot.handlers.lookups import arg_part, customer_of, lookups, other_code, pick_code, way_back
from bot.store.backend import CustomerRecord
from nlu.entities import extract_entities

STEP_RANGE = "lookup.range"

router = Router()


def planned_readings(customer: CustomerRecord, start: date, end: date, after: date) -> list[date]:
    """The reading days in [start, end] still to come (after `after`)."""
    days: list[date] = []
    year, month = start.year, start.month
    while date(year, month, 1) <= end:
        last = calendar.monthrange(year, month)[1]
        wanted = (
            [10, 20, last] if customer.terms_per_month == 3 else [min(customer.reading_day, last)]
        )
        days += [date(year, month, d) for d in wanted]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [d for d in days if start <= d <= end and d > after]


def months_back(when: date, count: int) -> date:
    month = when.month - count
    year = when.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, min(when.day, calendar.monthrange(year, month)[1]))


@router.button("lk_sched")
async def schedule(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, f"lk_sched:{ctx.arg or ''}", pin=False)) is not None:
        return stop
    code = await pick_code(ctx, "lk_sched")
    if isinstance(code, list):
        return code
    span = arg_part(ctx, 1)
    now = today(ctx)
    if span in ("-3", "-6"):
        return await schedule_answer(ctx, code, months_back(now, int(span[1:])), now)
    if span == "+3":
        return await schedule_answer(ctx, code, now, months_back(now, -3))
    if ctx.parse is not None and (answer := await schedule_typed(ctx, code, ctx.parse.text)):
        return answer
    ctx.state.ask(STEP_RANGE, code=code)
    choices = (
        Button(ctx.t("lookups.range_3"), payload=f"lk_sched:{code}:-3"),
        Button(ctx.t("lookups.range_6"), payload=f"lk_sched:{code}:-6"),
        Button(ctx.t("lookups.range_next"), payload=f"lk_sched:{code}:+3"),
        *other_code(ctx, "lk_sched"),
    )
    text = ctx.t("lookups.choose_range")
    if len(ctx.user.customer_codes) > 1:  # which code the schedule is of
        text = f"{ctx.t('lookups.for_code', code=code)}\n{text}"
    return [Reply(text=text, buttons=(*rows(*choices), way_back(ctx)))]


@router.step(STEP_RANGE)
async def typed_range(ctx: Context) -> list[Reply]:
    code = str(ctx.state.asked.code or "")
    if (stop := gate(ctx, f"lk_sched:{code}", pin=False)) is not None:
        return stop
    if not accounts.is_linked(ctx.user, code):
        return await lookups(ctx)
    text = ctx.incoming.text or ""
    found = [e for e in extract_entities(text, today=today(ctx)) if e.entity in ("date", "period")]
    if (other := await other_flow(ctx, text, own="lk_sched", details=found)) is not None:
        return other
    answer = await schedule_typed(ctx, code, text)
    if answer is None:
        return [Reply(text=ctx.t("lookups.bad_range"), buttons=(way_back(ctx),))]
    return answer


async def schedule_typed(ctx: Context, code: str, text: str) -> list[Reply] | None:
    entities = extract_entities(text, today=today(ctx))
    dates = [date.fromisoformat(e.value) for e in entities if e.entity == "date"]
    periods = [e.value for e in entities if e.entity == "period"]
    if len(dates) >= 2:
        start, end = dates[0], dates[1]
        if start > end:
            return [
                Reply(
                    text=ctx.t("lookups.reversed_range", start=day(start), end=day(end)),
                    buttons=(way_back(ctx),),
                )
            ]
    elif len(dates) == 1:
        start, end = sorted((dates[0], today(ctx)))
    elif periods:
        year, month = periods[0]["year"], periods[0]["month"]
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    else:
        return None
    ctx.state.answered()
    return await schedule_answer(ctx, code, start, end)


async def schedule_answer(ctx: Context, code: str, start: date, end: date) -> list[Reply]:
    customer = await customer_of(ctx, code)
    readings = await ctx.services.backend.readings(code, start, end)
    lines = [
        ctx.t(
            "lookups.reading_done",
            date=day(r.read_on),
            index=number(r.index_value, ctx.lang),
            kwh=kwh(r.kwh, ctx.lang),
        )
        for r in readings
    ]
    lines += [
        ctx.t("lookups.reading_planned", date=day(d))
        for d in planned_readings(customer, start, end, today(ctx))
    ]
    days = (
        ctx.t("lookups.reading_terms")
        if customer.terms_per_month == 3
        else ctx.t("lookups.reading_day", day=customer.reading_day)
    )
    title = ctx.t("lookups.schedule_title", code=code, days=days, start=day(start), end=day(end))
    body = "\n".join(lines) or ctx.t("lookups.no_readings")
    other = Button(ctx.t("lookups.range_6"), payload=f"lk_sched:{code}:-6")
    more = rows(other, *other_code(ctx, "lk_sched"))
    return [Reply(text=f"{title}\n{body}", buttons=(*more, way_back(ctx)))]
