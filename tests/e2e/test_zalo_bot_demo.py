"""Issue 17's "Done when" on the Zalo Bot: Phạm Thị Dung (a demo persona) talks to the
bot through a fake Zalo Bot API on loopback, `cskh serve`'s web app running with its
delivery worker. Zalo has no buttons, so she types the numbers of the options.

She activates with her username and password, looks up her bills (the chart comes by
sendPhoto, from a signed link of the bot that Zalo fetches), asks to change the quota
of her meter with a photo of the residence confirmation (typing "2" households, which
is the answer, not an option), receives a notice of an outage of her meter through the
outbox and the delivery worker, and asks for a person, whose reply reaches her chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.zalo_bot import WEBHOOK_PATH, ZaloBotApi
from bot.core.messages import Reply
from bot.notify.outages import create_outage
from bot.store.models import ChatUser, Conversation, ServiceRequest
from bot.store.staff_models import StaffAccount
from bot.support import handoff
from tests.channels.test_webchat import PNG
from tests.fakes.zalo_bot_api import TOKEN, FakeZaloBot, ZaloChat
from tests.handlers.rig import Rig, make_rig
from tests.helpers import eventually

SECRET = "zalo-Webhook_s3cret"
DUNG_CHAT = "9a1b2c3d4e5f60718293"
DUNG_CODE = "PC10AA0034567"


@dataclass
class ZaloDemo:
    rig: Rig
    fake: FakeZaloBot


@pytest.fixture
async def demo(
    tmp_path: Path, seeded_sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ZaloDemo]:
    fake = await FakeZaloBot().start()
    monkeypatch.setenv("CSKH_ZALO_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CSKH_ZALO_BOT_API_URL", fake.url)
    monkeypatch.setenv("CSKH_ZALO_BOT_MODE", "webhook")
    monkeypatch.setenv("CSKH_ZALO_BOT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("CSKH_ZALO_BOT_CHAT_INTERVAL", "0")
    try:
        async for rig in make_rig(tmp_path, seeded_sqlite_template):
            api = ZaloBotApi(TOKEN, fake.url)
            try:  # what `cskh zalo set-webhook` does, to the server on loopback
                await api.set_webhook(rig.server.base_url + WEBHOOK_PATH, SECRET)
            finally:
                await api.close()
            yield ZaloDemo(rig, fake)
    finally:
        await fake.close()


async def test_dung_on_the_zalo_bot_from_activation_to_a_staff_reply(demo: ZaloDemo) -> None:
    rig, fake = demo.rig, demo.fake
    server = rig.server
    dung = ZaloChat(fake, DUNG_CHAT, server.settle)

    # Activation: no verified phone on Zalo, so username and password.
    await dung.say("/start")
    assert "🔑 Đăng nhập" in dung.options
    await dung.choose("🔑 Đăng nhập")
    await dung.choose("✅ Đồng ý")
    assert "📱 Chia sẻ số điện thoại" not in dung.text  # Zalo vouches for no phone
    await dung.choose("👤 Tên đăng nhập/mật khẩu")
    await dung.say("dungpham")
    await dung.say("Dung@2026cskh")
    assert dung.text.startswith("✅ Kích hoạt thành công."), dung.text
    assert DUNG_CODE in dung.text

    # Her bills, and the months compared: the chart comes as a photo Zalo fetches.
    await dung.say("/lookup")
    await dung.choose("🧾 Thông tin thanh toán")
    await dung.choose("📊 So sánh các tháng")
    (chart_url,) = dung.photos
    assert chart_url.startswith(server.base_url + "/media/")
    async with server.session.get(chart_url) as response:  # as Zalo's servers would
        assert response.status == 200
        assert (await response.read()).startswith(b"\x89PNG")

    # A service request with a photo: the quota of her meter.
    await dung.say("/services")
    await dung.choose("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await dung.choose("Thay đổi định mức sử dụng điện")
    while "Số hộ dùng chung" not in dung.text:  # her code, offered from her record
        assert "Mã khách hàng" in dung.text, dung.text
        await dung.say("1")
    assert "  • ✖ Hủy" in dung.text and "1. ⬅ Quay lại" not in dung.text
    await dung.say("2")  # two households: the answer, not the second option
    assert "Ảnh xác nhận thông tin cư trú" in dung.text, dung.text
    await dung.send_photo(PNG)
    for _ in range(4):  # "✅ Xong" after the photos, "✅ Đúng" for her phone on record
        send = next((t for t in dung.options if t.startswith("📨")), None)
        if send is not None:
            break
        await dung.choose("✅ Xong" if "✅ Xong" in dung.options else "✅ Đúng")
    assert send is not None, dung.text
    await dung.choose(send)
    async with server.runtime.db.reading() as session:
        request = await session.scalar(select(ServiceRequest))
    assert request is not None and request.type == "svc_change_quota"
    assert request.attachments  # the photo
    assert request.code in dung.text

    # An outage of her meter: the notice goes through the outbox and the delivery worker.
    before = len(fake.texts(DUNG_CHAT))
    now = rig.clock.now()
    services = server.runtime.engine.services
    async with server.runtime.db.transaction() as session:
        await create_outage(
            session,
            services.texts,
            backend=services.backend,
            customer_codes=[DUNG_CODE],
            start=now + timedelta(days=2),
            end=now + timedelta(days=2, hours=4),
            reason="Bảo dưỡng lưới điện",
            kind="planned",
            now=now,
            notice_days=services.settings.outage_notice_days,
        )
    server.runtime.worker.wake()

    def notice() -> str | None:
        fresh = fake.texts(DUNG_CHAT)[before:]
        return next((text for text in fresh if "Bảo dưỡng lưới điện" in text), None)

    await eventually(lambda: notice() is not None)
    assert "⚡" in (notice() or "")

    # A person: she asks, an agent takes over and replies; the reply reaches Zalo.
    await dung.say("gặp nhân viên")
    async with server.runtime.db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == DUNG_CHAT))
        assert user is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == "agent"))
        assert conversation is not None and staff is not None
        await handoff.take_over(
            session, conversation.id, staff, now=rig.clock.now(), live=services.live
        )
        await session.refresh(conversation)
        delivery = await handoff.reply(
            session,
            server.runtime.pusher,
            conversation,
            staff,
            Reply("Chào chị Dung, em là nhân viên CSKH. Em kiểm tra ngay cho chị ạ."),
        )
    assert delivery is not None
    await server.runtime.pusher.send_now([delivery])  # as the console does after its commit
    await eventually(lambda: any("em là nhân viên CSKH" in text for text in fake.texts(DUNG_CHAT)))


async def test_an_activates_on_the_zalo_bot_by_a_one_time_code(demo: ZaloDemo) -> None:
    """Zalo vouches for no phone: the account flow's one-time code, by SMS to the phone
    on An's contracts, typed back on Zalo (typing the options' numbers all the way)."""
    from tests.handlers.rig import AN_CODES, AN_PHONE

    rig, fake = demo.rig, demo.fake
    an = ZaloChat(fake, "5f4e3d2c1b0a99887766", rig.server.settle)
    await an.say("/start")
    await an.choose("🔑 Đăng nhập")
    assert an.text.startswith("Để kích hoạt, Quý khách đồng ý"), an.text
    await an.choose("✅ Đồng ý")
    await an.choose("📱 Số điện thoại")
    await an.say("0905123456")
    await an.choose("💬 SMS")
    code = rig.sms.last_code(AN_PHONE)
    await an.say(code)
    assert an.text.startswith("✅ Kích hoạt thành công."), an.text
    assert all(customer_code in an.text for customer_code in AN_CODES)
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(
            select(ChatUser).where(
                ChatUser.channel == "zalo_bot", ChatUser.platform_user_id == an.chat_id
            )
        )
    assert user is not None and user.verified_phone == AN_PHONE
