"""The engine end to end, on SQLite and PostgreSQL: REST customers on the light rig
(tests/handlers/rig.py), the runtime `cskh serve` builds without its web app."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.core.context import Context
from bot.core.messages import Incoming, Media, Reply
from bot.settings import Settings
from bot.store.models import ChatUser, Conversation, TranscriptMessage
from tests.handlers.rig import LightRig, light_rig
from tests.helpers import make_settings


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[LightRig]:
    """A light rig on a migrated database with no demo data."""
    async with light_rig(settings, FakeClock()) as running:
        yield running


MAIN_TABS = [
    "🔎 Tra cứu",
    "🛠 Dịch vụ",
    "💳 Thanh toán",
    "🔔 Thông báo",
    "⚙️ Cài đặt",
    "👤 Gặp nhân viên",
]


async def test_start_greets_and_shows_the_app_tabs_with_login_first(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("/start")
    assert chat.text.startswith("Xin chào! Tôi là trợ lý CSKH của Điện lực miền Trung.")
    assert chat.button_titles == ["🔑 Đăng nhập", *MAIN_TABS]
    await chat.say("/start")
    assert chat.text.startswith("Chào Quý khách!")  # no second introduction


async def test_every_tab_answers_with_a_way_on_and_a_way_home(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    for tab in ["🔑 Đăng nhập", *MAIN_TABS]:
        await chat.say("menu")
        await chat.press(tab)
        assert chat.text, tab
        assert "🏠 Menu" in chat.button_titles, tab


async def test_navigation_words_work_without_diacritics_and_in_any_case(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("MENU")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"
    await chat.say("huy")
    assert chat.text.startswith("Không có thao tác nào đang dở.")
    await chat.say("Hướng dẫn")
    assert "gõ không dấu cũng được" in chat.text
    await chat.say("tra cuu")  # the title of a button just shown, typed
    assert chat.text == "🔎 Quý khách muốn tra cứu gì?"


async def test_back_returns_to_the_previous_screen(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("/settings")
    await chat.press("🌐 Ngôn ngữ / Language")
    assert chat.button_titles[:2] == ["Tiếng Việt", "English"]
    await chat.say("quay lại")
    assert chat.text.startswith("⚙️ Cài đặt.")
    await chat.press("🏠 Menu")
    await chat.say("quay lai")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"


async def test_language_switch_changes_every_text_and_is_remembered(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("/start")
    await chat.press("⚙️ Cài đặt")
    await chat.press("🌐 Ngôn ngữ / Language")
    await chat.press("English")
    assert chat.text == "Switched to English."
    assert chat.button_titles[:2] == ["🔑 Log in", "🔎 Look up"]
    await chat.say("help")
    assert "Hotline (24/7): 1900 1909" in chat.text
    await chat.say("tiếng việt")
    assert chat.text == "Đã chuyển sang tiếng Việt."


async def test_unknown_text_gets_a_helpful_answer_with_the_menu(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("asdkjh qwe")
    assert chat.text.startswith("Xin lỗi, tôi chưa hiểu ý Quý khách.")
    assert "🔎 Tra cứu" in chat.button_titles


async def test_unknown_or_forged_button_is_answered_not_crashed(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.send(payload="no-such-button:42")
    assert chat.text.startswith("Nút này đã cũ")
    assert "🔎 Tra cứu" in chat.button_titles
    await chat.send(payload="lang:xx")  # a known button with a forged argument
    assert "Tiếng Việt" in chat.button_titles


async def test_danger_gets_safety_advice_and_the_hotline_first(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.say("day dien dut roi xuong duong truoc nha")
    assert chat.text.startswith("⚠️ Xin Quý khách tránh xa dây điện")
    assert "1900 1909" in chat.text


async def test_unrequested_location_and_photo_are_acknowledged(rig: LightRig) -> None:
    chat = await rig.driver("rest", "u1")
    await chat.send_location(16.06, 108.22)
    assert chat.text.startswith("Chưa có điểm thu nào gần vị trí này")
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    await chat.send_photo(base64.b64decode(png), caption="ảnh công tơ")
    assert chat.text.startswith("Tôi đã nhận ảnh")


async def test_state_and_transcript_are_saved_together(rig: LightRig) -> None:
    chat = await rig.driver("rest", "saved")
    await chat.say("/settings")
    await chat.press("🌐 Ngôn ngữ / Language")
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "saved"))
        assert user is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        assert conversation is not None and conversation.state["screen"] == "settings.language"
        transcript = list(
            await session.scalars(
                select(TranscriptMessage)
                .where(TranscriptMessage.conversation_id == conversation.id)
                .order_by(TranscriptMessage.id)
            )
        )
    assert [(m.direction, m.text or m.payload) for m in transcript] == [
        ("in", "/settings"),
        ("out", "⚙️ Cài đặt. Ngôn ngữ hiện tại: Tiếng Việt."),
        ("in", "language"),
        ("out", "Quý khách chọn ngôn ngữ / Choose your language:"),
    ]


async def test_handler_error_apologises_logs_and_keeps_state(rig: LightRig, caplog: object) -> None:
    router = rig.runtime.engine.router

    @router.button("boom")
    async def boom(ctx: Context) -> list[Reply]:
        ctx.state.screen = "half-done"
        ctx.user.language = "en"
        raise RuntimeError("simulated failure")

    chat = await rig.driver("rest", "victim")
    await chat.say("/settings")
    await chat.send(payload="boom")
    assert chat.text.startswith("Xin lỗi Quý khách, hệ thống vừa gặp sự cố")
    assert chat.button_titles == ["🏠 Menu"]
    assert "conversation rest:victim" in caplog.text  # type: ignore[attr-defined]
    # Nothing the failed handler did was kept: still Vietnamese, still in Settings.
    await chat.say("quay lại")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "victim"))
        assert user is not None and user.language == "vi"
        texts = list(await session.scalars(select(TranscriptMessage.payload)))
    assert "boom" in texts  # the customer's message is in the transcript


async def test_updates_of_one_conversation_never_interleave(rig: LightRig) -> None:
    events: list[str] = []
    router = rig.runtime.engine.router

    @router.button("slow")
    async def slow(ctx: Context) -> list[Reply]:
        events.append("start")
        count = int(ctx.state.asked.code or 0)  # a counter kept in the stored state
        await asyncio.sleep(0.05)
        ctx.state.ask("slow", code=str(count + 1))
        events.append("end")
        return [Reply(text=str(count + 1))]

    answers = await asyncio.gather(*(rig.answer("busy", payload="slow") for _ in range(4)))
    assert events == ["start", "end"] * 4
    assert sorted(texts[0] for texts in answers) == ["1", "2", "3", "4"]


async def test_two_processes_on_one_database_serialise_a_conversation(
    tmp_path: Path, migrated_url: str
) -> None:
    """Two runtimes (as two `cskh serve` processes) share a database: updates of one
    conversation still run one at a time and no update is lost."""

    async def slow(ctx: Context) -> list[Reply]:
        count = int(ctx.state.asked.code or 0)  # a counter kept in the stored state
        await asyncio.sleep(0.05)
        ctx.state.ask("slow", code=str(count + 1))
        return [Reply(text=str(count + 1))]

    first = make_settings(tmp_path / "a", migrated_url)
    second = make_settings(tmp_path / "b", migrated_url)
    async with light_rig(first, FakeClock()) as one, light_rig(second, FakeClock()) as two:
        for runtime in (one.runtime, two.runtime):
            runtime.engine.router.button("slow")(slow)
        await (await one.driver("rest", "shared")).say("/start")
        answers = await asyncio.gather(
            *(rig.answer("shared", payload="slow") for rig in (one, two, one, two))
        )
    assert sorted(texts[0] for texts in answers) == ["1", "2", "3", "4"]


async def test_a_conversation_survives_a_restart(tmp_path: Path, migrated_url: str) -> None:
    settings = make_settings(tmp_path / "var", migrated_url)
    async with light_rig(settings, FakeClock()) as rig:
        chat = await rig.driver("rest", "returning")
        await chat.say("/start")
        await chat.press("⚙️ Cài đặt")
        await chat.press("🌐 Ngôn ngữ / Language")
        await chat.press("English")
        await chat.press("⚙️ Settings")
        await chat.press("🌐 Ngôn ngữ / Language")
    async with light_rig(make_settings(tmp_path / "var", migrated_url), FakeClock()) as restarted:
        chat = await restarted.driver("rest", "returning")
        await chat.say("back")  # remembered: language screen -> settings, in English
        assert chat.text == "⚙️ Settings. Current language: English."
        await chat.say("/start")
        assert chat.text.startswith("Welcome back!")


async def test_staff_mode_keeps_the_bot_quiet(rig: LightRig) -> None:
    chat = await rig.driver("rest", "handed-over")
    await chat.say("/start")
    async with rig.runtime.db.transaction() as session:
        user = await session.scalar(
            select(ChatUser).where(ChatUser.platform_user_id == "handed-over")
        )
        assert user is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        assert conversation is not None
        conversation.mode = "staff"
    await chat.say("cho tôi hỏi về hóa đơn")
    assert chat.replies == []  # a person answers now; the message is kept for them
    async with rig.runtime.db.reading() as session:
        texts = list(await session.scalars(select(TranscriptMessage.text)))
    assert "cho tôi hỏi về hóa đơn" in texts


async def test_the_bot_speaks_english_to_a_user_whose_platform_says_so(rig: LightRig) -> None:
    replies = await rig.runtime.engine.handle(
        Incoming(channel="rest", user_id="tourist", text="/start", language_hint="en-GB")
    )
    assert replies[0].text.startswith("Hello!")


async def test_a_redelivered_update_is_handled_once(rig: LightRig) -> None:
    update = Incoming(channel="rest", user_id="dup", text="/start", update_id="777")
    first = await rig.runtime.engine.handle(update)
    again = await rig.runtime.engine.handle(update)
    assert first and again == []
    async with rig.runtime.db.reading() as session:
        texts = list(await session.scalars(select(TranscriptMessage.text)))
    assert texts.count("/start") == 1


async def test_documents_and_unsupported_content_get_their_own_answer(rig: LightRig) -> None:
    engine = rig.runtime.engine
    pdf = Media("application/pdf", "giay-to.pdf", data=b"%PDF-1.4")
    (reply,) = await engine.handle(Incoming(channel="rest", user_id="files", documents=(pdf,)))
    assert reply.text.startswith("Tôi đã nhận tệp")
    (reply,) = await engine.handle(Incoming(channel="rest", user_id="files", unsupported="voice"))
    assert reply.text.startswith("Xin lỗi, tôi chưa xem được loại tin này")
    assert "🔎 Tra cứu" in [b.title for b in reply.all_buttons]
