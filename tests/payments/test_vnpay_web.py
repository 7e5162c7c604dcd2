"""VNPay on our web server (IPN, return page) and the local sandbox that plays VNPay,
driven over HTTP as VNPay and a customer's browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.core.clock import FakeClock
from bot.payments import vnpay
from bot.payments import web as payments_web
from bot.payments.sandbox import API_PATH, PAY_PATH, VnpaySandbox
from bot.payments.vnpay import GatewayResult, VnpayConfig, sign
from bot.payments.web import OrderStatus, OrderView

SECRET = "SANDBOXSECRETSANDBOXSECRET123456"
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@dataclass
class FakeGateway:
    """Orders as the lead's gateway keeps them: applies a result once, counts calls."""

    orders: dict[str, OrderView] = field(default_factory=dict)
    results: list[GatewayResult] = field(default_factory=list)
    answer: str | None = None  # a forced answer
    fail: bool = False

    def add(self, txn_ref: str, amount: int = 305_230, status: OrderStatus = "pending") -> None:
        self.orders[txn_ref] = OrderView(
            txn_ref, amount, "Hóa đơn tiền điện tháng 11/2026", status, "PE01000123"
        )

    async def vnpay_result(self, result: GatewayResult) -> str:
        self.results.append(result)
        if self.fail:
            raise RuntimeError("database is down")
        if self.answer is not None:
            return self.answer
        order = self.orders.get(result.txn_ref)
        if order is None:
            return "01"
        if order.amount != result.amount:
            return "04"
        if order.status != "pending":
            return "02"
        status: OrderStatus = "paid" if result.succeeded else "failed"
        self.orders[result.txn_ref] = OrderView(
            order.txn_ref, order.amount, order.description, status, order.customer_code
        )
        return "00"

    async def order_view(self, txn_ref: str) -> OrderView | None:
        return self.orders.get(txn_ref)


def make_config(base_url: str = "http://127.0.0.1:1") -> VnpayConfig:
    return VnpayConfig(
        tmn_code="CSKHTEST",
        hash_secret=SECRET,
        pay_url=f"{base_url}{PAY_PATH}",
        api_url=f"{base_url}{API_PATH}",
    )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def merchant(gateway: FakeGateway) -> AsyncIterator[TestClient]:
    app = web.Application()
    payments_web.add_routes(app, gateway, make_config())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def result_params(txn_ref: str = "HD-1", amount: int = 305_230, code: str = "00") -> dict:
    params = {
        "vnp_Amount": str(amount * 100),
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14000001",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Thanh toan hoa don HD-1",
        "vnp_PayDate": "20261126150500",
        "vnp_ResponseCode": code,
        "vnp_TmnCode": "CSKHTEST",
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionStatus": "00" if code == "00" else "02",
        "vnp_TxnRef": txn_ref,
    }
    return {**params, "vnp_SecureHash": sign(params, SECRET)}


def as_url(path: str, params: dict) -> yarl.URL:
    # Encoded as VNPay encodes it (quote_plus), not re-quoted by the client.
    return yarl.URL(
        f"{path}?{vnpay.hash_data(params)}&vnp_SecureHash={params['vnp_SecureHash']}", encoded=True
    )


async def ipn(client: TestClient, params: dict) -> dict:
    response = await client.get(as_url(payments_web.IPN_PATH, params))
    assert response.status == 200
    return await response.json()


# --- IPN ---------------------------------------------------------------------------


async def test_a_signed_ipn_is_applied_once_and_confirmed(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    gateway.add("HD-1")
    assert await ipn(merchant, result_params()) == {"RspCode": "00", "Message": "Confirm Success"}
    assert len(gateway.results) == 1
    assert gateway.results[0].amount == 305_230 and gateway.results[0].succeeded
    # VNPay repeating the IPN: the gateway says it is settled, and that passes through.
    assert (await ipn(merchant, result_params()))["RspCode"] == "02"


@pytest.mark.parametrize(
    "tamper",
    [{"vnp_Amount": "100"}, {"vnp_TxnRef": "HD-2"}, {"vnp_SecureHash": "ab" * 64}],
)
async def test_a_tampered_ipn_is_refused_without_reaching_the_gateway(
    merchant: TestClient, gateway: FakeGateway, tamper: dict
) -> None:
    gateway.add("HD-1")
    answer = await ipn(merchant, {**result_params(), **tamper})
    assert answer == {"RspCode": "97", "Message": "Invalid signature"}
    assert gateway.results == []


async def test_an_ipn_without_any_parameter_is_an_invalid_signature(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    response = await merchant.get(payments_web.IPN_PATH)
    assert (await response.json())["RspCode"] == "97"
    assert gateway.results == []


async def test_a_signed_but_malformed_ipn_answers_99(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    params = result_params()
    del params["vnp_SecureHash"]
    params["vnp_Amount"] = "30523050"  # not whole đồng
    params["vnp_SecureHash"] = sign(params, SECRET)
    assert (await ipn(merchant, params))["RspCode"] == "99"
    assert gateway.results == []


async def test_a_repeated_parameter_is_not_trusted(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    params = result_params()
    url = yarl.URL(f"{as_url(payments_web.IPN_PATH, params)}&vnp_Amount=100", encoded=True)
    answer = await (await merchant.get(url)).json()
    assert answer["RspCode"] == "99"
    assert gateway.results == []


@pytest.mark.parametrize("code", ["01", "02", "04", "99"])
async def test_the_gateways_answer_passes_through(
    merchant: TestClient, gateway: FakeGateway, code: str
) -> None:
    gateway.answer = code
    assert (await ipn(merchant, result_params()))["RspCode"] == code


async def test_a_gateway_failure_answers_99_not_500(
    merchant: TestClient, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.fail = True
    assert (await ipn(merchant, result_params()))["RspCode"] == "99"
    gateway.fail, gateway.answer = False, "OK"  # not an IPN code
    assert (await ipn(merchant, result_params()))["RspCode"] == "99"
    assert SECRET not in caplog.text


# --- the return page ---------------------------------------------------------------


async def return_page(client: TestClient, params: dict) -> tuple[int, str]:
    response = await client.get(as_url(payments_web.RETURN_PATH, params))
    return response.status, await response.text()


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        ("paid", "Thanh toán thành công"),
        ("pending", "Đang chờ xác nhận từ ngân hàng"),
        ("failed", "Thanh toán không thành công"),
    ],
)
async def test_the_return_page_shows_the_order_as_recorded(
    merchant: TestClient, gateway: FakeGateway, status: OrderStatus, headline: str
) -> None:
    gateway.add("HD-1", status=status)
    code, html = await return_page(merchant, result_params())
    assert code == 200
    assert headline in html
    assert "305.230 đ" in html
    assert "Quý khách có thể quay lại cuộc trò chuyện." in html
    for other in {"Thanh toán thành công", "Thanh toán không thành công"} - {headline}:
        assert other not in html
    assert gateway.results == []  # the return page changes nothing


async def test_a_successful_return_does_not_say_paid_before_the_ipn(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    gateway.add("HD-1", status="pending")
    _, html = await return_page(merchant, result_params(code="00"))
    assert "Đang chờ xác nhận từ ngân hàng" in html
    assert "Thanh toán thành công" not in html


async def test_a_return_while_the_money_is_being_applied_waits_for_the_settlement(
    merchant: TestClient, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The IPN recorded the money ("received"); the settlement takes moments: the page
    shows the order paid once it is, and says the money arrived when it is not yet."""
    monkeypatch.setattr(payments_web, "RECEIVED_WAIT", 0.01)
    gateway.add("HD-1", status="received")
    views = 0
    view = gateway.order_view

    async def settled_on_the_third_look(txn_ref: str) -> OrderView | None:
        nonlocal views
        views += 1
        if views == 3:
            order = gateway.orders[txn_ref]
            gateway.orders[txn_ref] = OrderView(
                order.txn_ref, order.amount, order.description, "paid", order.customer_code
            )
        return await view(txn_ref)

    monkeypatch.setattr(gateway, "order_view", settled_on_the_third_look)
    _, html = await return_page(merchant, result_params(code="00"))
    assert "Thanh toán thành công" in html
    # Still being applied after the page's wait: the money is ours, the receipt follows.
    gateway.add("HD-2", status="received")
    views = -100
    _, html = await return_page(merchant, result_params(txn_ref="HD-2", code="00"))
    assert "Đã nhận thanh toán" in html
    assert "biên nhận sẽ được gửi trong cuộc trò chuyện" in html
    assert "Thanh toán thành công" not in html


async def test_a_tampered_return_shows_an_error(merchant: TestClient, gateway: FakeGateway) -> None:
    gateway.add("HD-1", status="paid")
    code, html = await return_page(merchant, {**result_params(code="24"), "vnp_ResponseCode": "00"})
    assert code == 400
    assert "Chữ ký không hợp lệ" in html
    assert "Thanh toán thành công" not in html


async def test_the_return_page_escapes_the_orders_text(
    merchant: TestClient, gateway: FakeGateway
) -> None:
    gateway.orders["HD-1"] = OrderView("HD-1", 1000, "<script>alert(1)</script>", "paid", "PE1")
    _, html = await return_page(merchant, result_params(amount=1000))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


# --- the sandbox -------------------------------------------------------------------


@dataclass
class Rig:
    """The merchant's server and the sandbox on two loopback servers."""

    gateway: FakeGateway
    merchant: TestClient
    browser: TestClient  # on the sandbox's server
    sandbox: VnpaySandbox
    config: VnpayConfig
    clock: FakeClock

    def pay_url(self, txn_ref: str = "HD-1", amount: int = 305_230) -> str:
        return vnpay.payment_url(
            self.config,
            txn_ref=txn_ref,
            amount=amount,
            order_info="Thanh toán hóa đơn tiền điện 11/2026",
            created=self.clock.now(),
            expires=self.clock.now() + timedelta(minutes=15),
            return_url=str(self.merchant.make_url(payments_web.RETURN_PATH)),
            ip_addr="127.0.0.1",
        )

    async def open(self, url: str) -> tuple[int, str]:
        split = urlsplit(url)
        response = await self.browser.get(yarl.URL(f"{split.path}?{split.query}", encoded=True))
        return response.status, await response.text()

    async def press(self, html: str, outcome: str, **extra: str) -> aiohttp.ClientResponse:
        token = re.search(r'name="token" value="([^"]+)"', html)
        assert token is not None
        form = {"token": token.group(1), "outcome": outcome, **extra}
        return await self.browser.post(PAY_PATH, data=form, allow_redirects=False)


@pytest.fixture
async def rig(gateway: FakeGateway, merchant: TestClient) -> AsyncIterator[Rig]:
    clock = FakeClock(START)
    ipn_url = str(merchant.make_url(payments_web.IPN_PATH))
    # The sandbox checks the terminal code and the secret; only the merchant's copy of
    # the config needs the sandbox's address, known once it listens.
    sandbox = VnpaySandbox(make_config(), ipn_url=ipn_url, clock=clock.now)
    app = web.Application()
    sandbox.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as browser:
        config = make_config(str(browser.make_url("")).rstrip("/"))
        yield Rig(gateway, merchant, browser, sandbox, config, clock)


async def test_sandbox_payment_reaches_the_ipn_signed_and_returns_the_browser(rig: Rig) -> None:
    rig.gateway.add("HD-1")
    status, html = await rig.open(rig.pay_url())
    assert status == 200
    assert "Cổng thanh toán thử nghiệm (sandbox)" in html
    assert "305.230 đ" in html and "CSKHTEST" in html
    assert "Thanh toan hoa don tien dien 11/2026" in html
    for button in ("Thanh toán", "Hủy giao dịch", "Thẻ bị từ chối"):
        assert f">{button}</button>" in html

    # The form cannot change what is paid.
    response = await rig.press(html, "pay", vnp_Amount="100", vnp_TxnRef="HD-9")
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith(str(rig.merchant.make_url(payments_web.RETURN_PATH)) + "?")

    # The IPN arrived (signed: the merchant checked it) before the browser came back.
    [result] = rig.gateway.results
    assert result.succeeded and result.amount == 305_230 and result.bank_code == "NCB"
    assert result.pay_date == START
    transaction = rig.sandbox.transactions["HD-1"]
    assert transaction.ipn_answer == "00"
    assert transaction.transaction_no == result.transaction_no

    returned = dict(parse_qsl(urlsplit(location).query))
    assert vnpay.verify(returned, SECRET)
    assert returned["vnp_TransactionNo"] == result.transaction_no
    split = urlsplit(location)
    page = await rig.merchant.get(yarl.URL(f"{split.path}?{split.query}", encoded=True))
    assert "Thanh toán thành công" in await page.text()


@pytest.mark.parametrize(("button", "code"), [("cancel", "24"), ("decline", "51")])
async def test_sandbox_cancel_and_decline_report_their_codes(
    rig: Rig, button: str, code: str
) -> None:
    rig.gateway.add("HD-1")
    _, html = await rig.open(rig.pay_url())
    response = await rig.press(html, button)
    assert response.status == 303
    [result] = rig.gateway.results
    assert result.response_code == code and not result.succeeded
    assert dict(parse_qsl(urlsplit(response.headers["Location"]).query))["vnp_ResponseCode"] == code
    assert rig.gateway.orders["HD-1"].status == "failed"


async def test_sandbox_a_second_post_of_the_same_form_does_nothing(rig: Rig) -> None:
    rig.gateway.add("HD-1")
    _, html = await rig.open(rig.pay_url())
    assert (await rig.press(html, "cancel")).status == 303
    again = await rig.press(html, "pay")
    assert again.status == 409
    assert len(rig.gateway.results) == 1
    assert rig.sandbox.transactions["HD-1"].response_code == "24"
    # Nor can the order be opened again.
    status, page = await rig.open(rig.pay_url())
    assert status == 400 and "Giao dịch đã tồn tại" in page


async def test_sandbox_refuses_a_tampered_payment_url(rig: Rig) -> None:
    url = rig.pay_url().replace("vnp_Amount=30523000", "vnp_Amount=100")
    status, html = await rig.open(url)
    assert status == 400 and "Sai chữ ký" in html
    assert 'name="token"' not in html


async def test_sandbox_refuses_another_merchants_code(rig: Rig) -> None:
    other = VnpayConfig("OTHERTMN", SECRET, rig.config.pay_url, rig.config.api_url)
    rig.config = other
    status, html = await rig.open(rig.pay_url())
    assert status == 400 and 'name="token"' not in html


async def test_sandbox_an_expired_order_pays_nothing(rig: Rig) -> None:
    rig.gateway.add("HD-1")
    url = rig.pay_url()
    _, html = await rig.open(url)
    rig.clock.advance(minutes=16)
    response = await rig.press(html, "pay")
    assert "Giao dịch đã quá thời gian chờ thanh toán" in await response.text()
    status, page = await rig.open(url)
    assert status == 400 and "Giao dịch đã quá thời gian chờ thanh toán" in page
    assert rig.gateway.results == [] and "HD-1" not in rig.sandbox.transactions


async def querydr(config: VnpayConfig, txn_ref: str) -> vnpay.QueryResult:
    """Ask the gateway about an order created at START, as reconciliation would."""
    async with aiohttp.ClientSession() as session:
        return await vnpay.query(
            config,
            session,
            txn_ref=txn_ref,
            order_info=f"Truy van {txn_ref}",
            transaction_date=START,
            ip_addr="127.0.0.1",
            now=START + timedelta(minutes=5),
        )


async def test_sandbox_querydr_finds_the_transaction_and_not_an_unknown_one(rig: Rig) -> None:
    rig.gateway.add("HD-1")
    _, html = await rig.open(rig.pay_url())
    await rig.press(html, "pay")
    found = await querydr(rig.config, "HD-1")
    unknown = await querydr(rig.config, "HD-404")
    assert found.succeeded and found.amount == 305_230
    assert found.transaction_no == rig.sandbox.transactions["HD-1"].transaction_no
    assert unknown.response_code == "91" and not unknown.found


async def test_querydr_with_the_wrong_secret_is_a_gateway_error(rig: Rig) -> None:
    wrong = VnpayConfig("CSKHTEST", "not-the-secret", rig.config.pay_url, rig.config.api_url)
    with pytest.raises(vnpay.GatewayError) as caught:
        await querydr(wrong, "HD-1")
    assert "not-the-secret" not in str(caught.value)


async def test_querydr_unreachable_is_a_gateway_error() -> None:
    with pytest.raises(vnpay.GatewayError):
        await querydr(make_config("http://127.0.0.1:9"), "HD-1")  # nothing listens on 9
