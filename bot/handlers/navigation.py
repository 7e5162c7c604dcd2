"""Getting around: /start, menu, help, cancel, back, and whatever nobody else takes."""

from __future__ import annotations

from bot.core.context import Context, Handler
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.dialogs.runner import STEP_FORM
from bot.handlers import lookups, notices, settings
from bot.handlers.common import home_button, main_menu, main_menu_buttons
from bot.handlers.services import continue_button, form_runner, title
from nlu.safety import is_danger

# Where "⬅ Quay lại" leads from each screen; anything not listed goes to the main menu.
PARENT_SCREEN: dict[str, Handler] = {
    "settings.language": settings.settings,
    "pin": settings.settings,
    "account": settings.settings,
    "subs": settings.settings,
    "notices.shelf": notices.notices,
    "notices.notice": notices.notices,
    lookups.ANSWER_SCREEN: lookups.lookups,
}


# The intent of reporting an outage (nlu/intents.py), which a form declares in domain.yml.
OUTAGE_INTENT = "report_outage"

router = Router()


@router.command("/start", "bat dau", "start")
@router.button("start")  # the web chat page's first visit: not typed by the customer
async def start(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    first_time = not ctx.state.greeted
    ctx.state.greeted = True
    return [main_menu(ctx, ctx.t("greet") if first_time else ctx.t("greet_back"))]


@router.command("/menu", "menu", "menu chinh", "trang chu", "home", "main menu")
@router.button("menu")
async def menu(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    return [home(ctx)]


def home(ctx: Context, text: str | None = None) -> Reply:
    """The main menu; with a form in hand, where it was kept and the way back to it (a
    draft is left with "menu", never lost: issue 15)."""
    runner = form_runner()
    draft = runner.current(ctx)
    if draft is None:
        return main_menu(ctx, text)
    button = continue_button(ctx)
    name = title(ctx, draft.form_id)
    if draft.index >= len(runner.forms[draft.form_id].fields):
        kept = ctx.t("nav.draft_kept_summary", title=name, button=button.title)
    else:
        step, total = runner.progress(ctx, draft)
        kept = ctx.t("nav.draft_kept", title=name, step=step, total=total, button=button.title)
    reply = main_menu(ctx, f"{text}\n{kept}" if text else kept)
    return Reply(text=reply.text, buttons=((button,), *main_menu_buttons(ctx)))


@router.command("/help", "help", "tro giup", "huong dan", "giup", "giup do")
@router.button("help")
async def help_(ctx: Context) -> list[Reply]:
    return [main_menu(ctx, ctx.t("help", hotline=ctx.settings.hotline))]


@router.command("/cancel", "huy", "huy bo", "cancel", "thoat", "dung lai", "stop")
@router.button("cancel")
async def cancel(ctx: Context) -> list[Reply]:
    asked = ctx.state.awaiting
    if form_runner().current(ctx) is not None and (asked is None or asked.step == STEP_FORM):
        # The form in hand is what is going on: its "✖ Hủy" (confirm first), or, typed
        # at that confirmation ("Hủy đơn …?" — "hủy"), the yes.
        confirming = "form:cancel_ok" in ctx.state.shown_buttons.values()
        return await pressed(ctx, "form:cancel_ok" if confirming else "form:cancel")
    if ctx.state.answered() is None:
        return [home(ctx, ctx.t("nav.nothing_to_cancel"))]
    return [home(ctx, ctx.t("nav.cancelled"))]


@router.command("/back", "quay lai", "tro lai", "back", "lui lai")
@router.button("back")
async def back(ctx: Context) -> list[Reply]:
    asked = ctx.state.awaiting
    if form_runner().current(ctx) is not None and asked is not None and asked.step == STEP_FORM:
        # In a form with no "⬅" on screen ("Hủy đơn …?"): back to its question.
        return await pressed(ctx, "form:resume")
    ctx.state.answered()
    parent = PARENT_SCREEN.get(str(ctx.state.screen))
    if parent is not None:
        return await parent(ctx)
    return [home(ctx)]


async def pressed(ctx: Context, payload: str) -> list[Reply]:
    """What the button `payload` (of the form engine, registered) does."""
    route = ctx.router.for_payload(payload)
    if route is None:
        raise LookupError(f"no handler takes {payload!r}")
    ctx.arg = route.arg
    return await route.handler(ctx)


@router.urgent(is_danger)
async def danger(ctx: Context) -> list[Reply]:
    # Safety first, then the way to report it (the outage report records where).
    # The Dịch vụ button of the NLU's outage intent: whichever form declares it opens.
    report = Button(ctx.t("services.report_outage"), payload=f"svc:{OUTAGE_INTENT}")
    return [
        Reply(
            text=ctx.t("danger.advice", hotline=ctx.settings.hotline),
            buttons=((report,), (home_button(ctx),)),
        )
    ]


@router.unknown_button
async def unknown_button(ctx: Context) -> list[Reply]:
    return [main_menu(ctx, ctx.t("unknown.button"))]


@router.on_photo
async def unprompted_photo(ctx: Context) -> list[Reply]:
    return [main_menu(ctx, ctx.t("unknown.photo"))]


@router.on_document
async def unprompted_document(ctx: Context) -> list[Reply]:
    return [main_menu(ctx, ctx.t("unknown.document"))]


@router.on_unsupported
async def unsupported(ctx: Context) -> list[Reply]:
    if ctx.incoming.unsupported == "too_large":
        text = ctx.t("unknown.too_large", max_mb=ctx.settings.max_upload_mb)
    elif ctx.incoming.unsupported == "unsafe_file":  # SVG or HTML (issue 12)
        text = ctx.t("unknown.unsafe_file")
    elif ctx.incoming.unsupported == "quota":  # the media quotas (issue 12)
        text = ctx.t("unknown.quota", hotline=ctx.settings.hotline)
    else:
        text = ctx.t("unknown.unsupported")
    return [main_menu(ctx, text)]
