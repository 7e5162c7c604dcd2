"""Activation and login as a demo persona, on REST, web chat and Telegram.

On the light rig codes go to in-process providers. The full-rig cases make them really
travel: SMS through a fake HTTP gateway to a REST customer, and a typed password taken
off a Telegram chat through a fake Bot API that the real aiogram talks to.
"""

from __future__ import annotations

import pytest

from bot.core.messages import ChannelCaps, Incoming, KeyboardRequest
from tests.drivers import TelegramDriver
from tests.handlers.rig import (
    AN_PHONE,
    CHANNELS,
    ChatRig,
    LightRig,
    Rig,
    assert_activated_as_an,
    start_login,
)

FULL = pytest.mark.full_rig


@pytest.mark.parametrize("channel", [pytest.param("rest", marks=FULL), "web", "telegram"])
async def test_activation_by_sms_code(rig: ChatRig, channel: str) -> None:
    driver = await rig.driver(channel)
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0905 123 456")
    await driver.press("💬 SMS")
    assert driver.text == (
        "Nếu số 0905 *** 456 có trong hợp đồng, mã 6 số đã được gửi. "
        "Vui lòng nhập mã (hiệu lực 5 phút)."
    )
    code = rig.sms.last_code(AN_PHONE)
    await driver.say(code)
    assert_activated_as_an(driver)
    assert code not in await rig.transcript_texts()  # a code is never kept
    await driver.close()


@pytest.mark.parametrize("channel", CHANNELS)
async def test_activation_by_email_code(rig: LightRig, channel: str) -> None:
    driver = await rig.driver(channel)
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0905123456")
    await driver.press("✉️ Email")
    assert driver.text.startswith("Nếu số 0905 *** 456 có trong hợp đồng và đã đăng ký email")
    (mail,) = rig.smtp.messages
    assert mail["To"] == "an.nguyen@example.com"
    assert mail["Subject"] == "Mã xác thực CSKH Điện lực miền Trung"
    await driver.say(rig.smtp.last_code("an.nguyen@example.com"))
    assert_activated_as_an(driver)
    await driver.close()


@pytest.mark.parametrize("channel", ["rest", "web", pytest.param("telegram", marks=FULL)])
async def test_activation_by_username_and_password(rig: ChatRig, channel: str) -> None:
    driver = await rig.driver(channel)
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("AnNguyen")
    await driver.say("An@2026cskh")
    assert_activated_as_an(driver)
    assert "An@2026cskh" not in await rig.transcript_texts()
    if isinstance(driver, TelegramDriver):  # the typed password leaves the chat
        assert isinstance(rig, Rig)
        (deleted,) = rig.telegram.sent("deleteMessage", driver.chat_id)
        assert int(deleted.fields["message_id"]) == driver.last_message_id
    assert "login_success" in await rig.events()
    await driver.close()


async def test_telegram_contact_activates_only_with_ones_own_number(rig: LightRig) -> None:
    driver = await rig.driver("telegram")
    await start_login(driver)
    assert "📲 Chia sẻ số điện thoại của tôi" in driver.button_titles
    await driver.share_contact("84905123456", own=False)  # somebody else's card
    assert driver.text.startswith("Vui lòng chia sẻ số điện thoại của chính Quý khách")
    await driver.share_contact("84905123456", own=True)
    assert_activated_as_an(driver)
    assert rig.sms.received == []  # Telegram vouched for the number: no code needed


async def test_the_contact_button_follows_what_the_channel_can_do_not_its_name(
    rig: LightRig,
) -> None:
    engine = rig.runtime.engine
    for user_id, can in (("vouches", True), ("cannot", False)):
        for payload in ("login", "consent:yes"):
            replies = await engine.handle(
                Incoming(
                    channel="rest",
                    user_id=user_id,
                    payload=payload,
                    channel_caps=ChannelCaps(verified_contact=can),
                )
            )
        assert replies[-1].text == "Quý khách muốn đăng nhập bằng cách nào?"
        asked = [request.kind for reply in replies for request in reply.requests]
        assert asked == ([KeyboardRequest.CONTACT] if can else [])


async def test_a_verified_number_on_no_contract_is_told_so(rig: LightRig) -> None:
    driver = await rig.driver("telegram")
    await start_login(driver)
    await driver.share_contact("84911000111")
    assert driver.text.startswith("Số 0911 *** 111 chưa có trong hợp đồng mua bán điện nào.")


async def test_an_unknown_phone_gets_the_same_answer_and_no_sms(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0911 000 111")
    await driver.press("💬 SMS")
    assert driver.text == (
        "Nếu số 0911 *** 111 có trong hợp đồng, mã 6 số đã được gửi. "
        "Vui lòng nhập mã (hiệu lực 5 phút)."
    )
    assert rig.sms.received == []
    await driver.say("123456")
    assert driver.text.startswith("Mã chưa đúng hoặc đã hết hạn. Quý khách còn 4 lần thử.")


async def test_bad_input_is_corrected_with_an_example(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("12345")
    assert driver.text == (
        "Số điện thoại chưa đúng. Vui lòng nhập số di động 10 số, ví dụ 0905 123 456."
    )
    await driver.say("0236 3822 123")  # a landline: no SMS code reaches it
    assert driver.text.startswith("Số điện thoại chưa đúng. Vui lòng nhập số di động 10 số")
    await driver.say("0905123456")
    await driver.press("💬 SMS")
    await driver.say("12ab")
    assert driver.text == "Mã gồm 6 chữ số, ví dụ 482913. Vui lòng nhập lại."


async def test_declining_the_notice_does_not_activate(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await driver.say("/start")
    await driver.press("🔑 Đăng nhập")
    await driver.press("Không đồng ý")
    assert driver.text.startswith("Quý khách chưa đồng ý nên chưa thể kích hoạt.")
    await driver.say("/start")
    assert "🔑 Đăng nhập" in driver.button_titles


async def test_sms_failure_offers_email(rig: LightRig) -> None:
    rig.sms.failures = [400]
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say("0905123456")
    await driver.press("💬 SMS")
    # The answer never waits for the gateway (it would tell a known phone from an
    # unknown one); the failure follows as a message of its own.
    assert driver.text.startswith("Nếu số 0905 *** 456 có trong hợp đồng")
    await driver.receive_pushes()
    assert (
        driver.text
        == "Xin lỗi, tin nhắn SMS chưa gửi được. Quý khách vui lòng chọn nhận mã qua Email."
    )
    await driver.press("✉️ Email")
    await driver.say(rig.smtp.last_code("an.nguyen@example.com"))
    assert_activated_as_an(driver)


async def test_a_locked_feature_continues_after_login(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await driver.say("/start")
    await driver.press("💳 Thanh toán")
    assert driver.text.startswith("🔑 Mục này cần đăng nhập")
    await driver.press("🔑 Đăng nhập")
    await driver.press("✅ Đồng ý")
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.say("An@2026cskh")
    assert_activated_as_an(driver)
    await driver.press("⭐ PC05CC0123456 — Nguyễn Văn An")  # the default, asked once
    assert "Thanh toán 320.652 đ cho mã PC05CC0123456:" in driver.text  # resumed


async def test_forgot_password_resets_through_an_sms_code(rig: LightRig) -> None:
    driver = await rig.driver("rest")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.press("❓ Quên mật khẩu")
    await driver.say("annguyen")
    assert driver.text.startswith("Nếu tên đăng nhập đúng, mã 6 số đã được gửi qua SMS")
    await driver.say(rig.sms.last_code(AN_PHONE))
    await driver.say("short")
    assert driver.text.startswith("Mật khẩu cần ít nhất 8 ký tự")
    await driver.say("MoiMoi2027")
    assert driver.text.startswith("✅ Đã đặt lại mật khẩu.")
    assert "PC05CC0123456" in driver.text
    other = await rig.driver("rest", "second-phone")
    await start_login(other)
    await other.press("👤 Tên đăng nhập/mật khẩu")
    await other.say("annguyen")
    await other.say("MoiMoi2027")
    assert_activated_as_an(other)
