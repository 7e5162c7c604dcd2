"""Replies to notices ("Phản hồi lại tin nhắn"): a Telegram reply quoting the notice, the
"💬 Phản hồi" button, a photo soon after a notice; each lands in `cskh inbox list`, and
`cskh inbox reply` brings staff's answer back on the customer's channel."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.core.messages import Incoming, Reply
from bot.core.outbound import Recipient
from bot.core.texts import Texts
from bot.notify import inbox, outbox, subscriptions
from bot.notify.push import Pusher
from bot.store.db import Database
from bot.store.models import (
    ChatUser,
    CustomerLink,
    Delivery,
    InboxItem,
    TranscriptMessage,
)
from tests.channels.test_webchat import PNG
from tests.drivers import TelegramDriver, WebDriver
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_api import BOT_USER
from tests.handlers.rig import Rig
from tests.handlers.test_notices import send_notice, tap_under_notice
from tests.handlers.test_requests_cli import cskh

OUTAGE = (
    "⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 02/12/2026, khu vực phường "
    "Hội An, để bảo dưỡng đường dây."
)
OUTAGE_HEADLINE = "Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày…"
_updates = itertools.count(900_000)


def quoting(message_id: str, chat_id: int) -> dict[str, Any]:
    """The `reply_to_message` Telegram puts in a reply: the bot's message it quotes."""
    return {
        "message_id": int(message_id),
        "from": BOT_USER,
        "chat": {"id": chat_id, "first_name": "Lan", "type": "private"},
        "date": int(time.time()),
        "text": "…",
    }


async def reply_on_telegram(
    tg: TelegramDriver, message_id: str, *, text: str | None = None, photo: bytes | None = None
) -> None:
    """Swipe the bot's message and answer it, as a Telegram user does."""
    if photo is not None:
        file_id = f"reply-photo{next(_updates)}"
        tg.fake.add_file(file_id, photo)
        update = tu.photo(next(_updates), tg.chat_id, file_id, caption=text)
    else:
        update = tu.text(next(_updates), tg.chat_id, text or "")
    update["message"]["reply_to_message"] = quoting(message_id, tg.chat_id)
    await tg._post(update)


async def platform_message_id(rig: Rig, delivery_id: int) -> str:
    async with rig.server.runtime.db.reading() as session:
        delivery = await session.get(Delivery, delivery_id)
    assert delivery is not None and delivery.platform_message_id
    return delivery.platform_message_id


async def inbox_json(rig: Rig, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert await cskh(rig, "inbox", "list", "--json", *args) == 0
    return json.loads(capsys.readouterr().out)


async def items(rig: Rig) -> list[InboxItem]:
    async with rig.server.runtime.db.reading() as session:
        return list(await session.scalars(select(InboxItem).order_by(InboxItem.id)))


async def test_a_telegram_reply_to_a_notice_reaches_staff_and_their_answer_comes_back(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    tg = await rig.driver("telegram", "reply-tg")
    assert isinstance(tg, TelegramDriver)
    await tg.say("/start")
    sent = await send_notice(rig, tg, "outage", OUTAGE)
    notice_message = await platform_message_id(rig, sent.delivery_ids[0])

    await reply_on_telegram(tg, notice_message, text="Nhà tôi có người chạy máy thở, xin báo trước")
    assert tg.text == (
        f"✅ Đã nhận phản hồi của Quý khách về thông báo “{OUTAGE_HEADLINE}”. Nhân viên CSKH "
        "sẽ trả lời ngay trong khung chat này; việc gấp xin gọi 1900 1909."
    )
    assert tg.button_titles == ["🔔 Thông báo", "🏠 Menu"]
    await reply_on_telegram(tg, notice_message, photo=PNG, text="Cột điện trước nhà")
    assert tg.text.startswith("✅ Đã nhận phản hồi kèm 1 ảnh của Quý khách về thông báo")

    queue = await inbox_json(rig, capsys)
    assert [(i["status"], i["text"], len(i["photos"])) for i in queue] == [
        ("open", "Nhà tôi có người chạy máy thở, xin báo trước", 0),
        ("open", "Cột điện trước nhà", 1),
    ]
    first = queue[0]
    assert first["notice"] == {
        "id": sent.notice_id,
        "category": "outage",
        "kind": "test_outage",
        "title": OUTAGE_HEADLINE,
    }
    assert first["customer"]["channel"] == "telegram" and first["customer"]["name"] == "Lan Nguyễn"
    link = queue[1]["photos"][0].replace("http://127.0.0.1:0", rig.server.base_url)
    async with rig.server.session.get(link) as response:  # staff open the photo
        assert response.status == 200 and await response.read() == PNG

    capsys.readouterr()
    assert await cskh(rig, "inbox", "list") == 0
    listing = capsys.readouterr().out
    assert f"#{first['id']}  open" in listing and "Lan Nguyễn (telegram)" in listing
    assert f"notice {sent.notice_id} [outage]: {OUTAGE_HEADLINE}" in listing
    at = datetime.fromisoformat(first["at"])  # stored in UTC; staff read Vietnam's time
    vietnam = at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%d %H:%M")
    assert f"#{first['id']}  open      {vietnam}  Lan Nguyễn" in listing
    assert at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") not in listing

    answer = "Điện lực Hội An đã ghi nhận, sẽ gọi cho Quý khách trước khi cắt điện."
    assert await cskh(rig, "inbox", "reply", str(first["id"]), answer) == 0
    assert capsys.readouterr().out.strip() == (
        f"inbox item {first['id']} answered; sent to the customer on telegram"
    )
    last = rig.telegram.sent("sendMessage", chat_id=tg.chat_id)[-1]
    assert last.fields["text"] == (
        f"💬 Điện lực trả lời phản hồi của Quý khách về “{OUTAGE_HEADLINE}”:\n{answer}"
    )
    assert [
        b["callback_data"] for row in last.fields["reply_markup"]["inline_keyboard"] for b in row
    ] == [
        f"nreply:{sent.notice_id}",
        "menu",
    ]
    answered = await inbox_json(rig, capsys, "--status", "answered")
    assert [(i["id"], i["answer"], i["answered_by"]) for i in answered] == [
        (first["id"], answer, "staff:cli")
    ]
    assert [i["id"] for i in await inbox_json(rig, capsys)] == [queue[1]["id"], first["id"]]


async def test_staff_mistakes_are_refused_and_nothing_is_sent(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    tg = await rig.driver("telegram", "reply-mistakes")
    assert isinstance(tg, TelegramDriver)
    await tg.say("/start")
    sent = await send_notice(rig, tg, "bill", "🧾 Tiền điện kỳ 2 tháng 11/2026: 305.230 đ")
    await reply_on_telegram(
        tg, await platform_message_id(rig, sent.delivery_ids[0]), text="Sao cao vậy?"
    )
    item_id = (await items(rig))[0].id
    before = len(rig.telegram.sent("sendMessage", chat_id=tg.chat_id))
    capsys.readouterr()

    assert await cskh(rig, "inbox", "reply", "999999", "Xin chào") == 2
    assert capsys.readouterr().err.strip() == "cskh: no inbox item 999999"
    assert await cskh(rig, "inbox", "reply", str(item_id), "   ") == 2
    assert "the answer is empty" in capsys.readouterr().err
    assert await cskh(rig, "inbox", "reply", "abc", "Xin chào") == 2  # not an id
    assert "invalid int value" in capsys.readouterr().err
    assert (await items(rig))[0].status == "open"
    assert len(rig.telegram.sent("sendMessage", chat_id=tg.chat_id)) == before

    assert await cskh(rig, "inbox", "reply", str(item_id), "Kỳ này có 31 ngày.") == 0
    assert await cskh(rig, "inbox", "reply", str(item_id), "Lần nữa") == 2
    assert capsys.readouterr().err.strip() == f"cskh: inbox item {item_id} is already answered"
    assert len(rig.telegram.sent("sendMessage", chat_id=tg.chat_id)) == before + 1


async def test_a_hostile_name_and_reply_cannot_steer_the_staff_terminal_regression(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: escape codes in a customer's name or reply cleared the staff's screen,
    retitled it, planted a hyperlink and a fake "answered by" line."""
    name = "\x1b[2J\x1b]0;pwned\x07Khách"
    text = "ok\n    answered by staff:cskh: đã xử lý\x1b]8;;http://evil\x07link\x1b]8;;\x07"
    tg = await rig.driver("telegram", "reply-hostile")
    assert isinstance(tg, TelegramDriver)
    start = tu.text(next(_updates), tg.chat_id, "/start")
    start["message"]["from"].update(first_name=name, last_name=None)
    await tg._post(start)
    sent = await send_notice(rig, tg, "outage", OUTAGE)
    await reply_on_telegram(tg, await platform_message_id(rig, sent.delivery_ids[0]), text=text)

    capsys.readouterr()
    assert await cskh(rig, "inbox", "list") == 0
    listing = capsys.readouterr().out
    assert await cskh(rig, "inbox", "list", "--json") == 0
    dumped = capsys.readouterr().out
    for shown in (listing, dumped):
        assert all(c.isprintable() or c == "\n" for c in shown), ascii(shown)
        assert not [line for line in shown.splitlines() if line.lstrip().startswith("answered")]
    assert "\\x1b[2J\\x1b]0;pwned\\x07Khách (telegram)" in listing
    assert "“ok\\n    answered by staff:cskh: đã xử lý\\x1b]8;;http://evil\\x07link" in listing
    [item] = json.loads(dumped)  # the data itself is kept, for the staff console
    assert (item["customer"]["name"], item["text"]) == (name, text)


async def test_the_reply_button_takes_text_or_photos_and_cancel_stores_nothing(rig: Rig) -> None:
    customer = await rig.driver("rest", "reply-button")
    await customer.say("/start")
    sent = await send_notice(rig, customer, "bill", "🧾 Tiền điện kỳ 2 tháng 11/2026: 305.230 đ")
    headline = "Tiền điện kỳ 2 tháng 11/2026: 305.230 đ"

    await tap_under_notice(customer, f"nreply:{sent.notice_id}")
    assert customer.text == (
        f"Quý khách nhập nội dung phản hồi hoặc gửi ảnh về thông báo “{headline}”:"
    )
    assert customer.button_titles == ["✖ Hủy", "🏠 Menu"]
    await customer.press("✖ Hủy")
    assert customer.text.startswith("Đã hủy.")
    await customer.say("Tôi muốn hỏi")  # no question open any more: not a reply
    assert await items(rig) == []

    await tap_under_notice(customer, f"nreply:{sent.notice_id}")
    await customer.send_location(15.88, 108.33)
    assert customer.text.startswith("Vui lòng nhập nội dung phản hồi hoặc gửi ảnh.")
    await customer.send_photo(PNG)
    assert customer.text.startswith("✅ Đã nhận phản hồi kèm 1 ảnh của Quý khách")
    await tap_under_notice(customer, f"nreply:{sent.notice_id}")
    await customer.say("Chỉ số công tơ tháng này ghi sai")
    assert customer.text.startswith(f"✅ Đã nhận phản hồi của Quý khách về thông báo “{headline}”")

    stored = await items(rig)
    assert [(i.delivery_id, i.text, len(i.media)) for i in stored] == [
        (sent.delivery_ids[0], None, 1),
        (sent.delivery_ids[0], "Chỉ số công tơ tháng này ghi sai", 0),
    ]
    async with rig.server.runtime.db.reading() as session:
        delivery = await session.get(Delivery, sent.delivery_ids[0])
    assert delivery is not None and delivery.read_at is not None  # answering reads it


async def test_a_photo_soon_after_a_notice_answers_it_but_text_and_late_photos_do_not(
    rig: Rig,
) -> None:
    customer = await rig.driver("rest", "reply-photo")
    await customer.say("/start")
    await send_notice(rig, customer, "outage", OUTAGE)
    await customer.send_photo(PNG)
    assert customer.text.startswith(
        f"✅ Đã nhận phản hồi kèm 1 ảnh của Quý khách về thông báo “{OUTAGE_HEADLINE}”"
    )
    await customer.say("cảm ơn")  # free text is read as a message, not filed
    assert customer.text.startswith("Dạ, rất vui được hỗ trợ Quý khách!")

    rig.clock.advance(hours=25)
    await customer.send_photo(PNG)
    assert customer.text.startswith("Tôi đã nhận ảnh của Quý khách.")  # as before notices
    assert len(await items(rig)) == 1


async def test_a_telegram_reply_to_a_message_that_is_no_notice_goes_on_as_usual(rig: Rig) -> None:
    tg = await rig.driver("telegram", "reply-other")
    assert isinstance(tg, TelegramDriver)
    await tg.say("/start")
    await send_notice(rig, tg, "other", "📢 Tuần lễ tri ân khách hàng")
    # Quoting the bot's menu (any message but a notice) is an ordinary message.
    await reply_on_telegram(tg, "5", text="tra cứu")
    assert tg.text == "🔎 Quý khách muốn tra cứu gì?"
    assert await items(rig) == []


async def test_the_staff_answer_reaches_a_web_chat_visitor_live(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    web = await rig.driver("web", "reply-web")
    assert isinstance(web, WebDriver)
    try:
        await web.say("/start")
        sent = await send_notice(rig, web, "other", "📢 Tuần lễ tri ân khách hàng 01–07/12")
        await tap_under_notice(web, f"nreply:{sent.notice_id}")
        assert "Quý khách nhập nội dung phản hồi" in web.text
        await web.say("Tôi đăng ký tham gia được không?")
        assert "✅ Đã nhận phản hồi của Quý khách" in web.text
        item_id = (await items(rig))[0].id

        capsys.readouterr()
        assert (
            await cskh(
                rig, "inbox", "reply", str(item_id), "Dạ được, Quý khách đến điểm thu gần nhất."
            )
            == 0
        )
        assert "the running bot shows it in the customer's web chat" in capsys.readouterr().out
        # The command ran on the real clock; the bot's clock must reach that time to send.
        behind = (datetime.now(UTC) - rig.clock.now()).total_seconds()
        rig.clock.advance(seconds=max(0.0, behind) + 60)
        await rig.server.runtime.worker.run_once()
        assert web.socket is not None
        while True:
            frame = await asyncio.wait_for(web.socket.receive_json(), 5)
            if frame["type"] == "message" and frame["message"]["text"].startswith("💬"):
                break
        assert frame["message"]["text"] == (
            "💬 Điện lực trả lời phản hồi của Quý khách về “Tuần lễ tri ân khách hàng 01–07/12”:\n"
            "Dạ được, Quý khách đến điểm thu gần nhất."
        )
        async with rig.server.runtime.db.reading() as session:
            authors = list(await session.scalars(select(TranscriptMessage.author)))
        assert "staff:cli" in authors  # the web chat's history keeps who answered
    finally:
        await web.close()


class Recorder:
    """A channel that keeps what it is given (for the store test, no platform at all)."""

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        self.delivered += [r.text for r in replies]
        return None


async def test_switches_the_tab_and_the_queue_on_each_backend(
    migrated_url: str, tmp_path: Path
) -> None:
    db = Database(migrated_url, media_dir=tmp_path / "media")
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    try:
        async with db.transaction() as session:
            user = ChatUser(channel="rest", platform_user_id="store", activated_at=now)
            user.links = [CustomerLink(customer_code="PC05CC0123456")]
            session.add(user)
            await session.flush()
            user_id = user.id

        async def bill(code: str) -> list[int]:
            async with db.transaction() as session:
                notice = await outbox.notice_for(
                    session, f"bill:{code}:{uuid.uuid4().hex}", kind="bill", category="bill"
                )
                me = await session.get(ChatUser, user_id)
                assert me is not None
                return await outbox.enqueue(
                    session,
                    notice,
                    [outbox.Addressee(me, [Reply(text="🧾 Hóa đơn")], code)],
                    now=now,
                )

        async with db.transaction() as session:
            await subscriptions.switch(session, user_id, "bill", "PC05CC0123456", on=False, now=now)
        assert await bill("PC05CC0123456") == []
        shown = await bill("PC05CC0999999")  # another code: still on (and not shown below)
        async with db.transaction() as session:
            await subscriptions.switch(session, user_id, "bill", "PC05CC0123456", on=True, now=now)
        [mine] = await bill("PC05CC0123456")
        assert shown

        async with db.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_([mine, *shown]))
                .values(status="sent", sent_at=now, platform_message_id="77")
            )
        async with db.transaction() as session:
            me = await session.get(ChatUser, user_id)
            assert me is not None
            assert [(s.category, s.total, s.unread) for s in await inbox.shelves(session, me)] == [
                ("bill", 1, 1),
                ("outage", 0, 0),
                ("other", 0, 0),
            ]
            assert [d.id for d in await inbox.recent(session, me, "bill")] == [mine]
            assert await inbox.mark_all_read(session, me, now) == 1
            quoted = await inbox.answered_delivery(
                session,
                user_id,
                Incoming(channel="rest", user_id="store", text="Sao cao?", reply_to_ref="77"),
                question_open=True,
                now=now,
            )
            assert quoted is not None
            inbox.record_reply(session, user_id, quoted, "Sao cao?", [], now)

        channel = Recorder()
        pusher = Pusher(db, {"rest": channel})
        async with db.transaction() as session:
            [entry] = await inbox.queue(session)
            item, delivery_id = await inbox.answer(
                session, pusher, Texts.load(), entry.item.id, "Kỳ này 31 ngày.", actor="t", now=now
            )
            assert delivery_id is not None and item.status == "answered"
            queued = await session.get(Delivery, delivery_id)
            assert queued is not None and queued.status == "queued"  # no worker here
        async with db.transaction() as session:
            with pytest.raises(inbox.InboxError, match="already answered"):
                await inbox.answer(session, pusher, Texts.load(), item.id, "x", actor="t", now=now)
    finally:
        await db.dispose()
