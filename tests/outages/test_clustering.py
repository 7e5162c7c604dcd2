"""Outage reports counted by area (issue 19): distinct chats, the window, a known outage,
the suspected incident opened once, its reporters told through the outbox, and what
operations decide (confirm, dismiss, restored) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.notify.outages import create_outage
from bot.notify.outbox import replies_of
from bot.notify.segments import Area
from bot.outages import clustering, decisions
from bot.outages.clustering import Clustering, Counted, ReportPlace
from bot.store import requests as service_requests
from bot.store.models import ChatUser, Delivery, OutageReport, ServiceRequest, SuspectedIncident
from tests.notify.conftest import HAI_CHAU, HOI_AN, NOW, World

RULES = Clustering(threshold=4, window=timedelta(minutes=15))
UNIT = "PC05CC"


def hoi_an() -> ReportPlace:
    return ReportPlace(UNIT, 48, HOI_AN, "Phường Hội An")


async def report(
    world: World,
    user: ChatUser,
    *,
    minutes: float = 0,
    place: ReportPlace | None = None,
    with_request: bool = False,
) -> Counted:
    now = NOW + timedelta(minutes=minutes)
    async with world.db.transaction() as session:
        chat = await session.get(ChatUser, user.id)
        assert chat is not None
        request_id = None
        if with_request:
            request = await service_requests.create_request(
                session,
                chat_user_id=chat.id,
                form_id="report_outage",
                customer_code=None,
                data={},
                attachments=[],
                urgent=True,
                now=now,
            )
            await session.flush()
            request_id = request.id
        return await clustering.record_report(
            session,
            world.backend,
            world.texts,
            RULES,
            chat_user=chat,
            place=place or hoi_an(),
            now=now,
            source="form",
            request_id=request_id,
        )


async def chats(world: World, count: int, prefix: str = "r") -> list[ChatUser]:
    return [await world.chat(f"{prefix}{n}", activated=False) for n in range(count)]


async def texts_to(world: World, key: str) -> dict[int, str]:
    return {row.chat_user_id: replies_of(row)[0].text for row in await world.rows(key)}


async def test_the_fourth_neighbour_opens_the_incident_and_the_first_three_are_told(
    world: World,
) -> None:
    people = await chats(world, 4)
    for minute, person in zip((0, 3, 6), people, strict=False):
        assert (await report(world, person, minutes=minute)).incident is None
    opened = await report(world, people[3], minutes=9)
    assert opened.opened and opened.incident is not None
    incident = opened.incident
    assert incident.first_report_at == NOW and incident.reporters_at_opening == 4
    told = await texts_to(world, f"incident:{incident.id}:known")
    # The one who tipped it over reads it in the answer to their report, not twice.
    assert set(told) == {p.id for p in people[:3]}
    text = next(iter(told.values()))
    assert text.startswith("⚡ Điện lực đã ghi nhận sự cố mất điện khu vực phường Hội An")
    assert "15:00 26/11/2026" in text  # the first report, Vietnam time
    (row, *_) = await world.rows(f"incident:{incident.id}:known")
    assert replies_of(row)[0].buttons[0][0].title == "🔔 Báo tôi khi có điện lại"
    # A later reporter joins it and is told at once; no second incident.
    late = await world.chat("late", activated=False)
    again = await report(world, late, minutes=40)
    assert again.incident is not None and again.incident.id == incident.id and not again.opened


async def test_a_flood_from_one_chat_counts_once_and_is_kept(world: World) -> None:
    flooder, *others = await chats(world, 3)
    for minute in range(10):
        assert (await report(world, flooder, minutes=minute / 2)).incident is None
    for person in others:
        assert (await report(world, person, minutes=6)).incident is None
    async with world.db.reading() as session:
        kept = list(await session.scalars(select(OutageReport)))
        assert len(kept) == 12  # nothing lost
        assert not list(await session.scalars(select(SuspectedIncident)))


async def test_reports_outside_the_window_or_in_another_ward_do_not_add_up(world: World) -> None:
    people = await chats(world, 4)
    for minute, person in zip((0, 16, 32, 48), people, strict=True):
        assert (await report(world, person, minutes=minute)).incident is None
    hai_chau = ReportPlace(UNIT, 48, HAI_CHAU, "Phường Hải Châu")
    others = await chats(world, 3, prefix="h")
    for person in others:
        assert (await report(world, person, minutes=50, place=hai_chau)).incident is None
    assert (await report(world, people[0], minutes=52, place=hai_chau)).incident is not None


async def test_an_announced_outage_opens_no_suspected_incident(world: World) -> None:
    await world.customer("PC05CC0000001")
    async with world.db.transaction() as session:
        await create_outage(
            session,
            world.texts,
            backend=world.backend,
            area=Area(48, HOI_AN),
            start=NOW - timedelta(hours=1),
            end=NOW + timedelta(hours=3),
            reason="Sửa chữa đường dây",
            kind="incident",
            now=NOW,
            notice_days=5,
        )
    for person in await chats(world, 6):
        assert (await report(world, person, minutes=1)).incident is None


async def test_dismissed_reporters_hear_it_is_checked_and_old_reports_do_not_reopen_it(
    world: World,
) -> None:
    people = await chats(world, 4)
    for person in people:
        counted = await report(world, person, minutes=1)
    assert counted.incident is not None
    incident_id = counted.incident.id
    async with world.db.transaction() as session:
        await decisions.dismiss(
            session, incident_id, world.texts, now=NOW + timedelta(minutes=5), staff="lan"
        )
    told = await texts_to(world, f"incident:{incident_id}:dismissed")
    assert set(told) == {p.id for p in people}
    assert "kiểm tra riêng" in next(iter(told.values()))
    # The same four neighbours once more, within the old window: counted from the
    # dismissal, so one report alone does not reopen it.
    assert (await report(world, people[0], minutes=6)).incident is None
    async with world.db.transaction() as session:
        with pytest.raises(decisions.IncidentError, match="dismissed"):
            await decisions.restored(
                session, incident_id, world.texts, backend=world.backend, now=NOW, staff="lan"
            )


async def test_restored_tells_reporters_and_subscribers_once_and_closes_their_requests(
    world: World,
) -> None:
    people = await chats(world, 4)
    for person in people:
        counted = await report(world, person, minutes=1, with_request=True)
    assert counted.incident is not None
    incident_id = counted.incident.id
    neighbour = await world.chat("neighbour", activated=False)  # tapped 🔔 from a check
    async with world.db.transaction() as session:
        chat = await session.get(ChatUser, neighbour.id)
        assert chat is not None
        for _ in range(2):
            await decisions.subscribe(session, incident_id, chat, NOW)
    back = NOW + timedelta(minutes=50)
    async with world.db.transaction() as session:
        made = await decisions.restored(
            session, incident_id, world.texts, backend=world.backend, now=back, staff="lan"
        )
    assert made.told == 5 and made.closed == 4
    told = await texts_to(world, f"incident:{incident_id}:restored")
    assert set(told) == {*(p.id for p in people), neighbour.id}
    assert told[neighbour.id].startswith("✅ Điện đã có lại tại khu vực phường Hội An từ 15:50")
    async with world.db.reading() as session:
        requests = list(await session.scalars(select(ServiceRequest)))
        assert {r.status for r in requests} == {"done"}
        assert all("Điện đã có lại lúc 15:50" in (r.events[-1].note or "") for r in requests)
    async with world.db.transaction() as session:
        with pytest.raises(decisions.IncidentError, match="already"):
            await decisions.restored(
                session, incident_id, world.texts, backend=world.backend, now=back, staff="lan"
            )
        with pytest.raises(decisions.IncidentError, match="no suspected incident 999"):
            await decisions.restored(
                session, 999, world.texts, backend=world.backend, now=back, staff="lan"
            )
    assert len(await world.rows(f"incident:{incident_id}:restored")) == 5  # nobody twice


async def test_a_confirmed_incident_is_announced_to_the_area_and_restored_once_per_chat(
    world: World,
) -> None:
    await world.customer("PC05CC0000001")
    await world.customer("PC05CC0000002")
    linked = await world.chat("linked", "PC05CC0000001")  # in the area, did not report
    people = await chats(world, 3)
    reporter_linked = await world.chat("linked2", "PC05CC0000002")
    for person in [*people, reporter_linked]:
        counted = await report(world, person, minutes=2)
    assert counted.incident is not None
    incident_id = counted.incident.id
    async with world.db.transaction() as session:
        made = await decisions.confirm(
            session,
            incident_id,
            world.texts,
            backend=world.backend,
            now=NOW + timedelta(minutes=10),
            expected_hours=4,
            notice_days=5,
            staff="lan",
        )
        outage_id = made.incident.outage_id
    assert outage_id is not None
    announced = await world.rows(f"outage:{outage_id}:incident")
    assert {row.chat_user_id for row in announced} == {linked.id, reporter_linked.id}
    async with world.db.transaction() as session:
        with pytest.raises(decisions.IncidentError, match="confirmed, not open"):
            await decisions.dismiss(session, incident_id, world.texts, now=NOW, staff="lan")
    # The worker sent the incident notice: restored reaches those chats by the outage's
    # notice, the other reporters by the incident's, nobody both.
    async with world.db.transaction() as session:
        for row in await session.scalars(select(Delivery)):
            row.status = "sent"
    async with world.db.transaction() as session:
        await decisions.restored(
            session,
            incident_id,
            world.texts,
            backend=world.backend,
            now=NOW + timedelta(hours=1),
            staff="lan",
        )
    by_outage = {r.chat_user_id for r in await world.rows(f"outage:{outage_id}:restored")}
    by_incident = {r.chat_user_id for r in await world.rows(f"incident:{incident_id}:restored")}
    assert by_outage == {linked.id, reporter_linked.id}
    assert by_incident == {p.id for p in people}


async def test_reports_counted_at_once_in_several_transactions_open_one_incident(
    world: World,
) -> None:
    """Eight reporters at the same moment, each in a transaction of its own (processes
    on PostgreSQL): the area's row lock lets exactly one of them open it."""
    people = await chats(world, 8)
    results = await asyncio.gather(*(report(world, person, minutes=1) for person in people))
    opened = [r for r in results if r.opened]
    assert len(opened) == 1
    assert sum(1 for r in results if r.incident is not None) == 5  # the 4th to the 8th
    async with world.db.reading() as session:
        assert len(list(await session.scalars(select(SuspectedIncident)))) == 1
