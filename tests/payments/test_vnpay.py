"""The VNPay protocol: signatures, the payment URL, results and querydr's signing."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from bot.payments.vnpay import (
    QUERY_REQUEST_FIELDS,
    GatewayError,
    IpnCode,
    VnpayConfig,
    ipn_answer,
    parse_query_response,
    parse_result,
    payment_url,
    query_request,
    sign,
    verify,
)

CONFIG = VnpayConfig(
    tmn_code="CSKHTEST",
    hash_secret="SANDBOXSECRETSANDBOXSECRET123456",
    pay_url="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    api_url="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
)

# A signed IPN published with the `vnpay` npm library's tests (secret "test_secret").
PUBLISHED_IPN = {
    "vnp_Amount": "1000000",
    "vnp_BankCode": "NCB",
    "vnp_BankTranNo": "VNP14422574",
    "vnp_CardType": "ATM",
    "vnp_OrderInfo": "Thanh toan don hang 2024-05-21T02:17:31.249Z",
    "vnp_PayDate": "20240521091806",
    "vnp_ResponseCode": "00",
    "vnp_TmnCode": "TEST_TMN_CODE",
    "vnp_TransactionNo": "14422574",
    "vnp_TransactionStatus": "00",
    "vnp_TxnRef": "1716257871703",
    "vnp_SecureHash": (
        "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361d"
        "bf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895"
    ),
}


def test_signature_matches_a_published_vector() -> None:
    assert sign(PUBLISHED_IPN, "test_secret") == PUBLISHED_IPN["vnp_SecureHash"]
    assert verify(PUBLISHED_IPN, "test_secret")
    assert not verify(PUBLISHED_IPN, "another_secret")


def test_signature_is_hmac_sha512_of_the_sorted_quote_plus_hash_data() -> None:
    params = {
        "vnp_TxnRef": "HD-1",
        "vnp_Amount": "30523000",
        "vnp_OrderInfo": "Thanh toan: hoa don 11/2026",
        "vnp_ReturnUrl": "http://127.0.0.1:8080/payments/vnpay/return",
        "other": "not signed",
    }
    hash_data = (
        "vnp_Amount=30523000&vnp_OrderInfo=Thanh+toan%3A+hoa+don+11%2F2026"
        "&vnp_ReturnUrl=http%3A%2F%2F127.0.0.1%3A8080%2Fpayments%2Fvnpay%2Freturn"
        "&vnp_TxnRef=HD-1"
    )
    expected = hmac.new(b"k3y", hash_data.encode(), hashlib.sha512).hexdigest()
    assert sign(params, "k3y") == expected
    # The hash itself (and its type) are never part of what is signed.
    assert sign({**params, "vnp_SecureHash": "x", "vnp_SecureHashType": "HmacSHA512"}, "k3y") == (
        expected
    )


@pytest.mark.parametrize("name", sorted(k for k in PUBLISHED_IPN if k != "vnp_SecureHash"))
def test_verify_rejects_any_tampered_parameter(name: str) -> None:
    tampered = {**PUBLISHED_IPN, name: PUBLISHED_IPN[name] + "1"}
    assert not verify(tampered, "test_secret")


def test_verify_rejects_an_added_parameter_and_a_missing_hash() -> None:
    assert not verify({**PUBLISHED_IPN, "vnp_BankCode2": "X"}, "test_secret")
    unsigned = {k: v for k, v in PUBLISHED_IPN.items() if k != "vnp_SecureHash"}
    assert not verify(unsigned, "test_secret")


def _url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_payment_url_carries_amount_times_100_and_gmt7_dates() -> None:
    created = datetime(2026, 11, 26, 17, 30, 5, tzinfo=UTC)  # 00:30:05 next day in GMT+7
    url = payment_url(
        CONFIG,
        txn_ref="PE01000123-1",
        amount=305_230,
        order_info="Thanh toán hóa đơn tiền điện kỳ 11/2026 — Đà Nẵng",
        created=created,
        expires=created + timedelta(minutes=15),
        return_url="http://127.0.0.1:8080/payments/vnpay/return",
        ip_addr="127.0.0.1",
    )
    assert url.startswith(CONFIG.pay_url + "?")
    params = _url_params(url)
    assert params["vnp_Amount"] == "30523000"
    assert params["vnp_CreateDate"] == "20261127003005"
    assert params["vnp_ExpireDate"] == "20261127004505"
    assert params["vnp_OrderInfo"] == "Thanh toan hoa don tien dien ky 11/2026 Da Nang"
    assert params["vnp_Command"] == "pay"
    assert params["vnp_CurrCode"] == "VND"
    assert params["vnp_Version"] == "2.1.0"
    assert params["vnp_TmnCode"] == "CSKHTEST"
    assert params["vnp_Locale"] == "vn"
    assert params["vnp_OrderType"] == "billpayment"
    assert verify(params, CONFIG.hash_secret)


def test_payment_url_reads_any_timezone_as_the_same_moment() -> None:
    in_tokyo = datetime(2026, 11, 27, 2, 30, tzinfo=timezone(timedelta(hours=9)))
    url = payment_url(
        CONFIG,
        txn_ref="T1",
        amount=1000,
        order_info="x",
        created=in_tokyo,
        expires=in_tokyo + timedelta(minutes=15),
        return_url="http://r",
        ip_addr="127.0.0.1",
    )
    assert _url_params(url)["vnp_CreateDate"] == "20261127003000"


def test_payment_url_refuses_naive_dates_and_zero_amounts() -> None:
    base = dict(txn_ref="T", order_info="x", return_url="http://r", ip_addr="1.1.1.1")
    naive = datetime(2026, 11, 26, 8, 0)
    with pytest.raises(ValueError):
        payment_url(
            CONFIG, amount=1000, created=naive, expires=naive + timedelta(minutes=15), **base
        )
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError):
        payment_url(
            CONFIG,
            amount=0,
            created=aware,
            expires=aware + timedelta(minutes=1),
            **base,
        )


def test_config_repr_hides_the_secret() -> None:
    assert CONFIG.hash_secret not in repr(CONFIG)


def test_parse_result_reads_vnd_and_the_gmt7_pay_date() -> None:
    result = parse_result(PUBLISHED_IPN)
    assert result.txn_ref == "1716257871703"
    assert result.amount == 10_000
    assert result.succeeded
    assert result.transaction_no == "14422574"
    assert result.bank_code == "NCB"
    assert result.pay_date == datetime(2024, 5, 21, 2, 18, 6, tzinfo=UTC)
    assert result.pay_date is not None and result.pay_date.utcoffset() == timedelta(hours=7)


def test_a_cancelled_result_has_not_succeeded() -> None:
    result = parse_result(
        {**PUBLISHED_IPN, "vnp_ResponseCode": "24", "vnp_TransactionStatus": "02"}
    )
    assert not result.succeeded
    # A successful response code alone is not a payment.
    assert not parse_result({**PUBLISHED_IPN, "vnp_TransactionStatus": "01"}).succeeded


@pytest.mark.parametrize(
    "change",
    [
        {"vnp_Amount": "1000050"},  # not whole đồng
        {"vnp_Amount": "-100"},
        {"vnp_Amount": "1e6"},
        {"vnp_Amount": ""},
        {"vnp_TxnRef": ""},
        {"vnp_ResponseCode": "0"},
        {"vnp_TransactionStatus": "ok"},
        {"vnp_PayDate": "2024-05-21"},
        {"vnp_TransactionNo": "abc"},
    ],
)
def test_parse_result_rejects_malformed_parameters(change: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        parse_result({**PUBLISHED_IPN, **change})


def test_ipn_answers_use_vnpays_codes_and_messages() -> None:
    assert ipn_answer(IpnCode.CONFIRMED) == {"RspCode": "00", "Message": "Confirm Success"}
    assert ipn_answer(IpnCode.INVALID_SIGNATURE) == {
        "RspCode": "97",
        "Message": "Invalid signature",
    }
    assert IpnCode("02") is IpnCode.ALREADY_CONFIRMED


def test_querydr_request_is_signed_over_pipe_joined_fields_in_vnpays_order() -> None:
    moment = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    body = query_request(
        CONFIG,
        txn_ref="HD-1",
        order_info="Truy vấn HD-1",
        transaction_date=moment,
        ip_addr="127.0.0.1",
        now=moment + timedelta(hours=1),
        request_id="abc123",
    )
    text = (
        "abc123|2.1.0|querydr|CSKHTEST|HD-1|20261126150000|20261126160000|127.0.0.1|Truy van HD-1"
    )
    expected = hmac.new(CONFIG.hash_secret.encode(), text.encode(), hashlib.sha512).hexdigest()
    assert body["vnp_SecureHash"] == expected
    assert set(body) == {*QUERY_REQUEST_FIELDS, "vnp_SecureHash"}


def _signed_answer(**fields: str) -> dict[str, str]:
    order = [
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
    ]
    text = "|".join(fields.get(name, "") for name in order)
    secure = hmac.new(CONFIG.hash_secret.encode(), text.encode(), hashlib.sha512).hexdigest()
    return {**fields, "vnp_SecureHash": secure}


def test_querydr_answer_is_read_when_signed_and_refused_when_not() -> None:
    answer = _signed_answer(
        vnp_ResponseId="r1",
        vnp_Command="querydr",
        vnp_ResponseCode="00",
        vnp_Message="QueryDR Success",
        vnp_TmnCode="CSKHTEST",
        vnp_TxnRef="HD-1",
        vnp_Amount="30523000",
        vnp_BankCode="NCB",
        vnp_PayDate="20261126150500",
        vnp_TransactionNo="14000001",
        vnp_TransactionType="01",
        vnp_TransactionStatus="00",
        vnp_OrderInfo="HD-1",
    )
    result = parse_query_response(CONFIG, "HD-1", answer)
    assert result.succeeded and result.amount == 305_230
    assert result.pay_date == datetime(2026, 11, 26, 8, 5, tzinfo=UTC)
    with pytest.raises(GatewayError) as caught:
        parse_query_response(CONFIG, "HD-1", {**answer, "vnp_TransactionStatus": "02"})
    assert CONFIG.hash_secret not in str(caught.value)
    with pytest.raises(GatewayError):
        parse_query_response(CONFIG, "HD-1", {**answer, "vnp_SecureHash": ""})
