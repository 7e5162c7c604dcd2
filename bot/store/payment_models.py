"""Payments' own tables (issue 16): orders, the append-only ledger, payments held for
staff, and the bank-statement lines already imported.

An order is what a customer chose to pay (bills of one customer code, or a service
request's fee) by one method; its reference is the VNPay TxnRef or the VietQR transfer
text's reference. The ledger records every payment event and is never updated; money
that does not match what is open is held (`HeldPayment`) until staff decide.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, utcnow

# received: VNPay confirmed the money (the IPN); the settlement worker pays its items.
ORDER_STATUSES = ("pending", "received", "paid", "failed", "expired", "held")
METHODS = ("vnpay", "vietqr")
# A bill's paid_channel when it was paid in the chat: its receipt was sent at once, so
# the daily "payments received" run does not tell it again.
PAID_IN_CHAT = METHODS
# An order money may still arrive for (a VNPay IPN after its expiry, a late transfer).
UNSETTLED = ("pending", "failed", "expired")


class PaymentOrder(Base):
    """What a customer chose to pay, by one method. `items` lists what it covers:
    {"kind": "bill", "id", "amount", "label"} or {"kind": "fee", "id" (the service
    request), "amount", "label"}; their amounts add up to `amount`."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        Index("ix_payment_orders_code_status", "customer_code", "status"),
        # What the settlement worker looks for every few seconds: a handful of rows.
        Index(
            "ix_payment_orders_received",
            "id",
            postgresql_where=text("status = 'received'"),
            sqlite_where=text("status = 'received'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    method: Mapped[str] = mapped_column(String(10))  # vnpay | vietqr
    chat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_users.id", ondelete="SET NULL"), index=True
    )
    customer_code: Mapped[str | None] = mapped_column(String(13))
    amount: Mapped[int]
    items: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    # The gateway's or bank's id of the money that settled it (vnp_TransactionNo, the
    # statement line's reference), and what a failed attempt answered (vnp_ResponseCode).
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(10))


class PaymentEvent(Base):
    """One line of the payments ledger: append-only, never updated or deleted."""

    __tablename__ = "payment_ledger"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_orders.id", ondelete="RESTRICT"), index=True
    )
    # order_created, paid, failed, duplicate, held, applied, refund_noted, unmatched
    event: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    source: Mapped[str] = mapped_column(String(12))  # vnpay | vietqr | statement | staff
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))  # chat:<id>, vnpay, staff:<username>
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class HeldPayment(Base):
    """Money received that could not be applied as it came: it does not match what is
    open (already paid, a different amount, an unknown reference). Staff apply it or
    note the refund (`cskh payments resolve`, the console's Thanh toán giữ lại page)."""

    __tablename__ = "held_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_orders.id", ondelete="RESTRICT"), index=True
    )
    source: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int]
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)  # the transfer's own text
    # already_paid | amount_mismatch | unknown_reference | expired_order
    reason: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="held", index=True)
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class StatementLine(Base):
    """A bank statement line already imported: a second import of the same file (or an
    overlapping one) finds its key here and imports nothing twice."""

    __tablename__ = "statement_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    booked_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("payment_orders.id"))
    outcome: Mapped[str] = mapped_column(String(12))  # paid | held | duplicate | unmatched
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
