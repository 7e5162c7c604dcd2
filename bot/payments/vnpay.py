"""The VNPay 2.1.0 protocol: signing, the payment URL, the IPN/return result and querydr.

Follows VNPay's integration guide (sandbox.vnpayment.vn/apis/docs): the payment URL
and the IPN/return parameters are signed with HMAC-SHA512 over the `vnp_` parameters
sorted by name, each value `quote_plus`-encoded, joined with `&` (as VNPay's own
samples build it); querydr signs its JSON fields joined with `|` in the documented
order. Amounts travel ×100; dates as yyyyMMddHHmmss in GMT+7. No web server here:
bot/payments/web.py answers VNPay, bot/payments/sandbox.py plays it offline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus

import aiohttp

log = logging.getLogger(__name__)

VERSION = "2.1.0"
# VNPay reads and writes its dates in Vietnam's time, which has no daylight saving.
GMT7 = timezone(timedelta(hours=7), "GMT+7")
DATE_FORMAT = "%Y%m%d%H%M%S"
HASH_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
ORDER_INFO_MAX = 255  # vnp_OrderInfo Alphanumeric[1,255]

# querydr signs these, in this order, joined with "|" (VNPay's "Truy vấn kết quả
# thanh toán (QueryDr)"); a field the message lacks counts as "".
QUERY_REQUEST_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERY_RESPONSE_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)
QUERY_TIMEOUT = aiohttp.ClientTimeout(total=15)

# vnp_ResponseCode of a payment, as VNPay explains it to the customer.
RESPONSE_MESSAGES = {
    "00": "Giao dịch thành công",
    "07": "Trừ tiền thành công, giao dịch đang được kiểm tra",
    "09": "Thẻ/Tài khoản chưa đăng ký dịch vụ InternetBanking",
    "10": "Xác thực thông tin thẻ/tài khoản không đúng quá 3 lần",
    "11": "Đã hết hạn chờ thanh toán",
    "12": "Thẻ/Tài khoản bị khóa",
    "13": "Nhập sai mật khẩu xác thực giao dịch (OTP)",
    "24": "Khách hàng hủy giao dịch",
    "51": "Tài khoản không đủ số dư để thực hiện giao dịch",
    "65": "Tài khoản đã vượt quá hạn mức giao dịch trong ngày",
    "75": "Ngân hàng thanh toán đang bảo trì",
    "79": "Nhập sai mật khẩu thanh toán quá số lần quy định",
    "99": "Lỗi không xác định",
}


class IpnCode(StrEnum):
    """What the merchant answers VNPay's IPN (RspCode); VNPay retries on anything it
    does not take as final."""

    CONFIRMED = "00"
    ORDER_NOT_FOUND = "01"
    ALREADY_CONFIRMED = "02"
    INVALID_AMOUNT = "04"
    INVALID_SIGNATURE = "97"
    OTHER = "99"


IPN_MESSAGES = {
    IpnCode.CONFIRMED: "Confirm Success",
    IpnCode.ORDER_NOT_FOUND: "Order not found",
    IpnCode.ALREADY_CONFIRMED: "Order already confirmed",
    IpnCode.INVALID_AMOUNT: "invalid amount",
    IpnCode.INVALID_SIGNATURE: "Invalid signature",
    IpnCode.OTHER: "Unknow error",  # VNPay's spelling
}


def ipn_answer(code: IpnCode) -> dict[str, str]:
    """The JSON body VNPay expects back from an IPN."""
    return {"RspCode": code.value, "Message": IPN_MESSAGES[code]}


@dataclass(frozen=True)
class VnpayConfig:
    """A merchant's VNPay terminal: its code, hash secret and the gateway's URLs."""

    tmn_code: str
    hash_secret: str = field(repr=False)
    pay_url: str  # …/paymentv2/vpcpay.html
    api_url: str  # …/merchant_webapi/api/transaction
    version: str = VERSION


class GatewayError(Exception):
    """VNPay could not be reached or answered something we cannot trust."""


# --- signatures -------------------------------------------------------------------


def hash_data(params: Mapping[str, str]) -> str:
    """The text VNPay signs: `vnp_` parameters but the hash, sorted, values quote_plus'd."""
    signed = sorted(
        (k, v) for k, v in params.items() if k.startswith("vnp_") and k not in HASH_FIELDS
    )
    return "&".join(f"{key}={quote_plus(str(value))}" for key, value in signed)


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def sign(params: Mapping[str, str], secret: str) -> str:
    """vnp_SecureHash of a payment URL, IPN or return (hex HMAC-SHA512)."""
    return _hmac(secret, hash_data(params))


def verify(params: Mapping[str, str], secret: str) -> bool:
    """Whether vnp_SecureHash signs these parameters (compared in constant time)."""
    given = params.get("vnp_SecureHash", "")
    return bool(given) and hmac.compare_digest(given.lower(), sign(params, secret))


def sign_fields(values: Sequence[str], secret: str) -> str:
    """The querydr/refund signature: the values joined with "|"."""
    return _hmac(secret, "|".join(values))


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """`params` as a query string with its vnp_SecureHash appended, encoded as signed."""
    return f"{hash_data(params)}&vnp_SecureHash={sign(params, secret)}"


# --- the payment URL --------------------------------------------------------------


def vnpay_date(moment: datetime) -> str:
    """yyyyMMddHHmmss in GMT+7, whatever zone the aware `moment` carries."""
    if moment.tzinfo is None:
        raise ValueError("VNPay dates need a timezone-aware datetime")
    return moment.astimezone(GMT7).strftime(DATE_FORMAT)


def parse_vnpay_date(text: str) -> datetime:
    """An aware datetime from VNPay's yyyyMMddHHmmss (GMT+7); ValueError if malformed."""
    if not re.fullmatch(r"\d{14}", text):
        raise ValueError(f"not a VNPay date: {text!r}")
    # Fixed-width digits: sliced rather than strptime'd (a fifth of a millisecond on
    # the IPN's path); datetime still refuses a month 13 or a 30 February.
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        int(text[12:14]),
        tzinfo=GMT7,
    )


def ascii_order_info(text: str) -> str:
    """Vietnamese without diacritics, printable ASCII only: what vnp_OrderInfo accepts."""
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    plain = "".join(ch if " " <= ch <= "~" else " " for ch in plain)
    plain = " ".join(plain.split())[:ORDER_INFO_MAX]
    if not plain:
        raise ValueError("vnp_OrderInfo is empty once written in ASCII")
    return plain


def payment_params(
    config: VnpayConfig,
    *,
    txn_ref: str,
    amount: int,
    order_info: str,
    created: datetime,
    expires: datetime,
    return_url: str,
    ip_addr: str,
    locale: str = "vn",
    order_type: str = "billpayment",
) -> dict[str, str]:
    """The unsigned vnp_ parameters of a payment (what payment_url signs)."""
    if amount <= 0:
        raise ValueError("a payment needs a positive amount")
    if expires <= created:
        raise ValueError("a payment must expire after it is created")
    return {
        "vnp_Version": config.version,
        "vnp_Command": "pay",
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": str(amount * 100),  # VNPay's amounts carry two implied decimals
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": ascii_order_info(order_info),
        "vnp_OrderType": order_type,
        "vnp_Locale": locale,
        "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": ip_addr,
        "vnp_CreateDate": vnpay_date(created),
        "vnp_ExpireDate": vnpay_date(expires),
    }


def payment_url(
    config: VnpayConfig,
    *,
    txn_ref: str,
    amount: int,
    order_info: str,
    created: datetime,
    expires: datetime,
    return_url: str,
    ip_addr: str,
    locale: str = "vn",
    order_type: str = "billpayment",
) -> str:
    """Where to send the customer to pay `amount` VND for order `txn_ref`."""
    params = payment_params(
        config,
        txn_ref=txn_ref,
        amount=amount,
        order_info=order_info,
        created=created,
        expires=expires,
        return_url=return_url,
        ip_addr=ip_addr,
        locale=locale,
        order_type=order_type,
    )
    return f"{config.pay_url}?{signed_query(params, config.hash_secret)}"


# --- results (IPN and return) -----------------------------------------------------


def amount_from_vnpay(text: str) -> int:
    """VND from VNPay's ×100 amount; ValueError unless a whole number of đồng."""
    if not re.fullmatch(r"\d{1,15}", text):
        raise ValueError(f"not a VNPay amount: {text!r}")
    hundredths = int(text)
    if hundredths % 100:
        raise ValueError(f"VNPay amount is not whole đồng: {text!r}")
    return hundredths // 100


def _code(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not re.fullmatch(r"\d{2}", value):
        raise ValueError(f"{name} is not a two-digit code: {value!r}")
    return value


@dataclass(frozen=True)
class GatewayResult:
    """The outcome of a payment as VNPay reports it on the IPN and the return URL."""

    txn_ref: str
    amount: int  # VND
    response_code: str
    transaction_status: str
    transaction_no: str
    bank_code: str
    pay_date: datetime | None
    tmn_code: str = ""

    @property
    def succeeded(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"


def parse_result(params: Mapping[str, str]) -> GatewayResult:
    """Read an IPN's or return's parameters (check the signature first: `verify`)."""
    txn_ref = params.get("vnp_TxnRef", "")
    if not txn_ref:
        raise ValueError("vnp_TxnRef is missing")
    transaction_no = params.get("vnp_TransactionNo", "")
    if transaction_no and not transaction_no.isdigit():
        raise ValueError(f"vnp_TransactionNo is not a number: {transaction_no!r}")
    pay_date = params.get("vnp_PayDate", "")
    return GatewayResult(
        txn_ref=txn_ref,
        amount=amount_from_vnpay(params.get("vnp_Amount", "")),
        response_code=_code(params, "vnp_ResponseCode"),
        transaction_status=_code(params, "vnp_TransactionStatus"),
        transaction_no=transaction_no,
        bank_code=params.get("vnp_BankCode", ""),
        pay_date=parse_vnpay_date(pay_date) if pay_date else None,
        tmn_code=params.get("vnp_TmnCode", ""),
    )


def single_values(query: Any) -> dict[str, str] | None:
    """A request's query as a dict, or None when a name repeats: a signature covers
    one value per name, so a repeated one is never trusted."""
    values: dict[str, str] = {}
    for key, value in query.items():
        if key in values:
            return None
        values[key] = value
    return values


# --- querydr ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """VNPay's answer to querydr: whether it knows the transaction and how it ended."""

    response_code: str  # of the query: 00 found, 91 not found, 94 duplicate, 97, 99…
    message: str
    txn_ref: str
    amount: int | None  # VND
    transaction_status: str  # of the payment: 00 paid, 01 unfinished, 02 failed…
    transaction_no: str
    bank_code: str
    pay_date: datetime | None

    @property
    def found(self) -> bool:
        return self.response_code == "00"

    @property
    def succeeded(self) -> bool:
        return self.found and self.transaction_status == "00"


def query_request(
    config: VnpayConfig,
    *,
    txn_ref: str,
    order_info: str,
    transaction_date: datetime,
    ip_addr: str,
    now: datetime,
    request_id: str | None = None,
) -> dict[str, str]:
    """The signed JSON body of a querydr request."""
    body = {
        "vnp_RequestId": request_id or uuid.uuid4().hex,
        "vnp_Version": config.version,
        "vnp_Command": "querydr",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": ascii_order_info(order_info),
        "vnp_TransactionDate": vnpay_date(transaction_date),
        "vnp_CreateDate": vnpay_date(now),
        "vnp_IpAddr": ip_addr,
    }
    body["vnp_SecureHash"] = sign_fields(
        [body[name] for name in QUERY_REQUEST_FIELDS], config.hash_secret
    )
    return body


def field_values(message: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """The values to sign, in order; a missing field (or JSON null) signs as ""."""
    return ["" if message.get(name) is None else str(message[name]) for name in names]


def parse_query_response(config: VnpayConfig, txn_ref: str, body: Any) -> QueryResult:
    """Check and read querydr's answer; GatewayError unless VNPay signed it."""
    if not isinstance(body, dict):
        raise GatewayError("VNPay querydr answered something other than a JSON object")
    code = str(body.get("vnp_ResponseCode", ""))
    expected = sign_fields(field_values(body, QUERY_RESPONSE_FIELDS), config.hash_secret)
    given = str(body.get("vnp_SecureHash") or "").lower()
    if not given or not hmac.compare_digest(given, expected):
        raise GatewayError(f"VNPay querydr answer (code {code!r}) has a bad signature")
    found = code == "00"
    if found and str(body.get("vnp_TxnRef")) != txn_ref:
        raise GatewayError(f"VNPay querydr answered about another order than {txn_ref!r}")
    try:
        amount = amount_from_vnpay(str(body["vnp_Amount"])) if found else None
        pay_date = str(body.get("vnp_PayDate") or "")
        return QueryResult(
            response_code=code,
            message=str(body.get("vnp_Message") or ""),
            txn_ref=txn_ref,
            amount=amount,
            transaction_status=str(body.get("vnp_TransactionStatus") or ""),
            transaction_no=str(body.get("vnp_TransactionNo") or ""),
            bank_code=str(body.get("vnp_BankCode") or ""),
            pay_date=parse_vnpay_date(pay_date) if found and pay_date else None,
        )
    except (KeyError, ValueError) as error:
        raise GatewayError(f"VNPay querydr answer is malformed: {error}") from None


async def query(
    config: VnpayConfig,
    session: aiohttp.ClientSession,
    *,
    txn_ref: str,
    order_info: str,
    transaction_date: datetime,
    ip_addr: str,
    now: datetime,
) -> QueryResult:
    """Ask VNPay how order `txn_ref` ended (querydr). `transaction_date` is when the
    payment URL was created (its vnp_CreateDate); `now` is this request's time."""
    body = query_request(
        config,
        txn_ref=txn_ref,
        order_info=order_info,
        transaction_date=transaction_date,
        ip_addr=ip_addr,
        now=now,
    )
    try:
        async with session.post(config.api_url, json=body, timeout=QUERY_TIMEOUT) as response:
            if response.status != 200:
                raise GatewayError(f"VNPay querydr answered HTTP {response.status}")
            answer = json.loads(await response.text())
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GatewayError(f"VNPay querydr unreachable: {type(error).__name__}") from None
    except ValueError:
        raise GatewayError("VNPay querydr answered something other than JSON") from None
    result = parse_query_response(config, txn_ref, answer)
    log.info(
        "vnpay querydr %s: code %s status %s",
        txn_ref,
        result.response_code,
        result.transaction_status,
    )
    return result
