"""Service requests: the queue staff work through (filters by service, status, area,
agent, overdue), one request with every answer, photo and step of its history, its
assignment to an agent, and status changes the customer hears of on their channel
(the same change `cskh requests set-status` makes, bot/dialogs/lifecycle.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.audit import record_staff
from bot.console.access import SUPPORT, Pages
from bot.console.base import Console, console_of, redirect, staff_of
from bot.core import fmt
from bot.dialogs.forms import default_forms
from bot.dialogs.lifecycle import change_status
from bot.payments.fees import FEE_STATUSES
from bot.store import requests as store
from bot.store.models import ChatUser, Conversation, ManagingUnit, ServiceRequest
from bot.store.places import province_name
from bot.store.staff_models import StaffAccount

pages = Pages()

PAGE_SIZE = 100  # the queue shows the first 100 the filters pick
NOTE_MAX = 1000  # characters of a note the customer reads
ASSIGNABLE_ROLES = ("agent", "supervisor", "admin")
STATUS_LABELS = {
    "received": "Đã tiếp nhận",
    "in_progress": "Đang xử lý",
    "needs_info": "Chờ bổ sung",
    "done": "Hoàn thành",
    "rejected": "Từ chối",
}
REQUEST_CODE = re.compile(r"YC-\d{4}-\d{6}")
CUSTOMER_CODE = re.compile(r"[A-Z]{2}[A-Z0-9]{4}\d{7}")
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # what customer codes are made of
NOT_FOUND = "Không có yêu cầu dịch vụ {code}. Kiểm tra lại mã (ví dụ YC-2026-000123)."


@dataclass(frozen=True)
class Filters:
    """The queue's filters, as chosen in its form (and kept in its address)."""

    service: str = ""  # a form id
    status: str = ""  # "" the open ones, "all", or one status
    urgent: str = ""  # "" urgent ones on top, "only"
    age: str = ""  # "" oldest first, "newest"
    province: str = ""  # a province code
    unit: str = ""  # a managing unit's code: the first 6 characters of its customer codes
    assignee: str = ""  # "", "mine", "unassigned" or a staff username
    overdue: str = ""  # "1": only the open ones past their promised date
    q: str = ""  # a request code or a customer code

    @classmethod
    def of(cls, query: Any) -> Filters:
        def value(name: str, limit: int) -> str:
            return str(query.get(name, "")).strip()[:limit]

        return cls(
            value("service", 40),
            value("status", 16),
            value("urgent", 8),
            value("age", 8),
            value("province", 4),
            value("unit", 6).upper(),
            value("assignee", 60).lower(),
            value("overdue", 1),
            value("q", 20).upper(),
        )

    @property
    def query_string(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if v})


@dataclass
class Row:
    """One request in the queue."""

    code: str
    title: str
    status: str
    urgent: bool
    customer_code: str | None
    customer_name: str
    unit_name: str
    assigned_to: str | None
    due_on: date | None
    overdue: bool
    created_at: datetime
    user_name: str | None
    channel: str | None


@dataclass
class Choices:
    """What the filter and assignment forms offer."""

    services: list[tuple[str, str]]
    areas: list[tuple[int, str, list[ManagingUnit]]]  # provinces and their units
    units: dict[str, ManagingUnit]
    staff: list[StaffAccount]  # who may be given a request
    names: dict[str, str]  # every staff username's display name


def today(console: Console) -> date:
    """The day it is in Vietnam: a promised date is passed from the next day on."""
    return fmt.local(console.now).date()


def is_overdue(request_status: str, due_on: date | None, day: date) -> bool:
    return due_on is not None and due_on < day and request_status in store.OPEN_STATUSES


def service_title(request_type: str, stored: str | None) -> str:
    form = default_forms().get(request_type)
    return form.title["vi"] if form else (stored or request_type)


async def read_choices(session: AsyncSession) -> Choices:
    units = list(
        await session.scalars(
            select(ManagingUnit).order_by(ManagingUnit.province_code, ManagingUnit.name)
        )
    )
    areas: dict[int, list[ManagingUnit]] = {}
    for unit in units:
        areas.setdefault(unit.province_code or 0, []).append(unit)
    accounts = list(await session.scalars(select(StaffAccount).order_by(StaffAccount.display_name)))
    return Choices(
        services=[(form.id, form.title["vi"]) for form in default_forms().values()],
        areas=[(code, _province(code), listed) for code, listed in areas.items()],
        units={unit.code: unit for unit in units},
        staff=[a for a in accounts if a.role in ASSIGNABLE_ROLES and not a.disabled],
        names={a.username: a.display_name for a in accounts},
    )


def _province(code: int) -> str:
    try:
        return province_name(code)
    except ValueError:
        return f"Tỉnh/thành phố {code}"


def _problem(filters: Filters, choices: Choices) -> str | None:
    """What in the filters cannot be read (an address typed by hand), in Vietnamese."""
    if filters.service and filters.service not in dict(choices.services):
        return "Không có dịch vụ này. Hãy chọn trong danh sách."
    if filters.status and filters.status != "all" and filters.status not in STATUS_LABELS:
        return f"Không có trạng thái “{filters.status}”. Hãy chọn trong danh sách."
    if filters.unit and filters.unit not in choices.units:
        return f"Không có điện lực mã “{filters.unit}”."
    if filters.province and not any(str(code) == filters.province for code, _, _ in choices.areas):
        return "Không có tỉnh/thành phố này trong các điện lực."
    if filters.q and not (REQUEST_CODE.fullmatch(filters.q) or CUSTOMER_CODE.fullmatch(filters.q)):
        return "Nhập mã yêu cầu (ví dụ YC-2026-000123) hoặc mã khách hàng (ví dụ PC05CC0123456)."
    return None


def _where(filters: Filters, choices: Choices, username: str, day: date) -> list[Any]:
    """The filters as conditions of the one query of the queue."""
    request = ServiceRequest
    conditions: list[Any] = []
    if filters.service:
        conditions.append(request.type == filters.service)
    if filters.status in STATUS_LABELS:
        conditions.append(request.status == filters.status)
    elif filters.status != "all" and not filters.q:  # a code typed is looked up in them all
        conditions.append(request.status.in_(store.OPEN_STATUSES))
    if filters.urgent == "only":
        conditions.append(request.urgent.is_(True))
    # A unit's customers are the codes that begin with its code: a range of the index.
    if filters.unit:
        prefixes = [filters.unit]
    elif filters.province:
        prefixes = [c for c, u in choices.units.items() if str(u.province_code) == filters.province]
    else:
        prefixes = []
    if prefixes:
        conditions.append(or_(*(_starting(request.customer_code, p) for p in prefixes)))
    if filters.assignee == "mine":
        conditions.append(request.assigned_to == username)
    elif filters.assignee == "unassigned":
        conditions.append(request.assigned_to.is_(None))
    elif filters.assignee:
        conditions.append(request.assigned_to == filters.assignee)
    if filters.overdue:
        conditions += [request.due_on < day, request.status.in_(store.OPEN_STATUSES)]
    if REQUEST_CODE.fullmatch(filters.q):
        conditions.append(request.code == filters.q)
    elif filters.q:
        conditions.append(request.customer_code == filters.q)
    return conditions


def _starting(column: Any, prefix: str) -> Any:
    """`column` begins with `prefix` (letters and digits), as a range an index serves
    (LIKE 'X%' is not, under PostgreSQL's locale collations or SQLite's LIKE)."""
    for index in reversed(range(len(prefix))):
        place = ALPHANUMERIC.find(prefix[index])
        if 0 <= place < len(ALPHANUMERIC) - 1:
            return and_(column >= prefix, column < prefix[:index] + ALPHANUMERIC[place + 1])
    return column >= prefix


async def read_queue(
    console: Console, filters: Filters, choices: Choices, username: str
) -> tuple[list[Row], bool]:
    """The requests the filters pick (one query), and whether there are more than shown."""
    day = today(console)
    request = ServiceRequest
    newest = filters.age == "newest"

    def order(urgent: Any, created_at: Any, request_id: Any) -> tuple[Any, ...]:
        if newest:
            return urgent.desc(), created_at.desc(), request_id.desc()
        return urgent.desc(), created_at, request_id

    # The filters pick and sort ids alone (no index serves this order, so every match is
    # sorted); only the page's rows are then read whole and joined to their customer.
    picked = (
        select(request.id, request.urgent, request.created_at)
        .where(*_where(filters, choices, username, day))
        .order_by(*order(request.urgent, request.created_at, request.id))
        .limit(PAGE_SIZE + 1)
        .subquery()
    )
    query = (
        select(
            request.code,
            request.type,
            request.data["title"].as_string(),
            request.status,
            request.urgent,
            request.customer_code,
            request.assigned_to,
            request.due_on,
            request.created_at,
            ChatUser.display_name,
            ChatUser.channel,
        )
        .join(picked, picked.c.id == request.id)
        .outerjoin(ChatUser, ChatUser.id == request.chat_user_id)
        .order_by(*order(picked.c.urgent, picked.c.created_at, picked.c.id))
    )
    async with console.services.db.reading() as session:
        found = (await session.execute(query)).all()
    names = await console.services.backend.customer_names(
        sorted({row.customer_code for row in found if row.customer_code})
    )
    rows = []
    for row in found[:PAGE_SIZE]:
        code = row.customer_code
        unit = choices.units.get(code[:6]) if code else None
        rows.append(
            Row(
                code=row.code,
                title=service_title(row.type, row[2]),
                status=row.status,
                urgent=row.urgent,
                customer_code=code,
                customer_name=names.get(code, "") if code else "",
                unit_name=unit.name if unit else "",
                assigned_to=row.assigned_to,
                due_on=row.due_on,
                overdue=is_overdue(row.status, row.due_on, day),
                created_at=row.created_at,
                user_name=row.display_name,
                channel=row.channel,
            )
        )
    return rows, len(found) > PAGE_SIZE


@pages.get("/console/requests", SUPPORT)
async def request_queue(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    filters = Filters.of(request.query)
    async with console.services.db.reading() as session:
        choices = await read_choices(session)
    problem = _problem(filters, choices)
    rows, more = (
        ([], False) if problem else await read_queue(console, filters, choices, staff.username)
    )
    return console.render(
        request,
        "requests.html",
        status=400 if problem else 200,
        error=problem,
        rows=rows,
        more=more,
        filters=filters,
        choices=choices,
        statuses=STATUS_LABELS,
        page_size=PAGE_SIZE,
    )


# --- one request -----------------------------------------------------------------------


@dataclass
class Photo:
    media_id: str
    caption: str  # the question it answers, or that the customer added it later


@dataclass
class Detail:
    request: ServiceRequest
    title: str
    answers: list[tuple[str, str]]  # (label, the answer as the customer confirmed it)
    photos: list[Photo]
    overdue: bool
    user: ChatUser | None
    conversation_id: int | None
    customer: Any  # the contract of the request's customer code (CustomerRecord)
    unit_name: str
    choices: Choices


def answers_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every answer under its label, in the form's order, as the summary showed it."""
    labels = data.get("labels") or {}
    raw = data.get("answers") or {}
    shown = data.get("display") or {name: None for name in raw}
    return [
        (str(labels.get(name, name)), str(value if value is not None else raw.get(name, "—")))
        for name, value in shown.items()
    ]


def photos_of(request: ServiceRequest) -> list[Photo]:
    labels = request.data.get("labels") or {}
    return [
        Photo(
            str(item["media"]),
            str(labels.get(item["field"], item["field"]))
            if item.get("field")
            else "Khách hàng gửi bổ sung",
        )
        for item in request.attachments
        if isinstance(item, dict) and item.get("type") == "photo" and item.get("media")
    ]


async def read_detail(console: Console, code: str) -> Detail | None:
    async with console.services.db.reading() as session:
        request = await store.get_request(session, code)
        if request is None:
            return None
        user = await session.get(ChatUser, request.chat_user_id) if request.chat_user_id else None
        conversation_id = (
            await session.scalar(
                select(Conversation.id).where(Conversation.chat_user_id == user.id)
            )
            if user
            else None
        )
        choices = await read_choices(session)
    code_of = request.customer_code
    customer = await console.services.backend.customer(code_of) if code_of else None
    unit = choices.units.get(code_of[:6]) if code_of else None
    return Detail(
        request=request,
        title=service_title(request.type, request.data.get("title")),
        answers=answers_of(request.data),
        photos=photos_of(request),
        overdue=is_overdue(request.status, request.due_on, today(console)),
        user=user,
        conversation_id=conversation_id,
        customer=customer,
        unit_name=unit.name if unit else "",
        choices=choices,
    )


async def request_view(
    request: web.Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> web.StreamResponse:
    """The request's page; `typed`: what the staff member wrote in its forms."""
    console = console_of(request)
    code = request.match_info["code"].strip().upper()[:20]
    detail = await read_detail(console, code) if REQUEST_CODE.fullmatch(code) else None
    if detail is None:
        return console.render(
            request,
            "request.html",
            status=404,
            d=None,
            error=NOT_FOUND.format(code=code),
        )
    return console.render(
        request,
        "request.html",
        status=status,
        d=detail,
        statuses=STATUS_LABELS,
        fee_statuses=FEE_STATUSES,
        typed=typed or {},
        error=error,
        notice=notice,
    )


NOTICES = {
    "assigned": "Đã giao yêu cầu.",
    "unassigned": "Yêu cầu chưa giao cho ai.",
    "told": "Đã đổi trạng thái và báo cho khách hàng.",
    "untold": "Đã đổi trạng thái, nhưng chưa báo được cho khách hàng (kênh của khách không "
    "hoạt động hoặc khách đã chặn bot). Hãy gọi điện cho khách hàng.",
    "fee_told": "Đã đặt phí dịch vụ và báo cho khách hàng; khách thanh toán ngay trong khung chat.",
    "fee_untold": "Đã đặt phí dịch vụ, nhưng chưa báo được cho khách hàng (kênh của khách không "
    "hoạt động hoặc khách đã chặn bot). Khách vẫn thấy phí ở mục 💳 Thanh toán.",
}


@pages.get("/console/requests/{code}", SUPPORT)
async def request_page(request: web.Request) -> web.StreamResponse:
    return await request_view(request, notice=NOTICES.get(request.query.get("ok", "")))


@pages.post("/console/requests/{code}/assign", SUPPORT)
async def assign(request: web.Request) -> web.StreamResponse:
    """Give the request to an agent ("me": the one signed in), or to nobody."""
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    wanted = str(form.get("to", "")).strip().lower()[:60]
    target = staff.username if wanted == "me" else wanted or None
    async with console.services.db.reading() as session:
        agents = {account.username for account in (await read_choices(session)).staff}
    if target is not None and target not in agents:
        return await request_view(
            request, error="Hãy chọn một nhân viên trong danh sách.", status=400
        )
    async with console.services.db.transaction() as session:
        found = await store.get_request(session, request.match_info["code"][:20])
        if found is not None:
            found.assigned_to = target
            record_staff(
                session,
                "request_assigned",
                staff.username,
                subject=found.code,
                chat_user_id=found.chat_user_id,
                to=target,
            )
    if found is None:
        return await request_view(request)  # the page that says there is no such request
    code = found.code
    return redirect(f"/console/requests/{code}?ok={'assigned' if target else 'unassigned'}")


def _refusal(error: store.RequestError, status: str, current: str) -> str:
    """Why the status was not changed, for staff."""
    if error.reason == "unknown_status":
        return "Hãy chọn một trạng thái trong danh sách."
    if error.reason == "note_needed" and status == "rejected":
        return "Từ chối cần ghi lý do: khách hàng sẽ đọc lý do này."
    if error.reason == "note_needed":
        return "Hãy ghi rõ khách hàng cần bổ sung giấy tờ gì: khách hàng sẽ đọc ghi chú này."
    if error.reason == "unchanged":
        return (
            f"Yêu cầu đang ở trạng thái “{STATUS_LABELS.get(current, current)}”. "
            "Chọn trạng thái khác, hoặc ghi chú để báo thêm cho khách hàng."
        )
    return "Không đổi được trạng thái. Vui lòng thử lại."


@pages.post("/console/requests/{code}/status", SUPPORT)
async def set_status(request: web.Request) -> web.StreamResponse:
    """A new status with a note; the customer is told on their own channel."""
    console, staff = console_of(request), staff_of(request)
    services = console.services
    form = await request.post()
    status = str(form.get("status", "")).strip()[:16]
    note = str(form.get("note", "")).strip()
    typed = {"status": status, "note": note}
    if len(note) > NOTE_MAX:
        return await request_view(
            request, error=f"Ghi chú tối đa {NOTE_MAX} ký tự.", status=400, typed=typed
        )
    code = request.match_info["code"].strip().upper()[:20]
    async with services.db.reading() as session:
        found = await store.get_request(session, code)
    if found is None:
        return await request_view(request)

    def audit(session: AsyncSession, changed: ServiceRequest) -> None:
        record_staff(
            session,
            "request_status",
            staff.username,
            subject=changed.code,
            chat_user_id=changed.chat_user_id,
            status=status,
        )

    try:
        _, told = await change_status(
            services.db,
            services.pusher,
            services.texts,
            default_forms(),
            services.clock,
            code,
            status,
            note=note or None,
            actor=f"staff:{staff.username}"[:60],
            also=audit,
        )
    except store.RequestError as error:
        return await request_view(
            request, error=_refusal(error, status, found.status), status=400, typed=typed
        )
    return redirect(f"/console/requests/{code}?ok={'told' if told else 'untold'}")
