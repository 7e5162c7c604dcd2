"""The six lookups and the bill estimate, for the demo personas (issue 5).

Figures a customer checks are compared with what the utility's records say (read
through the backend), never recomputed here.
"""

from __future__ import annotations

import io

import pytest
from matplotlib.image import imread
from pypdf import PdfReader

from bot.core.fmt import day, money, short_day
from bot.core.messages import Location
from bot.store.backend import BillRecord
from tests.drivers import Driver
from tests.handlers.rig import CHANNELS, LightRig, password_login

DUNG = ("dungpham", "Dung@2026cskh")
CUONG = ("cuongle", "Cuong@2026cskh")
AN = ("annguyen", "An@2026cskh")


async def logged_in(
    rig: LightRig, who: tuple[str, str], channel: str = "rest", name: str | None = None
) -> Driver:
    return await password_login(rig, channel, name or who[0], *who)


async def bills_of(rig: LightRig, code: str) -> list[BillRecord]:
    return await rig.runtime.engine.services.backend.bills(code)


async def test_the_lookups_tab(rig: LightRig) -> None:
    driver = await rig.driver("rest", "browser")
    await driver.say("/lookup")
    assert driver.text == "🔎 Quý khách muốn tra cứu gì?"
    assert driver.button_titles == [
        "🧾 Thông tin thanh toán",
        "📄 Hóa đơn điện tử",
        "📊 Điện năng tiêu thụ",
        "📅 Lịch ghi chỉ số",
        "⚡ Lịch tạm ngừng cấp điện",
        "🏪 Điểm thu tiền điện",
        "🧮 Tính tiền điện",
        "🏠 Menu",
    ]


async def test_payment_information_of_the_latest_and_another_period(rig: LightRig) -> None:
    an = await logged_in(rig, AN)
    await an.say("/lookup")
    await an.press("🧾 Thông tin thanh toán")
    assert an.text == "Quý khách tra cứu cho mã khách hàng nào?"
    assert an.button_titles[:2] == ["PC05CC0123456 — Nguyễn Văn An", "PC05CC0123457 — Nhà hàng An"]
    await an.press("PC05CC0123456 — Nguyễn Văn An")
    latest, previous = (await bills_of(rig, "PC05CC0123456"))[:2]
    assert an.text.startswith(
        f"🧾 Tiền điện kỳ 1 tháng {latest.month:02d}/{latest.year} "
        f"({short_day(latest.period_start)}–{short_day(latest.period_end)}), mã PC05CC0123456:\n"
        f"{latest.kwh} kWh · {money(latest.total)} · "
    )
    assert "Chưa thanh toán" in an.text or "Quá hạn" in an.text
    assert f"Tổng nợ hiện tại: {money(latest.total)} (1 kỳ chưa thanh toán)." in an.text
    assert an.button_titles[:4] == [
        "💳 Thanh toán",
        "📄 Hóa đơn điện tử",
        "📊 So sánh các tháng",
        "🗓 Kỳ khác",
    ]
    await an.press("🗓 Kỳ khác")
    await an.press(f"Kỳ 1 T{previous.month:02d}/{previous.year}")
    assert previous.paid_at is not None
    assert f"Đã thanh toán ngày {day(previous.paid_at)} qua " in an.text


async def test_periods_typed_the_vietnamese_way(rig: LightRig) -> None:
    an = await logged_in(rig, AN)
    await an.say("/lookup")
    await an.press("🧾 Thông tin thanh toán")
    await an.press("PC05CC0123456 — Nguyễn Văn An")
    await an.press("🗓 Kỳ khác")
    await an.say("thang 8 nam 2026")
    assert an.text.startswith("🧾 Tiền điện kỳ 1 tháng 08/2026")
    await an.press("🗓 Kỳ khác")
    await an.say("T1/2020")
    assert an.text.startswith("Mã PC05CC0123456 chưa có hóa đơn tháng 01/2020.")
    await an.say("abc")
    assert an.text.startswith("Tôi chưa hiểu kỳ này.")
    await an.say("tháng trước")
    assert an.text.startswith("🧾 Tiền điện kỳ 1 tháng 10/2026")


async def test_a_forged_code_in_a_lookup_is_refused(rig: LightRig) -> None:
    await logged_in(rig, AN)
    for payload in (
        "lk_pay:PC03BB0045678",
        "lk_inv:PC03BB0045678:2026-10-1",
        "lk_use:PC03BB0045678",
        "lk_sched:PC03BB0045678:-3",
    ):
        texts = await rig.answer("annguyen", payload=payload)
        assert texts[0].startswith("Mã khách hàng này không thuộc"), payload


async def test_personal_lookups_need_login(rig: LightRig) -> None:
    stranger = await rig.driver("rest", "stranger")
    await stranger.say("/lookup")
    for title in (
        "🧾 Thông tin thanh toán",
        "📄 Hóa đơn điện tử",
        "📊 Điện năng tiêu thụ",
        "📅 Lịch ghi chỉ số",
    ):
        await stranger.say("/lookup")
        await stranger.press(title)
        assert stranger.text.startswith("🔑 Mục này cần đăng nhập"), title


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_e_invoice_arrives_as_a_pdf(rig: LightRig, channel: str) -> None:
    dung = await logged_in(rig, DUNG, channel)
    await dung.say("/lookup")
    await dung.press("📄 Hóa đơn điện tử")
    assert dung.text.startswith("Quý khách chọn kỳ hóa đơn")
    bill = (await bills_of(rig, "PC10AA0034567"))[1]
    await dung.press(f"Kỳ 1 T{bill.month:02d}/{bill.year}")
    assert bill.invoice is not None
    assert dung.text.startswith(
        f"📄 Hóa đơn điện tử kỳ 1 tháng {bill.month:02d}/{bill.year}, mã PC10AA0034567: "
        f"ký hiệu {bill.invoice.symbol}, số {bill.invoice.number:07d}, "
        f"tổng cộng {money(bill.total)}."
    )
    (pdf,) = dung.files
    assert pdf.kind == "document" and pdf.data.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Phạm Thị Dung" in text and "Bản thể hiện của hóa đơn điện tử" in text
    assert money(bill.total).removesuffix(" đ") in text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_consumption_comes_as_a_table_and_a_chart(rig: LightRig, channel: str) -> None:
    dung = await logged_in(rig, DUNG, channel)
    await dung.say("/lookup")
    await dung.press("📊 Điện năng tiêu thụ")
    lines = dung.text.splitlines()
    assert lines[0] == "📊 Điện năng tiêu thụ, mã PC10AA0034567 (12 kỳ gần nhất):"
    latest = (await bills_of(rig, "PC10AA0034567"))[0]
    assert f"{latest.month:02d}/{latest.year}: {latest.kwh} kWh · {money(latest.total)}" in lines
    assert len(lines) == 14 and lines[-1].startswith(("Tăng", "Giảm", "Không đổi"))
    (chart,) = dung.files
    assert chart.kind == "image"
    height, width = imread(io.BytesIO(chart.data)).shape[:2]
    assert (width, height) == (1000, 700)


async def test_a_large_customer_sees_months_not_terms(rig: LightRig) -> None:
    cuong = await logged_in(rig, CUONG)
    await cuong.press("🔎 Tra cứu")
    await cuong.press("📊 Điện năng tiêu thụ")
    month_lines = [line for line in cuong.text.splitlines() if "/20" in line and "kWh" in line]
    assert len(month_lines) == 12  # 36 bills (3 a month) shown as 12 months


async def test_the_meter_reading_schedule(rig: LightRig) -> None:
    cuong = await logged_in(rig, CUONG)
    await cuong.say("/lookup")
    await cuong.press("📅 Lịch ghi chỉ số")
    assert cuong.text.startswith("Quý khách xem lịch ghi chỉ số trong khoảng nào?")
    await cuong.say("1/9/2026 - 30/9/2026")
    lines = cuong.text.splitlines()
    assert lines[0] == (
        "📅 Lịch ghi chỉ số, mã PC06AA0098765 (ghi 3 kỳ mỗi tháng: ngày 10, 20 và cuối tháng), "
        "01/09/2026–30/09/2026:"
    )
    assert [line[:14] for line in lines[1:]] == [
        "✓ 10/09/2026: ",
        "✓ 20/09/2026: ",
        "✓ 30/09/2026: ",
    ]
    await cuong.say("/lookup")
    await cuong.press("📅 Lịch ghi chỉ số")
    await cuong.press("3 tháng tới")
    assert "○ 30/11/2026: dự kiến ghi chỉ số" in cuong.text
    assert "○ 10/12/2026: dự kiến ghi chỉ số" in cuong.text
    await cuong.press("🏠 Menu")
    await cuong.say("lich ghi chi so")
    await cuong.say("30/9/2026 - 1/9/2026")
    assert cuong.text.startswith("Ngày bắt đầu (30/09/2026) đang sau ngày kết thúc (01/09/2026).")


async def test_payment_points_near_the_address_then_more(rig: LightRig) -> None:
    an = await logged_in(rig, AN)
    await an.say("/lookup")
    await an.press("🏪 Điểm thu tiền điện")
    await an.press("PC05CC0123456 — Nguyễn Văn An")
    lines = an.text.splitlines()
    assert lines[0] == "🏪 Điểm thu tiền điện gần địa chỉ của mã PC05CC0123456 nhất:"
    assert len(lines) == 6 and lines[1].startswith("1. ")
    distances = [
        float(line.split(" — ")[-2].removesuffix(" km").replace(",", ".")) for line in lines[1:]
    ]
    assert distances == sorted(distances) and distances[0] < 3
    assert an.button_titles[:5] == ["🗺 1", "🗺 2", "🗺 3", "🗺 4", "🗺 5"]
    assert an.buttons[0]["url"].startswith("https://www.openstreetmap.org/?mlat=")
    await an.press("Xem thêm")
    assert an.text.splitlines()[1].startswith("6. ")


async def test_payment_points_without_login_from_a_shared_location(rig: LightRig) -> None:
    driver = await rig.driver("rest", "passer-by")
    await driver.say("/lookup")
    await driver.press("🏪 Điểm thu tiền điện")
    assert driver.text.startswith("Quý khách gửi vị trí để tôi tìm điểm thu gần nhất")
    (text, *_) = await rig.answer("passer-by", location=Location(12.2388, 109.1967))
    assert text.startswith("🏪 Điểm thu tiền điện gần vị trí Quý khách gửi nhất:")
    assert "Nha Trang" in text.splitlines()[1]


async def test_planned_outages_for_the_customers_ward(rig: LightRig) -> None:
    dung = await logged_in(rig, DUNG)
    await dung.say("/lookup")
    await dung.press("⚡ Lịch tạm ngừng cấp điện")
    lines = dung.text.splitlines()
    assert lines[0] == "⚡ Lịch tạm ngừng cung cấp điện tại phường Pleiku (14 ngày tới):"
    assert any(
        line.startswith("• 28/11/2026 07:00–15:30: Một phần phường Pleiku") for line in lines
    )


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("pleiku", "⚡ Lịch tạm ngừng cung cấp điện tại phường Pleiku (14 ngày tới):"),
        ("Phường Hội An", "tại phường Hội An (14 ngày tới)"),
        ("khanh hoa", "tại Khánh Hòa (14 ngày tới)"),
        ("Hà Nội", "không thuộc vùng Điện lực miền Trung phục vụ"),
        ("xyz không có", "Tôi chưa tìm thấy khu vực này."),
    ],
)
async def test_planned_outages_by_area_without_login(rig: LightRig, typed: str, title: str) -> None:
    driver = await rig.driver("rest", f"area-{typed}")
    await driver.say("/lookup")
    await driver.press("⚡ Lịch tạm ngừng cấp điện")
    assert driver.text.startswith("Quý khách nhập tên phường/xã hoặc tỉnh/thành phố")
    await driver.say(typed)
    assert title in driver.text


async def test_free_text_opens_the_lookup_with_what_was_said(rig: LightRig) -> None:
    an = await logged_in(rig, AN)
    await an.say("cho toi xem hoa don PC05CC0123456 thang 9")
    assert an.text.startswith("📄 Hóa đơn điện tử kỳ 1 tháng 09/2026, mã PC05CC0123456")
    assert an.files and an.files[0].data.startswith(b"%PDF")
    await an.say("lich cat dien o pleiku")
    assert an.text.startswith("⚡ Lịch tạm ngừng cung cấp điện tại phường Pleiku")


@pytest.mark.parametrize(
    ("typed", "total"),
    [
        ("134", "305.230 đ"),  # the known check, November 2026
        ("300 kwh tu 26/4/2025 den 25/5/2025", "781.527 đ"),  # across the 2025-05-10 change
        ("250 so 2 ho", "564.192 đ"),  # 2 households: every tier twice as wide
    ],
)
async def test_the_bill_estimate(rig: LightRig, typed: str, total: str) -> None:
    driver = await rig.driver("rest", f"estimate-{typed}")
    await driver.say("/lookup")
    await driver.press("🧮 Tính tiền điện")
    await driver.say(typed)
    assert driver.text.endswith(f"Tổng cộng: {total}"), driver.text


# --- "tháng này" and questions without a period (issue 15, point 7) -------------------


async def test_this_months_bill_not_out_yet_answers_with_the_latest_regression(
    rig: LightRig,
) -> None:
    rig.clock.advance(days=6)  # 02/12/2026: December's bill is not out yet
    dung = await logged_in(rig, DUNG)
    latest = (await bills_of(rig, "PC10AA0034567"))[0]
    newest = f"kỳ 1 tháng {latest.month:02d}/{latest.year}"
    for typed in ("tiền điện tháng này bao nhiêu", "thong tin thanh toan thang nay"):
        await dung.say(typed)
        lines = dung.text.splitlines()
        assert lines[0] == f"Hóa đơn mới nhất là {newest} (tháng 12/2026 chưa có hóa đơn).", typed
        assert lines[1].startswith(f"🧾 Tiền điện {newest} "), typed
        assert "🗓 Kỳ khác" in dung.button_titles
    await dung.press("🗓 Kỳ khác")
    await dung.say("tháng này")
    assert dung.text.startswith(f"Hóa đơn mới nhất là {newest} (tháng 12/2026 chưa có hóa đơn).")
    await dung.say("hóa đơn điện tử tháng này")
    assert dung.text.startswith(f"Hóa đơn mới nhất là {newest} (tháng 12/2026 chưa có hóa đơn).")
    assert f"📄 Hóa đơn điện tử {newest}, mã PC10AA0034567" in dung.text
    assert dung.files and dung.files[0].data.startswith(b"%PDF")
    assert "🗓 Kỳ khác" in dung.button_titles


async def test_a_bill_question_without_a_period_answers_with_the_latest_regression(
    rig: LightRig,
) -> None:
    dung = await logged_in(rig, DUNG)
    latest = (await bills_of(rig, "PC10AA0034567"))[0]
    await dung.say("tien dien bao nhieu")
    assert dung.text.startswith(f"🧾 Tiền điện kỳ 1 tháng {latest.month:02d}/{latest.year} ")
    assert "🗓 Kỳ khác" in dung.button_titles
    await dung.say("hoa don dien tu")
    assert dung.text.startswith(f"📄 Hóa đơn điện tử kỳ 1 tháng {latest.month:02d}/{latest.year}")


async def test_another_question_at_the_period_question_is_answered_regression(
    rig: LightRig,
) -> None:
    dung = await logged_in(rig, DUNG)
    await dung.say("/lookup")
    await dung.press("📄 Hóa đơn điện tử")
    assert dung.text.startswith("Quý khách chọn kỳ hóa đơn")
    await dung.say("lịch ghi chỉ số tháng này")
    assert dung.text.startswith("📅 Lịch ghi chỉ số, mã PC10AA0034567")
    await dung.say("/lookup")
    await dung.press("📄 Hóa đơn điện tử")
    await dung.say("tháng 8")  # a period, not "Điện năng tiêu thụ"
    assert dung.text.startswith("📄 Hóa đơn điện tử kỳ 1 tháng 08/2026")


# --- "⬅ Quay lại" after a lookup (issue 15, point 12) ---------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "🧾 Thông tin thanh toán",
        "📄 Hóa đơn điện tử",
        "📊 Điện năng tiêu thụ",
        "📅 Lịch ghi chỉ số",
        "⚡ Lịch tạm ngừng cấp điện",
        "🏪 Điểm thu tiền điện",
        "🧮 Tính tiền điện",
    ],
)
async def test_back_after_a_lookup_returns_to_the_lookups_tab_regression(
    rig: LightRig, title: str
) -> None:
    dung = await logged_in(rig, DUNG, name=f"back-{title}")
    for back in ("⬅ Quay lại", "quay lai"):
        await dung.say("/lookup")
        await dung.press(title)
        assert "⬅ Quay lại" in dung.button_titles, title
        if back.startswith("⬅"):
            await dung.press(back)
        else:
            await dung.say(back)
        assert dung.text == "🔎 Quý khách muốn tra cứu gì?", (title, back)


async def test_back_after_the_consumption_chart_reached_from_a_bill_regression(
    rig: LightRig,
) -> None:
    dung = await logged_in(rig, DUNG)
    await dung.say("/lookup")
    await dung.press("🧾 Thông tin thanh toán")
    await dung.press("📊 So sánh các tháng")
    assert dung.files and dung.files[0].kind == "image"
    await dung.press("⬅ Quay lại")
    assert dung.text == "🔎 Quý khách muốn tra cứu gì?"


async def test_another_question_at_the_kwh_question_is_answered(rig: LightRig) -> None:
    dung = await logged_in(rig, DUNG)
    await dung.say("/lookup")
    await dung.press("🧮 Tính tiền điện")
    await dung.say("tiền điện tháng này bao nhiêu")
    assert dung.text.startswith("🧾 Tiền điện kỳ 1 tháng 11/2026")
    await dung.say("/lookup")
    await dung.press("🧮 Tính tiền điện")
    await dung.say("134")
    assert dung.text.endswith("Tổng cộng: 305.230 đ")
    await dung.press("⬅ Quay lại")
    assert dung.text == "🔎 Quý khách muốn tra cứu gì?"
