"""Answers from the utility's FAQ (issue 19): the answer, the source it rests on, and the
form or lookup it leads to as a button.

Free text reaches here from freetext.py (through this button, "faq:<id>", pressed for
the customer) when the language model reads it as a question for the FAQ and the
retrieval finds a close entry; a doubtful one is offered as that button next to staff.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.fmt import day
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.handlers import services
from bot.handlers.common import home_button, main_menu
from bot.handlers.freetext import intent_flows
from nlu.faq import FaqEntry

router = Router()
# Tabs an answer may offer that no intent opens.
_TABS = ("lookups", "services", "payments", "notices", "settings", "support", "login")


@router.button("faq")
async def pressed(ctx: Context) -> list[Reply]:
    """A suggested question pressed: its answer, if staff have not removed it since."""
    index = await ctx.services.faq.index(ctx.session)
    entry = index.by_id.get(ctx.arg or "")
    if entry is None:
        return [main_menu(ctx, ctx.t("faq.gone"))]
    ctx.intent = "faq"
    return [answer(ctx, entry)]


def answer(ctx: Context, entry: FaqEntry) -> Reply:
    """The entry's answer in the customer's language, its source and review date, and
    the form or lookup it offers."""
    text = ctx.t(
        "faq.answer",
        answer=entry.answer.get(ctx.lang) or entry.answer["vi"],
        source=entry.source,
        reviewed=day(entry.reviewed),
    )
    offer = offer_button(ctx, entry.offer) if entry.offer else None
    buttons: list[Button] = [offer] if offer else []
    buttons.append(home_button(ctx))
    return Reply(text=text, buttons=rows(*buttons, per_row=1))


def offer_button(ctx: Context, payload: str) -> Button | None:
    """The button of the flow an answer offers, titled as the bot titles that flow
    elsewhere; None for a payload no handler takes (an entry staff mistyped)."""
    if ctx.router.for_payload(payload) is None:
        return None
    name, _, arg = payload.partition(":")
    if name == "svc" and arg in services.form_runner().forms:
        return Button(services.title(ctx, arg), payload=payload)
    for intent, flow in intent_flows().items():
        if flow == payload:
            return Button(ctx.t(f"intents.{intent}"), payload=payload)
    if payload in _TABS:
        return Button(ctx.t(f"menu.{payload}"), payload=payload)
    return None
