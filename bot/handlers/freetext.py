"""Free text that no button, command or open question took: the language model decides.

A confident intent opens its flow (with what the message already says: "tính tiền 250
số" answers at once); a doubtful one asks "Ý Quý khách là…?" with the two or three
likeliest flows as buttons; chit-chat gets a short answer and the menu. A service form
opens only at a higher confidence (FORM_CONFIDENT): a form opened by mistake costs the
customer more than a question.

A message clearly written in the other language switches the chat's language first, so
the answer is in the language the customer writes (issue 15).

A question for the utility's FAQ ("giờ cao điểm là mấy giờ", "sang tên hợp đồng cần giấy
tờ gì") is answered from it, with its source and the form or lookup it leads to
(issue 19): the model reads it as the FAQ's class rather than an intent, and the
retrieval finds a close entry (nlu/faq.py: `answers`). Short of that, a close entry is
offered as a button with "Ý Quý khách là…?", next to staff rather than a guess.
"""

from __future__ import annotations

import asyncio
import functools

from bot.core.context import Context
from bot.core.messages import Button, Reply, rows
from bot.core.router import Router
from bot.dialogs.forms import Forms
from bot.handlers import incidents, navigation, support
from bot.handlers.common import home_button, main_menu
from bot.handlers.services import form_runner
from bot.support import handoff
from nlu.faq import FaqEntry, FaqMatch, answers
from nlu.language import clear_language
from nlu.model import CONFIDENT, FORM_CONFIDENT, Parse

# Which button's flow each intent opens. Later issues point their intents at the new
# flows here (e.g. lookup_invoice -> the invoice lookup) without touching the model.
# The intents of the service forms join them from their `intent:` in domain.yml
# (`intent_flows`).
INTENT_FLOWS: dict[str, str] = {
    "help": "help",
    "login": "login",
    "set_password": "pin",
    "lookup_meter_schedule": "lk_sched",
    "lookup_payment_points": "lk_points",
    "lookup_outage_schedule": "lk_outage",
    "ask_power_back": "pw_back",
    "lookup_consumption": "lk_use",
    "lookup_payment_info": "lk_pay",
    "lookup_invoice": "lk_inv",
    "explain_bill": "lk_why",
    "estimate_bill": "estimate",
    "pay_bill": "payments",
    "track_request": "req_list",
    "talk_to_human": "support",
}
CHIT_CHAT = {
    "thanks": "nlu.thanks",
    "goodbye": "nlu.goodbye",
    "affirm": "nlu.anything_else",
    "deny": "nlu.anything_else",
    "out_of_scope": "nlu.out_of_scope",
}
SUGGEST_ABOVE = 0.08  # intents less likely than this are not worth a button
SUGGESTIONS = 3
FAQ_SUGGEST_ABOVE = 0.15  # the FAQ's class less likely than this: no question offered


def form_flows(forms: Forms) -> dict[str, str]:
    """The Dịch vụ button each form intent presses: its form's, or for an intent of
    several forms (a new connection) the intent's own, which offers the choice."""
    return {
        intent: f"svc:{chosen[0].id if len(chosen) == 1 else intent}"
        for intent, chosen in forms.intents().items()
    }


@functools.cache
def intent_flows() -> dict[str, str]:
    """Every intent that opens a flow, with the payload of the button it presses: the
    table above and the service forms' `intent:` in domain.yml."""
    return {**INTENT_FLOWS, **form_flows(form_runner().forms)}


router = Router()


async def run_flow(ctx: Context, intent: str, parse: Parse) -> list[Reply]:
    """Open the flow of `intent` with what the message already said."""
    route = ctx.router.for_payload(intent_flows()[intent])
    if route is None:  # a flow whose button no router takes: a wiring mistake of ours
        raise LookupError(f"intent {intent!r} opens {intent_flows()[intent]!r}, which no one takes")
    ctx.arg, ctx.parse = route.arg, parse
    return await route.handler(ctx)


def opens_at_once(parse: Parse) -> bool:
    """Whether free text is understood well enough to open its flow without asking: a
    service form needs FORM_CONFIDENT, everything else CONFIDENT."""
    form = intent_flows().get(parse.intent, "").startswith("svc:")
    return parse.confidence >= (FORM_CONFIDENT if form else CONFIDENT)


@router.fallback
async def free_text(ctx: Context) -> list[Reply]:
    text = ctx.incoming.text or ""
    switched = follow_language(ctx, text)
    return [*switched, *await understood(ctx, text)]


def follow_language(ctx: Context, text: str) -> list[Reply]:
    """Switch to the language `text` is clearly written in, if it is not the chat's, and
    say so with the way back. Answering in the customer's language is what a person
    at the counter does; a customer writing English may not read an offer to switch
    written in Vietnamese, and one who did not want it types the word the note gives."""
    written = clear_language(text)
    if written is None or written == ctx.user.language:
        return []
    ctx.user.language = written
    return [Reply(text=ctx.t("settings.language_followed"))]


async def understood(ctx: Context, text: str) -> list[Reply]:
    parse = ctx.services.understanding.parse(text) if text else None
    if parse is None:
        return [main_menu(ctx, ctx.t("unknown.text"))]
    index = await ctx.services.faq.index(ctx.session)
    faq = await asyncio.to_thread(index.match, text)  # ~10 ms of Python: off the loop
    outside = parse.probability("out_of_scope")
    if answers(parse.faq, parse.confidence, faq, outside) and faq.entry is not None:
        ctx.state.misunderstood = 0
        return await answer_from_faq(ctx, faq.entry)
    if opens_at_once(parse):
        ctx.intent = parse.intent
        ctx.state.misunderstood = 0
        if parse.intent == "greet":
            return await navigation.start(ctx)
        if parse.intent in CHIT_CHAT:
            return [main_menu(ctx, ctx.t(CHIT_CHAT[parse.intent]))]
        if parse.intent == navigation.OUTAGE_INTENT and (known := await incidents.text_report(ctx)):
            return known  # the area's incident is open: said at once (issue 19)
        if parse.intent in intent_flows():
            return await run_flow(ctx, parse.intent, parse)
    return await not_understood(ctx, parse, faq)


async def answer_from_faq(ctx: Context, entry: FaqEntry) -> list[Reply]:
    """The FAQ's answer, as pressing its question would give (bot/handlers/faq.py)."""
    route = ctx.router.for_payload(f"faq:{entry.id}")
    if route is None:
        raise LookupError("no handler takes the FAQ's button")
    ctx.arg = route.arg
    return await route.handler(ctx)


async def not_understood(ctx: Context, parse: Parse, faq: FaqMatch | None = None) -> list[Reply]:
    """While the customer waits for staff, their words are for the agent; else "Ý
    Quý khách là…?", and after three misunderstandings in a row, a person."""
    ctx.intent = "?"
    if ctx.conversation.mode == handoff.WAITING:
        return [Reply(text=ctx.t("handoff.passed_on"), buttons=support.waiting_buttons(ctx))]
    ctx.state.misunderstood += 1
    if ctx.state.misunderstood >= handoff.MISUNDERSTOOD_LIMIT:
        return await support.queue(
            ctx, reason="misunderstood", before=ctx.t("handoff.misunderstood")
        )
    return did_you_mean(ctx, parse, faq)


def did_you_mean(ctx: Context, parse: Parse, faq: FaqMatch | None = None) -> list[Reply]:
    """ "Ý Quý khách là…?" with the likeliest flows; when the message may be a question
    for the FAQ, its closest question and a way to staff (rather than a guess)."""
    choices: list[Button] = []
    for intent, probability in parse.ranking:
        flow = intent_flows().get(intent)
        if flow is None or probability < SUGGEST_ABOVE:
            continue
        if flow in {b.payload for b in choices}:
            continue  # two intents of one flow: one button
        choices.append(Button(ctx.t(f"intents.{intent}"), payload=flow))
        if len(choices) == SUGGESTIONS:
            break
    offered = faq_choices(ctx, parse, faq)
    choices.extend(b for b in offered if b.payload not in {c.payload for c in choices})
    if not choices:
        return [main_menu(ctx, ctx.t("unknown.text"))]
    return [
        Reply(
            text=ctx.t("nlu.did_you_mean"),
            buttons=(*rows(*choices, per_row=1), (home_button(ctx),)),
        )
    ]


def faq_choices(ctx: Context, parse: Parse, faq: FaqMatch | None) -> list[Button]:
    """The FAQ's closest question and "Gặp nhân viên", when the model gives the FAQ's
    class a fair chance and the retrieval an entry worth offering; else nothing."""
    if faq is None or faq.entry is None or not faq.worth_offering:
        return []
    if parse.faq < FAQ_SUGGEST_ABOVE:
        return []
    question = faq.entry.question.get(ctx.lang) or faq.entry.question["vi"]
    return [
        Button(f"❓ {question}", payload=f"faq:{faq.entry.id}"),
        Button(ctx.t("menu.support"), payload="support"),
    ]
