"""Thông báo: bill and outage notices (interim until the notices issue)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim
from bot.handlers.gates import gate


def register(router: Router) -> None:
    @router.command("/notices", "thong bao")
    @router.button("notices")
    async def notices(ctx: Context) -> list[Reply]:
        # Personal: only for a logged-in customer (and behind the PIN when it is set).
        if (stop := gate(ctx, "notices")) is not None:
            return stop
        return interim(ctx, "notices")
