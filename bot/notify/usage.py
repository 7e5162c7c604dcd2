"""The unusual-use line of a new bill's notice (issue 18): what the line and its buttons
say, for the chats that did not switch "usage" off.

Notices do not judge bills: the composition root hands the bill run a `UsageJudge`
(bot/app.py's `usage_judge`, over bot/billing/anomaly_check.py), which answers a
`UsageNote` for an unusual bill. The line offers the explanation ("❓ Vì sao tăng/giảm?",
the lookups' `lk_why` button); after two unusual periods with nothing to explain them,
the meter check (`lk_why_meter`, the "Kiểm tra công tơ" form opened with the code
filled in, as the explanation's own button does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.messages import Button
from bot.core.texts import Texts
from bot.store.backend import BillRecord

USAGE = "usage"
EXPLAIN_PAYLOAD = "lk_why"
METER_PAYLOAD = "lk_why_meter"


@dataclass(frozen=True)
class UsageNote:
    """An unusual bill: its kWh per day, the customer's ordinary, how far above it in
    percent, and whether a meter check is suggested."""

    kwh_per_day: float
    expected: float
    percent: int
    meter_check: bool


UsageJudge = Callable[[BillRecord], Awaitable[UsageNote | None]]


def _decimal(value: float, lang: str) -> str:
    shown = f"{value:.1f}"
    return shown.replace(".", ",") if lang == "vi" else shown


def insight_line(texts: Texts, lang: str, note: UsageNote) -> str:
    key = "notify.bill_anomaly_meter" if note.meter_check else "notify.bill_anomaly"
    return texts.get(
        key,
        lang,
        per_day=_decimal(note.kwh_per_day, lang),
        expected=_decimal(note.expected, lang),
        percent=note.percent,
    )


def insight_buttons(
    texts: Texts, lang: str, bill: BillRecord, note: UsageNote
) -> tuple[Button, ...]:
    code = bill.customer_code
    why = Button(
        texts.get("explain.button", lang),
        payload=f"{EXPLAIN_PAYLOAD}:{code}:{bill.year}-{bill.month}-{bill.term}",
    )
    if not note.meter_check:
        return (why,)
    return (why, Button(texts.get("explain.meter_button", lang), payload=f"{METER_PAYLOAD}:{code}"))
