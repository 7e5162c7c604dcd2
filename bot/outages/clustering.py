"""Outage report clustering (issue 19): counting reports by area and opening a suspected
incident when enough different chats report an outage nobody announced.

An area is a managing unit's ward (`ReportPlace.key`). Every report is kept (nothing is
lost); a chat counts once however many it sends. The area's `ReportArea` row is locked
(SELECT … FOR UPDATE on PostgreSQL; SQLite writes one transaction at a time) while a
report is counted, so two processes cannot both open the area's incident, nor both count
below the threshold and miss it. When one opens, the earlier reporters are told through
the outbox in the same transaction; the reporter who tipped it over, and every later
one while it is open, reads it in the answer to their report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.live import LiveFeed
from bot.core.messages import Button, Reply
from bot.core.texts import Texts
from bot.notify import outbox
from bot.notify.outbox import Addressee
from bot.notify.segments import Area, in_sentence
from bot.store.backend import UtilityBackend
from bot.store.models import ChatUser, OutageReport, ReportArea, SuspectedIncident

log = logging.getLogger(__name__)

SUBSCRIBE_PAYLOAD = "incsub"  # "incsub:<incident id>": 🔔 Báo tôi khi có điện lại
OPEN = ("open", "confirmed")  # an incident reporters are still told about
STAFF_EVENT = "incidents"  # the live event open consoles refresh their list on


@dataclass(frozen=True)
class ReportPlace:
    """Where a report counts: the managing unit ("" when the area has several or none
    known) and the ward (None: the province)."""

    unit_code: str
    province_code: int
    ward_code: int | None
    ward_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.unit_code or '-'}:{self.province_code}:{self.ward_code or 0}"


@dataclass(frozen=True)
class Counted:
    """What counting a report found: the suspected incident of its area (None: none
    open, or a known outage covers the area) and whether this report opened it."""

    incident: SuspectedIncident | None
    opened: bool = False


@dataclass(frozen=True)
class Clustering:
    """The settings counting reads (CSKH_INCIDENT_*)."""

    threshold: int
    window: timedelta

    @classmethod
    def of(cls, settings: Any) -> Clustering:
        return cls(settings.incident_threshold, timedelta(minutes=settings.incident_window_minutes))


async def place_of_customer(backend: UtilityBackend, code: str) -> ReportPlace | None:
    """A customer code's place: its managing unit (the code's first 6 characters) and ward."""
    customer = await backend.customer(code)
    if customer is None:
        return None
    return ReportPlace(
        customer.unit_code or code[:6],
        customer.province_code,
        customer.ward_code,
        customer.ward_name,
    )


async def place_of_area(
    backend: UtilityBackend, province_code: int, ward_code: int | None, ward_name: str
) -> ReportPlace:
    """A ward named by a customer who gave no code: the unit serving it, when one does."""
    unit = await backend.area_unit(province_code, ward_code)
    return ReportPlace(unit or "", province_code, ward_code, ward_name)


def area_words(place: ReportPlace | SuspectedIncident) -> str:
    """'phường Hội An', as a sentence names the area."""
    try:
        return Area(place.province_code, place.ward_code).in_sentence
    except (ValueError, KeyError):  # a code vietnam-provinces does not know
        return in_sentence(place.ward_name) or str(place.province_code)


async def _locked_area(session: AsyncSession, place: ReportPlace) -> ReportArea:
    """The area's row, made when it is new, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    await session.execute(
        module.insert(ReportArea)
        .values(
            key=place.key,
            unit_code=place.unit_code,
            province_code=place.province_code,
            ward_code=place.ward_code,
            ward_name=place.ward_name,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    area = await session.scalar(
        select(ReportArea)
        .where(ReportArea.key == place.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert area is not None
    return area


async def _known_outage(backend: UtilityBackend, place: ReportPlace, now: datetime) -> bool:
    """Whether a planned outage or an announced incident covers the area now."""
    found = await backend.outages(
        place.province_code, place.ward_code, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    return any(o.start_at <= now <= o.end_at and o.status != "cancelled" for o in found)


async def open_incident_of(session: AsyncSession, place: ReportPlace) -> SuspectedIncident | None:
    """The suspected incident open (or confirmed) in the area now, if there is one."""
    return await session.scalar(
        select(SuspectedIncident)
        .where(SuspectedIncident.area_key == place.key, SuspectedIncident.status.in_(OPEN))
        .order_by(SuspectedIncident.id.desc())
        .limit(1)
    )


async def open_incident_at(
    session: AsyncSession, province_code: int, ward_code: int | None
) -> SuspectedIncident | None:
    """The suspected incident open in a ward, whatever unit's (a customer who names the
    ward, not a code, does not know which unit serves them)."""
    ward = (
        SuspectedIncident.ward_code.is_(None)
        if ward_code is None
        else SuspectedIncident.ward_code == ward_code
    )
    return await session.scalar(
        select(SuspectedIncident)
        .where(
            SuspectedIncident.province_code == province_code,
            ward,
            SuspectedIncident.status.in_(OPEN),
        )
        .order_by(SuspectedIncident.id.desc())
        .limit(1)
    )


async def record_report(
    session: AsyncSession,
    backend: UtilityBackend,
    texts: Texts,
    rules: Clustering,
    *,
    chat_user: ChatUser,
    place: ReportPlace,
    now: datetime,
    source: str,
    request_id: int | None = None,
    customer_code: str | None = None,
    live: LiveFeed | None = None,
) -> Counted:
    """Keep one report and count its area, in the caller's transaction (see the module)."""
    area = await _locked_area(session, place)
    report = OutageReport(
        area_key=place.key,
        chat_user_id=chat_user.id,
        request_id=request_id,
        customer_code=customer_code,
        source=source,
        reported_at=now,
    )
    session.add(report)
    if area.open_incident_id is not None:
        incident = await session.get(SuspectedIncident, area.open_incident_id)
        if incident is not None and incident.status in OPEN:
            report.incident_id = incident.id
            await session.flush()
            return Counted(incident)
        area.open_incident_id = None  # closed meanwhile by another way: count afresh
    await session.flush()
    if await _known_outage(backend, place, now):
        return Counted(None)  # the known outage is said at once (checks.known_outage)
    since = now - rules.window
    if area.counted_from is not None and area.counted_from > since:
        since = area.counted_from
    counted = (
        OutageReport.area_key == place.key,
        OutageReport.reported_at >= since,
        OutageReport.incident_id.is_(None),
    )
    reporters = await session.scalar(
        select(func.count(distinct(OutageReport.chat_user_id))).where(*counted)
    )
    if (reporters or 0) < rules.threshold:
        return Counted(None)
    first = await session.scalar(select(func.min(OutageReport.reported_at)).where(*counted))
    incident = SuspectedIncident(
        area_key=place.key,
        unit_code=place.unit_code,
        province_code=place.province_code,
        ward_code=place.ward_code,
        ward_name=place.ward_name,
        status="open",
        first_report_at=first or now,
        opened_at=now,
        reporters_at_opening=int(reporters or 0),
    )
    session.add(incident)
    await session.flush()
    await session.execute(
        update(OutageReport)
        .where(*counted)
        .values(incident_id=incident.id)
        .execution_options(synchronize_session=False)
    )
    report.incident_id = incident.id
    area.open_incident_id = incident.id
    told = await tell_reporters(
        session, texts, incident, "known", now=now, leave_out={chat_user.id}
    )
    log.warning(
        "suspected incident %s opened in %s (%s): %s reporters since %s; %s told",
        incident.id,
        place.key,
        area_words(place),
        reporters,
        fmt.clock(incident.first_report_at),
        told,
    )
    if live is not None:
        live.after_commit(session, {"type": STAFF_EVENT, "incident": incident.id})
    return Counted(incident, opened=True)


def known_reply(texts: Texts, lang: str, incident: SuspectedIncident) -> Reply:
    """'Điện lực đã ghi nhận sự cố…' with the first report's time and 🔔 under it."""
    return Reply(
        text=_known_text(texts, lang, incident),
        buttons=(
            (
                Button(
                    texts.get("incidents.tell_me", lang),
                    payload=f"{SUBSCRIBE_PAYLOAD}:{incident.id}",
                ),
            ),
            (Button(texts.get("menu.home", lang), payload="menu"),),
        ),
    )


def _known_text(texts: Texts, lang: str, incident: SuspectedIncident) -> str:
    return texts.get(
        "incidents.known",
        lang,
        area=area_words(incident),
        time=fmt.clock(incident.first_report_at),
        day=fmt.day(incident.first_report_at),
    )


async def reporters_of(session: AsyncSession, incident_id: int) -> list[ChatUser]:
    """The chats that reported into the incident, each once, by id."""
    return list(
        await session.scalars(
            select(ChatUser)
            .where(
                ChatUser.id.in_(
                    select(OutageReport.chat_user_id).where(OutageReport.incident_id == incident_id)
                )
            )
            .order_by(ChatUser.id)
        )
    )


async def tell_reporters(
    session: AsyncSession,
    texts: Texts,
    incident: SuspectedIncident,
    kind: str,
    *,
    now: datetime,
    people: list[ChatUser] | None = None,
    leave_out: set[int] = frozenset(),  # type: ignore[assignment]
    moment: datetime | None = None,
) -> int:
    """One outbox row per reporter (or `people`) for the incident's notice `kind`
    ("known", "dismissed", "restored"): the key "incident:<id>:<kind>" and the outbox's
    (notice, chat) uniqueness make sure nobody reads it twice. Service category: an
    answer to the customer's own report, delivered even with outage notices off."""
    people = await reporters_of(session, incident.id) if people is None else people
    notice = await outbox.notice_for(
        session,
        f"incident:{incident.id}:{kind}",
        kind=f"incident_{kind}",
        category=outbox.SERVICE,
        urgent=True,
        meta={"incident_id": incident.id},
    )
    addressees = []
    for person in people:
        if person.id in leave_out:
            continue
        lang = person.language
        if kind == "known":
            replies = [known_reply(texts, lang, incident)]
        else:
            text = texts.get(
                f"incidents.{kind}",
                lang,
                area=area_words(incident),
                moment=texts.get(
                    "notify.moment",
                    lang,
                    time=fmt.clock(moment or now),
                    date=fmt.day(moment or now),
                ),
            )
            replies = [Reply(text=text)]
        addressees.append(Addressee(person, replies))
    written = await outbox.enqueue(session, notice, addressees, now=now, not_before=now)
    return len(written)
