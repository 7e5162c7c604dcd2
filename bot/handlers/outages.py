"""Tra cứu → "Lịch tạm ngừng cung cấp điện": the planned outages and incidents of the
coming days in the customer's ward, or in an area the customer names."""

from __future__ import annotations

from datetime import timedelta

from bot.core.context import Context
from bot.core.fmt import clock, day, today
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers.common import back_button, home_button
from bot.handlers.lookups import customer_of, pick_code, way_back, with_other_code
from bot.store.places import province_name, ward_name, ward_province
from nlu.entities import EVNCPC_PROVINCES, extract_entities

STEP_AREA = "lookup.area"
OUTAGE_DAYS = 14

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
    if answer is None:
        return [
            Reply(
                text=ctx.t("lookups.area_unknown"),
                buttons=((back_button(ctx), home_button(ctx)),),
            )
        ]
    return answer


async def area_typed(ctx: Context, text: str, asked: bool) -> list[Reply] | None:
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
        return await outage_answer(ctx, ward["province_code"], ward["code"], lowered(ward["name"]))
    if len(ours) > 1:
        choices = [
            Button(
                f"{w['name']}, {province_name(w['province_code'])}",
                payload=f"lk_outw:{w['code']}",
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
        return await outage_answer(ctx, province["code"], None, province["name"])
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
