"""A local stand-in for VNPay's sandbox, so a payment completes without the internet.

Served by `cskh serve` itself when the configured pay URL is our own
/sandbox/vnpay/paymentv2/vpcpay.html. It checks the payment URL as VNPay does, shows
a phone-sized page with three outcomes, calls the merchant's IPN signed as VNPay
signs, sends the browser back to vnp_ReturnUrl and answers querydr from what it
recorded. Records live in memory: a restart forgets them, as a sandbox may.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from bot.payments.vnpay import (
    QUERY_REQUEST_FIELDS,
    QUERY_RESPONSE_FIELDS,
    VnpayConfig,
    amount_from_vnpay,
    field_values,
    parse_vnpay_date,
    sign_fields,
    signed_query,
    single_values,
    verify,
    vnpay_date,
)
from bot.payments.web import render_page

log = logging.getLogger(__name__)

PAY_PATH = "/sandbox/vnpay/paymentv2/vpcpay.html"
API_PATH = "/sandbox/vnpay/merchant_webapi/api/transaction"
IPN_TIMEOUT = aiohttp.ClientTimeout(total=10)
SANDBOX_BANK = "NCB"  # the bank VNPay's sandbox test cards belong to
FIRST_TRANSACTION_NO = 14_000_001

# Button → (vnp_ResponseCode, vnp_TransactionStatus).
OUTCOMES = {"pay": ("00", "00"), "cancel": ("24", "02"), "decline": ("51", "02")}
REQUIRED = (
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_CurrCode",
    "vnp_TxnRef",
    "vnp_OrderInfo",
    "vnp_OrderType",
    "vnp_Locale",
    "vnp_ReturnUrl",
    "vnp_IpAddr",
    "vnp_CreateDate",
    "vnp_ExpireDate",
)
EXPIRED = "Giao dịch đã quá thời gian chờ thanh toán. Quý khách vui lòng thực hiện lại giao dịch."


@dataclass(frozen=True)
class SandboxTransaction:
    """A payment the sandbox completed (whatever its outcome)."""

    txn_ref: str
    transaction_no: str
    amount: int  # VND
    order_info: str
    response_code: str
    transaction_status: str
    bank_code: str
    create_date: str  # the order's vnp_CreateDate, as querydr's vnp_TransactionDate
    pay_date: str  # yyyyMMddHHmmss GMT+7
    ipn_answer: str | None = None  # the merchant's RspCode, None if the IPN failed


@dataclass(frozen=True)
class _Checkout:
    """An order shown on the payment page, waiting for one of its buttons."""

    params: Mapping[str, str]
    amount: int
    expires: datetime


class SandboxError(Exception):
    """A payment URL the sandbox refuses, with the message its page shows."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class VnpaySandbox:
    """Plays VNPay for `config`'s merchant: the payment page, the IPN call to
    `ipn_url` and querydr. `clock` returns the aware current time."""

    def __init__(
        self,
        config: VnpayConfig,
        *,
        ipn_url: str | Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.ipn_url = ipn_url
        self.clock = clock
        self._checkouts: dict[str, _Checkout] = {}
        self._transactions: dict[str, SandboxTransaction] = {}
        self._next_no = FIRST_TRANSACTION_NO

    @property
    def transactions(self) -> Mapping[str, SandboxTransaction]:
        """The completed transactions by order (vnp_TxnRef), read-only."""
        return MappingProxyType(self._transactions)

    def add_routes(self, app: web.Application) -> None:
        """GET/POST /sandbox/vnpay/paymentv2/vpcpay.html and POST …/api/transaction."""
        app.router.add_get(PAY_PATH, self.payment_page)
        app.router.add_post(PAY_PATH, self.complete)
        app.router.add_post(API_PATH, self.querydr)

    # --- the payment page ---------------------------------------------------------

    def _checkout(self, query: Any) -> _Checkout:
        params = single_values(query)
        if params is None or not verify(params, self.config.hash_secret):
            raise SandboxError("Sai chữ ký", "70")
        if params.get("vnp_TmnCode") != self.config.tmn_code:
            raise SandboxError("Website này chưa được phê duyệt (sai vnp_TmnCode)", "72")
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise SandboxError(f"Thiếu tham số {', '.join(missing)}", "03")
        if (
            params["vnp_Version"] != self.config.version
            or params["vnp_Command"] != "pay"
            or params["vnp_CurrCode"] != "VND"
            or not params["vnp_OrderInfo"].isascii()
        ):
            raise SandboxError("Dữ liệu gửi sang không đúng định dạng", "03")
        try:
            amount = amount_from_vnpay(params["vnp_Amount"])
            parse_vnpay_date(params["vnp_CreateDate"])
            expires = parse_vnpay_date(params["vnp_ExpireDate"])
        except ValueError:
            raise SandboxError("Dữ liệu gửi sang không đúng định dạng", "03") from None
        if amount <= 0:
            raise SandboxError("Số tiền không hợp lệ", "03")
        if self.clock() > expires:
            raise SandboxError(EXPIRED, "11")
        if params["vnp_TxnRef"] in self._transactions:
            raise SandboxError("Giao dịch đã tồn tại", "01")
        return _Checkout(MappingProxyType(params), amount, expires)

    async def payment_page(self, request: web.Request) -> web.Response:
        """The page VNPay would show the customer, with three outcomes to choose."""
        try:
            checkout = self._checkout(request.query)
        except SandboxError as error:
            return render_page(
                "sandbox_error.html", status=400, message=error.message, code=error.code
            )
        now = self.clock()
        for stale in [key for key, kept in self._checkouts.items() if kept.expires < now]:
            del self._checkouts[stale]  # pages left open past their expiry
        # The buttons carry only this token: the POST cannot change what is paid,
        # and popping it makes a second POST of the same form do nothing.
        token = secrets.token_urlsafe(24)
        self._checkouts[token] = checkout
        return render_page(
            "sandbox_pay.html",
            action=PAY_PATH,
            token=token,
            tmn_code=checkout.params["vnp_TmnCode"],
            txn_ref=checkout.params["vnp_TxnRef"],
            order_info=checkout.params["vnp_OrderInfo"],
            amount=checkout.amount,
            expires=checkout.expires.strftime("%H:%M %d/%m/%Y"),
        )

    async def complete(self, request: web.Request) -> web.StreamResponse:
        """A button pressed: record, tell the merchant (IPN), send the browser back."""
        form = await request.post()
        outcome = OUTCOMES.get(str(form.get("outcome", "")))
        checkout = self._checkouts.pop(str(form.get("token", "")), None)
        if outcome is None or checkout is None:
            return render_page(
                "sandbox_error.html",
                status=409,
                message="Giao dịch đã được xử lý hoặc không còn hiệu lực.",
                code="",
            )
        txn_ref = checkout.params["vnp_TxnRef"]
        if self.clock() > checkout.expires:
            return render_page("sandbox_error.html", status=400, message=EXPIRED, code="11")
        if txn_ref in self._transactions:  # another tab of the same order finished first
            return render_page(
                "sandbox_error.html", status=409, message="Giao dịch đã tồn tại", code="01"
            )
        transaction = self._record(checkout, *outcome)
        result = self._result_params(transaction)
        query = signed_query(result, self.config.hash_secret)
        answer = await self._call_ipn(query, txn_ref)
        self._transactions[txn_ref] = replace(transaction, ipn_answer=answer)
        return_url = checkout.params["vnp_ReturnUrl"]
        separator = "&" if "?" in return_url else "?"
        raise web.HTTPSeeOther(location=f"{return_url}{separator}{query}")

    def _record(
        self, checkout: _Checkout, response_code: str, transaction_status: str
    ) -> SandboxTransaction:
        transaction = SandboxTransaction(
            txn_ref=checkout.params["vnp_TxnRef"],
            transaction_no=str(self._next_no),
            amount=checkout.amount,
            order_info=checkout.params["vnp_OrderInfo"],
            response_code=response_code,
            transaction_status=transaction_status,
            bank_code=SANDBOX_BANK,
            create_date=checkout.params["vnp_CreateDate"],
            pay_date=vnpay_date(self.clock()),
        )
        self._next_no += 1
        self._transactions[transaction.txn_ref] = transaction
        return transaction

    def _result_params(self, transaction: SandboxTransaction) -> dict[str, str]:
        """What VNPay sends on the IPN and the return URL (before signing)."""
        return {
            "vnp_Amount": str(transaction.amount * 100),
            "vnp_BankCode": transaction.bank_code,
            "vnp_BankTranNo": f"VNP{transaction.transaction_no}",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": transaction.order_info,
            "vnp_PayDate": transaction.pay_date,
            "vnp_ResponseCode": transaction.response_code,
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TransactionNo": transaction.transaction_no,
            "vnp_TransactionStatus": transaction.transaction_status,
            "vnp_TxnRef": transaction.txn_ref,
        }

    async def _call_ipn(self, query: str, txn_ref: str) -> str | None:
        # VNPay retries an unanswered IPN for a while; the sandbox calls once and keeps
        # the answer, and the merchant's reconciliation (querydr) covers the rest.
        # A callable: the server's public address may be known only once it listens.
        ipn_url = self.ipn_url() if callable(self.ipn_url) else self.ipn_url
        separator = "&" if "?" in ipn_url else "?"
        url = yarl.URL(f"{ipn_url}{separator}{query}", encoded=True)
        try:
            async with (
                aiohttp.ClientSession(timeout=IPN_TIMEOUT) as session,
                session.get(url) as response,
            ):
                answer = await response.json(content_type=None)
            code = str(answer.get("RspCode")) if isinstance(answer, dict) else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("vnpay sandbox: IPN for %s failed: %s", txn_ref, type(error).__name__)
            return None
        log.info("vnpay sandbox: IPN for %s answered %s", txn_ref, code)
        return code

    # --- querydr --------------------------------------------------------------------

    async def querydr(self, request: web.Request) -> web.Response:
        """VNPay's merchant_webapi querydr, answered from the sandbox's records."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._query_answer({}, "03", "Dữ liệu gửi sang không đúng định dạng")
        values = field_values(body, QUERY_REQUEST_FIELDS)
        given = str(body.get("vnp_SecureHash") or "")
        if not secrets.compare_digest(given, sign_fields(values, self.config.hash_secret)):
            return self._query_answer(body, "97", "Checksum không hợp lệ")
        if body.get("vnp_TmnCode") != self.config.tmn_code:
            return self._query_answer(body, "02", "Mã định danh kết nối không hợp lệ")
        if body.get("vnp_Command") != "querydr" or not all(values):
            return self._query_answer(body, "03", "Dữ liệu gửi sang không đúng định dạng")
        transaction = self._transactions.get(str(body["vnp_TxnRef"]))
        # VNPay finds a payment by its order and the date the order was created.
        if transaction is None or transaction.create_date != body["vnp_TransactionDate"]:
            return self._query_answer(body, "91", "Không tìm thấy giao dịch yêu cầu")
        return self._query_answer(body, "00", "Yêu cầu thành công", transaction)

    def _query_answer(
        self,
        request: Mapping[str, Any],
        code: str,
        message: str,
        transaction: SandboxTransaction | None = None,
    ) -> web.Response:
        answer: dict[str, str] = {
            "vnp_ResponseId": uuid.uuid4().hex,
            "vnp_Command": "querydr",
            "vnp_ResponseCode": code,
            "vnp_Message": message,
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TxnRef": str(request.get("vnp_TxnRef") or ""),
        }
        if transaction is not None:
            answer |= {
                "vnp_Amount": str(transaction.amount * 100),
                "vnp_OrderInfo": transaction.order_info,
                "vnp_BankCode": transaction.bank_code,
                "vnp_PayDate": transaction.pay_date,
                "vnp_TransactionNo": transaction.transaction_no,
                "vnp_TransactionType": "01",  # a payment (02/03 are refunds)
                "vnp_TransactionStatus": transaction.transaction_status,
            }
        answer["vnp_SecureHash"] = sign_fields(
            field_values(answer, QUERY_RESPONSE_FIELDS), self.config.hash_secret
        )
        return web.json_response(answer)
