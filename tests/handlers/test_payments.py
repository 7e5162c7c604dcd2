"""Thanh toán (issue 16): a customer pays in the chat through the sandbox VNPay gateway
(the real HTTP pages `cskh serve` plays it with) or by VietQR transfer matched from the
bank's statement; the money is counted once, the receipt comes as a notice, and money
that does not match is held for staff."""

from __future__ import annotations

import asyncio

import pytest
import zxingcpp
from PIL import Image

from bot.payments.statement_import import import_statement
from tests.handlers.payment_helpers import (
    all_paid,
    held,
    link_of,
    orders,
    pay_in_sandbox,
    pushed,
    statement,
    unpaid_totals,
)
from tests.handlers.rig import Rig, password_login

pytestmark = pytest.mark.full_rig

AN = ("annguyen", "An@2026cskh")
BINH = ("binhtran", "Binh@2026cskh")
DUC = ("ducho", "Duc@2026cskh")


async def logged_in(rig: Rig, who: tuple[str, str], name: str) -> object:
    driver = await password_login(rig, "rest", name, *who)
    if any(title.startswith("⭐") for title in driver.button_titles):
        await driver.press(driver.button_titles[0])  # the default code: the first one
    return driver


async def test_an_pays_her_overdue_bill_through_vnpay_and_gets_a_receipt(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-vnpay")
    before = await unpaid_totals(rig.runtime, "PC05CC0123456")
    assert len(before) == 1
    await an.say("thanh toan tien dien")
    # One bill: the amount and what it covers at once, then how to pay.
    assert an.text.startswith(f"Thanh toán {before[0]:,} đ cho mã PC05CC0123456:".replace(",", "."))
    assert "• Tiền điện kỳ 1 tháng 11/2026" in an.text
    assert an.button_titles[:2] == ["🏦 Chuyển khoản VietQR", "💳 Thẻ/ngân hàng (VNPay)"]
    assert "🔁 Mã khác" in an.button_titles
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    assert "Liên kết có hiệu lực 15 phút" in an.text
    url = link_of(an)
    assert f"vnp_Amount={before[0] * 100}&" in url

    status, page = await pay_in_sandbox(url)
    assert status == 200 and "Thanh toán thành công" in page
    assert await unpaid_totals(rig.runtime, "PC05CC0123456") == []
    await pushed(an)
    assert an.text.startswith("✅ Đã nhận thanh toán") and "qua VNPay" in an.text
    assert "cho mã PC05CC0123456" in an.text and "Mã giao dịch: TT" in an.text

    await an.say("/pay")
    assert an.text == "✅ Mã PC05CC0123456 không còn hóa đơn nào cần thanh toán."
    await an.press("🧾 Thông tin thanh toán")
    assert "Đã thanh toán" in an.text and "VNPay, trong khung chat" in an.text


async def test_binh_pays_all_her_debt_at_once(rig: Rig) -> None:
    binh = await logged_in(rig, BINH, "binh-all")
    owed = await unpaid_totals(rig.runtime, "PC03BB0045678")
    assert len(owed) == 2
    total = f"{sum(owed):,} đ".replace(",", ".")
    await binh.press("💳 Thanh toán") if "💳 Thanh toán" in binh.button_titles else await binh.say(
        "/pay"
    )
    assert binh.text.startswith("💳 Mã PC03BB0045678 còn 2 hóa đơn chưa thanh toán:")
    assert f"Tổng nợ: {total}." in binh.text
    await binh.press(f"💰 Tất cả: {total}")
    assert binh.text.startswith(f"Thanh toán {total} cho mã PC03BB0045678:")
    await binh.press("💳 Thẻ/ngân hàng (VNPay)")
    _, page = await pay_in_sandbox(link_of(binh))
    assert "Thanh toán thành công" in page
    assert await unpaid_totals(rig.runtime, "PC03BB0045678") == []
    await pushed(binh)
    assert binh.text.count("• Tiền điện") == 2


async def test_a_cancelled_payment_pays_nothing_and_offers_to_try_again(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-cancel")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    _, page = await pay_in_sandbox(link_of(an), "cancel")
    assert "không thành công" in page
    assert len(await unpaid_totals(rig.runtime, "PC05CC0123456")) == 1
    await pushed(an)
    assert "chưa thành công (Quý khách đã hủy giao dịch)" in an.text
    await an.press("💳 Thanh toán lại")
    assert an.text.startswith("Thanh toán")


async def test_duc_pays_by_vietqr_matched_from_the_bank_statement(rig: Rig) -> None:
    duc = await logged_in(rig, DUC, "duc-qr")
    await duc.say("chuyen khoan tien dien")
    # His default home owes nothing; the other one does, one tap away.
    assert duc.text.startswith("✅ Mã PQ02000012345 không còn hóa đơn nào cần thanh toán.")
    assert "Mã khác của Quý khách còn nợ:" in duc.text
    assert "• PQ02000012346: " in duc.text
    await duc.press("💳 PQ02000012346")
    assert duc.text.startswith("Thanh toán")
    amount = int(duc.text.split("Thanh toán ")[1].split(" đ")[0].replace(".", ""))
    await duc.press("🏦 Chuyển khoản VietQR")
    assert "Quét mã QR" in duc.text and "Vietcombank" in duc.text
    png = next(f for f in duc.files if f.kind == "image")
    decoded = zxingcpp.read_barcodes(Image.open(__import__("io").BytesIO(png.data)))
    payload = decoded[0].text
    assert f"54{len(str(amount)):02d}{amount}" in payload
    transfer = next(
        line for line in duc.text.splitlines() if line.startswith("TT") and len(line) <= 25
    )
    assert transfer in payload
    ref, code = transfer.split()
    # What a bank does to the text: upper-cased, spaces gone, its own prefix and suffix.
    text = statement(
        (
            "07/12/2026",
            amount,
            f"MBVCB.8812345.{ref.lower()}{code}.CT tu 0011001234567",
            "FT26341001",
        ),
        ("07/12/2026", 50000, "chuyen tien an trua", "FT26341002"),
        ("07/12/2026", "12a", "hong", "FT26341003"),
    )
    settler = rig.runtime.engine.services.payments.settler
    now = rig.clock.now()
    report = await import_statement(rig.runtime.db, settler, text, now=now, actor="test")
    assert (report.paid, report.unmatched, report.held) == (1, 1, 0)
    assert [line for line, _ in report.errors] == [4]
    again = await import_statement(rig.runtime.db, settler, text, now=now, actor="test")
    assert (again.paid, again.already_imported) == (0, 2)
    await pushed(duc)
    assert "qua chuyển khoản VietQR" in duc.text


async def test_a_transfer_after_a_vnpay_payment_of_the_same_bill_is_held(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-twice")
    await an.say("/pay")
    await an.press("🏦 Chuyển khoản VietQR")
    transfer = next(line for line in an.text.splitlines() if line.startswith("TT"))
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    await pay_in_sandbox(link_of(an))
    paid = [o for o in await orders(rig.runtime) if o.status == "paid"]
    amount = paid[0].amount
    text = statement(("08/12/2026", amount, f"IBFT {transfer}", "FT1"))
    settler = rig.runtime.engine.services.payments.settler
    report = await import_statement(rig.runtime.db, settler, text, now=rig.clock.now(), actor="t")
    assert (report.paid, report.held) == (0, 1)
    kept = await held(rig.runtime)
    assert [(h.reason, h.amount, h.status) for h in kept] == [("already_paid", amount, "held")]
    await pushed(an, "nhân viên sẽ kiểm tra")


async def test_a_code_not_held_cannot_be_paid_or_seen(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-forged")
    for payload in ("payments:PC03BB0045678", "pay:s:PC03BB0045678:a1", "pay:vnp:PC03BB0045678:b1"):
        await an.chat.send(button=payload)
        await an._update()
        assert "không thuộc tài khoản" in an.text, payload
        assert "PC03BB0045678" not in an.text or "Mã khách hàng này" in an.text
    # A bill id of another customer's, under An's own code: nothing to pay for it.
    bills = await unpaid_totals(rig.runtime, "PC03BB0045678")
    await an.chat.send(button="pay:vnp:PC05CC0123456:b1")
    await an._update()
    assert "vừa thay đổi" in an.text
    assert await orders(rig.runtime) == []
    assert await unpaid_totals(rig.runtime, "PC03BB0045678") == bills


async def test_twenty_identical_ipns_at_once_pay_the_bill_once(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-race")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    assert link_of(an)
    # The gateway's IPN for the order (signed with the merchant's secret), twenty copies
    # at once, as a gateway retrying over a slow network may send them.
    from bot.payments import vnpay

    order = (await orders(rig.runtime))[0]
    config = rig.runtime.engine.services.payments.vnpay_config
    params = {
        "vnp_Amount": str(order.amount * 100),
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": "x",
        "vnp_PayDate": "20261126150500",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": order.ref,
    }
    query = vnpay.signed_query(params, config.hash_secret)
    answers = await asyncio.gather(
        *(rig.server.get(f"/payments/vnpay/ipn?{query}") for _ in range(20))
    )
    codes = sorted(body["RspCode"] for _, body in answers)
    assert codes == ["00"] + ["02"] * 19
    from sqlalchemy import func, select

    from bot.store.payment_models import PaymentEvent

    await all_paid(rig.runtime, "PC05CC0123456")
    async with rig.runtime.db.reading() as session:
        paid_events = await session.scalar(
            select(func.count()).select_from(PaymentEvent).where(PaymentEvent.event == "paid")
        )
    assert paid_events == 1


async def ipn(rig: Rig, **changes: str) -> tuple[dict[str, str], str]:
    """A VNPay IPN for the newest order, signed with the merchant's secret, with
    `changes` applied before signing; (the parameters, the query string)."""
    from bot.payments import vnpay

    order = (await orders(rig.runtime))[-1]
    config = rig.runtime.engine.services.payments.vnpay_config
    params = {
        "vnp_Amount": str(order.amount * 100),
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": "x",
        "vnp_PayDate": "20261126150500",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TransactionNo": "14000002",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": order.ref,
        **changes,
    }
    return params, vnpay.signed_query(params, config.hash_secret)


async def test_a_tampered_or_wrong_ipn_changes_nothing_and_gets_its_code(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-tamper")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    order = (await orders(rig.runtime))[-1]
    _, good = await ipn(rig)
    # The amount changed after signing: the signature no longer holds.
    forged = good.replace(f"vnp_Amount={order.amount * 100}", f"vnp_Amount={100 * 100}")
    assert (await rig.server.get(f"/payments/vnpay/ipn?{forged}"))[1]["RspCode"] == "97"
    # Signed, but for another amount or an order we never made.
    _, cheaper = await ipn(rig, vnp_Amount=str((order.amount - 1000) * 100))
    assert (await rig.server.get(f"/payments/vnpay/ipn?{cheaper}"))[1]["RspCode"] == "04"
    _, unknown = await ipn(rig, vnp_TxnRef="TT00000000X")
    assert (await rig.server.get(f"/payments/vnpay/ipn?{unknown}"))[1]["RspCode"] == "01"
    assert (await orders(rig.runtime))[-1].status == "pending"
    assert len(await unpaid_totals(rig.runtime, "PC05CC0123456")) == 1
    # The real one pays; the same again is "already confirmed".
    assert (await rig.server.get(f"/payments/vnpay/ipn?{good}"))[1]["RspCode"] == "00"
    assert (await rig.server.get(f"/payments/vnpay/ipn?{good}"))[1]["RspCode"] == "02"
    await all_paid(rig.runtime, "PC05CC0123456")


async def test_a_payment_withdraws_the_reminders_still_waiting(rig: Rig) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from bot.notify import outbox
    from bot.store.models import Bill, ChatUser, Customer, Delivery

    an = await logged_in(rig, AN, "an-reminder")
    async with rig.runtime.db.transaction() as session:
        bill_id = await session.scalar(
            select(Bill.id)
            .join(Customer)
            .where(Customer.code == "PC05CC0123456", Bill.status == "unpaid")
        )
        user = await session.scalar(
            select(ChatUser).where(ChatUser.platform_user_id == "an-reminder")
        )
        notice = await outbox.notice_for(
            session, f"bill:{bill_id}:debt", kind="bill_debt", category="bill"
        )
        later = rig.clock.now() + timedelta(hours=12)  # waiting for the end of quiet hours
        from bot.core.messages import Reply

        await outbox.enqueue(
            session,
            notice,
            [outbox.Addressee(user, [Reply(text="⚠️ quá hạn")], "PC05CC0123456")],
            now=rig.clock.now(),
            not_before=later,
        )
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    await pay_in_sandbox(link_of(an))
    async with rig.runtime.db.reading() as session:
        row = await session.scalar(select(Delivery).where(Delivery.notice_id == notice.id))
    assert (row.status, row.error) == ("skipped", "bill paid")


async def test_an_approved_requests_fee_is_paid_in_the_chat(rig: Rig) -> None:
    from sqlalchemy import select

    from bot.payments.fees import set_fee
    from bot.store.models import ChatUser, ServiceRequest

    an = await logged_in(rig, AN, "an-fee")
    async with rig.runtime.db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an-fee"))
        session.add(
            ServiceRequest(
                code="YC-2026-009001",
                chat_user_id=user.id,
                customer_code=None,
                type="svc_new_household",
                status="in_progress",
                created_at=rig.clock.now(),
                updated_at=rig.clock.now(),
            )
        )
    services = rig.runtime.engine.services
    told = await set_fee(
        rig.runtime.db,
        rig.runtime.pusher,
        rig.runtime.texts,
        services.clock,
        "YC-2026-009001",
        2_500_000,
        actor="staff:test",
    )
    assert told
    assert "phí cần thanh toán là 2.500.000 đ" in await pushed(an, "YC-2026-009001")
    await an.press("💳 Thanh toán phí")
    assert "Phí YC-2026-009001" in an.button_titles
    await an.press("Phí YC-2026-009001")
    assert an.text.startswith("Thanh toán 2.500.000 đ:")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    _, page = await pay_in_sandbox(link_of(an))
    assert "Thanh toán thành công" in page
    assert "• Phí dịch vụ, yêu cầu YC-2026-009001" in await pushed(an, "Đã nhận thanh toán")
    async with rig.runtime.db.reading() as session:
        request = await session.scalar(
            select(ServiceRequest).where(ServiceRequest.code == "YC-2026-009001")
        )
    assert request.fee_paid_at is not None
    await an.say("/pay")
    assert "Phí YC-2026-009001" not in an.button_titles


async def test_paying_in_english(rig: Rig) -> None:
    an = await logged_in(rig, AN, "an-english")
    await an.say("English please")
    await an.say("I want to pay my bill")
    assert an.text.startswith("Pay 320,652 VND for customer code PC05CC0123456:"), an.text
    assert an.button_titles[:2] == ["🏦 VietQR bank transfer", "💳 Card or bank (VNPay)"]
    await an.press("🏦 VietQR bank transfer")
    assert "Scan the QR code with any banking app to transfer 320,652 VND." in an.text


async def test_an_ipn_after_the_link_expired_still_pays_an_open_bill(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """The money was taken: a late IPN pays the bill when it is still open (the link's
    15 minutes only stop a new payment page), and no secret reaches a log line."""
    caplog.set_level("DEBUG")
    an = await logged_in(rig, AN, "an-late")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    rig.clock.advance(minutes=20)
    _, query = await ipn(rig)
    assert (await rig.server.get(f"/payments/vnpay/ipn?{query}"))[1]["RspCode"] == "00"
    await all_paid(rig.runtime, "PC05CC0123456")
    secret = rig.runtime.settings.vnpay_hash_secret.get_secret_value()
    assert secret not in caplog.text
    assert "paid: 320652 đ by vnpay" in caplog.text  # the ledger's amount, logged


async def test_typing_instead_of_tapping_pays_the_same_way(rig: Rig) -> None:
    """ "tat ca" names the "💰 Tất cả" button, "vnpay" the VNPay one: a few words that name
    only one button on screen press it."""
    binh = await logged_in(rig, BINH, "binh-typed")
    await binh.say("thanh toan")
    await binh.say("tat ca")
    assert binh.text.startswith("Thanh toán ") and binh.text.count("• Tiền điện") == 2
    await binh.say("vnpay")
    assert "Liên kết có hiệu lực 15 phút" in binh.text


async def test_binh_ticks_two_of_three_bills_and_pays_those(rig: Rig) -> None:
    from sqlalchemy import select, update

    from bot.store.models import Bill, Customer

    async with rig.runtime.db.transaction() as session:  # a third bill owed, an older one
        oldest_paid = await session.scalar(
            select(Bill.id)
            .join(Customer)
            .where(Customer.code == "PC03BB0045678", Bill.status == "paid")
            .order_by(Bill.period_end.desc())
        )
        await session.execute(
            update(Bill).where(Bill.id == oldest_paid).values(status="unpaid", paid_at=None)
        )
    owed = await unpaid_totals(rig.runtime, "PC03BB0045678")
    assert len(owed) == 3
    binh = await logged_in(rig, BINH, "binh-several")
    await binh.say("/pay")
    await binh.press("☑️ Chọn nhiều kỳ")
    ticks = [t for t in binh.button_titles if t.startswith("⬜")]
    assert len(ticks) == 3
    await binh.press(ticks[0])
    await binh.press(ticks[1].replace("⬜", "⬜"))
    chosen = f"{owed[0] + owed[1]:,} đ".replace(",", ".")
    assert "▶ Tiếp tục (2 kỳ)" in binh.button_titles
    await binh.press("▶ Tiếp tục (2 kỳ)")
    assert binh.text.startswith(f"Thanh toán {chosen} cho mã PC03BB0045678:")
    assert binh.text.count("• Tiền điện") == 2
    await binh.press("💳 Thẻ/ngân hàng (VNPay)")
    await pay_in_sandbox(link_of(binh))
    assert await unpaid_totals(rig.runtime, "PC03BB0045678") == [owed[2]]


async def test_the_receipt_reaches_a_payer_who_switched_bill_notices_off(rig: Rig) -> None:
    """Filed under Tiền điện in Thông báo, and sent even with bill notices off: it is
    the answer to the customer's own payment."""
    an = await logged_in(rig, AN, "an-optout")
    await an.say("/settings")
    await an.press("🔔 Nhận thông báo")
    await an.press(next(t for t in an.button_titles if "Tiền điện" in t or "tiền điện" in t))
    assert "tiền điện tắt" in an.text
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    await pay_in_sandbox(link_of(an))
    assert "qua VNPay" in await pushed(an, "Đã nhận thanh toán")
    await an.say("/notices")
    await an.press(next(t for t in an.button_titles if "Tiền điện" in t))
    assert "Đã nhận thanh toán 320.652 đ" in an.button_titles[0]  # the newest first
