"""Checks a form declares (`checks:` in domain.yml), run as soon as an answer they read
is given. Each check names the field types it understands; the loader refuses one
declared on a field of another type.

`known_outage`: the customer reporting an outage is told at once when the place they
named is in an outage we already know of (planned, or an incident being repaired), or
in a suspected incident its neighbours' reports opened (issue 19, bot/outages/).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.core.context import Context
from bot.core.fmt import clock, day
from bot.core.messages import Reply
from bot.outages import clustering


@dataclass(frozen=True)
class Place:
    """Where an answer says the customer is: a province and, when known, its ward."""

    province: int
    ward: int | None
    name: str  # the ward's name, as the customer reads it


PlaceOf = Callable[[Context, Any], Awaitable[Place | None]]


async def _contract_place(ctx: Context, code: Any) -> Place | None:
    customer = await ctx.services.backend.customer(str(code))
    if customer is None:
        return None
    return Place(customer.province_code, customer.ward_code, customer.ward_name)


async def _address_place(ctx: Context, address: Any) -> Place | None:
    return Place(address["province_code"], address["ward_code"], address["ward"])


async def _location_place(ctx: Context, where: Any) -> Place | None:
    # No ward boundaries here: the ward of the nearest payment point stands in.
    near = await ctx.services.backend.payment_points_near(where["lat"], where["lon"], limit=1)
    return Place(near[0].province_code, near[0].ward_code, near[0].ward_name) if near else None


# How an answer of each type names a place.
_PLACES: dict[str, PlaceOf] = {
    "customer_code": _contract_place,
    "address": _address_place,
    "location": _location_place,
}


async def place_of(ctx: Context, kind: str, value: Any) -> Place | None:
    """The place an answer of type `kind` (customer_code, address, location) names."""
    return await _PLACES[kind](ctx, value)


async def known_outage(ctx: Context, kind: str, value: Any) -> Reply | None:
    """The outage going on now at the place the answer names, if we know of one."""
    place = await _PLACES[kind](ctx, value)
    if place is None:
        return None
    now = ctx.now()
    found = await ctx.services.backend.outages(
        place.province, place.ward, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    current = [o for o in found if o.start_at <= now <= o.end_at]
    if not current:
        return await _suspected_incident(ctx, place)
    outage = current[0]
    key = "services.incident_known" if outage.kind == "incident" else "services.outage_known"
    return Reply(
        text=ctx.t(
            key,
            area=place.name[:1].lower() + place.name[1:],
            start=clock(outage.start_at),
            end=clock(outage.end_at),
            day=day(outage.end_at),
            reason=outage.reason,
        )
    )


async def _suspected_incident(ctx: Context, place: Place) -> Reply | None:
    """Many neighbours already reported it (issue 19): said at once as well; the 🔔
    button comes with the answer to the report, not in the middle of the form."""
    incident = await clustering.open_incident_at(ctx.session, place.province, place.ward)
    if incident is None:
        return None
    return Reply(text=clustering.known_reply(ctx.services.texts, ctx.user.language, incident).text)


@dataclass(frozen=True)
class Check:
    """A check forms may declare: the field types it reads, and what it says (or None)
    about an answer of one of them."""

    reads: frozenset[str]
    run: Callable[[Context, str, Any], Awaitable[Reply | None]]


CHECKS: dict[str, Check] = {
    "known_outage": Check(frozenset(_PLACES), known_outage),
}
