"""Cài đặt: language now; the PIN and notice preferences come with their issues."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.handlers.common import STATE_SCREEN, back_button, home_button, interim, main_menu

LANGUAGES = ("vi", "en")


def register(router: Router) -> None:
    @router.command("/settings", "cai dat")
    @router.button("settings")
    async def settings(ctx: Context) -> list[Reply]:
        ctx.state[STATE_SCREEN] = "settings"
        return [
            Reply(
                text=ctx.t("settings.title", language=ctx.t(f"language.{ctx.lang}")),
                buttons=(
                    (Button(ctx.t("settings.language_button"), payload="language"),),
                    (Button(ctx.t("settings.pin_button"), payload="pin"),),
                    (home_button(ctx),),
                ),
            )
        ]

    @router.command("/language", "/lang", "ngon ngu", "language")
    @router.button("language")
    async def choose_language(ctx: Context) -> list[Reply]:
        ctx.state[STATE_SCREEN] = "settings.language"
        choices = tuple(
            Button(ctx.t(f"language.{code}"), payload=f"lang:{code}") for code in LANGUAGES
        )
        return [
            Reply(
                text=ctx.t("settings.choose_language"),
                buttons=(choices, (back_button(ctx), home_button(ctx))),
            )
        ]

    @router.button("lang")
    async def set_language(ctx: Context) -> list[Reply]:
        if ctx.arg not in LANGUAGES:
            return await choose_language(ctx)
        ctx.user.language = ctx.arg
        return [main_menu(ctx, ctx.t("settings.language_set"))]

    @router.command("english", "tieng anh", "/en")
    async def to_english(ctx: Context) -> list[Reply]:
        ctx.arg = "en"
        return await set_language(ctx)

    @router.command("tieng viet", "vietnamese", "/vi")
    async def to_vietnamese(ctx: Context) -> list[Reply]:
        ctx.arg = "vi"
        return await set_language(ctx)

    @router.command("/pin", "cai dat mat khau", "doi mat khau")
    @router.button("pin")
    async def pin(ctx: Context) -> list[Reply]:
        return interim(ctx, "pin")
