"""Getting around: /start, menu, help, cancel, back, and whatever nobody else takes."""

from __future__ import annotations

from bot.core.context import Context, Handler
from bot.core.messages import Button, Reply
from bot.core.router import Router
from bot.handlers import lookups, notices, settings
from bot.handlers.common import home_button, main_menu
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
    return [main_menu(ctx)]


@router.command("/help", "help", "tro giup", "huong dan", "giup", "giup do")
@router.button("help")
async def help_(ctx: Context) -> list[Reply]:
    return [main_menu(ctx, ctx.t("help", hotline=ctx.settings.hotline))]


@router.command("/cancel", "huy", "huy bo", "cancel", "thoat", "dung lai", "stop")
@router.button("cancel")
async def cancel(ctx: Context) -> list[Reply]:
    if ctx.state.answered() is None:
        return [main_menu(ctx, ctx.t("nav.nothing_to_cancel"))]
    return [main_menu(ctx, ctx.t("nav.cancelled"))]


@router.command("/back", "quay lai", "tro lai", "back", "lui lai")
@router.button("back")
async def back(ctx: Context) -> list[Reply]:
    ctx.state.answered()
    parent = PARENT_SCREEN.get(str(ctx.state.screen))
    if parent is not None:
        return await parent(ctx)
    return [main_menu(ctx)]


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
