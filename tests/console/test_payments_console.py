"""Payments in the console (issue 16): money held by reconciliation is listed for
supervisors and admins, who apply it to its order or note its refund; a request's fee
is set from its page and the customer can pay it in the chat."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select, update

from bot.core import fmt
from bot.payments.orders import create_order
from bot.payments.settle import Arrival
from bot.store.models import ChatUser, CustomerLink, SecurityEvent, ServiceRequest
from bot.store.payment_models import HeldPayment, PaymentEvent, PaymentOrder
from tests.console.staff import StaffClient
from tests.console.tables import tables
from tests.console.test_requests import submitted
from tests.handlers.payment_helpers import unpaid_totals
from tests.handlers.rig import Rig
from tests.handlers.test_services import stored

Staff = Callable[[str], Awaitable[StaffClient]]
HELD = "/console/payments/held"
AN_CODE = "PC05CC0123456"  # one unpaid bill in the demo data
BINH_CODE = "PC03BB0045678"  # two unpaid bills


async def order_for(rig: Rig, code: str) -> PaymentOrder:
    """A VietQR order for every unpaid bill of `code`, made by a chat that holds it."""
    backend = rig.runtime.engine.services.backend
    bills = await backend.unpaid_bills(code)
    assert bills
    async with rig.runtime.db.transaction() as session:
        user = ChatUser(channel="rest", platform_user_id=f"pay-{code}")
        user.links.append(CustomerLink(customer_code=code))
        session.add(user)
        await session.flush()
        return await create_order(
            session,
            backend,
            user=user,
            method="vietqr",
            now=rig.clock.now(),
            customer_code=code,
            bill_ids=[bill.id for bill in bills],
        )


async def arrive(rig: Rig, ref: str | None, amount: int, description: str) -> int | None:
    """A transfer read from the bank's statement (not strict): the held payment's id,
    if it was held."""
    settler = rig.runtime.engine.services.payments.settler
    arrival = Arrival(
        ref=ref,
        amount=amount,
        source="statement",
        gateway_ref=f"FT{abs(hash(description)) % 10**8}",
        actor="statement:test.csv",
        paid_at=rig.clock.now(),
        description=description,
    )
    async with rig.runtime.db.transaction() as session:
        return (await settler.arrive(session, arrival, strict=False)).held_id


async def held_row(rig: Rig, held_id: int) -> HeldPayment:
    async with rig.runtime.db.reading() as session:
        held = await session.get(HeldPayment, held_id)
    assert held is not None
    return held


async def ledger(rig: Rig) -> list[tuple[str, int | None, dict[str, object]]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(select(PaymentEvent).order_by(PaymentEvent.id))
        return [(row.event, row.order_id, row.detail) for row in rows]


async def audit(rig: Rig) -> list[tuple[str, str | None, str | None]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(select(SecurityEvent).where(SecurityEvent.actor.is_not(None)))
        return [(row.event, row.actor, row.subject) for row in rows]


def row_of(page: str, table: str, held_id: int) -> list[str]:
    return next(row for row in tables(page)[table] if row[0] == f"#{held_id}")


async def test_held_money_is_for_supervisors_and_admins(console_rig: Rig, staff: Staff) -> None:
    order = await order_for(console_rig, AN_CODE)
    held_id = await arrive(console_rig, order.ref, order.amount + 5000, "IBFT tien dien")
    assert held_id is not None
    for role in ("agent", "marketing", "operations"):
        client = await staff(role)
        status, page = await client.get(HELD)
        assert status == 403 and "không có quyền" in page, role
        assert f'href="{HELD}"' not in page, role  # nor in the navigation
        status, _ = await client.post(f"{HELD}/{held_id}/apply")
        assert status == 403, role
    for role in ("supervisor", "admin"):
        client = await staff(role)
        status, page = await client.get(HELD)
        assert status == 200 and f'href="{HELD}"' in page, role
        assert row_of(page, "held", held_id)
    assert (await held_row(console_rig, held_id)).status == "held"
    assert len(await unpaid_totals(console_rig.runtime, AN_CODE)) == 1


async def test_a_decision_without_the_csrf_token_is_refused(console_rig: Rig, staff: Staff) -> None:
    order = await order_for(console_rig, AN_CODE)
    held_id = await arrive(console_rig, order.ref, order.amount - 1000, "IBFT thieu")
    supervisor = await staff("supervisor")
    for path, data in [
        (f"{HELD}/{held_id}/apply", {}),
        (f"{HELD}/{held_id}/refund", {"note": "Đã chuyển trả"}),
        (f"{HELD}/{held_id}/apply", {"csrf": "forged"}),
    ]:
        status, page = await supervisor.post(path, data, with_csrf=False)
        assert status == 403 and "chống giả mạo" in page, path
    assert (await held_row(console_rig, held_id)).status == "held"


async def test_a_second_transfer_for_a_paid_bill_is_listed_and_its_refund_noted(
    console_rig: Rig, staff: Staff
) -> None:
    order = await order_for(console_rig, AN_CODE)
    assert await arrive(console_rig, order.ref, order.amount, "IBFT lan 1") is None  # paid
    hostile = f'IBFT {order.ref} <script>alert("x")</script><img src=x onerror=alert(1)>'
    held_id = await arrive(console_rig, order.ref, order.amount, hostile)
    assert held_id is not None
    supervisor = await staff("supervisor")

    status, page = await supervisor.get(HELD)
    assert status == 200
    row = row_of(page, "held", held_id)
    assert row[1] == f"{fmt.local(console_rig.clock.now()):%H:%M %d/%m/%Y}"
    assert row[2] == fmt.money(order.amount) and re.fullmatch(r"\d{1,3}(\.\d{3})* đ", row[2])
    assert row[3:5] == ["Sao kê", "Khoản đã được thanh toán trước đó"]
    assert order.ref in row[5] and f"Mã KH {AN_CODE}" in row[5] and "Tiền điện kỳ" in row[5]
    assert row[6].startswith(hostile)  # shown as the bank wrote it, as text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page
    assert row[7] == "Đang giữ"

    # Its order is paid: applying it would pay twice.
    status, page = await supervisor.post(f"{HELD}/{held_id}/apply")
    assert status == 409 and f"Các khoản của đơn {order.ref} đã được thanh toán trước đó" in page
    status, page = await supervisor.post(f"{HELD}/{held_id}/refund", {"note": "   "})
    assert status == 400 and "Ghi nhận hoàn tiền cần ghi chú" in page
    assert (await held_row(console_rig, held_id)).status == "held"

    note = "Đã chuyển trả qua Vietcombank ngày 08/12, mã FT26342999"
    status, page = await supervisor.post(f"{HELD}/{held_id}/refund", {"note": note})
    assert status == 200 and "Đã ghi nhận hoàn tiền." in page
    assert not any(r[0] == f"#{held_id}" for r in tables(page)["held"])
    done = row_of(page, "resolved", held_id)
    assert done[7].startswith("Đã ghi nhận hoàn tiền") and note in done[7]
    held = await held_row(console_rig, held_id)
    assert (held.status, held.note, held.resolved_by) == ("refund_noted", note, "staff:supervisor")
    assert ("refund_noted", order.id, {"held_id": held_id, "note": note}) in await ledger(
        console_rig
    )
    assert ("payment_resolved", "supervisor", f"#{held_id}") in await audit(console_rig)

    # Resolved once: neither a second refund nor an apply changes it.
    for path, data in [
        (f"{HELD}/{held_id}/refund", {"note": "lần nữa"}),
        (f"{HELD}/{held_id}/apply", {}),
    ]:
        status, page = await supervisor.post(path, data)
        assert status == 409 and f"Khoản #{held_id} đã được xử lý trước đó" in page, path
    assert (await held_row(console_rig, held_id)).note == note


async def test_applying_money_held_for_a_different_amount_pays_the_bills(
    console_rig: Rig, staff: Staff
) -> None:
    order = await order_for(console_rig, BINH_CODE)
    owed = await unpaid_totals(console_rig.runtime, BINH_CODE)
    assert len(owed) == 2 and sum(owed) == order.amount
    held_id = await arrive(console_rig, order.ref, order.amount - 2000, "IBFT thieu 2000")
    assert held_id is not None
    assert await unpaid_totals(console_rig.runtime, BINH_CODE) == owed  # nothing applied
    admin = await staff("admin")
    status, page = await admin.get(HELD)
    row = row_of(page, "held", held_id)
    assert row[4] == "Số tiền không khớp" and row[5].count("Tiền điện") == 2
    assert f'action="{HELD}/{held_id}/apply" data-confirm=' in page

    status, page = await admin.post(f"{HELD}/{held_id}/apply")
    assert status == 200 and "Đã áp dụng khoản tiền vào đơn" in page
    assert row_of(page, "resolved", held_id)[7].startswith("Đã áp dụng vào đơn")
    assert await unpaid_totals(console_rig.runtime, BINH_CODE) == []
    async with console_rig.runtime.db.reading() as session:
        paid = await session.get(PaymentOrder, order.id)
    assert paid is not None and paid.status == "paid"
    applied = [line for line in await ledger(console_rig) if line[0] == "applied"]
    assert applied == [("applied", order.id, {"held_id": held_id})]
    assert ("payment_resolved", "admin", f"#{held_id}") in await audit(console_rig)

    status, page = await admin.post(f"{HELD}/{held_id}/apply")
    assert status == 409 and "đã được xử lý trước đó" in page
    assert [line for line in await ledger(console_rig) if line[0] == "applied"] == applied


async def test_money_naming_no_order_can_only_be_refunded(console_rig: Rig, staff: Staff) -> None:
    held_id = await arrive(console_rig, None, 150000, "chuyen tien dien thang 11")
    assert held_id is not None
    supervisor = await staff("supervisor")
    status, page = await supervisor.get(HELD)
    row = row_of(page, "held", held_id)
    assert row[4:6] == ["Không tìm thấy đơn thanh toán", "Không có đơn"]
    assert f"{HELD}/{held_id}/apply" not in page  # no button to apply it
    status, page = await supervisor.post(f"{HELD}/{held_id}/apply")  # a forged one
    assert status == 409 and "không gắn với đơn thanh toán nào" in page
    status, page = await supervisor.post(f"{HELD}/999999/refund", {"note": "x"})
    assert status == 404 and "Không có khoản thanh toán giữ lại #999999" in page
    assert (await held_row(console_rig, held_id)).status == "held"


async def test_an_agent_sets_a_requests_fee_and_the_customer_can_pay_it(
    console_rig: Rig, staff: Staff
) -> None:
    driver, code = await submitted(console_rig, "rest", "fee-req", "svc_change_payment_method")
    agent = await staff("agent")
    status, page = await agent.get(f"/console/requests/{code}")
    assert status == 200 and "Phí dịch vụ" in page and 'name="fee"' not in page
    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "2500000"})
    assert status == 400 and "Chỉ đặt phí khi yêu cầu đã được duyệt" in page
    await agent.post(f"/console/requests/{code}/status", {"status": "in_progress"})
    await driver.receive_pushes()

    status, page = await agent.get(f"/console/requests/{code}")
    assert 'name="fee"' in page
    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "2,5 triệu"})
    assert status == 400 and "Nhập phí bằng đồng, ví dụ 2.500.000." in page
    assert 'value="2,5 triệu"' in page
    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "0"})
    assert status == 400 and "Phí phải từ 1 đ" in page
    assert (await stored(console_rig, code)).fee_amount is None

    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "2.500.000"})
    assert status == 200 and "Đã đặt phí dịch vụ và báo cho khách hàng" in page
    assert "2.500.000 đ" in page and "chưa thanh toán" in page
    assert (await stored(console_rig, code)).fee_amount == 2_500_000
    assert ("request_fee_set", "agent", code) in await audit(console_rig)
    await driver.receive_pushes()
    assert f"Yêu cầu {code}" in driver.text and "2.500.000 đ" in driver.text
    await driver.say("/pay")
    assert f"Phí {code}" in driver.button_titles, (driver.text, driver.button_titles)

    # Corrected while unpaid (the plain number is read too); once paid, it stays.
    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "2400000"})
    assert status == 200 and (await stored(console_rig, code)).fee_amount == 2_400_000
    async with console_rig.runtime.db.transaction() as session:
        await session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.code == code)
            .values(fee_paid_at=console_rig.clock.now())
        )
    status, page = await agent.get(f"/console/requests/{code}")
    shown = f"Đã thanh toán lúc {fmt.local(console_rig.clock.now()):%H:%M %d/%m/%Y}"
    assert shown in page and 'name="fee"' not in page
    status, page = await agent.post(f"/console/requests/{code}/fee", {"fee": "100000"})
    assert status == 400 and "Khách hàng đã thanh toán phí của yêu cầu này" in page
    assert (await stored(console_rig, code)).fee_amount == 2_400_000
