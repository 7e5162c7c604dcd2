"""The seventeen service requests: every form completed end to end (with photos, a
location, an address...), the form engine's moves, drafts, and the request lifecycle."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.core.fmt import LOCAL_TZ
from bot.dialogs.forms import FieldSpec, FormSpec, default_forms
from bot.dialogs.lifecycle import change_status
from bot.store import repo
from bot.store.models import Conversation, CustomerLink, ServiceRequest
from tests.channels.test_webchat import PNG
from tests.drivers import Driver
from tests.handlers.rig import ChatRig, LightRig, light_rig, password_login

FORMS = default_forms()
STORED_DRAFTS = Path(__file__).parents[1] / "dialogs" / "stored_drafts.json"
STEP = re.compile(r"^(?:Bước|Step) (\d+)/(\d+) — (.*?)$", re.MULTILINE)


async def logged_in(
    rig: ChatRig, channel: str, name: str, who: tuple[str, str] = ("annguyen", "An@2026cskh")
) -> Driver:
    return await password_login(rig, channel, name, *who)


# The buttons `answer` presses, in each language.
TITLES = {
    "vi": {"keep": "✅ Đúng", "no": "Không", "done": "✅ Xong", "record": "Theo hồ sơ:"},
    "en": {"keep": "✅ That's right", "no": "No", "done": "✅ Done", "record": "On record:"},
}


def field_asked(form: FormSpec, text: str, lang: str = "vi") -> FieldSpec:
    if text.startswith(("Phường/xã và tỉnh/thành phố?", "Which ward/commune")):
        return next(f for f in form.fields if f.type == "address")  # its second message
    match = STEP.search(text)
    assert match, f"no question in {text!r}"
    prompt = match.group(3)
    return next(f for f in form.fields if f.prompt[lang] == prompt)


async def answer(driver: Driver, field: FieldSpec, lang: str = "vi") -> None:
    """A valid answer of each type, given the way a customer would."""
    titles = TITLES[lang]
    if titles["record"] in driver.text:
        await driver.press(titles["keep"])
        return
    kind, params = field.type, field.params
    if kind in ("choice", "customer_code"):
        options = [b for b in driver.buttons if str(b.get("payload", "")).startswith("form:pick:")]
        await driver.press(options[0]["title"])
    elif kind == "multi_choice":
        first = next(
            b for b in driver.buttons if str(b.get("payload", "")).startswith("form:toggle:")
        )
        await driver.press(first["title"])
        await driver.press(titles["done"])
    elif kind == "yes_no":
        await driver.press(titles["no"])
    elif kind == "photos":
        for _ in range(int(params.get("min", 1))):
            await driver.send_photo(PNG)
        if titles["done"] in driver.button_titles:
            await driver.press(titles["done"])
    elif kind == "location":
        await driver.send_location(13.9833, 108.0)
    elif kind == "address":
        await driver.say("12 Trần Phú")
        await driver.say("phường Hội An, Đà Nẵng")
    elif kind == "number":
        value = max(int(params.get("min", 1)), 1)
        await driver.say(f"{value} {params.get('unit', '')}".strip())
    elif kind == "date":
        await driver.say(
            {"future": "ngày mai", "past": "hôm qua"}.get(params.get("rule", "any"), "hôm nay")
        )
    elif kind == "phone":
        await driver.say("0905 123 456")
    elif kind == "email":
        await driver.say("an.nguyen@example.com")
    elif kind == "id_number":
        await driver.say("048090001234")
    else:
        await driver.say("Nội dung thử nghiệm đủ dài để gửi đi.")


async def complete(driver: Driver, form_id: str) -> str:
    """Open the form from the Dịch vụ tab, answer every question, submit; the answer."""
    form = FORMS[form_id]
    await driver.say("/services")
    group_title = {
        "new_connection": "🔌 Dịch vụ cung cấp điện mới",
        "contract": "📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện",
        "support": "💬 Các dịch vụ hỗ trợ",
    }[form.group]
    await driver.press(group_title)
    await driver.press(form.title["vi"])
    assert driver.text.startswith(f"📝 {form.title['vi']}")
    for _ in range(40):
        if "kiểm tra lại" in driver.text:
            break
        await answer(driver, field_asked(form, driver.text))
    submit = {
        "register": "📨 Đăng ký",
        "send_request": "📨 Gửi yêu cầu",
        "send_complaint": "📨 Gửi kiến nghị",
    }[form.submit]
    await driver.press(submit)
    return driver.text


async def stored(rig: ChatRig, code: str) -> ServiceRequest:
    async with rig.runtime.db.reading() as session:
        request = await session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))
    assert request is not None
    return request


@pytest.mark.parametrize("form_id", list(FORMS))
async def test_every_service_can_be_completed_on_rest(rig: LightRig, form_id: str) -> None:
    driver = await logged_in(rig, "rest", f"svc-{form_id}")
    text = await complete(driver, form_id)
    match = re.search(r"(YC-2026-\d{6})", text)
    assert match, text
    request = await stored(rig, match.group(1))
    assert request.type == form_id and request.status == "received"
    photos = [f for f in FORMS[form_id].fields if f.type == "photos" and not f.optional]
    assert len(request.attachments) >= sum(
        int(f.params.get("min", 1)) for f in photos if f.shown(request.data["answers"])
    )
    if FORMS[form_id].urgent:
        assert text.startswith(f"⚡ Báo mất điện {request.code}") and request.urgent
    else:
        assert text.startswith(f"✅ Yêu cầu {request.code} đã được tiếp nhận.")


@pytest.mark.parametrize("channel", ["web", "telegram"])
@pytest.mark.parametrize("form_id", list(FORMS))
async def test_services_with_attachments_on_web_and_telegram(
    rig: LightRig, channel: str, form_id: str
) -> None:
    driver = await logged_in(rig, channel, f"{channel}-{form_id}")
    text = await complete(driver, form_id)
    code = re.search(r"YC-2026-\d{6}", text)
    assert code, text
    request = await stored(rig, code.group(0))
    asks_photos = any(
        f.type == "photos" and not f.optional and not f.when for f in FORMS[form_id].fields
    )
    if asks_photos:
        assert request.attachments  # the photos arrived and are kept with the request
    await driver.close()


async def test_the_acknowledgement_promises_working_days(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "deadline")
    text = await complete(driver, "svc_change_payment_method")
    # Thursday 26/11/2026 + 3 working days = Tuesday 01/12/2026.
    assert re.fullmatch(
        r"✅ Yêu cầu YC-2026-\d{6} đã được tiếp nhận\. Điện lực Hội An sẽ liên hệ Quý khách "
        r"trong 3 ngày làm việc, trước 01/12/2026\.",
        text,
    )


async def test_bad_answers_are_corrected_and_the_form_moves_back_and_forth(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "mover")
    await driver.say("/services")
    await driver.press("🔌 Dịch vụ cung cấp điện mới")
    await driver.press("Cấp điện sinh hoạt")
    form = FORMS["svc_new_household"]
    for _ in range(10):
        field = field_asked(form, driver.text)
        if field.type == "id_number":
            break
        await answer(driver, field)
    step = STEP.search(driver.text)
    assert step is not None
    await driver.say("04809000123")
    assert driver.text == (
        "Số định danh cần đủ 12 chữ số (Quý khách vừa nhập 11). Ví dụ: 048090001234."
    )
    assert driver.button_titles[-2:] == ["⬅ Quay lại", "✖ Hủy"]
    await driver.press("⬅ Quay lại")
    previous = STEP.search(driver.text)
    assert previous is not None and int(previous.group(1)) == int(step.group(1)) - 1
    await driver.press("✖ Hủy")
    assert driver.text.startswith("Hủy đơn “Cấp điện sinh hoạt”?")
    await driver.press("▶ Tiếp tục")
    assert STEP.search(driver.text) is not None
    await driver.press("✖ Hủy")
    await driver.press("✖ Hủy đơn")
    assert driver.text.startswith("Đã hủy đơn “Cấp điện sinh hoạt”.")


async def test_the_summary_lets_a_field_be_changed(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "editor")
    await driver.say("/services")
    await driver.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await driver.press(FORMS["svc_change_payment_method"].title["vi"])
    form = FORMS["svc_change_payment_method"]
    while "kiểm tra lại" not in driver.text:
        await answer(driver, field_asked(form, driver.text))
    edit = next(t for t in driver.button_titles if t.startswith("✏️"))
    await driver.press(edit)
    assert STEP.search(driver.text) is not None
    await answer(driver, field_asked(form, driver.text))
    assert "kiểm tra lại" in driver.text  # straight back to the summary


async def test_a_landline_is_taken_as_the_contact_number(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "landline")
    await driver.say("/services")
    await driver.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await driver.press(FORMS["svc_check_meter"].title["vi"])
    form = FORMS["svc_check_meter"]
    while field_asked(form, driver.text).type != "phone":
        await answer(driver, field_asked(form, driver.text))
    await driver.press("✏️ Sửa")  # not the number on record
    await driver.say("0236 3822 123")
    assert "kiểm tra lại" in driver.text and "0236 3822 123" in driver.text
    await driver.press("📨 Gửi yêu cầu")
    code = re.search(r"YC-2026-\d{6}", driver.text)
    assert code is not None
    request = await stored(rig, code.group(0))
    assert request.data["answers"]["contact_phone"] == "+842363822123"


async def test_a_draft_survives_a_restart_and_expires_after_a_week(rig: LightRig) -> None:
    driver = await logged_in(rig, "rest", "drafter")
    await driver.say("/services")
    await driver.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await driver.press(FORMS["svc_check_meter"].title["vi"])
    form = FORMS["svc_check_meter"]
    await answer(driver, field_asked(form, driver.text))
    await answer(driver, field_asked(form, driver.text))
    asked = STEP.search(driver.text)
    assert asked is not None
    # A restart: a new runtime on the same database.
    async with light_rig(rig.runtime.settings, rig.clock) as restarted:
        again = await restarted.driver("rest", "drafter")
        await again.say("/services")
        first = again.replies[0].buttons[0][0]
        assert first.title == "▶ Tiếp tục đơn dở"
        assert "“Kiểm tra công tơ và thiết bị đo đếm”" in again.replies[0].text
        await again.send(payload=first.payload)
        assert STEP.search(again.replies[0].text).group(0) == asked.group(0)  # type: ignore[union-attr]
        rig.clock.advance(days=7, hours=1)
        await again.say("menu")
        assert again.replies[0].text.startswith(
            "Đơn “Kiểm tra công tơ và thiết bị đo đếm” Quý khách làm dở đã quá 7 ngày"
        )


async def test_a_draft_stored_before_the_typed_draft_resumes(rig: LightRig) -> None:
    """A conversation row written by the engine before issue 13 (tests/dialogs has it):
    the ward question it stopped at comes back with its two wards."""
    driver = await logged_in(rig, "rest", "old-draft")
    stored = json.loads(STORED_DRAFTS.read_text(encoding="utf-8"))["address_areas"]
    async with rig.runtime.db.transaction() as session:
        user = await repo.get_chat_user(session, "rest", driver.platform_user_id)
        assert user is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        assert conversation is not None
        conversation.state = {**conversation.state, "form": stored}
    await driver.say("/services")
    assert "“Thay đổi thông tin đã đăng ký”" in driver.text
    await driver.press("▶ Tiếp tục đơn dở")
    assert driver.text.startswith("Phường/xã và tỉnh/thành phố?")
    assert driver.button_titles[:2] == [
        "Phường An Khê, Thành phố Đà Nẵng",
        "Phường An Khê, Gia Lai",
    ]
    # The ward buttons are answers (their payload was once routed nowhere: pressing one
    # asked the same question again).
    await driver.press("Phường An Khê, Gia Lai")
    assert field_asked(FORMS["svc_change_info"], driver.text).name == "id_photos"


async def test_a_question_in_the_middle_of_a_form_is_answered_then_offered_back(
    rig: LightRig,
) -> None:
    driver = await logged_in(rig, "rest", "curious")
    await driver.say("/services")
    await driver.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await driver.press(FORMS["svc_reconnect"].title["vi"])
    form = FORMS["svc_reconnect"]
    while field_asked(form, driver.text).type != "date":
        await answer(driver, field_asked(form, driver.text))
    await driver.say("tinh tien 134 so")
    assert "Tổng cộng: 305.230 đ" in driver.text
    assert "Quý khách muốn tiếp tục đơn “Cấp điện trở lại" in driver.text
    await driver.press("▶ Tiếp tục")
    assert field_asked(form, driver.text).type == "date"


async def test_the_outage_report_knows_an_announced_outage(rig: LightRig) -> None:
    dung = await logged_in(rig, "rest", "dung-report", ("dungpham", "Dung@2026cskh"))
    # During Dung's planned outage (28/11/2026 07:00–15:30 in phường Pleiku).
    during = datetime(2026, 11, 28, 9, 0, tzinfo=LOCAL_TZ)
    rig.clock.advance(seconds=(during - rig.clock.now()).total_seconds())
    await dung.say("/services")
    await dung.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await dung.press("Xử lý báo mất điện")
    await dung.press("Địa chỉ trên hợp đồng")
    await dung.press("PC10AA0034567")
    assert dung.text.startswith(
        "⚡ Khu vực phường Pleiku đang có lịch tạm ngừng cung cấp điện "
        "từ 07:00 đến 15:30 28/11/2026"
    )
    form = FORMS["report_outage"]
    while "kiểm tra lại" not in dung.text:
        await answer(dung, field_asked(form, dung.text))
    await dung.press("📨 Gửi yêu cầu")
    assert dung.text.startswith("⚡ Báo mất điện YC-2026-")
    assert "đội trực sự cố của Điện lực Pleiku" in dung.text and "0987 654 321" in dung.text


async def test_danger_offers_the_outage_report(rig: LightRig) -> None:
    driver = await rig.driver("rest", "danger")
    await driver.say("cot dien nga truoc nha toi")
    assert driver.text.startswith("⚠️ Xin Quý khách tránh xa")
    assert driver.button_titles[0] == "⚡ Báo mất điện/sự cố"
    await driver.press("⚡ Báo mất điện/sự cố")
    assert "Mất điện ở đâu?" in driver.text  # no login first: tests/handlers/test_anonymous_*


async def test_status_changes_reach_the_customer_and_more_information_comes_back(
    rig: LightRig,
) -> None:
    driver = await logged_in(rig, "rest", "tracked")
    text = await complete(driver, "svc_change_owner")
    code = re.search(r"YC-2026-\d{6}", text).group(0)  # type: ignore[union-attr]
    runtime = rig.runtime
    services = runtime.engine.services

    async def staff(status: str, note: str | None = None) -> None:
        await change_status(
            runtime.db,
            runtime.pusher,
            runtime.texts,
            FORMS,
            services.clock,
            code,
            status,
            note=note,
            actor="staff:test",
        )

    await staff("in_progress")
    await staff("needs_info", "Thiếu ảnh giấy đồng ý của chủ cũ.")
    await driver.receive_pushes()
    pushes = [reply.text for reply in driver.replies]
    assert pushes[-2] == f"📋 Yêu cầu {code} (Thay đổi chủ thể hợp đồng mua bán điện): Đang xử lý."
    assert pushes[-1].startswith(
        f"📎 Yêu cầu {code} (Thay đổi chủ thể hợp đồng mua bán điện) "
        "cần bổ sung: Thiếu ảnh giấy đồng ý của chủ cũ."
    )
    await driver.say("/requests")
    assert code in driver.text and "Chờ bổ sung" in driver.text
    await driver.press(code)
    assert "Đang xử lý" in driver.text and "Thiếu ảnh giấy đồng ý của chủ cũ." in driver.text
    await driver.press("📎 Gửi bổ sung")
    await driver.send_photo(PNG)
    assert driver.text.startswith(f"✅ Đã nhận phần bổ sung cho yêu cầu {code}.")
    await driver.press("✅ Xong")
    request = await stored(rig, code)
    assert request.events[-1].actor == "customer"
    before = len(request.attachments)
    await staff("done")
    assert (await stored(rig, code)).status == "done" and before >= 1


async def test_another_customers_request_is_refused(rig: LightRig) -> None:
    an = await logged_in(rig, "rest", "an-req")
    text = await complete(an, "consult_usage")
    code = re.search(r"YC-2026-\d{6}", text).group(0)  # type: ignore[union-attr]
    dung = await logged_in(rig, "rest", "dung-req", ("dungpham", "Dung@2026cskh"))
    for payload in (f"req:{code}", f"req_info:{code}"):
        texts = await rig.answer("dung-req", payload=payload)
        assert texts[0] == ("Không tìm thấy yêu cầu này trong các yêu cầu của Quý khách.")
    assert dung.channel == "rest"


def test_working_days_skip_weekends_and_tet() -> None:
    from datetime import date

    from bot.dialogs.deadlines import add_working_days

    assert add_working_days(date(2026, 11, 27), 3) == date(2026, 12, 2)  # Fri -> Wed
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)  # over Tết 2026
    assert add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)  # 30/4 and 1/5


async def test_starting_a_form_the_customer_cannot_yet_keeps_the_draft_in_hand(
    rig: LightRig,
) -> None:
    """“Start the other one” drops the open draft only once the other form can start: a
    customer whose codes were unlinked meanwhile keeps the household application."""
    driver = await logged_in(rig, "rest", "keeper")
    await driver.say("/services")
    await driver.press("🔌 Dịch vụ cung cấp điện mới")
    await driver.press("Cấp điện sinh hoạt")
    async with rig.runtime.db.transaction() as session:
        user = await repo.get_chat_user(session, "rest", driver.platform_user_id)
        assert user is not None
        await session.execute(delete(CustomerLink).where(CustomerLink.chat_user_id == user.id))
    await driver.send(payload="svc_new:svc_change_info")
    assert driver.text.startswith("Dịch vụ này cần mã khách hàng")
    await driver.say("/services")
    assert driver.button_titles[0] == "▶ Tiếp tục đơn dở"
    assert "“Cấp điện sinh hoạt”" in driver.text
