"""Free text through the language model: flows open, doubt asks, chit-chat answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.core.fmt import LOCAL_TZ
from bot.dialogs.forms import default_forms
from bot.handlers.freetext import form_flows, opens_at_once
from bot.notify.outages import create_outage
from bot.notify.segments import Area
from nlu.model import CONFIDENT, FORM_CONFIDENT, Parse
from tests.handlers.rig import LightRig, password_login


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


# --- English (issue 15) -------------------------------------------------------------------

DUNG = ("dungpham", "Dung@2026cskh")  # one code, in phường Pleiku
FOLLOWED_EN = "🌐 I'll answer in English. Để tiếp tục bằng tiếng Việt, gõ “tiếng Việt”."
FORMS = default_forms()


def form_opening(form_id: str, lang: str) -> str:
    """How a form's first message begins (its title, as domain.yml has it)."""
    return f"📝 {FORMS[form_id].title[lang]}"


async def test_an_english_question_gets_in_english_what_its_button_gives(rig: LightRig) -> None:
    typed = await password_login(rig, "rest", "typed", *DUNG)  # a Vietnamese chat
    await typed.say("I want to pay my bill")
    assert typed.replies[0].text == FOLLOWED_EN
    tapped = await password_login(rig, "rest", "tapped", *DUNG)
    await tapped.say("English please")
    await tapped.press("💳 Pay")
    assert [r.text for r in typed.replies[1:]] == [r.text for r in tapped.replies]
    assert typed.button_titles == tapped.button_titles


async def test_an_english_bill_question_gets_the_bill_lookup_in_english(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await dung.say("How much is my electricity bill?")
    assert dung.replies[0].text == FOLLOWED_EN
    latest = (await rig.runtime.engine.services.backend.bills("PC10AA0034567"))[0]
    # The latest bill, or a choice of periods starting with it (issue 15, point 7 decides).
    shown = "\n".join([dung.replies[-1].text, *dung.button_titles])
    assert f"{latest.month:02d}/{latest.year}" in shown
    assert "🔎 Look up" not in dung.button_titles and "Did you mean" not in shown


@pytest.mark.parametrize("sentence", ["no electricity", "power outage in my area"])
async def test_an_english_outage_report_opens_the_outage_report_in_english(
    rig: LightRig, sentence: str
) -> None:
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await dung.say(sentence)
    assert dung.replies[0].text == FOLLOWED_EN
    assert dung.replies[1].text.startswith(form_opening("report_outage", "en"))


async def test_english_please_switches_the_language_even_in_the_middle_of_a_form(
    rig: LightRig,
) -> None:
    driver = await rig.driver("rest", "tourist")
    await driver.say("English please")
    assert driver.text == "Switched to English."
    assert "🔎 Look up" in driver.button_titles
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await dung.say("mất điện rồi")
    assert "Mất điện ở đâu?" in dung.replies[-1].text
    await dung.say("in English")
    assert dung.replies[0].text == "Switched to English."
    asked = dung.replies[-1].text
    assert asked.startswith("Step 1/") and "Where is the power out?" in asked
    assert "My contract address" in dung.button_titles
    await dung.say("nói tiếng Việt")
    assert dung.replies[0].text == "Đã chuyển sang tiếng Việt."
    asked = dung.replies[-1].text
    assert asked.startswith("Bước 1/") and "Mất điện ở đâu?" in asked


@pytest.mark.parametrize(
    ("sentence", "answer"),
    [
        ("ok", "Dạ. Quý khách cần tôi hỗ trợ gì tiếp theo?"),
        ("thank you", "Dạ, rất vui được hỗ trợ Quý khách!"),
        ("mat dien roi", "📝 Xử lý báo mất điện"),
        ("PC05CC0123456", ""),  # a code is no language: whatever it gets, in Vietnamese
        ("asdkjh qwe", "Xin lỗi, tôi chưa hiểu ý Quý khách."),
    ],
)
async def test_short_words_codes_and_vietnamese_without_accents_stay_vietnamese(
    rig: LightRig, sentence: str, answer: str
) -> None:
    driver = await rig.driver("rest", f"vi-{sentence}")
    await driver.say(sentence)
    assert "🌐" not in driver.text
    assert driver.text.startswith(answer), driver.text
    await driver.say("menu")
    assert "🔎 Tra cứu" in driver.button_titles


async def test_a_clearly_vietnamese_sentence_brings_an_english_chat_back_to_vietnamese(
    rig: LightRig,
) -> None:
    driver = await rig.driver("rest", "back-to-vi")
    await driver.say("English please")
    await driver.say("thanks")  # English to both: stays English
    assert driver.text == "You're welcome, glad to help!"
    await driver.say("tien dien bao nhieu")
    assert driver.replies[0].text.startswith("🌐 Tôi sẽ trả lời bằng tiếng Việt.")
    assert driver.replies[-1].text.startswith("🔑 Mục này cần đăng nhập")


# --- "when will the power be back" (issue 15) ---------------------------------------------


async def at_dungs_planned_outage(rig: LightRig) -> None:
    """28/11/2026 09:00, during Dung's planned outage (07:00–15:30 in phường Pleiku)."""
    during = datetime(2026, 11, 28, 9, 0, tzinfo=LOCAL_TZ)
    rig.clock.advance(seconds=(during - rig.clock.now()).total_seconds())


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("khi nào có điện lại", "Điện dự kiến có lại lúc 15:30."),
        ("bao gio co dien lai vay", "Điện dự kiến có lại lúc 15:30."),
        ("when will the power be back", "Power should be back at 15:30."),
    ],
)
async def test_when_the_power_is_back_is_answered_with_the_outage_of_the_customers_area(
    rig: LightRig, sentence: str, expected: str
) -> None:
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await at_dungs_planned_outage(rig)
    await dung.say(sentence)
    assert expected in dung.text
    assert "phường Pleiku" in dung.text
    assert form_opening("svc_reconnect", "vi") not in dung.text
    assert dung.button_titles[0] in ("⚡ Báo mất điện/sự cố", "⚡ Report an outage or incident")


async def test_when_the_power_is_back_without_a_known_outage_offers_the_outage_report(
    rig: LightRig,
) -> None:
    dung = await password_login(rig, "rest", "dung", *DUNG)  # 26/11: the outage is on 28/11
    await dung.say("khi nào có điện lại")
    assert dung.text.startswith("Hiện chưa có lịch tạm ngừng hay sự cố nào được ghi nhận")
    assert dung.button_titles == ["⚡ Báo mất điện/sự cố", "🏠 Menu"]


async def test_when_the_power_is_back_during_an_incident_gives_the_repair_time(
    rig: LightRig,
) -> None:
    now = rig.clock.now()  # 15:00 in Hội An
    services = rig.runtime.engine.services
    async with rig.runtime.db.transaction() as session:
        await create_outage(
            session,
            services.texts,
            backend=services.backend,
            area=Area(48, 20410),  # phường Hội An, Đà Nẵng
            start=now - timedelta(minutes=30),
            end=now + timedelta(hours=3),
            reason="Sự cố máy biến áp",
            kind="incident",
            now=now,
            notice_days=services.settings.outage_notice_days,
        )
    an = await password_login(rig, "rest", "an", "annguyen", "An@2026cskh")
    await an.say("bao giờ mới có điện lại")
    await an.press("PC05CC0123456 — Nguyễn Văn An")  # An has two codes
    assert an.text.startswith(
        "⚡ Điện lực đang khắc phục sự cố ở khu vực phường Hội An từ 14:30. "
        "Điện dự kiến có lại lúc 18:00 ngày 26/11/2026."
    )


async def test_an_anonymous_customer_asking_when_the_power_is_back_is_asked_where(
    rig: LightRig,
) -> None:
    await at_dungs_planned_outage(rig)
    driver = await rig.driver("rest", "anonymous")
    await driver.say("khi nao co dien lai")
    assert driver.text.startswith("Quý khách đang mất điện ở phường/xã hay tỉnh/thành phố nào?")
    assert "🔑 Đăng nhập" in driver.button_titles
    await driver.say("xyz không có")
    assert driver.text.startswith("Tôi chưa tìm thấy khu vực này.")
    await driver.say("pleiku")  # the question is still open
    assert "Điện dự kiến có lại lúc 15:30." in driver.text
    await driver.say("when will the power be back in Hoi An")
    assert driver.replies[-1].text.startswith("No planned outage or known fault in phường Hội An")


async def test_reconnection_after_paying_still_opens_the_reconnection_form(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await dung.say("đóng tiền rồi xin cấp điện lại")
    assert dung.replies[0].text.startswith(form_opening("svc_reconnect", "vi"))


async def test_a_form_does_not_open_from_doubtful_free_text(rig: LightRig) -> None:
    """ "hợp đồng điện" is most likely about ending the contract, but not likely enough
    to open that form: the customer chooses."""
    dung = await password_login(rig, "rest", "dung", *DUNG)
    await dung.say("hợp đồng điện")
    assert dung.text == "Ý Quý khách là…?"
    assert dung.button_titles[:2] == ["Chấm dứt hợp đồng", "Gia hạn hợp đồng"]
    await dung.press("Chấm dứt hợp đồng")
    assert dung.replies[0].text.startswith(form_opening("svc_terminate_contract", "vi"))


def test_only_a_form_needs_the_higher_confidence() -> None:
    def parse(intent: str, confidence: float) -> Parse:
        return Parse("x", intent, confidence, ((intent, confidence),), ())

    assert CONFIDENT < FORM_CONFIDENT
    assert opens_at_once(parse("lookup_payment_info", CONFIDENT))
    assert not opens_at_once(parse("svc_reconnect", CONFIDENT))
    assert not opens_at_once(parse("report_outage", FORM_CONFIDENT - 0.01))
    assert opens_at_once(parse("report_outage", FORM_CONFIDENT))
