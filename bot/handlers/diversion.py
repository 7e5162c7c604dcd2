"""A sentence typed where a lookup waits for a detail (a billing period, dates, a number
of kWh) that asks for something else: "lịch ghi chỉ số tháng này" typed at the billing
period question opens the meter schedule, not this month's bill (issue 15).

Only a sentence with words beyond the detail's own is a candidate: "tháng 8" alone is a
period, however the language model reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.context import Context
from bot.core.messages import Reply
from bot.handlers.freetext import intent_flows, run_flow
from nlu.entities import Entity
from nlu.model import CONFIDENT
from nlu.normalize import fold

MIN_OTHER_WORDS = 2  # "tháng 8 nhé" is still a period


def words_beyond(text: str, details: Sequence[Entity]) -> int:
    """How many words `text` has outside the spans of the `details` found in it."""
    kept, at = [], 0
    for entity in sorted(details, key=lambda e: e.start):
        kept.append(text[at : entity.start])
        at = max(at, entity.end)
    kept.append(text[at:])
    return len(fold(" ".join(kept)).split())


async def other_flow(
    ctx: Context, text: str, *, own: str, details: Sequence[Entity] = ()
) -> list[Reply] | None:
    """The answer of the flow `text` asks for when it is confidently another one than
    `own` (the payload of the lookup asking); None when it is an answer to the question."""
    if words_beyond(text, details) < MIN_OTHER_WORDS:
        return None
    parse = ctx.services.understanding.parse(text)
    if parse is None or parse.confidence < CONFIDENT:
        return None
    flow = intent_flows().get(parse.intent)
    if flow is None or flow.split(":")[0] == own:
        return None
    ctx.state.answered()
    return await run_flow(ctx, parse.intent, parse)


async def same_flow(ctx: Context, text: str, *, own: str) -> bool:
    """Whether `text` asks for the lookup `own` again ("tiền điện bao nhiêu" typed at its
    own period question)."""
    parse = ctx.services.understanding.parse(text)
    return (
        parse is not None
        and parse.confidence >= CONFIDENT
        and intent_flows().get(parse.intent) == own
    )
