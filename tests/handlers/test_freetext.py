"""Free text through the language model: flows open, doubt asks, chit-chat answers."""

from __future__ import annotations

import pytest

from bot.dialogs.forms import default_forms
from bot.handlers.freetext import form_flows
from tests.handlers.rig import LightRig


async def say(rig: LightRig, text: str, user: str = "free") -> tuple[str, list[str]]:
    driver = await rig.driver("rest", user)
    await driver.say(text)
    return driver.text, driver.button_titles


async def test_an_estimate_is_answered_straight_from_the_sentence(rig: LightRig) -> None:
    text, buttons = await say(rig, "tinh tien 250 so")
    # November 2026 (the test clock): 1279/QĐ-BCT prices, VAT 8 %.
    assert text.splitlines() == [
        "🧾 Tiền điện ước tính cho 250 kWh sinh hoạt, 1 hộ, tháng 11/2026 "
        "(giá theo biểu giá hiện hành):",
        "Bậc 1: 50 kWh × 1.984 đ = 99.200 đ",
        "Bậc 2: 50 kWh × 2.050 đ = 102.500 đ",
        "Bậc 3: 100 kWh × 2.380 đ = 238.000 đ",
        "Bậc 4: 50 kWh × 2.998 đ = 149.900 đ",
        "Cộng 589.600 đ · Thuế GTGT 8% 47.168 đ",
        "Tổng cộng: 636.768 đ",
    ]
    assert buttons == ["🔁 Tính số khác", "⬅ Quay lại", "🏠 Menu"]


async def test_the_estimate_asks_for_the_kwh_when_the_sentence_has_none(rig: LightRig) -> None:
    driver = await rig.driver("rest", "estimator")
    await driver.say("/estimate")
    assert driver.text.startswith("Quý khách dùng bao nhiêu kWh")
    await driver.say("nhiều lắm")
    assert driver.text.startswith("Vui lòng nhập số kWh là số nguyên")
    await driver.say("chập cháy ổ điện")  # danger is answered even mid-question
    assert driver.text.startswith("⚠️ Xin Quý khách tránh xa")
    await driver.say("134 kWh")
    assert driver.text.endswith("Tổng cộng: 305.230 đ")


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        ("mat dien roi", "📝 Xử lý báo mất điện"),  # the urgent report: no login first
        ("ko dong dc tien dien", "🔑 Mục này cần đăng nhập"),  # pay_bill, a personal flow
        ("toi muon gap nhan vien", "👤 Yêu cầu gặp nhân viên"),
        ("hoa don thang 9", "🔑 Mục này cần đăng nhập"),  # lookup_invoice: personal
        ("cam on nhe", "Dạ, rất vui được hỗ trợ Quý khách!"),
        ("hom nay troi co mua khong", "Xin lỗi, tôi chỉ hỗ trợ các việc về dịch vụ điện"),
        ("xin chao", "Xin chào! Tôi là trợ lý CSKH"),
        ("dang nhap bang so dien thoai", "Để kích hoạt, Quý khách đồng ý"),
    ],
)
async def test_a_confident_intent_opens_its_flow(rig: LightRig, sentence: str, answer: str) -> None:
    text, _ = await say(rig, sentence, user=f"u-{sentence}")
    assert text.startswith(answer), text


async def test_doubt_asks_instead_of_guessing(rig: LightRig) -> None:
    text, buttons = await say(rig, "cho toi hoi")
    assert text == "Ý Quý khách là…?"
    assert buttons == ["❓ Hướng dẫn", "👤 Gặp nhân viên", "🏠 Menu"]


async def test_gibberish_gets_the_menu(rig: LightRig) -> None:
    text, buttons = await say(rig, "asdkjh qwe")
    assert text.startswith("Xin lỗi, tôi chưa hiểu ý Quý khách.")
    assert "🔎 Tra cứu" in buttons


@pytest.mark.parametrize("channel", ["web", "telegram"])
async def test_free_text_works_on_every_channel(rig: LightRig, channel: str) -> None:
    driver = await rig.driver(channel, f"free-{channel}")
    await driver.say("tính tiền 134 số")
    assert "Tổng cộng: 305.230 đ" in driver.text
    await driver.say("cho toi hoi")
    assert driver.text == "Ý Quý khách là…?"
    await driver.press("❓ Hướng dẫn")
    assert driver.text.startswith("Tôi giúp Quý khách")
    await driver.close()


def test_the_service_intents_open_the_forms_that_declare_them() -> None:
    """The flows freetext.py listed by form id before domain.yml declared them."""
    assert form_flows(default_forms()) == {
        "report_outage": "svc:report_outage",
        "svc_new_connection": "svc:svc_new_connection",  # home or business: a choice
        "svc_change_info": "svc:svc_change_info",
        "svc_change_capacity": "svc:svc_change_capacity",
        "svc_move_meter": "svc:svc_move_meter",
        "svc_check_meter": "svc:svc_check_meter",
        "svc_change_purpose": "svc:svc_change_purpose",
        "svc_change_quota": "svc:svc_change_quota",
        "svc_renew_contract": "svc:svc_renew_contract",
        "svc_terminate_contract": "svc:svc_terminate_contract",
        "svc_reconnect": "svc:svc_reconnect",
        "svc_change_payment_method": "svc:svc_change_payment_method",
        "svc_change_owner": "svc:svc_change_owner",
        "consult_usage": "svc:consult_usage",
        "consult_design": "svc:consult_design",
        "complaint": "svc:complaint",
    }
