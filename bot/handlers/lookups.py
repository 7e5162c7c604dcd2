"""Tra cứu: the tab, the meter-reading schedule, payment points, planned outages and the
bill estimate. The lookups of bills (consumption, payment information, e-invoices)
are in bills.py.

Each lookup asks for the customer code when several are linked (the default first),
then for its inputs, with buttons for the usual answers so typing is rarely needed.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from bot.auth import accounts
from bot.core.context import Context
from bot.core.fmt import clock, day, kwh, local, money, number
from bot.core.messages import Button, KeyboardRequest, Location, Reply, RequestButton, rows
from bot.core.router import STATE_AWAITING, Router
from bot.handlers.common import STATE_SCREEN, back_button, home_button, id_arg
from bot.handlers.gates import gate
from bot.store.backend import CustomerRecord
from bot.store.places import province_name, ward_name, ward_province
from nlu.entities import extract_entities

STEP_KWH = "estimate.kwh"
STEP_RANGE = "lookup.range"
STEP_POINTS = "lookup.points"
STEP_AREA = "lookup.area"
MAX_KWH = 1_000_000
POINTS_PAGE = 5
OUTAGE_DAYS = 14
EVNCPC_PROVINCES = frozenset({44, 46, 48, 51, 52, 56, 66})
_KWH = re.compile(r"^\s*(\d[\d.,\s]*)\s*(kwh|kw|số|so|ký|ki|kí)?\s*$", re.IGNORECASE)
_HOUSEHOLDS = re.compile(r"(\d{1,2})\s*(?:hộ|ho)\b", re.IGNORECASE)


def today(ctx: Context) -> date:
    return local(ctx.now()).date()


async def pick_code(ctx: Context, lookup: str) -> str | list[Reply]:
    """The customer code this lookup is for: the one in the payload (which must be
    linked: a forged one is refused), the only linked one, or a question."""
    codes = ctx.user.customer_codes
    wanted = (ctx.arg or "").split(":")[0].upper()
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
            buttons=(*rows(*buttons, per_row=1), (back_button(ctx), home_button(ctx))),
        )
    ]


def arg_part(ctx: Context, index: int) -> str | None:
    parts = (ctx.arg or "").split(":")
    return parts[index] if len(parts) > index and parts[index] else None


async def customer_of(ctx: Context, code: str) -> CustomerRecord:
    customer = await ctx.services.backend.customer(code)
    if customer is None:  # linked but gone from the utility's records
        raise LookupError(f"linked customer {code} is unknown to the backend")
    return customer


# --- the bill estimate ("Tính tiền điện") ----------------------------------------------


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
    return [Reply(text=text, buttons=((again, home_button(ctx)),))]


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


# --- the meter-reading schedule ---------------------------------------------------------------


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


def register(router: Router) -> None:
    @router.command("/lookup", "tra cuu")
    @router.button("lookups")
    async def lookups(ctx: Context) -> list[Reply]:
        ctx.state[STATE_SCREEN] = "lookups"
        ctx.state.pop(STATE_AWAITING, None)
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

    # --- "Tính tiền điện" ---------------------------------------------------------------

    @router.command("/estimate", "tinh tien dien")
    @router.button("estimate")
    async def estimate(ctx: Context) -> list[Reply]:
        if ctx.parse is not None:
            answer = estimate_from_text(ctx, ctx.parse.text)
            if answer is not None:
                return answer
        ctx.state[STATE_AWAITING] = {"step": STEP_KWH}
        return [Reply(text=ctx.t("estimate.ask_kwh"), buttons=((home_button(ctx),),))]

    @router.step(STEP_KWH)
    async def typed_kwh(ctx: Context) -> list[Reply]:
        answer = estimate_from_text(ctx, ctx.incoming.text or "")
        if answer is None:
            return [Reply(text=ctx.t("estimate.bad_kwh"), buttons=((home_button(ctx),),))]
        ctx.state.pop(STATE_AWAITING, None)
        return answer

    # --- "Lịch ghi chỉ số" ----------------------------------------------------------------

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
        ctx.state[STATE_AWAITING] = {"step": STEP_RANGE, "code": code}
        choices = (
            Button(ctx.t("lookups.range_3"), payload=f"lk_sched:{code}:-3"),
            Button(ctx.t("lookups.range_6"), payload=f"lk_sched:{code}:-6"),
            Button(ctx.t("lookups.range_next"), payload=f"lk_sched:{code}:+3"),
        )
        return [
            Reply(
                text=ctx.t("lookups.choose_range"),
                buttons=(*rows(*choices), (back_button(ctx), home_button(ctx))),
            )
        ]

    @router.step(STEP_RANGE)
    async def typed_range(ctx: Context) -> list[Reply]:
        code = str(ctx.state.get(STATE_AWAITING, {}).get("code", ""))
        if (stop := gate(ctx, f"lk_sched:{code}", pin=False)) is not None:
            return stop
        if not accounts.is_linked(ctx.user, code):
            return await lookups(ctx)
        answer = await schedule_typed(ctx, code, ctx.incoming.text or "")
        if answer is None:
            return [
                Reply(
                    text=ctx.t("lookups.bad_range"), buttons=((back_button(ctx), home_button(ctx)),)
                )
            ]
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
                        buttons=((back_button(ctx), home_button(ctx)),),
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
        ctx.state.pop(STATE_AWAITING, None)
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
        title = ctx.t(
            "lookups.schedule_title", code=code, days=days, start=day(start), end=day(end)
        )
        body = "\n".join(lines) or ctx.t("lookups.no_readings")
        other = Button(ctx.t("lookups.range_6"), payload=f"lk_sched:{code}:-6")
        return [
            Reply(text=f"{title}\n{body}", buttons=((other,), (back_button(ctx), home_button(ctx))))
        ]

    # --- "Điểm thu tiền điện" --------------------------------------------------------------

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
        )

    def ask_location(ctx: Context) -> list[Reply]:
        ctx.state[STATE_AWAITING] = {"step": STEP_POINTS}
        request = RequestButton(KeyboardRequest.LOCATION, ctx.t("lookups.send_location"))
        login = Button(ctx.t("menu.login"), payload="login")
        rows_: tuple[tuple[Button, ...], ...] = ((home_button(ctx),),)
        if not ctx.user.is_activated:
            rows_ = ((login,), (home_button(ctx),))
        return [
            Reply(text=ctx.t("lookups.points_need_location"), buttons=rows_, requests=(request,))
        ]

    @router.step(STEP_POINTS)
    async def location_for_points(ctx: Context) -> list[Reply]:
        where = ctx.incoming.location
        if where is None:
            return ask_location(ctx)
        ctx.state.pop(STATE_AWAITING, None)
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
        ctx: Context, lat: float, lon: float, offset: int, where: str, more_key: str
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
            return [Reply(text=ctx.t("lookups.no_points"), buttons=((home_button(ctx),),))]
        buttons: list[tuple[Button, ...]] = [tuple(maps)] if maps else []
        if len(found) == POINTS_PAGE:
            buttons.append(
                (Button(ctx.t("lookups.more"), payload=f"{more_key}:{offset + POINTS_PAGE}"),)
            )
        buttons.append((back_button(ctx), home_button(ctx)))
        title = ctx.t("lookups.points_title", where=where)
        return [Reply(text="\n".join([title, *lines]), buttons=tuple(buttons))]

    # --- "Lịch tạm ngừng cung cấp điện" -----------------------------------------------------

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
        return await outage_answer(ctx, customer.province_code, customer.ward_code, area)

    def ask_area(ctx: Context) -> list[Reply]:
        ctx.state[STATE_AWAITING] = {"step": STEP_AREA}
        return [
            Reply(text=ctx.t("lookups.ask_area"), buttons=((back_button(ctx), home_button(ctx)),))
        ]

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
            ctx.state.pop(STATE_AWAITING, None)
        if len(ours) == 1 or (
            ours and provinces and any(w["province_code"] == provinces[0]["code"] for w in ours)
        ):
            ward = next(
                (w for w in ours if not provinces or w["province_code"] == provinces[0]["code"]),
                ours[0],
            )
            return await outage_answer(
                ctx, ward["province_code"], ward["code"], lowered(ward["name"])
            )
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

    async def outage_answer(
        ctx: Context, province: int, ward: int | None, area: str
    ) -> list[Reply]:
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
        buttons = ((by_area,), (back_button(ctx), home_button(ctx)))
        if not lines:
            return [Reply(text=ctx.t("lookups.no_outages", area=area), buttons=buttons)]
        title = ctx.t("lookups.outage_title", area=area)
        return [Reply(text="\n".join([title, *lines]), buttons=buttons)]

    @router.on_location
    async def unprompted_location(ctx: Context) -> list[Reply]:
        # A location with no question pending: the nearest payment points are the most
        # useful answer (the app's "Điểm thu tiền điện" works from a location too).
        assert ctx.incoming.location is not None
        return await points_near(ctx, ctx.incoming.location, 0)


def lowered(name: str) -> str:
    """'Phường Hội An' -> 'phường Hội An' (as it reads inside a sentence)."""
    return name[:1].lower() + name[1:]
