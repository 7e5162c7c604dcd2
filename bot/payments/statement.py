"""The utility's bank statement, exported as CSV, read into rows to reconcile (issue 16).

Only money coming in is kept; every line that cannot be read is reported with its row
number as a spreadsheet shows it and a short Vietnamese reason, so staff can fix the file
and import it again (rows already imported are recognised by `StatementRow.key`).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

# Header names, compared without case, diacritics or extra spaces.
_HEADERS = {
    "date": ("date", "ngay", "ngay giao dich", "transaction date"),
    "amount": ("amount", "so tien"),
    "description": ("description", "noi dung", "dien giai"),
    "reference": ("reference", "ma giao dich", "so tham chieu"),
}
_REQUIRED = ("date", "amount", "description")  # a statement without references still dedups
_HEADER_VI = {"date": "ngày", "amount": "số tiền", "description": "nội dung"}
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M")
_CURRENCY = re.compile(r"\s*(?:VND|VNĐ|đ|₫)\s*$", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:[., \u00a0][0-9]{3})+")
_SEPARATORS = re.compile(r"[., \u00a0]")
_MAX_DIGITS = 15  # a thousand trillion VND: anything longer is a misread column
_DECIMAL_ZERO = re.compile(r"0{1,2}")


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One incoming transfer of a bank statement."""

    line: int
    booked_on: date
    amount: int
    description: str
    bank_reference: str

    @property
    def key(self) -> str:
        """A key that is the same for the same transfer in every import: the bank's own
        reference when the statement gives one, else a hash of date, amount and text."""
        if self.bank_reference:
            return f"ref:{self.bank_reference}"
        seen = f"{self.booked_on.isoformat()}|{self.amount}|{self.description}"
        return "sha256:" + hashlib.sha256(seen.encode("utf-8")).hexdigest()


@dataclass
class StatementParse:
    """The rows read from a statement and the lines that could not be read."""

    rows: list[StatementRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse_statement(text: str) -> StatementParse:
    """Read a CSV bank statement: a header row naming the columns date, amount,
    description and (optionally) reference in any order, in English or Vietnamese.

    Line numbers count rows as a spreadsheet does: the header is 1, blank rows count, and
    a quoted cell that spans lines is still one row.

    Raises:
        ValueError: the file is empty or its header lacks a required column.
    """
    text = text.removeprefix("\ufeff")
    records = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    result = StatementParse()
    columns: dict[str, int] | None = None
    for line, cells in enumerate(records, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _columns(cells)
            continue
        row = _row(line, cells, columns, result.errors)
        if row is not None:
            result.rows.append(row)
    if columns is None:
        raise ValueError("bảng kê trống: không có dòng tiêu đề")
    return result


def _delimiter(text: str) -> str:
    """The delimiter of the first non-blank line (the header): whichever of , ; or tab it
    holds most; a header has no separator inside its names."""
    header = next((line for line in io.StringIO(text) if line.strip()), "")
    return max((",", ";", "\t"), key=header.count)


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.lower().split())


def _columns(header: list[str]) -> dict[str, int]:
    names = [_plain(cell) for cell in header]
    columns: dict[str, int] = {}
    for column, accepted in _HEADERS.items():
        for index, name in enumerate(names):
            if name in accepted:
                columns[column] = index
                break
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        said = ", ".join(f"{name} ({_HEADER_VI[name]})" for name in missing)
        raise ValueError(f"bảng kê thiếu cột: {said}")
    return columns


def _row(
    line: int, cells: list[str], columns: dict[str, int], errors: list[tuple[int, str]]
) -> StatementRow | None:
    needed = max(columns[name] for name in _REQUIRED) + 1
    if len(cells) < needed:
        errors.append((line, f"thiếu ô: có {len(cells)}, cần {needed}"))
        return None
    reasons: list[str] = []
    booked_on = _date(cells[columns["date"]].strip(), reasons)
    amount = _amount(cells[columns["amount"]].strip(), reasons)
    description = unicodedata.normalize("NFC", cells[columns["description"]].strip())
    if not description:
        reasons.append("thiếu nội dung")
    at = columns.get("reference", len(cells))
    reference = cells[at].strip() if at < len(cells) else ""  # a trailing empty cell dropped
    if reasons or booked_on is None or amount is None:
        errors.append((line, "; ".join(reasons)))
        return None
    return StatementRow(line, booked_on, amount, description, reference)


def _date(value: str, reasons: list[str]) -> date | None:
    if not value:
        reasons.append("thiếu ngày")
        return None
    day, _, time = value.replace("T", " ", 1).partition(" ")
    parsed = _day(day)
    time = time.strip()
    if parsed is None or (time and not _is_time(time)):
        reasons.append(f"ngày không hợp lệ: {value!r}")
        return None
    return parsed


# Statements repeat the same few dates and times thousands of times: parse each once.
@functools.lru_cache(maxsize=4096)
def _day(value: str) -> date | None:
    return _strptime(value, _DATE_FORMATS)


@functools.lru_cache(maxsize=4096)
def _is_time(value: str) -> bool:
    return _strptime(value, _TIME_FORMATS) is not None


def _strptime(value: str, formats: tuple[str, ...]) -> date | None:
    for pattern in formats:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def _amount(value: str, reasons: list[str]) -> int | None:
    """Whole VND from what banks write: 305230, 305,230, 305.230, 305.230 VND,
    305,230.00, +305230. A single separator before exactly three digits groups
    thousands (VND has no cents); before one or two digits it is a decimal point."""
    if not value:
        reasons.append("thiếu số tiền")
        return None
    if value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:  # the common case
        return _positive(int(value), value, reasons)
    number = _CURRENCY.sub("", value).strip() if not value[-1].isdigit() else value
    sign, number = (number[0], number[1:].strip()) if number[:1] in "+-" else ("", number)
    whole, decimals = _split_decimals(number)
    if _GROUPED.fullmatch(whole):
        whole = _SEPARATORS.sub("", whole)
    if (
        not _DIGITS.fullmatch(whole)
        or len(whole) > _MAX_DIGITS
        or (decimals and not _DIGITS.fullmatch(decimals))
    ):
        reasons.append(f"số tiền không hợp lệ: {value!r}")
        return None
    amount = int(whole)
    if sign == "-":
        amount = -amount
    elif decimals and not _DECIMAL_ZERO.fullmatch(decimals) and amount > 0:
        reasons.append(f"số tiền có phần lẻ: {value!r}")
        return None
    return _positive(amount, value, reasons)


def _positive(amount: int, value: str, reasons: list[str]) -> int | None:
    if amount <= 0:  # a debit: money going out is not a customer's payment
        reasons.append(f"không phải tiền vào: {value!r}")
        return None
    return amount


def _split_decimals(number: str) -> tuple[str, str]:
    """The whole part and the decimal digits ("" when none)."""
    last = max(number.rfind("."), number.rfind(","))
    if last == -1:
        return number, ""
    tail = number[last + 1 :]
    if ("." in number and "," in number) or (
        number.count(number[last]) == 1 and len(tail) in (1, 2)
    ):
        return number[:last], tail
    return number, ""
