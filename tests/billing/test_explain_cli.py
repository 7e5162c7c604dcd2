"""`cskh bills explain`, run as the `cskh` command runs it, on the demo database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import _parser
from bot.core.fmt import money
from bot.store.backend import BillRecord, SqlUtilityBackend
from bot.store.db import Database
from tests.helpers import make_settings


def cskh(tmp_path: Path, url: str, *argv: str) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return int(args.run(make_settings(tmp_path, url), args))


def bills_of(url: str, code: str) -> list[BillRecord]:
    async def read() -> list[BillRecord]:
        db = Database(url)
        try:
            return await SqlUtilityBackend(db).bills(code, limit=80)
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_the_latest_bill_as_json_adds_up(
    tmp_path: Path, seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cskh(tmp_path, seeded_url, "bills", "explain", "pc10aa0034567", "--json") == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    latest, previous = bills_of(seeded_url, "PC10AA0034567")[:2]
    assert result["period"] == f"{latest.year}-{latest.month:02d}"
    assert result["total"] == latest.total
    compared = result["previous"]
    assert compared["total"] == previous.total
    assert compared["difference"] == latest.total - previous.total
    assert sum(cause["amount"] for cause in compared["causes"]) == compared["difference"]
    assert result["last_year"]["period"] == f"{latest.year - 1}-{latest.month:02d}"


def test_a_chosen_month_in_words(
    tmp_path: Path, seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # June 2025 crossed the price decision of 10/05/2025.
    assert (
        cskh(tmp_path, seeded_url, "bills", "explain", "PC05CC0123456", "--period", "2025-6") == 0
    )
    lines = capsys.readouterr().out.splitlines()
    bills = {(b.year, b.month): b for b in bills_of(seeded_url, "PC05CC0123456")}
    june, may = bills[2025, 6], bills[2025, 5]
    assert lines[0].startswith("PC05CC0123456 — Nguyễn Văn An, kỳ 1 tháng 06/2025")
    assert lines[0].endswith(money(june.total))
    difference = june.total - may.total
    sign = "+" if difference > 0 else "−"
    assert lines[1].endswith(f": {sign}{money(abs(difference))}")
    assert any("giá điện (giá mới từ 10/05/2025)" in line for line in lines)
    assert lines[-1].startswith("Gợi ý kiểm tra công tơ: ")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["PC00000000000"], "no customer has the code PC00000000000"),
        (["PC05CC0123456", "--period", "2019-01"], "PC05CC0123456 has no bill for 2019-01"),
        (["PC05CC0123456", "--period", "10/2026"], "a month is written YYYY-MM"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    tmp_path: Path,
    seeded_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    error: str,
) -> None:
    assert cskh(tmp_path, seeded_url, "bills", "explain", *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and error in captured.err and captured.err.count("\n") == 1
