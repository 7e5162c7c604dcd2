"""Cài đặt → Cài đặt mật khẩu: the app PIN that guards personal features (set, change,
remove), the unlock a gate asks for when it is due, and the window it stays open."""

from __future__ import annotations

from bot.auth import accounts
from bot.auth.passwords import hash_secret, verify_secret
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.handlers.common import ask, back_button, home_button, main_menu
from bot.handlers.gates import STEP_PIN_UNLOCK, gate, resume

STEP_PIN_NEW = "pin.new"
STEP_PIN_AGAIN = "pin.again"
STEP_PIN_CURRENT = "pin.current"

router = Router()


@router.before
async def slide_pin_window(ctx: Context) -> None:
    accounts.keep_unlocked(ctx.user, ctx.now())


@router.command("/pin", "cai dat mat khau", "doi mat khau")
@router.button("pin")
async def pin(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "pin", pin=False)) is not None:
        return stop
    ctx.state.screen = "pin"
    if ctx.user.pin_hash is None:
        set_button = Button(ctx.t("pin.set"), payload="pin_set")
        return [
            Reply(
                text=ctx.t("pin.intro"),
                buttons=((set_button,), (back_button(ctx), home_button(ctx))),
            )
        ]
    change = Button(ctx.t("pin.change"), payload="pin_change")
    remove = Button(ctx.t("pin.remove"), payload="pin_remove")
    return [
        Reply(
            text=ctx.t("pin.is_on"),
            buttons=((change, remove), (back_button(ctx), home_button(ctx))),
        )
    ]


@router.button("pin_set")
async def pin_set(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "pin", pin=False)) is not None:
        return stop
    if ctx.user.pin_hash is not None:
        return await pin(ctx)
    return ask(ctx, STEP_PIN_NEW, ctx.t("pin.ask_new"))


@router.button("pin_change", "pin_remove")
async def pin_current(ctx: Context) -> list[Reply]:
    if (stop := gate(ctx, "pin", pin=False)) is not None:
        return stop
    if ctx.user.pin_hash is None:
        return await pin(ctx)
    wants = "remove" if ctx.incoming.payload == "pin_remove" else "change"
    return ask(ctx, STEP_PIN_CURRENT, ctx.t("pin.ask_current"), wants=wants)


@router.step(STEP_PIN_CURRENT, secret=True)
async def typed_current(ctx: Context) -> list[Reply]:
    wants = ctx.state.asked.wants
    check = await accounts.check_pin(ctx.session, ctx.user, ctx.incoming.text or "", ctx.now())
    if check.locked_out:
        ctx.state.answered()
        return [main_menu(ctx, ctx.t("pin.locked_out"))]
    if not check.ok:
        return ask(ctx, STEP_PIN_CURRENT, ctx.t("pin.wrong", left=check.attempts_left), wants=wants)
    if wants == "remove":
        ctx.state.answered()
        accounts.remove_pin(ctx.session, ctx.user)
        return [Reply(text=ctx.t("pin.removed"))] + await pin(ctx)
    return ask(ctx, STEP_PIN_NEW, ctx.t("pin.ask_new"))


@router.step(STEP_PIN_NEW, secret=True)
async def typed_new(ctx: Context) -> list[Reply]:
    new = (ctx.incoming.text or "").strip()
    if not accounts.PIN_PATTERN.match(new):
        return ask(ctx, STEP_PIN_NEW, ctx.t("pin.bad"))
    # Only a hash of the first entry is kept while waiting for the confirmation.
    return ask(ctx, STEP_PIN_AGAIN, ctx.t("pin.ask_again"), first=await hash_secret(new))


@router.step(STEP_PIN_AGAIN, secret=True)
async def typed_again(ctx: Context) -> list[Reply]:
    again = (ctx.incoming.text or "").strip()
    first = ctx.state.asked.first
    if not isinstance(first, str) or not await verify_secret(first, again):
        return ask(ctx, STEP_PIN_NEW, ctx.t("pin.mismatch"))
    ctx.state.answered()
    accounts.set_pin_hash(ctx.session, ctx.user, first, ctx.now())
    return [Reply(text=ctx.t("pin.done"))] + await pin(ctx)


@router.step(STEP_PIN_UNLOCK, secret=True)
async def unlock(ctx: Context) -> list[Reply]:
    check = await accounts.check_pin(ctx.session, ctx.user, ctx.incoming.text or "", ctx.now())
    if check.locked_out:
        ctx.state.clear()
        return [main_menu(ctx, ctx.t("pin.locked_out"))]
    if not check.ok:
        ctx.state.ask(STEP_PIN_UNLOCK)
        return [
            Reply(
                text=ctx.t("pin.wrong", left=check.attempts_left),
                buttons=((home_button(ctx),),),
            )
        ]
    ctx.state.answered()
    return await resume(ctx, [])
