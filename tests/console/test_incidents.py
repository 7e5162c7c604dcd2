"""The console's suspected incidents (issue 19): operations see the area, the reporters
and the first report's time, confirm one (an incident outage announced to the area),
mark it restored; a decision already taken by someone else is explained."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from bot.outages import clustering
from bot.outages.clustering import Clustering, ReportPlace
from bot.store.models import ChatUser, Outage, SuspectedIncident
from tests.console.staff import StaffClient
from tests.handlers.rig import Rig

Staff = Callable[[str], Awaitable[StaffClient]]
HOI_AN = ReportPlace("PC05CC", 48, 20410, "Phường Hội An")


async def four_reports(rig: Rig) -> int:
    services = rig.runtime.engine.services
    now = rig.clock.now()
    counted = None
    for n in range(4):
        async with rig.runtime.db.transaction() as session:
            chat = ChatUser(channel="rest", platform_user_id=f"reporter-{n}")
            session.add(chat)
            await session.flush()
            counted = await clustering.record_report(
                session,
                services.backend,
                services.texts,
                Clustering(4, timedelta(minutes=15)),
                chat_user=chat,
                place=HOI_AN,
                now=now + timedelta(minutes=n),
                source="form",
            )
    assert counted is not None and counted.incident is not None
    return counted.incident.id


async def test_operations_confirm_and_restore_a_suspected_incident(
    console_rig: Rig, staff: Staff
) -> None:
    incident_id = await four_reports(console_rig)
    ops = await staff("operations")
    status, page = await ops.get("/console/incidents")
    assert status == 200 and "Sự cố nghi ngờ" in page
    row = html.unescape(page.split(f"<td>{incident_id}</td>", 1)[1].split("</tr>", 1)[0])
    assert "phường Hội An" in row and "PC05CC" in row and "15:00 26/11/2026" in row
    assert "Chờ xác minh" in row
    status, page = await ops.post(f"/console/incidents/{incident_id}/confirm")
    assert status == 200 and "Đã xác nhận sự cố và gửi thông báo" in html.unescape(page)
    async with console_rig.runtime.db.reading() as session:
        incident = await session.get(SuspectedIncident, incident_id)
        assert incident is not None and incident.status == "confirmed"
        outage = await session.get(Outage, incident.outage_id)
        assert (
            outage is not None and outage.kind == "incident" and outage.created_by == "operations"
        )
    # Someone else already confirmed it: said in Vietnamese, nothing sent again.
    status, page = await ops.post(f"/console/incidents/{incident_id}/confirm")
    assert status == 400 and "Sự cố này đã được xác nhận trước đó." in html.unescape(page)
    status, page = await ops.post(f"/console/incidents/{incident_id}/restored")
    assert status == 200 and "Đã ghi nhận có điện lại" in html.unescape(page)
    async with console_rig.runtime.db.reading() as session:
        (incident,) = await session.scalars(select(SuspectedIncident))
        assert incident.status == "restored"
    status, page = await ops.post("/console/incidents/999/restored")
    assert status == 400 and "Không có sự cố nghi ngờ này." in html.unescape(page)


async def test_support_agents_do_not_reach_the_incident_decisions(
    console_rig: Rig, staff: Staff
) -> None:
    incident_id = await four_reports(console_rig)
    agent = await staff("agent")
    status, _ = await agent.post(f"/console/incidents/{incident_id}/dismiss")
    assert status == 403
    async with console_rig.runtime.db.reading() as session:
        incident = await session.get(SuspectedIncident, incident_id)
        assert incident is not None and incident.status == "open"
