"""What operations decide about a suspected incident (`cskh incidents`, the console):
confirm it (an incident notice for the whole area, through the outage notices), dismiss
it (its reporters are told their reports are checked one by one), or mark the power
restored (every reporter and subscriber told once, their report requests closed).

Each runs in the caller's transaction with the incident's row locked, so two staff
members deciding at once do not both send; a decision that cannot be made raises
`IncidentError` with a sentence for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.texts import Texts
from bot.notify.outages import create_outage, power_restored
from bot.notify.segments import Area
from bot.outages.clustering import OPEN, area_words, reporters_of, tell_reporters
from bot.store import requests as service_requests
from bot.store.backend import UtilityBackend
from bot.store.models import (
    ChatUser,
    Delivery,
    IncidentSubscriber,
    Notice,
    OutageReport,
    ReportArea,
    ServiceRequest,
    SuspectedIncident,
)

log = logging.getLogger(__name__)

STATUSES = ("open", "confirmed", "dismissed", "restored")


class IncidentError(ValueError):
    """A decision that cannot be made (unknown incident, already closed…)."""


@dataclass(frozen=True)
class IncidentRow:
    """A suspected incident as staff list it."""

    id: int
    status: str
    area: str
    area_key: str
    unit_code: str
    first_report_at: datetime
    opened_at: datetime
    reporters: int
    subscribers: int
    outage_id: int | None


@dataclass(frozen=True)
class Decided:
    """What a decision did: the incident, how many chats were told, requests closed."""

    incident: SuspectedIncident
    told: int
    closed: int = 0


async def list_incidents(
    session: AsyncSession, *, statuses: tuple[str, ...] = OPEN, limit: int = 100
) -> list[IncidentRow]:
    """Newest first, with their reporters and subscribers counted."""
    incidents = list(
        await session.scalars(
            select(SuspectedIncident)
            .where(SuspectedIncident.status.in_(statuses))
            .order_by(SuspectedIncident.id.desc())
            .limit(limit)
        )
    )
    ids = [incident.id for incident in incidents]
    reporters: dict[int, int] = {}
    subscribers: dict[int, int] = {}
    for counts, query in (
        (
            reporters,
            select(OutageReport.incident_id, func.count(distinct(OutageReport.chat_user_id)))
            .where(OutageReport.incident_id.in_(ids))
            .group_by(OutageReport.incident_id),
        ),
        (
            subscribers,
            select(IncidentSubscriber.incident_id, func.count())
            .where(IncidentSubscriber.incident_id.in_(ids))
            .group_by(IncidentSubscriber.incident_id),
        ),
    ):
        for incident_id, count in await session.execute(query):
            counts[int(incident_id or 0)] = int(count)
    return [
        IncidentRow(
            incident.id,
            incident.status,
            area_words(incident),
            incident.area_key,
            incident.unit_code,
            incident.first_report_at,
            incident.opened_at,
            int(reporters.get(incident.id, 0)),
            int(subscribers.get(incident.id, 0)),
            incident.outage_id,
        )
        for incident in incidents
    ]


async def _locked(session: AsyncSession, incident_id: int) -> SuspectedIncident:
    incident = await session.scalar(
        select(SuspectedIncident)
        .where(SuspectedIncident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise IncidentError(f"no suspected incident {incident_id}")
    return incident


async def _release_area(session: AsyncSession, incident: SuspectedIncident, now: datetime) -> None:
    """The area counts afresh from now: older reports belong to the closed incident."""
    area = await session.scalar(
        select(ReportArea).where(ReportArea.key == incident.area_key).with_for_update()
    )
    if area is not None:
        if area.open_incident_id == incident.id:
            area.open_incident_id = None
        area.counted_from = now


async def confirm(
    session: AsyncSession,
    incident_id: int,
    texts: Texts,
    *,
    backend: UtilityBackend,
    now: datetime,
    expected_hours: int,
    notice_days: int,
    staff: str,
) -> Decided:
    """An incident outage for the whole area, from the first report, announced by the
    outage notices (every chat linked to a customer there)."""
    incident = await _locked(session, incident_id)
    if incident.status != "open":
        raise IncidentError(f"suspected incident {incident_id} is {incident.status}, not open")
    made = await create_outage(
        session,
        texts,
        backend=backend,
        area=Area(incident.province_code, incident.ward_code),
        start=min(incident.first_report_at, now),
        end=now + timedelta(hours=expected_hours),
        reason=texts.get("incidents.reason", "vi"),
        kind="incident",
        now=now,
        notice_days=notice_days,
        created_by=staff,
    )
    incident.status = "confirmed"
    incident.outage_id = made.outage_id
    incident.decided_by, incident.decided_at = staff, now
    told = made.notice.recipients if made.notice else 0
    log.info("suspected incident %s confirmed: outage %s", incident_id, made.outage_id)
    return Decided(incident, told)


async def dismiss(
    session: AsyncSession, incident_id: int, texts: Texts, *, now: datetime, staff: str
) -> Decided:
    """Not a general outage: reporters are told each report is checked on its own (their
    requests stay open in the queue)."""
    incident = await _locked(session, incident_id)
    if incident.status != "open":
        raise IncidentError(f"suspected incident {incident_id} is {incident.status}, not open")
    incident.status = "dismissed"
    incident.decided_by, incident.decided_at = staff, now
    await _release_area(session, incident, now)
    told = await tell_reporters(session, texts, incident, "dismissed", now=now)
    log.info("suspected incident %s dismissed by %s; %s told", incident_id, staff, told)
    return Decided(incident, told)


async def restored(
    session: AsyncSession,
    incident_id: int,
    texts: Texts,
    *,
    backend: UtilityBackend,
    now: datetime,
    staff: str,
    at: datetime | None = None,
) -> Decided:
    """Power is back: every reporter and subscriber is told once (a confirmed incident's
    outage notice tells the area; those it reached are not told twice), and the open
    report requests of its reporters are closed with a status note."""
    incident = await _locked(session, incident_id)
    if incident.status == "restored":
        raise IncidentError(f"suspected incident {incident_id} was already marked restored")
    if incident.status == "dismissed":
        raise IncidentError(f"suspected incident {incident_id} was dismissed; nothing to restore")
    at = at or now
    if at > now:
        raise IncidentError("the power cannot be back in the future")
    if at < incident.first_report_at:
        raise IncidentError(
            f"the power went out at {fmt.clock(incident.first_report_at)} "
            f"{fmt.day(incident.first_report_at)} at the earliest"
        )
    reached: set[int] = set()
    told = 0
    if incident.outage_id is not None:
        made = await power_restored(
            session, incident.outage_id, texts, backend=backend, now=now, at=at
        )
        told += made.recipients
        reached = set(
            await session.scalars(
                select(Delivery.chat_user_id).where(Delivery.notice_id == made.notice_id)
            )
        )
    incident.status = "restored"
    incident.restored_at = at
    incident.decided_by = incident.decided_by or staff
    incident.decided_at = incident.decided_at or now
    await _release_area(session, incident, now)
    people = {p.id: p for p in await reporters_of(session, incident.id)}
    subscribed = await session.scalars(
        select(ChatUser)
        .join(IncidentSubscriber, IncidentSubscriber.chat_user_id == ChatUser.id)
        .where(IncidentSubscriber.incident_id == incident.id)
    )
    for person in subscribed:
        people.setdefault(person.id, person)
    told += await tell_reporters(
        session,
        texts,
        incident,
        "restored",
        now=now,
        people=[people[key] for key in sorted(people)],
        leave_out=reached,
        moment=at,
    )
    closed = await _close_requests(session, texts, incident, at=at, now=now, staff=staff)
    log.info("suspected incident %s restored; %s told, %s closed", incident_id, told, closed)
    return Decided(incident, told, closed)


async def _close_requests(
    session: AsyncSession,
    texts: Texts,
    incident: SuspectedIncident,
    *,
    at: datetime,
    now: datetime,
    staff: str,
) -> int:
    """The reporters' report requests still open, done with a note saying why (the
    restored message already told them: no second message)."""
    requests = list(
        await session.scalars(
            select(ServiceRequest).where(
                ServiceRequest.id.in_(
                    select(OutageReport.request_id).where(
                        OutageReport.incident_id == incident.id,
                        OutageReport.request_id.is_not(None),
                    )
                ),
                ServiceRequest.status.in_(service_requests.OPEN_STATUSES),
            )
        )
    )
    note = texts.get(
        "incidents.request_closed",
        "vi",
        moment=texts.get("notify.moment", "vi", time=fmt.clock(at), date=fmt.day(at)),
        area=area_words(incident),
    )
    for request in requests:
        await service_requests.set_status(
            session, request.code, "done", note=note, actor=f"staff:{staff}", now=now
        )
    return len(requests)


async def subscribe(
    session: AsyncSession, incident_id: int, chat_user: ChatUser, now: datetime
) -> SuspectedIncident | None:
    """🔔 Báo tôi khi có điện lại: the chat is told when the incident is restored (once,
    however often it taps). None when the incident is unknown."""
    incident = await session.get(SuspectedIncident, incident_id)
    if incident is None:
        return None
    if incident.status in OPEN:
        exists = await session.scalar(
            select(IncidentSubscriber.id).where(
                IncidentSubscriber.incident_id == incident_id,
                IncidentSubscriber.chat_user_id == chat_user.id,
            )
        )
        if exists is None:
            try:  # a double tap in two processes: the unique pair keeps one
                async with session.begin_nested():
                    session.add(
                        IncidentSubscriber(
                            incident_id=incident_id, chat_user_id=chat_user.id, created_at=now
                        )
                    )
            except IntegrityError:
                pass
    return incident


async def notices_of(session: AsyncSession, incident_id: int) -> list[Notice]:
    """The incident's own notices (known, dismissed, restored), for the console."""
    return list(
        await session.scalars(
            select(Notice).where(Notice.key.startswith(f"incident:{incident_id}:"))
        )
    )
