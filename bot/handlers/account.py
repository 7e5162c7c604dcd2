"""Tài khoản: activation and login (interim until the account issue lands)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Router
from bot.handlers.common import interim


def register(router: Router) -> None:
    @router.command("/login", "dang nhap", "kich hoat", "login")
    @router.button("login")
    async def login(ctx: Context) -> list[Reply]:
        return interim(ctx, "login")
