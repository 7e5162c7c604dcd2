"""Tra cứu → "Điểm thu tiền điện": the payment points nearest the customer's address or
a shared location, a page at a time, each with a map link."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Button, KeyboardRequest, Location, Reply, RequestButton, rows
from bot.core.router import Router
from bot.handlers.common import id_arg
from bot.handlers.lookups import arg_part, customer_of, other_code, pick_code, way_back

STEP_POINTS = "lookup.points"
POINTS_PAGE = 5

router = Router()


@router.button("lk_points")
async def points(ctx: Context) -> list[Reply]:
    if not ctx.user.is_activated or not ctx.user.customer_codes:
        return ask_location(ctx)
    code = await pick_code(ctx, "lk_points")
    if isinstance(code, list):
        return code
    customer = await customer_of(ctx, code)
    if customer.latitude is None or customer.longitude is None:
        return ask_location(ctx)
    offset = id_arg(arg_part(ctx, 1)) or 0
    return await points_answer(
        ctx,
        customer.latitude,
        customer.longitude,
        offset,
        ctx.t("lookups.points_where_code", code=code),
        f"lk_points:{code}",
        other=other_code(ctx, "lk_points"),
    )


def ask_location(ctx: Context) -> list[Reply]:
    ctx.state.ask(STEP_POINTS)
    request = RequestButton(KeyboardRequest.LOCATION, ctx.t("lookups.send_location"))
    login = Button(ctx.t("menu.login"), payload="login")
    rows_: tuple[tuple[Button, ...], ...] = (way_back(ctx),)
    if not ctx.user.is_activated:
        rows_ = ((login,), way_back(ctx))
    return [Reply(text=ctx.t("lookups.points_need_location"), buttons=rows_, requests=(request,))]


@router.step(STEP_POINTS)
async def location_for_points(ctx: Context) -> list[Reply]:
    where = ctx.incoming.location
    if where is None:
        return ask_location(ctx)
    ctx.state.answered()
    return await points_near(ctx, where, 0)


@router.button("lk_ptloc")
async def more_points_near(ctx: Context) -> list[Reply]:
    try:
        lat, lon, offset = (ctx.arg or "").split(":")
        return await points_near(ctx, Location(float(lat), float(lon)), id_arg(offset) or 0)
    except ValueError:
        return ask_location(ctx)


async def points_near(ctx: Context, where: Location, offset: int) -> list[Reply]:
    key = f"lk_ptloc:{where.latitude:.4f}:{where.longitude:.4f}"
    return await points_answer(
        ctx,
        where.latitude,
        where.longitude,
        offset,
        ctx.t("lookups.points_where_location"),
        key,
    )


async def points_answer(
    ctx: Context,
    lat: float,
    lon: float,
    offset: int,
    where: str,
    more_key: str,
    *,
    other: list[Button] | None = None,
) -> list[Reply]:
    found = await ctx.services.backend.payment_points_near(
        lat, lon, limit=POINTS_PAGE, offset=offset
    )
    lines = []
    maps = []
    for number_, point in enumerate(found, start=offset + 1):
        distance = f"{point.distance_km or 0:.1f} km"
        if ctx.lang == "vi":
            distance = distance.replace(".", ",")  # 1,2 km
        lines.append(
            ctx.t(
                "lookups.point_line",
                number=number_,
                name=point.name,
                address=point.address,
                ward=point.ward_name,
                distance=distance,
                hours=point.opening_hours,
            )
        )
        maps.append(
            Button(
                ctx.t("lookups.map", number=number_),
                url=(
                    f"https://www.openstreetmap.org/?mlat={point.latitude}&mlon={point.longitude}"
                    f"#map=17/{point.latitude}/{point.longitude}"
                ),
            )
        )
    if not found and offset == 0:
        return [Reply(text=ctx.t("lookups.no_points"), buttons=(way_back(ctx),))]
    buttons: list[tuple[Button, ...]] = [tuple(maps)] if maps else []
    more = list(other or [])
    if len(found) == POINTS_PAGE:
        more.insert(0, Button(ctx.t("lookups.more"), payload=f"{more_key}:{offset + POINTS_PAGE}"))
    buttons += rows(*more)
    buttons.append(way_back(ctx))
    title = ctx.t("lookups.points_title", where=where)
    return [Reply(text="\n".join([title, *lines]), buttons=tuple(buttons))]


@router.on_location
async def unprompted_location(ctx: Context) -> list[Reply]:
    # A location with no question pending: the nearest payment points are the most
    # useful answer (the app's "Điểm thu tiền điện" works from a location too).
    assert ctx.incoming.location is not None
    return await points_near(ctx, ctx.incoming.location, 0)
