"""The console's outage page: operations staff preview who an outage reaches and what it
says, publish it, move the expected end and mark the power back; customers on Telegram
receive each notice; bad input is explained in Vietnamese and keeps what was typed."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from bot.store.models import Outage, SecurityEvent
from tests.console.staff import StaffClient
from tests.drivers import Driver
from tests.handlers.rig import Rig, password_login

Staff = Callable[[str], Awaitable[StaffClient]]

# An incident in Nguyễn Văn An's ward (both his codes are in phường Hội An, Đà Nẵng);
# the rig's clock reads 15:00 on 26/11/2026 in Vietnam.
INCIDENT = {
    "kind": "incident",
    "target": "area",
    "province": "da nang",
    "ward": "Hoi An",
    "start": "2026-11-26T14:30",
    "end": "2026-11-26T18:00",
    "reason": "Sự cố máy biến áp",
}


async def an_on(rig: Rig, channel: str, name: str) -> Driver:
    """Nguyễn Văn An, logged in on `channel` (his chat is linked to his two codes)."""
    return await password_login(rig, channel, name, "annguyen", "An@2026cskh")


def chats_per_channel(page: str) -> dict[str, int]:
    table = page.split('class="list outage-chats"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr(?: class=\"total\")?><td>([^<]+)</td><td>([\d.]+)</td></tr>", table)
    return {name: int(count.replace(".", "")) for name, count in rows}


def notice_text(page: str) -> str:
    found = re.search(r'<blockquote class="notice-text">(.*?)</blockquote>', page, re.S)
    assert found, page[-3000:]
    return html.unescape(found.group(1))


def error_of(page: str) -> str:
    found = re.search(r'<div class="alert error" role="alert">(.*?)</div>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


async def received(rig: Rig, customer: Driver, start: str) -> str:
    """The Telegram message `customer` received that starts with `start`."""
    chat_id = int(customer.platform_user_id)

    def found() -> list[str]:
        return [text for text in rig.telegram.texts(chat_id) if text.startswith(start)]

    await rig.telegram.wait_for(lambda: bool(found()))
    return found()[-1]


async def test_operations_previews_publishes_updates_and_restores_an_incident(
    console_rig: Rig, staff: Staff
) -> None:
    an = await an_on(console_rig, "telegram", "an")
    await an_on(console_rig, "rest", "an-rest")
    ops = await staff("operations")

    status, page = await ops.get("/console/outages/new?kind=incident")
    assert status == 200 and 'name="start" value="2026-11-26T15:00"' in page  # began now
    status, page = await ops.post("/console/outages/preview", INCIDENT)

    assert status == 200, error_of(page)
    assert chats_per_channel(page) == {"Telegram": 1, "Web chat": 0, "REST": 1, "Tổng": 2}
    assert "Mã khách hàng có kênh nhận thông báo</dt><dd>2</dd>" in page
    shown = notice_text(page)
    assert shown.startswith(
        "⚡ Sự cố mất điện khu vực phường Hội An từ 14:30 ngày 26/11/2026. Nguyên nhân: "
        "Sự cố máy biến áp. Dự kiến có điện lại lúc 18:00 ngày 26/11/2026."
    )
    async with console_rig.runtime.db.reading() as session:
        assert (
            list(await session.scalars(select(Outage.id).where(Outage.created_by.is_not(None))))
            == []
        )

    status, page = await ops.post("/console/outages", INCIDENT)
    assert status == 200 and ops.last is not None
    outage_id = int(ops.last.url.path.rsplit("/", 1)[1])
    assert "Đã đăng lịch" in page and "Thông báo sự cố" in page
    assert await received(console_rig, an, "⚡ Sự cố mất điện") == shown
    await ops.post("/console/outages", INCIDENT)  # the button pressed twice
    assert ops.last.url.path == f"/console/outages/{outage_id}"
    status, page = await ops.get("/console/outages?status=ongoing&kind=incident")
    assert f'href="/console/outages/{outage_id}"' in page and "Đang mất điện" in page

    status, page = await ops.post(
        f"/console/outages/{outage_id}/update", {"end": "2026-11-26T20:00"}
    )
    assert status == 200 and "Đã cập nhật giờ dự kiến có điện lại" in page, error_of(page)
    assert await received(console_rig, an, "⚡ Cập nhật") == (
        "⚡ Cập nhật lịch ngừng cung cấp điện khu vực phường Hội An: dự kiến có điện lại lúc "
        "20:00 ngày 26/11/2026. Điện lực Hội An xin lỗi Quý khách vì sự bất tiện."
    )

    console_rig.clock.advance(minutes=10)
    status, page = await ops.post(
        f"/console/outages/{outage_id}/restored", {"at": "2026-11-26T15:10"}
    )
    assert status == 200 and "Đã ghi nhận có điện lại" in page, error_of(page)
    assert await received(console_rig, an, "✅ Điện đã có lại") == (
        "✅ Điện đã có lại tại khu vực phường Hội An từ 15:10 ngày 26/11/2026. "
        "Điện lực Hội An cảm ơn Quý khách đã thông cảm."
    )
    incident_notices = [
        text
        for text in console_rig.telegram.texts(int(an.platform_user_id))
        if text.startswith("⚡ Sự cố")
    ]
    assert incident_notices == [shown]
    status, page = await ops.get("/console/outages?status=recent")
    assert f'href="/console/outages/{outage_id}"' in page and "Đã có điện lại" in page
    async with console_rig.runtime.db.reading() as session:
        outage = await session.get(Outage, outage_id)
        assert outage is not None and outage.created_by == "operations"
        assert outage.status == "restored" and outage.restored_at is not None
        events = await session.execute(
            select(SecurityEvent.event, SecurityEvent.actor).where(
                SecurityEvent.subject == f"outage:{outage_id}"
            )
        )
        assert events.all() == [
            ("outage_published", "operations"),
            ("outage_updated", "operations"),
            ("outage_restored", "operations"),
        ]
    # Once the power is back the outage is closed to changes.
    status, page = await ops.post(
        f"/console/outages/{outage_id}/update", {"end": "2026-11-26T21:00"}
    )
    assert status == 400 and "đã được ghi nhận có điện lại lúc 15:10 26/11/2026" in error_of(page)


async def test_an_outage_of_listed_customer_codes_reaches_only_their_chats(
    console_rig: Rig, staff: Staff
) -> None:
    an = await an_on(console_rig, "telegram", "an")
    ops = await staff("operations")
    listed = {
        **INCIDENT,
        "target": "codes",
        "province": "",
        "ward": "",
        "codes": "pc05cc0123457",
    }

    status, page = await ops.post("/console/outages/preview", listed)
    assert status == 200, error_of(page)
    assert "Khách hàng trong danh sách</dt><dd>1</dd>" in page
    assert chats_per_channel(page)["Telegram"] == 1
    status, page = await ops.post("/console/outages", listed)
    assert status == 200 and "PC05CC0123457" in page
    notice = await received(console_rig, an, "⚡ Sự cố mất điện")
    assert notice.startswith("⚡ Sự cố mất điện khu vực phường Hội An từ 14:30")


async def test_bad_input_is_explained_and_the_form_keeps_what_was_typed(staff: Staff) -> None:
    ops = await staff("operations")
    planned = {
        **INCIDENT,
        "kind": "planned",
        "start": "2026-12-02T07:00",
        "end": "2026-12-02T15:30",
    }
    for changes, message in [
        ({"province": "Atlantis"}, "Không tìm thấy tỉnh/thành phố “Atlantis”."),
        ({"ward": "Pleiku"}, "Không tìm thấy phường/xã “Pleiku” thuộc Thành phố Đà Nẵng."),
        ({"end": "2026-12-02T06:00"}, "phải sau thời gian bắt đầu"),
        ({"end": ""}, "Vui lòng nhập thời gian bắt đầu và thời gian dự kiến có điện lại"),
        ({"reason": "   "}, "Vui lòng nhập lý do ngừng cấp điện"),
        ({"start": "2026-11-26T09:00"}, "Lịch theo kế hoạch phải bắt đầu sau bây giờ"),
        (
            {"target": "codes", "codes": "PC05CC0123456, PC05CC9999999"},
            "Không có khách hàng nào mang mã: PC05CC9999999.",
        ),
    ]:
        typed = {**planned, **changes}
        for path in ("/console/outages/preview", "/console/outages"):
            status, page = await ops.post(path, typed)
            assert status == 400 and message in error_of(page), (changes, error_of(page))
            for name in ("province", "ward", "start", "reason"):
                if typed[name].strip():
                    assert f'name="{name}" value="{html.escape(typed[name])}"' in page, name

    status, page = await ops.post("/console/outages", {**INCIDENT, "end": "2026-11-26T19:00"})
    outage_id = int(ops.last.url.path.rsplit("/", 1)[1]) if ops.last else 0
    for path, typed, message in [
        ("update", {"end": "2026-11-26T14:00"}, "phải sau giờ bắt đầu (14:30 26/11/2026)"),
        ("update", {"end": "2026-11-26T19:00"}, "vẫn là 19:00 26/11/2026"),
        ("restored", {"at": "2026-11-26T16:00"}, "không thể sau bây giờ (15:00 26/11/2026)"),
        ("restored", {"at": ""}, "Vui lòng nhập thời điểm có điện lại"),
    ]:
        status, page = await ops.post(f"/console/outages/{outage_id}/{path}", typed)
        assert status == 400 and message in error_of(page), (typed, error_of(page))
        field, value = next(iter(typed.items()))
        if value:
            assert f'name="{field}" value="{value}"' in page
    status, _ = await ops.get("/console/outages/999999")
    assert status == 404


async def test_an_agent_cannot_open_or_publish_outages(staff: Staff) -> None:
    agent = await staff("agent")
    for path in ("/console/outages", "/console/outages/new", "/console/outages/1"):
        status, page = await agent.get(path)
        assert status == 403 and "không có quyền" in page
    for path in ("/console/outages/preview", "/console/outages", "/console/outages/1/restored"):
        status, _ = await agent.post(path, INCIDENT)
        assert status == 403
