"""Tra cứu: the six lookups and the bill estimate (interim until the lookups issue)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim


def register(router: Router) -> None:
    @router.command("/lookup", "tra cuu")
    @router.button("lookups")
    async def lookups(ctx: Context) -> list[Reply]:
        return interim(ctx, "lookups")
