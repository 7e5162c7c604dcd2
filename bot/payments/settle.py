"""Reconciliation: money that arrived (a VNPay IPN, a bank statement line) pays its
order exactly once, whatever comes twice or out of order.

Each arrival is one transaction that first locks the order (FOR UPDATE on PostgreSQL;
SQLite has one writer): the first arrival finds it open and settles it, every later
one finds it settled. An order pays all its items or none: when a bill was paid since
(another order, a transfer after a VNPay payment) or the amount differs, the money is
held for staff, never applied silently. Every step writes a ledger line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.backend import UtilityBackend
from bot.store.models import ServiceRequest
from bot.store.payment_models import HeldPayment, PaymentEvent, PaymentOrder

log = logging.getLogger(__name__)

# Orders money may still settle: a VNPay IPN may come after the link expired, a
# transfer after its week (the order's status turns "expired" only when shown).
SETTLEABLE = ("pending", "expired")


class PaymentNotifier(Protocol):
    """Tells the customer what became of their payment, in the payment's transaction
    (bot/notify/payment_notices.py implements it over the outbox)."""

    async def settled(self, session: AsyncSession, order: PaymentOrder, *, now: datetime) -> None:
        """The receipt; pending reminders of the bills it paid are withdrawn."""

    async def failed(self, session: AsyncSession, order: PaymentOrder, *, now: datetime) -> None:
        """The gateway said no (cancelled, declined): nothing was paid."""

    async def held(
        self, session: AsyncSession, order: PaymentOrder | None, held: HeldPayment, *, now: datetime
    ) -> None:
        """Money arrived that staff must look at; the customer hears it is being checked."""


@dataclass(frozen=True)
class Arrival:
    """Money that arrived: for the order `ref`, from `source` (vnpay | statement)."""

    ref: str | None
    amount: int
    source: str
    gateway_ref: str | None
    actor: str
    paid_at: datetime
    description: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an arrival did: paid, duplicate, held, not_found, bad_amount, failed."""

    result: str
    order_id: int | None = None
    held_id: int | None = None


class Settler:
    """Applies arrivals to orders; one instance per process, stateless between calls."""

    def __init__(self, backend: UtilityBackend, notifier: PaymentNotifier) -> None:
        self.backend = backend
        self.notifier = notifier

    async def arrive(self, session: AsyncSession, arrival: Arrival, *, strict: bool) -> Outcome:
        """Apply `arrival` in the caller's transaction. `strict` (a gateway): an amount
        other than the order's is refused (VNPay's "invalid amount") and nothing
        changes; otherwise (a bank transfer, already received) it is held."""
        order = None
        if arrival.ref is not None:
            order = await session.scalar(
                select(PaymentOrder).where(PaymentOrder.ref == arrival.ref).with_for_update()
            )
        if order is None:
            if strict:
                return Outcome("not_found")
            return await self._hold(session, None, arrival, "unknown_reference")
        if strict and arrival.amount != order.amount:
            log.warning(
                "payment %s: gateway amount %s đ, order %s đ; refused",
                order.ref,
                arrival.amount,
                order.amount,
            )
            return Outcome("bad_amount", order.id)
        # A transfer naming an order whose VNPay attempt failed is money all the same.
        settleable = SETTLEABLE if strict else (*SETTLEABLE, "failed")
        if order.status not in settleable:
            if strict:  # a replayed IPN (or one after a failure for the same order)
                log.info(
                    "payment %s: %s again; already %s", order.ref, arrival.source, order.status
                )
                return Outcome("duplicate", order.id)
            return await self._hold(session, order, arrival, "already_paid", keep_status=True)
        if arrival.amount != order.amount:
            return await self._hold(session, order, arrival, "amount_mismatch")
        if not await self._pay_items(session, order, arrival):
            return await self._hold(session, order, arrival, "already_paid")
        order.status = "paid"
        order.paid_at = arrival.paid_at
        order.gateway_ref = arrival.gateway_ref
        self._ledger(session, order, arrival, "paid")
        await self.notifier.settled(session, order, now=arrival.paid_at)
        log.info(
            "payment %s paid: %s đ by %s (%s)",
            order.ref,
            arrival.amount,
            arrival.source,
            arrival.gateway_ref,
        )
        return Outcome("paid", order.id)

    async def fail(
        self, session: AsyncSession, ref: str, code: str, *, actor: str, now: datetime
    ) -> Outcome:
        """The gateway says the payment did not go through (code: vnp_ResponseCode)."""
        order = await session.scalar(
            select(PaymentOrder).where(PaymentOrder.ref == ref).with_for_update()
        )
        if order is None:
            return Outcome("not_found")
        if order.status not in SETTLEABLE:
            return Outcome("duplicate", order.id)
        order.status = "failed"
        order.failure = code[:10]
        session.add(
            PaymentEvent(
                at=now,
                order_id=order.id,
                event="failed",
                amount=0,
                source=order.method,
                actor=actor,
                detail={"code": code},
            )
        )
        await self.notifier.failed(session, order, now=now)
        log.info("payment %s failed at the gateway: code %s", order.ref, code)
        return Outcome("failed", order.id)

    async def _pay_items(
        self, session: AsyncSession, order: PaymentOrder, arrival: Arrival
    ) -> bool:
        """Pay every item of the order, or none (False: one was paid since)."""
        bill_ids = [int(i["id"]) for i in order.items if i["kind"] == "bill"]
        fee_ids = [int(i["id"]) for i in order.items if i["kind"] == "fee"]
        if fee_ids and not await _fees_open(session, order, fee_ids):
            return False
        if bill_ids and not await self.backend.settle_bills(
            session,
            bill_ids,
            paid_at=arrival.paid_at,
            channel=order.method,
            reference=order.ref,
        ):
            return False
        if fee_ids:
            await session.execute(
                update(ServiceRequest)
                .where(ServiceRequest.id.in_(fee_ids))
                .values(fee_paid_at=arrival.paid_at)
            )
        return True

    async def _hold(
        self,
        session: AsyncSession,
        order: PaymentOrder | None,
        arrival: Arrival,
        reason: str,
        *,
        keep_status: bool = False,
    ) -> Outcome:
        held = HeldPayment(
            order_id=order.id if order else None,
            source=arrival.source,
            amount=arrival.amount,
            gateway_ref=arrival.gateway_ref,
            description=arrival.description,
            reason=reason,
            status="held",
            created_at=arrival.paid_at,
        )
        session.add(held)
        await session.flush()
        if order is not None and not keep_status:
            order.status = "held"
            order.gateway_ref = arrival.gateway_ref
        self._ledger(session, order, arrival, "held", reason=reason, held_id=held.id)
        await self.notifier.held(session, order, held, now=arrival.paid_at)
        log.warning(
            "payment held #%s (%s): %s đ by %s, order %s",
            held.id,
            reason,
            arrival.amount,
            arrival.source,
            order.ref if order else "-",
        )
        return Outcome("held", order.id if order else None, held.id)

    def _ledger(
        self,
        session: AsyncSession,
        order: PaymentOrder | None,
        arrival: Arrival,
        event: str,
        **detail: object,
    ) -> None:
        session.add(
            PaymentEvent(
                at=arrival.paid_at,
                order_id=order.id if order else None,
                event=event,
                amount=arrival.amount,
                source=arrival.source,
                gateway_ref=arrival.gateway_ref,
                actor=arrival.actor,
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )


async def _fees_open(session: AsyncSession, order: PaymentOrder, fee_ids: Sequence[int]) -> bool:
    rows = await session.execute(
        select(ServiceRequest.id, ServiceRequest.fee_amount)
        .where(ServiceRequest.id.in_(fee_ids), ServiceRequest.fee_paid_at.is_(None))
        .with_for_update()
    )
    amounts = {request_id: amount for request_id, amount in rows}
    wanted = {int(i["id"]): int(i["amount"]) for i in order.items if i["kind"] == "fee"}
    return amounts == wanted


class ResolveError(ValueError):
    """A held payment that cannot be resolved as asked (unknown, resolved already, no
    order to apply it to, or its items paid since); the message says which."""


async def resolve_held(
    session: AsyncSession,
    settler: Settler,
    held_id: int,
    *,
    apply: bool,
    note: str | None,
    actor: str,
    now: datetime,
) -> HeldPayment:
    """Staff's decision on held money: apply it to its order's items (all still open),
    or note the refund made outside (`note` says how)."""
    held = await session.get(HeldPayment, held_id, with_for_update=True)
    if held is None:
        raise ResolveError(f"no held payment #{held_id}")
    if held.status != "held":
        raise ResolveError(f"held payment #{held_id} is {held.status} already")
    order = await session.get(PaymentOrder, held.order_id) if held.order_id else None
    arrival = Arrival(
        ref=order.ref if order else None,
        amount=held.amount,
        source="staff",
        gateway_ref=held.gateway_ref,
        actor=actor,
        paid_at=now,
    )
    if apply:
        if order is None:
            raise ResolveError(
                f"held payment #{held_id} names no order: note a refund, or pay the bill "
                "at the counter and note it"
            )
        if order.status == "paid" or not await settler._pay_items(session, order, arrival):
            raise ResolveError(f"what order {order.ref} covers is paid already: note a refund")
        order.status = "paid"
        order.paid_at = now
        order.gateway_ref = held.gateway_ref
        held.status = "applied"
        settler._ledger(session, order, arrival, "applied", held_id=held.id, note=note)
        await settler.notifier.settled(session, order, now=now)
    else:
        if not (note and note.strip()):
            raise ResolveError("a refund needs a note saying how the money went back")
        held.status = "refund_noted"
        settler._ledger(session, order, arrival, "refund_noted", held_id=held.id, note=note)
    held.note = note
    held.resolved_by = actor
    held.resolved_at = now
    log.info("held payment #%s %s by %s", held.id, held.status, actor)
    return held
