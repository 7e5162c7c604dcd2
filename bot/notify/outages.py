"""Outage notices (issue 7): a planned outage announced days ahead and again the
evening before, an incident at once, a new expected end, ✅ power restored to the chats
its notices reached.

Producers as in producers.py: each writes a `Notice` named by a key ("outage:7:planned",
"outage:7:eve", "outage:7:incident", "outage:7:updated:1", "outage:7:restored") and one
outbox row per chat linked to a customer in the outage's areas (or among its customer
codes), in the caller's transaction. Incidents, power restored and a new end once the
power is off are urgent; planned notices wait out the quiet hours. The console's outage
page (bot/console/outages.py) and `cskh notify outage|restored` call the same functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.codec import reply_to_json
from bot.core.messages import Reply
from bot.core.texts import Texts
from bot.notify import outbox
from bot.notify.outage_area import area_words, outage_people
from bot.notify.outbox import Addressee
from bot.notify.producers import NoticeError, Produced, notice_reply, switch_off_row
from bot.notify.segments import Area, Linked, in_sentence
from bot.store.backend import (
    CustomerRecord,
    OutageAreaRecord,
    OutageRecord,
    UtilityBackend,
    outage_record,
)
from bot.store.models import ChatUser, Delivery, Notice, Outage, OutageArea

log = logging.getLogger(__name__)

EVE_HOUR = time(18, 0)  # the evening-before reminder of a planned outage, local time
RESTORED_FROM = ("sent", "claimed", "sending")  # incident rows that (may) have arrived
WAITING = ("queued", "held")  # rows not sent yet
# A list of customers typed or pasted by staff (a feeder, a transformer station); an
# outage wider than that names its ward or province.
MAX_CODES = 200


class UnknownCodes(NoticeError):
    """Customer codes the utility does not know; `codes` lists them."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"unknown customer codes: {', '.join(codes)}")
        self.codes = tuple(codes)


@dataclass(frozen=True)
class OutageNotices:
    """What announcing an outage wrote: the notice (the first one of a planned
    outage, or the incident's) and the evening-before reminder when there is one."""

    outage_id: int
    notice: Produced | None
    eve: Produced | None = None


@dataclass(frozen=True)
class OutagePreview:
    """What announcing an outage would do now: the chats its first notice reaches (those
    that switched outage notices off left out), that notice as a Vietnamese customer
    reads it, and when it and the evening-before reminder go out."""

    recipients: list[Linked]
    text: str
    first_at: datetime
    eve_at: datetime | None


@dataclass(frozen=True)
class EndChanged:
    """A new expected end: the notice to the chats already told, and how many rows not
    sent yet now carry the new time."""

    told: Produced
    rewritten: int


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


def listed_codes(codes: Iterable[str]) -> list[str]:
    """Customer codes as staff typed them: upper case, each once, in their order."""
    return list(dict.fromkeys(code.strip().upper() for code in codes if code.strip()))


async def customers_of_codes(backend: UtilityBackend, codes: Sequence[str]) -> list[CustomerRecord]:
    """The customers of a list staff typed (`UnknownCodes` names the codes nobody has)."""
    wanted = listed_codes(codes)
    if len(wanted) > MAX_CODES:
        raise NoticeError(f"at most {MAX_CODES} customer codes (name the ward instead)")
    found = [await backend.customer(code) for code in wanted]  # a short list: one each
    unknown = [code for code, customer in zip(wanted, found, strict=True) if customer is None]
    if unknown:
        raise UnknownCodes(unknown)
    return [customer for customer in found if customer is not None]


async def outage_draft(
    backend: UtilityBackend,
    *,
    area: Area | None = None,
    customer_codes: Sequence[str] = (),
    kind: str,
    start: datetime,
    end: datetime,
    reason: str,
    now: datetime,
) -> OutageRecord:
    """The outage `create_outage` records (id 0 until then), its input checked.

    Its area is a province or a ward of it (`area`), or the customers of
    `customer_codes` (a feeder, a transformer station): the notice then names their
    wards, and only their chats are told."""
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
    if (area is None) == (not listed_codes(customer_codes)):
        raise NoticeError("an outage names an area or a list of customer codes (one of them)")
    areas: tuple[OutageAreaRecord, ...] = ()
    if area is not None:
        description = area.name
        unit = await backend.area_unit(area.province_code, area.ward_code)
        areas = (OutageAreaRecord(area.province_code, area.ward_code),)
    else:
        customers = await customers_of_codes(backend, customer_codes)
        wards = dict.fromkeys(in_sentence(c.ward_name or c.province_name) for c in customers)
        description = ", ".join(wards)
        if len(description) > 500:  # the column's size
            description = description[:499] + "…"
        units = {customer.unit_code for customer in customers}
        unit = units.pop() if len(units) == 1 else None
    status = "scheduled" if kind == "planned" else "in_progress"
    return OutageRecord(0, kind, start, end, reason, description, status, unit, areas)


async def create_outage(
    session: AsyncSession,
    texts: Texts,
    *,
    backend: UtilityBackend,
    area: Area | None = None,
    customer_codes: Sequence[str] = (),
    start: datetime,
    end: datetime,
    reason: str,
    kind: str,
    now: datetime,
    notice_days: int,
    created_by: str | None = None,
) -> OutageNotices:
    """Record an outage of `area` or of the customers of `customer_codes` (see
    `outage_draft`) and announce it; the lookups show an area's from now on.

    The outage is written to our tables (the utility data `SqlUtilityBackend` reads), in
    the caller's transaction: the backend protocol has no writes. `created_by`: the staff
    member who published it in the console."""
    draft = await outage_draft(
        backend,
        area=area,
        customer_codes=customer_codes,
        kind=kind,
        start=start,
        end=end,
        reason=reason,
        now=now,
    )
    outage = Outage(
        kind=kind,
        start_at=start,
        end_at=end,
        reason=draft.reason,
        area_description=draft.area_description,
        status=draft.status,
        unit_code=draft.unit_code,
        created_at=now,
        created_by=created_by,
        areas=[
            OutageArea(province_code=a.province_code, ward_code=a.ward_code) for a in draft.areas
        ],
    )
    session.add(outage)
    await session.flush()
    log.info("outage %s (%s) recorded for %s", outage.id, kind, draft.area_description)
    return await announce_outage(
        session,
        outage_record(outage),
        texts,
        backend=backend,
        now=now,
        notice_days=notice_days,
        always=True,
        customer_codes=listed_codes(customer_codes),
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
    customer_codes: Sequence[str] = (),
) -> OutageNotices:
    """Notices of `outage` for the chats linked to a customer in its areas or among
    `customer_codes` (again for chats linked since: rows already written are not
    doubled). Without `always`, no notice is made while nobody is to be told."""
    people = await outage_people(session, backend, outage.areas, customer_codes)
    if not people and not always:
        return OutageNotices(outage.id, None)
    units = await backend.customer_units([p.codes[0] for p in people if p.codes])
    # The codes an outage of a list was for (the console shows them; it has no areas).
    meta = {"customer_codes": list(customer_codes)} if customer_codes else {}
    if outage.kind == "incident":
        notice = await _outage_notice(
            session, outage, "incident", texts, people, units, now=now, not_before=now, meta=meta
        )
        return OutageNotices(outage.id, notice)
    first_at = first_notice_at(outage.start_at, now, notice_days)
    first = await _outage_notice(
        session, outage, "planned", texts, people, units, now=now, not_before=first_at, meta=meta
    )
    eve_at = eve_notice_at(outage.start_at, now, first_at)
    eve = None
    if eve_at is not None:
        eve = await _outage_notice(
            session, outage, "eve", texts, people, units, now=now, not_before=eve_at, meta=meta
        )
    return OutageNotices(outage.id, first, eve)


async def preview_outage(
    session: AsyncSession,
    texts: Texts,
    *,
    backend: UtilityBackend,
    outage: OutageRecord,
    customer_codes: Sequence[str] = (),
    now: datetime,
    notice_days: int,
) -> OutagePreview:
    """What `announce_outage` would write for `outage` (a draft) now, nothing written."""
    people = await outage_people(session, backend, outage.areas, listed_codes(customer_codes))
    refused = await outbox.opted_out(session, (p.chat_user.id for p in people), "outage")
    recipients = [
        p
        for p in people
        if (p.chat_user.id, "") not in refused
        and (p.chat_user.id, _code_for(p, refused) or "") not in refused
    ]
    incident = outage.kind == "incident"
    first_at = now if incident else first_notice_at(outage.start_at, now, notice_days)
    eve_at = None if incident else eve_notice_at(outage.start_at, now, first_at)
    codes = [p.codes[0] for p in recipients if p.codes]
    unit = next(iter((await backend.customer_units(codes[:1])).values()), None)
    if unit is None and outage.unit_code:
        unit = await backend.unit_name(outage.unit_code)
    text = _outage_text(
        texts,
        "vi",
        outage,
        "incident" if incident else "planned",
        unit or texts.get("notify.default_unit", "vi"),
        now,
    )
    return OutagePreview(recipients, text, first_at, eve_at)


async def outage_end_changed(
    session: AsyncSession,
    outage_id: int,
    texts: Texts,
    *,
    backend: UtilityBackend,
    end: datetime,
    now: datetime,
) -> EndChanged:
    """⚡ The outage is now expected to end at `end`: its rows not sent yet say so when
    they go out, and the chats its notices reached are told (urgent once it began)."""
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise NoticeError(f"no outage {outage_id}")
    if outage.status in ("restored", "cancelled"):
        raise NoticeError(f"outage {outage_id} is {outage.status}")
    if end <= outage.start_at:
        raise NoticeError("the end must be after the start")
    if end <= now:
        raise NoticeError("the new end has passed")
    if end == outage.end_at:
        raise NoticeError("the end is unchanged")
    outage.end_at = end
    record = outage_record(outage)
    notices = list(await session.scalars(select(Notice).where(_of_outage(outage_id))))
    rewritten = await _rewrite_waiting(session, record, texts, backend, notices, now)
    people = await _reached(session, [notice.id for notice in notices])
    units = await backend.customer_units([p.codes[0] for p in people if p.codes])
    changes = sum(1 for notice in notices if notice.kind == "outage_updated")
    told = await _outage_notice(
        session,
        record,
        "updated",
        texts,
        people,
        units,
        now=now,
        not_before=now,
        key=f"outage:{outage_id}:updated:{changes + 1}",  # one notice per change
    )
    log.info("outage %s ends at %s now; %s chats told", outage_id, end, told.recipients)
    return EndChanged(told, rewritten)


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
    # It ended when the power came back, earlier or later than expected.
    outage.end_at = outage.restored_at = at
    notice_ids = list(await session.scalars(select(Notice.id).where(_of_outage(outage_id))))
    people = await _reached(session, notice_ids)
    await session.execute(
        update(Delivery)
        .where(Delivery.notice_id.in_(notice_ids), Delivery.status.in_(WAITING))
        .values(status="skipped", error="restored")
        .execution_options(synchronize_session=False)
    )
    units = await backend.customer_units([p.codes[0] for p in people if p.codes])
    produced = await _outage_notice(
        session,
        outage_record(outage),
        "restored",
        texts,
        people,
        units,
        now=now,
        not_before=now,
    )
    log.info("outage %s restored; %s chats told", outage_id, produced.recipients)
    return produced


async def drop_cancelled(session: AsyncSession, outage_id: int) -> int:
    """Rows of a cancelled outage's notices that were not sent yet are skipped."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.notice_id.in_(select(Notice.id).where(_of_outage(outage_id))),
            Delivery.status.in_(WAITING),
        )
        .values(status="skipped", error="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _of_outage(outage_id: int) -> Any:
    """The outage's notices but "power restored": "outage:7:planned", "outage:7:updated:2"."""
    return and_(
        Notice.key.startswith(f"outage:{outage_id}:"), Notice.key != f"outage:{outage_id}:restored"
    )


async def _reached(session: AsyncSession, notice_ids: Sequence[int]) -> list[Linked]:
    """The chats these notices reached (or may have), each once, with the codes named."""
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
    return list(people.values())


async def _rewrite_waiting(
    session: AsyncSession,
    outage: OutageRecord,
    texts: Texts,
    backend: UtilityBackend,
    notices: Sequence[Notice],
    now: datetime,
) -> int:
    """The rows of the outage's notices not sent yet, written again with its new times."""
    kinds = {notice.id: notice.kind.removeprefix("outage_") for notice in notices}
    waiting = (
        await session.execute(
            select(Delivery, ChatUser)
            .join(ChatUser, ChatUser.id == Delivery.chat_user_id)
            .where(
                Delivery.notice_id.in_(
                    [id_ for id_, kind in kinds.items() if kind in ("incident", "planned", "eve")]
                ),
                Delivery.status.in_(WAITING),
            )
        )
    ).all()
    units = await backend.customer_units(
        [row.customer_code for row, _ in waiting if row.customer_code]
    )
    for row, chat_user in waiting:
        lang = chat_user.language
        unit = units.get(row.customer_code or "") or texts.get("notify.default_unit", lang)
        text = _outage_text(texts, lang, outage, kinds[row.notice_id], unit, now)
        switch_off = switch_off_row(texts, lang, "outage", row.customer_code)
        row.message = [reply_to_json(notice_reply(texts, lang, row.notice_id, text, switch_off))]
    return len(waiting)


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
    meta: dict[str, Any] | None = None,
    key: str | None = None,
) -> Produced:
    # A new end time matters at once while the power is off; before, it can wait out
    # the quiet hours like the notice it corrects.
    urgent = kind in ("incident", "restored") or (kind == "updated" and outage.start_at <= now)
    notice = await outbox.notice_for(
        session,
        key or f"outage:{outage.id}:{kind}",
        kind=f"outage_{kind}",
        category="outage",
        urgent=urgent,
        meta={"outage_id": outage.id, **(meta or {})},
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


def outage_replies(
    texts: Texts,
    lang: str,
    notice_id: int,
    outage: OutageRecord,
    kind: str,
    *,
    unit: str,
    code: str | None,
    now: datetime,
) -> list[Reply]:
    """A notice of `outage` ("planned", "eve", "incident", "updated", "restored") as one
    chat reads it, with its buttons."""
    text = _outage_text(texts, lang, outage, kind, unit, now)
    return [notice_reply(texts, lang, notice_id, text, switch_off_row(texts, lang, "outage", code))]


def _code_for(person: Linked, refused: set[tuple[int, str]]) -> str | None:
    """The first of the chat's codes in the area whose notices it did not switch off."""
    for code in person.codes:
        if (person.chat_user.id, code) not in refused:
            return code
    return person.codes[0] if person.codes else None


def _outage_text(
    texts: Texts, lang: str, outage: OutageRecord, kind: str, unit: str, now: datetime
) -> str:
    area = area_words(texts, lang, outage)
    if kind == "restored":
        return texts.get(
            "notify.outage_restored",
            lang,
            area=area,
            moment=_moment(texts, lang, outage.end_at),
            unit=unit,
        )
    if kind == "updated":
        return texts.get(
            "notify.outage_updated",
            lang,
            area=area,
            end=_moment(texts, lang, outage.end_at),
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


async def outages_to_announce(
    backend: UtilityBackend, *, now: datetime, notice_days: int
) -> list[OutageRecord]:
    """Planned outages whose first notice is due within a day, and incidents still on."""
    return await backend.upcoming_outages(now, now + timedelta(days=notice_days + 1))
