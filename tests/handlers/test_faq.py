"""Answers from the utility's FAQ (issue 19): a question is answered with its source and
the form or lookup it leads to, on every channel; a request still opens its flow; doubt
offers the question and staff; staff edits answer without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.faq import FaqBook
from nlu.faq import FaqEntry
from tests.handlers.rig import CHANNELS, ChatRig, LightRig
from tests.handlers.test_requests_cli import cskh
from tests.light import LightDriver

FULL = pytest.mark.full_rig
SOURCE_16 = "Thông tư 16/2014/TT-BCT quy định về thực hiện giá bán điện"


@pytest.mark.parametrize(
    "channel", [pytest.param(c, marks=FULL, id=f"{c}-server") for c in CHANNELS] + CHANNELS
)
async def test_a_question_is_answered_with_its_source_and_the_flow_it_leads_to(
    rig: ChatRig, channel: str
) -> None:
    driver = await rig.driver(channel, f"faq-{channel}")
    await driver.say("khung giờ thấp điểm của công tơ nhiều giá")
    assert driver.text.startswith("Theo Thông tư 16/2014/TT-BCT: giờ cao điểm từ thứ Hai")
    assert f"Nguồn: {SOURCE_16}" in driver.text
    assert "(rà soát 08/12/2026)" in driver.text
    assert driver.button_titles == ["🏠 Menu"]  # this entry offers no form
    await driver.say("sang ten hop dong dien can giay to gi")  # no diacritics
    assert driver.text.startswith("Cần: họ tên, số CCCD và điện thoại của người đứng tên mới")
    assert "Nguồn: EVNCPC CSKH: Dịch vụ trong quá trình thực hiện hợp đồng" in driver.text
    assert driver.button_titles[-1] == "🏠 Menu"
    offered = driver.button_titles[0]
    await driver.press(offered)  # the form the answer offers opens
    assert "Thay đổi chủ thể hợp đồng" in driver.text or "đăng nhập" in driver.text.lower()
    await driver.close()


async def test_an_english_question_is_answered_in_english(rig: LightRig) -> None:
    driver = await rig.driver("rest", "faq-en")
    await driver.say("Can I pay someone else's electricity bill?")
    assert "Yes. With the customer code (printed on the bill or notice)" in driver.text
    assert "Source: EVNCPC CSKH: Thanh toán tiền điện và dịch vụ khác" in driver.text


@pytest.mark.parametrize(
    ("sentence", "start"),
    [
        ("tinh tien 250 so", "🧾 Tiền điện ước tính cho 250 kWh"),  # the estimate, not tiers
        ("mat dien roi", "📝 Xử lý báo mất điện"),
        ("toi muon gap nhan vien", "👤 Yêu cầu gặp nhân viên"),
        ("hom nay troi co mua khong", "Xin lỗi, tôi chỉ hỗ trợ các việc về dịch vụ điện"),
    ],
)
async def test_a_request_still_opens_its_flow(rig: LightRig, sentence: str, start: str) -> None:
    driver = await rig.driver("rest", f"faq-req-{sentence}")
    await driver.say(sentence)
    assert driver.text.startswith(start), driver.text
    assert "Nguồn:" not in driver.text


async def test_doubt_offers_the_question_and_staff_instead_of_guessing(rig: LightRig) -> None:
    driver = await rig.driver("telegram", "faq-doubt")
    # The model gives the FAQ's class the most weight, but not enough to answer.
    await driver.say("giờ cao điểm điện là từ mấy giờ đến mấy giờ")
    assert driver.text == "Ý Quý khách là…?"
    question = "❓ Giờ cao điểm của công tơ nhiều giá là mấy giờ?"
    assert question in driver.button_titles
    assert driver.button_titles[-2:] == ["👤 Gặp nhân viên", "🏠 Menu"]
    await driver.press(question)
    assert driver.text.startswith("Theo Thông tư 16/2014/TT-BCT: giờ cao điểm từ thứ Hai")
    assert f"Nguồn: {SOURCE_16}" in driver.text


async def test_a_staff_edit_answers_without_a_restart(rig: LightRig) -> None:
    book: FaqBook = rig.runtime.engine.services.faq
    driver = await rig.driver("rest", "faq-edit")
    await driver.say("khung giờ thấp điểm của công tơ nhiều giá")
    assert "Nguồn: Thông tư 16/2014" in driver.text
    async with rig.runtime.db.transaction() as session:
        entry = await book.get(session, "tou_peak_hours")
        assert entry is not None
        edited = FaqEntry.from_dict(
            {
                **entry.as_dict(),
                "answer": {"vi": "Khung giờ mới: 17:30–22:30.", "en": "New hours: 17:30–22:30."},
                "source": "Quyết định thử nghiệm của Bộ Công Thương",
            }
        )
        await book.save(session, edited, by="tester")
    await driver.say("khung giờ thấp điểm của công tơ nhiều giá")
    assert driver.text.startswith("Khung giờ mới: 17:30–22:30.")
    assert "Nguồn: Quyết định thử nghiệm của Bộ Công Thương" in driver.text
    async with rig.runtime.db.transaction() as session:
        assert await book.remove(session, "tou_peak_hours", by="tester")
    await driver.say("khung giờ thấp điểm của công tơ nhiều giá")
    assert "17:30–22:30" not in driver.text
    assert "Nguồn: Quyết định thử nghiệm" not in driver.text


async def test_a_removed_question_pressed_later_says_so(rig: LightRig) -> None:
    book: FaqBook = rig.runtime.engine.services.faq
    driver = await rig.driver("rest", "faq-gone")
    assert isinstance(driver, LightDriver)
    async with rig.runtime.db.transaction() as session:
        assert await book.remove(session, "bot_pin", by="tester")
    # A button shown before the removal, pressed after it.
    await driver.send(payload="faq:bot_pin")
    assert driver.text.startswith("Câu hỏi này vừa được gỡ khỏi mục hỏi đáp.")


async def test_staff_edit_the_faq_from_the_shell_and_the_running_bot_answers_with_it(
    rig: LightRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = await rig.driver("web", "faq-cli")
    await driver.say("có người gọi tự xưng điện lực bắt chuyển khoản có phải lừa đảo không")
    assert driver.text.startswith("Cẩn thận lừa đảo: Điện lực không gọi điện đòi chuyển tiền")
    capsys.readouterr()
    assert await cskh(rig, "faq", "show", "bot_scam") == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    shown["answer"]["vi"] = "Cẩn thận lừa đảo! Gọi 1900 1909 để kiểm tra trước khi chuyển tiền."
    shown["reviewed"] = "2026-12-09"
    edited = tmp_path / "scam.yml"
    edited.write_text(yaml.safe_dump(shown, allow_unicode=True), encoding="utf-8")
    assert await cskh(rig, "faq", "put", str(edited), "--by", "lan") == 0
    assert capsys.readouterr().out == "saved 1 entry: bot_scam\n"
    await driver.say("có người gọi tự xưng điện lực bắt chuyển khoản có phải lừa đảo không")
    assert driver.text.startswith("Cẩn thận lừa đảo! Gọi 1900 1909 để kiểm tra")
    assert "(rà soát 09/12/2026)" in driver.text

    assert await cskh(rig, "faq", "list", "--search", "lua dao") == 0
    assert capsys.readouterr().out.split()[0] == "bot_scam"
    assert await cskh(rig, "faq", "remove", "bot_scam", "--by", "lan") == 0
    assert await cskh(rig, "faq", "remove", "bot_scam") == 2
    assert "no entry 'bot_scam'" in capsys.readouterr().err


async def test_an_entry_without_a_source_is_refused(
    rig: LightRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = tmp_path / "new.yml"
    entry.write_text(
        "id: water_bill\nquestion: {vi: 'Hỏi?', en: 'Ask?'}\nanswer: {vi: Đáp., en: Answer.}\n"
        "reviewed: 2026-12-08\n",
        encoding="utf-8",
    )
    assert await cskh(rig, "faq", "put", str(entry)) == 2
    assert "FAQ entry water_bill: no source" in capsys.readouterr().err
    entry.write_text("id: [unclosed\n", encoding="utf-8")
    assert await cskh(rig, "faq", "put", str(entry)) == 2
    assert capsys.readouterr().err.endswith(": not valid YAML (ParserError)\n")
