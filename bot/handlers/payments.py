"""Thanh toán: online payment (interim until the payments issue)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim


def register(router: Router) -> None:
    @router.command("/pay", "thanh toan")
    @router.button("payments")
    async def payments(ctx: Context) -> list[Reply]:
        return interim(ctx, "payments")
