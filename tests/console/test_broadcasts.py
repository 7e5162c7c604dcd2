"""Marketing broadcasts in the console: marketing composes with a live recipient count and
a preview as customers will see it, sends now or at a time, and follows the progress
(pause, resume); the messages reach the segment's customers on Telegram, the web chat and
REST; bad input is refused in Vietnamese with the form kept; other roles are refused."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.notify.limits import RateLimiter
from bot.notify.worker import DeliveryWorker, WorkerOptions
from bot.store.models import Campaign, ChatUser, RestMessage, SecurityEvent
from tests.console.staff import StaffClient
from tests.drivers import TelegramDriver, WebDriver
from tests.handlers.rig import Rig, password_login
from tests.helpers import eventually

Staff = Callable[[str], Awaitable[StaffClient]]

AN, DUNG = ("annguyen", "An@2026cskh"), ("dungpham", "Dung@2026cskh")  # Đà Nẵng, Gia Lai
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TEXT = "Tuần lễ tri ân khách hàng: giảm 5% tiền điện tháng 12 khi thanh toán qua ứng dụng."
FETCH = {"X-Requested-With": "fetch"}


def form(**fields: Any) -> dict[str, Any]:
    """The compose form as the page posts it: send now to everybody unless told."""
    return {"text": TEXT, "when": "now", **fields}


async def fetch_json(client: StaffClient, path: str, data: dict[str, Any]) -> tuple[int, Any]:
    """What broadcasts.js does: a POST with the CSRF header, answered with JSON."""
    status, body = await client.post(
        path, data, with_csrf=False, headers={**FETCH, "X-CSRF-Token": client.csrf}
    )
    return status, json.loads(body)


async def send(client: StaffClient, data: dict[str, Any]) -> int:
    """Send a broadcast; the id of the campaign whose progress page it lands on."""
    status, page = await client.post("/console/broadcasts", data)
    assert status == 200, page
    assert client.last is not None
    found = re.fullmatch(r"/console/broadcasts/(\d+)", client.last.url.path)
    assert found, client.last.url
    return int(found.group(1))


async def status_of(client: StaffClient, campaign_id: int) -> dict[str, Any]:
    status, body = await client.get(f"/console/broadcasts/{campaign_id}/status", **FETCH)
    assert status == 200, body
    return dict(json.loads(body))


async def rest_pushes(rig: Rig, user: str) -> list[dict[str, Any]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(
            select(RestMessage)
            .join(ChatUser, ChatUser.id == RestMessage.chat_user_id)
            .where(ChatUser.channel == "rest", ChatUser.platform_user_id == user)
            .order_by(RestMessage.id)
        )
        return [row.message for row in rows]


async def staff_events(rig: Rig) -> list[tuple[str, str | None, str | None]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(select(SecurityEvent).where(SecurityEvent.actor.is_not(None)))
        return [(row.event, row.actor, row.subject) for row in rows]


async def campaign_count(rig: Rig) -> int:
    async with rig.runtime.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Campaign)) or 0)


def own_worker(rig: Rig) -> DeliveryWorker:
    """The bot's own worker stands aside: the test sends one row at a time."""
    runtime = rig.runtime
    runtime.worker.options = replace(runtime.worker.options, channels=frozenset())
    return DeliveryWorker(
        runtime.db, runtime.pusher.channels, RateLimiter({}), rig.clock, WorkerOptions(batch=1)
    )


async def test_marketing_counts_previews_and_sends_a_broadcast_to_the_segment(
    console_rig: Rig, staff: Staff
) -> None:
    telegram = await password_login(console_rig, "telegram", "an-bc", *AN)
    web = await password_login(console_rig, "web", "an-bc-web", *AN)
    await password_login(console_rig, "rest", "an-bc-rest", *AN)
    await password_login(console_rig, "rest", "dung-bc-rest", *DUNG)
    assert isinstance(telegram, TelegramDriver) and isinstance(web, WebDriver)
    marketing = await staff("marketing")

    status, page = await marketing.get("/console/broadcasts/new")
    assert status == 200 and "Soạn thông báo quảng bá" in page
    assert 'data-receiving="4"' in page  # everybody activated: An's three chats and Dung's
    # The segment builder's live count: An's chats are in Đà Nẵng, Dung's in Gia Lai.
    status, counted = await fetch_json(
        marketing, "/console/broadcasts/count", form(province="da nang")
    )
    assert status == 200
    assert (counted["matching"], counted["receiving"], counted["at_cap"]) == (3, 3, 0)
    assert "Thành phố Đà Nẵng: 3 khách trong nhóm" in counted["html"]
    assert "mỗi khách nhận tối đa 2 tin quảng bá trong 7 ngày" in counted["html"]
    assert "từ 21:00 đến 07:00 không gửi tin quảng bá" in counted["html"]
    _, counted = await fetch_json(
        marketing, "/console/broadcasts/count", form(province="48", ward="hoi an", channel="web")
    )
    assert counted["receiving"] == 1
    _, counted = await fetch_json(marketing, "/console/broadcasts/count", form(province="gia lai"))
    assert counted["receiving"] == 1

    # The preview: the text, the picture and the buttons every recipient gets.
    status, shown = await fetch_json(
        marketing,
        "/console/broadcasts/preview",
        {**form(province="da nang"), "image": ("poster.png", PNG, "image/png")},
    )
    assert status == 200
    preview = shown["html"]
    assert "Telegram" in preview and "Web chat" in preview
    assert preview.count(TEXT) == 2  # once on each
    assert preview.count("data:image/png;base64,") == 2
    assert preview.count("🔕 Tắt loại thông báo này") == 2 and preview.count("💬 Phản hồi") == 2

    campaign_id = await send(
        marketing, {**form(province="da nang"), "image": ("poster.png", PNG, "image/png")}
    )
    assert marketing.last is not None
    page = await marketing.last.text()
    assert "Đã bắt đầu gửi thông báo." in page and "Thành phố Đà Nẵng" in page

    async def done() -> dict[str, Any] | None:
        await console_rig.runtime.worker.run_once()
        shown = await status_of(marketing, campaign_id)
        return shown if shown["state"] == "done" else None

    final = await eventually(done, message=lambda: status_of(marketing, campaign_id))
    assert {k: final[k] for k in ("total", "sent", "failed", "unreachable", "skipped")} == {
        "total": 3,
        "sent": 3,
        "failed": 0,
        "unreachable": 0,
        "skipped": 0,
    }
    assert final["finished"] == 3 and final["label"] == "Đã gửi xong"

    [photo] = [
        c for c in console_rig.telegram.sent(chat_id=telegram.chat_id) if c.method == "sendPhoto"
    ]
    assert photo.fields["caption"] == TEXT
    keyboard = photo.fields["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in keyboard for b in row] == [
        "🔕 Tắt loại thông báo này",
        "💬 Phản hồi",
    ]
    await web._collect()  # the push arrives on the open page
    assert web.text == TEXT and web.files and web.files[0].data == PNG
    [rest] = await rest_pushes(console_rig, "an-bc-rest")
    assert rest["text"] == TEXT and rest["image"]
    assert await rest_pushes(console_rig, "dung-bc-rest") == []  # Gia Lai is not in it
    await web.close()

    async with console_rig.runtime.db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.created_by == "marketing"
    events = await staff_events(console_rig)
    for event in ("broadcast_created", "broadcast_started"):
        assert (event, "marketing", f"campaign {campaign_id}") in events
    status, listing = await marketing.get("/console/broadcasts")
    assert status == 200 and f'href="/console/broadcasts/{campaign_id}"' in listing
    assert "Đã gửi xong" in listing
    url = f"{marketing.base_url}/console/broadcasts/{campaign_id}/image"
    async with marketing.session.get(url) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert await response.read() == PNG


async def test_pause_holds_the_rest_and_resume_sends_it(console_rig: Rig, staff: Staff) -> None:
    await password_login(console_rig, "rest", "an-pause", *AN)
    await password_login(console_rig, "rest", "dung-pause", *DUNG)
    worker = own_worker(console_rig)
    marketing = await staff("marketing")
    campaign_id = await send(marketing, form())
    assert await worker.run_once() == 1  # one of two sent

    status, page = await marketing.post(f"/console/broadcasts/{campaign_id}/pause", {})
    assert status == 200 and "Đã tạm dừng" in page
    shown = await status_of(marketing, campaign_id)
    assert (shown["state"], shown["label"], shown["sent"], shown["held"]) == (
        "paused",
        "Tạm dừng",
        1,
        1,
    )
    assert await worker.run_once() == 0  # held: nothing goes

    status, page = await marketing.post(f"/console/broadcasts/{campaign_id}/resume", {})
    assert status == 200 and "Đã tiếp tục gửi." in page
    assert (await status_of(marketing, campaign_id))["queued"] == 1
    assert await worker.run_once() == 1
    shown = await status_of(marketing, campaign_id)
    assert (shown["state"], shown["sent"], shown["total"]) == ("done", 2, 2)
    assert len(await rest_pushes(console_rig, "an-pause")) == 1
    assert len(await rest_pushes(console_rig, "dung-pause")) == 1

    # Nothing is left to pause once it is done.
    status, page = await marketing.post(f"/console/broadcasts/{campaign_id}/pause", {})
    assert status == 409 and "đã gửi xong" in page
    events = await staff_events(console_rig)
    assert ("broadcast_paused", "marketing", f"campaign {campaign_id}") in events
    assert [e for e in events if e[0] == "broadcast_started"] == [
        ("broadcast_started", "marketing", f"campaign {campaign_id}")
    ] * 2  # the start, and the resume


async def test_a_scheduled_broadcast_waits_for_its_time_and_quiet_hours_are_shown(
    console_rig: Rig, staff: Staff
) -> None:
    await password_login(console_rig, "rest", "an-later", *AN)
    worker = own_worker(console_rig)
    marketing = await staff("marketing")
    # The clock says 15:00 on 26/11/2026 in Vietnam; 22:30 is in the quiet hours.
    _, counted = await fetch_json(
        marketing,
        "/console/broadcasts/count",
        form(when="later", send_at="2026-11-26T22:30"),
    )
    assert "nằm trong giờ yên tĩnh: tin sẽ bắt đầu đi lúc 07:00 27/11/2026" in counted["html"]

    campaign_id = await send(marketing, form(when="later", send_at="2026-11-26T15:20"))
    assert marketing.last is not None
    assert "Đã lên lịch gửi thông báo." in await marketing.last.text()
    shown = await status_of(marketing, campaign_id)
    assert shown["label"] == "Đã lên lịch 15:20 26/11/2026" and shown["queued"] == 1
    assert await worker.run_once() == 0  # 15:20 has not come
    console_rig.clock.advance(minutes=25)  # (less than the console's idle time)
    assert await worker.run_once() == 1
    assert (await status_of(marketing, campaign_id))["state"] == "done"


async def test_the_weekly_cap_is_counted_before_sending(console_rig: Rig, staff: Staff) -> None:
    await password_login(console_rig, "rest", "an-cap", *AN)
    await password_login(console_rig, "rest", "dung-cap", *DUNG)
    own_worker(console_rig)  # rows stay queued: they count for the cap all the same
    marketing = await staff("marketing")
    for _ in range(2):  # CSKH_MARKETING_PER_WEEK=2 for Đà Nẵng this week
        await send(marketing, form(province="da nang"))

    _, counted = await fetch_json(marketing, "/console/broadcasts/count", form())
    assert (counted["matching"], counted["at_cap"], counted["receiving"]) == (2, 1, 1)
    assert "1 khách trong nhóm này đã đủ 2 tin quanh thời điểm gửi" in counted["html"]
    third = await send(marketing, form())
    shown = await status_of(marketing, third)
    assert (shown["queued"], shown["skipped"]) == (1, 1)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (form(text="   "), "Nội dung thông báo đang trống."),
        (form(text="đ" * 3501), "Nội dung dài 3.501 ký tự; tối đa 3.500 ký tự"),
        (
            form(text="đ" * 1025, image=("poster.png", PNG, "image/png")),
            "Khi có ảnh, nội dung là chú thích của ảnh: Telegram nhận tối đa 1.024 ký tự",
        ),
        (form(province="Atlantis"), "Không tìm thấy tỉnh/thành phố “Atlantis”."),
        (
            form(province="Đà Nẵng", ward="Pleiku"),
            "Không tìm thấy phường/xã “Pleiku” ở Thành phố Đà Nẵng.",
        ),
        (
            form(image=("poster.png", b"%PDF-1.7 not a picture", "image/png")),
            "Tệp đã chọn không phải ảnh JPEG, PNG, GIF hoặc WebP.",
        ),
        (form(when="later", send_at="2026-11-26T14:00"), "Thời điểm gửi đã qua."),
        (form(when="later", send_at=""), "Hãy chọn ngày giờ gửi"),
        (form(when="later", send_at="2028-11-26T08:00"), "trong vòng 365 ngày tới"),
        (form(tariff="farm"), "Nhóm giá “farm” không có trong danh sách."),
    ],
)
async def test_bad_input_is_refused_in_vietnamese_and_the_form_keeps_what_was_typed(
    console_rig: Rig, staff: Staff, typed: dict[str, Any], message: str
) -> None:
    marketing = await staff("marketing")
    status, page = await marketing.post("/console/broadcasts", typed)
    assert status == 400
    assert message in page
    text = str(typed["text"]).strip()
    assert f">{text}</textarea>" in page
    for name in ("province", "ward", "send_at"):
        if typed.get(name):
            assert f'value="{typed[name]}"' in page
    if "image" in typed:
        assert "hãy chọn lại ảnh trước khi gửi" in page
    assert await campaign_count(console_rig) == 0


async def test_an_unknown_place_in_the_live_count_is_explained(staff: Staff) -> None:
    marketing = await staff("marketing")
    status, counted = await fetch_json(
        marketing, "/console/broadcasts/count", form(province="Atlantis")
    )
    assert status == 400 and counted["error"].startswith("Không tìm thấy tỉnh/thành phố")
    assert "Không tìm thấy tỉnh/thành phố" in counted["html"]


async def test_an_agent_cannot_open_or_send_broadcasts(console_rig: Rig, staff: Staff) -> None:
    agent = await staff("agent")
    for path in ("/console/broadcasts", "/console/broadcasts/new"):
        status, page = await agent.get(path)
        assert status == 403 and "không có quyền" in page
    status, _ = await agent.post("/console/broadcasts", form())
    assert status == 403
    status, _ = await agent.post("/console/broadcasts/count", form(), headers=FETCH)
    assert status == 403
    assert await campaign_count(console_rig) == 0


async def test_a_script_in_the_text_stays_text_in_the_preview(staff: Staff) -> None:
    marketing = await staff("marketing")
    script = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
    _, shown = await fetch_json(marketing, "/console/broadcasts/preview", form(text=script))
    status, page = await marketing.post("/console/broadcasts/preview", form(text=script))
    assert status == 200
    for html in (shown["html"], page):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    campaign_id = await send(marketing, form(text=script))
    _, progress = await marketing.get(f"/console/broadcasts/{campaign_id}")
    assert "<script>alert" not in progress and "&lt;script&gt;" in progress
