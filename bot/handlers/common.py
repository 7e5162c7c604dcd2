"""Pieces every handler uses: the main menu, the way-back row, a question."""

from __future__ import annotations

import re

from bot.core.context import Context
from bot.core.messages import Button, Reply, rows

_ID = re.compile(r"[0-9]{1,9}")  # ASCII digits only: "²" is a digit to str.isdigit()


def id_arg(value: str | None) -> int | None:
    """A row id or a count from a button payload, or None when it is not one. Payloads
    can be forged: a value no database column holds is refused here (issue 12)."""
    return int(value) if value and _ID.fullmatch(value) else None


def home_button(ctx: Context) -> Button:
    return Button(ctx.t("menu.home"), payload="menu")


def back_button(ctx: Context) -> Button:
    return Button(ctx.t("menu.back"), payload="back")


def main_menu_buttons(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    """The app's tabs; "Đăng nhập" first for a customer who is not activated yet."""
    tabs = [
        Button(ctx.t("menu.lookups"), payload="lookups"),
        Button(ctx.t("menu.services"), payload="services"),
        Button(ctx.t("menu.payments"), payload="payments"),
        Button(ctx.t("menu.notices"), payload="notices"),
        Button(ctx.t("menu.settings"), payload="settings"),
        Button(ctx.t("menu.support"), payload="support"),
    ]
    layout = rows(*tabs)
    if not ctx.user.is_activated:
        layout = ((Button(ctx.t("menu.login"), payload="login"),), *layout)
    return layout


def main_menu(ctx: Context, text: str | None = None) -> Reply:
    """The main menu under `text` (by default a short "what can I help with")."""
    ctx.state.screen = "main"
    return Reply(text=text or ctx.t("menu.title"), buttons=main_menu_buttons(ctx))


def ask(ctx: Context, step: str, text: str, *buttons: Button, **extra: object) -> list[Reply]:
    """One question, with the way back; the answer goes to `step`."""
    ctx.state.ask(step, **extra)
    choices = [tuple(buttons)] if buttons else []
    return [Reply(text=text, buttons=(*choices, (back_button(ctx), home_button(ctx))))]
