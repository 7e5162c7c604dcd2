"""Gặp nhân viên: handoff to staff (interim until the staff console lands)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim

router = Router()


@router.command("/staff", "gap nhan vien", "nhan vien", "tong dai vien")
@router.button("support")
async def support(ctx: Context) -> list[Reply]:
    return interim(ctx, "support")
