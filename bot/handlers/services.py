"""Dịch vụ: the seventeen service requests (interim until the services issue)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim


def register(router: Router) -> None:
    @router.command("/services", "dich vu")
    @router.button("services")
    async def services(ctx: Context) -> list[Reply]:
        return interim(ctx, "services")
