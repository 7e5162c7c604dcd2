"""The payments service handlers, the web endpoints and the command line call: orders,
the VietQR offer, the VNPay link, gateway results and the held payments.

Built once by the composition root (bot/app.py, bot/cli) with the settings, the
utility's backend and a `PaymentNotifier`; every method that changes money runs in one
transaction of its own (or the caller's, when it takes a session).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import aiohttp
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.payments import vietqr, vnpay
from bot.payments.orders import effective_status, order_by_ref
from bot.payments.settle import SETTLEABLE, Arrival, Outcome, PaymentNotifier, Settler
from bot.payments.web import OrderStatus, OrderView
from bot.settings import Settings
from bot.store.backend import UtilityBackend
from bot.store.db import Database
from bot.store.payment_models import PaymentOrder

log = logging.getLogger(__name__)

# What the IPN answers for each outcome (VNPay's codes): money recorded — paid, held for
# staff or a failure noted — is "00"; VNPay then stops retrying.
# A VNPay order whose link expired this long ago with no IPN is asked about (querydr),
# for a day; then it is staff's (`cskh payments query`).
STALE_AFTER = timedelta(minutes=5)
STALE_UNTIL = timedelta(days=1)
STALE_CHECK_EVERY = 300.0  # seconds
# Received payments are settled this many orders to a transaction, and looked for this
# often (seconds) beside the IPN's wake-up: a process that stopped between an IPN and
# its settlement leaves the money on the order, never lost.
SETTLE_BATCH = 50
RECEIVED_POLL = 5.0
# A `cskh worker` settles what the `cskh serve` processes' IPNs recorded (with
# CSKH_PAYMENT_WORKER=0): no IPN wakes it, so it looks this often (seconds), well inside
# the return page's wait for the settlement (`RECEIVED_WAITS` × `RECEIVED_WAIT`).
WORKER_POLL = 0.25
# After an IPN, the worker waits this long (seconds) for others to settle with it: one
# transaction's fixed cost shared by many (at 200 IPNs a second, about ten).
SETTLE_GATHER = 0.05

IPN_ANSWERS = {
    "paid": vnpay.IpnCode.CONFIRMED,
    "held": vnpay.IpnCode.CONFIRMED,
    "failed": vnpay.IpnCode.CONFIRMED,
    "duplicate": vnpay.IpnCode.ALREADY_CONFIRMED,
    "not_found": vnpay.IpnCode.ORDER_NOT_FOUND,
    "bad_amount": vnpay.IpnCode.INVALID_AMOUNT,
}


@dataclass(frozen=True)
class VietQrOffer:
    """What the customer needs to transfer: the QR image and its parts, to copy."""

    payload: str
    png: bytes
    transfer_text: str
    bank_name: str
    account: str
    account_name: str


class PaymentService:
    """Orders, offers and the money that arrives for them."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        backend: UtilityBackend,
        clock: Clock,
        notifier: PaymentNotifier,
    ) -> None:
        self.settings = settings
        self.db = db
        self.backend = backend
        self.clock = clock
        self.settler = Settler(backend, notifier)
        self._received = asyncio.Event()  # an IPN recorded money: settle it

    @property
    def vnpay_config(self) -> vnpay.VnpayConfig:
        """The merchant's VNPay codes and addresses (read each time: the sandbox's address
        is the server's own, known once it listens)."""
        s = self.settings
        return vnpay.VnpayConfig(
            tmn_code=s.vnpay_tmn_code,
            hash_secret=s.vnpay_hash_secret.get_secret_value(),
            pay_url=s.effective_vnpay_url,
            api_url=s.effective_vnpay_api_url,
        )

    def vietqr(self, order: PaymentOrder) -> VietQrOffer:
        s = self.settings
        text = vietqr.transfer_text(order.ref, order.customer_code or "PHI DICH VU")
        payload = vietqr.payload(s.vietqr_bin, s.vietqr_account, order.amount, text)
        return VietQrOffer(
            payload=payload,
            png=vietqr.qr_png(payload),
            transfer_text=text,
            bank_name=s.vietqr_bank_name,
            account=s.vietqr_account,
            account_name=s.vietqr_account_name,
        )

    def vnpay_link(self, order: PaymentOrder, ip_addr: str) -> str:
        base = self.settings.effective_public_url
        info = f"Thanh toan {order.ref}"
        if order.customer_code:
            info += f" ma KH {order.customer_code}"
        return vnpay.payment_url(
            self.vnpay_config,
            txn_ref=order.ref,
            amount=order.amount,
            order_info=info,
            created=order.created_at,
            expires=order.expires_at,
            return_url=f"{base}/payments/vnpay/return",
            ip_addr=ip_addr,
        )

    # --- the gateway's side (bot/payments/web.py's PaymentGateway) --------------------

    async def vnpay_result(self, result: vnpay.GatewayResult) -> str:
        """An IPN: VNPay's answer code. A payment is recorded on its order in one
        statement (status "received", with the gateway's reference and time) and
        confirmed at once; the settlement worker (`run_settlement`) then pays its bills
        and sends the receipt. A failure is noted on the order."""
        now = self.clock.now()
        if not result.succeeded:
            async with self.db.transaction() as session:
                outcome = await self.settler.fail(
                    session, result.txn_ref, result.response_code, actor="vnpay", now=now
                )
            return str(IPN_ANSWERS[outcome.result])
        for attempt in (1, 2):  # a connection the database dropped: once more, anew
            try:
                claimed, known = await self._receive(result, now)
                break
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        if claimed is not None:
            log.info(
                "payment %s received: %s đ by vnpay (%s)",
                result.txn_ref,
                result.amount,
                result.transaction_no,
            )
            self._received.set()
            return str(vnpay.IpnCode.CONFIRMED)
        if known is None:
            return str(vnpay.IpnCode.ORDER_NOT_FOUND)
        status, amount = known
        if amount != result.amount:
            log.warning(
                "payment %s: gateway amount %s đ, order %s đ; refused",
                result.txn_ref,
                result.amount,
                amount,
            )
            return str(vnpay.IpnCode.INVALID_AMOUNT)
        log.info("payment %s: vnpay again; already %s", result.txn_ref, status)
        return str(vnpay.IpnCode.ALREADY_CONFIRMED)

    async def _receive(
        self, result: vnpay.GatewayResult, now: datetime
    ) -> tuple[int | None, tuple[str, int] | None]:
        """Record VNPay's money on its order, when the order is open and the amount its
        own, in one statement that commits by itself (repeating it changes nothing):
        (the order's id, None), or (None, the order's status and amount — None when
        there is no such order)."""
        async with self.db.autocommit() as conn:
            claimed = await conn.scalar(
                _RECEIVE,
                {
                    "txn_ref": result.txn_ref,
                    "paid_amount": result.amount,
                    "at": now,
                    "transaction_no": result.transaction_no,
                },
            )
            if claimed is not None:
                return claimed, None
            known = (await conn.execute(_ORDER_STATE, {"txn_ref": result.txn_ref})).first()
            return None, None if known is None else (str(known[0]), int(known[1]))

    async def settle_received(self, *, limit: int = SETTLE_BATCH) -> int:
        """Settle up to `limit` orders whose money VNPay confirmed, in one transaction
        (on PostgreSQL, orders another process is settling are skipped); how many."""
        async with self.db.transaction() as session:
            orders = list(await session.scalars(_RECEIVED, {"limit": limit}))
            if orders:
                await self.settler.settle_received(session, orders)
        return len(orders)

    async def run_settlement(
        self, *, poll: float | None = None, stop: asyncio.Event | None = None
    ) -> None:
        """Settle received payments as they come (woken by this process's IPNs), and
        every `poll` seconds (default `RECEIVED_POLL`) those another process received:
        its IPNs, or its settlement stopped with it. Runs until cancelled or `stop`."""
        stopping = stop or asyncio.Event()
        while not stopping.is_set():
            waits = [asyncio.ensure_future(self._received.wait())]
            if stop is not None:
                waits.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(
                    waits,
                    timeout=RECEIVED_POLL if poll is None else poll,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiting in waits:
                    waiting.cancel()
            if stopping.is_set():
                return
            woken = self._received.is_set()
            self._received.clear()
            if woken:
                await asyncio.sleep(SETTLE_GATHER)  # the IPNs of the next moments join in
            try:
                while await self.settle_received() == SETTLE_BATCH:
                    pass
            except Exception:  # the database is down, say: the money waits on its orders
                log.warning("settling received payments failed", exc_info=True)
                await asyncio.sleep(RECEIVED_POLL)

    async def order_view(self, txn_ref: str) -> OrderView | None:
        async with self.db.reading() as session:
            order = await order_by_ref(session, txn_ref)
            if order is None:
                return None
            return OrderView(
                txn_ref=order.ref,
                amount=order.amount,
                description=_description(order),
                status=cast(OrderStatus, effective_status(order, self.clock.now())),
                customer_code=order.customer_code,
            )

    async def query(self, txn_ref: str) -> tuple[vnpay.QueryResult, str | None]:
        """Ask VNPay about an order whose IPN never came (querydr); a success the
        gateway reports is settled as an IPN would be: (the answer, the outcome)."""
        async with self.db.reading() as session:
            order = await order_by_ref(session, txn_ref)
        if order is None or order.method != "vnpay":
            raise LookupError(f"no VNPay order {txn_ref}")
        async with aiohttp.ClientSession() as http:
            answer = await vnpay.query(
                self.vnpay_config,
                http,
                txn_ref=order.ref,
                order_info=f"Kiem tra giao dich {order.ref}",
                transaction_date=order.created_at,
                ip_addr="127.0.0.1",
                now=self.clock.now(),
            )
        outcome = None
        if answer.succeeded and answer.amount is not None:
            outcome = await self.arrive(
                Arrival(
                    ref=order.ref,
                    amount=answer.amount,
                    source="vnpay",
                    gateway_ref=answer.transaction_no,
                    actor="vnpay:querydr",
                    paid_at=self.clock.now(),
                ),
                strict=True,
            )
        return answer, outcome.result if outcome else None

    async def check_stale(self, *, limit: int = 50) -> dict[str, int]:
        """Ask VNPay about orders whose link expired with no IPN (querydr), as staff
        would with `cskh payments query`: a payment VNPay confirms is settled; one it
        does not know, or that did not go through, is marked expired and not asked
        again. Counts of what became of them; a gateway that does not answer leaves
        the order for the next round."""
        now = self.clock.now()
        async with self.db.reading() as session:
            refs = list(
                await session.scalars(
                    select(PaymentOrder.ref)
                    .where(
                        PaymentOrder.method == "vnpay",
                        PaymentOrder.status == "pending",
                        PaymentOrder.expires_at <= now - STALE_AFTER,
                        PaymentOrder.created_at >= now - STALE_UNTIL,
                    )
                    .order_by(PaymentOrder.id)
                    .limit(limit)
                )
            )
        counts: dict[str, int] = {}
        for ref in refs:
            try:
                answer, outcome = await self.query(ref)
            except vnpay.GatewayError as error:
                log.warning("querydr for %s failed: %s", ref, error)
                counts["unanswered"] = counts.get("unanswered", 0) + 1
                continue
            if outcome is None:  # not found, or not paid: the link is dead
                async with self.db.transaction() as session:
                    await session.execute(
                        update(PaymentOrder)
                        .where(PaymentOrder.ref == ref, PaymentOrder.status == "pending")
                        .values(status="expired", failure=answer.transaction_status[:10])
                    )
                outcome = "expired"
            counts[outcome] = counts.get(outcome, 0) + 1
        if refs:
            log.info("stale VNPay orders checked: %s", counts)
        return counts

    async def watch_stale(self) -> None:
        """`check_stale` every few minutes, for as long as the server runs."""
        while True:
            await asyncio.sleep(STALE_CHECK_EVERY)
            try:
                await self.check_stale()
            except Exception:  # the database is down, say: try again next round
                log.warning("checking stale VNPay orders failed", exc_info=True)

    async def arrive(self, arrival: Arrival, *, strict: bool) -> Outcome:
        async with self.db.transaction() as session:
            return await self.settler.arrive(session, arrival, strict=strict)


# Built once: on the IPN's path (issue 16: 200 IPNs a second at p99 < 50 ms).
_ORDERS = cast(Table, PaymentOrder.__table__)
_RECEIVE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.ref == bindparam("txn_ref"),
        # Plain comparisons: an IN list is expanded again for every execution.
        or_(*(_ORDERS.c.status == status for status in SETTLEABLE)),
        _ORDERS.c.amount == bindparam("paid_amount"),
    )
    .values(status="received", paid_at=bindparam("at"), gateway_ref=bindparam("transaction_no"))
    .returning(_ORDERS.c.id)
)
_ORDER_STATE = select(_ORDERS.c.status, _ORDERS.c.amount).where(
    _ORDERS.c.ref == bindparam("txn_ref")
)
_RECEIVED = (
    select(PaymentOrder)
    .where(PaymentOrder.status == "received")
    .order_by(PaymentOrder.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def _description(order: PaymentOrder) -> str:
    parts = []
    for item in order.items:
        if item["kind"] == "bill":
            parts.append(f"Tiền điện tháng {item['month']:02d}/{item['year']}")
        else:
            parts.append(f"Phí dịch vụ {item.get('request', '')}")
    code = f" — mã {order.customer_code}" if order.customer_code else ""
    return ", ".join(parts) + code


async def orders_of(session: AsyncSession, customer_code: str) -> list[PaymentOrder]:
    rows = await session.scalars(
        select(PaymentOrder)
        .where(PaymentOrder.customer_code == customer_code)
        .order_by(PaymentOrder.id.desc())
    )
    return list(rows)
