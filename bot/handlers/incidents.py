"""Outage reports counted by area (issue 19): the report form's submission and free text
about an outage from a logged-in customer are counted (bot/outages/); when the area's
suspected incident is open, the reporter reads "Điện lực đã ghi nhận sự cố…" at once with
"🔔 Báo tôi khi có điện lại", which this module's button takes."""

from __future__ import annotations

import logging
from typing import Any

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.dialogs.checks import place_of
from bot.handlers.common import home_button, id_arg
from bot.outages import clustering, decisions
from bot.outages.clustering import Clustering, ReportPlace

log = logging.getLogger(__name__)

router = Router()

# Which answer of the report form says where, in the order they are read.
_WHERE = ("customer_code", "address", "location")


async def _report_place(ctx: Context, answers: dict[str, Any]) -> ReportPlace | None:
    backend = ctx.services.backend
    code = answers.get("customer_code")
    if code:
        return await clustering.place_of_customer(backend, str(code))
    for kind in _WHERE[1:]:
        if answers.get(kind):
            place = await place_of(ctx, kind, answers[kind])
            if place is None:
                return None
            open_now = await clustering.open_incident_at(ctx.session, place.province, place.ward)
            if open_now is not None:  # join the ward's incident, whatever unit it is under
                return ReportPlace(open_now.unit_code, place.province, place.ward, place.name)
            return await clustering.place_of_area(backend, place.province, place.ward, place.name)
    return None


async def count(
    ctx: Context,
    place: ReportPlace,
    *,
    source: str,
    request_id: int | None = None,
    customer_code: str | None = None,
) -> clustering.Counted:
    return await clustering.record_report(
        ctx.session,
        ctx.services.backend,
        ctx.services.texts,
        Clustering.of(ctx.services.settings),
        chat_user=ctx.user,
        place=place,
        now=ctx.now(),
        source=source,
        request_id=request_id,
        customer_code=customer_code,
        live=ctx.services.live,
    )


async def form_report(
    ctx: Context, answers: dict[str, Any], request_id: int, customer_code: str | None
) -> list[Reply]:
    """A submitted report form, counted: "we know" when its area's incident is open."""
    place = await _report_place(ctx, answers)
    if place is None:
        return []  # a place we cannot tell: the request alone, staff read its answers
    counted = await count(
        ctx, place, source="form", request_id=request_id, customer_code=customer_code
    )
    if counted.incident is None:
        return []
    return [clustering.known_reply(ctx.services.texts, ctx.user.language, counted.incident)]


async def text_report(ctx: Context) -> list[Reply] | None:
    """Free text about an outage: from a logged-in customer whose code gives the place,
    counted; the answer is "we know" when the area's incident is open, else None (the
    report form opens as before). A customer without a code is asked the ward by it."""
    if not ctx.user.is_activated or not ctx.user.customer_codes:
        return None
    code = ctx.user.default_customer_code or ctx.user.customer_codes[0]
    if code not in ctx.user.customer_codes:
        code = ctx.user.customer_codes[0]
    place = await clustering.place_of_customer(ctx.services.backend, code)
    if place is None:
        return None
    counted = await count(ctx, place, source="text", customer_code=code)
    if counted.incident is None:
        return None
    return [clustering.known_reply(ctx.services.texts, ctx.user.language, counted.incident)]


@router.button(clustering.SUBSCRIBE_PAYLOAD)
async def tell_me(ctx: Context) -> list[Reply]:
    """🔔 Báo tôi khi có điện lại."""
    incident_id = id_arg(ctx.arg or "")
    incident = None
    if incident_id is not None:
        incident = await decisions.subscribe(ctx.session, incident_id, ctx.user, ctx.now())
    buttons = ((home_button(ctx),),)
    if incident is None:
        return [Reply(text=ctx.t("unknown.text"), buttons=buttons)]
    area = clustering.area_words(incident)
    if incident.status in clustering.OPEN:
        return [Reply(text=ctx.t("incidents.subscribed", area=area), buttons=buttons)]
    return [Reply(text=ctx.t("incidents.subscribe_closed", area=area), buttons=buttons)]
