"""Fees on service requests: staff set the fee of an approved request (a new
connection's), the customer is told and can pay it in the chat (💳 Thanh toán)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.clock import Clock
from bot.core.messages import Button, Reply
from bot.core.outbound import Push, PushError
from bot.core.texts import Texts
from bot.store.db import Database
from bot.store.models import ChatUser, ServiceRequest, ServiceRequestEvent

log = logging.getLogger(__name__)

# A fee is set once the request is accepted: in progress, or done (works finished).
FEE_STATUSES = ("in_progress", "done")
MAX_FEE = 10_000_000_000  # 10 tỷ đồng: beyond any connection fee, a typo


class FeeError(ValueError):
    """The fee cannot be set: unknown request, not approved, paid already, bad amount."""


async def set_fee(
    db: Database,
    pusher: Push,
    texts: Texts,
    clock: Clock,
    code: str,
    amount: int,
    *,
    actor: str,
    also: Callable[[AsyncSession, ServiceRequest], None] | None = None,
) -> bool:
    """Set the fee of request `code` and tell the customer; whether they were told.
    `also` adds what the caller keeps with the change (the console's audit record) to
    the same transaction, so both are kept or neither.

    Raises:
        FeeError: see the class.
    """
    if not 0 < amount <= MAX_FEE:
        raise FeeError(f"the fee must be between 1 and {MAX_FEE:,} đồng")
    now = clock.now()
    await pusher.ready()
    async with db.transaction() as session:
        request = await session.scalar(
            select(ServiceRequest).where(ServiceRequest.code == code.upper()).with_for_update()
        )
        if request is None:
            raise FeeError(f"no service request {code}")
        if request.status not in FEE_STATUSES:
            raise FeeError(
                f"{request.code} is {request.status}: set the fee once it is approved "
                f"(status {' or '.join(FEE_STATUSES)})"
            )
        if request.fee_paid_at is not None:
            raise FeeError(f"the fee of {request.code} is paid already")
        request.fee_amount = amount
        request.updated_at = now
        session.add(
            ServiceRequestEvent(
                request_id=request.id,
                status=request.status,
                note=f"fee: {amount} VND",
                actor=actor,
                created_at=now,
            )
        )
        if also is not None:
            also(session, request)
        user = await session.get(ChatUser, request.chat_user_id) if request.chat_user_id else None
        delivery = None
        if user is not None:
            message = texts.get(
                "payments.fee_set",
                user.language,
                request=request.code,
                amount=fmt.money(amount, user.language),
            )
            pay = Button(texts.get("payments.fee_pay_button", user.language), payload="payments")
            try:
                delivery = await pusher.enqueue(
                    session,
                    user.id,
                    [Reply(text=message, buttons=((pay,),))],
                    author=actor,
                    claim=True,
                )
            except PushError:
                log.warning(
                    "fee of %s set; customer not told (channel %s is off)", code, user.channel
                )
    log.info("fee of %s set to %s đ by %s", code, amount, actor)
    return await pusher.send_now([delivery]) if delivery is not None else False
