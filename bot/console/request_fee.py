"""The fee of a service request (issue 16), set from its page by whoever moves the
request on: the customer is told and pays it in the chat (💳 Thanh toán). The same
change as `cskh requests set-fee` (bot/payments/fees.py)."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.audit import record_staff
from bot.console.access import SUPPORT, Pages
from bot.console.base import console_of, redirect, staff_of
from bot.console.requests import STATUS_LABELS, request_view
from bot.payments.fees import FEE_STATUSES, MAX_FEE, FeeError, set_fee
from bot.store import requests as store
from bot.store.models import ServiceRequest

pages = Pages()

# "2500000", "2.500.000", "2,500,000" or "2 500 000", with or without "đ": whole đồng.
AMOUNT = re.compile(r"(\d{1,3}(?:([.,\s])\d{3})(?:\2\d{3})*|\d+)\s*(?:đ|d|vnd|đồng)?", re.I)
ASK_AMOUNT = "Nhập phí bằng đồng, ví dụ 2.500.000."


def parse_amount(typed: str) -> int | None:
    """Whole đồng from what staff typed; None when it is not an amount."""
    found = AMOUNT.fullmatch(typed.strip())
    if found is None:
        return None
    return int(re.sub(r"\D", "", found.group(1)))


def _refusal(current: ServiceRequest | None, amount: int) -> str:
    """Why the fee was not set, for staff (FeeError's own text is for the shell)."""
    if not 0 < amount <= MAX_FEE:
        return f"Phí phải từ 1 đ đến {MAX_FEE:,} đ.".replace(",", ".")
    if current is not None and current.fee_paid_at is not None:
        return "Khách hàng đã thanh toán phí của yêu cầu này; không đổi được nữa."
    if current is not None and current.status not in FEE_STATUSES:
        shown = " hoặc ".join(f"“{STATUS_LABELS[s]}”" for s in FEE_STATUSES)
        return f"Chỉ đặt phí khi yêu cầu đã được duyệt (trạng thái {shown})."
    return "Không đặt được phí. Vui lòng thử lại."


@pages.post("/console/requests/{code}/fee", SUPPORT)
async def set_request_fee(request: web.Request) -> web.StreamResponse:
    """Set (or correct, until it is paid) the fee the customer pays in the chat."""
    console, staff = console_of(request), staff_of(request)
    services = console.services
    form = await request.post()
    typed_amount = str(form.get("fee", ""))[:40]
    typed = {"fee": typed_amount}
    code = request.match_info["code"].strip().upper()[:20]
    async with services.db.reading() as session:
        found = await store.get_request(session, code)
    if found is None:
        return await request_view(request)  # the page that says there is no such request
    amount = parse_amount(typed_amount)
    if amount is None:
        return await request_view(request, error=ASK_AMOUNT, status=400, typed=typed)
    actor = f"staff:{staff.username}"[:60]

    def audit(session: AsyncSession, changed: ServiceRequest) -> None:
        record_staff(
            session,
            "request_fee_set",
            staff.username,
            subject=changed.code,
            chat_user_id=changed.chat_user_id,
            amount=amount,
        )

    try:
        told = await set_fee(
            services.db,
            services.pusher,
            services.texts,
            services.clock,
            code,
            amount,
            actor=actor,
            also=audit,
        )
    except FeeError:
        async with services.db.reading() as session:
            current = await store.get_request(session, code)
        return await request_view(request, error=_refusal(current, amount), status=400, typed=typed)
    return redirect(f"/console/requests/{found.code}?ok={'fee_told' if told else 'fee_untold'}")
