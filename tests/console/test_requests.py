"""The service-request queue of the console: a customer's form reaches the queue, the
agent filters, opens, assigns it and moves it on, and the customer hears of it on their
channel; overdue requests, missing documents, and what staff type wrong."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import event, select

from bot.store import requests as store
from bot.store.models import ChatUser, ManagingUnit, SecurityEvent, ServiceRequest
from tests.channels.test_webchat import PNG
from tests.console.staff import StaffClient
from tests.drivers import Driver, RestDriver, TelegramDriver
from tests.handlers.rig import Rig
from tests.handlers.test_services import complete, logged_in, stored

Staff = Callable[[str], Awaitable[StaffClient]]
CODE = re.compile(r"YC-2026-\d{6}")


async def submitted(rig: Rig, channel: str, name: str, form_id: str) -> tuple[Driver, str]:
    """A customer who logs in on `channel` and sends the form `form_id`; its code."""
    driver = await logged_in(rig, channel, name)
    match = CODE.search(await complete(driver, form_id))
    assert match, driver.text
    return driver, match.group(0)


def codes_in(page: str) -> list[str]:
    """The request codes the queue lists, in its order."""
    return re.findall(
        r'<tr class="request-row[^"]*" data-href="/console/requests/(YC-[\d-]+)"', page
    )


async def audit(rig: Rig) -> list[tuple[str, str | None, str | None]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(select(SecurityEvent).where(SecurityEvent.actor.is_not(None)))
        return [(row.event, row.actor, row.subject) for row in rows]


async def test_an_agent_finds_assigns_and_moves_on_a_customers_request(
    console_rig: Rig, staff: Staff
) -> None:
    driver, code = await submitted(console_rig, "telegram", "req-quota", "svc_change_quota")
    assert isinstance(driver, TelegramDriver)
    request = await stored(console_rig, code)
    unit = request.customer_code[:6] if request.customer_code else ""
    async with console_rig.runtime.db.reading() as session:
        units = {u.code: u.province_code for u in await session.scalars(select(ManagingUnit))}
    other_unit = next(code for code in units if code != unit)
    other_province = next(p for p in units.values() if p != units[unit])
    agent = await staff("agent")

    status, page = await agent.get("/console/requests")
    assert status == 200 and codes_in(page) == [code]
    assert request.data["title"] in page
    for query, listed in [
        ("service=svc_change_quota", True),
        ("service=svc_check_meter", False),
        ("status=received", True),
        ("status=done", False),
        (f"unit={unit}", True),
        (f"unit={other_unit}", False),
        (f"province={units[unit]}", True),
        (f"province={other_province}", False),
        ("assignee=unassigned", True),
        ("assignee=mine", False),
        (f"q={code}", True),
        (f"q={request.customer_code}", True),
    ]:
        status, page = await agent.get(f"/console/requests?{query}")
        assert status == 200 and (codes_in(page) == [code]) is listed, query

    status, page = await agent.get(f"/console/requests/{code}")
    assert status == 200
    assert request.data["title"] in page and "Đã tiếp nhận" in page
    for name, label in request.data["labels"].items():
        assert label in page, name
    media = request.attachments[0]["media"]
    assert f'src="/console/media/{media}"' in page
    assert re.search(r'href="/console/conversations/\d+"', page)

    status, page = await agent.post(f"/console/requests/{code}/assign", {"to": "me"})
    assert status == 200 and "Đã giao yêu cầu." in page
    status, page = await agent.get("/console/requests?assignee=mine")
    assert codes_in(page) == [code]
    status, page = await agent.post(f"/console/requests/{code}/assign", {"to": "supervisor"})
    status, page = await agent.get("/console/requests?assignee=supervisor")
    assert codes_in(page) == [code]

    note = "Điện lực sẽ khảo sát tại nhà ngày 30/11."
    status, page = await agent.post(
        f"/console/requests/{code}/status", {"status": "in_progress", "note": note}
    )
    assert status == 200 and "Đã đổi trạng thái và báo cho khách hàng." in page
    assert "Đang xử lý" in page and note in page
    await console_rig.telegram.wait_for(
        lambda: any(note in text for text in console_rig.telegram.texts(driver.chat_id))
    )
    told = [t for t in console_rig.telegram.texts(driver.chat_id) if note in t]
    assert told[-1].startswith(f"📋 Yêu cầu {code}") and "Đang xử lý" in told[-1]
    request = await stored(console_rig, code)
    assert request.status == "in_progress" and request.assigned_to == "supervisor"
    assert (request.events[-1].actor, request.events[-1].note) == ("staff:agent", note)
    events = await audit(console_rig)
    assert ("request_assigned", "agent", code) in events
    assert ("request_status", "agent", code) in events


async def test_a_request_past_its_promised_date_is_marked_overdue(
    console_rig: Rig, staff: Staff
) -> None:
    _, code = await submitted(console_rig, "rest", "req-late", "svc_change_payment_method")
    # Thursday 26/11/2026 + 3 working days: the customer was promised Tuesday 01/12/2026.
    assert (await stored(console_rig, code)).due_on == date(2026, 12, 1)
    async with console_rig.runtime.db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "req-late"))
        assert user is not None
        older = await store.create_request(  # filed before requests had a promised date
            session,
            chat_user_id=user.id,
            form_id="complaint",
            customer_code=None,
            data={"title": "Kiến nghị"},
            attachments=[],
            urgent=False,
            now=console_rig.clock.now(),
        )
        older_code = older.code
    agent = await staff("agent")
    status, page = await agent.get("/console/requests?overdue=1")
    assert status == 200 and codes_in(page) == []
    status, page = await agent.get(f"/console/requests/{code}")
    assert "01/12/2026" in page and "Quá hạn" not in page

    console_rig.clock.advance(days=5)  # Tuesday 01/12 15:00 in Vietnam: still in time
    agent = await staff("agent")  # the session ended while the clock ran
    status, page = await agent.get("/console/requests?overdue=1")
    assert codes_in(page) == []
    console_rig.clock.advance(days=1)  # Wednesday 02/12
    agent = await staff("agent")
    status, page = await agent.get("/console/requests?overdue=1")
    assert codes_in(page) == [code]
    status, page = await agent.get("/console/requests")
    assert codes_in(page) == [code, older_code]
    row = re.search(rf'<tr class="([^"]*)" data-href="/console/requests/{code}"', page)
    assert row and "overdue" in row.group(1)
    status, page = await agent.get(f"/console/requests/{code}")
    assert "Quá hạn" in page
    status, page = await agent.get(f"/console/requests/{older_code}")
    assert "Quá hạn" not in page and re.search(r"Hạn hẹn khách</span>\s*—", page)

    # Finished is not overdue, and leaves the queue of open requests; its code finds it.
    await agent.post(f"/console/requests/{code}/status", {"status": "done"})
    status, page = await agent.get("/console/requests?overdue=1")
    assert codes_in(page) == []
    status, page = await agent.get("/console/requests")
    assert codes_in(page) == [older_code]
    status, page = await agent.get(f"/console/requests?q={code.lower()}")
    assert codes_in(page) == [code]


async def test_a_missing_document_asked_for_comes_back_on_the_request_page(
    console_rig: Rig, staff: Staff
) -> None:
    driver, code = await submitted(console_rig, "rest", "req-docs", "svc_change_quota")
    assert isinstance(driver, RestDriver)
    before = len((await stored(console_rig, code)).attachments)
    agent = await staff("agent")
    missing = "Thiếu ảnh sổ hộ khẩu có đủ số người đăng ký định mức."
    status, page = await agent.post(
        f"/console/requests/{code}/status", {"status": "needs_info", "note": missing}
    )
    assert status == 200 and "Chờ bổ sung" in page

    await driver.receive_pushes()
    assert driver.text.startswith(f"📎 Yêu cầu {code}") and missing in driver.text
    await driver.press("📎 Gửi bổ sung")
    await driver.send_photo(PNG)
    assert driver.text.startswith(f"✅ Đã nhận phần bổ sung cho yêu cầu {code}.")
    await driver.press("✅ Xong")

    request = await stored(console_rig, code)
    assert len(request.attachments) == before + 1
    added = request.attachments[-1]["media"]
    status, page = await agent.get(f"/console/requests/{code}")
    assert f'src="/console/media/{added}"' in page and "Khách hàng gửi bổ sung" in page
    async with agent.session.get(f"{agent.base_url}/console/media/{added}") as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert await response.read() == PNG  # the photo at full size


async def test_staff_mistakes_get_a_message_and_keep_what_was_typed(
    console_rig: Rig, staff: Staff
) -> None:
    _, code = await submitted(console_rig, "rest", "req-wrong", "svc_change_payment_method")
    agent = await staff("agent")

    status, page = await agent.get("/console/requests/YC-2026-999999")
    assert status == 404 and "Không có yêu cầu dịch vụ YC-2026-999999" in page
    status, page = await agent.post("/console/requests/YC-2026-999999/status", {"status": "done"})
    assert status == 404 and "Không có yêu cầu dịch vụ YC-2026-999999" in page

    typed = "Khách hàng đã đổi ý <b>không</b> cần nữa"
    status, page = await agent.post(
        f"/console/requests/{code}/status", {"status": "finished", "note": typed}
    )
    assert status == 400 and "Hãy chọn một trạng thái trong danh sách." in page
    assert "Khách hàng đã đổi ý &lt;b&gt;không&lt;/b&gt; cần nữa</textarea>" in page

    status, page = await agent.post(f"/console/requests/{code}/status", {"status": "rejected"})
    assert status == 400 and "Từ chối cần ghi lý do" in page
    assert '<option value="rejected" selected>' in page
    status, page = await agent.post(
        f"/console/requests/{code}/status", {"status": "needs_info", "note": "  "}
    )
    assert status == 400 and "Hãy ghi rõ khách hàng cần bổ sung giấy tờ gì" in page
    status, page = await agent.post(f"/console/requests/{code}/status", {"status": "received"})
    assert status == 400 and "Yêu cầu đang ở trạng thái “Đã tiếp nhận”." in page
    status, page = await agent.post(
        f"/console/requests/{code}/status", {"status": "done", "note": "x" * 1001}
    )
    assert status == 400 and "Ghi chú tối đa 1000 ký tự." in page

    status, page = await agent.post(f"/console/requests/{code}/assign", {"to": "marketing"})
    assert status == 400 and "Hãy chọn một nhân viên trong danh sách." in page
    status, page = await agent.get("/console/requests?status=xong&service=svc_reconnect")
    assert status == 400 and "Không có trạng thái “xong”." in page
    assert '<option value="svc_reconnect" selected>' in page
    status, page = await agent.get("/console/requests?q=abc")
    assert status == 400 and 'value="ABC"' in page

    request = await stored(console_rig, code)
    assert request.status == "received" and request.assigned_to is None
    assert len(request.events) == 1


async def test_what_a_customer_wrote_stays_text_on_the_staff_pages(
    console_rig: Rig, staff: Staff
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with console_rig.runtime.db.transaction() as session:
        user = ChatUser(channel="rest", platform_user_id="req-hostile", display_name=hostile)
        session.add(user)
        await session.flush()
        request = await store.create_request(
            session,
            chat_user_id=user.id,
            form_id="complaint",
            customer_code=None,
            data={
                "answers": {"content": hostile},
                "display": {"content": hostile},
                "labels": {"content": "Nội dung kiến nghị"},
                "title": "Kiến nghị",
            },
            attachments=[],
            urgent=False,
            now=console_rig.clock.now(),
        )
        store.add_customer_reply(request, text=hostile, media_ids=[], now=console_rig.clock.now())
        code = request.code
    agent = await staff("agent")
    for path in ("/console/requests", f"/console/requests/{code}"):
        status, page = await agent.get(path)
        assert status == 200 and code in page
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page
    assert page.count("&lt;script&gt;alert(") >= 3  # the answer, the reply, the name


async def test_the_queue_shows_a_hundred_urgent_first_in_one_query(
    console_rig: Rig, staff: Staff
) -> None:
    async with console_rig.runtime.db.transaction() as session:
        user = ChatUser(channel="rest", platform_user_id="req-many")
        session.add(user)
        await session.flush()
        for n in range(120):
            session.add(
                ServiceRequest(
                    code=f"YC-2025-{n:06d}",
                    chat_user_id=user.id,
                    customer_code="PC05CC0123456",
                    type="complaint",
                    data={"title": "Kiến nghị"},
                    attachments=[],
                    status="received",
                    urgent=n % 10 == 0,
                    created_at=console_rig.clock.now(),
                    updated_at=console_rig.clock.now(),
                )
            )
    agent = await staff("agent")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "service_request" in statement:
            statements.append(statement)

    db = console_rig.runtime.db
    engines = {id(e): e.sync_engine for e in (db.engine, db.read_engine)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        status, page = await agent.get("/console/requests")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements  # no query per row (nor their histories)
    listed = codes_in(page)
    assert status == 200 and len(listed) == 100 and "100 yêu cầu đầu tiên" in page
    assert listed[:12] == [f"YC-2025-{n:06d}" for n in range(0, 120, 10)]  # urgent first
    status, page = await agent.get("/console/requests?age=newest&urgent=only")
    assert codes_in(page) == [f"YC-2025-{n:06d}" for n in range(110, -1, -10)]
