"""VNPay's two calls on our web server: the IPN (server to server, where a payment is
applied) and the return page (the customer's browser, which only shows the order).

`add_routes(app, gateway, config)` adds GET /payments/vnpay/ipn and GET
/payments/vnpay/return to the app; the lead's `PaymentGateway` owns orders and
payments, this module owns the protocol and the pages.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import jinja2
from aiohttp import web

from bot.core import fmt
from bot.payments.vnpay import (
    RESPONSE_MESSAGES,
    GatewayResult,
    IpnCode,
    VnpayConfig,
    ipn_answer,
    parse_result,
    single_values,
    verify,
)

log = logging.getLogger(__name__)

IPN_PATH = "/payments/vnpay/ipn"
RETURN_PATH = "/payments/vnpay/return"
TEMPLATES = Path(__file__).parent / "templates"

# The pages load nothing and run nothing; styles are inline in the template.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

OrderStatus = Literal["pending", "received", "paid", "failed", "held", "expired"]


@dataclass(frozen=True)
class OrderView:
    """What the return page shows of an order (never the VNPay parameters themselves)."""

    txn_ref: str
    amount: int  # VND
    description: str  # Vietnamese, e.g. "Hóa đơn tiền điện tháng 11/2026"
    status: OrderStatus
    customer_code: str | None  # None for a fee of a request made before any code


class PaymentGateway(Protocol):
    """The orders behind VNPay's calls (implemented with the payments store)."""

    async def vnpay_result(self, result: GatewayResult) -> str:
        """Record a signed IPN result exactly once (a payment's money, or the failure);
        answer an IpnCode value: "00" recorded, "01" unknown order, "02" already settled, "04"
        amount differs from the order, "99" anything else."""
        ...

    async def order_view(self, txn_ref: str) -> OrderView | None:
        """The order as it stands, or None if there is no such order."""
        ...


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["money"] = fmt.money


def render_page(template: str, *, status: int = 200, **values: Any) -> web.Response:
    """A payment page from bot/payments/templates (also the sandbox's)."""
    html = _environment.get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


# How long the return page waits for a received payment's settlement (10 × 0.2 s).
RECEIVED_WAITS = 10
RECEIVED_WAIT = 0.2

# What the return page says for each status: headline, explanation.
RESULT_TEXTS: dict[str, tuple[str, str]] = {
    "paid": ("Thanh toán thành công", "Cảm ơn Quý khách đã thanh toán."),
    "received": (
        "Đã nhận thanh toán",
        "Ngân hàng đã xác nhận giao dịch; biên nhận sẽ được gửi trong cuộc trò chuyện.",
    ),
    "pending": (
        "Đang chờ xác nhận từ ngân hàng",
        "Kết quả sẽ được báo ngay khi ngân hàng xác nhận giao dịch.",
    ),
    "failed": ("Thanh toán không thành công", "Quý khách có thể thử thanh toán lại."),
    "held": (
        "Giao dịch đang được kiểm tra",
        "Khoản thanh toán đã được ghi nhận và đang được nhân viên kiểm tra.",
    ),
    "expired": (
        "Đơn thanh toán đã hết hạn",
        "Quý khách vui lòng tạo lại yêu cầu thanh toán trong cuộc trò chuyện.",
    ),
}


class VnpayEndpoints:
    """The IPN and return handlers; `add_routes` registers them."""

    def __init__(self, gateway: PaymentGateway, config: VnpayConfig) -> None:
        self.gateway = gateway
        self.config = config

    async def ipn(self, request: web.Request) -> web.Response:
        """VNPay's server-to-server result: the only place a payment changes state.
        Always answers 200 with {"RspCode", "Message"}, never a 500."""
        code = await self._ipn_code(request)
        return web.json_response(ipn_answer(code))

    async def _ipn_code(self, request: web.Request) -> IpnCode:
        params = single_values(request.query)
        if params is None:
            log.warning("vnpay ipn: a parameter repeats")
            return IpnCode.OTHER
        if not verify(params, self.config.hash_secret):
            log.warning("vnpay ipn: bad signature for order %r", params.get("vnp_TxnRef"))
            return IpnCode.INVALID_SIGNATURE
        try:
            result = parse_result(params)
        except ValueError as error:
            log.warning("vnpay ipn: malformed: %s", error)
            return IpnCode.OTHER
        try:
            answer = await self.gateway.vnpay_result(result)
        except Exception:
            log.exception("vnpay ipn: applying order %s failed", result.txn_ref)
            return IpnCode.OTHER
        try:
            code = IpnCode(answer)
        except ValueError:
            log.error("vnpay ipn: gateway answered %r for order %s", answer, result.txn_ref)
            return IpnCode.OTHER
        # A confirmed payment's line is the payments service's ("received", its amount).
        log.log(
            logging.DEBUG if code is IpnCode.CONFIRMED and result.succeeded else logging.INFO,
            "vnpay ipn: order %s response %s status %s -> %s",
            result.txn_ref,
            result.response_code,
            result.transaction_status,
            code.value,
        )
        return code

    async def return_page(self, request: web.Request) -> web.Response:
        """Where VNPay sends the customer back: shows the order as our records have
        it (the IPN decides), never changes anything."""
        params = single_values(request.query)
        if params is None or not verify(params, self.config.hash_secret):
            log.warning("vnpay return: bad signature")
            return render_page(
                "error.html",
                status=400,
                title="Chữ ký không hợp lệ",
                message=(
                    "Thông tin thanh toán trả về không hợp lệ. Quý khách vui lòng kiểm tra "
                    "lại kết quả trong cuộc trò chuyện."
                ),
            )
        try:
            result = parse_result(params)
        except ValueError as error:
            log.warning("vnpay return: malformed: %s", error)
            return render_page(
                "error.html",
                status=400,
                title="Dữ liệu không hợp lệ",
                message="Thông tin thanh toán trả về không đúng định dạng.",
            )
        order = await self.gateway.order_view(result.txn_ref)
        # The IPN came first and recorded the money; its settlement takes moments: show
        # the order paid (or held) when it is, rather than "received".
        for _ in range(RECEIVED_WAITS):
            if order is None or order.status != "received":
                break
            await asyncio.sleep(RECEIVED_WAIT)
            order = await self.gateway.order_view(result.txn_ref)
        if order is None:
            return render_page(
                "error.html",
                status=404,
                title="Không tìm thấy đơn thanh toán",
                message=f"Không có đơn thanh toán mã {result.txn_ref}.",
            )
        headline, explanation = RESULT_TEXTS.get(order.status, RESULT_TEXTS["pending"])
        reason = ""
        if order.status in ("failed", "pending") and not result.succeeded:
            reason = RESPONSE_MESSAGES.get(result.response_code, "")
        return render_page(
            "result.html",
            order=order,
            headline=headline,
            explanation=explanation,
            reason=reason,
            bank_code=result.bank_code,
            transaction_no=result.transaction_no,
        )


def add_routes(app: web.Application, gateway: PaymentGateway, config: VnpayConfig) -> None:
    """Register GET /payments/vnpay/ipn and GET /payments/vnpay/return on `app`."""
    endpoints = VnpayEndpoints(gateway, config)
    app.router.add_get(IPN_PATH, endpoints.ipn)
    app.router.add_get(RETURN_PATH, endpoints.return_page)
