"""`cskh tariff estimate`, run as the `cskh` command runs it: parse argv, call `run`."""

from __future__ import annotations

import argparse
import calendar
import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from bot.cli import OneLineErrorParser
from bot.cli.tariffs import register
from bot.core.fmt import LOCAL_TZ

MONTH = ["--from", "2025-09-16", "--to", "2025-10-15"]
WORKED_EXAMPLE = ["--kwh", "300", "--from", "2025-04-26", "--to", "2025-05-25"]


def cskh(
    argv: Sequence[str], parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
) -> int:
    """What bot/__main__.py does with a command line: parse it, then call args.run."""
    parser = parser_class(prog="cskh")
    register(parser.add_subparsers(title="commands"))
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse's own errors (and --help)
        return int(stop.code or 0)
    return int(args.run(None, args))


def estimate_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert cskh(["tariff", "estimate", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON object on one line
    result: dict[str, Any] = json.loads(out)
    return result


def test_ordinary_month(capsys: pytest.CaptureFixture[str]) -> None:
    result = estimate_json(capsys, "--kwh", "134", *MONTH)
    assert (result["before_vat"], result["vat"], result["total"]) == (282_620, 22_610, 305_230)
    assert (result["period_start"], result["period_end"]) == ("2025-09-16", "2025-10-15")
    assert result["households"] == 1
    assert result["lines"] == [
        {
            "tier": t,
            "kwh": k,
            "unit_price": p,
            "amount": k * p,
            "tariff_from": "2025-05-10",
            "vat_rate": 8,
        }
        for t, k, p in ((1, 50, 1984), (2, 50, 2050), (3, 34, 2380))
    ]


def test_period_across_a_price_change_has_lines_at_both_tariff_dates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = estimate_json(capsys, *WORKED_EXAMPLE)
    assert result["total"] == 781_527
    assert {line["tariff_from"] for line in result["lines"]} == {"2024-10-11", "2025-05-10"}
    assert sum(line["kwh"] for line in result["lines"]) == 300
    assert sum(line["amount"] for line in result["lines"]) == result["before_vat"] == 723_636


def test_two_households_double_the_tiers(capsys: pytest.CaptureFixture[str]) -> None:
    result = estimate_json(capsys, "--kwh", "500", "--households", "2", *MONTH)
    assert [line["kwh"] for line in result["lines"]] == [100, 100, 200, 100]
    assert result["households"] == 2
    # 198.400 + 205.000 + 476.000 + 299.800 = 1.179.200, VAT 8% 94.336
    assert (result["before_vat"], result["vat"], result["total"]) == (1_179_200, 94_336, 1_273_536)


def test_business_needs_and_uses_a_voltage_level(capsys: pytest.CaptureFixture[str]) -> None:
    result = estimate_json(
        capsys, "--kwh", "2150", "--group", "business", "--voltage", "below_6kv", *MONTH
    )
    assert result["lines"] == [
        {
            "tier": None,
            "kwh": 2150,
            "unit_price": 3152,
            "amount": 6_776_800,
            "tariff_from": "2025-05-10",
            "vat_rate": 8,
        }
    ]
    assert result["total"] == 7_318_944


def test_vat_change_inside_the_period_gives_one_vat_line_per_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = estimate_json(capsys, "--kwh", "300", "--from", "2026-12-20", "--to", "2027-01-19")
    assert [(v["rate"], v["vat"]) for v in result["vat_lines"]] == [(8, 22_911), (10, 45_311)]
    assert result["vat"] == 22_911 + 45_311


def test_readable_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert cskh(["tariff", "estimate", *WORKED_EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "300 kWh, từ 26/04/2025 đến 25/05/2025 (30 ngày), sinh hoạt, 1 hộ" in out
    lines = out.splitlines()
    first = next(line for line in lines if "Bậc 1 (giá từ 11/10/2024)" in line)
    assert "23 kWh × 1.893 đ" in first and first.endswith("43.539 đ")
    assert any("Bậc 4 (giá từ 10/05/2025)" in line and "158.894 đ" in line for line in lines)
    assert any("Cộng tiền điện" in line and line.endswith("723.636 đ") for line in lines)
    assert any("Thuế GTGT 8%" in line and line.endswith("57.891 đ") for line in lines)
    assert lines[-1].split() == ["Tổng", "cộng", "781.527", "đ"]


def test_day_first_dates_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    result = estimate_json(capsys, "--kwh", "134", "--from", "16/09/2025", "--to", "15/10/2025")
    assert result["total"] == 305_230


def test_default_period_is_the_current_month_in_viet_nam(
    capsys: pytest.CaptureFixture[str],
) -> None:
    today = datetime.now(LOCAL_TZ).date()
    result = estimate_json(capsys, "--kwh", "134")
    last = calendar.monthrange(today.year, today.month)[1]
    assert result["period_start"] == today.replace(day=1).isoformat()
    assert result["period_end"] == today.replace(day=last).isoformat()


@pytest.mark.parametrize(
    "argv",
    [
        ["--kwh", "-5"],
        ["--kwh", "abc"],
        ["--kwh", "1.5"],
        ["--kwh", "3", "--from", "2025-05-10", "--to", "2025-05-01"],
        ["--kwh", "3", "--households", "0"],
        ["--kwh", "3", "--households", "two"],
        ["--kwh", "3", "--from", "2025-02-30", "--to", "2025-03-01"],
        ["--kwh", "3", "--from", "yesterday", "--to", "2025-03-01"],
        ["--kwh", "3", "--from", "2025-02-01"],
        ["--kwh", "3", "--group", "business"],
        ["--kwh", "3", "--group", "business", "--voltage", "110kv"],
        ["--kwh", "3", "--group", "school"],
        ["--kwh", "3", "--from", "2001-01-01", "--to", "2001-01-31"],  # before any tariff
        ["--json"],  # no --kwh
    ],
)
def test_invalid_input_exits_2_with_one_line_on_stderr(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cskh(["tariff", "estimate", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cskh tariff estimate: error: ")
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")


def test_one_line_parser_at_the_top_covers_the_tariff_level_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cskh(["tariff", "estimat"], parser_class=OneLineErrorParser) == 2
    err = capsys.readouterr().err
    assert err.startswith("cskh tariff: error: ") and err.count("\n") == 1


def test_tariff_without_a_subcommand_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cskh(["tariff"]) == 2
    assert "estimate" in capsys.readouterr().err


def test_invalid_input_in_a_real_process() -> None:
    script = textwrap.dedent(
        """
        import argparse, sys
        from bot.cli.tariffs import register
        parser = argparse.ArgumentParser(prog="cskh")
        register(parser.add_subparsers())
        args = parser.parse_args(sys.argv[1:])
        sys.exit(args.run(None, args))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "tariff", "estimate", "--kwh", "abc"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "--kwh" in result.stderr
