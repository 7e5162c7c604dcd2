"""Smaller things a customer notices in a form (issue 15, point 12): the text names the
location button as it is, "Bỏ qua" gives way to "Xong" once a photo came, the e-mail on
file is offered as the phone is, the outage report's summary shows the address itself,
dates as people say them ("thứ hai tuần sau", "cuối tháng") are taken, and deleting
one's data claims only the documents really kept."""

from __future__ import annotations

import re

import pytest

from bot.dialogs.forms import default_forms
from tests.channels.test_webchat import PNG
from tests.drivers import Driver
from tests.handlers.rig import LightRig
from tests.handlers.test_form_navigation import open_form
from tests.handlers.test_services import answer, complete, field_asked, logged_in

FORMS = default_forms()
OUTAGE = FORMS["report_outage"]
AN_ADDRESS = "12 Trần Phú, Phường Hội An, Thành phố Đà Nẵng"


async def until(driver: Driver, form_id: str, name: str) -> None:
    """Answer the form's questions up to the one named `name`."""
    form = FORMS[form_id]
    for _ in range(20):
        if field_asked(form, driver.text).name == name:
            return
        await answer(driver, field_asked(form, driver.text))
    raise AssertionError(f"{name} never asked")


async def test_the_location_question_names_its_button_as_it_is(rig: LightRig) -> None:
    driver = await logged_in(rig, "telegram", "location-words")
    await open_form(driver, "report_outage")
    await driver.press("Vị trí hiện tại của tôi")
    (button,) = [b["title"] for b in driver.buttons if b.get("request")]
    assert button == "📍 Gửi vị trí"
    assert f"“{button}”" in driver.text, driver.text


async def test_a_photo_received_turns_skip_into_done(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "photo-skip")
    await driver.say("/services")
    await driver.press("💬 Các dịch vụ hỗ trợ")
    await driver.press(FORMS["consult_usage"].title["vi"])
    await until(driver, "consult_usage", "photos")
    assert "Bỏ qua" in driver.button_titles  # nothing sent yet: it may be skipped
    await driver.send_photo(PNG)
    assert "Đã nhận 1 ảnh" in driver.text
    assert "✅ Xong" in driver.button_titles and "Bỏ qua" not in driver.button_titles


async def test_the_email_on_file_is_offered_as_the_phone_is(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "email-offer")
    await driver.say("/services")
    await driver.press("🔌 Dịch vụ cung cấp điện mới")
    await driver.press("Cấp điện sinh hoạt")
    await until(driver, "svc_new_household", "phone")
    assert "Theo hồ sơ: 0905 123 456" in driver.text
    await driver.press("✅ Đúng")
    assert field_asked(FORMS["svc_new_household"], driver.text).name == "email"
    assert "Theo hồ sơ: an.nguyen@example.com" in driver.text
    await driver.press("✅ Đúng")
    assert field_asked(FORMS["svc_new_household"], driver.text).name == "id_photos"


async def test_the_outage_summary_shows_the_address_not_the_option(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "outage-where")
    await open_form(driver, "report_outage")
    await driver.press("Địa chỉ trên hợp đồng")
    await driver.press("PC05CC0123456")
    while "kiểm tra lại" not in driver.text:
        await answer(driver, field_asked(OUTAGE, driver.text))
    lines = driver.text.splitlines()
    assert f"• Mất điện ở đâu: PC05CC0123456 — {AN_ADDRESS}" in lines
    assert "Địa chỉ trên hợp đồng" not in driver.text
    # Changed to another address from the summary: that address is asked, then shown.
    await driver.press("✏️ Nơi mất điện")
    await driver.press("Địa chỉ khác")
    assert field_asked(OUTAGE, driver.text).name == "address"
    await driver.say("45 Lê Lợi")
    await driver.say("phường Hội An, Đà Nẵng")
    assert "• Mất điện ở đâu: 45 Lê Lợi, Phường Hội An, Thành phố Đà Nẵng" in driver.text
    assert "PC05CC0123456" not in driver.text


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("thứ hai tuần sau", "30/11/2026"),  # the test clock's today: Thursday 26/11/2026
        ("thu hai tuan sau", "30/11/2026"),
        ("cuối tháng", "30/11/2026"),
        ("cuoi thang", "30/11/2026"),
        ("thứ 6 tuần sau", "04/12/2026"),
        ("next monday", "30/11/2026"),
        ("end of the month", "30/11/2026"),
    ],
)
async def test_dates_as_people_say_them_are_taken(rig: LightRig, said: str, shown: str) -> None:
    driver = await logged_in(rig, "rest", "dates")
    await open_form(driver, "svc_check_meter")
    await until(driver, "svc_check_meter", "inspection_date")
    await driver.say(said)
    assert field_asked(FORMS["svc_check_meter"], driver.text).name == "contact_phone"
    await answer(driver, field_asked(FORMS["svc_check_meter"], driver.text))
    assert f"• Ngày Quý khách muốn kiểm tra: {shown}" in driver.text.splitlines()


async def test_deleting_my_data_claims_kept_documents_only_for_requests_with_some(
    rig: LightRig,
) -> None:
    driver = await logged_in(rig, "rest", "forget-claims")
    without = re.search(r"YC-2026-\d{6}", await complete(driver, "svc_reconnect"))
    with_photos = re.search(r"YC-2026-\d{6}", await complete(driver, "svc_renew_contract"))
    assert without is not None and with_photos is not None
    await driver.say("/forget")
    await driver.press("✅ Đồng ý")
    assert driver.text.startswith("✅ Đã xóa")
    assert f"Giữ lại giấy tờ của yêu cầu đang xử lý: {with_photos.group(0)}." in driver.text
    assert without.group(0) not in driver.text


async def test_deleting_my_data_after_a_request_without_documents_claims_none(
    rig: LightRig,
) -> None:
    driver = await logged_in(rig, "rest", "forget-none")
    await complete(driver, "svc_reconnect")  # no photos asked
    await driver.say("/forget")
    await driver.press("✅ Đồng ý")
    assert driver.text.startswith("✅ Đã xóa")
    assert "giấy tờ" not in driver.text
