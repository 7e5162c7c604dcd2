"""The customer's copy of an electricity VAT e-invoice, as a one-page A4 PDF.

It shows what EVN's "bản thể hiện của hóa đơn điện tử" shows (Nghị định 123/2020/NĐ-CP,
Thông tư 78/2021/TT-BTC): form number and series as one symbol (1K25TAA), the number,
seller and buyer, the billing period and meter readings, the priced lines, VAT per rate,
the total in figures and in words, and whether it is paid.

Rendering is CPU work: call `render_invoice` from a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from num2words import num2words

from bot.billing.tariffs import BillLine, default_tariffs
from bot.core.fmt import LOCAL_TZ, day, number
from bot.core.texts import Texts

if TYPE_CHECKING:  # only annotations: importing the store would pull in SQLAlchemy (~0.3 s)
    from bot.store.backend import BillRecord, CustomerRecord

FONT = "DejaVu"
BLUE = (0, 70, 140)
HEADING_FILL = (225, 234, 245)
WIDTH = 180.0  # A4 (210 mm) less 15 mm margins


@functools.cache
def _paid_channel(channel: str) -> str:
    """How a payment channel reads on the invoice (the same words as in the chat)."""
    texts = Texts.load()
    key = f"paid_channel.{channel}"
    return texts.get(key, "vi") if key in texts else channel


GROUPS = {"household": "Sinh hoạt", "business": "Kinh doanh", "production": "Sản xuất"}
VOLTAGES = {"below_6kv": "cấp điện áp dưới 6 kV", "6_22kv": "cấp điện áp từ 6 kV đến dưới 22 kV"}


@dataclass(frozen=True)
class Seller:
    """The company that issues the invoice (người bán); EVNCPC unless told otherwise."""

    name: str = "Tổng công ty Điện lực miền Trung"
    tax_code: str = "0400101394"
    address: str = "78A Duy Tân, phường Hòa Cường, thành phố Đà Nẵng"
    phone: str = "1900 1909"


def render_invoice(
    customer: CustomerRecord, bill: BillRecord, *, seller: Seller | None = None
) -> bytes:
    """The PDF of `bill`'s e-invoice. The same bill always gives the same bytes.

    Raises:
        ValueError: the bill has no e-invoice yet, or its lines do not add up to its totals.
    """
    invoice = bill.invoice
    if invoice is None:
        raise ValueError(f"bill {bill.month}/{bill.year} of {bill.customer_code} has no invoice")
    seller = seller or Seller()
    lines = invoice_lines(customer, bill)
    vat_by_rate = _vat_by_rate(lines)
    if (
        sum(line.amount for line in lines) != bill.before_vat
        or sum(vat_by_rate.values()) != bill.vat
        or bill.before_vat + bill.vat != bill.total
    ):
        # A printed invoice that contradicts the bill is worse than none.
        raise ValueError(f"invoice {invoice.symbol} {invoice.number} does not add up to its bill")

    pdf = _document(seller, f"Hóa đơn tiền điện {invoice.symbol} số {invoice.number:07d}")
    # A fixed creation date keeps the output byte-identical for the same bill (cacheable).
    pdf.set_creation_date(datetime.combine(invoice.issued_on, time(), LOCAL_TZ))
    _header(pdf, seller, customer.unit_name, invoice.symbol, invoice.number, invoice.issued_on)
    _buyer(pdf, customer)
    _readings(pdf, bill)
    _charges(pdf, lines, vat_by_rate, bill)
    _payment(pdf, bill, seller)
    return bytes(pdf.output())


def amount_in_words(vnd: int) -> str:
    """The amount as printed on invoices: 305230 -> 'Ba trăm lẻ năm nghìn hai trăm ba mươi đồng.'

    Invoices read every three-digit group after the first in full (1.005.000 -> 'một triệu
    không trăm lẻ năm nghìn'); num2words drops the zero hundreds ('một triệu năm nghìn'),
    so it only reads the groups here.
    """
    if vnd < 0:
        raise ValueError(f"an amount cannot be negative: {vnd}")
    words = _read(vnd, leading=True) if vnd else "không"
    return f"{words[0].upper()}{words[1:]} đồng."


def _read(value: int, *, leading: bool) -> str:
    billions, rest = divmod(value, 1_000_000_000)
    parts = [_read(billions, leading=leading) + " tỷ"] if billions else []
    groups = ((rest // 1_000_000, " triệu"), (rest // 1000 % 1000, " nghìn"), (rest % 1000, ""))
    for group, scale in groups:
        if not group:
            continue  # a zero group is not read at all
        if leading and not parts:
            parts.append(str(num2words(group, lang="vi")) + scale)
        else:
            prefix = "không trăm lẻ " if group < 10 else "không trăm " if group < 100 else ""
            parts.append(prefix + str(num2words(group, lang="vi")) + scale)
    return " ".join(parts)


def invoice_lines(customer: CustomerRecord, bill: BillRecord) -> tuple[BillLine, ...]:
    """The invoice's priced lines; recomputed by the tariff engine if it stores none."""
    stored = bill.invoice.lines if bill.invoice else ()
    if stored:
        return tuple(_line(item) for item in stored)
    breakdown = default_tariffs().compute(
        bill.kwh,
        bill.period_start,
        bill.period_end,
        group=customer.tariff_group,
        voltage=customer.voltage_level,
        households=customer.households,
    )
    return breakdown.lines


def _line(item: dict[str, Any]) -> BillLine:
    # The demo data stores lines as JSON (bot/demo/generate.py): dates as ISO strings.
    since, tier = item["tariff_from"], item.get("tier")
    since = since if isinstance(since, date) else date.fromisoformat(since)
    kwh, price, amount, rate = (int(item[k]) for k in ("kwh", "unit_price", "amount", "vat_rate"))
    return BillLine(kwh, price, amount, since, rate, None if tier is None else int(tier))


def _vat_by_rate(lines: Sequence[BillLine]) -> dict[int, int]:
    """VAT per rate, rounded half up once per rate on the rate's sum (as the tariff engine)."""
    bases: dict[int, int] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, 0) + line.amount
    return {rate: (2 * base * rate + 100) // 200 for rate, base in bases.items()}


def _font_dir() -> Path:
    # matplotlib ships DejaVu Sans (full Vietnamese coverage), so no system font is needed.
    # This is matplotlib.get_data_path() without importing matplotlib (~0.3 s).
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib is not installed: it provides the invoice font")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


def _document(seller: Seller, title: str) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=15)
    fonts = _font_dir()
    pdf.add_font(FONT, "", fonts / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", fonts / "DejaVuSans-Bold.ttf")
    pdf.set_title(title)
    pdf.set_author(_nfc(seller.name))
    pdf.set_creator("CSKH Bot")
    pdf.set_lang("vi")
    pdf.add_page()
    return pdf


def _nfc(text: str) -> str:
    # Decomposed diacritics would be drawn as loose marks: DejaVu has the composed glyphs.
    return unicodedata.normalize("NFC", text)


def _field(pdf: FPDF, label: str, value: str, *, width: float = 42, x: float = 15) -> None:
    pdf.set_x(x)
    pdf.set_font(FONT, "", 9.5)
    pdf.cell(width, 5.5, _nfc(label))
    pdf.set_font(FONT, "B", 9.5)
    pdf.multi_cell(WIDTH + 15 - x - width, 5.5, _nfc(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _header(
    pdf: FPDF, seller: Seller, unit_name: str, symbol: str, invoice_number: int, issued_on: date
) -> None:
    pdf.set_text_color(*BLUE)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(122, 6, _nfc(seller.name.upper()), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.set_font(FONT, "", 9)
    for text in (
        f"Mã số thuế: {seller.tax_code}",
        f"Địa chỉ: {seller.address}",
        f"Điện thoại: {seller.phone}",
        f"Đơn vị quản lý: {unit_name}",
    ):
        pdf.multi_cell(122, 5, _nfc(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    bottom = pdf.get_y()
    pdf.set_xy(140, 15)
    _field(pdf, "Ký hiệu:", symbol, width=18, x=140)
    _field(pdf, "Số:", f"{invoice_number:07d}", width=18, x=140)
    pdf.set_y(max(bottom, pdf.get_y()) + 3)
    pdf.set_draw_color(*BLUE)
    pdf.line(15, pdf.get_y(), 195, pdf.get_y())
    pdf.ln(4)
    pdf.set_text_color(*BLUE)
    pdf.set_font(FONT, "B", 15)
    title = "HÓA ĐƠN GIÁ TRỊ GIA TĂNG (TIỀN ĐIỆN)"
    pdf.cell(WIDTH, 8, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.set_font(FONT, "", 9.5)
    issued = f"Ngày {issued_on.day:02d} tháng {issued_on.month:02d} năm {issued_on.year}"
    for text in ("Bản thể hiện của hóa đơn điện tử", issued):
        pdf.cell(WIDTH, 5, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _buyer(pdf: FPDF, customer: CustomerRecord) -> None:
    purpose = GROUPS.get(customer.tariff_group, customer.tariff_group)
    if customer.voltage_level:
        purpose += f", {VOLTAGES.get(customer.voltage_level, customer.voltage_level)}"
    _field(pdf, "Tên khách hàng:", customer.name)
    _field(pdf, "Địa chỉ:", customer.full_address)
    _field(pdf, "Mã khách hàng:", customer.code)
    _field(pdf, "Số công tơ:", customer.meter_number)
    _field(pdf, "Mục đích sử dụng:", purpose)
    _field(pdf, "Số hộ dùng điện:", str(customer.households))
    pdf.ln(2)


def _readings(pdf: FPDF, bill: BillRecord) -> None:
    period = (
        f"Kỳ {bill.term} tháng {bill.month:02d}/{bill.year}, "
        f"từ {day(bill.period_start)} đến {day(bill.period_end)}"
    )
    _field(pdf, "Kỳ hóa đơn:", period)
    pdf.ln(2)
    # The old index is read the day before the period starts, the new one on its last day.
    old_read = day(bill.period_start - timedelta(days=1))
    new_read = day(bill.period_end)
    heading = (f"Chỉ số cũ (ngày {old_read})", f"Chỉ số mới (ngày {new_read})", "Điện năng (kWh)")
    values = (number(bill.old_index), number(bill.new_index), number(bill.kwh))
    _table(pdf, [heading, values], widths=(65, 65, 50), align=("CENTER",) * 3)
    pdf.ln(4)


def _charges(
    pdf: FPDF, lines: Sequence[BillLine], vat_by_rate: dict[int, int], bill: BillRecord
) -> None:
    several_tariffs = len({line.tariff_from for line in lines}) > 1
    several_rates = len(vat_by_rate) > 1
    kind = "Bậc" if any(line.tier is not None for line in lines) else "Loại giá"
    rows: list[tuple[str, ...]] = [(kind, "Điện năng (kWh)", "Đơn giá (đ/kWh)", "Thành tiền (đ)")]
    for line in lines:
        label = "Giá bình thường" if line.tier is None else f"Bậc {line.tier}"
        notes = [f"giá từ {day(line.tariff_from)}"] if several_tariffs else []
        notes += [f"thuế GTGT {line.vat_rate}%"] if several_rates else []
        label += f" ({'; '.join(notes)})" if notes else ""
        rows.append((label, number(line.kwh), number(line.unit_price), number(line.amount)))
    kwh = number(sum(line.kwh for line in lines))
    totals: list[tuple[str, ...]] = [("Cộng tiền điện", kwh, "", number(bill.before_vat))]
    totals += [(f"Thuế GTGT {rate}%", "", "", number(vat)) for rate, vat in vat_by_rate.items()]
    totals.append(("Tổng cộng tiền thanh toán", "", "", number(bill.total)))
    align = ("LEFT", "RIGHT", "RIGHT", "RIGHT")
    _table(pdf, rows + totals, widths=(66, 36, 36, 42), align=align, bold_from=len(rows))
    pdf.ln(3)
    _field(pdf, "Bằng chữ:", amount_in_words(bill.total), width=30)


def _payment(pdf: FPDF, bill: BillRecord, seller: Seller) -> None:
    pdf.ln(1)
    if bill.status == "paid":
        status = "Đã thanh toán"
        if bill.paid_at is not None:
            status += f" ngày {day(bill.paid_at)}"
        if bill.paid_channel:
            status += f" qua {_paid_channel(bill.paid_channel)}"
        _field(pdf, "Hạn thanh toán:", day(bill.due_date), width=30)
    else:
        status = f"Chưa thanh toán – hạn thanh toán {day(bill.due_date)}"
    _field(pdf, "Thanh toán:", status, width=30)
    pdf.ln(6)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(90)
    note = f"Mọi thắc mắc về hóa đơn, xin Quý khách gọi tổng đài {seller.phone} (24/7)."
    pdf.multi_cell(WIDTH, 4.5, _nfc(note), align="C")
    pdf.set_text_color(0)


def _table(
    pdf: FPDF,
    rows: Sequence[tuple[str, ...]],
    *,
    widths: tuple[float, ...],
    align: tuple[str, ...],
    bold_from: int | None = None,
) -> None:
    heading = FontFace(family=FONT, emphasis="BOLD", fill_color=HEADING_FILL)
    bold = FontFace(family=FONT, emphasis="BOLD")
    pdf.set_font(FONT, "", 9.5)
    pdf.set_draw_color(150)
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        text_align=align,
        headings_style=heading,
        line_height=6.5,
        padding=(0.5, 1.5),
    ) as table:
        for index, cells in enumerate(rows):
            row = table.row()
            style = bold if bold_from is not None and index >= bold_from else None
            for cell in cells:
                row.cell(_nfc(cell), style=style)
