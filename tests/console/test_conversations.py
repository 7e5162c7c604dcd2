"""Conversations in the console: the live list and its filters, a transcript as the
customer saw it, taking over (once), replying on the customer's channel, resolving."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from bot.billing import explain as bill_explain
from bot.billing.explain_staff import lines as explanation_lines
from bot.core import fmt
from bot.store.models import ChatUser, Conversation, CustomerLink
from bot.store.staff_models import Handoff, StaffNote
from tests.console.staff import StaffClient
from tests.handlers.rig import AN_CODES, Rig
from tests.helpers import eventually

Staff = Callable[[str], Awaitable[StaffClient]]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def _conversation_id(rig: Rig, platform_user_id: str) -> int:
    async with rig.runtime.db.reading() as session:
        conversation_id = await session.scalar(
            select(Conversation.id)
            .join(ChatUser, ChatUser.id == Conversation.chat_user_id)
            .where(ChatUser.platform_user_id == platform_user_id)
        )
    assert conversation_id is not None
    return conversation_id


async def test_the_list_shows_what_customers_say_and_filters_it(
    console_rig: Rig, staff: Staff
) -> None:
    telegram = await console_rig.driver("telegram", "lan")
    await telegram.say("gap nhan vien")
    rest = await console_rig.driver("rest", "binh")
    await rest.say("hóa đơn tháng này bao nhiêu")
    agent = await staff("agent")
    status, page = await agent.get("/console/conversations")
    assert status == 200
    waiting = '<span class="mode">Chờ nhân viên</span>'
    assert waiting in page and "hóa đơn tháng này bao nhiêu" in page
    _, page = await agent.get("/console/conversations?mode=waiting")
    assert waiting in page and "hóa đơn tháng này" not in page
    _, page = await agent.get("/console/conversations?channel=rest")
    assert "hóa đơn tháng này" in page and waiting not in page
    _, page = await agent.get("/console/conversations?q=bao+nhi%C3%AAu")
    assert "hóa đơn tháng này" in page
    _, page = await agent.get("/console/conversations?phone=12345")
    assert "không phải số điện thoại Việt Nam" in page


async def test_a_customers_markup_is_shown_as_text_never_run(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("rest", XSS)
    await chat.say(XSS)
    agent = await staff("agent")
    _, page = await agent.get("/console/conversations")
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert" in page
    conversation_id = await _conversation_id(console_rig, XSS)
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    assert "<script>alert" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_a_new_message_is_announced_on_the_event_stream(
    console_rig: Rig, staff: Staff
) -> None:
    agent = await staff("agent")
    chat = await console_rig.driver("rest", "minh")
    await chat.say("xin chào")
    conversation_id = await _conversation_id(console_rig, "minh")
    async with agent.session.get(agent.base_url + "/console/events") as stream:
        await stream.content.readline()  # retry:
        await chat.say("cho tôi hỏi về hóa đơn")
        events = []
        while not any(e.get("id") == conversation_id for e in events):
            line = await asyncio.wait_for(stream.content.readline(), 5)
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    status, live = await agent.get(f"/console/conversations/{conversation_id}/live")
    assert status == 200 and "cho tôi hỏi về hóa đơn" in json.loads(live)["transcript"]


async def test_two_agents_taking_over_at_once_exactly_one_gets_it(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("telegram", "hai")
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, str(chat.chat_id))  # type: ignore[attr-defined]
    agent, supervisor = await staff("agent"), await staff("supervisor")
    await agent.get(f"/console/conversations/{conversation_id}")
    await supervisor.get(f"/console/conversations/{conversation_id}")
    results = await asyncio.gather(
        agent.post(f"/console/conversations/{conversation_id}/take"),
        supervisor.post(f"/console/conversations/{conversation_id}/take"),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    loser_page = next(page for status, page in results if status == 409)
    assert re.search(r"Không tiếp nhận được: (Trần Thị Bích|Lê Văn Cường) đang hỗ trợ", loser_page)
    async with console_rig.runtime.db.reading() as session:
        handoffs = list(await session.scalars(select(Handoff)))
    assert len(handoffs) == 1 and handoffs[0].taken_at is not None
    # The customer is told a person is there.
    await console_rig.telegram.wait_for(
        lambda: any("đang hỗ trợ Quý khách" in t for t in console_rig.telegram.texts(chat.chat_id))  # type: ignore[attr-defined]
    )


async def test_an_agents_reply_reaches_the_customer_and_a_note_does_not(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("telegram", "thao")
    chat_id = chat.chat_id  # type: ignore[attr-defined]
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, str(chat_id))
    agent = await staff("agent")
    # Replying before taking over is refused with a reason.
    status, page = await agent.post(
        f"/console/conversations/{conversation_id}/reply", {"text": "Chào chị"}
    )
    assert status == 409 and "Hãy tiếp nhận hội thoại trước" in page
    await agent.post(f"/console/conversations/{conversation_id}/take")
    await agent.post(
        f"/console/conversations/{conversation_id}/note", {"text": "Khách hỏi lần 2, ưu tiên"}
    )
    status, page = await agent.post(
        f"/console/conversations/{conversation_id}/reply",
        {"text": "Chào chị Thảo, em kiểm tra hóa đơn ngay ạ."},
    )
    assert status == 200
    tg = console_rig.telegram
    await tg.wait_for(lambda: "Chào chị Thảo, em kiểm tra hóa đơn ngay ạ." in tg.texts(chat_id))
    assert not any("ưu tiên" in text for text in tg.texts(chat_id))
    # A photo goes as a photo.
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
        b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    await agent.post(
        f"/console/conversations/{conversation_id}/reply",
        {"text": "Ảnh hướng dẫn", "file": ("huong-dan.png", png, "image/png")},
    )
    await tg.wait_for(lambda: bool(tg.sent("sendPhoto", chat_id=chat_id)))
    # An HTML file is refused.
    status, page = await agent.post(
        f"/console/conversations/{conversation_id}/reply",
        {"file": ("x.html", b"<html><script>alert(1)</script></html>", "text/html")},
    )
    assert status == 400 and "Chỉ gửi được ảnh" in page
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    assert "Khách hỏi lần 2, ưu tiên" in page and "Chào chị Thảo" in page
    async with console_rig.runtime.db.reading() as session:
        assert await session.scalar(select(StaffNote.text)) == "Khách hỏi lần 2, ưu tiên"


async def test_a_reply_to_a_customer_who_blocked_the_bot_shows_undeliverable(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("telegram", "chan")
    chat_id = chat.chat_id  # type: ignore[attr-defined]
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, str(chat_id))
    agent = await staff("agent")
    await agent.post(f"/console/conversations/{conversation_id}/take")
    console_rig.telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=5)
    await agent.post(
        f"/console/conversations/{conversation_id}/reply", {"text": "Chị còn đó không ạ?"}
    )

    async def undeliverable() -> bool:
        _, page = await agent.get(f"/console/conversations/{conversation_id}")
        return "Chị còn đó không ạ?" in page and "⚠ Không gửi được" in page

    await eventually(undeliverable)
    # Later replies are refused at once with the reason, not shown as sent.
    status, page = await agent.post(
        f"/console/conversations/{conversation_id}/reply", {"text": "Em gọi lại chị nhé"}
    )
    assert status == 409 and "Không gửi được: khách hàng không còn nhận tin" in page


async def test_resolving_asks_the_customer_to_rate_and_the_rating_is_kept(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("rest", "vy")
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, "vy")
    agent = await staff("agent")
    await agent.post(f"/console/conversations/{conversation_id}/take")
    status, page = await agent.post(f"/console/conversations/{conversation_id}/resolve")
    assert status == 200 and "Đã xong" in page

    async def asked() -> bool:
        await chat.receive_pushes()  # type: ignore[attr-defined]
        return any("hài lòng" in (t or "") for t in [chat.text])

    await eventually(asked)
    await chat.press("⭐⭐⭐⭐⭐")
    assert chat.text.startswith("Cảm ơn Quý khách đã đánh giá 5/5.")
    async with console_rig.runtime.db.reading() as session:
        rated = await session.scalar(select(Handoff))
    assert rated is not None and rated.csat == 5 and rated.resolved_at is not None


async def test_canned_replies_fill_in_the_customers_name_and_code(
    console_rig: Rig, staff: Staff
) -> None:
    supervisor = await staff("supervisor")
    await supervisor.post(
        "/console/canned",
        {"title": "Chào hỏi", "text": "Chào {name}, mã khách hàng {customer_code} ạ."},
    )
    chat = await console_rig.driver("rest", "canned")
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, "canned")
    agent = await staff("agent")
    await agent.post(f"/console/conversations/{conversation_id}/take")
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    assert "Chào hỏi" in page and "Chào Quý khách, mã khách hàng" in page
    # A customer with a linked code: the panel shows the contract and its unpaid bills,
    # and the canned reply names them.
    async with console_rig.runtime.db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "canned"))
        assert user is not None
        session.add(CustomerLink(chat_user_id=user.id, customer_code=AN_CODES[0]))
    customer = await console_rig.runtime.engine.services.backend.customer(AN_CODES[0])
    unpaid = await console_rig.runtime.engine.services.backend.unpaid_bills(AN_CODES[0])
    assert customer is not None and unpaid  # the demo's An owes the last bill
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    assert f"Chào {customer.name}, mã khách hàng {AN_CODES[0]} ạ." in page
    assert customer.full_address in page
    for bill in unpaid:
        assert fmt.money(bill.total) in page
    # Agents use canned replies; only supervisors change them.
    status, _ = await agent.post("/console/canned", {"title": "x", "text": "y"})
    assert status == 403


async def test_the_side_panel_explains_the_latest_bill_as_the_command_does(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("rest", "why-so-high")
    await chat.say("gap nhan vien")
    conversation_id = await _conversation_id(console_rig, "why-so-high")
    agent = await staff("agent")
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    assert "Vì sao tăng/giảm" not in page  # no code linked: nothing to explain
    async with console_rig.runtime.db.transaction() as session:
        user = await session.scalar(
            select(ChatUser).where(ChatUser.platform_user_id == "why-so-high")
        )
        assert user is not None
        session.add(CustomerLink(chat_user_id=user.id, customer_code=AN_CODES[0]))
    services = console_rig.runtime.engine.services
    customer = await services.backend.customer(AN_CODES[0])
    assert customer is not None
    bills = await services.backend.bills(AN_CODES[0], limit=bill_explain.BILLS_NEEDED)
    explanation = bill_explain.explain(customer, bills, services.tariffs)
    assert explanation is not None
    expected = explanation_lines(explanation)  # what `cskh bills explain` prints
    _, page = await agent.get(f"/console/conversations/{conversation_id}")
    panel = page.split('<details class="explain" open>', 1)[1].split("</details>", 1)[0]
    shown = html.unescape(panel.split("<pre>", 1)[1].split("</pre>", 1)[0])
    assert shown.split("\n") == expected
    assert shown.startswith(f"{AN_CODES[0]} — {customer.name}, kỳ 1 tháng 11/2026")
    assert "So với kỳ trước (kỳ 1 tháng 10/2026" in shown
    assert "Gợi ý kiểm tra công tơ: không" in shown
