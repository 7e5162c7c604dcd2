"""Payment orders: what a customer chose to pay (bills of one customer code, a service
request's fee), checked against what is open and whose it is, before any money moves.

An order names its items with their amounts at the time it was made; reconciliation
(settle.py) pays them all or, when anything changed since, holds the money for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.payments.vietqr import reference as new_reference
from bot.store.backend import BillRecord, UtilityBackend
from bot.store.models import ChatUser, ServiceRequest
from bot.store.payment_models import METHODS, PaymentEvent, PaymentOrder

log = logging.getLogger(__name__)

# How long a VNPay link is good for (vnp_ExpireDate); a VietQR transfer may come days
# later (a bank's statement), so its order waits a week before it counts as expired.
VNPAY_TTL = timedelta(minutes=15)
VIETQR_TTL = timedelta(days=7)


class PaymentError(ValueError):
    """What a customer or operator asked cannot be paid; `reason` names it for the
    message: not_yours, not_open, nothing, unknown_method."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Fee:
    """A fee staff set on a service request, not paid yet."""

    request_id: int
    request_code: str
    request_type: str
    amount: int
    customer_code: str | None


def bill_item(bill: BillRecord) -> dict[str, Any]:
    return {
        "kind": "bill",
        "id": bill.id,
        "amount": bill.total,
        "term": bill.term,
        "month": bill.month,
        "year": bill.year,
    }


def fee_item(fee: Fee) -> dict[str, Any]:
    return {
        "kind": "fee",
        "id": fee.request_id,
        "amount": fee.amount,
        "request": fee.request_code,
        "type": fee.request_type,
    }


async def open_fees(session: AsyncSession, user: ChatUser) -> list[Fee]:
    """Fees set on this chat's requests (or on a code it holds) and not paid yet."""
    codes = list(user.customer_codes)
    mine = ServiceRequest.chat_user_id == user.id
    whose = mine | ServiceRequest.customer_code.in_(codes) if codes else mine
    rows = await session.scalars(
        select(ServiceRequest)
        .where(
            whose,
            ServiceRequest.fee_amount.is_not(None),
            ServiceRequest.fee_paid_at.is_(None),
            ServiceRequest.status != "rejected",
        )
        .order_by(ServiceRequest.id)
    )
    return [
        Fee(r.id, r.code, r.type, int(r.fee_amount or 0), r.customer_code)
        for r in rows
        if r.fee_amount
    ]


async def create_order(
    session: AsyncSession,
    backend: UtilityBackend,
    *,
    user: ChatUser,
    method: str,
    now: datetime,
    customer_code: str | None = None,
    bill_ids: Sequence[int] = (),
    fee_ids: Sequence[int] = (),
) -> PaymentOrder:
    """An order for these bills (of `customer_code`, which the chat must hold) and fees
    (of the chat's requests), each still open.

    Raises:
        PaymentError: a code not linked to the chat, a bill of another code or paid
            already, a fee not the chat's or paid, nothing chosen, an unknown method.
    """
    if method not in METHODS:
        raise PaymentError(f"unknown payment method {method!r}", "unknown_method")
    if not bill_ids and not fee_ids:
        raise PaymentError("nothing to pay", "nothing")
    items: list[dict[str, Any]] = []
    if bill_ids:
        if customer_code is None or customer_code not in user.customer_codes:
            raise PaymentError("the customer code is not linked to this chat", "not_yours")
        bills = {bill.id: bill for bill in await backend.bills_by_id(bill_ids)}
        for bill_id in dict.fromkeys(bill_ids):
            bill = bills.get(bill_id)
            if bill is None or bill.customer_code != customer_code:
                raise PaymentError(f"bill {bill_id} is not of {customer_code}", "not_yours")
            if bill.status != "unpaid":
                raise PaymentError(f"bill {bill_id} is paid already", "not_open")
            items.append(bill_item(bill))
    if fee_ids:
        fees = {fee.request_id: fee for fee in await open_fees(session, user)}
        for fee_id in dict.fromkeys(fee_ids):
            if fee_id not in fees:
                raise PaymentError(f"fee of request {fee_id} is not open here", "not_open")
            items.append(fee_item(fees[fee_id]))
            customer_code = customer_code or fees[fee_id].customer_code
    ttl = VNPAY_TTL if method == "vnpay" else VIETQR_TTL
    order = PaymentOrder(
        ref=new_reference(),
        method=method,
        chat_user_id=user.id,
        customer_code=customer_code,
        amount=sum(int(item["amount"]) for item in items),
        items=items,
        status="pending",
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(order)
    await session.flush()
    session.add(
        PaymentEvent(
            at=now,
            order_id=order.id,
            event="order_created",
            amount=order.amount,
            source=method,
            actor=f"chat:{user.id}",
            detail={"ref": order.ref, "items": items},
        )
    )
    log.info(
        "payment order %s (%s) for %s: %s đ, %d item(s)",
        order.ref,
        method,
        customer_code,
        order.amount,
        len(items),
    )
    return order


async def order_by_ref(session: AsyncSession, ref: str) -> PaymentOrder | None:
    return await session.scalar(select(PaymentOrder).where(PaymentOrder.ref == ref))


def effective_status(order: PaymentOrder, now: datetime) -> str:
    """The order's status as a customer sees it: a pending order past its time expired."""
    if order.status == "pending" and now >= order.expires_at:
        return "expired"
    return order.status
