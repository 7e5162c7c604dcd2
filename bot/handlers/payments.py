"""Thanh toán: the customer picks what to pay (one bill, several, all the debt of a
customer code, or a service request's fee), sees the amount and what it covers, then
pays by VietQR transfer or through VNPay. The money is confirmed by the bank or the
gateway, never by this conversation: the receipt comes as a notice (bot/payments).

Buttons carry what was chosen, so no state is kept between the screens:
  payments[:<code>|:other]      the tab, for a code (the default one when not given)
  pay:s:<code>:<sel>            the amount and what it covers; how to pay
  pay:m:<code>:<mask>           choosing several bills (a bit per unpaid bill)
  pay:qr|vnp:<code>:<sel>       an order paid by VietQR or VNPay
<sel> is "a<total>" (all the debt, the total shown, in base 36), "b<id>.<id>…" (bills,
ids in base 36) or "f<id>" (a request's fee; the code is then "-").
"""

from __future__ import annotations

import logging

from bot.auth import accounts
from bot.core import fmt
from bot.core.context import Context
from bot.core.messages import Button, Media, Reply, rows
from bot.core.router import Router
from bot.handlers import services
from bot.handlers.common import home_button
from bot.handlers.gates import gate
from bot.payments.orders import Fee, PaymentError, create_order, open_fees
from bot.store.backend import BillRecord

log = logging.getLogger(__name__)

router = Router()
NO_CODE = "-"


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _from_b36(text: str) -> int | None:
    try:
        return int(text, 36) if text and len(text) <= 9 and text.isalnum() else None
    except ValueError:
        return None


def _parts(ctx: Context) -> list[str]:
    return (ctx.arg or "").split(":")


@router.command("/pay", "thanh toan")
@router.button("payments")
async def payments(ctx: Context) -> list[Reply]:
    fees = await open_fees(ctx.session, ctx.user) if ctx.user.id else []
    if not fees and (stop := gate(ctx, "payments")) is not None:
        return stop
    ctx.state.screen = "payments"
    wanted = _parts(ctx)[0].upper()
    codes = ctx.user.customer_codes
    if wanted and wanted != "OTHER":
        if not accounts.is_linked(ctx.user, wanted):
            return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
        return await _what_to_pay(ctx, wanted, fees)
    if wanted != "OTHER" and len(codes) == 1:
        return await _what_to_pay(ctx, codes[0], fees)
    if wanted != "OTHER" and ctx.user.default_customer_code in codes:
        return await _what_to_pay(ctx, str(ctx.user.default_customer_code), fees)
    if not codes and fees:
        return _fees_only(ctx, fees)
    if not codes:  # activated, but every code was removed since
        add = Button(ctx.t("account.add_code"), payload="add_code")
        return [Reply(text=ctx.t("account.activated_none"), buttons=((add,), (home_button(ctx),)))]
    return await _choose_code(ctx, fees)


async def _choose_code(ctx: Context, fees: list[Fee]) -> list[Reply]:
    codes = sorted(ctx.user.customer_codes, key=lambda c: c != ctx.user.default_customer_code)
    names = await ctx.services.backend.customer_names(codes)
    buttons = [
        Button(
            ctx.t("lookups.code_button", code=code, name=names.get(code, "")),
            payload=f"payments:{code}",
        )
        for code in codes
    ]
    buttons += [_fee_button(ctx, fee) for fee in fees]
    return [
        Reply(
            text=ctx.t("payments.choose_code"),
            buttons=(*rows(*buttons, per_row=1), (home_button(ctx),)),
        )
    ]


def _fees_only(ctx: Context, fees: list[Fee]) -> list[Reply]:
    lines = [ctx.t("payments.fees_title")]
    lines += [_fee_line(ctx, fee) for fee in fees]
    buttons = [_fee_button(ctx, fee) for fee in fees]
    return [Reply(text="\n".join(lines), buttons=(*rows(*buttons, per_row=1), (home_button(ctx),)))]


def _fee_line(ctx: Context, fee: Fee) -> str:
    return ctx.t(
        "payments.fee_line",
        request=fee.request_code,
        title=services.title(ctx, fee.request_type),
        amount=fmt.money(fee.amount, ctx.lang),
    )


def _fee_button(ctx: Context, fee: Fee) -> Button:
    return Button(
        ctx.t(
            "payments.fee_button", request=fee.request_code, amount=fmt.money(fee.amount, ctx.lang)
        ),
        payload=f"pay:s:{NO_CODE}:f{_b36(fee.request_id)}",
    )


def _bill_line(ctx: Context, bill: BillRecord) -> str:
    today = fmt.local(ctx.now()).date()
    key = "payments.bill_line_overdue" if bill.due_date < today else "payments.bill_line"
    return ctx.t(
        key,
        period=_capital(
            ctx.t("lookups.period_name", term=bill.term, month=bill.month, year=bill.year)
        ),
        amount=fmt.money(bill.total, ctx.lang),
        due=fmt.day(bill.due_date),
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _bill_button(ctx: Context, bill: BillRecord) -> str:
    return ctx.t(
        "payments.bill_button",
        month=f"{bill.month:02d}/{bill.year}",
        amount=fmt.money(bill.total, ctx.lang),
    )


def _other_code(ctx: Context) -> list[Button]:
    if len(ctx.user.customer_codes) < 2:
        return []
    return [Button(ctx.t("lookups.other_code"), payload="payments:other")]


async def _what_to_pay(ctx: Context, code: str, fees: list[Fee]) -> list[Reply]:
    bills = await ctx.services.backend.unpaid_bills(code)
    fees = [fee for fee in fees if fee.customer_code in (code, None)]
    if not bills and not fees:
        return await _nothing_open(ctx, code)
    if len(bills) == 1 and not fees:  # nothing to choose: the amount and how to pay
        bill = bills[0]
        return _confirm(ctx, code, f"b{_b36(bill.id or 0)}", bills, None, back=None)
    lines: list[str] = []
    buttons: list[Button] = []
    if bills:
        total = sum(bill.total for bill in bills)
        lines.append(ctx.t("payments.open_title", code=code, count=len(bills)))
        lines += [_bill_line(ctx, bill) for bill in bills]
        if len(bills) > 1:
            lines.append(ctx.t("payments.debt_total", amount=fmt.money(total, ctx.lang)))
            buttons.append(
                Button(
                    ctx.t("payments.all_button", amount=fmt.money(total, ctx.lang)),
                    payload=f"pay:s:{code}:a{_b36(total)}",
                )
            )
        buttons += [
            Button(_bill_button(ctx, bill), payload=f"pay:s:{code}:b{_b36(bill.id or 0)}")
            for bill in bills
        ]
        if len(bills) > 2:
            buttons.append(Button(ctx.t("payments.several_button"), payload=f"pay:m:{code}:0"))
    if fees:
        lines.append(ctx.t("payments.fees_title"))
        lines += [_fee_line(ctx, fee) for fee in fees]
        buttons += [_fee_button(ctx, fee) for fee in fees]
    lines.append(ctx.t("payments.which"))
    return [
        Reply(
            text="\n".join(lines),
            buttons=(*rows(*buttons, per_row=1), *rows(*_other_code(ctx)), (home_button(ctx),)),
        )
    ]


async def _nothing_open(ctx: Context, code: str) -> list[Reply]:
    """Nothing to pay for this code; the customer's other codes that owe, one tap away."""
    text = ctx.t("payments.nothing_open", code=code)
    owing, lines = [], []
    for other in ctx.user.customer_codes:
        if other != code and (bills := await ctx.services.backend.unpaid_bills(other)):
            amount = fmt.money(sum(b.total for b in bills), ctx.lang)
            lines.append(ctx.t("payments.other_owes_line", code=other, amount=amount))
            owing.append(
                Button(ctx.t("payments.other_owes_button", code=other), payload=f"payments:{other}")
            )
    if owing:
        text = "\n".join([text, ctx.t("payments.other_owes"), *lines])
    info = Button(ctx.t("lookups.payment_info"), payload=f"lk_pay:{code}")
    return [
        Reply(
            text=text,
            buttons=(*rows(*owing, per_row=1), (info,), (home_button(ctx),)),
        )
    ]


@router.button("pay")
async def pay(ctx: Context) -> list[Reply]:
    parts = _parts(ctx)
    if len(parts) != 3 or parts[0] not in ("s", "m", "qr", "vnp"):
        return await payments(_without_arg(ctx))
    action, code, sel = parts
    fees = await open_fees(ctx.session, ctx.user)
    if not fees and (stop := gate(ctx, "payments")) is not None:
        return stop
    if code != NO_CODE and not accounts.is_linked(ctx.user, code.upper()):
        return [Reply(text=ctx.t("account.not_yours"), buttons=((home_button(ctx),),))]
    code = code.upper()
    if action == "m":
        return await _several(ctx, code, sel)
    chosen = await _chosen(ctx, code, sel, fees)
    if chosen is None:  # paid or changed since the buttons were shown
        again = (
            await _what_to_pay(ctx, code, fees)
            if code != NO_CODE
            else await payments(_without_arg(ctx))
        )
        return [Reply(text=ctx.t("payments.changed")), *again]
    bills, fee = chosen
    if action == "s":
        return _confirm(ctx, code, sel, bills, fee)
    return await _order(ctx, "vnpay" if action == "vnp" else "vietqr", code, bills, fee)


def _without_arg(ctx: Context) -> Context:
    ctx.arg = None
    return ctx


async def _chosen(
    ctx: Context, code: str, sel: str, fees: list[Fee]
) -> tuple[list[BillRecord], Fee | None] | None:
    """The bills or the fee `sel` names, when they are all still open; else None."""
    if sel.startswith("f"):
        wanted = _from_b36(sel[1:])
        fee = next((f for f in fees if f.request_id == wanted), None)
        return ([], fee) if fee is not None else None
    if code == NO_CODE:
        return None
    bills = await ctx.services.backend.unpaid_bills(code)
    if sel.startswith("a"):
        total = _from_b36(sel[1:])
        return (bills, None) if bills and sum(b.total for b in bills) == total else None
    if sel.startswith("b"):
        ids = [_from_b36(part) for part in sel[1:].split(".")]
        picked = [bill for bill in bills if bill.id in ids]
        return (picked, None) if picked and len(picked) == len(set(ids)) else None
    return None


async def _several(ctx: Context, code: str, mask_text: str) -> list[Reply]:
    bills = await ctx.services.backend.unpaid_bills(code)
    mask = _from_b36(mask_text) or 0
    buttons = []
    for index, bill in enumerate(bills[:20]):
        mark = "☑️" if mask >> index & 1 else "⬜"
        buttons.append(
            Button(
                f"{mark} {_bill_button(ctx, bill)}",
                payload=f"pay:m:{code}:{_b36(mask ^ 1 << index)}",
            )
        )
    picked = [bill for index, bill in enumerate(bills) if mask >> index & 1]
    if len(picked) == len(bills):  # every one: "all the debt", however many
        picked, sel = bills, f"a{_b36(sum(b.total for b in bills))}"
    else:  # as many ids as a payload holds (64 bytes: eight or so bills)
        ids: list[str] = []
        for bill in picked:
            if len(f"pay:s:{code}:b{'.'.join([*ids, _b36(bill.id or 0)])}") > 64:
                break
            ids.append(_b36(bill.id or 0))
        picked, sel = picked[: len(ids)], "b" + ".".join(ids)
    if picked:
        total = fmt.money(sum(b.total for b in picked), ctx.lang)
        buttons.append(
            Button(
                ctx.t("payments.continue_button", count=len(picked), amount=total),
                payload=f"pay:s:{code}:{sel}",
            )
        )
    return [
        Reply(
            text=ctx.t("payments.several_title", code=code),
            buttons=(
                *rows(*buttons, per_row=1),
                (Button(ctx.t("menu.back"), payload=f"payments:{code}"), home_button(ctx)),
            ),
        )
    ]


def _covers(ctx: Context, bills: list[BillRecord], fee: Fee | None) -> list[str]:
    lines = [
        ctx.t(
            "payments.covers_bill",
            period=ctx.t("lookups.period_name", term=b.term, month=b.month, year=b.year),
            amount=fmt.money(b.total, ctx.lang),
        )
        for b in bills
    ]
    if fee is not None:
        lines.append(_fee_line(ctx, fee))
    return lines


def _confirm(
    ctx: Context,
    code: str,
    sel: str,
    bills: list[BillRecord],
    fee: Fee | None,
    *,
    back: str | None = "",
) -> list[Reply]:
    """The amount, what it covers and how to pay; ⬅ leads to `back` (by default the
    choice of what to pay; None: there was nothing to choose, only 🏠)."""
    amount = sum(b.total for b in bills) + (fee.amount if fee else 0)
    head = (
        ctx.t("payments.confirm_title", amount=fmt.money(amount, ctx.lang), code=code)
        if code != NO_CODE
        else ctx.t("payments.confirm_title_fee", amount=fmt.money(amount, ctx.lang))
    )
    lines = [head, *_covers(ctx, bills, fee), ctx.t("payments.how")]
    if back == "":
        back = f"payments:{code}" if code != NO_CODE else "payments"
    way = (Button(ctx.t("menu.back"), payload=back),) if back else ()
    return [
        Reply(
            text="\n".join(lines),
            buttons=(
                (Button(ctx.t("payments.vietqr_button"), payload=f"pay:qr:{code}:{sel}"),),
                (Button(ctx.t("payments.vnpay_button"), payload=f"pay:vnp:{code}:{sel}"),),
                *(rows(*_other_code(ctx)) if back is None else ()),
                (*way, home_button(ctx)),
            ),
        )
    ]


async def _order(
    ctx: Context, method: str, code: str, bills: list[BillRecord], fee: Fee | None
) -> list[Reply]:
    service = ctx.services.payments
    if service is None:  # a test's hand-built services: payments are not wired
        raise LookupError("the payments service is not configured")
    try:
        order = await create_order(
            ctx.session,
            ctx.services.backend,
            user=ctx.user,
            method=method,
            now=ctx.now(),
            customer_code=code if code != NO_CODE else None,
            bill_ids=[b.id for b in bills if b.id is not None],
            fee_ids=[fee.request_id] if fee else [],
        )
    except PaymentError as error:
        log.info("conversation %s: payment refused: %s", ctx.conversation.id, error)
        return [Reply(text=ctx.t("payments.changed"), buttons=((home_button(ctx),),))]
    amount = fmt.money(order.amount, ctx.lang)
    if method == "vietqr":
        offer = service.vietqr(order)
        return [
            Reply(
                text=ctx.t(
                    "payments.vietqr_offer",
                    amount=amount,
                    bank=offer.bank_name,
                    account=offer.account,
                    name=offer.account_name,
                ),
                image=Media("image/png", f"{order.ref}.png", data=offer.png),
            ),
            Reply(text=offer.transfer_text),
            Reply(text=ctx.t("payments.vietqr_after"), buttons=((home_button(ctx),),)),
        ]
    url = service.vnpay_link(order, ctx.incoming.client_address or "127.0.0.1")
    return [
        Reply(
            text=ctx.t("payments.vnpay_offer", amount=amount, minutes=15),
            buttons=((Button(ctx.t("payments.vnpay_open"), url=url),), (home_button(ctx),)),
        )
    ]
