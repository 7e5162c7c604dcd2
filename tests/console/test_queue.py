"""The queue page: customers waiting for a person, oldest first, and replies to notices
answered from the console (what `cskh inbox` does)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.console.staff import StaffClient
from tests.drivers import TelegramDriver
from tests.handlers.rig import Rig
from tests.handlers.test_notices import send_notice
from tests.notify.test_inbox import OUTAGE, OUTAGE_HEADLINE, platform_message_id, reply_on_telegram

Staff = Callable[[str], Awaitable[StaffClient]]


async def test_waiting_customers_come_oldest_first_with_why(console_rig: Rig, staff: Staff) -> None:
    first = await console_rig.driver("rest", "truoc")
    await first.say("gap nhan vien")
    console_rig.clock.advance(minutes=3)
    second = await console_rig.driver("rest", "sau")
    for text in ("xyzzy qwerty", "blorp snarf", "frobnicate wibble"):
        await second.say(text)
    agent = await staff("agent")
    status, page = await agent.get("/console/queue")
    assert status == 200
    assert "Khách chờ nhân viên (2)" in page
    reasons = re.findall(r"Khách yêu cầu|Bot không hiểu 3 lần", page)
    assert reasons == ["Khách yêu cầu", "Bot không hiểu 3 lần"]


async def test_a_reply_to_a_notice_is_answered_from_the_queue(
    console_rig: Rig, staff: Staff
) -> None:
    tg = await console_rig.driver("telegram", "queue-tg")
    assert isinstance(tg, TelegramDriver)
    await tg.say("/start")
    sent = await send_notice(console_rig, tg, "outage", OUTAGE)
    message_id = await platform_message_id(console_rig, sent.delivery_ids[0])
    await reply_on_telegram(tg, message_id, text="Nhà tôi có người chạy máy thở")
    agent = await staff("agent")
    _, page = await agent.get("/console/queue")
    assert "Nhà tôi có người chạy máy thở" in page and OUTAGE_HEADLINE in page
    item = re.search(r"/console/queue/replies/(\d+)/answer", page)
    assert item is not None
    status, page = await agent.post(
        f"/console/queue/replies/{item.group(1)}/answer",
        {"text": "Điện lực đã ghi nhận, sẽ ưu tiên cấp điện lại cho nhà mình."},
    )
    assert status == 200 and "Đã gửi câu trả lời cho khách hàng." in page
    assert "Nhà tôi có người chạy máy thở" not in page  # answered: out of the queue
    await console_rig.telegram.wait_for(
        lambda: any("ưu tiên cấp điện lại" in t for t in console_rig.telegram.texts(tg.chat_id))
    )
    # An empty answer is refused with the reason; nothing is sent.
    status, page = await agent.post(f"/console/queue/replies/{item.group(1)}/answer", {"text": ""})
    assert status == 400
