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
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.backend import BillSettlement, UtilityBackend
from bot.store.models import ServiceRequest
from bot.store.payment_models import HeldPayment, PaymentEvent, PaymentOrder

log = logging.getLogger(__name__)

# Orders money may still settle: a VNPay IPN may come after the link expired, a
# transfer after its week (the order's status turns "expired" only when shown).
SETTLEABLE = ("pending", "expired")


class PaymentNotifier(Protocol):
    """Tells the customer what became of their payment, in the payment's transaction
    (bot/notify/payment_notices.py implements it over the outbox)."""

    async def settled(
        self, session: AsyncSession, orders: Sequence[PaymentOrder], *, now: datetime
    ) -> None:
        """The receipts; pending reminders of the bills they paid are withdrawn."""

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
        return (await self.arrive_many(session, [arrival], strict=strict))[0]

    async def arrive_many(
        self, session: AsyncSession, arrivals: Sequence[Arrival], *, strict: bool
    ) -> list[Outcome]:
        """`arrive` for many at once, in order, in the caller's transaction: a few
        statements for the lot instead of a dozen each (a statement's matched lines)."""
        refs = sorted({a.ref for a in arrivals if a.ref is not None})
        orders: dict[str, PaymentOrder] = {}
        for start in range(0, len(refs), 1000):  # locked in id order: no deadlock
            rows = await session.scalars(
                select(PaymentOrder)
                .where(PaymentOrder.ref.in_(refs[start : start + 1000]))
                .order_by(PaymentOrder.id)
                .with_for_update()
            )
            orders.update((order.ref, order) for order in rows)
        pairs = [(orders.get(a.ref) if a.ref else None, a) for a in arrivals]
        # A transfer is money received: it may pay an order whose VNPay attempt failed,
        # or one whose earlier transfer was held for another amount (the customer sent
        # the right amount after a wrong one; staff refund the first). Its items must
        # all be open still, as always.
        settleable = SETTLEABLE if strict else (*SETTLEABLE, "failed", "held")
        return await self._apply(session, pairs, strict=strict, settleable=settleable)

    async def settle_received(
        self, session: AsyncSession, orders: Sequence[PaymentOrder]
    ) -> list[Outcome]:
        """Apply the money VNPay confirmed for these orders (status "received", locked by
        the caller): their bills or fees become paid, or the money is held."""
        pairs = [
            (
                order,
                Arrival(
                    ref=order.ref,
                    amount=order.amount,
                    source="vnpay",
                    gateway_ref=order.gateway_ref,
                    actor="vnpay",
                    paid_at=order.paid_at or order.created_at,
                ),
            )
            for order in orders
        ]
        return await self._apply(session, pairs, strict=True, settleable=("received",))

    async def _apply(
        self,
        session: AsyncSession,
        pairs: Sequence[tuple[PaymentOrder | None, Arrival]],
        *,
        strict: bool,
        settleable: Sequence[str],
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(pairs)
        holds: list[tuple[int, str, bool]] = []  # (index, reason, keep the order's status)
        paying: list[int] = []
        status = {order.id: order.status for order, _ in pairs if order is not None}
        for index, (order, arrival) in enumerate(pairs):
            if order is None:
                if strict:
                    outcomes[index] = Outcome("not_found")
                else:
                    holds.append((index, "unknown_reference", False))
            elif strict and arrival.amount != order.amount:
                log.warning(
                    "payment %s: gateway amount %s đ, order %s đ; refused",
                    order.ref,
                    arrival.amount,
                    order.amount,
                )
                outcomes[index] = Outcome("bad_amount", order.id)
            elif status[order.id] not in settleable:
                if strict:  # a replayed IPN (or one after a failure for the same order)
                    log.info(
                        "payment %s: %s again; already %s",
                        order.ref,
                        arrival.source,
                        status[order.id],
                    )
                    outcomes[index] = Outcome("duplicate", order.id)
                else:  # a transfer for an order paid already: money all the same
                    holds.append((index, "already_paid", True))
            elif arrival.amount != order.amount:
                holds.append((index, "amount_mismatch", False))
                status[order.id] = "held"
            else:
                paying.append(index)
                status[order.id] = "paid"
        paid_orders: list[PaymentOrder] = []
        ledger: list[dict[str, object]] = []
        paid = await self._pay_items(
            session,
            [cast(PaymentOrder, pairs[i][0]) for i in paying],
            [pairs[i][1] for i in paying],
        )
        for index, ok in zip(paying, paid, strict=True):
            order, arrival = cast(PaymentOrder, pairs[index][0]), pairs[index][1]
            if not ok:  # one of its bills was paid since: the money waits for staff
                holds.append((index, "already_paid", False))
                continue
            order.status = "paid"
            order.paid_at = arrival.paid_at
            order.gateway_ref = arrival.gateway_ref
            ledger.append(_ledger_row(order, arrival, "paid"))
            paid_orders.append(order)
            outcomes[index] = Outcome("paid", order.id)
            log.info(
                "payment %s paid: %s đ by %s (%s)",
                order.ref,
                arrival.amount,
                arrival.source,
                arrival.gateway_ref,
            )
        if ledger:
            await session.execute(insert(cast(Table, PaymentEvent.__table__)), ledger)
        if paid_orders:
            await self.notifier.settled(
                session, paid_orders, now=max(o.paid_at or o.created_at for o in paid_orders)
            )
        for index, reason, keep_status in sorted(holds):
            order, arrival = pairs[index]
            # A wrong amount before the right one in the same batch: the order is paid.
            keep = keep_status or (order is not None and order.status == "paid")
            outcomes[index] = await self._hold(session, order, arrival, reason, keep_status=keep)
        return [cast(Outcome, outcome) for outcome in outcomes]

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
        self,
        session: AsyncSession,
        orders: Sequence[PaymentOrder],
        arrivals: Sequence[Arrival],
    ) -> list[bool]:
        """Pay every item of each order, or none of it (False: one was paid since)."""
        fees_ok = await _fees_open(session, orders)
        bills = [
            (index, tuple(int(i["id"]) for i in order.items if i["kind"] == "bill"))
            for index, order in enumerate(orders)
            if fees_ok[index]
        ]
        bills = [(index, ids) for index, ids in bills if ids]
        done = list(fees_ok)
        if bills:
            settled = await self.backend.settle_bills(
                session,
                [
                    BillSettlement(
                        ids,
                        paid_at=arrivals[index].paid_at,
                        channel=orders[index].method,
                        reference=orders[index].ref,
                    )
                    for index, ids in bills
                ],
            )
            for (index, _), ok in zip(bills, settled, strict=True):
                done[index] = ok
        fees = [
            {"request_id": int(item["id"]), "at": arrivals[index].paid_at}
            for index, order in enumerate(orders)
            if done[index]
            for item in order.items
            if item["kind"] == "fee"
        ]
        if fees:
            await session.execute(_PAY_FEE, fees)
        return done

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
        session.add(
            PaymentEvent(**_ledger_row(order, arrival, "held", reason=reason, held_id=held.id))
        )
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


def _ledger_row(
    order: PaymentOrder | None, arrival: Arrival, event: str, **detail: object
) -> dict[str, object]:
    """A ledger line (`PaymentEvent`'s columns) for what `arrival` did to `order`."""
    return {
        "at": arrival.paid_at,
        "order_id": order.id if order else None,
        "event": event,
        "amount": arrival.amount,
        "source": arrival.source,
        "gateway_ref": arrival.gateway_ref,
        "actor": arrival.actor,
        "detail": {k: v for k, v in detail.items() if v is not None},
    }


_PAY_FEE = (
    update(cast(Table, ServiceRequest.__table__))
    .where(cast(Table, ServiceRequest.__table__).c.id == bindparam("request_id"))
    .values(fee_paid_at=bindparam("at"))
)


async def _fees_open(session: AsyncSession, orders: Sequence[PaymentOrder]) -> list[bool]:
    """Per order: whether each fee it covers is still unpaid at the amount it says (and
    not taken by an earlier order of the list)."""
    wanted = [
        {int(i["id"]): int(i["amount"]) for i in order.items if i["kind"] == "fee"}
        for order in orders
    ]
    ids = sorted({request_id for fees in wanted for request_id in fees})
    open_fees: dict[int, int | None] = {}
    if ids:
        rows = await session.execute(
            select(ServiceRequest.id, ServiceRequest.fee_amount)
            .where(ServiceRequest.id.in_(ids), ServiceRequest.fee_paid_at.is_(None))
            .order_by(ServiceRequest.id)
            .with_for_update()
        )
        open_fees = {request_id: amount for request_id, amount in rows}
    result = []
    for fees in wanted:
        ok = all(open_fees.get(request_id, -1) == amount for request_id, amount in fees.items())
        if ok:
            for request_id in fees:
                del open_fees[request_id]
        result.append(ok)
    return result


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
        if order.status == "received":  # VNPay's money for it is being applied now
            raise ResolveError(
                f"order {order.ref} has a VNPay payment being applied: look again in a minute"
            )
        if order.status == "paid" or not (await settler._pay_items(session, [order], [arrival]))[0]:
            raise ResolveError(f"what order {order.ref} covers is paid already: note a refund")
        order.status = "paid"
        order.paid_at = now
        order.gateway_ref = held.gateway_ref
        held.status = "applied"
        session.add(
            PaymentEvent(**_ledger_row(order, arrival, "applied", held_id=held.id, note=note))
        )
        await settler.notifier.settled(session, [order], now=now)
    else:
        if not (note and note.strip()):
            raise ResolveError("a refund needs a note saying how the money went back")
        held.status = "refund_noted"
        session.add(
            PaymentEvent(**_ledger_row(order, arrival, "refund_noted", held_id=held.id, note=note))
        )
    held.note = note
    held.resolved_by = actor
    held.resolved_at = now
    log.info("held payment #%s %s by %s", held.id, held.status, actor)
    return held
