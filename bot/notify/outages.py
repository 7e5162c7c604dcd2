"""Outage notices (issue 7): a planned outage announced days ahead and again the
evening before, an incident at once, ✅ power restored to the chats its notices reached.

Producers as in producers.py: each writes a `Notice` named by a key ("outage:7:planned",
"outage:7:eve", "outage:7:incident", "outage:7:restored") and one outbox row per chat
linked to a customer in the outage's areas, in the caller's transaction. Incidents and
power restored are urgent; planned notices wait out the quiet hours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.texts import Texts
from bot.notify import outbox
from bot.notify.outbox import Addressee
from bot.notify.producers import NoticeError, Produced, notice_reply, switch_off_row
from bot.notify.segments import Area, Linked, Segment, in_sentence, linked_users
from bot.store.backend import OutageAreaRecord, OutageRecord, UtilityBackend, outage_record
from bot.store.models import ChatUser, Delivery, Notice, Outage, OutageArea

log = logging.getLogger(__name__)

EVE_HOUR = time(18, 0)  # the evening-before reminder of a planned outage, local time
RESTORED_FROM = ("sent", "claimed", "sending")  # incident rows that (may) have arrived


@dataclass(frozen=True)
class OutageNotices:
    """What announcing an outage wrote: the notice (the first one of a planned
    outage, or the incident's) and the evening-before reminder when there is one."""

    outage_id: int
    notice: Produced | None
    eve: Produced | None = None


def first_notice_at(start: datetime, now: datetime, notice_days: int) -> datetime:
    """A planned outage is announced `notice_days` ahead (at once when it is nearer)."""
    return max(now, start - timedelta(days=notice_days))


def eve_notice_at(start: datetime, now: datetime, first_at: datetime) -> datetime | None:
    """18:00 local the day before the outage, or None when that time has passed or
    the first notice already goes out that day."""
    day_before = fmt.local(start).date() - timedelta(days=1)
    eve = datetime.combine(day_before, EVE_HOUR, fmt.LOCAL_TZ)
    if eve <= now or fmt.local(first_at).date() >= day_before:
        return None
    return eve


async def create_outage(
    session: AsyncSession,
    texts: Texts,
    *,
    backend: UtilityBackend,
    area: Area,
    start: datetime,
    end: datetime,
    reason: str,
    kind: str,
    now: datetime,
    notice_days: int,
) -> OutageNotices:
    """Record an outage for `area` (the lookups show it from now on) and announce it.

    The outage is written to our tables (the utility data `SqlUtilityBackend` reads), in
    the caller's transaction: the backend protocol has no writes."""
    reason = " ".join(reason.split())
    if kind not in ("planned", "incident"):
        raise NoticeError(f"unknown outage kind {kind!r} (planned or incident)")
    if not reason or len(reason) > 300:
        raise NoticeError("the reason must be 1 to 300 characters")
    if end <= start:
        raise NoticeError("the end must be after the start")
    if kind == "planned" and start <= now:
        raise NoticeError("a planned outage must start in the future")
    if end <= now:
        raise NoticeError("the outage is already over")
    outage = Outage(
        kind=kind,
        start_at=start,
        end_at=end,
        reason=reason,
        area_description=area.name,
        status="scheduled" if kind == "planned" else "in_progress",
        unit_code=await backend.area_unit(area.province_code, area.ward_code),
        created_at=now,
        areas=[OutageArea(province_code=area.province_code, ward_code=area.ward_code)],
    )
    session.add(outage)
    await session.flush()
    log.info("outage %s (%s) recorded for %s", outage.id, kind, area.name)
    return await announce_outage(
        session,
        outage_record(outage),
        texts,
        backend=backend,
        now=now,
        notice_days=notice_days,
        always=True,
    )


async def announce_outage(
    session: AsyncSession,
    outage: OutageRecord,
    texts: Texts,
    *,
    backend: UtilityBackend,
    now: datetime,
    notice_days: int,
    always: bool = False,
) -> OutageNotices:
    """Notices of `outage` for the chats linked to a customer in its areas (again for
    chats linked since: rows already written are not doubled). Without `always`, no
    notice is made while nobody is to be told."""
    people = await _people_in(session, backend, outage.areas)
    if not people and not always:
        return OutageNotices(outage.id, None)
    units = await backend.customer_units([p.codes[0] for p in people if p.codes])
    if outage.kind == "incident":
        notice = await _outage_notice(
            session, outage, "incident", texts, people, units, now=now, not_before=now
        )
        return OutageNotices(outage.id, notice)
    first_at = first_notice_at(outage.start_at, now, notice_days)
    first = await _outage_notice(
        session, outage, "planned", texts, people, units, now=now, not_before=first_at
    )
    eve_at = eve_notice_at(outage.start_at, now, first_at)
    eve = None
    if eve_at is not None:
        eve = await _outage_notice(
            session, outage, "eve", texts, people, units, now=now, not_before=eve_at
        )
    return OutageNotices(outage.id, first, eve)


async def power_restored(
    session: AsyncSession,
    outage_id: int,
    texts: Texts,
    *,
    backend: UtilityBackend,
    now: datetime,
    at: datetime | None = None,
) -> Produced:
    """✅ Power is back: the outage ends (`at`, default now) and the chats its notices
    reached are told; its notices not sent yet are dropped (they would be stale)."""
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise NoticeError(f"no outage {outage_id}")
    at = at or now
    if at < outage.start_at:
        raise NoticeError(f"outage {outage_id} starts at {outage.start_at:%Y-%m-%d %H:%M} UTC")
    if at > now:
        raise NoticeError("the power cannot be back in the future")
    outage.status = "restored"
    outage.end_at = min(outage.end_at, at)
    keys = [f"outage:{outage_id}:{kind}" for kind in ("incident", "planned", "eve")]
    notice_ids = list(await session.scalars(select(Notice.id).where(Notice.key.in_(keys))))
    reached = await session.execute(
        select(ChatUser, Delivery.customer_code)
        .join(Delivery, Delivery.chat_user_id == ChatUser.id)
        .where(Delivery.notice_id.in_(notice_ids), Delivery.status.in_(RESTORED_FROM))
        .order_by(ChatUser.id, Delivery.id)
    )
    people: dict[int, Linked] = {}
    for chat_user, code in reached:
        person = people.setdefault(chat_user.id, Linked(chat_user))
        if code and code not in person.codes:
            person.codes.append(code)
    await session.execute(
        update(Delivery)
        .where(Delivery.notice_id.in_(notice_ids), Delivery.status.in_(("queued", "held")))
        .values(status="skipped", error="restored")
        .execution_options(synchronize_session=False)
    )
    units = await backend.customer_units([p.codes[0] for p in people.values() if p.codes])
    produced = await _outage_notice(
        session,
        outage_record(outage),
        "restored",
        texts,
        list(people.values()),
        units,
        now=now,
        not_before=now,
    )
    log.info("outage %s restored; %s chats told", outage_id, produced.recipients)
    return produced


async def drop_cancelled(session: AsyncSession, outage_id: int) -> int:
    """Rows of a cancelled outage's notices that were not sent yet are skipped."""
    keys = [f"outage:{outage_id}:{kind}" for kind in ("incident", "planned", "eve")]
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.notice_id.in_(select(Notice.id).where(Notice.key.in_(keys))),
            Delivery.status.in_(("queued", "held")),
        )
        .values(status="skipped", error="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _outage_notice(
    session: AsyncSession,
    outage: OutageRecord,
    kind: str,
    texts: Texts,
    people: Sequence[Linked],
    units: dict[str, str],
    *,
    now: datetime,
    not_before: datetime,
) -> Produced:
    urgent = kind in ("incident", "restored")
    notice = await outbox.notice_for(
        session,
        f"outage:{outage.id}:{kind}",
        kind=f"outage_{kind}",
        category="outage",
        urgent=urgent,
        meta={"outage_id": outage.id},
    )
    refused = await outbox.opted_out(session, (p.chat_user.id for p in people), "outage")
    addressees = []
    for person in people:
        code = _code_for(person, refused)
        lang = person.chat_user.language
        unit = units.get(code or "") or texts.get("notify.default_unit", lang)
        text = _outage_text(texts, lang, outage, kind, unit, now)
        addressees.append(
            Addressee(
                person.chat_user,
                [
                    notice_reply(
                        texts, lang, notice.id, text, switch_off_row(texts, lang, "outage", code)
                    )
                ],
                code,
            )
        )
    written = await outbox.enqueue(session, notice, addressees, now=now, not_before=not_before)
    return Produced(notice.id, len(written), not_before)


def _code_for(person: Linked, refused: set[tuple[int, str]]) -> str | None:
    """The first of the chat's codes in the area whose notices it did not switch off."""
    for code in person.codes:
        if (person.chat_user.id, code) not in refused:
            return code
    return person.codes[0] if person.codes else None


def _outage_text(
    texts: Texts, lang: str, outage: OutageRecord, kind: str, unit: str, now: datetime
) -> str:
    area = _area_words(outage)
    if kind == "restored":
        return texts.get(
            "notify.outage_restored",
            lang,
            area=area,
            moment=_moment(texts, lang, outage.end_at),
            unit=unit,
        )
    if kind == "incident":
        return texts.get(
            "notify.outage_incident",
            lang,
            area=area,
            start=_moment(texts, lang, outage.start_at),
            end=_moment(texts, lang, outage.end_at),
            reason=outage.reason,
            unit=unit,
        )
    return texts.get(
        f"notify.outage_{kind}",
        lang,
        window=_window(texts, lang, outage.start_at, outage.end_at),
        area=area,
        reason=outage.reason,
        unit=unit,
    )


def _area_words(outage: OutageRecord) -> str:
    """'phường Hội An' (the areas' names as they read in a sentence)."""
    try:
        names = [Area(a.province_code, a.ward_code).in_sentence for a in outage.areas]
    except ValueError:  # a code vietnam-provinces does not know: the staff's words
        names = []
    return ", ".join(names) or in_sentence(outage.area_description)


def _moment(texts: Texts, lang: str, moment: datetime) -> str:
    return texts.get("notify.moment", lang, time=fmt.clock(moment), date=fmt.day(moment))


def _window(texts: Texts, lang: str, start: datetime, end: datetime) -> str:
    if fmt.local(start).date() == fmt.local(end).date():
        return texts.get(
            "notify.window_day",
            lang,
            start=fmt.clock(start),
            end=fmt.clock(end),
            date=fmt.day(start),
        )
    return texts.get(
        "notify.window_days",
        lang,
        start=_moment(texts, lang, start),
        end=_moment(texts, lang, end),
    )


async def _people_in(
    session: AsyncSession, backend: UtilityBackend, areas: Iterable[OutageAreaRecord]
) -> list[Linked]:
    """Chats linked to a customer in any of the areas, each once, codes merged."""
    people: dict[int, Linked] = {}
    for area in areas:
        segment = Segment(province_code=area.province_code, ward_code=area.ward_code)
        for linked in await linked_users(session, backend, segment):
            person = people.setdefault(linked.chat_user.id, Linked(linked.chat_user))
            person.codes += [code for code in linked.codes if code not in person.codes]
    return [people[key] for key in sorted(people)]


async def outages_to_announce(
    backend: UtilityBackend, *, now: datetime, notice_days: int
) -> list[OutageRecord]:
    """Planned outages whose first notice is due within a day, and incidents still on."""
    return await backend.upcoming_outages(now, now + timedelta(days=notice_days + 1))
