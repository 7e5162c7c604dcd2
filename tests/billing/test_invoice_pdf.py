"""The e-invoice PDF, read back the way a customer checks it: the text on the page.

Bills are priced by the tariff engine, as the demo data does; the figures are the ones
worked out by hand in test_tariffs.py.
"""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from num2words import num2words
from pypdf import PdfReader

from bot.billing import invoice_pdf
from bot.billing.invoice_pdf import Seller, amount_in_words, invoice_lines, render_invoice
from bot.billing.tariffs import default_tariffs
from bot.store.backend import BillRecord, CustomerRecord, InvoiceRecord

NAME = "Nguyễn Thị Thu Hương"


def make_customer(**overrides: Any) -> CustomerRecord:
    values: dict[str, Any] = {
        "code": "PC05CC0123456",
        "name": NAME,
        "address": "12 Trần Phú",
        "ward_code": 20551,
        "ward_name": "phường Hội An",
        "province_code": 48,
        "province_name": "thành phố Đà Nẵng",
        "former_district": None,
        "latitude": None,
        "longitude": None,
        "phones": ("+84905123456",),
        "email": None,
        "tariff_group": "household",
        "voltage_level": None,
        "households": 1,
        "meter_number": "14123456",
        "reading_day": 15,
        "terms_per_month": 1,
        "unit_code": "PC05CC",
        "unit_name": "Điện lực Hội An",
    }
    return CustomerRecord(**{**values, **overrides})


def make_bill(
    customer: CustomerRecord,
    kwh: int,
    start: date,
    end: date,
    *,
    paid_at: datetime | None = None,
    channel: str | None = None,
    number: int = 100123,
) -> BillRecord:
    """A bill as the demo generator stores it: invoice lines as JSON-like dicts."""
    breakdown = default_tariffs().compute(
        kwh,
        start,
        end,
        group=customer.tariff_group,
        voltage=customer.voltage_level,
        households=customer.households,
    )
    issued = end + timedelta(days=1)
    lines = tuple(
        {
            "tier": line.tier,
            "kwh": line.kwh,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "tariff_from": line.tariff_from.isoformat(),
            "vat_rate": line.vat_rate,
        }
        for line in breakdown.lines
    )
    return BillRecord(
        customer_code=customer.code,
        term=1,
        month=end.month,
        year=end.year,
        period_start=start,
        period_end=end,
        old_index=12_345,
        new_index=12_345 + kwh,
        kwh=kwh,
        before_vat=breakdown.before_vat,
        vat_rate=breakdown.lines[-1].vat_rate,
        vat=breakdown.vat,
        total=breakdown.total,
        issued_on=issued,
        due_date=end + timedelta(days=10),
        status="paid" if paid_at else "unpaid",
        paid_at=paid_at,
        paid_channel=channel,
        invoice=InvoiceRecord("1", f"K{issued.year % 100}TAA", number, issued, lines),
    )


def page_text(pdf: bytes) -> str:
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    return re.sub(r"[ \t]+", " ", text)


@pytest.fixture(scope="module")
def customer() -> CustomerRecord:
    return make_customer()


@pytest.fixture(scope="module")
def split_bill(customer: CustomerRecord) -> BillRecord:
    # The worked example: 2025-04-26 .. 2025-05-25 straddles Quyết định 1279 (2025-05-10).
    return make_bill(customer, 300, date(2025, 4, 26), date(2025, 5, 25))


@pytest.fixture(scope="module")
def month_bill(customer: CustomerRecord) -> BillRecord:
    paid = datetime(2025, 10, 20, 2, 30, tzinfo=UTC)  # 09:30 in Viet Nam
    return make_bill(
        customer, 134, date(2025, 9, 16), date(2025, 10, 15), paid_at=paid, channel="bank_app"
    )


def test_split_period_invoice_shows_both_price_tables(
    customer: CustomerRecord, split_bill: BillRecord
) -> None:
    text = page_text(render_invoice(customer, split_bill))
    for expected in (
        "HÓA ĐƠN GIÁ TRỊ GIA TĂNG (TIỀN ĐIỆN)",
        "Bản thể hiện của hóa đơn điện tử",
        "Ký hiệu: 1K25TAA",
        "Số: 0100123",
        "Ngày 26 tháng 05 năm 2025",
        f"Tên khách hàng: {NAME}",
        "Địa chỉ: 12 Trần Phú, phường Hội An, thành phố Đà Nẵng",
        "Mã khách hàng: PC05CC0123456",
        "Số công tơ: 14123456",
        "Số hộ dùng điện: 1",
        "Kỳ 1 tháng 05/2025, từ 26/04/2025 đến 25/05/2025",
        "Bậc Điện năng (kWh) Đơn giá (đ/kWh) Thành tiền (đ)",
        "Bậc 1 (giá từ 11/10/2024) 23 1.893 43.539",
        "Bậc 2 (giá từ 11/10/2024) 23 1.956 44.988",
        "Bậc 3 (giá từ 11/10/2024) 47 2.271 106.737",
        "Bậc 4 (giá từ 11/10/2024) 47 2.860 134.420",
        "Bậc 1 (giá từ 10/05/2025) 27 1.984 53.568",
        "Bậc 2 (giá từ 10/05/2025) 27 2.050 55.350",
        "Bậc 3 (giá từ 10/05/2025) 53 2.380 126.140",
        "Bậc 4 (giá từ 10/05/2025) 53 2.998 158.894",
        "Cộng tiền điện 300 723.636",
        "Thuế GTGT 8% 57.891",
        "Tổng cộng tiền thanh toán 781.527",
        "Bằng chữ: Bảy trăm tám mươi mốt nghìn năm trăm hai mươi bảy đồng.",
        "Chưa thanh toán – hạn thanh toán 04/06/2025",
    ):
        assert expected in text


def test_ordinary_month_invoice(customer: CustomerRecord, month_bill: BillRecord) -> None:
    text = page_text(render_invoice(customer, month_bill))
    for expected in (
        "Kỳ 1 tháng 10/2025, từ 16/09/2025 đến 15/10/2025",
        "Chỉ số cũ (ngày 15/09/2025) Chỉ số mới (ngày 15/10/2025) Điện năng (kWh)",
        "12.345 12.479 134",
        "Bậc 1 50 1.984 99.200",
        "Bậc 2 50 2.050 102.500",
        "Bậc 3 34 2.380 80.920",
        "Cộng tiền điện 134 282.620",
        "Thuế GTGT 8% 22.610",
        "Tổng cộng tiền thanh toán 305.230",
        "Bằng chữ: Ba trăm lẻ năm nghìn hai trăm ba mươi đồng.",
        "Hạn thanh toán: 25/10/2025",
        "Đã thanh toán ngày 20/10/2025 qua ứng dụng ngân hàng",
    ):
        assert expected in text
    assert "giá từ" not in text  # one price table: no dates on the lines


def test_business_invoice_has_one_normal_price_line() -> None:
    shop = make_customer(
        name="Công ty TNHH Thương mại Hoàng Phúc",
        tariff_group="business",
        voltage_level="below_6kv",
    )
    text = page_text(
        render_invoice(shop, make_bill(shop, 2150, date(2025, 9, 16), date(2025, 10, 15)))
    )
    for expected in (
        "Công ty TNHH Thương mại Hoàng Phúc",
        "Mục đích sử dụng: Kinh doanh, cấp điện áp dưới 6 kV",
        "Loại giá Điện năng (kWh) Đơn giá (đ/kWh) Thành tiền (đ)",
        "Giá bình thường 2.150 3.152 6.776.800",
        "Thuế GTGT 8% 542.144",
        "Tổng cộng tiền thanh toán 7.318.944",
        "Bảy triệu ba trăm mười tám nghìn chín trăm bốn mươi bốn đồng.",
    ):
        assert expected in text
    assert "Bậc" not in text


def test_vat_change_inside_the_period_gives_one_vat_line_per_rate(
    customer: CustomerRecord,
) -> None:
    # VAT goes back to 10% on 2027-01-01 (data/tariffs.yml); prices do not change.
    bill = make_bill(customer, 300, date(2026, 12, 20), date(2027, 1, 19))
    text = page_text(render_invoice(customer, bill))
    assert "Bậc 1 (thuế GTGT 8%) 19 1.984 37.696" in text
    assert "Bậc 1 (thuế GTGT 10%) 31 1.984 61.504" in text
    assert "Thuế GTGT 8% 22.911" in text
    assert "Thuế GTGT 10% 45.311" in text
    assert "Tổng cộng tiền thanh toán 807.722" in text


def test_seller_defaults_to_evncpc_with_the_managing_unit(
    customer: CustomerRecord, month_bill: BillRecord
) -> None:
    text = page_text(render_invoice(customer, month_bill))
    assert "TỔNG CÔNG TY ĐIỆN LỰC MIỀN TRUNG" in text
    assert "Mã số thuế: 0400101394" in text
    assert "Địa chỉ: 78A Duy Tân, phường Hòa Cường, thành phố Đà Nẵng" in text
    assert "Điện thoại: 1900 1909" in text
    assert "Đơn vị quản lý: Điện lực Hội An" in text

    other = Seller("Công ty Điện lực Quảng Nam", "4000100001", "2 Phan Bội Châu", "0235 1234")
    text = page_text(render_invoice(customer, month_bill, seller=other))
    assert "CÔNG TY ĐIỆN LỰC QUẢNG NAM" in text
    assert "Mã số thuế: 4000100001" in text
    assert "0400101394" not in text


def test_pdf_is_a4_and_embeds_truetype_fonts(
    customer: CustomerRecord, split_bill: BillRecord
) -> None:
    pdf = render_invoice(customer, split_bill)
    assert pdf.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    resources: Any = page["/Resources"]  # a pypdf DictionaryObject
    fonts = [font.get_object() for font in resources["/Font"].values()]
    assert fonts
    for font in fonts:
        # Type0 + CIDFontType2 + FontFile2 is an embedded TrueType font with Unicode glyphs.
        assert font["/Subtype"] == "/Type0"
        assert "DejaVuSans" in font["/BaseFont"]
        descendant = font["/DescendantFonts"][0].get_object()
        assert descendant["/Subtype"] == "/CIDFontType2"
        assert "/FontFile2" in descendant["/FontDescriptor"].get_object()
        assert "/ToUnicode" in font  # so copy/paste and search see the diacritics


def test_same_bill_gives_the_same_bytes(customer: CustomerRecord, month_bill: BillRecord) -> None:
    assert render_invoice(customer, month_bill) == render_invoice(customer, month_bill)


def test_decomposed_name_is_printed_composed(month_bill: BillRecord) -> None:
    decomposed = make_customer(name=unicodedata.normalize("NFD", NAME))
    assert f"Tên khách hàng: {NAME}" in page_text(render_invoice(decomposed, month_bill))


def test_bill_without_invoice_is_refused(customer: CustomerRecord, month_bill: BillRecord) -> None:
    with pytest.raises(ValueError, match="no invoice"):
        render_invoice(customer, dataclasses.replace(month_bill, invoice=None))


def test_lines_that_do_not_add_up_are_refused(
    customer: CustomerRecord, month_bill: BillRecord
) -> None:
    with pytest.raises(ValueError, match="does not add up"):
        render_invoice(customer, dataclasses.replace(month_bill, total=month_bill.total + 1))


def test_invoice_without_stored_lines_is_priced_by_the_tariff_engine(
    customer: CustomerRecord, split_bill: BillRecord
) -> None:
    assert split_bill.invoice is not None
    bare = dataclasses.replace(
        split_bill, invoice=dataclasses.replace(split_bill.invoice, lines=())
    )
    assert invoice_lines(customer, bare) == invoice_lines(customer, split_bill)
    assert render_invoice(customer, bare) == render_invoice(customer, split_bill)


def test_font_is_the_dejavu_that_matplotlib_ships() -> None:
    expected = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    assert invoice_pdf._font_dir() == expected
    assert (expected / "DejaVuSans.ttf").is_file()
    assert (expected / "DejaVuSans-Bold.ttf").is_file()


@pytest.mark.parametrize(
    ("vnd", "words"),
    [
        (305_230, "Ba trăm lẻ năm nghìn hai trăm ba mươi đồng."),
        (781_527, "Bảy trăm tám mươi mốt nghìn năm trăm hai mươi bảy đồng."),
        (0, "Không đồng."),
        (15, "Mười lăm đồng."),
        (105, "Một trăm lẻ năm đồng."),
        (10_500, "Mười nghìn năm trăm đồng."),
        (1_000_500, "Một triệu năm trăm đồng."),
        (1_005_000, "Một triệu không trăm lẻ năm nghìn đồng."),
        (2_024_000, "Hai triệu không trăm hai mươi bốn nghìn đồng."),
        (1_000_010, "Một triệu không trăm mười đồng."),
        (1_000_000_005, "Một tỷ không trăm lẻ năm đồng."),
        (21_000_000_000, "Hai mươi mốt tỷ đồng."),
    ],
)
def test_amount_in_words(vnd: int, words: str) -> None:
    assert amount_in_words(vnd) == words


def test_amount_in_words_reads_inner_groups_in_full_unlike_num2words() -> None:
    # num2words 0.5.14 reads 1.005.000 as "một triệu năm nghìn" and 2.024.000 as "hai triệu
    # hai mươi bốn nghìn"; an invoice reads every group after the first in full.
    assert num2words(1_005_000, lang="vi") != "một triệu không trăm lẻ năm nghìn"
    assert amount_in_words(1_005_000) == "Một triệu không trăm lẻ năm nghìn đồng."


def test_negative_amount_in_words_is_refused() -> None:
    with pytest.raises(ValueError):
        amount_in_words(-1)
