"""The Telegram channel against a fake Bot API on loopback, in webhook and polling mode.

The real aiogram client makes every call; the fake records them. Updates are real
Update JSON (tests/fakes/telegram_updates.py), posted to /telegram/webhook with the
secret header in webhook mode, or handed out by getUpdates in polling mode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.telegram.channel import TelegramChannel, split_text
from bot.core.context import Context
from bot.core.messages import Button, KeyboardRequest, Media, Reply, RequestButton
from bot.core.transcript import REDACTED
from bot.store.models import ChatUser, Conversation, Delivery, TranscriptMessage
from bot.store.models import Media as MediaRow
from tests.channels.test_webchat import PNG
from tests.drivers import TelegramDriver
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_api import FakeTelegram
from tests.handlers.rig import AN_PHONE, Rig, make_rig, start_login
from tests.helpers import BotServer, eventually, make_settings, running_bot

SECRET = "s3cret_Webhook-token"
CHAT = 5550001


@dataclass
class TelegramRig:
    fake: FakeTelegram
    server: BotServer
    mode: str

    @property
    def channel(self) -> TelegramChannel:
        channel = self.server.runtime.channels["telegram"]
        assert isinstance(channel, TelegramChannel)
        return channel

    async def send(self, update: dict[str, Any]) -> None:
        if self.mode == "webhook":
            async with self.server.session.post(
                self.server.base_url + "/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as response:
                assert response.status == 200, await response.text()
        else:
            self.fake.queue_update(update)

    async def answered(self, chat_id: int = CHAT, count: int = 1) -> list[str]:
        """Wait until `count` messages have gone to the chat; return their texts."""
        await self.fake.wait_for(lambda: len(self.fake.texts(chat_id)) >= count)
        return self.fake.texts(chat_id)

    async def transcript(self, chat_id: int = CHAT) -> list[TranscriptMessage]:
        async with self.server.runtime.db.reading() as session:
            return list(
                await session.scalars(
                    select(TranscriptMessage)
                    .join(Conversation, TranscriptMessage.conversation_id == Conversation.id)
                    .join(ChatUser, Conversation.chat_user_id == ChatUser.id)
                    .where(ChatUser.platform_user_id == str(chat_id))
                    .where(TranscriptMessage.direction == "in")
                    .order_by(TranscriptMessage.id)
                )
            )


@pytest.fixture(params=["webhook", "polling"])
async def tg(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_url: str
) -> AsyncIterator[TelegramRig]:
    fake = await FakeTelegram().start()
    settings = make_settings(
        tmp_path / "var",
        migrated_url,
        telegram_token="123456:TEST-token",
        telegram_api_url=fake.url,
        telegram_mode=request.param,
        telegram_webhook_secret=SECRET,
    )
    try:
        async with running_bot(settings) as server:
            rig = TelegramRig(fake, server, request.param)
            rig.channel.backoff_base = 0.01
            yield rig
    finally:
        await fake.close()


async def test_text_gets_the_menu_as_an_inline_keyboard(tg: TelegramRig) -> None:
    await tg.send(tu.text(1, CHAT, "/start"))
    (greeting,) = await tg.answered()
    assert greeting.startswith("Xin chào! Tôi là trợ lý CSKH")
    (call,) = tg.fake.sent("sendMessage", CHAT)
    assert call.fields["parse_mode"] == "HTML"
    keyboard = call.fields["reply_markup"]["inline_keyboard"]
    assert keyboard[0] == [{"text": "🔑 Đăng nhập", "callback_data": "login"}]
    if tg.mode == "polling":
        assert tg.fake.sent("deleteWebhook")  # polling cannot run beside a webhook


async def test_callback_query_is_answered_and_runs_the_button(tg: TelegramRig) -> None:
    await tg.send(tu.callback(2, CHAT, "settings"))
    (text,) = await tg.answered()
    assert text.startswith("⚙️ Cài đặt.")
    (answer,) = tg.fake.sent("answerCallbackQuery")
    assert answer.fields["callback_query_id"] == "cb2"


async def test_photo_downloads_the_largest_size(tg: TelegramRig) -> None:
    tg.fake.add_file("big", b"\xff\xd8\xff-the-large-photo")
    await tg.send(tu.photo(3, CHAT, "big", caption="công tơ nhà tôi"))
    (text,) = await tg.answered()
    assert text.startswith("Tôi đã nhận ảnh")
    assert [c.fields["file_id"] for c in tg.fake.sent("getFile")] == ["big"]
    (message,) = await tg.transcript()
    assert message.text == "công tơ nhà tôi" and message.attachments[0]["type"] == "photo"


async def test_an_album_becomes_one_update(tg: TelegramRig) -> None:
    for index, file_id in enumerate(("front", "back")):
        tg.fake.add_file(file_id, b"\xff\xd8\xff" + file_id.encode())
        await tg.send(
            tu.photo(
                10 + index,
                CHAT,
                file_id,
                media_group_id="album-1",
                caption="CCCD hai mặt" if index == 0 else None,
            )
        )
    (text,) = await tg.answered()
    assert text.startswith("Tôi đã nhận ảnh")
    (message,) = await tg.transcript()
    assert [a["type"] for a in message.attachments] == ["photo", "photo"]
    assert message.text == "CCCD hai mặt"


async def test_own_contact_is_verified_and_someone_elses_is_not(tg: TelegramRig) -> None:
    await tg.send(tu.contact(20, CHAT, "84905123456", contact_user_id=CHAT))
    await tg.answered()
    await tg.send(tu.contact(21, CHAT, "+84914222333", contact_user_id=777))
    await tg.answered(count=2)
    await tg.send(tu.contact(22, CHAT, "0935777888", contact_user_id=None))
    await tg.answered(count=3)
    await tg.send(tu.contact(23, CHAT, "0236 3822 123", contact_user_id=None))  # a landline
    await tg.answered(count=4)
    contacts = [m.attachments[0] for m in await tg.transcript()]
    assert contacts == [
        {"type": "contact", "phone": "+84905123456", "verified": True},
        {"type": "contact", "phone": "+84914222333", "verified": False},
        {"type": "contact", "phone": "+84935777888", "verified": False},
        {"type": "contact", "phone": "+842363822123", "verified": False},
    ]


async def test_location_and_document(tg: TelegramRig) -> None:
    await tg.send(tu.location(30, CHAT, 15.8801, 108.338))
    (text,) = await tg.answered()
    assert text.startswith("Chưa có điểm thu nào gần vị trí này")  # an empty database
    tg.fake.add_file("gcn", b"%PDF-1.4 so do")
    await tg.send(tu.document(31, CHAT, "gcn", "so-do.pdf", "application/pdf"))
    texts = await tg.answered(count=2)
    assert texts[1].startswith("Tôi đã nhận tệp")
    location, document = await tg.transcript()
    assert location.attachments == [{"type": "location", "lat": 15.8801, "lon": 108.338}]
    assert document.attachments[0]["type"] == "document"


async def _stored_media(rig: TelegramRig) -> list[MediaRow]:
    async with rig.server.runtime.db.reading() as session:
        return list(await session.scalars(select(MediaRow)))


async def test_an_svg_document_is_refused_and_not_stored_regression(tg: TelegramRig) -> None:
    tg.fake.add_file("svg", b"<svg onload=alert(1)>")
    await tg.send(tu.document(32, CHAT, "svg", "so-do.svg", "image/svg+xml"))
    (text,) = await tg.answered()
    assert text.startswith("Xin lỗi, tệp này không được hỗ trợ.")
    assert "JPG, PNG" in text and "PDF" in text
    assert await _stored_media(tg) == []
    (message,) = await tg.transcript()
    assert message.attachments == []


async def test_html_claiming_to_be_a_png_is_refused_regression(tg: TelegramRig) -> None:
    tg.fake.add_file("page", b"\n<!DOCTYPE html><script>fetch('/pwned')</script>")
    await tg.send(tu.document(33, CHAT, "page", "anh.png", "image/png"))
    (text,) = await tg.answered()
    assert text.startswith("Xin lỗi, tệp này không được hỗ trợ.")
    assert await _stored_media(tg) == []


async def test_a_claimed_png_is_kept_as_what_its_bytes_are_regression(tg: TelegramRig) -> None:
    script = b"alert(document.domain)//"
    tg.fake.add_file("js", script)
    await tg.send(tu.document(34, CHAT, "js", "anh.png", "image/png"))
    (text,) = await tg.answered()
    assert text.startswith("Tôi đã nhận tệp")  # a document, not a photo
    (row,) = await _stored_media(tg)
    assert row.content_type == "application/octet-stream"
    async with tg.server.session.get(tg.server.runtime.links.url_for(row.id)) as response:
        assert await response.read() == script
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_a_real_png_sent_as_a_file_becomes_a_photo(tg: TelegramRig) -> None:
    tg.fake.add_file("png", PNG)
    await tg.send(tu.document(35, CHAT, "png", "cong-to", "application/octet-stream"))
    (text,) = await tg.answered()
    assert text.startswith("Tôi đã nhận ảnh")
    (row,) = await _stored_media(tg)
    assert row.content_type == "image/png"


async def test_sticker_gets_a_not_supported_answer(tg: TelegramRig) -> None:
    await tg.send(tu.sticker(40, CHAT))
    (text,) = await tg.answered()
    assert text.startswith("Xin lỗi, tôi chưa xem được loại tin này")


async def test_a_duplicate_update_runs_once_and_edits_are_ignored(tg: TelegramRig) -> None:
    await tg.send(tu.text(50, CHAT, "menu"))
    await tg.answered()
    if tg.mode == "webhook":  # Telegram re-delivers when it missed our 200
        await tg.send(tu.text(50, CHAT, "menu"))
    await tg.send(tu.edited(51, CHAT, "menu (sửa)"))
    await tg.send(tu.text(52, CHAT, "/help"))
    texts = await tg.answered(count=2)
    assert texts[1].startswith("Tôi giúp Quý khách")
    # A chat's updates are handled in order: once a later one is answered, an answer to
    # the duplicate or the edit would have come before it.
    await tg.send(tu.text(53, CHAT, "/help"))
    after = await tg.answered(count=3)
    assert after[:2] == texts and after[2].startswith("Tôi giúp Quý khách")
    assert len(tg.fake.texts(CHAT)) == 3


async def test_group_messages_are_ignored(tg: TelegramRig) -> None:
    update = tu.text(55, -100123, "/start")
    update["message"]["chat"]["type"] = "supergroup"
    await tg.send(update)
    await tg.send(tu.text(56, CHAT, "/start"))
    await tg.answered()
    assert tg.fake.sent("sendMessage", -100123) == []


async def test_429_is_waited_out_and_the_message_still_arrives(tg: TelegramRig) -> None:
    tg.fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    await tg.send(tu.text(60, CHAT, "/start"))
    texts = await tg.answered()
    assert texts[-1].startswith("Xin chào!")
    assert time.monotonic() - started >= 1.0  # retry_after honoured
    assert len(tg.fake.attempts("sendMessage", CHAT)) == 2  # refused once, sent once


async def test_server_errors_are_retried(tg: TelegramRig) -> None:
    tg.fake.fail("sendMessage", 502, "Bad Gateway", times=2)
    await tg.send(tu.text(61, CHAT, "/start"))
    texts = await tg.answered()
    assert texts[-1].startswith("Xin chào!")
    assert len(tg.fake.attempts("sendMessage", CHAT)) == 3


async def test_403_marks_the_chat_unreachable_until_it_writes_again(tg: TelegramRig) -> None:
    tg.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await tg.send(tu.text(70, CHAT, "/start"))
    await tg.fake.wait_for(lambda: len(tg.fake.attempts("sendMessage", CHAT)) == 1)
    runtime = tg.server.runtime

    async def reachable() -> bool:
        async with runtime.db.reading() as session:
            user = await session.scalar(
                select(ChatUser).where(ChatUser.platform_user_id == str(CHAT))
            )
            assert user is not None
            return user.reachable

    async def unreachable() -> bool:
        return not await reachable()

    await eventually(unreachable, message="the chat is still reachable")
    async with runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == str(CHAT))
        )
    assert user_id is not None
    assert await runtime.pusher.push(user_id, [Reply(text="⚡ Thông báo")]) is False
    assert len(tg.fake.attempts("sendMessage", CHAT)) == 1  # pushes stopped
    await tg.send(tu.text(71, CHAT, "menu"))  # unblocked and wrote again
    await tg.answered()
    assert await reachable()


async def test_400_is_logged_and_the_bot_keeps_going(tg: TelegramRig) -> None:
    tg.fake.fail("sendMessage", 400, "Bad Request: message text is empty")
    await tg.send(tu.text(80, CHAT, "/start"))
    await tg.fake.wait_for(lambda: len(tg.fake.attempts("sendMessage", CHAT)) == 1)
    await tg.send(tu.text(81, CHAT, "menu"))
    texts = await tg.answered(count=1)
    assert texts[-1] == "Quý khách chọn mục cần hỗ trợ:"


async def test_slow_answers_show_typing(tg: TelegramRig) -> None:
    @tg.server.runtime.engine.router.button("slow")
    async def slow(ctx: Context) -> list[Reply]:
        await asyncio.sleep(0.8)
        return [Reply(text="xong")]

    await tg.send(tu.callback(90, CHAT, "slow"))
    await tg.answered()
    actions = [c.fields["action"] for c in tg.fake.sent("sendChatAction", CHAT)]
    assert actions == ["typing"]


async def _user_id(rig: TelegramRig) -> int:
    await rig.send(tu.text(100, CHAT, "/start"))
    await rig.answered()
    async with rig.server.runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == str(CHAT))
        )
    assert user_id is not None
    return user_id


async def test_pushes_reach_telegram_with_escaping_files_and_keyboards(tg: TelegramRig) -> None:
    user_id = await _user_id(tg)
    pusher = tg.server.runtime.pusher
    assert await pusher.push(user_id, [Reply(text="Mã <PC05CC> & số <b>1</b>")])
    assert await pusher.push(
        user_id,
        [
            Reply(text="📄 Hóa đơn", document=Media("application/pdf", "hd.pdf", data=b"%PDF-1")),
            Reply(text="📊 Biểu đồ", image=Media("image/png", "c.png", data=b"\x89PNG\r\n\x1a\n")),
            Reply(
                text="Vui lòng gửi vị trí",
                buttons=((Button("🏠 Menu", payload="menu"),),),
                requests=(RequestButton(KeyboardRequest.LOCATION, "📍 Gửi vị trí"),),
            ),
        ],
    )
    (escaped,) = [c for c in tg.fake.sent("sendMessage", CHAT) if "PC05CC" in c.fields["text"]]
    assert escaped.fields["text"] == "Mã &lt;PC05CC&gt; &amp; số &lt;b&gt;1&lt;/b&gt;"
    (document,) = tg.fake.sent("sendDocument", CHAT)
    assert document.files["document"] == b"%PDF-1" and document.fields["caption"] == "📄 Hóa đơn"
    (photo,) = tg.fake.sent("sendPhoto", CHAT)
    assert photo.files["photo"] == b"\x89PNG\r\n\x1a\n"
    # A push is no answer being prepared: no "uploading…" indicator (one call less each).
    assert tg.fake.sent("sendChatAction", CHAT) == []
    keyboard = tg.fake.sent("sendMessage", CHAT)[-1].fields["reply_markup"]
    assert keyboard["keyboard"] == [
        [{"text": "📍 Gửi vị trí", "request_location": True}],
        [{"text": "🏠 Menu"}],
    ]
    assert keyboard["one_time_keyboard"] is True


async def test_a_push_refused_for_the_rate_or_a_server_error_goes_back_to_the_outbox(
    tg: TelegramRig,
) -> None:
    """A push makes one try: a 429 pauses the whole channel in the delivery worker and
    the row waits retry_after; a 502 leaves the row queued for the worker's backoff.
    Neither sleeps inside the send nor tries again on its own."""
    user_id = await _user_id(tg)
    runtime = tg.server.runtime
    before = len(tg.fake.attempts("sendMessage", CHAT))
    tg.fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    started = time.monotonic()
    assert await runtime.pusher.push(user_id, [Reply(text="⚡ Mất điện đột xuất")]) is False
    assert time.monotonic() - started < 5  # not waited out inside the send
    assert runtime.worker.limiter.paused_for("telegram") > 5
    runtime.worker.limiter._paused_until.clear()
    tg.fake.fail("sendMessage", 502, "Bad Gateway")
    assert await runtime.pusher.push(user_id, [Reply(text="🔌 Đã có điện trở lại")]) is False
    assert len(tg.fake.attempts("sendMessage", CHAT)) == before + 2  # one try each
    async with runtime.db.reading() as session:
        rows = {
            row.message[0]["text"]: row
            for row in await session.scalars(select(Delivery).order_by(Delivery.id))
        }
    limited, failed = rows["⚡ Mất điện đột xuất"], rows["🔌 Đã có điện trở lại"]
    assert (limited.status, limited.attempts) == ("queued", 0)  # not the row's fault
    assert limited.not_before >= limited.created_at + timedelta(seconds=7)
    assert (failed.status, failed.attempts) == ("queued", 1)
    assert failed.error is not None and "Bad Gateway" in failed.error


async def test_long_text_is_split_with_buttons_under_the_last_part(tg: TelegramRig) -> None:
    user_id = await _user_id(tg)
    long_text = "\n".join(f"Dòng {i}: điện lực <miền Trung> & khách hàng" for i in range(300))
    await tg.server.runtime.pusher.push(
        user_id, [Reply(text=long_text, buttons=((Button("🏠 Menu", payload="menu"),),))]
    )
    parts = [c for c in tg.fake.sent("sendMessage", CHAT) if "Dòng" in c.fields["text"]]
    assert len(parts) > 1
    assert all(len(p.fields["text"]) <= 4096 for p in parts)
    assert [("reply_markup" in p.fields) for p in parts] == [False] * (len(parts) - 1) + [True]
    joined = "\n".join(p.fields["text"] for p in parts)
    assert joined.count("Dòng") == 300 and "&lt;miền Trung&gt;" in joined


def test_split_text_respects_the_escaped_length() -> None:
    assert split_text("ngắn") == ["ngắn"]
    parts = split_text("<" * 5000)  # each "<" becomes "&lt;": four times longer
    assert all(len(p) * 4 <= 4096 for p in parts) and "".join(parts) == "<" * 5000


async def test_wrong_or_missing_secret_gets_401(tmp_path: Path, migrated_url: str) -> None:
    fake = await FakeTelegram().start()
    settings = make_settings(
        tmp_path / "var",
        migrated_url,
        telegram_token="1:T",
        telegram_api_url=fake.url,
        telegram_mode="webhook",
        telegram_webhook_secret=SECRET,
    )
    try:
        async with running_bot(settings) as server:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with server.session.post(
                    server.base_url + "/telegram/webhook",
                    json=tu.text(1, CHAT, "/start"),
                    headers=headers,
                ) as response:
                    assert response.status == 401
            async with server.session.post(
                server.base_url + "/telegram/webhook",
                data=b"not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as r:
                assert r.status == 400
        assert fake.sent("sendMessage") == []
    finally:
        await fake.close()


async def test_webhook_mode_without_a_secret_refuses_to_start(
    tmp_path: Path, migrated_url: str
) -> None:
    from bot.app import StartupError

    settings = make_settings(
        tmp_path / "var", migrated_url, telegram_token="1:T", telegram_mode="webhook"
    )
    with pytest.raises(StartupError, match="CSKH_TELEGRAM_WEBHOOK_SECRET"):
        async with running_bot(settings):
            pass


async def test_set_webhook_command_registers_url_and_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.__main__ import main

    fake = await FakeTelegram().start()
    try:
        monkeypatch.setenv("CSKH_TELEGRAM_TOKEN", "1:T")
        monkeypatch.setenv("CSKH_TELEGRAM_API_URL", fake.url)
        monkeypatch.setenv("CSKH_TELEGRAM_WEBHOOK_SECRET", SECRET)
        url = "https://cskh.example.vn/telegram/webhook"
        assert await asyncio.to_thread(main, ["telegram", "set-webhook", url]) == 0
        (call,) = fake.sent("setWebhook")
        assert call.fields["url"] == url and call.fields["secret_token"] == SECRET
        assert call.fields["allowed_updates"] == ["message", "callback_query"]
        monkeypatch.delenv("CSKH_TELEGRAM_WEBHOOK_SECRET")
        assert await asyncio.to_thread(main, ["telegram", "set-webhook", url]) == 1
    finally:
        await fake.close()


async def test_polling_survives_errors_from_get_updates(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.channels.telegram.channel.BACKOFF_BASE", 0.01)
    fake = await FakeTelegram().start()
    fake.fail("getUpdates", 409, "Conflict: terminated by other getUpdates request")
    fake.fail("getUpdates", 401, "Unauthorized")
    fake.fail("getUpdates", 502, "Bad Gateway")
    settings = make_settings(
        tmp_path / "var",
        migrated_url,
        telegram_token="1:T",
        telegram_api_url=fake.url,
        telegram_mode="polling",
    )
    try:
        async with running_bot(settings):
            fake.queue_update(tu.text(1, CHAT, "/start"))
            await fake.wait_for(lambda: len(fake.texts(CHAT)) == 1)
        assert len(fake.attempts("getUpdates")) >= 4
    finally:
        await fake.close()


@pytest.fixture
async def demo_rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[Rig]:
    async for running in make_rig(tmp_path, seeded_sqlite_template):
        yield running


async def test_a_typed_code_and_pin_leave_the_telegram_chat_and_are_kept_as_dots(
    demo_rig: Rig,
) -> None:
    """Issue 15, point 4: every message holding a secret (the SMS code, the PIN typed
    twice) is deleted from the chat, and the transcript keeps dots in its place."""
    driver = await demo_rig.driver("telegram")
    assert isinstance(driver, TelegramDriver)
    secrets_sent: list[int] = []
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0905123456")
    await driver.press("💬 SMS")
    code = demo_rig.sms.last_code(AN_PHONE)
    await driver.say(code)
    assert driver.last_message_id is not None
    secrets_sent.append(driver.last_message_id)
    assert driver.text.startswith("✅ Kích hoạt thành công.")
    await driver.say("/pin")
    await driver.press("🔒 Đặt mật khẩu")
    for _ in range(2):
        await driver.say("258046")
        assert driver.last_message_id is not None
        secrets_sent.append(driver.last_message_id)
    assert driver.text.startswith("✅ Đã đặt mật khẩu ứng dụng.")
    deleted = demo_rig.telegram.sent("deleteMessage", driver.chat_id)
    assert [int(call.fields["message_id"]) for call in deleted] == secrets_sent
    kept = await demo_rig.transcript_texts()
    assert kept.count(REDACTED) == 3
    assert "0905123456" in kept  # a phone number is no secret: it stays readable
    assert not [text for text in kept if code in text or "258046" in text]
