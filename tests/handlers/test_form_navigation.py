"""Navigation typed instead of tapped (issue 15, point 2): "quay lại", "hủy" and "menu"
typed with or without diacritics do what the ⬅ / ✖ / 🏠 buttons do, in a form, on its
summary and on every other question with such a button."""

from __future__ import annotations

import pytest

from bot.dialogs.forms import default_forms
from tests.drivers import Driver
from tests.handlers.rig import LightRig
from tests.handlers.test_services import STEP, answer, field_asked, logged_in

FORMS = default_forms()
METER = FORMS["svc_check_meter"]
PAYMENT = FORMS["svc_change_payment_method"]
CONTRACT = "📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện"
TAPPED = "(tapped)"
BACK_TYPED = ["quay lai", "quay lại", "Quay lại", "QUAY LAI", "trở lại", "back"]
SUBS = "🔔 Nhận thông báo"
CANCEL_TYPED = ["huy", "hủy", "Hủy", "huỷ bỏ", "cancel"]


async def open_form(driver: Driver, form_id: str) -> None:
    await driver.say("/services")
    await driver.press(CONTRACT)
    await driver.press(FORMS[form_id].title["vi"])


async def at_third_question(rig: LightRig, name: str) -> Driver:
    """An in the meter inspection form, at its third question (the description)."""
    driver = await logged_in(rig, "rest", name)
    await open_form(driver, "svc_check_meter")
    await answer(driver, field_asked(METER, driver.text))
    await answer(driver, field_asked(METER, driver.text))
    assert field_asked(METER, driver.text).name == "description"
    return driver


async def at_summary(rig: LightRig, name: str) -> Driver:
    driver = await logged_in(rig, "rest", name)
    await open_form(driver, "svc_change_payment_method")
    while "kiểm tra lại" not in driver.text:
        await answer(driver, field_asked(PAYMENT, driver.text))
    return driver


async def navigate(driver: Driver, typed: str, button: str) -> None:
    if typed == TAPPED:
        await driver.press(button)
    else:
        await driver.say(typed)


@pytest.mark.parametrize("typed", [TAPPED, *BACK_TYPED])
async def test_back_typed_in_a_form_goes_back_one_question_as_the_button_does(
    rig: LightRig, typed: str
) -> None:
    driver = await at_third_question(rig, "back-step")
    await navigate(driver, typed, "⬅ Quay lại")
    step = STEP.search(driver.text)
    assert step is not None, driver.text
    assert step.group(1) == "2" and field_asked(METER, driver.text).name == "issue"
    assert driver.button_titles[-2:] == ["⬅ Quay lại", "✖ Hủy"]
    await navigate(driver, typed, "⬅ Quay lại")  # and again: the first question
    assert field_asked(METER, driver.text).name == "customer_code"


@pytest.mark.parametrize("typed", [TAPPED, "quay lai", "quay lại"])
async def test_back_on_the_summary_returns_to_the_last_question(rig: LightRig, typed: str) -> None:
    driver = await at_summary(rig, "back-summary")
    assert "⬅ Quay lại" in driver.button_titles
    await navigate(driver, typed, "⬅ Quay lại")
    assert field_asked(PAYMENT, driver.text).name == "contact_phone"
    await answer(driver, field_asked(PAYMENT, driver.text))
    assert "kiểm tra lại" in driver.text  # answered again: the summary again


@pytest.mark.parametrize("typed", [TAPPED, *CANCEL_TYPED])
async def test_cancel_typed_in_a_form_asks_then_really_drops_the_draft(
    rig: LightRig, typed: str
) -> None:
    driver = await at_third_question(rig, "cancel-step")
    await navigate(driver, typed, "✖ Hủy")
    assert driver.text.startswith("Hủy đơn “Kiểm tra công tơ và thiết bị đo đếm”?")
    await driver.press("▶ Tiếp tục")  # changed their mind: the same question
    assert field_asked(METER, driver.text).name == "description"
    await navigate(driver, typed, "✖ Hủy")
    await driver.say("quay lại")  # back from the question "Hủy đơn …?": the form again
    assert field_asked(METER, driver.text).name == "description"
    await navigate(driver, typed, "✖ Hủy")
    await driver.press("✖ Hủy đơn")
    assert driver.text.startswith("Đã hủy đơn “Kiểm tra công tơ và thiết bị đo đếm”.")
    await driver.say("/services")
    assert not any(t.startswith("▶ Tiếp tục") for t in driver.button_titles)


@pytest.mark.parametrize("typed", ["huy", "hủy"])
async def test_cancel_typed_on_the_summary_and_at_its_confirmation_drops_the_draft(
    rig: LightRig, typed: str
) -> None:
    driver = await at_summary(rig, "cancel-summary")
    await driver.say(typed)
    assert driver.text.startswith("Hủy đơn “Thay đổi hình thức thanh toán tiền điện”?")
    await driver.say(typed)  # "hủy" answering "Hủy đơn …?" is a yes
    assert driver.text.startswith("Đã hủy đơn “Thay đổi hình thức thanh toán tiền điện”.")
    await driver.say("dich vu")
    assert not any(t.startswith("▶ Tiếp tục") for t in driver.button_titles)


@pytest.mark.parametrize("typed", ["menu", "Menu", "🏠 Menu", "trang chủ"])
async def test_menu_typed_in_a_form_keeps_the_draft_and_says_so(rig: LightRig, typed: str) -> None:
    driver = await at_third_question(rig, "menu-step")
    await driver.say(typed)
    assert driver.text.startswith(
        "Đơn “Kiểm tra công tơ và thiết bị đo đếm” được lưu ở bước 3/6."
    ), driver.text
    assert "🛠 Dịch vụ" in driver.button_titles  # the main menu
    await driver.press("🛠 Dịch vụ")
    assert driver.button_titles[0] == "▶ Tiếp tục đơn dở"
    await driver.press("▶ Tiếp tục đơn dở")
    assert field_asked(METER, driver.text).name == "description"


async def test_the_main_menu_offers_the_draft_back(rig: LightRig) -> None:
    driver = await at_third_question(rig, "menu-continue")
    await driver.say("menu")
    await driver.press("▶ Tiếp tục đơn dở")
    assert field_asked(METER, driver.text).name == "description"


async def test_back_on_the_telegram_location_keyboard_goes_back_one_question(
    rig: LightRig,
) -> None:
    """Telegram shows a question with a location button as a reply keyboard, whose
    buttons send their titles as text: "⬅ Quay lại" arrives typed."""
    driver = await logged_in(rig, "telegram", "tg-location")
    await open_form(driver, "report_outage")
    await driver.press("Vị trí hiện tại của tôi")
    assert driver.buttons[-1].get("typed")  # a reply keyboard
    await driver.press("⬅ Quay lại")
    assert field_asked(FORMS["report_outage"], driver.text).name == "where"


async def same_either_way(
    rig: LightRig, name: str, steps: list[str], button: str, *, log_in: bool = True
) -> None:
    """After `steps` (titles pressed, or texts typed when no such button shows), typing
    the navigation word gives what pressing `button` gives."""
    answers = []
    for how, word in (("tap", button), ("type", "quay lai")):
        user = f"{name}-{how}"
        driver = await (logged_in(rig, "rest", user) if log_in else rig.driver("rest", user))
        for step in steps:
            if step in driver.button_titles:
                await driver.press(step)
            else:
                await driver.say(step)
        assert button in driver.button_titles, driver.button_titles
        await navigate(driver, TAPPED if how == "tap" else word, button)
        answers.append((driver.text, driver.button_titles))
    assert answers[0] == answers[1]


async def test_back_typed_at_the_pin_question_is_the_button(rig: LightRig) -> None:
    await same_either_way(rig, "pin-back", ["/pin", "🔒 Đặt mật khẩu"], "⬅ Quay lại")


async def test_back_typed_at_the_language_choice_is_the_button(rig: LightRig) -> None:
    await same_either_way(rig, "lang-back", ["/settings", "🌐 Ngôn ngữ / Language"], "⬅ Quay lại")


async def test_back_typed_at_the_notice_settings_is_the_button(rig: LightRig) -> None:
    await same_either_way(rig, "subs-back", ["/settings", SUBS], "⬅ Quay lại")


async def test_back_typed_at_the_login_phone_question_is_the_button(rig: LightRig) -> None:
    steps = ["/start", "🔑 Đăng nhập", "✅ Đồng ý", "📱 Số điện thoại"]
    await same_either_way(rig, "login-back", steps, "⬅ Quay lại", log_in=False)


@pytest.mark.parametrize("typed", ["menu", "trang chu"])
async def test_menu_typed_on_the_summary_keeps_the_filled_form(rig: LightRig, typed: str) -> None:
    driver = await at_summary(rig, "menu-summary")
    await driver.say(typed)
    assert driver.text.startswith(
        "Đơn “Thay đổi hình thức thanh toán tiền điện” đã điền xong và được lưu, chưa gửi."
    )
    await driver.press("▶ Tiếp tục đơn dở")
    assert "kiểm tra lại" in driver.text and "📨 Gửi yêu cầu" in driver.button_titles
