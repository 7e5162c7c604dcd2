"""`cskh requests list|show|set-status`: what staff type in a shell, run as the `cskh`
command runs it, against the database a live bot uses; the customer hears of changes."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.__main__ import _parser
from bot.dialogs.forms import FieldSpec
from bot.store.models import ChatUser, RestMessage
from tests.drivers import Driver
from tests.handlers import test_services
from tests.handlers.rig import LightRig
from tests.handlers.test_services import complete, logged_in, stored


async def cskh(rig: LightRig, *argv: str) -> int:
    """Parse the command line as bot/__main__.py does and run it on the bot's settings
    (in a thread: the command runs its own event loop)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return int(await asyncio.to_thread(args.run, rig.runtime.settings, args))


async def submitted(rig: LightRig, user: str, form_id: str) -> str:
    driver = await logged_in(rig, "rest", user)
    text = await complete(driver, form_id)
    match = re.search(r"YC-2026-\d{6}", text)
    assert match, text
    return match.group(0)


async def pushed(rig: LightRig, user: str) -> list[str]:
    """What the command pushed to the REST user `user`: it runs with channels of its own,
    and its REST channel keeps a push for the integration to fetch (GET /api/messages)."""
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(
            select(RestMessage)
            .join(ChatUser, ChatUser.id == RestMessage.chat_user_id)
            .where(ChatUser.channel == "rest", ChatUser.platform_user_id == user)
            .order_by(RestMessage.id)
        )
        return [r.message["text"] for r in rows]


async def test_staff_list_show_and_move_a_request_on(
    rig: LightRig, capsys: pytest.CaptureFixture[str]
) -> None:
    meter = await submitted(rig, "cli-an", "svc_check_meter")
    outage = await submitted(rig, "cli-an2", "report_outage")
    capsys.readouterr()

    assert await cskh(rig, "requests", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in rows][:2] == [outage, meter]  # urgent first
    assert rows[0]["urgent"] is True and rows[0]["title"] == "Xử lý báo mất điện"
    assert rows[1]["status"] == "received" and rows[1]["customer_code"].startswith("PC05CC")

    assert await cskh(rig, "requests", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{outage}  received") and "⚡ Xử lý báo mất điện" in lines[0]

    assert await cskh(rig, "requests", "show", meter) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["title"] == "Kiểm tra công tơ và thiết bị đo đếm"
    assert shown["answers"] and shown["history"][0]["status"] == "received"

    assert await cskh(rig, "requests", "set-status", meter, "in_progress") == 0
    assert capsys.readouterr().out.strip() == f"{meter}: in_progress; the customer was told"
    assert (await pushed(rig, "cli-an"))[-1] == (
        f"📋 Yêu cầu {meter} (Kiểm tra công tơ và thiết bị đo đếm): Đang xử lý."
    )
    assert (
        await cskh(
            rig,
            "requests",
            "set-status",
            meter,
            "rejected",
            "--note",
            "Công tơ đã được kiểm định tháng trước.",
        )
        == 0
    )
    assert (await pushed(rig, "cli-an"))[-1] == (
        f"❌ Yêu cầu {meter} (Kiểm tra công tơ và thiết bị đo đếm) không được chấp nhận. "
        "Lý do: Công tơ đã được kiểm định tháng trước."
    )
    request = await stored(rig, meter)
    assert request.status == "rejected"
    assert [(e.status, e.actor) for e in request.events][-2:] == [
        ("in_progress", "staff:cli"),
        ("rejected", "staff:cli"),
    ]

    capsys.readouterr()
    assert await cskh(rig, "requests", "list", "--status", "rejected", "--json") == 0
    assert [r["code"] for r in json.loads(capsys.readouterr().out)] == [meter]


async def test_staff_mistakes_are_refused_and_the_customer_is_not_told(
    rig: LightRig, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await submitted(rig, "cli-mistakes", "svc_check_meter")
    before = await pushed(rig, "cli-mistakes")
    capsys.readouterr()

    assert await cskh(rig, "requests", "set-status", code, "rejected") == 2
    assert "needs --note" in capsys.readouterr().err
    assert await cskh(rig, "requests", "set-status", code, "needs_info", "--note", "  ") == 2
    assert await cskh(rig, "requests", "set-status", code, "received") == 2
    assert f"{code} is already received" in capsys.readouterr().err
    assert await cskh(rig, "requests", "set-status", "YC-2026-999999", "done") == 2
    assert "no service request YC-2026-999999" in capsys.readouterr().err
    assert await cskh(rig, "requests", "set-status", code, "finished") == 2  # not a status
    assert "invalid choice" in capsys.readouterr().err
    assert await cskh(rig, "requests", "show", "YC-2026-999999") == 1

    assert (await stored(rig, code)).status == "received"
    assert await pushed(rig, "cli-mistakes") == before


async def test_a_hostile_answer_cannot_steer_the_staff_terminal_regression(
    rig: LightRig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: a form answer with escape codes and a newline was printed raw."""
    hostile = "Công tơ\x1b[2J quay nhanh\n  answered by staff:cli\x9b\u202e đã xử lý"
    usual = test_services.answer

    async def typing_hostile(driver: Driver, field: FieldSpec) -> None:
        await (driver.say(hostile) if field.type == "text" else usual(driver, field))

    monkeypatch.setattr(test_services, "answer", typing_hostile)
    code = await submitted(rig, "cli-hostile", "svc_check_meter")
    capsys.readouterr()

    assert await cskh(rig, "requests", "show", code) == 0
    shown = capsys.readouterr().out
    assert all(c.isprintable() or c == "\n" for c in shown), ascii(shown)
    assert not [line for line in shown.splitlines() if line.lstrip().startswith("answered")]
    assert hostile in json.loads(shown)["answers"].values()  # the data itself is kept


async def test_set_status_says_the_web_chat_customer_is_told_regression(
    rig: LightRig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command leaves a web chat row to `cskh serve` (the sockets are there) and
    said "the customer could not be told" while the web chat received it."""
    driver = await logged_in(rig, "web", "cli-web")
    text = await complete(driver, "svc_check_meter")
    match = re.search(r"YC-2026-\d{6}", text)
    assert match, text
    code = match.group(0)
    capsys.readouterr()
    assert await cskh(rig, "requests", "set-status", code, "in_progress") == 0
    assert capsys.readouterr().out.strip() == f"{code}: in_progress; the customer was told"
    web = rig.outbound["web"].pushed[driver.platform_user_id]
    # The command wrote the row on the wall clock, which the serving process shares.
    rig.clock.advance(seconds=(datetime.now(UTC) - rig.clock.now()).total_seconds() + 1)
    for _ in range(100):  # the serving process's worker sends it
        if web:
            break
        rig.runtime.worker.wake()
        await asyncio.sleep(0.05)
    assert [r.text for r in web][-1:] == [
        f"📋 Yêu cầu {code} (Kiểm tra công tơ và thiết bị đo đếm): Đang xử lý."
    ]
