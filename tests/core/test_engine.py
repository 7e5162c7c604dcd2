"""The engine end to end through the REST channel, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Reply
from bot.settings import Settings
from bot.store.models import ChatUser, Conversation, TranscriptMessage
from tests.helpers import BotServer, make_settings, running_bot

MAIN_TABS = [
    "🔎 Tra cứu",
    "🛠 Dịch vụ",
    "💳 Thanh toán",
    "🔔 Thông báo",
    "⚙️ Cài đặt",
    "👤 Gặp nhân viên",
]


async def test_start_greets_and_shows_the_app_tabs_with_login_first(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.say("/start")
    assert chat.text.startswith("Xin chào! Tôi là trợ lý CSKH của Điện lực miền Trung.")
    assert chat.button_titles == ["🔑 Đăng nhập", *MAIN_TABS]
    await chat.say("/start")
    assert chat.text.startswith("Chào Quý khách!")  # no second introduction


async def test_every_tab_answers_with_a_way_on_and_a_way_home(bot: BotServer) -> None:
    chat = bot.chat()
    for tab in ["🔑 Đăng nhập", *MAIN_TABS]:
        await chat.say("menu")
        await chat.press(tab)
        assert chat.text, tab
        assert "🏠 Menu" in chat.button_titles, tab
    # A feature that has not landed says what to do instead, with the portal link.
    await chat.say("menu")
    await chat.press("👤 Gặp nhân viên")
    assert "Nhân viên chưa trả lời" in chat.text and "1900 1909" in chat.text
    links = [b for row in chat.buttons_rows for b in row if "url" in b]
    assert links == [{"title": "🌐 Mở cskh.cpc.vn", "url": "https://cskh.cpc.vn"}]


async def test_navigation_words_work_without_diacritics_and_in_any_case(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.say("MENU")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"
    await chat.say("huy")
    assert chat.text.startswith("Không có thao tác nào đang dở.")
    await chat.say("Hướng dẫn")
    assert "gõ không dấu cũng được" in chat.text
    await chat.say("tra cuu")  # the title of a button just shown, typed
    assert chat.text == "🔎 Quý khách muốn tra cứu gì?"


async def test_back_returns_to_the_previous_screen(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.say("/settings")
    await chat.press("🌐 Ngôn ngữ / Language")
    assert chat.button_titles[:2] == ["Tiếng Việt", "English"]
    await chat.say("quay lại")
    assert chat.text.startswith("⚙️ Cài đặt.")
    await chat.press("🏠 Menu")
    await chat.say("quay lai")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"


async def test_language_switch_changes_every_text_and_is_remembered(bot: BotServer) -> None:
    chat = bot.chat()
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


async def test_unknown_text_gets_a_helpful_answer_with_the_menu(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.say("asdkjh qwe")
    assert chat.text.startswith("Xin lỗi, tôi chưa hiểu ý Quý khách.")
    assert "🔎 Tra cứu" in chat.button_titles


async def test_unknown_or_forged_button_is_answered_not_crashed(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.send(button="no-such-button:42")
    assert chat.text.startswith("Nút này đã cũ")
    assert "🔎 Tra cứu" in chat.button_titles
    await chat.send(button="lang:xx")  # a known button with a forged argument
    assert "Tiếng Việt" in chat.button_titles


async def test_danger_gets_safety_advice_and_the_hotline_first(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.say("day dien dut roi xuong duong truoc nha")
    assert chat.text.startswith("⚠️ Xin Quý khách tránh xa dây điện")
    assert "1900 1909" in chat.text


async def test_unrequested_location_and_photo_are_acknowledged(bot: BotServer) -> None:
    chat = bot.chat()
    await chat.send(location={"lat": 16.06, "lon": 108.22})
    assert chat.text.startswith("Chưa có điểm thu nào gần vị trí này")
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    await chat.send(photo=png, caption="ảnh công tơ")
    assert chat.text.startswith("Tôi đã nhận ảnh")


async def test_state_and_transcript_are_saved_together(bot: BotServer) -> None:
    chat = bot.chat("saved")
    await chat.say("/settings")
    await chat.press("🌐 Ngôn ngữ / Language")
    async with bot.runtime.db.reading() as session:
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


async def test_handler_error_apologises_logs_and_keeps_state(
    bot: BotServer, caplog: object
) -> None:
    router = bot.runtime.engine.router

    @router.button("boom")
    async def boom(ctx: Context) -> list[Reply]:
        ctx.state["screen"] = "half-done"
        ctx.user.language = "en"
        raise RuntimeError("simulated failure")

    chat = bot.chat("victim")
    await chat.say("/settings")
    await chat.send(button="boom")
    assert chat.text.startswith("Xin lỗi Quý khách, hệ thống vừa gặp sự cố")
    assert chat.button_titles == ["🏠 Menu"]
    assert "conversation rest:victim" in caplog.text  # type: ignore[attr-defined]
    # Nothing the failed handler did was kept: still Vietnamese, still in Settings.
    await chat.say("quay lại")
    assert chat.text == "Quý khách chọn mục cần hỗ trợ:"
    async with bot.runtime.db.reading() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "victim"))
        assert user is not None and user.language == "vi"
        texts = list(await session.scalars(select(TranscriptMessage.payload)))
    assert "boom" in texts  # the customer's message is in the transcript


async def test_updates_of_one_conversation_never_interleave(bot: BotServer) -> None:
    events: list[str] = []
    router = bot.runtime.engine.router

    @router.button("slow")
    async def slow(ctx: Context) -> list[Reply]:
        events.append("start")
        count = int(ctx.state.get("count", 0))
        await asyncio.sleep(0.05)
        ctx.state["count"] = count + 1
        events.append("end")
        return [Reply(text=str(count + 1))]

    chat = bot.chat("busy")
    answers = await asyncio.gather(
        *(chat.server.post("/api/chat", {"user": "busy", "button": "slow"}) for _ in range(4))
    )
    assert events == ["start", "end"] * 4
    assert sorted(body["messages"][0]["text"] for _, body in answers) == ["1", "2", "3", "4"]


async def test_two_processes_on_one_database_serialise_a_conversation(
    tmp_path: Path, migrated_url: str
) -> None:
    """Two runtimes (as two `cskh serve` processes) share a database: updates of one
    conversation still run one at a time and no update is lost."""

    async def slow(ctx: Context) -> list[Reply]:
        count = int(ctx.state.get("count", 0))
        await asyncio.sleep(0.05)
        ctx.state["count"] = count + 1
        return [Reply(text=str(count + 1))]

    first = make_settings(tmp_path / "a", migrated_url)
    second = make_settings(tmp_path / "b", migrated_url)
    async with running_bot(first) as one, running_bot(second) as two:
        for server in (one, two):
            server.runtime.engine.router.button("slow")(slow)
        await one.chat("shared").say("/start")
        answers = await asyncio.gather(
            *(
                server.post("/api/chat", {"user": "shared", "button": "slow"})
                for server in (one, two, one, two)
            )
        )
    assert sorted(body["messages"][0]["text"] for _, body in answers) == ["1", "2", "3", "4"]


async def test_a_conversation_survives_a_restart(tmp_path: Path, migrated_url: str) -> None:
    settings = make_settings(tmp_path / "var", migrated_url)
    async with running_bot(settings) as bot:
        chat = bot.chat("returning")
        await chat.say("/start")
        await chat.press("⚙️ Cài đặt")
        await chat.press("🌐 Ngôn ngữ / Language")
        await chat.press("English")
        await chat.press("⚙️ Settings")
        await chat.press("🌐 Ngôn ngữ / Language")
    async with running_bot(make_settings(tmp_path / "var", migrated_url)) as restarted:
        chat = restarted.chat("returning")
        await chat.say("back")  # remembered: language screen -> settings, in English
        assert chat.text == "⚙️ Settings. Current language: English."
        await chat.say("/start")
        assert chat.text.startswith("Welcome back!")


async def test_staff_mode_keeps_the_bot_quiet(bot: BotServer) -> None:
    chat = bot.chat("handed-over")
    await chat.say("/start")
    async with bot.runtime.db.transaction() as session:
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
    assert chat.messages == []  # a person answers now; the message is kept for them
    async with bot.runtime.db.reading() as session:
        texts = list(await session.scalars(select(TranscriptMessage.text)))
    assert "cho tôi hỏi về hóa đơn" in texts


async def test_the_bot_speaks_english_to_a_user_whose_platform_says_so(
    settings: Settings,
) -> None:
    from bot.core.messages import Incoming

    async with running_bot(settings) as bot:
        replies = await bot.runtime.engine.handle(
            Incoming(channel="rest", user_id="tourist", text="/start", language_hint="en-GB")
        )
    assert replies[0].text.startswith("Hello!")


async def test_a_redelivered_update_is_handled_once(bot: BotServer) -> None:
    from bot.core.messages import Incoming

    update = Incoming(channel="rest", user_id="dup", text="/start", update_id="777")
    first = await bot.runtime.engine.handle(update)
    again = await bot.runtime.engine.handle(update)
    assert first and again == []
    async with bot.runtime.db.reading() as session:
        texts = list(await session.scalars(select(TranscriptMessage.text)))
    assert texts.count("/start") == 1


async def test_documents_and_unsupported_content_get_their_own_answer(bot: BotServer) -> None:
    from bot.core.messages import Incoming, Media

    engine = bot.runtime.engine
    pdf = Media("application/pdf", "giay-to.pdf", data=b"%PDF-1.4")
    (reply,) = await engine.handle(Incoming(channel="rest", user_id="files", documents=(pdf,)))
    assert reply.text.startswith("Tôi đã nhận tệp")
    (reply,) = await engine.handle(Incoming(channel="rest", user_id="files", unsupported="voice"))
    assert reply.text.startswith("Xin lỗi, tôi chưa xem được loại tin này")
    assert "🔎 Tra cứu" in [b.title for b in reply.all_buttons]
