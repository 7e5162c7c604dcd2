"""A form's summary as the customer sees it on a phone (issue 15, point 8): each "✏️"
button names its answer whole, in a few words, in Vietnamese and in English."""

from __future__ import annotations

import pytest

from bot.dialogs.forms import default_forms
from tests.handlers.rig import LightRig
from tests.handlers.test_services import answer, field_asked, logged_in

FORMS = default_forms()
BUTTON_CHARS = 24  # what a phone shows on a button, two to a row
HOUSEHOLD = FORMS["svc_new_household"]
GROUP = {"vi": "🔌 Dịch vụ cung cấp điện mới", "en": "🔌 New connection"}
EDITS = {
    "vi": [
        "✏️ Địa chỉ cấp điện",
        "✏️ Công suất dự kiến",
        "✏️ Kéo dây, xây trạm",
        "✏️ Họ tên chủ hợp đồng",
        "✏️ Số CCCD",
        "✏️ Số điện thoại",
        "✏️ Email",
        "✏️ Ảnh CCCD",
        "✏️ Ảnh giấy tờ nhà đất",
    ],
    "en": [
        "✏️ Site address",
        "✏️ Expected load",
        "✏️ Line or substation",
        "✏️ Holder's name",
        "✏️ ID card number",
        "✏️ Phone number",
        "✏️ E-mail",
        "✏️ ID card photos",
        "✏️ Site document photos",
    ],
}


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_summary_edit_buttons_are_whole_names_that_fit_a_phone(
    rig: LightRig, lang: str
) -> None:
    driver = await logged_in(rig, "rest", f"edits-{lang}")
    if lang == "en":
        await driver.say("/language")
        await driver.press("English")
    await driver.say("/services")
    await driver.press(GROUP[lang])
    await driver.press(HOUSEHOLD.title[lang])
    for _ in range(20):
        if driver.text.startswith("📋"):
            break
        await answer(driver, field_asked(HOUSEHOLD, driver.text, lang), lang)
    edits = [title for title in driver.button_titles if title.startswith("✏️")]
    assert edits == EDITS[lang]
    assert all(len(title) <= BUTTON_CHARS for title in driver.button_titles)
    await driver.press(EDITS[lang][1])  # and the button does change that answer
    assert field_asked(HOUSEHOLD, driver.text, lang).name == "capacity_kw"
