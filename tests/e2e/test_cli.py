"""The `cskh` command as a new user runs it: from any directory, on a fresh machine."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from bot.store.db import Database
from bot.store.migrate import head_revision, upgrade
from bot.store.models import DevMessage

ROOT = Path(__file__).parents[2]
SCRIPT = Path(sys.executable).parent / "cskh"
CSKH = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSKH_")}
    env.update(extra)
    return env


def _cskh(
    *args: str, cwd: Path, stdin: str = "", timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CSKH, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(**env),
    )


def test_personas_json_on_an_empty_database_from_another_directory(tmp_path: Path) -> None:
    result = _cskh("demo", "personas", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    people = json.loads(result.stdout)  # pure JSON on stdout
    assert people[0]["customer_codes"] == ["PC05CC0123456", "PC05CC0123457"]
    assert not (tmp_path / "var" / "cskh.db").exists()  # it needed no database


def test_first_chat_seeds_the_demo_data_and_talks(tmp_path: Path) -> None:
    """The README's first command, as a new user types it, in an empty directory."""
    result = _cskh("chat", cwd=tmp_path, stdin="2\n/quit\n", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Xin chào! Tôi là trợ lý CSKH" in result.stdout
    assert "🔎 Quý khách muốn tra cứu gì?" in result.stdout
    seeded = _cskh("demo", "seed", cwd=tmp_path)
    # 600 and Thu, the persona on top of the count (issue 18)
    assert seeded.returncode == 1 and "already holds 601 customers" in seeded.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz(port: int) -> tuple[int, dict[str, Any]] | None:
    """/healthz's status and body, None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError:
        return None


def _chat(port: int, user: str, text: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/chat",
        method="POST",
        data=json.dumps({"user": user, "text": text}).encode(),
        headers={"Authorization": "Bearer s3cret-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        messages: list[dict[str, Any]] = json.load(response)["messages"]
        return messages


def test_serve_migrates_says_starting_then_ok_and_understands_the_first_message(
    tmp_path: Path,
) -> None:
    """A new install's first start trains the language model: /healthz said ok and
    "mat dien roi" got "tôi chưa hiểu" meanwhile (issue 15)."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*CSKH, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(CSKH_DEMO_SEED="0", CSKH_REST_TOKEN="s3cret-token", CSKH_LOG_LEVEL="DEBUG"),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (health := _healthz(port)) is None:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no /healthz within 60 s"
            time.sleep(0.05)
        assert health == (
            503,
            {
                "status": "starting",
                "checks": {"database": "ok", "schema": "ok", "language_model": "loading"},
            },
        )
        first = _chat(port, "cli", "mat dien roi")  # sent while the model trains
        assert _healthz(port) == (200, {"status": "ok"})
        assert first == _chat(port, "cli-later", "mat dien roi")
        assert not any("chưa hiểu" in m["text"] for m in first)
        assert _chat(port, "cli-3", "/start")[0]["text"].startswith("Xin chào!")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "CSKH Bot on http://127.0.0.1" in output
    assert output.index("CSKH Bot on http://") < output.index("ready: the language model")
    assert "s3cret-token" not in output  # secrets never logged, even at DEBUG
    assert (tmp_path / "var" / "cskh.db").exists()


def test_serve_refuses_an_old_schema_when_auto_migrate_is_off(tmp_path: Path) -> None:
    result = _cskh("serve", "--port", str(_free_port()), cwd=tmp_path, CSKH_AUTO_MIGRATE="0")
    assert result.returncode == 1
    assert "cskh db upgrade" in result.stderr
    upgraded = _cskh("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0 and "schema at revision" in upgraded.stdout


def test_a_built_wheel_carries_its_files_and_runs_from_anywhere(tmp_path: Path) -> None:
    """Installed (not editable), the package finds domain.yml, data/ and migrations/."""
    wheel_dir = tmp_path / "wheel"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheel_dir.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for resource in (
        "domain.yml",
        "data/tariffs.yml",
        "data/demo.yml",
        "data/demo_areas.yml",
        "migrations/env.py",
        "migrations/versions/0001_initial_schema.py",
    ):
        assert f"bot/_resources/{resource}" in names, resource
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import bot, json; from bot.__main__ import main; "
        f"assert bot.__file__.startswith({str(target)!r}), bot.__file__; "
        "raise SystemExit(main(['db', 'upgrade']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(PYTHONPATH=str(target)),
    )
    assert result.returncode == 0, result.stderr
    assert f"schema at revision {head_revision()}" in result.stdout


def test_tariff_estimate_command(tmp_path: Path) -> None:
    result = _cskh(
        "tariff",
        "estimate",
        "--kwh",
        "134",
        "--from",
        "2025-09-16",
        "--to",
        "2025-10-15",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)
    assert (estimate["before_vat"], estimate["vat"], estimate["total"]) == (282620, 22610, 305230)
    refused = _cskh("tariff", "estimate", "--kwh", "-5", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    typo = _cskh("tarif", cwd=tmp_path)
    assert typo.returncode == 2 and len(typo.stderr.strip().splitlines()) == 1


def test_dev_outbox_shows_hostile_addresses_and_bodies_escaped_regression(tmp_path: Path) -> None:
    """Issue 12: a customer-typed address or a body printed raw could steer the terminal."""

    async def keep(*messages: DevMessage) -> None:
        (tmp_path / "var").mkdir()
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'cskh.db'}")
        try:
            await upgrade(db)
            async with db.transaction() as session:
                session.add_all(messages)
        finally:
            await db.dispose()

    asyncio.run(
        keep(
            DevMessage(kind="sms", recipient="0905\x1b[2J123456", body="Mã: 123456\x9b"),
            DevMessage(
                kind="email",
                recipient="an@example.com\x1b]0;pwned\x07",
                subject="Mã xác thực",
                body="Mã: 654321\n\nĐiện lực miền Trung\nSMS to staff: ok\u202e",
            ),
        )
    )
    result = _cskh("dev", "outbox", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(c.isprintable() or c == "\n" for c in result.stdout), ascii(result.stdout)
    lines = result.stdout.splitlines()
    assert [line[15:] for line in lines[:2]] == [  # after the time, "26/11 14:30:00 "
        "SMS to 0905\\x1b[2J123456: Mã: 123456\\x9b",
        "EMAIL to an@example.com\\x1b]0;pwned\\x07 [Mã xác thực]: Mã: 654321",
    ]
    assert lines[2:] == [  # the e-mail's lines, none like one of the command's own
        "    | ",
        "    | Điện lực miền Trung",
        "    | SMS to staff: ok\\u202e",
    ]


def test_commands_outside_the_project_folder_end_with_one_line_naming_the_database_regression(
    tmp_path: Path,
) -> None:
    """`cskh dev outbox` run in another folder ended in a traceback (no var/cskh.db
    there); `cskh inbox list` in one about a table missing from the empty file it made."""
    database = tmp_path / "var" / "cskh.db"
    for command in (
        ("dev", "outbox"),
        ("inbox", "list"),
        ("requests", "list"),
        ("requests", "show", "YC-2026-000001"),
        ("notify", "run"),
    ):
        result = _cskh(*command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("cskh: cannot use the database ") and str(database) in lines[0]
        assert "CSKH_DATABASE_URL" in lines[0] and "Traceback" not in result.stderr


def test_serve_help_says_it_serves_the_web_chat_and_the_console(tmp_path: Path) -> None:
    listed = _cskh("--help", cwd=tmp_path).stdout
    assert "serve the web chat (and the staff console)" in " ".join(listed.split())
    described = " ".join(_cskh("serve", "--help", cwd=tmp_path).stdout.split())
    assert "web chat at / and the staff console at /console" in described


LOGGING_PROBE = """
import logging, sys
from bot.__main__ import _configure_logging
from bot.settings import Settings
from bot.billing.invoice_pdf import FONT, _document

_configure_logging(Settings(_env_file=None, log_level=sys.argv[1]))
logging.getLogger("bot.probe").info("our line")
pdf = _document(type("Seller", (), {"name": "Điện lực Hội An"})(), "Hóa đơn")
pdf.set_font(FONT, size=10)
pdf.cell(text="Tiền điện tháng 11/2026")
pdf.output()  # fpdf subsets the font with fontTools, which logs a dozen INFO lines
"""


def test_the_serve_log_keeps_library_info_lines_out_unless_debug_regression(
    tmp_path: Path,
) -> None:
    """fontTools wrote a dozen INFO lines per e-invoice into the serve log."""
    runs = {
        level: subprocess.run(
            [sys.executable, "-c", LOGGING_PROBE, level],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        for level in ("INFO", "DEBUG")
    }
    info, debug = runs["INFO"], runs["DEBUG"]
    assert info.returncode == 0 and debug.returncode == 0, (info.stderr, debug.stderr)
    assert info.stderr.strip().splitlines() == [
        line for line in info.stderr.strip().splitlines() if "INFO bot.probe: our line" in line
    ]
    assert "INFO bot.probe: our line" in info.stderr
    assert "INFO fontTools" in debug.stderr  # everything when asked for DEBUG
