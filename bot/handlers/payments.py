"""Thanh toán: online payment (interim until the payments issue)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim
from bot.handlers.gates import gate

router = Router()


@router.command("/pay", "thanh toan")
@router.button("payments")
async def payments(ctx: Context) -> list[Reply]:
    # Personal: only for a logged-in customer (and behind the PIN when it is set).
    if (stop := gate(ctx, "payments")) is not None:
        return stop
    return interim(ctx, "payments")
