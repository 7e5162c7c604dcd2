"""Gặp nhân viên, as the customer lives it: queued, waiting, an agent answering, back
to the bot, and the rating (bot/handlers/support.py, bot/support/handoff.py)."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import ChatUser, Conversation
from bot.store.staff_models import Handoff, StaffAccount
from bot.support import handoff
from tests.handlers.rig import LightRig
from tests.helpers import eventually
from tests.light import LightDriver


async def _conversation(rig: LightRig, chat: LightDriver) -> Conversation:
    async with rig.runtime.db.transaction() as session:
        user = await session.scalar(
            select(ChatUser).where(ChatUser.platform_user_id == chat.platform_user_id)
        )
        assert user is not None
        found = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        assert found is not None
        session.expunge(found)
        return found


async def _staff(rig: LightRig, username: str = "agent") -> StaffAccount:
    async with rig.runtime.db.transaction() as session:
        staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        assert staff is not None
        session.expunge(staff)
        return staff


async def _take_over(rig: LightRig, chat: LightDriver, username: str = "agent") -> int:
    conversation = await _conversation(rig, chat)
    staff = await _staff(rig, username)
    async with rig.runtime.db.transaction() as session:
        await handoff.take_over(
            session,
            conversation.id,
            staff,
            now=rig.clock.now(),
            live=rig.runtime.engine.services.live,
        )
    return conversation.id


async def test_asking_for_staff_queues_the_chat_and_waiting_can_be_stopped(rig: LightRig) -> None:
    chat = await rig.driver("rest", "hoa")
    await chat.say("menu")
    await chat.press("👤 Gặp nhân viên")
    assert chat.text.startswith("👤 Yêu cầu gặp nhân viên đã được chuyển đi.")
    conversation = await _conversation(rig, chat)
    assert conversation.mode == "waiting" and conversation.waiting_since is not None
    # Asking again says since when they wait, not a second place in the queue.
    await chat.say("gap nhan vien")
    assert chat.text.startswith("👤 Quý khách đang chờ nhân viên (từ 15:00)")
    # Words the bot does not understand are for the agent now, not "did you mean".
    await chat.say("abc xyz qwerty")
    assert chat.text.startswith("✉️ Tin nhắn đã được chuyển tới nhân viên.")
    await chat.press("✖️ Thôi, không chờ nữa")
    assert chat.text.startswith("Đã hủy yêu cầu gặp nhân viên.")
    assert (await _conversation(rig, chat)).mode == "bot"
    async with rig.runtime.db.transaction() as session:
        rows = list(await session.scalars(select(Handoff)))
    assert [(r.reason, r.resolved_at is not None) for r in rows] == [("asked", True)]


async def test_outside_support_hours_the_customer_hears_when_and_the_hotline(
    rig: LightRig,
) -> None:
    rig.clock.advance(hours=13)  # 04:00 on Friday, Vietnam time
    chat = await rig.driver("rest", "dem")
    await chat.say("toi muon gap nhan vien")
    assert "ngoài giờ trực chat (7:00–17:00, thứ Hai đến thứ Bảy)" in chat.text
    assert "từ 07:00 27/11/2026" in chat.text and "1900 1909" in chat.text
    rig.clock.advance(hours=13)  # 17:00 on Friday: the next opening is Saturday morning
    chat = await rig.driver("rest", "dem2")
    await chat.say("gap nhan vien")
    assert "từ 07:00 28/11/2026" in chat.text


async def test_three_misunderstandings_in_a_row_call_a_person(rig: LightRig) -> None:
    chat = await rig.driver("rest", "lac")
    await chat.say("xyzzy qwerty")
    await chat.say("blorp snarf")
    assert (await _conversation(rig, chat)).mode == "bot"
    await chat.press("🔎 Tra cứu")  # a tap breaks the run
    await chat.say("xyzzy qwerty")
    await chat.say("blorp snarf")
    assert (await _conversation(rig, chat)).mode == "bot"
    await chat.say("frobnicate wibble")
    assert chat.text.startswith("Xin lỗi, bot chưa hiểu ý Quý khách.")
    assert "👤 Yêu cầu gặp nhân viên đã được chuyển đi." in chat.text
    assert (await _conversation(rig, chat)).mode == "waiting"


async def test_with_an_agent_the_bot_is_quiet_and_menu_offers_the_way_back(rig: LightRig) -> None:
    chat = await rig.driver("telegram", "minh")
    await chat.say("gap nhan vien")
    await _take_over(rig, chat)
    await chat.say("cho toi hoi hoa don thang nay sao cao vay")
    assert chat.replies == []  # the agent answers, not the bot
    await chat.say("menu")
    assert chat.text.startswith("Quý khách đang trò chuyện với nhân viên Trần Thị Bích")
    await chat.press("👤 Tiếp tục với nhân viên")
    assert chat.text.startswith("Vâng, nhân viên")
    assert (await _conversation(rig, chat)).mode == "staff"
    await chat.say("huy")
    await chat.press("🤖 Quay lại bot")
    assert chat.text.startswith("Đã kết thúc trò chuyện với nhân viên.")
    assert "🔎 Tra cứu" in chat.button_titles
    assert (await _conversation(rig, chat)).mode == "bot"


async def test_after_the_agent_resolves_the_customer_rates_and_comments(rig: LightRig) -> None:
    chat = await rig.driver("web", "thu")
    await chat.say("gap nhan vien")
    conversation_id = await _take_over(rig, chat)
    staff = await _staff(rig)
    async with rig.runtime.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        resolved = await handoff.resolve(
            session, conversation, staff, now=rig.clock.now(), live=rig.runtime.engine.services.live
        )
        question = handoff.rating_question(rig.runtime.texts, "vi", resolved.id, staff.display_name)
        await rig.runtime.pusher.push(conversation.chat_user_id, [question], session=session)

    async def received() -> bool:
        await chat.receive_pushes()
        return bool(chat.replies)

    await eventually(received)
    assert chat.text.startswith("✅ Nhân viên Trần Thị Bích đã hoàn tất hỗ trợ.")
    await chat.press("⭐⭐⭐⭐")
    assert chat.text.startswith("Cảm ơn Quý khách đã đánh giá 4/5.")
    await chat.say("Nhân viên trả lời nhanh, dễ hiểu")
    assert chat.text.startswith("Cảm ơn góp ý của Quý khách!")
    # Pressing a star again does not change the rating.
    await chat.send(payload=f"csat:{resolved.id}-1")
    assert chat.text.startswith("Đánh giá này đã được ghi nhận rồi.")
    async with rig.runtime.db.transaction() as session:
        stored = await session.get(Handoff, resolved.id)
        assert stored is not None
        assert (stored.csat, stored.csat_comment) == (4, "Nhân viên trả lời nhanh, dễ hiểu")
        assert (await session.get(Conversation, conversation_id)).mode == "resolved"  # type: ignore[union-attr]


async def test_a_rating_of_another_conversations_handoff_is_refused(rig: LightRig) -> None:
    chat = await rig.driver("rest", "khac")
    await chat.say("gap nhan vien")
    await _take_over(rig, chat)
    other = await rig.driver("rest", "gia")
    await other.say("menu")
    async with rig.runtime.db.transaction() as session:
        first = await session.scalar(select(Handoff))
        assert first is not None
    await other.send(payload=f"csat:{first.id}-5")
    assert other.text.startswith("Đánh giá này đã được ghi nhận rồi.")
