"""Neighbours reporting one outage nobody announced (issue 19): the report that makes
five (CSKH_INCIDENT_THRESHOLD) opens a suspected incident and reads "Điện lực đã ghi
nhận…" with 🔔; a later neighbour hears it as soon as they name the ward, and 🔔 puts
them on the list."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import IncidentSubscriber, OutageReport, SuspectedIncident
from tests.drivers import Driver
from tests.handlers.rig import LightRig
from tests.handlers.test_anonymous_outage_report import finish

KNOWN = "⚡ Điện lực đã ghi nhận sự cố mất điện khu vực phường Pleiku, đang cử người xử lý."


async def report_from_pleiku(rig: LightRig, name: str) -> Driver:
    visitor = await rig.driver("rest", name)
    await visitor.say("mất điện rồi")
    await visitor.press("Địa chỉ khác")
    await visitor.say("15 Hùng Vương")
    await visitor.say("Pleiku")
    return visitor


async def test_the_fifth_report_from_a_ward_is_told_the_outage_is_known(rig: LightRig) -> None:
    for n in range(4):
        visitor = await report_from_pleiku(rig, f"pleiku-{n}")
        text = await finish(visitor)
        assert text.startswith("⚡ Báo mất điện YC-2026-") and KNOWN not in visitor.text
    fifth_reporter = await report_from_pleiku(rig, "pleiku-4")
    await finish(fifth_reporter)
    assert "⚡ Báo mất điện YC-2026-" in fifth_reporter.text  # still filed, and then:
    assert KNOWN in fifth_reporter.text
    assert "🔔 Báo tôi khi có điện lại" in fifth_reporter.button_titles
    await fifth_reporter.press("🔔 Báo tôi khi có điện lại")
    assert "✅ Khi điện có lại ở khu vực phường Pleiku" in fifth_reporter.text

    # A sixth neighbour is told as soon as the ward is named, before the form ends.
    sixth = await report_from_pleiku(rig, "pleiku-5")
    assert KNOWN in sixth.text
    async with rig.runtime.db.reading() as session:
        (incident,) = await session.scalars(select(SuspectedIncident))
        assert incident.status == "open" and incident.reporters_at_opening == 5
        reports = list(await session.scalars(select(OutageReport)))
        assert len(reports) == 5 and {r.incident_id for r in reports} == {incident.id}
        subscribed = list(await session.scalars(select(IncidentSubscriber)))
        assert len(subscribed) == 1
