"""Sự kiện bảo mật: the audit log (security_events) for supervisors (issue 14): the
customers' account events (activations, lockouts, refused one-time codes, "log out
everywhere"...) and what staff did in the console, newest first, filtered by event,
staff member, subject and days, 100 to a page.

The log holds no secrets (bot/auth/audit.py never writes one); a detail whose name says
it could be one is left out all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import Select, func, select

from bot.auth.audit import EVENTS, STAFF_EVENTS
from bot.console.access import LEADS, Pages
from bot.console.base import console_of, int_or_none
from bot.console.dashboard import PeriodError, parse_day
from bot.console.stats import Period
from bot.store.models import Conversation, SecurityEvent
from bot.store.staff_models import StaffAccount

pages = Pages()

PAGE_SIZE = 100
LAST_PAGE = 1000  # deeper than anyone reads: narrow the filters instead
HIDDEN_DETAILS = frozenset({"password", "pin", "otp", "code", "token", "secret", "csrf"})

# Vietnamese names of the events, in the order the filter lists them.
CUSTOMER_EVENTS = {
    "activation": "Kích hoạt tài khoản",
    "login_success": "Đăng nhập thành công",
    "login_failure": "Đăng nhập sai",
    "lockout": "Tạm khóa do nhập sai nhiều lần",
    "otp_requested": "Yêu cầu mã OTP",
    "otp_sent": "Đã gửi mã OTP",
    "otp_failed": "Gửi mã OTP thất bại",
    "otp_refused": "Từ chối gửi mã OTP (vượt giới hạn)",
    "pin_set": "Đặt mã PIN",
    "pin_changed": "Đổi mã PIN",
    "pin_removed": "Bỏ mã PIN",
    "pin_failed": "Nhập sai mã PIN",
    "pin_lockout": "Khóa do nhập sai mã PIN",
    "password_reset": "Đặt lại mật khẩu",
    "logout": "Đăng xuất",
    "logout_everywhere": "Đăng xuất trên mọi thiết bị",
    "code_linked": "Liên kết mã khách hàng",
    "code_unlinked": "Bỏ liên kết mã khách hàng",
    "default_code": "Đổi mã khách hàng mặc định",
    "consent_accepted": "Đồng ý điều khoản",
    "data_deleted": "Xóa dữ liệu cá nhân",
}
STAFF_EVENT_LABELS = {
    "staff_login": "Nhân viên đăng nhập",
    "staff_login_failed": "Nhân viên đăng nhập sai",
    "staff_login_throttled": "Nhân viên bị chặn đăng nhập (sai nhiều lần)",
    "staff_logout": "Nhân viên đăng xuất",
    "staff_session_expired": "Phiên làm việc hết hạn",
    "handoff_taken": "Tiếp nhận hội thoại",
    "handoff_transferred": "Chuyển hội thoại",
    "handoff_resolved": "Hoàn tất hỗ trợ",
    "staff_reply": "Nhân viên trả lời khách",
    "staff_note": "Ghi chú nội bộ",
    "canned_saved": "Lưu câu trả lời mẫu",
    "canned_deleted": "Xóa câu trả lời mẫu",
    "faq_saved": "Lưu câu hỏi đáp (FAQ)",
    "faq_deleted": "Gỡ câu hỏi đáp (FAQ)",
    "request_status": "Đổi trạng thái yêu cầu dịch vụ",
    "request_assigned": "Phân công yêu cầu dịch vụ",
    "request_fee_set": "Đặt phí yêu cầu dịch vụ",
    "payment_resolved": "Xử lý thanh toán giữ lại",
    "inbox_answered": "Trả lời phản hồi thông báo",
    "outage_published": "Đăng lịch ngừng cấp điện",
    "outage_updated": "Sửa lịch ngừng cấp điện",
    "outage_restored": "Báo đã cấp điện trở lại",
    "incident_confirm": "Xác nhận sự cố nghi ngờ",
    "incident_dismiss": "Bỏ qua sự cố nghi ngờ",
    "incident_restored": "Báo có điện lại sau sự cố nghi ngờ",
    "broadcast_created": "Tạo thông báo quảng bá",
    "broadcast_started": "Bắt đầu gửi thông báo quảng bá",
    "broadcast_paused": "Tạm dừng thông báo quảng bá",
    "export": "Xuất dữ liệu",
}
DETAIL_LABELS = {
    "method": "cách",
    "codes": "số mã",
    "chats": "số khung chat",
    "delivery": "kênh gửi",
    "purpose": "mục đích",
    "reason": "lý do",
    "scope": "phạm vi",
    "until": "đến",
    "error": "lỗi",
    "version": "phiên bản",
    "delivered": "đã gửi",
}


def event_label(event: str) -> str:
    return CUSTOMER_EVENTS.get(event) or STAFF_EVENT_LABELS.get(event) or event


def event_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The filter's choices: customers' events, then staff's, each known event once."""
    customers = [(e, CUSTOMER_EVENTS.get(e, e)) for e in CUSTOMER_EVENTS if e in EVENTS]
    customers += sorted((e, e) for e in EVENTS - CUSTOMER_EVENTS.keys())
    staff = [(e, STAFF_EVENT_LABELS.get(e, e)) for e in STAFF_EVENT_LABELS if e in STAFF_EVENTS]
    staff += sorted((e, e) for e in STAFF_EVENTS - STAFF_EVENT_LABELS.keys())
    return [("Khách hàng", customers), ("Nhân viên", staff)]


def shown_details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [
        (DETAIL_LABELS.get(name, name), str(value)[:120])
        for name, value in (details or {}).items()
        if name.lower() not in HIDDEN_DETAILS and value not in (None, "")
    ]


@dataclass(frozen=True)
class Filters:
    """The list's filters, as typed."""

    event: str = ""
    actor: str = ""
    subject: str = ""
    first: str = ""  # YYYY-MM-DD, local days
    last: str = ""

    @classmethod
    def of(cls, query: Any) -> Filters:
        def value(name: str, limit: int) -> str:
            return str(query.get(name, "")).strip()[:limit]

        return cls(
            event=value("event", 40),
            actor=value("actor", 60).lower(),
            subject=value("subject", 100),
            first=value("from", 10),
            last=value("to", 10),
        )

    def query(self, page: int | None = None) -> str:
        pairs = {
            "event": self.event,
            "actor": self.actor,
            "subject": self.subject,
            "from": self.first,
            "to": self.last,
        }
        if page is not None and page > 1:
            pairs["page"] = str(page)
        return urlencode({name: value for name, value in pairs.items() if value})

    def statement(self) -> Select[SecurityEvent]:
        """The events these filters let through, newest first.

        Raises:
            PeriodError: a date that cannot be read, or the days in the wrong order.
        """
        chosen = select(SecurityEvent)
        if self.event:
            chosen = chosen.where(SecurityEvent.event == self.event)
        if self.actor:
            chosen = chosen.where(SecurityEvent.actor == self.actor)
        if self.subject:
            chosen = chosen.where(
                func.lower(SecurityEvent.subject).contains(self.subject.lower(), autoescape=True)
            )
        if self.first or self.last:
            first = parse_day(self.first, "Ngày bắt đầu") if self.first else None
            last = parse_day(self.last, "Ngày kết thúc") if self.last else None
            if first and last and first > last:
                raise PeriodError("Ngày bắt đầu phải trước hoặc trùng ngày kết thúc.")
            if first:
                chosen = chosen.where(SecurityEvent.created_at >= Period(first, first).start)
            if last:
                chosen = chosen.where(SecurityEvent.created_at < Period(last, last).end)
        return chosen.order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())


@pages.get("/console/security", LEADS)
async def security_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    filters = Filters.of(request.query)
    page = max(1, min(int_or_none(request.query.get("page")) or 1, LAST_PAGE))
    values: dict[str, Any] = {
        "filters": filters,
        "groups": event_groups(),
        "label": event_label,
        "details": shown_details,
        "page": page,
        "events": [],
        "more": False,
        "usernames": [],
        "conversations": {},
    }
    try:
        statement = filters.statement()
    except PeriodError as error:
        return console.render(request, "security.html", status=400, error=str(error), **values)
    async with console.services.db.reading() as session:
        rows = list(
            await session.scalars(statement.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
        )
        usernames = list(
            await session.scalars(select(StaffAccount.username).order_by(StaffAccount.username))
        )
        customers = {row.chat_user_id for row in rows if row.chat_user_id is not None}
        found = await session.execute(
            select(Conversation.chat_user_id, Conversation.id).where(
                Conversation.chat_user_id.in_(customers)
            )
        )
        conversations = {chat_user_id: conversation_id for chat_user_id, conversation_id in found}
    values.update(
        events=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        usernames=usernames,
        conversations=conversations,
    )
    return console.render(request, "security.html", **values)
