"""The unusual-use line of a new bill's notice (issue 18): the bill judged against the
customer's own bills (bot/billing/anomaly.py) when the notice is made, and the line and
buttons it adds for the chats that did not switch "usage" off.

The line offers the explanation ("❓ Vì sao tăng/giảm?", the lookups' `lk_why` button);
after two unusual periods with nothing to explain them, the meter check (`lk_why_meter`,
the "Kiểm tra công tơ" form opened with the code filled in, as the explanation's own
button does).
"""

from __future__ import annotations

import logging
from fractions import Fraction

from bot.billing import anomaly, explain
from bot.billing.anomaly import Insight
from bot.billing.tariffs import TariffBook, TariffError
from bot.core.messages import Button
from bot.core.texts import Texts
from bot.store.backend import BillRecord, CustomerRecord, UtilityBackend

log = logging.getLogger(__name__)

USAGE = "usage"
# The references of anomaly.py (about six months, or a year and a half of three terms a
# month) and the same periods a year earlier.
HISTORY_BILLS = 3 * 12 + 3 * 8
EXPLAIN_PAYLOAD = "lk_why"
METER_PAYLOAD = "lk_why_meter"


async def bill_insight(
    backend: UtilityBackend, tariffs: TariffBook, bill: BillRecord
) -> Insight | None:
    """`bill` judged against the customer's bills before it; None when there is nothing
    to say (a first bill, a normal one)."""
    code = bill.customer_code
    history = [
        b
        for b in await backend.bills(code, limit=HISTORY_BILLS)
        if (b.period_end, b.term) < (bill.period_end, bill.term)  # the bill's own left out
    ]
    customer = await backend.customer(code)
    households, corrected = _facts(customer, tariffs)
    found = anomaly.insight([*history, bill], households=households, corrected=corrected)
    if found is None or not found.verdict.anomalous:
        return None
    return found


def _facts(
    customer: CustomerRecord | None, tariffs: TariffBook
) -> tuple[anomaly.Households | None, anomaly.Corrected]:
    """The households on the meter for a bill, and whether a bill was corrected (its
    readings or its total not reproduced), as the explanation infers them."""
    if customer is None:
        return None, anomaly.readings_corrected

    def households(bill: BillRecord) -> int:
        try:
            return explain.households_of(bill, customer, tariffs)
        except explain.ExplainError:
            return customer.households

    def corrected(bill: BillRecord) -> bool:
        if anomaly.readings_corrected(bill):
            return True
        try:
            return not explain.reproduced(bill, customer, tariffs)
        except (explain.ExplainError, TariffError):
            return False  # a period the book cannot price: the total is not doubted

    return households, corrected


def _decimal(value: float | Fraction, lang: str) -> str:
    shown = f"{float(value):.1f}"
    return shown.replace(".", ",") if lang == "vi" else shown


def insight_line(texts: Texts, lang: str, found: Insight) -> str:
    verdict = found.verdict
    values = {
        "per_day": _decimal(verdict.kwh_per_day, lang),
        "expected": _decimal(verdict.expected or 0.0, lang),
        "percent": verdict.percent_above,
    }
    key = "notify.bill_anomaly_meter" if found.meter_check else "notify.bill_anomaly"
    return texts.get(key, lang, **values)


def insight_buttons(
    texts: Texts, lang: str, bill: BillRecord, found: Insight
) -> tuple[Button, ...]:
    code = bill.customer_code
    why = Button(
        texts.get("explain.button", lang),
        payload=f"{EXPLAIN_PAYLOAD}:{code}:{bill.year}-{bill.month}-{bill.term}",
    )
    if not found.meter_check:
        return (why,)
    return (why, Button(texts.get("explain.meter_button", lang), payload=f"{METER_PAYLOAD}:{code}"))
