"""Cài đặt: language, which notices arrive, the account (linked codes, log out, delete my
data) and the PIN."""

from __future__ import annotations

import re

from bot.auth import accounts
from bot.auth.passwords import hash_secret, verify_secret
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.router import STATE_AWAITING, Router
from bot.handlers.account import ask, check_code, linked_customers, send_code
from bot.handlers.common import STATE_SCREEN, back_button, home_button, main_menu
from bot.handlers.gates import STEP_PIN_UNLOCK, gate, resume
from bot.notify import subscriptions
from bot.notify.outbox import CATEGORIES

LANGUAGES = ("vi", "en")
CUSTOMER_CODE = re.compile(r"^[A-Z]{2}[0-9A-Z]{4}\d{7}$")
STEP_ADD_CODE = "account.add_code"
STEP_ADD_CODE_OTP = "account.add_code_otp"
STEP_PIN_NEW = "pin.new"
STEP_PIN_AGAIN = "pin.again"
STEP_PIN_CURRENT = "pin.current"


def register(router: Router) -> None:
    @router.command("/settings", "cai dat")
    @router.button("settings")
    async def settings(ctx: Context) -> list[Reply]:
        ctx.state[STATE_SCREEN] = "settings"
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

    # --- which notices arrive ("Nhận thông báo"; issue 7) ---------------------------------------

    @router.command("/subscriptions", "nhan thong bao")
    @router.button("subs")
    async def notice_settings(ctx: Context) -> list[Reply]:
        return await notice_switches(ctx)

    async def notice_switches(ctx: Context, note: str | None = None) -> list[Reply]:
        # No gate: "Thông báo khác" reaches chats that never logged in too; bills and
        # outages are switched per linked code, which only a logged-in chat has.
        ctx.state[STATE_SCREEN] = "subs"
        codes = ctx.user.customer_codes
        found = await subscriptions.switches(ctx.session, ctx.user.id, codes)
        on = {
            (s.category, s.customer_code): ctx.t(f"notices.{'on' if s.on else 'off'}")
            for s in found
        }
        lines = [note] if note else []
        lines.append(ctx.t("notices.subs_title"))
        lines += [
            ctx.t("notices.subs_code", code=c, bill=on["bill", c], outage=on["outage", c])
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
        if category not in CATEGORIES:
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
        await subscriptions.switch(
            ctx.session, ctx.user.id, category, code, on=False, now=ctx.now()
        )
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

    # --- the account: linked codes ------------------------------------------------------------

    @router.command("/account", "tai khoan")
    @router.button("account")
    async def account(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "account", pin=False)) is not None:
            return stop
        ctx.state[STATE_SCREEN] = "account"
        customers = await linked_customers(ctx)
        lines = [
            ("⭐ " if c.code == ctx.user.default_customer_code else "• ")
            + ctx.t("account.code_line", code=c.code, name=c.name, address=c.full_address)
            for c in customers
        ]
        rows: list[tuple[Button, ...]] = []
        for c in customers:
            row = [Button(ctx.t("account.remove", code=c.code), payload=f"unlink:{c.code}")]
            if c.code != ctx.user.default_customer_code:
                row.insert(
                    0,
                    Button(ctx.t("account.make_default", code=c.code), payload=f"default:{c.code}"),
                )
            rows.append(tuple(row))
        rows += [
            (Button(ctx.t("account.add_code"), payload="add_code"),),
            (
                Button(ctx.t("account.logout"), payload="logout"),
                Button(ctx.t("account.logout_all"), payload="logout_all"),
            ),
            (Button(ctx.t("account.forget"), payload="forget"),),
            (back_button(ctx), home_button(ctx)),
        ]
        return [Reply(text="\n".join([ctx.t("account.summary"), *lines]), buttons=tuple(rows))]

    def refuse(ctx: Context) -> list[Reply]:
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]

    @router.button("default")
    async def make_default(ctx: Context) -> list[Reply]:
        code = (ctx.arg or "").upper()
        if (stop := gate(ctx, f"default:{code}")) is not None:
            return stop
        if not accounts.is_linked(ctx.user, code):
            return refuse(ctx)
        accounts.set_default(ctx.session, ctx.user, code)
        return [Reply(text=ctx.t("account.default_set", code=code))] + await account(ctx)

    @router.button("unlink")
    async def unlink(ctx: Context) -> list[Reply]:
        code = (ctx.arg or "").upper()
        if (stop := gate(ctx, f"unlink:{code}")) is not None:
            return stop
        if not accounts.is_linked(ctx.user, code):
            return refuse(ctx)
        yes = Button(ctx.t("account.confirm_yes"), payload=f"unlink_ok:{code}")
        no = Button(ctx.t("account.confirm_no"), payload="account")
        return [Reply(text=ctx.t("account.confirm_remove", code=code), buttons=((yes, no),))]

    @router.button("unlink_ok")
    async def unlink_confirmed(ctx: Context) -> list[Reply]:
        code = (ctx.arg or "").upper()
        if (stop := gate(ctx, f"unlink:{code}")) is not None:
            return stop
        if not accounts.is_linked(ctx.user, code):
            return refuse(ctx)
        accounts.unlink_code(ctx.session, ctx.user, code)
        return [Reply(text=ctx.t("account.removed", code=code))] + await account(ctx)

    @router.button("add_code")
    async def add_code(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "add_code")) is not None:
            return stop
        return ask(ctx, STEP_ADD_CODE, ctx.t("account.ask_code"))

    @router.step(STEP_ADD_CODE)
    async def typed_code(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "add_code")) is not None:
            return stop
        code = "".join((ctx.incoming.text or "").split()).upper()
        if not CUSTOMER_CODE.match(code):
            return ask(ctx, STEP_ADD_CODE, ctx.t("account.bad_code"))
        if accounts.is_linked(ctx.user, code):
            ctx.state.pop(STATE_AWAITING, None)
            return [Reply(text=ctx.t("account.already_linked", code=code))] + await account(ctx)
        customer = await ctx.services.backend.customer(code)
        phone = customer.phones[0] if customer and customer.phones else None
        # One answer whether the code exists or has a phone: codes are printed on bills,
        # but which ones exist and whose phone they carry is nobody else's business. The
        # request is counted under the customer code, never its phone: limits met by two
        # codes sharing a phone would tell that they share it (issue 12).
        return await send_code(
            ctx,
            {
                "subject": f"code:{code}",
                "purpose": "add_code",
                "delivery": "sms",
                "address": phone,
                "target": code,
                "step": STEP_ADD_CODE_OTP,
                "sent_key": "account.add_code_sent",
                "params": {"code": code},
            },
        )

    @router.step(STEP_ADD_CODE_OTP, secret=True)
    async def add_code_otp(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "add_code")) is not None:
            return stop
        target, refused = await check_code(ctx, STEP_ADD_CODE_OTP)
        if refused is not None:
            return refused
        ctx.state.pop(STATE_AWAITING, None)
        customer_code = str(target)
        customer = await ctx.services.backend.customer(customer_code)
        accounts.link_code(ctx.session, ctx.user, customer_code)
        name = customer.name if customer else customer_code
        return [Reply(text=ctx.t("account.code_added", code=customer_code, name=name))] + (
            await account(ctx)
        )

    # --- log out, delete my data -------------------------------------------------------------

    def confirm(ctx: Context, text_key: str, payload: str) -> list[Reply]:
        yes = Button(ctx.t("account.confirm_yes"), payload=payload)
        no = Button(ctx.t("account.confirm_no"), payload="account")
        return [Reply(text=ctx.t(text_key), buttons=((yes, no),))]

    def forget_conversation(ctx: Context) -> None:
        """Nothing of the logged-in session carries over: questions, drafts, resumes."""
        greeted = ctx.state.get("greeted")
        ctx.state.clear()
        if greeted:
            ctx.state["greeted"] = greeted

    @router.command("/logout", "dang xuat")
    @router.button("logout")
    async def logout(ctx: Context) -> list[Reply]:
        if not ctx.user.is_activated:
            return [main_menu(ctx)]
        # Behind the PIN: logging out must not be a way to get rid of it.
        if (stop := gate(ctx, "logout")) is not None:
            return stop
        return confirm(ctx, "account.confirm_logout", "logout_ok")

    @router.button("logout_ok")
    async def logout_confirmed(ctx: Context) -> list[Reply]:
        if not ctx.user.is_activated:
            return [main_menu(ctx)]
        if (stop := gate(ctx, "logout")) is not None:
            return stop
        accounts.logout(ctx.session, ctx.user)
        forget_conversation(ctx)
        return [main_menu(ctx, ctx.t("account.logged_out"))]

    @router.button("logout_all")
    async def logout_all(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "logout_all")) is not None:
            return stop
        return confirm(ctx, "account.confirm_logout_all", "logout_all_ok")

    @router.button("logout_all_ok")
    async def logout_all_confirmed(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "logout_all")) is not None:
            return stop
        count = await accounts.logout_everywhere(ctx.session, ctx.user)
        forget_conversation(ctx)
        return [main_menu(ctx, ctx.t("account.logged_out_all", count=count))]

    @router.command("/forget", "xoa du lieu", "xoa du lieu cua toi")
    @router.button("forget")
    async def forget(ctx: Context) -> list[Reply]:
        if ctx.user.is_activated and (stop := gate(ctx, "forget")) is not None:
            return stop
        return confirm(ctx, "account.confirm_forget", "forget_ok")

    @router.button("forget_ok")
    async def forget_confirmed(ctx: Context) -> list[Reply]:
        if ctx.user.is_activated and (stop := gate(ctx, "forget")) is not None:
            return stop
        deletion = await accounts.forget(ctx.session, ctx.user)
        ctx.state.clear()
        if deletion.kept_requests:
            text = ctx.t(
                "account.forgotten_kept",
                messages=deletion.messages,
                media=deletion.media,
                codes=", ".join(deletion.kept_requests),
            )
        else:
            text = ctx.t("account.forgotten", messages=deletion.messages, media=deletion.media)
        return [main_menu(ctx, text)]

    # --- the app PIN ("Cài đặt mật khẩu") --------------------------------------------------------

    @router.before
    async def slide_pin_window(ctx: Context) -> None:
        accounts.keep_unlocked(ctx.user, ctx.now())

    @router.command("/pin", "cai dat mat khau", "doi mat khau")
    @router.button("pin")
    async def pin(ctx: Context) -> list[Reply]:
        if (stop := gate(ctx, "pin", pin=False)) is not None:
            return stop
        ctx.state[STATE_SCREEN] = "pin"
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
        wants = ctx.state.get(STATE_AWAITING, {}).get("wants")
        check = await accounts.check_pin(ctx.session, ctx.user, ctx.incoming.text or "", ctx.now())
        if check.locked_out:
            ctx.state.pop(STATE_AWAITING, None)
            return [main_menu(ctx, ctx.t("pin.locked_out"))]
        if not check.ok:
            return ask(
                ctx, STEP_PIN_CURRENT, ctx.t("pin.wrong", left=check.attempts_left), wants=wants
            )
        if wants == "remove":
            ctx.state.pop(STATE_AWAITING, None)
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
        first = ctx.state.get(STATE_AWAITING, {}).get("first")
        if not isinstance(first, str) or not await verify_secret(first, again):
            return ask(ctx, STEP_PIN_NEW, ctx.t("pin.mismatch"))
        ctx.state.pop(STATE_AWAITING, None)
        accounts.set_pin_hash(ctx.session, ctx.user, first, ctx.now())
        return [Reply(text=ctx.t("pin.done"))] + await pin(ctx)

    @router.step(STEP_PIN_UNLOCK, secret=True)
    async def unlock(ctx: Context) -> list[Reply]:
        check = await accounts.check_pin(ctx.session, ctx.user, ctx.incoming.text or "", ctx.now())
        if check.locked_out:
            ctx.state.clear()
            return [main_menu(ctx, ctx.t("pin.locked_out"))]
        if not check.ok:
            ctx.state[STATE_AWAITING] = {"step": STEP_PIN_UNLOCK}
            return [
                Reply(
                    text=ctx.t("pin.wrong", left=check.attempts_left),
                    buttons=((home_button(ctx),),),
                )
            ]
        ctx.state.pop(STATE_AWAITING, None)
        return await resume(ctx, [])
