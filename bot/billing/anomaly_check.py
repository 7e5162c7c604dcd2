"""A new bill judged for unusual use with what the utility knows (issue 18 part 2): the
customer's earlier bills from the backend, and the households on the meter and the
corrections the tariff book reveals, as the explanation infers them. The method itself
is bot/billing/anomaly.py; the notice's words are bot/notify/usage.py."""

from __future__ import annotations

from bot.billing import anomaly, explain
from bot.billing.anomaly import Insight
from bot.billing.tariffs import TariffBook, TariffError
from bot.store.backend import BillRecord, CustomerRecord, UtilityBackend

# The references of anomaly.py (about six months, or a year and a half of three terms a
# month) and the same periods a year earlier.
HISTORY_BILLS = 3 * 12 + 3 * 8


async def bill_insight(
    backend: UtilityBackend, tariffs: TariffBook, bill: BillRecord
) -> Insight | None:
    """`bill` judged against the customer's bills before it; None when there is nothing
    to tell (a first bill, a normal one, zero kWh, a corrected bill)."""
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
