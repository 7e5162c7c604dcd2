"""The bill explanation as staff read it (issue 18): `cskh bills explain` prints these
lines, and the console shows them beside a conversation with the customer. The
customer's own wording is in domain.yml (explain.*), from the same figures."""

from __future__ import annotations

from bot.billing import explain as bill_explain
from bot.billing.explain import Cause, Comparison, Explanation
from bot.core.fmt import day, money, number, short_day

# The causes as staff say them (the customer's wording is in domain.yml, explain.*).
CAUSE_NAMES = {
    bill_explain.DAYS: "số ngày của kỳ",
    bill_explain.PER_DAY: "điện dùng mỗi ngày",
    bill_explain.TIERS: "bậc thang",
    bill_explain.PRICE: "giá điện",
    bill_explain.HOUSEHOLDS: "số hộ dùng chung (định mức)",
    bill_explain.CORRECTION: "điều chỉnh sau phát hành",
    bill_explain.VAT_ROUNDING: "thuế GTGT và làm tròn",
}


def lines(explanation: Explanation) -> list[str]:
    bill = explanation.bill
    out = [
        f"{explanation.customer.code} — {explanation.customer.name}, kỳ {bill.term} tháng "
        f"{bill.month:02d}/{bill.year} ({short_day(bill.period_start)}–{day(bill.period_end)}, "
        f"{bill_explain.days_of(bill)} ngày): {number(bill.kwh)} kWh, {money(bill.total)}"
    ]
    for title, comparison in (
        ("So với kỳ trước", explanation.previous),
        ("So với cùng kỳ năm trước", explanation.last_year),
    ):
        if comparison is None:
            out.append(f"{title}: không có hóa đơn để so sánh")
            continue
        out += _comparison(title, comparison)
    out.append(
        "Gợi ý kiểm tra công tơ: "
        + (
            "không"
            if not explanation.meter_check
            else "có (hai kỳ liền dùng cao bất thường so với mức thường)"
            if explanation.unusual_twice
            else "có (mức dùng mỗi ngày tăng bất thường)"
        )
    )
    return out


def _comparison(title: str, comparison: Comparison) -> list[str]:
    earlier = comparison.earlier
    head = (
        f"{title} (kỳ {earlier.term} tháng {earlier.month:02d}/{earlier.year}: "
        f"{number(earlier.kwh)} kWh, {bill_explain.days_of(earlier)} ngày, "
        f"{money(earlier.total)}): {_signed(comparison.difference)}"
    )
    return [head, *(f"  {_signed(c.amount):>14}  {_cause(c)}" for c in comparison.causes)]


def _signed(amount: int) -> str:
    return f"{'+' if amount > 0 else '−' if amount < 0 else ''}{money(abs(amount))}"


def _cause(cause: Cause) -> str:
    name = CAUSE_NAMES[cause.kind]
    if cause.kind == bill_explain.DAYS:
        return f"{name} ({cause.days:+d} ngày)"
    if cause.kind == bill_explain.PER_DAY:
        shown = f"{float(cause.kwh_per_day):+.1f}".replace(".", ",")
        return f"{name} ({shown} kWh/ngày)"
    if cause.kind == bill_explain.TIERS and cause.tier_kwh:
        return f"{name} ({cause.tier_kwh} kWh đổi bậc, bậc cao nhất {cause.tier})"
    if cause.kind == bill_explain.TIERS:
        return f"{name} (bậc cao nhất: {cause.tier})"
    if cause.kind == bill_explain.PRICE and cause.price_from:
        return f"{name} (giá mới từ {day(cause.price_from)})"
    if cause.kind == bill_explain.HOUSEHOLDS and cause.households:
        return f"{name} ({cause.households[0]} → {cause.households[1]} hộ)"
    return name
