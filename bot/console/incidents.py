"""Suspected incidents (issue 19): the areas where many customers reported an outage
nobody announced, for operations to confirm (an incident notice for the whole area),
dismiss (the reports are checked one by one) or mark restored. The same decisions as
`cskh incidents` (bot/outages/decisions.py)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.auth.audit import record_staff
from bot.console.access import OPERATIONS, Pages
from bot.console.base import console_of, int_or_none, redirect, staff_of
from bot.outages import decisions
from bot.store.db import AFTER_COMMIT

log = logging.getLogger(__name__)

pages = Pages()

STATUSES = {
    "open": "Chờ xác minh",
    "confirmed": "Đã xác nhận sự cố",
    "dismissed": "Không phải sự cố chung",
    "restored": "Đã có điện lại",
}
DONE = {
    "confirm": "Đã xác nhận sự cố và gửi thông báo cho khách hàng trong khu vực.",
    "dismiss": "Đã bỏ qua: khách hàng đã báo được thông báo sẽ kiểm tra riêng từng trường hợp.",
    "restored": "Đã ghi nhận có điện lại: khách hàng đã báo được thông báo, yêu cầu đã đóng.",
}


@pages.get("/console/incidents", OPERATIONS)
async def incidents_page(request: web.Request) -> web.StreamResponse:
    """Open and confirmed suspected incidents first, then the closed ones."""
    return await _page(request)


async def _page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    console = console_of(request)
    async with console.services.db.reading() as session:
        current = await decisions.list_incidents(session, statuses=("open", "confirmed"))
        closed = await decisions.list_incidents(
            session, statuses=("dismissed", "restored"), limit=50
        )
    return console.render(
        request,
        "incidents.html",
        status=status,
        current=current,
        closed=closed,
        statuses=STATUSES,
        notice=DONE.get(request.query.get("ok", ""), ""),
        error=error,
    )


@pages.post("/console/incidents/{incident_id:\\d+}/confirm", OPERATIONS)
async def confirm(request: web.Request) -> web.StreamResponse:
    """An incident: an outage notice for the whole area."""
    return await _decide(request, "confirm")


@pages.post("/console/incidents/{incident_id:\\d+}/dismiss", OPERATIONS)
async def dismiss(request: web.Request) -> web.StreamResponse:
    """No general outage: the reports are checked one by one."""
    return await _decide(request, "dismiss")


@pages.post("/console/incidents/{incident_id:\\d+}/restored", OPERATIONS)
async def restored(request: web.Request) -> web.StreamResponse:
    """Power is back: reporters and subscribers told, their requests closed."""
    return await _decide(request, "restored")


async def _decide(request: web.Request, decision: str) -> web.StreamResponse:
    """Confirm, dismiss or mark restored; a decision already taken is explained."""
    console, staff = console_of(request), staff_of(request)
    incident_id = int_or_none(request.match_info["incident_id"]) or 0
    services, now = console.services, console.now
    try:
        async with services.db.transaction() as session:
            if decision == "confirm":
                made = await decisions.confirm(
                    session,
                    incident_id,
                    services.texts,
                    backend=services.backend,
                    now=now,
                    expected_hours=services.settings.incident_expected_hours,
                    notice_days=services.settings.outage_notice_days,
                    staff=staff.username,
                )
            elif decision == "dismiss":
                made = await decisions.dismiss(
                    session, incident_id, services.texts, now=now, staff=staff.username
                )
            else:
                made = await decisions.restored(
                    session,
                    incident_id,
                    services.texts,
                    backend=services.backend,
                    now=now,
                    staff=staff.username,
                )
            record_staff(
                session,
                f"incident_{decision}",
                staff.username,
                subject=f"incident:{incident_id}",
                told=made.told,
            )
            worker = services.pusher.worker
            if worker is not None:  # this process's worker sends the rows once they commit
                session.info.setdefault(AFTER_COMMIT, []).append(worker.wake)
    except decisions.IncidentError as error:
        return await _page(request, error=_in_vietnamese(str(error)), status=400)
    return redirect(f"/console/incidents?ok={decision}")


def _in_vietnamese(error: str) -> str:
    """The staff's sentence for a decision refused (another staff member was faster)."""
    if "no suspected incident" in error:
        return "Không có sự cố nghi ngờ này."
    if "dismissed" in error:
        return "Sự cố này đã được bỏ qua trước đó."
    if "restored" in error:
        return "Sự cố này đã được ghi nhận có điện lại trước đó."
    if "confirmed" in error:
        return "Sự cố này đã được xác nhận trước đó."
    return error
