"""Reading the utility's bank statement (CSV) for reconciliation."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.payments.statement import StatementRow, parse_statement

ROOT = Path(__file__).resolve().parents[2]

GOOD = """date,amount,description,reference
05/06/2025,305230,MBVCB.3312345.TT7K3M9Q2XD PC05CC0123456.CT tu 0011001234567,FT25156001
05-06-2025 10:23,"305,230",IBFT TT7K3M9Q2XDPC05CC0123456,FT25156002
2025-06-06 08:01:59,305.230 VND,"NGUYEN VAN AN, TT4QZ8M1XRQ PC05CC0123457",
06/06/2025,"305,230.00",TT 0RD3R5AB3 PC05CC0123458,FT25157004
2025-06-07T09:15:00,+1200000,Thanh toan tien dien T6,FT25158005
"""


def test_a_good_statement_reads_every_row() -> None:
    parse = parse_statement(GOOD)
    assert parse.errors == []
    assert [(row.line, row.booked_on, row.amount) for row in parse.rows] == [
        (2, date(2025, 6, 5), 305230),
        (3, date(2025, 6, 5), 305230),
        (4, date(2025, 6, 6), 305230),
        (5, date(2025, 6, 6), 305230),
        (6, date(2025, 6, 7), 1200000),
    ]
    third = parse.rows[2]
    assert third.description == "NGUYEN VAN AN, TT4QZ8M1XRQ PC05CC0123457"  # quoted comma
    assert third.bank_reference == ""
    assert parse.rows[0].bank_reference == "FT25156001"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("305230", 305230),
        ('"305,230"', 305230),
        ("305.230", 305230),
        ("305.230 VND", 305230),
        ("305.230 đ", 305230),
        ('"305,230.00"', 305230),
        ('"305.230,00"', 305230),
        ("+305230", 305230),
        ("1.234.567", 1234567),
        ("305 230", 305230),
    ],
)
def test_amounts_as_banks_write_them(amount: str, expected: int) -> None:
    parse = parse_statement(f"date,amount,description\n05/06/2025,{amount},TT7K3M9Q2XD\n")
    assert parse.errors == []
    assert parse.rows[0].amount == expected


BAD = """Ngày,Số tiền,Nội dung,Mã giao dịch
05/06/2025,305230,good one,FT1
05/06/2025,12a,bad amount,FT2
05/06/2025,-305230,a debit,FT3
05/06/2025,0,nothing,FT4
05/06/2025,"305,230.50",cents,FT5
31/02/2025,305230,no such day,FT6
05/06/2025 25:61,305230,no such time,FT7
06.05.2025,305230,dotted date,FT8
,305230,no date,FT9
05/06/2025,,no amount,FT10
05/06/2025,305230,   ,FT11
05/06/2025,305230

07/06/2025,99000,good too,FT14
32/13/2025,1.5,,FT15
"""


def test_every_bad_row_is_listed_with_its_line_and_good_rows_still_read() -> None:
    parse = parse_statement(BAD)
    assert [(row.line, row.description, row.amount) for row in parse.rows] == [
        (2, "good one", 305230),
        (15, "good too", 99000),
    ]
    assert parse.errors == [
        (3, "số tiền không hợp lệ: '12a'"),
        (4, "không phải tiền vào: '-305230'"),
        (5, "không phải tiền vào: '0'"),
        (6, "số tiền có phần lẻ: '305,230.50'"),
        (7, "ngày không hợp lệ: '31/02/2025'"),
        (8, "ngày không hợp lệ: '05/06/2025 25:61'"),
        (9, "ngày không hợp lệ: '06.05.2025'"),
        (10, "thiếu ngày"),
        (11, "thiếu số tiền"),
        (12, "thiếu nội dung"),
        (13, "thiếu ô: có 2, cần 3"),
        # Line 14 is blank: skipped, but still counted as a spreadsheet counts it.
        (16, "ngày không hợp lệ: '32/13/2025'; số tiền có phần lẻ: '1.5'; thiếu nội dung"),
    ]


def test_line_numbers_are_rows_as_a_spreadsheet_shows_them() -> None:
    text = (
        "\n"  # a blank row above the header
        "date,amount,description\n"
        '05/06/2025,305230,"TT7K3M9Q2XD\nPC05CC0123456"\n'  # one row over two lines
        "05/06/2025,12a,x\n"
    )
    parse = parse_statement(text)
    assert [(row.line, row.description) for row in parse.rows] == [
        (3, "TT7K3M9Q2XD\nPC05CC0123456")
    ]
    assert parse.errors == [(4, "số tiền không hợp lệ: '12a'")]


def test_an_amount_too_long_to_be_money_is_refused() -> None:
    parse = parse_statement("date,amount,description\n05/06/2025,1234567890123456,x\n")
    assert parse.errors == [(2, "số tiền không hợp lệ: '1234567890123456'")]


def test_a_bom_semicolons_and_columns_in_any_order() -> None:
    text = (
        "\ufeffSố tham chiếu;Diễn giải;Ghi chú;SỐ TIỀN;ngay\r\n"
        "FT1;TT7K3M9Q2XD PC05CC0123456;x;305.230;05/06/2025\r\n"
        '\r\n"FT2";"A; B";y;"1.200.000";06/06/2025\r\n'
    )
    parse = parse_statement(text)
    assert parse.errors == []
    assert [(row.line, row.bank_reference, row.description, row.amount) for row in parse.rows] == [
        (2, "FT1", "TT7K3M9Q2XD PC05CC0123456", 305230),
        (4, "FT2", "A; B", 1200000),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "ngay,so tien,noi dung,ma giao dich",
        "NGÀY,SỐ TIỀN,DIỄN GIẢI,SỐ THAM CHIẾU",
        "Date, Amount ,Description,Reference",
        "Ngày giao dịch,Số tiền,Nội dung",
    ],
)
def test_vietnamese_and_english_headers(header: str) -> None:
    parse = parse_statement(f"{header}\n05/06/2025,305230,TT7K3M9Q2XD,FT1\n")
    assert parse.errors == []
    assert parse.rows[0].amount == 305230


def test_a_header_without_required_columns_names_them() -> None:
    with pytest.raises(ValueError, match=r"amount \(số tiền\), description \(nội dung\)"):
        parse_statement("date,value,text\n05/06/2025,305230,x\n")
    with pytest.raises(ValueError, match="trống"):
        parse_statement("\ufeff\n\n")


def test_a_moved_line_keeps_its_key_and_different_transfers_differ() -> None:
    first = parse_statement(GOOD).rows
    moved = parse_statement(GOOD.splitlines()[0] + "\n" + "\n".join(GOOD.splitlines()[:0:-1]))
    assert {row.key for row in first} == {row.key for row in moved.rows}
    assert len({row.key for row in first}) == len(first)
    by_bank = first[0].key
    by_hash = first[2].key
    assert by_bank == "ref:FT25156001"
    assert by_hash.startswith("sha256:") and len(by_hash) == len("sha256:") + 64


def test_the_hash_key_is_stable_across_processes() -> None:
    # Python salts str hashes per process; the key must not depend on that.
    row = StatementRow(4, date(2025, 6, 6), 305230, "NGUYEN VAN AN, TT4QZ8M1XRQ", "")
    program = (
        "from datetime import date; from bot.payments.statement import StatementRow; "
        "print(StatementRow(9, date(2025, 6, 6), 305230, 'NGUYEN VAN AN, TT4QZ8M1XRQ', '').key)"
    )
    other = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert other.stdout.strip() == row.key


def test_a_reference_cannot_pass_for_a_hash() -> None:
    hashed = StatementRow(2, date(2025, 6, 5), 305230, "x", "")
    forged = StatementRow(3, date(2025, 6, 5), 1, "y", hashed.key)
    assert forged.key != hashed.key
