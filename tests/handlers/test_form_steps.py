"""The step counter of a form as a customer reads it (issue 15, point 12): one number
more per question, the same total throughout, and a word when an answer adds or
removes questions."""

from __future__ import annotations

import re

import pytest

from bot.dialogs.forms import FieldSpec, default_forms
from tests.channels.test_webchat import PNG
from tests.drivers import Driver
from tests.handlers.rig import LightRig
from tests.handlers.test_services import answer, field_asked, logged_in

FORMS = default_forms()
STEP = re.compile(r"^(?:Bước|Step) (\d+)/(\d+) — (.*)$", re.MULTILINE)
MORE = re.compile(r"^Với câu trả lời vừa rồi, đơn (có thêm|bớt) (\d+) bước\.$", re.MULTILINE)
GROUPS = {
    "new_connection": "🔌 Dịch vụ cung cấp điện mới",
    "contract": "📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện",
    "support": "💬 Các dịch vụ hỗ trợ",
}


async def answer_message_by_message(driver: Driver, field: FieldSpec, seen: list[str]) -> None:
    """`answer`, one message at a time, keeping every text the customer reads."""
    if field.type == "address" and "Theo hồ sơ:" not in driver.text:
        await driver.say("12 Trần Phú")
        seen.append(driver.text)
        await driver.say("phường Hội An, Đà Nẵng")
    elif field.type == "photos":
        for _ in range(int(field.params.get("min", 1))):
            await driver.send_photo(PNG)
            seen.append(driver.text)
        if "✅ Xong" in driver.button_titles:
            await driver.press("✅ Xong")
    else:
        await answer(driver, field)
    seen.append(driver.text)


async def walk(driver: Driver, form_id: str, choose: dict[str, str] | None = None) -> list[str]:
    """Every text read from the form's first question to its summary; `choose` names
    the option to press or the text to type for a question (by field name), else
    `answer`'s."""
    form = FORMS[form_id]
    await driver.say("/services")
    await driver.press(GROUPS[form.group])
    await driver.press(form.title["vi"])
    seen = [driver.text]
    while "kiểm tra lại" not in driver.text:
        field = field_asked(form, driver.text)
        if choose and field.name in choose:
            if choose[field.name] in driver.button_titles:
                await driver.press(choose[field.name])
            else:
                await driver.say(choose[field.name])
            seen.append(driver.text)
        else:
            await answer_message_by_message(driver, field, seen)
    return seen


def assert_counts_honestly(seen: list[str]) -> None:
    """Each new question is the next number; a number shown again is the same question
    (a photo received, asked for the next); the total moves only with a word saying so."""
    previous: tuple[int, int, str] | None = None
    for text in seen:
        step = STEP.search(text)
        if step is None:
            continue
        number, total, prompt = int(step.group(1)), int(step.group(2)), step.group(3)
        if previous is None:
            assert number == 1, text
        elif number == previous[0]:
            assert prompt == previous[2], f"step {number} shown for two questions: {text}"
        else:
            assert number == previous[0] + 1, text
        if previous is not None and total != previous[1]:
            said = MORE.search(text)
            assert said is not None, f"the total moved from {previous[1]} silently: {text}"
            change = int(said.group(2)) * (1 if said.group(1) == "có thêm" else -1)
            assert total == previous[1] + change, text
        previous = (number, total, prompt)
    assert previous is not None and previous[0] == previous[1], "the last step is the total"


async def test_the_address_ward_is_not_a_second_step_one(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "steps-household")
    seen = await walk(driver, "svc_new_household")
    assert "\nBước 1/9 — Địa chỉ nơi cần cấp điện" in seen[0]  # under the form's intro
    assert seen[1].startswith("Phường/xã và tỉnh/thành phố?")  # the same step, continued
    assert seen[2].startswith("Bước 2/9 — ")
    assert_counts_honestly(seen)


async def test_the_outage_report_keeps_its_total_whatever_the_place(rig: LightRig) -> None:
    for n, where in enumerate(("Địa chỉ trên hợp đồng", "Địa chỉ khác")):
        driver = await logged_in(rig, "rest", f"steps-outage-{n}")
        seen = await walk(driver, "report_outage", {"where": where})
        assert "\nBước 1/6 — Mất điện ở đâu?" in seen[0]
        assert seen[1].startswith("Bước 2/6 — ")
        assert_counts_honestly(seen)


async def test_an_answer_adding_questions_says_so(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "steps-debit")
    choose = {"method": "Trích nợ tự động", "bank_account": "0123456789", "bank_name": "VCB"}
    seen = await walk(driver, "svc_change_payment_method", choose)
    assert seen[1].startswith("Bước 2/3 — Hình thức thanh toán mới?")
    assert seen[2].splitlines()[:2] == [
        "Với câu trả lời vừa rồi, đơn có thêm 2 bước.",
        "Bước 3/5 — Số tài khoản ngân hàng để trích nợ? Ví dụ: 0123456789.",
    ]
    assert_counts_honestly(seen)


@pytest.mark.parametrize("form_id", list(FORMS))
async def test_every_form_counts_its_steps_honestly(rig: LightRig, form_id: str) -> None:
    driver = await logged_in(rig, "rest", f"steps-{form_id}")
    assert_counts_honestly(await walk(driver, form_id))
