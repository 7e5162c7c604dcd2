"""'Sao tháng này tiền điện cao vậy?': the bill explanation in conversation (issue 18).

The figures a customer reads are checked against the utility's records (read through the
backend): the difference is the two bills' totals, and the amounts in the sentence add
up to it to the đồng.
"""

from __future__ import annotations

import io
import itertools
import re

import pytest
from matplotlib.image import imread
from sqlalchemy import delete, select, update

from bot.core.fmt import money
from bot.store.backend import BillRecord, CustomerFilter
from bot.store.models import Bill, Customer
from tests.drivers import Driver
from tests.handlers.rig import CHANNELS, LightRig, password_login
from tests.handlers.test_freetext import FOLLOWED_EN
from tests.handlers.test_notices import tap_under_notice

AN = ("annguyen", "An@2026cskh")
BINH = ("binhtran", "Binh@2026cskh")
CUONG = ("cuongle", "Cuong@2026cskh")
DUNG = ("dungpham", "Dung@2026cskh")
DUC = ("ducho", "Duc@2026cskh")
HOA = ("hoavo", "Hoa@2026cskh")
THU_LOGIN = ("thudang", "Thu@2026cskh")
THU = "PP01000024680"  # the faulty-meter persona (issue 18 part 2)
PERSONAS = {
    AN: "PC05CC0123456",
    BINH: "PC03BB0045678",
    CUONG: "PC06AA0098765",
    DUNG: "PC10AA0034567",
    DUC: "PQ02000012345",
    HOA: "PC12AA0056789",
}


async def bills_of(rig: LightRig, code: str) -> list[BillRecord]:
    return await rig.runtime.engine.services.backend.bills(code, limit=80)


def period(bill: BillRecord, lang: str = "vi") -> str:
    if lang == "en":
        return f"term {bill.term}, {bill.month:02d}/{bill.year}"
    return f"kỳ {bill.term} tháng {bill.month:02d}/{bill.year}"


def parts_add_up(line: str, difference: int, lang: str = "vi") -> bool:
    """The amounts after the colon, less those after "bù lại" (offset by), make the
    difference."""
    causes = line.split(":", 1)[1]
    along, _, against = causes.partition(", bù lại " if lang == "vi" else ", offset by ")
    pattern = r"([\d.]+) đ" if lang == "vi" else r"([\d,]+) VND"

    def total(part: str) -> int:
        return sum(int(re.sub(r"[.,]", "", amount)) for amount in re.findall(pattern, part))

    return total(along) - total(against) == abs(difference)


def expected_first_line(latest: BillRecord, previous: BillRecord, lang: str = "vi") -> str:
    difference = latest.total - previous.total
    if lang == "en":
        word = "higher" if difference > 0 else "lower"
        amount = f"{abs(difference):,} VND"
        return f"🧾 The bill for {period(latest, 'en')} is {amount} {word} than the previous one:"
    word = "cao hơn" if difference > 0 else "thấp hơn"
    return f"🧾 Tiền điện {period(latest)} {word} kỳ trước {money(abs(difference))}:"


async def ask(driver: Driver, typed: str, code: str) -> None:
    await driver.say(typed)
    if driver.text.startswith(("Quý khách tra cứu cho mã", "Which customer code")):
        (button,) = [t for t in driver.button_titles if t.startswith(code)]
        await driver.press(button)


def assert_chart(driver: Driver) -> None:
    (chart,) = driver.files
    assert chart.kind == "image"
    height, width = imread(io.BytesIO(chart.data)).shape[:2]
    assert (width, height) == (1000, 700)


@pytest.mark.parametrize("who", list(PERSONAS), ids=[who[0] for who in PERSONAS])
@pytest.mark.parametrize(
    "typed", ["sao tháng này tiền điện cao vậy", "sao thang nay tien dien cao vay"]
)
async def test_every_persona_gets_a_decomposition_that_adds_up(
    rig: LightRig, who: tuple[str, str], typed: str
) -> None:
    code = PERSONAS[who]
    driver = await password_login(rig, "rest", who[0], *who)
    await ask(driver, typed, code)
    latest, previous = (await bills_of(rig, code))[:2]
    first = driver.text.splitlines()[0]
    assert first.startswith(expected_first_line(latest, previous)), driver.text
    assert parts_add_up(first, latest.total - previous.total), first
    assert_chart(driver)
    assert "👤 Gặp nhân viên" in driver.button_titles
    assert driver.button_titles[-2:] == ["⬅ Quay lại", "🏠 Menu"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_explanation_on_each_channel(rig: LightRig, channel: str) -> None:
    dung = await password_login(rig, channel, "dungpham", *DUNG)
    await dung.say("tien dien tang vo ly")
    latest, previous = (await bills_of(rig, "PC10AA0034567"))[:2]
    lines = dung.text.splitlines()
    assert lines[0].startswith(expected_first_line(latest, previous))
    year_ago = next(
        b
        for b in await bills_of(rig, "PC10AA0034567")
        if (b.year, b.month) == (latest.year - 1, latest.month)
    )
    assert lines[1].startswith(f"So với cùng kỳ năm trước ({period(year_ago)}): ")
    assert_chart(dung)


async def test_an_english_question_gets_the_explanation_in_english(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dungpham", *DUNG)
    await dung.say("why is my bill so high")
    assert dung.replies[0].text == FOLLOWED_EN
    latest, previous = (await bills_of(rig, "PC10AA0034567"))[:2]
    first = dung.replies[-1].text.splitlines()[0]
    assert first.startswith(expected_first_line(latest, previous, "en")), first
    assert parts_add_up(first, latest.total - previous.total, "en")
    assert "👤 Talk to staff" in dung.button_titles
    assert_chart(dung)


async def test_the_month_named_is_the_one_explained(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dungpham", *DUNG)
    await dung.say("hóa đơn tháng 10 sao gấp đôi")
    bills = await bills_of(rig, "PC10AA0034567")
    october, september = next((b, c) for b, c in itertools.pairwise(bills) if b.month == 10)
    assert dung.text.startswith(expected_first_line(october, september)), dung.text


async def test_payment_information_offers_why_only_under_a_large_change(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dungpham", *DUNG)
    latest, previous = (await bills_of(rig, "PC10AA0034567"))[:2]
    assert abs(latest.total - previous.total) > 0.15 * previous.total  # the demo's -15.3%
    await dung.say("/lookup")
    await dung.press("🧾 Thông tin thanh toán")
    assert "❓ Vì sao tăng/giảm?" in dung.button_titles
    await dung.press("❓ Vì sao tăng/giảm?")
    assert dung.text.startswith(expected_first_line(latest, previous))
    assert_chart(dung)
    an = await password_login(rig, "rest", "annguyen", *AN)
    latest, previous = (await bills_of(rig, "PC05CC0123456"))[:2]
    assert abs(latest.total - previous.total) <= 0.15 * previous.total  # the demo's +5.9%
    await an.say("/lookup")
    await an.press("🧾 Thông tin thanh toán")
    await an.press("PC05CC0123456 — Nguyễn Văn An")
    assert "❓ Vì sao tăng/giảm?" not in an.button_titles
    assert "💳 Thanh toán" in an.button_titles


async def test_an_unpaid_bill_offers_the_payment(rig: LightRig) -> None:
    binh = await password_login(rig, "rest", "binhtran", *BINH)  # two bills unpaid
    await binh.say("sao tiền điện tháng này giảm")
    assert "💳 Thanh toán" in binh.button_titles
    await binh.press("💳 Thanh toán")
    assert "PC03BB0045678" in binh.text


# --- bad input ---------------------------------------------------------------------------


async def test_a_code_the_customer_does_not_hold_is_refused(rig: LightRig) -> None:
    await password_login(rig, "rest", "annguyen", *AN)
    for payload in ("lk_why:PC03BB0045678", "lk_why:PC03BB0045678:2026-10-1"):
        texts = await rig.answer("annguyen", payload=payload)
        assert texts[0].startswith("Mã khách hàng này không thuộc"), payload
    texts = await rig.answer("annguyen", payload="lk_why_meter:PC03BB0045678")
    assert texts[0].startswith("Mã khách hàng này không thuộc")
    dung = await password_login(rig, "rest", "dungpham", *DUNG)
    await dung.say("sao tiền điện mã PC05CC0123456 tăng vậy")
    assert dung.text.startswith("Mã khách hàng này không thuộc")


async def test_a_period_with_no_bill(rig: LightRig) -> None:
    dung = await password_login(rig, "rest", "dungpham", *DUNG)
    await dung.say("sao tiền điện tháng 1/2020 cao vậy")
    assert dung.text.startswith("Mã PC10AA0034567 chưa có hóa đơn tháng 01/2020.")
    latest = (await bills_of(rig, "PC10AA0034567"))[0]
    await dung.press(f"Kỳ 1 T{latest.month:02d}/{latest.year}")
    assert dung.text.startswith(f"🧾 Tiền điện {period(latest)} ")


async def only_the_latest_bill(rig: LightRig, code: str) -> BillRecord:
    """Make `code` a new customer: its older bills go."""
    latest = (await bills_of(rig, code))[0]
    async with rig.runtime.db.transaction() as session:
        customer_id = await session.scalar(select(Customer.id).where(Customer.code == code))
        await session.execute(
            delete(Bill).where(Bill.customer_id == customer_id, Bill.period_end < latest.period_end)
        )
    return latest


async def test_the_first_bill_is_compared_with_similar_households(rig: LightRig) -> None:
    latest = await only_the_latest_bill(rig, "PC12AA0056789")
    hoa = await password_login(rig, "rest", "hoavo", *HOA)
    await hoa.say("sao tien dien thang nay cao the")
    lines = hoa.text.splitlines()
    assert lines[0].startswith(
        f"🧾 Tiền điện {period(latest)} ({latest.kwh} kWh, {money(latest.total)}) là hóa đơn "
        "đầu tiên của mã PC12AA0056789, nên chưa có kỳ trước để so sánh."
    )
    per_day = latest.kwh / ((latest.period_end - latest.period_start).days + 1)
    assert f"bình quân {per_day:.1f} kWh mỗi ngày".replace(".", ",") in lines[0]
    backend = rig.runtime.engine.services.backend
    hoa_record = await backend.customer("PC12AA0056789")
    assert hoa_record is not None
    where = CustomerFilter(
        province_code=hoa_record.province_code,
        ward_code=hoa_record.ward_code,
        tariff_group="household",
        households=1,
    )
    similar = await backend.area_usage(where, latest.year, latest.month, excluding="PC12AA0056789")
    assert similar.customers >= 5  # Buôn Ma Thuột has enough one-household homes
    less = round((1 - per_day / similar.kwh_per_day) * 100)
    assert lines[1] == (
        f"So với {similar.customers} khách hàng tương tự ở {hoa_record.ward_name} (bình quân "
        f"{similar.kwh_per_day:.1f}".replace(".", ",")
        + f" kWh mỗi ngày tháng {latest.month:02d}/{latest.year}), Quý khách dùng ít hơn {less}%."
    )
    assert "cao hơn" not in hoa.text and "thấp hơn" not in hoa.text
    assert_chart(hoa)


async def test_a_first_bill_with_too_few_similar_customers_says_so(rig: LightRig) -> None:
    await only_the_latest_bill(rig, "PC05CC0123457")  # the only restaurant of its ward
    an = await password_login(rig, "rest", "annguyen", *AN)
    await ask(an, "vì sao tiền điện tăng", "PC05CC0123457")
    lines = an.text.splitlines()
    assert "là hóa đơn đầu tiên của mã PC05CC0123457" in lines[0]
    assert lines[1] == "Tôi chưa có đủ số liệu của khách hàng tương tự trong khu vực để so sánh."


async def reissue_latest(rig: LightRig, code: str, kwh: int) -> None:
    """Make `code`'s latest bill one of `kwh`, billed as EVN would (a household)."""
    latest = (await bills_of(rig, code))[0]
    tariffs = rig.runtime.engine.services.tariffs
    bill = tariffs.compute(kwh, latest.period_start, latest.period_end)
    async with rig.runtime.db.transaction() as session:
        customer_id = await session.scalar(select(Customer.id).where(Customer.code == code))
        await session.execute(
            update(Bill)
            .where(Bill.customer_id == customer_id, Bill.period_end == latest.period_end)
            .values(
                kwh=kwh,
                new_index=Bill.old_index + kwh,
                before_vat=bill.before_vat,
                vat=bill.vat,
                total=bill.total,
            )
        )


async def test_a_period_with_zero_consumption(rig: LightRig) -> None:
    latest, previous = (await bills_of(rig, "PC12AA0056789"))[:2]
    await reissue_latest(rig, "PC12AA0056789", 0)
    hoa = await password_login(rig, "rest", "hoavo", *HOA)
    await hoa.say("sao tháng này tiền điện thấp vậy")
    lines = hoa.text.splitlines()
    assert lines[0] == (
        f"🧾 Trong {period(latest)}, công tơ mã PC12AA0056789 ghi 0 kWh nên "
        f"tiền điện là 0 đ (kỳ trước {previous.kwh} kWh, {money(previous.total)})."
    )
    assert lines[1].startswith("Nếu trong kỳ nhà vẫn dùng điện, có thể công tơ không chạy")
    assert "🔧 Kiểm tra công tơ" in hoa.button_titles


async def test_an_unexplained_jump_offers_the_meter_check_with_the_code_filled(
    rig: LightRig,
) -> None:
    latest = (await bills_of(rig, "PC12AA0056789"))[0]
    await reissue_latest(rig, "PC12AA0056789", latest.kwh * 3)
    hoa = await password_login(rig, "rest", "hoavo", *HOA)
    await hoa.say("tiền điện tháng này tăng gấp ba, vì sao")
    lines = hoa.text.splitlines()
    assert lines[0].startswith("🧾 Tiền điện")
    assert "cao hơn kỳ trước" in lines[0] and "dùng nhiều hơn" in lines[0]
    assert lines[-1].startswith("Mức dùng mỗi ngày tăng hơn 1,5 lần")
    assert hoa.button_titles[0] == "🔧 Kiểm tra công tơ"
    await hoa.press("🔧 Kiểm tra công tơ")
    assert hoa.replies[0].text.startswith("📝 Kiểm tra công tơ và thiết bị đo đếm")
    question = hoa.replies[-1].text
    assert "Công tơ có hiện tượng gì?" in question and "Mã khách hàng" not in question
    assert "Chạy nhanh bất thường" in hoa.button_titles


async def test_the_faulty_meter_persona_tapping_why_under_her_notice_is_offered_the_check(
    rig: LightRig,
) -> None:
    # Thu's last two bills both about doubled: the latest differs little from the one
    # before, but both are far above her ordinary, as her bill notice said.
    latest, before = (await bills_of(rig, THU))[:2]
    thu = await password_login(rig, "rest", "thu-why", *THU_LOGIN)
    await tap_under_notice(thu, f"lk_why:{THU}:{latest.year}-{latest.month}-{latest.term}")
    lines = thu.text.splitlines()
    assert lines[0].startswith(f"🧾 Tiền điện {period(latest)}")
    assert lines[-1].startswith("Đã hai kỳ liền mức dùng mỗi ngày cao bất thường")
    assert "kiểm tra công tơ" in lines[-1]
    assert thu.button_titles[0] == "🔧 Kiểm tra công tơ"
    assert latest.kwh < 1.5 * before.kwh  # not the 1.5x rise on the period before
