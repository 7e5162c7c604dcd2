"""Thanh toán giữ lại (issue 16): money that arrived but could not be applied as it
came (already paid, a different amount, an unknown reference). Supervisors and admins
apply it to its order or note the refund made outside; the same decision as
`cskh payments resolve` (bot/payments/settle.py: resolve_held), audited in its
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from bot.auth.audit import record_staff
from bot.console.access import LEADS, Pages
from bot.console.base import Console, console_of, int_or_none, redirect, staff_of
from bot.notify.payment_notices import OutboxPaymentNotifier
from bot.payments.settle import ResolveError, Settler, resolve_held
from bot.store.payment_models import HeldPayment, PaymentOrder

pages = Pages()

# Money decisions belong to supervisors and admins (bot/console/access.py: LEADS).
MONEY = LEADS
RECENT = timedelta(days=30)  # resolved ones stay listed this long, for a second look
LIMIT = 200  # rows of each part of the list
NOTE_MAX = 1000

REASONS = {
    "already_paid": "Khoản đã được thanh toán trước đó",
    "amount_mismatch": "Số tiền không khớp",
    "unknown_reference": "Không tìm thấy đơn thanh toán",
    "expired_order": "Đơn đã hết hạn",
}
SOURCES = {
    "vnpay": "VNPay",
    "vietqr": "Chuyển khoản",
    "statement": "Sao kê",
    "staff": "Nhân viên",
}
STATUSES = {
    "held": "Đang giữ",
    "applied": "Đã áp dụng vào đơn",
    "refund_noted": "Đã ghi nhận hoàn tiền",
}
NOTICES = {
    "applied": "Đã áp dụng khoản tiền vào đơn và báo cho khách hàng.",
    "refund_noted": "Đã ghi nhận hoàn tiền.",
}


@dataclass
class HeldRow:
    """One held payment as the page lists it, with the order it named."""

    held: HeldPayment
    order: PaymentOrder | None
    covered: list[str]  # what the order was for, one line per item


def covered(order: PaymentOrder | None) -> list[str]:
    """An order's items as staff read them: "Tiền điện kỳ 1 tháng 11/2026"."""
    if order is None:
        return []
    lines = []
    for item in order.items:
        if item.get("kind") == "bill":
            term = f"kỳ {item['term']} " if item.get("term") else ""
            lines.append(f"Tiền điện {term}tháng {int(item['month']):02d}/{item['year']}")
        else:
            lines.append(f"Phí dịch vụ {item.get('request', '')}".strip())
    return lines


def settler_of(console: Console) -> Settler:
    """The reconciliation the chat and `cskh` use, telling customers through the outbox
    (stateless: one per decision costs nothing)."""
    services = console.services
    return Settler(
        services.backend, OutboxPaymentNotifier(services.texts, services.settings.hotline)
    )


async def read_held(console: Console) -> tuple[list[HeldRow], list[HeldRow]]:
    """The payments still held (oldest first), and those resolved in the last 30 days
    (latest first)."""
    base = select(HeldPayment, PaymentOrder).outerjoin(
        PaymentOrder, PaymentOrder.id == HeldPayment.order_id
    )
    since = console.now - RECENT
    async with console.services.db.reading() as session:
        waiting = (
            await session.execute(
                base.where(HeldPayment.status == "held")
                .order_by(HeldPayment.created_at, HeldPayment.id)
                .limit(LIMIT)
            )
        ).all()
        resolved = (
            await session.execute(
                base.where(HeldPayment.status != "held", HeldPayment.resolved_at >= since)
                .order_by(HeldPayment.resolved_at.desc(), HeldPayment.id.desc())
                .limit(LIMIT)
            )
        ).all()
    return (
        [HeldRow(held, order, covered(order)) for held, order in waiting],
        [HeldRow(held, order, covered(order)) for held, order in resolved],
    )


async def _page(
    request: web.Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    typed: dict[int, str] | None = None,
) -> web.StreamResponse:
    """The list; `typed`: the refund note a staff member wrote, under its payment's id."""
    console = console_of(request)
    waiting, resolved = await read_held(console)
    return console.render(
        request,
        "payments_held.html",
        status=status,
        error=error,
        notice=notice,
        waiting=waiting,
        resolved=resolved,
        reasons=REASONS,
        sources=SOURCES,
        statuses=STATUSES,
        typed=typed or {},
        note_max=NOTE_MAX,
    )


@pages.get("/console/payments/held", MONEY)
async def held_payments(request: web.Request) -> web.StreamResponse:
    return await _page(request, notice=NOTICES.get(request.query.get("ok", "")))


async def _refusal(console: Console, held_id: int, apply: bool) -> tuple[str, int]:
    """Why `resolve_held` said no, in Vietnamese, read from what is stored now (the
    error's own text is for the shell)."""
    async with console.services.db.reading() as session:
        held = await session.get(HeldPayment, held_id)
        order = await session.get(PaymentOrder, held.order_id) if held and held.order_id else None
    if held is None:
        return f"Không có khoản thanh toán giữ lại #{held_id}.", 404
    if held.status != "held":
        label = STATUSES.get(held.status, held.status).lower()
        return f"Khoản #{held_id} đã được xử lý trước đó ({label}); không xử lý lại.", 409
    if apply and order is None:
        return (
            f"Khoản #{held_id} không gắn với đơn thanh toán nào nên không áp dụng được. "
            "Hãy hoàn tiền cho khách rồi ghi nhận hoàn tiền.",
            409,
        )
    if apply:
        return (
            f"Các khoản của đơn {order.ref if order else ''} đã được thanh toán trước đó; "
            "không áp dụng được nữa. Hãy hoàn tiền cho khách rồi ghi nhận hoàn tiền.",
            409,
        )
    return "Ghi nhận hoàn tiền cần ghi chú cách đã trả lại tiền cho khách.", 400


async def _resolve(request: web.Request, *, apply: bool) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    held_id = int_or_none(request.match_info["held_id"])
    form = await request.post()
    note = str(form.get("note", "")).strip() or None
    typed: dict[int, str] = {} if apply or held_id is None else {held_id: note or ""}
    if held_id is None:
        return await _page(request, error="Không có khoản thanh toán giữ lại này.", status=404)
    if note is not None and len(note) > NOTE_MAX:
        return await _page(
            request, error=f"Ghi chú tối đa {NOTE_MAX} ký tự.", status=400, typed=typed
        )
    if not apply and note is None:  # said here too: the form keeps what was typed
        error, status = await _refusal(console, held_id, apply)
        return await _page(request, error=error, status=status, typed=typed)
    actor = f"staff:{staff.username}"[:80]
    try:
        async with console.services.db.transaction() as session:
            held = await resolve_held(
                session,
                settler_of(console),
                held_id,
                apply=apply,
                note=note,
                actor=actor,
                now=console.now,
            )
            record_staff(
                session,
                "payment_resolved",
                staff.username,
                subject=f"#{held.id}",
                status=held.status,
                amount=held.amount,
            )
            outcome = held.status
    except ResolveError:
        error, status = await _refusal(console, held_id, apply)
        return await _page(request, error=error, status=status, typed=typed)
    return redirect(f"/console/payments/held?ok={outcome}")


@pages.post("/console/payments/held/{held_id}/apply", MONEY)
async def apply_held(request: web.Request) -> web.StreamResponse:
    """Pay what the held money's order covers (all of it still open)."""
    return await _resolve(request, apply=True)


@pages.post("/console/payments/held/{held_id}/refund", MONEY)
async def note_refund(request: web.Request) -> web.StreamResponse:
    """The money went back to the customer outside the bot; the note says how."""
    return await _resolve(request, apply=False)
