"""The Zalo Bot channel against a fake Zalo Bot API on loopback, in webhook and polling
mode (issue 17).

The channel's own HTTP client makes every call; the fake (tests/fakes/zalo_bot_api.py)
records them, hands out queued updates to getUpdates, and posts updates to the bot's
webhook with the secret header, as Zalo does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.__main__ import main
from bot.app import build_channels, build_runtime
from bot.channels.zalo_bot import WEBHOOK_PATH, ZaloBotApi, ZaloBotChannel
from bot.core.messages import Incoming, Reply
from bot.notify.limits import ChannelLimit
from bot.store.media import load_media
from bot.store.models import ChatUser, TranscriptMessage
from bot.store.models import Media as MediaRow
from tests.channels.test_webchat import PNG
from tests.fakes.zalo_bot_api import TOKEN, FakeZaloBot
from tests.helpers import BotServer, make_settings, running_bot

SECRET = "zalo-Webhook_s3cret"
CHAT = "6ede9afa66b88fe6d6a9"
OTHER = "7fae0b1c22d4e5f60718"


@dataclass
class ZaloRig:
    fake: FakeZaloBot
    server: BotServer
    mode: str

    @property
    def channel(self) -> ZaloBotChannel:
        channel = self.server.runtime.channels["zalo_bot"]
        assert isinstance(channel, ZaloBotChannel)
        return channel

    async def send(self, update: dict[str, Any]) -> None:
        if self.mode == "webhook":
            status, body = await self.fake.post_webhook(update)
            assert status == 200, body
        else:
            self.fake.queue_update(update)

    async def answered(self, chat_id: str = CHAT, count: int = 1) -> list[str]:
        """Wait until `count` messages have gone to the chat; their texts."""
        await self.fake.wait_for(lambda: len(self.fake.texts(chat_id)) >= count)
        return self.fake.texts(chat_id)


def zalo_env(monkeypatch: pytest.MonkeyPatch, fake: FakeZaloBot, mode: str) -> None:
    monkeypatch.setenv("CSKH_ZALO_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CSKH_ZALO_BOT_API_URL", fake.url)
    monkeypatch.setenv("CSKH_ZALO_BOT_MODE", mode)
    monkeypatch.setenv("CSKH_ZALO_BOT_WEBHOOK_SECRET", SECRET)


async def set_webhook(fake: FakeZaloBot, server: BotServer) -> None:
    """What `cskh zalo set-webhook` does, to the bot on loopback (plain HTTP)."""
    api = ZaloBotApi(TOKEN, fake.url)
    try:
        await api.set_webhook(server.base_url + WEBHOOK_PATH, SECRET)
    finally:
        await api.close()


@pytest.fixture(params=["webhook", "polling"])
async def zalo(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ZaloRig]:
    fake = await FakeZaloBot().start()
    zalo_env(monkeypatch, fake, request.param)
    settings = make_settings(tmp_path / "var", migrated_url)
    try:
        async with running_bot(settings) as server:
            rig = ZaloRig(fake, server, request.param)
            rig.channel.backoff_base = 0.01
            if request.param == "webhook":
                await set_webhook(fake, server)
            yield rig  # polling: `cskh serve`'s start started it
    finally:
        await fake.close()


async def test_text_gets_the_menu_as_numbered_options_and_a_number_picks_one(
    zalo: ZaloRig,
) -> None:
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    (greeting,) = await zalo.answered()
    assert greeting.startswith("Xin chào! Tôi là trợ lý CSKH")
    assert "  1. 🔑 Đăng nhập" in greeting
    await zalo.send(zalo.fake.message(CHAT, text="1"))
    texts = await zalo.answered(count=2)
    assert texts[1].startswith("Để kích hoạt, Quý khách đồng ý")
    assert all(len(text) <= 2000 for text in texts)


async def test_a_photo_is_downloaded_and_kept_as_a_telegram_photo_is(zalo: ZaloRig) -> None:
    url = zalo.fake.add_photo(PNG)
    update = zalo.fake.message(
        CHAT, "message.image.received", photo_url=url, caption="công tơ nhà tôi"
    )
    await zalo.send(update)
    (answer,) = await zalo.answered()
    assert answer.startswith("Tôi đã nhận ảnh")
    async with zalo.server.runtime.db.reading() as session:
        rows = list(await session.scalars(select(MediaRow)))
        assert len(rows) == 1
        stored = await load_media(session, rows[0].id)
        message = await session.scalar(
            select(TranscriptMessage).where(TranscriptMessage.direction == "in")
        )
    assert stored is not None and stored.data == PNG and stored.content_type == "image/png"
    assert message is not None and message.text == "công tơ nhà tôi"
    assert message.attachments[0]["type"] == "photo"


async def test_a_photo_past_the_upload_limit_is_refused_not_kept(zalo: ZaloRig) -> None:
    zalo.channel.max_upload_bytes = len(PNG) - 1
    url = zalo.fake.add_photo(PNG)
    await zalo.send(zalo.fake.message(CHAT, "message.image.received", photo_url=url))
    (answer,) = await zalo.answered()
    assert answer.startswith("Tệp Quý khách gửi lớn quá")
    async with zalo.server.runtime.db.reading() as session:
        assert list(await session.scalars(select(MediaRow))) == []


async def test_sticker_and_unsupported_messages_get_a_polite_answer(zalo: ZaloRig) -> None:
    await zalo.send(zalo.fake.message(CHAT, "message.sticker.received", sticker="abc"))
    await zalo.answered()
    await zalo.send(zalo.fake.message(CHAT, "message.unsupported.received"))
    texts = await zalo.answered(count=2)
    for text in texts:
        assert text.startswith("Xin lỗi, tôi chưa xem được loại tin này")


async def test_a_repeated_update_is_processed_once(zalo: ZaloRig) -> None:
    update = zalo.fake.message(CHAT, text="/start", message_id="dup-1")
    await zalo.send(update)
    await zalo.answered()
    await zalo.send(update)  # Zalo delivers it again
    await zalo.send(zalo.fake.message(CHAT, text="/help"))
    texts = await zalo.answered(count=2)
    await asyncio.sleep(0.2)
    assert len(zalo.fake.texts(CHAT)) == 2
    assert texts[0].startswith("Xin chào!") and not texts[1].startswith("Xin chào!")


async def test_groups_and_bots_are_ignored(zalo: ZaloRig) -> None:
    await zalo.send(zalo.fake.message(OTHER, text="/start", chat_type="GROUP"))
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    await zalo.answered()
    assert zalo.fake.texts(OTHER) == []


async def test_long_text_is_split_at_the_platforms_limit(zalo: ZaloRig) -> None:
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    await zalo.answered()
    async with zalo.server.runtime.db.reading() as session:
        user_id = await session.scalar(select(ChatUser.id).where(ChatUser.channel == "zalo_bot"))
    assert user_id is not None
    sentences = [f"Câu thứ {n} của thông báo dài về lịch cắt điện." for n in range(120)]
    long_text = " ".join(sentences)
    assert len(long_text) > 4000
    assert await zalo.server.runtime.pusher.push(user_id, [Reply(long_text)])
    pieces = zalo.fake.texts(CHAT)[1:]
    assert len(pieces) == 3
    assert all(len(piece) <= 2000 for piece in pieces)
    assert " ".join(pieces) == long_text  # cut between sentences, nothing lost
    assert all(piece.endswith("điện.") for piece in pieces)


async def test_a_slow_answer_shows_typing(zalo: ZaloRig, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = zalo.channel.engine
    handle = engine.handle

    async def slow(incoming: Incoming) -> list[Reply]:
        await asyncio.sleep(0.8)
        return await handle(incoming)

    monkeypatch.setattr(engine, "handle", slow)
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    await zalo.answered()
    actions = zalo.fake.sent("sendChatAction", CHAT)
    assert actions and actions[0].fields["action"] == "typing"


async def test_polling_one_slow_chat_does_not_hold_up_the_others(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = await FakeZaloBot().start()
    zalo_env(monkeypatch, fake, "polling")
    try:
        async with running_bot(make_settings(tmp_path / "var", migrated_url)) as server:
            rig = ZaloRig(fake, server, "polling")
            engine = rig.channel.engine
            handle = engine.handle
            release = asyncio.Event()

            async def slow_for_one_chat(incoming: Incoming) -> list[Reply]:
                if incoming.user_id == CHAT:
                    await release.wait()  # this customer's answer takes long
                return await handle(incoming)

            monkeypatch.setattr(engine, "handle", slow_for_one_chat)
            await rig.send(fake.message(CHAT, text="/start"))
            await rig.send(fake.message(CHAT, text="/help"))
            await rig.send(fake.message(OTHER, text="/start"))
            (other,) = await rig.answered(OTHER)  # while the first chat still waits
            assert other.startswith("Xin chào!")
            assert fake.texts(CHAT) == []
            release.set()
            first, second = await rig.answered(CHAT, count=2)
            assert first.startswith("Xin chào!") and not second.startswith("Xin chào!")
    finally:
        await fake.close()


async def test_polling_survives_errors_from_get_updates(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.channels.zalo_bot.BACKOFF_BASE", 0.01)
    fake = await FakeZaloBot().start()
    zalo_env(monkeypatch, fake, "polling")
    fake.fail("getUpdates", 502, times=2)  # from the first poll on
    try:
        async with running_bot(make_settings(tmp_path / "var", migrated_url)) as server:
            rig = ZaloRig(fake, server, "polling")
            await rig.send(fake.message(CHAT, text="/start"))
            (greeting,) = await rig.answered()
            assert greeting.startswith("Xin chào!")
            assert fake.polls >= 3  # two failed, then the one that got the update
            assert fake.sent("deleteWebhook")  # polling takes the updates from a webhook
    finally:
        await fake.close()


async def test_wrong_or_missing_secret_gets_401_and_both_body_shapes_are_read(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = await FakeZaloBot().start()
    zalo_env(monkeypatch, fake, "webhook")
    try:
        async with running_bot(make_settings(tmp_path / "var", migrated_url)) as server:
            await set_webhook(fake, server)
            update = fake.message(CHAT, text="/start")
            for secret in ("wrong", "", SECRET + "x", SECRET.upper()):
                status, _ = await fake.post_webhook(update, secret=secret)
                assert status == 401
            async with server.session.post(server.base_url + WEBHOOK_PATH, json=update) as r:
                assert r.status == 401  # no header at all
            assert fake.texts(CHAT) == []

            status, body = await fake.post_webhook(update)  # bare {event_name, message}
            assert (status, body) == (200, {"ok": True})
            wrapped = fake.message(CHAT, text="/help")
            status, _ = await fake.post_webhook(wrapped, wrapped=True)  # {ok, result}
            assert status == 200
            texts = fake.texts(CHAT)
            assert len(texts) == 2 and texts[0].startswith("Xin chào!")
            assert not texts[1].startswith("Xin chào!")

            status, _ = await fake.post_webhook({"ok": True, "result": {"nothing": 1}})
            assert status == 400
    finally:
        await fake.close()


async def test_a_chat_that_blocked_the_bot_is_unreachable_until_it_writes_again(
    zalo: ZaloRig,
) -> None:
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    await zalo.answered()
    zalo.fake.fail("sendMessage", 403)
    await zalo.send(zalo.fake.message(CHAT, text="/help"))
    await zalo.fake.wait_for(lambda: len(zalo.fake.sent("sendMessage", CHAT)) >= 2)

    async def reachable() -> bool:
        async with zalo.server.runtime.db.reading() as session:
            user = await session.scalar(select(ChatUser).where(ChatUser.channel == "zalo_bot"))
            assert user is not None
            return user.reachable

    for _ in range(100):
        if not await reachable():
            break
        await asyncio.sleep(0.02)
    assert not await reachable()
    await zalo.send(zalo.fake.message(CHAT, text="/start"))
    await zalo.answered(count=3)  # the refused answer was one
    assert await reachable()


async def test_webhook_mode_without_a_secret_refuses_to_start_and_limits_reach_the_worker(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSKH_ZALO_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CSKH_ZALO_BOT_MODE", "webhook")
    monkeypatch.delenv("CSKH_ZALO_BOT_WEBHOOK_SECRET", raising=False)
    runtime = await build_runtime(make_settings(tmp_path / "var", migrated_url))
    try:
        with pytest.raises(Exception, match="CSKH_ZALO_BOT_WEBHOOK_SECRET"):
            build_channels(runtime)
    finally:
        await runtime.close()

    monkeypatch.setenv("CSKH_ZALO_BOT_MODE", "polling")
    monkeypatch.setenv("CSKH_ZALO_BOT_CHAT_INTERVAL", "2.5")
    runtime = await build_runtime(make_settings(tmp_path / "var2", migrated_url))
    try:
        assert "zalo_bot" in [c.name for c in build_channels(runtime)]
        assert runtime.worker.limiter.limits["zalo_bot"] == ChannelLimit(20.0, 2.5)
    finally:
        await runtime.close()

    monkeypatch.delenv("CSKH_ZALO_BOT_TOKEN")
    runtime = await build_runtime(make_settings(tmp_path / "var3", migrated_url))
    try:
        assert "zalo_bot" not in [c.name for c in build_channels(runtime)]  # off
    finally:
        await runtime.close()


async def test_set_webhook_command_registers_url_and_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = await FakeZaloBot().start()
    try:
        zalo_env(monkeypatch, fake, "webhook")
        url = "https://cskh.example.vn/zalo/bot/webhook"
        assert await asyncio.to_thread(main, ["zalo", "set-webhook", url]) == 0
        assert fake.webhook == {"url": url, "secret_token": SECRET}
        (call,) = fake.sent("setWebhook")
        assert call.fields == {"url": url, "secret_token": SECRET}
        assert await asyncio.to_thread(main, ["zalo", "delete-webhook"]) == 0
        assert fake.webhook is None
        # Zalo calls only HTTPS webhooks, and sends the secret back: both are needed.
        plain = "http://cskh.example.vn/zalo/bot/webhook"
        assert await asyncio.to_thread(main, ["zalo", "set-webhook", plain]) == 1
        monkeypatch.delenv("CSKH_ZALO_BOT_WEBHOOK_SECRET")
        assert await asyncio.to_thread(main, ["zalo", "set-webhook", url]) == 1
        assert len(fake.sent("setWebhook")) == 1
    finally:
        await fake.close()
