"""After activation: own codes only, adding and removing codes, the PIN, logging out,
deleting one's data, and brute force stopped at the stated limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.core.messages import Reply
from bot.notify import outbox
from bot.store.models import (
    ChatUser,
    Delivery,
    InboxItem,
    Media,
    NoticeOptOut,
    SecurityEvent,
    ServiceRequest,
    TranscriptMessage,
)
from tests.drivers import Driver, WebDriver
from tests.handlers.rig import (
    AN_PHONE,
    ChatRig,
    LightRig,
    Rig,
    assert_activated_as_an,
    start_login,
)

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

HOA_PHONE = "+84358666777"


async def logged_in_an(rig: ChatRig, channel: str = "rest", name: str = "an") -> Driver:
    driver = await rig.driver(channel, name)
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.say("An@2026cskh")
    assert_activated_as_an(driver)
    return driver


async def test_only_linked_codes_are_acted_on_even_with_forged_buttons(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await an.press("⭐ PC05CC0123457 — Nhà hàng An")
    assert an.text.startswith("✅ Mã mặc định: PC05CC0123457.")
    assert "⭐ Cài đặt" not in an.text
    # Bình's code, typed into a payload by hand.
    for payload in ("default:PC03BB0045678", "unlink:PC03BB0045678", "unlink_ok:PC03BB0045678"):
        texts = await rig.answer("an", payload=payload)
        assert texts[0].startswith("Mã khách hàng này không thuộc tài khoản của Quý khách"), payload
    await an.say("/account")
    assert "PC03BB0045678" not in an.text


async def test_a_stranger_cannot_use_account_buttons(rig: LightRig) -> None:
    stranger = await rig.driver("rest", "stranger")
    for payload in ("default:PC05CC0123456", "unlink_ok:PC05CC0123456", "logout_all_ok"):
        texts = await rig.answer("stranger", payload=payload)
        assert texts[0].startswith("🔑 Mục này cần đăng nhập"), payload
    await stranger.close()


async def test_adding_a_code_needs_a_code_sent_to_that_contracts_phone(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await an.say("/account")
    await an.press("➕ Thêm mã khách hàng")
    await an.say("PC05CC")
    assert an.text.startswith("Mã khách hàng gồm 13 ký tự")
    await an.say("PC05CC9999999")  # no such contract: the same answer, nothing sent
    assert an.text.startswith("Nếu mã PC05CC9999999 đúng và hợp đồng có số điện thoại")
    assert rig.sms.received == []
    await an.say("123456")
    assert an.text.startswith("Mã chưa đúng hoặc đã hết hạn.")
    rig.clock.advance(seconds=61)
    await an.say("/account")
    await an.press("➕ Thêm mã khách hàng")
    await an.say("pc12aa 0056789")  # Hoa's contract; lower case and a space are fine
    assert an.text.startswith("Nếu mã PC12AA0056789 đúng và hợp đồng có số điện thoại")
    assert "0358" not in an.text and "777" not in an.text  # no digits of her phone
    first = rig.sms.last_code(HOA_PHONE)
    rig.clock.advance(seconds=61)
    await an.press("🔁 Gửi lại mã")  # resends the code of THIS flow (adding a code)
    assert len([m for m in rig.sms.received if m["to"] == HOA_PHONE]) == 2
    second = rig.sms.last_code(HOA_PHONE)
    if first != second:
        await an.say(first)
        assert an.text.startswith("Mã chưa đúng hoặc đã hết hạn.")  # the new code replaced it
    await an.say(second)
    assert an.text.startswith("✅ Đã thêm mã PC12AA0056789 — Võ Thị Hoa.")
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an"))
    assert user is not None and user.identity == "portal:annguyen"  # still An, one more code
    await an.press("🗑 Gỡ PC12AA0056789")
    await an.press("✅ Đồng ý")
    assert an.text.startswith("✅ Đã gỡ mã PC12AA0056789.")
    assert "PC12AA0056789 —" not in an.text


async def test_logout_and_logout_everywhere(rig: LightRig) -> None:
    rest = await logged_in_an(rig, "rest")
    web = await logged_in_an(rig, "web")
    telegram = await logged_in_an(rig, "telegram")
    await rest.say("/logout")
    await rest.press("✅ Đồng ý")
    assert rest.text.startswith("Đã đăng xuất khỏi khung chat này.")
    assert "🔑 Đăng nhập" in rest.button_titles
    await web.say("/account")
    await web.press("🚪 Đăng xuất mọi nơi")
    await web.press("✅ Đồng ý")
    assert web.text.startswith("Đã đăng xuất khỏi 2 khung chat.")
    await telegram.say("menu")
    assert "🔑 Đăng nhập" in telegram.button_titles
    async with rig.runtime.db.reading() as session:
        active = list(
            await session.scalars(select(ChatUser).where(ChatUser.activated_at.is_not(None)))
        )
    assert active == []
    for driver in (rest, web, telegram):
        await driver.close()


async def test_delete_my_data_keeps_what_an_open_request_needs(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    db = rig.runtime.db
    async with db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an"))
        assert user is not None
        session.add(
            Media(
                id="kept-photo",
                chat_user_id=user.id,
                content_type="image/png",
                filename="cccd.png",
                size=3,
                data=b"png",
            )
        )
        session.add(
            Media(
                id="old-photo",
                chat_user_id=user.id,
                content_type="image/png",
                filename="x.png",
                size=3,
                data=b"png",
            )
        )
        session.add(
            ServiceRequest(
                code="YC-2026-000001",
                chat_user_id=user.id,
                type="svc_change_owner",
                status="in_progress",
                attachments=[{"type": "photo", "media": "kept-photo"}],
            )
        )
        notice = await outbox.notice_for(session, "bill:1:issued", kind="bill", category="bill")
        (row,) = await outbox.enqueue(
            session, notice, [outbox.Addressee(user, [Reply(text="💡 Hóa đơn")])], now=NOW
        )
        session.add(InboxItem(chat_user_id=user.id, delivery_id=row, text="Sao tiền cao thế?"))
        session.add(NoticeOptOut(chat_user_id=user.id, customer_code="", category="other"))
    await an.say("/forget")
    assert "nhật ký bảo mật" in an.text
    await an.press("✅ Đồng ý")
    assert an.text.startswith("✅ Đã xóa")
    assert "Giữ lại giấy tờ của yêu cầu đang xử lý: YC-2026-000001." in an.text
    async with db.reading() as session:
        media = set(await session.scalars(select(Media.id)))
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an"))
        messages = list(
            await session.scalars(
                select(TranscriptMessage.text).where(TranscriptMessage.direction == "in")
            )
        )
        events = list(await session.scalars(select(SecurityEvent.event)))
        left = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (Delivery, InboxItem, NoticeOptOut)
        ]
    assert media == {"kept-photo"}
    assert left == [0, 0, 0]  # its notices, its answers to them, its subscription choices
    assert user is not None and user.activated_at is None and user.customer_codes == []
    assert messages == []  # only the bot's last answer may follow the deletion
    assert "activation" in events and "data_deleted" in events  # the audit log stays


async def set_pin(driver: Driver, pin: str = "2580") -> None:
    await driver.say("/pin")
    await driver.press("🔒 Đặt mật khẩu")
    await driver.say("12")
    assert driver.text.startswith("Mật khẩu gồm 4–6 chữ số")
    await driver.say(pin)
    await driver.say("9999")
    assert driver.text.startswith("Hai lần nhập không khớp.")
    await driver.say(pin)
    await driver.say(pin)
    assert driver.text.startswith("✅ Đã đặt mật khẩu ứng dụng.")


async def test_the_pin_is_asked_after_15_idle_minutes_and_then_resumes(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await set_pin(an)
    await an.press("🏠 Menu")
    await an.press("💳 Thanh toán")  # just unlocked: no question
    assert an.text == "Quý khách thanh toán cho mã khách hàng nào?"
    rig.clock.advance(minutes=10)
    await an.say("menu")  # activity keeps it unlocked
    rig.clock.advance(minutes=10)
    await an.press("💳 Thanh toán")
    assert an.text == "Quý khách thanh toán cho mã khách hàng nào?"
    rig.clock.advance(minutes=16)
    await an.press("🏠 Menu")
    await an.press("💳 Thanh toán")
    assert an.text == "🔒 Vui lòng nhập mật khẩu ứng dụng để tiếp tục."
    await an.say("1111")
    assert an.text == "Mật khẩu chưa đúng. Quý khách còn 4 lần thử."
    await an.say("2580")
    assert an.text == "Quý khách thanh toán cho mã khách hàng nào?"  # resumed
    assert "2580" not in await rig.transcript_texts()


async def test_changing_or_removing_the_pin_needs_the_current_one(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await set_pin(an)
    await an.press("🔁 Đổi mật khẩu")
    await an.say("0000")
    assert an.text.startswith("Mật khẩu chưa đúng.")
    await an.say("2580")
    await an.say("135790")
    await an.say("135790")
    assert an.text.startswith("✅ Đã đặt mật khẩu ứng dụng.")
    await an.press("🗑 Xóa mật khẩu")
    await an.say("135790")
    assert an.text.startswith("✅ Đã xóa mật khẩu ứng dụng.")
    assert {"pin_set", "pin_changed", "pin_removed", "pin_failed"} <= set(await rig.events())


async def test_five_wrong_pins_log_the_chat_out(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await set_pin(an)
    rig.clock.advance(minutes=20)
    await an.press("🏠 Menu")
    await an.press("💳 Thanh toán")
    for left in (4, 3, 2, 1):
        await an.say("0000")
        assert an.text == f"Mật khẩu chưa đúng. Quý khách còn {left} lần thử."
    await an.say("0000")
    assert an.text.startswith("⚠️ Nhập sai mật khẩu 5 lần nên khung chat đã được đăng xuất")
    await an.press("💳 Thanh toán")
    assert an.text.startswith("🔑 Mục này cần đăng nhập")
    assert "pin_lockout" in await rig.events()


async def test_five_wrong_passwords_lock_this_chat_out_of_the_account_for_15_minutes(
    rig: LightRig,
) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    for left in (4, 3, 2, 1):
        await driver.say("annguyen")
        await driver.say("wrong-password")
        assert driver.text.startswith(
            f"Tên đăng nhập hoặc mật khẩu chưa đúng. Quý khách còn {left}"
        )
    await driver.say("annguyen")
    await driver.say("wrong-password")
    locked = "Vì nhập sai nhiều lần, việc đăng nhập tài khoản này từ khung chat này tạm khóa đến"
    assert driver.text.startswith(locked)
    await driver.press("🏠 Menu")
    await driver.press("🔑 Đăng nhập")
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.say("An@2026cskh")  # right, but locked
    assert driver.text.startswith(locked)
    rig.clock.advance(minutes=15, seconds=1)
    await driver.press("🏠 Menu")
    await driver.press("🔑 Đăng nhập")
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.say("An@2026cskh")
    assert_activated_as_an(driver)


async def test_an_unknown_username_is_answered_like_a_wrong_password(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("nobody-here")
    await driver.say("whatever1")
    assert driver.text.startswith("Tên đăng nhập hoặc mật khẩu chưa đúng. Quý khách còn 4 lần thử.")


async def test_five_wrong_codes_lock_the_phone(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0905123456")
    await driver.press("💬 SMS")
    code = rig.sms.last_code(AN_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        await driver.say(wrong)
        assert driver.text.startswith(
            f"Mã chưa đúng hoặc đã hết hạn. Quý khách còn {left} lần thử."
        )
    await driver.say(wrong)
    assert driver.text.startswith("Vì nhập sai nhiều lần, việc xác thực số này tạm khóa đến")
    assert "lockout" in await rig.events()


async def test_logging_out_is_behind_the_pin_and_a_pin_lockout_needs_a_phone_code(
    rig: LightRig,
) -> None:
    an = await logged_in_an(rig)
    await set_pin(an)
    rig.clock.advance(minutes=20)
    await an.say("/logout")
    assert an.text == "🔒 Vui lòng nhập mật khẩu ứng dụng để tiếp tục."
    for _ in range(5):
        await an.say("0000")
    assert an.text.startswith("⚠️ Nhập sai mật khẩu 5 lần")
    await an.press("🔑 Đăng nhập")
    assert an.button_titles == ["📱 Số điện thoại", "🏠 Menu"]  # no password, no contact
    texts = await rig.answer("an", payload="login_portal")
    assert texts[0] == "Quý khách muốn đăng nhập bằng cách nào?"
    await an.press("📱 Số điện thoại")
    await an.say("0905123456")
    await an.press("💬 SMS")
    await an.say(rig.sms.last_code(AN_PHONE))
    assert_activated_as_an(an)
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an"))
    assert user is not None and user.otp_required is False and user.pin_hash is None


async def test_a_typed_answer_after_idle_time_still_asks_the_pin(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    await set_pin(an)
    await an.say("/lookup")
    await an.press("🧾 Thông tin thanh toán")
    await an.press("PC05CC0123456 — Nguyễn Văn An")
    await an.press("🗓 Kỳ khác")
    rig.clock.advance(minutes=20)
    await an.say("thang 8 nam 2026")
    assert an.text == "🔒 Vui lòng nhập mật khẩu ứng dụng để tiếp tục."


async def test_no_way_in_skips_the_personal_data_notice(rig: LightRig) -> None:
    for payload in ("login_portal", "login_phone", "forgot", "otp:sms"):
        user = f"direct-{payload}"
        texts = await rig.answer(user, payload=payload)
        assert texts[0].startswith("Để kích hoạt, Quý khách đồng ý"), payload


async def test_a_reset_code_is_good_for_ten_minutes_and_logs_out_the_old_password(
    rig: LightRig,
) -> None:
    other = await logged_in_an(rig, "web", "old-session")
    driver = await rig.driver("rest", "resetter")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.press("❓ Quên mật khẩu")
    await driver.say("annguyen")
    await driver.say(rig.sms.last_code(AN_PHONE))
    rig.clock.advance(minutes=11)
    await driver.say("MoiMoi2027")
    assert driver.text.startswith("Để đặt lại mật khẩu, vui lòng nhập tên đăng nhập.")
    rig.clock.advance(seconds=61)
    await driver.say("annguyen")
    await driver.say(rig.sms.last_code(AN_PHONE))
    await driver.say("MoiMoi2027")
    assert driver.text.startswith("✅ Đã đặt lại mật khẩu.")
    await other.say("menu")
    assert "🔑 Đăng nhập" in other.button_titles  # whoever had the old password is out
    await other.close()


@pytest.mark.full_rig  # what the web chat's page shows when it connects again
async def test_web_history_shows_nothing_from_before_a_logout(rig: Rig) -> None:
    web = await logged_in_an(rig, "web", "shared-computer")
    await web.say("/lookup")
    await web.press("🧾 Thông tin thanh toán")
    await web.press("PC05CC0123456 — Nguyễn Văn An")
    assert web.text.startswith("🧾 Tiền điện")
    await web.say("/logout")
    await web.press("✅ Đồng ý")
    assert isinstance(web, WebDriver)
    assert web.socket is not None
    await web.socket.close()
    web.socket = await web.http.ws_connect(
        web.server.base_url + "/webchat/ws", headers={"Origin": web.server.base_url}
    )
    history = (await web.socket.receive_json())["messages"]
    shown = "\n".join(m["text"] for m in history)
    assert "Tiền điện" not in shown and "Kích hoạt thành công" not in shown
    await web.close()


async def test_delete_my_data_works_when_requests_hold_non_media_attachments(rig: LightRig) -> None:
    an = await logged_in_an(rig)
    async with rig.runtime.db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "an"))
        assert user is not None
        session.add(
            Media(
                id="a-photo",
                chat_user_id=user.id,
                content_type="image/png",
                filename="x.png",
                size=3,
                data=b"png",
            )
        )
        session.add(
            ServiceRequest(
                code="YC-2026-000002",
                chat_user_id=user.id,
                type="report_outage",
                status="received",
                attachments=[{"type": "location", "lat": 16.0, "lon": 108.0}],
            )
        )
    await an.say("/forget")
    await an.press("✅ Đồng ý")
    async with rig.runtime.db.reading() as session:
        assert list(await session.scalars(select(Media.id))) == []
