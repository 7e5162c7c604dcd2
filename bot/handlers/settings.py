"""Cài đặt: the tab, the language and which notices arrive. The account screen (linked
codes, log out, delete my data) is in my_account.py, the app PIN in pin.py."""

from __future__ import annotations

from bot.auth import accounts
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.core.texts import LANGUAGES
from bot.dialogs.runner import STEP_FORM
from bot.handlers.common import back_button, home_button, main_menu
from bot.handlers.services import form_runner
from bot.notify import subscriptions
from bot.notify.outbox import SWITCHABLE
from nlu.language import switch_requests

router = Router()


@router.command("/settings", "cai dat")
@router.button("settings")
async def settings(ctx: Context) -> list[Reply]:
    ctx.state.screen = "settings"
    return [
        Reply(
            text=ctx.t("settings.title", language=ctx.t(f"language.{ctx.lang}")),
            buttons=(
                (Button(ctx.t("settings.account_button"), payload="account"),),
                (Button(ctx.t("settings.language_button"), payload="language"),),
                (Button(ctx.t("settings.pin_button"), payload="pin"),),
                (Button(ctx.t("notices.settings_button"), payload="subs"),),
                (home_button(ctx),),
            ),
        )
    ]


# --- language -------------------------------------------------------------------------


@router.command("/language", "/lang", "ngon ngu", "language")
@router.button("language")
async def choose_language(ctx: Context) -> list[Reply]:
    ctx.state.screen = "settings.language"
    choices = tuple(Button(ctx.t(f"language.{code}"), payload=f"lang:{code}") for code in LANGUAGES)
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
    if ctx.state.step == STEP_FORM and form_runner().current(ctx) is not None:
        # Typed in the middle of a form (issue 15): the same question, in the new language.
        return [Reply(text=ctx.t("settings.language_set")), *await form_runner().resume(ctx)]
    return [main_menu(ctx, ctx.t("settings.language_set"))]


# Typed anywhere, even mid-question, like "menu": "English please", "nói tiếng Việt"...
@router.command("/en", *switch_requests("en"))
async def to_english(ctx: Context) -> list[Reply]:
    ctx.arg = "en"
    return await set_language(ctx)


@router.command("/vi", *switch_requests("vi"))
async def to_vietnamese(ctx: Context) -> list[Reply]:
    ctx.arg = "vi"
    return await set_language(ctx)


# --- which notices arrive ("Nhận thông báo"; issue 7) ---------------------------------------


@router.command("/subscriptions", "nhan thong bao")
@router.button("subs")
async def notice_settings(ctx: Context) -> list[Reply]:
    return await notice_switches(ctx)


async def notice_switches(ctx: Context, note: str | None = None) -> list[Reply]:
    # No gate: "Thông báo khác" reaches chats that never logged in too; bills and
    # outages are switched per linked code, which only a logged-in chat has.
    ctx.state.screen = "subs"
    codes = ctx.user.customer_codes
    found = await subscriptions.switches(ctx.session, ctx.user.id, codes)
    on = {(s.category, s.customer_code): ctx.t(f"notices.{'on' if s.on else 'off'}") for s in found}
    lines = [note] if note else []
    lines.append(ctx.t("notices.subs_title"))
    lines += [
        ctx.t(
            "notices.subs_code",
            code=c,
            bill=on["bill", c],
            usage=on["usage", c],
            outage=on["outage", c],
        )
        for c in codes
    ]
    lines.append(ctx.t("notices.subs_other", other=on["other", ""]))
    rows = [(switch_button(ctx, s, several=len(codes) > 1),) for s in found]
    if not ctx.user.is_activated:
        lines.append(ctx.t("notices.subs_login"))
        rows.append((Button(ctx.t("menu.login"), payload="login"),))
    way_back = (Button(ctx.t("menu.back"), payload="settings"), home_button(ctx))
    return [Reply(text="\n".join(lines), buttons=(*rows, way_back))]


def switch_button(ctx: Context, switch: subscriptions.Switch, *, several: bool) -> Button:
    action = "off" if switch.on else "on"
    payload = ":".join(p for p in ("nsub", action, switch.category, switch.customer_code) if p)
    return Button(
        ctx.t(
            f"notices.switch_{action}",
            what=ctx.t(f"notices.short.{switch.category}"),
            code=f" · {switch.customer_code}" if several and switch.customer_code else "",
        ),
        payload=payload,
    )


async def notice_choice(ctx: Context, arg: str) -> tuple[str, str] | list[Reply]:
    """(category, code) from a payload argument, or the screen again when it is not
    this chat's to switch (e.g. the code was unlinked since the button was shown)."""
    category, _, code = arg.partition(":")
    code = code.upper()
    if category not in SWITCHABLE:
        return await notice_switches(ctx)
    if code and not accounts.is_linked(ctx.user, code):
        return await notice_switches(ctx, ctx.t("account.not_yours"))
    return category, code


@router.button("nsub")
async def switch_notices(ctx: Context) -> list[Reply]:
    action, _, rest = (ctx.arg or "").partition(":")
    if action not in ("on", "off"):
        return await notice_switches(ctx)
    choice = await notice_choice(ctx, rest)
    if isinstance(choice, list):
        return choice
    category, code = choice
    await subscriptions.switch(
        ctx.session,
        ctx.user.id,
        category,
        code,
        on=action == "on",
        customer_codes=ctx.user.customer_codes,
        now=ctx.now(),
    )
    note = ctx.t(
        f"notices.switched_{action}",
        what=ctx.t(f"notices.short.{category}"),
        code=f" ({code})" if code else "",
    )
    return await notice_switches(ctx, note)


@router.button("unsub")
async def unsubscribe(ctx: Context) -> list[Reply]:
    """The one-tap "unsubscribe" under a notice (every marketing one carries it)."""
    choice = await notice_choice(ctx, ctx.arg or "")
    if isinstance(choice, list):
        return choice
    category, code = choice
    await subscriptions.switch(ctx.session, ctx.user.id, category, code, on=False, now=ctx.now())
    again = Button(
        ctx.t("notices.turn_back_on"),
        payload=":".join(p for p in ("nsub", "on", category, code) if p),
    )
    text = ctx.t(
        "notices.unsubscribed",
        category=ctx.t(f"notices.category.{category}"),
        code=f" ({code})" if code else "",
    )
    return [Reply(text=text, buttons=((again, home_button(ctx)),))]
