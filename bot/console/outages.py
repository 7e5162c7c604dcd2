"""Outages (issue 14): operations staff publish a planned outage or an incident for a
province, a ward of it or a list of customer codes, see first how many customers and
chats it concerns and the very notice a customer will read, then move the expected end
and mark the power back. The notices come from the producers `cskh notify outage` and
`cskh notify restored` call (bot/notify/outages.py); times are typed in Vietnam time."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.audit import record_staff
from bot.console.access import OPERATIONS, Pages
from bot.console.base import Console, console_of, int_or_none, redirect, staff_of
from bot.console.outage_form import (
    KINDS,
    Checked,
    Invalid,
    OutageForm,
    changed_meanwhile,
    check_form,
    local_time,
    province_of,
    shown,
    sorted_names,
    typed_time,
)
from bot.core import fmt
from bot.notify.outages import (
    MAX_CODES,
    OutagePreview,
    create_outage,
    outage_end_changed,
    power_restored,
    preview_outage,
)
from bot.notify.producers import NoticeError
from bot.store.backend import CustomerFilter
from bot.store.db import AFTER_COMMIT
from bot.store.models import Delivery, Notice, Outage, SecurityEvent
from bot.store.places import province_names, ward_names

log = logging.getLogger(__name__)

pages = Pages()

SECTIONS = {"upcoming": "Sắp diễn ra", "ongoing": "Đang diễn ra", "recent": "Gần đây"}
PHASES = {
    "upcoming": "Sắp diễn ra",
    "ongoing": "Đang mất điện",
    "overdue": "Quá giờ dự kiến",
    "ended": "Đã kết thúc",
    "restored": "Đã có điện lại",
    "cancelled": "Đã hủy",
}
NOTICE_KINDS = {
    "outage_planned": "Thông báo lịch ngừng cấp điện",
    "outage_eve": "Nhắc lịch tối hôm trước",
    "outage_incident": "Thông báo sự cố",
    "outage_updated": "Cập nhật giờ có điện lại",
    "outage_restored": "Điện đã có lại",
}
CHANNELS = ("telegram", "web", "rest")  # always shown in the preview, zero or not
CLOSED = ("restored", "cancelled")
TWICE = timedelta(minutes=2)  # the same outage published again this soon: a double click
RECENT = timedelta(days=14)  # how far back "Gần đây" reaches
LIST_SIZE = 200
HISTORY_EVENTS = ("outage_published", "outage_updated", "outage_restored")


# --- the list -----------------------------------------------------------------------------


@pages.get("/console/outages", OPERATIONS)
async def outages_page(request: web.Request) -> web.StreamResponse:
    """Upcoming, ongoing and recent outages, of one kind or one section if asked."""
    console = console_of(request)
    kind = request.query.get("kind", "")
    kind = kind if kind in KINDS else ""
    section = request.query.get("status", "")
    section = section if section in SECTIONS else ""
    now = console.now
    closed = Outage.status.in_(CLOSED)
    wheres = {
        "upcoming": and_(not_(closed), Outage.start_at > now),
        "ongoing": and_(
            not_(closed),
            Outage.start_at <= now,
            or_(Outage.end_at > now, Outage.kind == "incident"),
        ),
        "recent": and_(
            or_(closed, and_(Outage.end_at <= now, Outage.kind == "planned")),
            Outage.end_at >= now - RECENT,
        ),
    }
    orders = {
        "upcoming": Outage.start_at.asc(),
        "ongoing": Outage.start_at.asc(),
        "recent": Outage.end_at.desc(),
    }
    lists: dict[str, list[Outage]] = {}
    async with console.services.db.reading() as session:
        for name in [section] if section else list(SECTIONS):
            query = select(Outage).where(wheres[name]).order_by(orders[name], Outage.id)
            if kind:
                query = query.where(Outage.kind == kind)
            lists[name] = list(await session.scalars(query.limit(LIST_SIZE)))
    return console.render(
        request,
        "outages.html",
        lists=lists,
        kind=kind,
        section=section,
        kinds=KINDS,
        sections=SECTIONS,
        window=window,
        phase=lambda outage: PHASES[phase(outage, now)],
        phase_class=lambda outage: phase(outage, now),
    )


def phase(outage: Outage, now: datetime) -> str:
    """Where an outage stands now (a key of PHASES)."""
    if outage.status in CLOSED:
        return outage.status
    if outage.start_at > now:
        return "upcoming"
    if outage.end_at > now:
        return "ongoing"
    return "overdue" if outage.kind == "incident" else "ended"


# --- a new outage: the form, its preview, publishing ------------------------------------------


@pages.get("/console/outages/new", OPERATIONS)
async def new_outage(request: web.Request) -> web.StreamResponse:
    """The form; `?kind=incident` starts it as an incident that began now."""
    console = console_of(request)
    typed = OutageForm()
    if request.query.get("kind") == "incident":
        typed = replace(typed, kind="incident", start=typed_time(console.now))
    return _form(request, typed)


@pages.post("/console/outages/preview", OPERATIONS)
async def preview(request: web.Request) -> web.StreamResponse:
    """How many customers and chats the outage concerns, per channel, and its notice."""
    console = console_of(request)
    typed = OutageForm.of(await request.post())
    try:
        checked = await check_form(typed, console.services.backend, console.now)
    except Invalid as error:
        return _form(request, typed, error=str(error))
    services = console.services
    async with services.db.reading() as session:
        previewed = await preview_outage(
            session,
            services.texts,
            backend=services.backend,
            outage=checked.draft,
            customer_codes=checked.codes,
            now=console.now,
            notice_days=services.settings.outage_notice_days,
        )
    if checked.area is not None:
        area = checked.area
        where = CustomerFilter(area.province_code, area.ward_code)
        customers = await services.backend.count_customers(where)
    else:
        customers = len(checked.codes)
    chats = Counter(person.chat_user.channel for person in previewed.recipients)
    return _form(
        request,
        typed,
        preview=previewed,
        draft=checked.draft,
        customers=customers,
        linked=len({code for person in previewed.recipients for code in person.codes}),
        chats=[
            (name, chats.get(name, 0)) for name in (*CHANNELS, *sorted(set(chats) - set(CHANNELS)))
        ],
        listed=len(checked.codes),
        first_now=previewed.first_at <= console.now,
    )


@pages.post("/console/outages", OPERATIONS)
async def publish(request: web.Request) -> web.StreamResponse:
    """Record the outage and queue its notices (the same as `cskh notify outage`)."""
    console, staff = console_of(request), staff_of(request)
    typed = OutageForm.of(await request.post())
    services = console.services
    try:
        checked = await check_form(typed, console.services.backend, console.now)
        async with services.db.transaction() as session:
            twin = await _just_published(session, checked, staff.username, console.now)
            if twin is not None:  # the button pressed twice: one outage, one notice
                return redirect(f"/console/outages/{twin}?ok=published")
            made = await create_outage(
                session,
                services.texts,
                backend=services.backend,
                area=checked.area,
                customer_codes=checked.codes,
                start=checked.draft.start_at,
                end=checked.draft.end_at,
                reason=checked.draft.reason,
                kind=checked.draft.kind,
                now=console.now,
                notice_days=services.settings.outage_notice_days,
                created_by=staff.username,
            )
            record_staff(
                session,
                "outage_published",
                staff.username,
                subject=f"outage:{made.outage_id}",
                kind=checked.draft.kind,
                area=checked.draft.area_description,
                customer_codes=len(checked.codes),
                start=checked.draft.start_at.isoformat(),
                end=checked.draft.end_at.isoformat(),
                recipients=made.notice.recipients if made.notice else 0,
            )
            _wake_worker(console, session)
    except Invalid as error:
        return _form(request, typed, error=str(error))
    except NoticeError as error:  # e.g. the start passed while the preview was open
        return _form(request, typed, error=changed_meanwhile(error))
    return redirect(f"/console/outages/{made.outage_id}?ok=published")


async def _just_published(
    session: AsyncSession, checked: Checked, username: str, now: datetime
) -> int | None:
    """The same outage, published by the same staff member a moment ago."""
    draft = checked.draft
    recent = await session.scalars(
        select(Outage).where(
            Outage.created_by == username,
            Outage.created_at >= now - TWICE,
            Outage.kind == draft.kind,
            Outage.start_at == draft.start_at,
            Outage.end_at == draft.end_at,
            Outage.reason == draft.reason,
            Outage.area_description == draft.area_description,
        )
    )
    for outage in recent:
        notices = await _notices(session, outage.id)
        if next((n["codes"] for n in notices if n["codes"]), []) == checked.codes:
            return outage.id
    return None


def _form(
    request: web.Request,
    typed: OutageForm,
    *,
    error: str | None = None,
    preview: OutagePreview | None = None,
    **values: Any,
) -> web.Response:
    province = province_of(typed.province)
    return console_of(request).render(
        request,
        "outage_new.html",
        status=400 if error else 200,
        error=error,
        form=typed,
        kinds=KINDS,
        provinces=sorted_names(province_names()),
        wards=sorted_names(ward_names(province)) if province is not None else [],
        max_codes=MAX_CODES,
        preview=preview,
        **values,
    )


# --- one outage: what was sent, a new expected end, power back ------------------------------


@pages.get("/console/outages/{outage_id:\\d+}", OPERATIONS)
async def outage_page(request: web.Request) -> web.StreamResponse:
    done = {
        "published": "Đã đăng lịch; thông báo được gửi theo giờ ghi bên dưới.",
        "updated": "Đã cập nhật giờ dự kiến có điện lại và báo cho khách hàng.",
        "restored": "Đã ghi nhận có điện lại và báo cho khách hàng.",
    }.get(request.query.get("ok", ""))
    return await _outage(request, notice=done)


@pages.post("/console/outages/{outage_id:\\d+}/update", OPERATIONS)
async def update_end(request: web.Request) -> web.StreamResponse:
    """A new expected restoration time, told to the customers already told."""
    console, staff = console_of(request), staff_of(request)
    outage_id = int_or_none(request.match_info["outage_id"]) or 0
    typed = str((await request.post()).get("end", "")).strip()[:30]
    services = console.services
    try:
        async with services.db.transaction() as session:
            outage = await _open_outage(session, outage_id)
            end = local_time(typed)
            if end is None:
                raise Invalid("Vui lòng nhập giờ dự kiến có điện lại (ngày và giờ).")
            _check_end(outage, end, console.now)
            before = outage.end_at
            changed = await outage_end_changed(
                session,
                outage_id,
                services.texts,
                backend=services.backend,
                end=end,
                now=console.now,
            )
            record_staff(
                session,
                "outage_updated",
                staff.username,
                subject=f"outage:{outage_id}",
                end=end.isoformat(),
                previous_end=before.isoformat(),
                told=changed.told.recipients,
                rewritten=changed.rewritten,
            )
            _wake_worker(console, session)
    except Invalid as error:
        return await _outage(request, error=str(error), typed_end=typed, status=400)
    except NoticeError as error:
        return await _outage(request, error=changed_meanwhile(error), typed_end=typed, status=400)
    return redirect(f"/console/outages/{outage_id}?ok=updated")


@pages.post("/console/outages/{outage_id:\\d+}/restored", OPERATIONS)
async def restored(request: web.Request) -> web.StreamResponse:
    """The power is back: the outage ends and the customers its notices reached are told."""
    console, staff = console_of(request), staff_of(request)
    outage_id = int_or_none(request.match_info["outage_id"]) or 0
    typed = str((await request.post()).get("at", "")).strip()[:30]
    services, now = console.services, console.now
    try:
        async with services.db.transaction() as session:
            outage = await _open_outage(session, outage_id)
            at = local_time(typed)
            if at is None:
                raise Invalid("Vui lòng nhập thời điểm có điện lại (ngày và giờ).")
            if at < outage.start_at:
                raise Invalid(
                    "Thời điểm có điện lại phải sau giờ bắt đầu ngừng cấp điện "
                    f"({shown(outage.start_at)})."
                )
            if at > now:
                raise Invalid(f"Thời điểm có điện lại không thể sau bây giờ ({shown(now)}).")
            produced = await power_restored(
                session, outage_id, services.texts, backend=services.backend, now=now, at=at
            )
            record_staff(
                session,
                "outage_restored",
                staff.username,
                subject=f"outage:{outage_id}",
                at=at.isoformat(),
                told=produced.recipients,
            )
            _wake_worker(console, session)
    except Invalid as error:
        return await _outage(request, error=str(error), typed_at=typed, status=400)
    except NoticeError as error:
        return await _outage(request, error=changed_meanwhile(error), typed_at=typed, status=400)
    return redirect(f"/console/outages/{outage_id}?ok=restored")


async def _open_outage(session: AsyncSession, outage_id: int) -> Outage:
    """The outage, still open to a change (not restored, not called off)."""
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise web.HTTPNotFound(text="Không có lịch ngừng cấp điện này.")
    if outage.status == "restored":
        when = outage.restored_at or outage.end_at
        raise Invalid(f"Lịch này đã được ghi nhận có điện lại lúc {shown(when)}.")
    if outage.status == "cancelled":
        raise Invalid("Lịch này đã bị hủy.")
    return outage


def _check_end(outage: Outage, end: datetime, now: datetime) -> None:
    if end <= outage.start_at:
        raise Invalid(f"Giờ dự kiến có điện lại phải sau giờ bắt đầu ({shown(outage.start_at)}).")
    if end <= now:
        raise Invalid(f"Giờ dự kiến có điện lại phải sau bây giờ ({shown(now)}).")
    if end == outage.end_at:
        raise Invalid(f"Giờ dự kiến có điện lại vẫn là {shown(end)}: không có gì thay đổi.")


async def _outage(
    request: web.Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    typed_end: str | None = None,
    typed_at: str | None = None,
) -> web.Response:
    """The outage's page: what it is, its notices and how far they got, its history."""
    console = console_of(request)
    outage_id = int_or_none(request.match_info["outage_id"]) or 0
    async with console.services.db.reading() as session:
        outage = await session.get(Outage, outage_id)
        if outage is None:
            raise web.HTTPNotFound(text="Không có lịch ngừng cấp điện này.")
        notices = await _notices(session, outage_id)
        history = list(
            await session.scalars(
                select(SecurityEvent)
                .where(
                    SecurityEvent.subject == f"outage:{outage_id}",
                    SecurityEvent.event.in_(HISTORY_EVENTS),
                )
                .order_by(SecurityEvent.id)
            )
        )
    codes: list[str] = next((n["codes"] for n in notices if n["codes"]), [])
    now = console.now
    return console.render(
        request,
        "outage.html",
        status=status,
        error=error,
        notice=notice,
        outage=outage,
        kinds=KINDS,
        window=window,
        phase=phase(outage, now),
        phases=PHASES,
        notices=notices,
        codes=codes,
        history=history,
        open=outage.status not in CLOSED,
        typed_end=typed_end if typed_end is not None else typed_time(outage.end_at),
        typed_at=typed_at if typed_at is not None else typed_time(now),
    )


async def _notices(session: AsyncSession, outage_id: int) -> list[dict[str, Any]]:
    """Each notice of the outage with its rows counted: sent, waiting, not delivered."""
    rows = await session.execute(
        select(Notice, Delivery.status, func.count(Delivery.id), func.min(Delivery.not_before))
        .outerjoin(Delivery, Delivery.notice_id == Notice.id)
        .where(Notice.key.startswith(f"outage:{outage_id}:"))
        .group_by(Notice.id, Delivery.status)
        .order_by(Notice.id)
    )
    found: dict[int, dict[str, Any]] = {}
    for notice, status, count, first in rows:
        entry = found.setdefault(
            notice.id,
            {
                "label": NOTICE_KINDS.get(notice.kind, notice.kind),
                "urgent": notice.urgent,
                "codes": list(notice.meta.get("customer_codes", [])),
                "from": first,
                "total": 0,
                "sent": 0,
                "waiting": 0,
                "failed": 0,
                "skipped": 0,
            },
        )
        if status is None:
            continue
        bucket = {
            "sent": "sent",
            "failed": "failed",
            "unreachable": "failed",
            "skipped": "skipped",
        }.get(status, "waiting")
        entry[bucket] += count
        entry["total"] += count
        if first is not None and (entry["from"] is None or first < entry["from"]):
            entry["from"] = first
    return list(found.values())


# --- shared -------------------------------------------------------------------------------


def window(start: datetime, end: datetime) -> str:
    """As staff read it: "07:00–15:30 02/12/2026"; "22:00 01/12 → 04:00 02/12/2026"."""
    if fmt.local(start).date() == fmt.local(end).date():
        return f"{fmt.clock(start)}–{fmt.clock(end)} {fmt.day(start)}"
    return f"{fmt.clock(start)} {fmt.short_day(start)} → {shown(end)}"


def _wake_worker(console: Console, session: AsyncSession) -> None:
    """This process's delivery worker sends the rows as soon as they commit."""
    worker = console.services.pusher.worker
    if worker is not None:
        session.info.setdefault(AFTER_COMMIT, []).append(worker.wake)
