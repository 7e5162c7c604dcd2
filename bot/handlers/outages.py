"""Tra cứu → "Lịch tạm ngừng cung cấp điện": the planned outages and incidents of the
coming days in the customer's ward, or in an area the customer names; and "khi nào có
điện lại?", the outage going on there now and when it ends (issue 15)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.context import Context
from bot.core.fmt import clock, day, today
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers import navigation
from bot.handlers.common import back_button, home_button
from bot.handlers.lookups import customer_of, pick_code, way_back, with_other_code
from bot.store.places import province_name, ward_name, ward_province
from nlu.entities import EVNCPC_PROVINCES, extract_entities

STEP_AREA = "lookup.area"
STEP_POWER_AREA = "power_back.area"
OUTAGE_DAYS = 14
# An area's answer: the province, the ward (None: the whole province), its name.
AreaAnswer = Callable[[Context, int, int | None, str], Awaitable[list[Reply]]]

router = Router()


@router.button("lk_outage")
async def outages(ctx: Context) -> list[Reply]:
    if ctx.parse is not None and (answer := await area_typed(ctx, ctx.parse.text, False)):
        return answer
    if not ctx.user.is_activated or not ctx.user.customer_codes:
        return ask_area(ctx)
    code = await pick_code(ctx, "lk_outage")
    if isinstance(code, list):
        return code
    customer = await customer_of(ctx, code)
    area = lowered(customer.ward_name)
    answer = await outage_answer(ctx, customer.province_code, customer.ward_code, area)
    return with_other_code(ctx, answer, "lk_outage")


def ask_area(ctx: Context) -> list[Reply]:
    ctx.state.ask(STEP_AREA)
    return [Reply(text=ctx.t("lookups.ask_area"), buttons=(way_back(ctx),))]


@router.button("lk_outarea")
async def outages_by_area(ctx: Context) -> list[Reply]:
    return ask_area(ctx)


@router.step(STEP_AREA)
async def typed_area(ctx: Context) -> list[Reply]:
    answer = await area_typed(ctx, ctx.incoming.text or "", True)
    return area_or_again(ctx, answer, STEP_AREA)


def area_or_again(ctx: Context, answer: list[Reply] | None, step: str) -> list[Reply]:
    """The answer, or when no area was recognised, the question again (still open)."""
    if answer is None:
        ctx.state.ask(step)
        return [
            Reply(
                text=ctx.t("lookups.area_unknown"),
                buttons=((back_button(ctx), home_button(ctx)),),
            )
        ]
    return answer


async def area_typed(
    ctx: Context,
    text: str,
    asked: bool,
    answer: AreaAnswer | None = None,
    pick: str = "lk_outw",
) -> list[Reply] | None:
    """The answer for the area `text` names (`answer`, the outage schedule unless told),
    a choice when it names several (buttons `pick:<ward>`), or None when it names none."""
    answer = answer or outage_answer
    entities = extract_entities(text, today=today(ctx))
    wards = [e.value for e in entities if e.entity == "ward"]
    provinces = [e.value for e in entities if e.entity == "province"]
    ours = [w for w in wards if w["province_code"] in EVNCPC_PROVINCES]
    if asked:
        ctx.state.answered()
    if len(ours) == 1 or (
        ours and provinces and any(w["province_code"] == provinces[0]["code"] for w in ours)
    ):
        ward = next(
            (w for w in ours if not provinces or w["province_code"] == provinces[0]["code"]),
            ours[0],
        )
        return await answer(ctx, ward["province_code"], ward["code"], lowered(ward["name"]))
    if len(ours) > 1:
        choices = [
            Button(
                f"{w['name']}, {province_name(w['province_code'])}",
                payload=f"{pick}:{w['code']}",
            )
            for w in ours[:5]
        ]
        return [
            Reply(
                text=ctx.t("lookups.choose_area"),
                buttons=(*rows(*choices, per_row=1), (home_button(ctx),)),
            )
        ]
    if provinces:
        province = provinces[0]
        if province["code"] not in EVNCPC_PROVINCES:
            return [
                Reply(
                    text=ctx.t("lookups.area_outside", area=province["name"]),
                    buttons=((home_button(ctx),),),
                )
            ]
        return await answer(ctx, province["code"], None, province["name"])
    if wards:
        area = f"{wards[0]['name']}, {province_name(wards[0]['province_code'])}"
        return [
            Reply(text=ctx.t("lookups.area_outside", area=area), buttons=((home_button(ctx),),))
        ]
    return None


@router.button("lk_outw")
async def outages_in_ward(ctx: Context) -> list[Reply]:
    try:
        code = int(ctx.arg or "")
        return await outage_answer(ctx, ward_province(code), code, lowered(ward_name(code)))
    except ValueError:
        return ask_area(ctx)


async def outage_answer(ctx: Context, province: int, ward: int | None, area: str) -> list[Reply]:
    now = ctx.now()
    found = await ctx.services.backend.outages(
        province, ward, now, now + timedelta(days=OUTAGE_DAYS)
    )
    lines = []
    for outage in found:
        values = {
            "day": day(outage.start_at),
            "start": clock(outage.start_at),
            "end": clock(outage.end_at),
            "description": outage.area_description,
            "reason": outage.reason,
        }
        if outage.kind == "incident":
            values["day"] = day(outage.end_at)
            lines.append(ctx.t("lookups.outage_incident", **values))
        else:
            lines.append(ctx.t("lookups.outage_line", **values))
    by_area = Button(ctx.t("lookups.outage_by_area"), payload="lk_outarea")
    buttons = ((by_area,), way_back(ctx))
    if not lines:
        return [Reply(text=ctx.t("lookups.no_outages", area=area), buttons=buttons)]
    title = ctx.t("lookups.outage_title", area=area)
    return [Reply(text="\n".join([title, *lines]), buttons=buttons)]


def lowered(name: str) -> str:
    """'Phường Hội An' -> 'phường Hội An' (as it reads inside a sentence)."""
    return name[:1].lower() + name[1:]


# --- "khi nào có điện lại?" (issue 15) ------------------------------------------------------


@router.button("pw_back")
async def power_back(ctx: Context) -> list[Reply]:
    """When the power comes back: the outage or incident going on now where the customer
    is (their contract's ward, or the area the sentence or they name) and its expected
    end; without one, the outage report."""
    if ctx.parse is not None:
        answer = await area_typed(ctx, ctx.parse.text, False, power_answer, "pw_backw")
        if answer:
            return answer
    if not ctx.user.is_activated or not ctx.user.customer_codes:
        ctx.state.ask(STEP_POWER_AREA)
        login = Button(ctx.t("menu.login"), payload="login")
        return [
            Reply(
                text=ctx.t("lookups.power_back_ask_area"),
                buttons=((login,), (back_button(ctx), home_button(ctx))),
            )
        ]
    code = await pick_code(ctx, "pw_back")
    if isinstance(code, list):
        return code
    customer = await customer_of(ctx, code)
    return await power_answer(
        ctx, customer.province_code, customer.ward_code, lowered(customer.ward_name)
    )


@router.step(STEP_POWER_AREA)
async def power_back_area(ctx: Context) -> list[Reply]:
    answer = await area_typed(ctx, ctx.incoming.text or "", True, power_answer, "pw_backw")
    return area_or_again(ctx, answer, STEP_POWER_AREA)


@router.button("pw_backw")
async def power_back_in_ward(ctx: Context) -> list[Reply]:
    try:
        code = int(ctx.arg or "")
        return await power_answer(ctx, ward_province(code), code, lowered(ward_name(code)))
    except ValueError:
        return await power_back(ctx)


async def power_answer(ctx: Context, province: int, ward: int | None, area: str) -> list[Reply]:
    """The outage going on now in the area and when the power is expected back (the end
    of the last one, when several overlap), or that none is known; the report either way."""
    now = ctx.now()
    found = await ctx.services.backend.outages(province, ward, now, now)
    current = [o for o in found if o.start_at <= now <= o.end_at]
    # The report is the way on either way: after the expected end, or when none is known.
    report = Button(ctx.t("services.report_outage"), payload=f"svc:{navigation.OUTAGE_INTENT}")
    buttons = ((report,), (home_button(ctx),))
    if not current:
        return [Reply(text=ctx.t("lookups.power_back_none", area=area), buttons=buttons)]
    outage = max(current, key=lambda o: o.end_at)
    kind = "incident" if outage.kind == "incident" else "planned"
    text = ctx.t(
        f"lookups.power_back_{kind}",
        area=area,
        start=clock(outage.start_at),
        end=clock(outage.end_at),
        day=day(outage.end_at),
        reason=outage.reason,
        description=outage.area_description,
    )
    return [Reply(text=text, buttons=buttons)]
