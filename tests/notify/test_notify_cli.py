"""`cskh notify` and `cskh campaign`, run as staff run them, against the database of a
live bot: the notices reach logged-in customers on Telegram (fake Bot API), the web
chat and REST; mistakes exit 2 with one line on stderr."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.__main__ import _parser
from bot.notify.limits import RateLimiter
from bot.notify.worker import DeliveryWorker, WorkerOptions
from bot.store.models import ChatUser, Delivery, Media, Notice, RestMessage
from tests.drivers import Driver, TelegramDriver, WebDriver
from tests.fakes import telegram_updates as tu
from tests.handlers.rig import Rig, password_login
from tests.helpers import eventually

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
AN, DUNG = ("annguyen", "An@2026cskh"), ("dungpham", "Dung@2026cskh")
# The rig's clock says 26/11/2026 15:00 in Vietnam.
OUTAGE_TEXT = (
    "⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 28/11/2026, khu vực phường "
    "Hội An. Lý do: Bảo dưỡng đường dây. Điện lực Hội An xin lỗi Quý khách vì sự bất tiện."
)


async def cskh(rig: Rig, *argv: str) -> int:
    """Parse the command line as bot/__main__.py does and run it on the bot's settings
    and clock (in a thread: the command runs its own event loop)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    args.clock = rig.clock
    return int(await asyncio.to_thread(args.run, rig.server.runtime.settings, args))


def last_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


async def delivered(rig: Rig, notice_id: int) -> list[Delivery]:
    """Deliver until no row of the notice is waiting (the bot's own worker helps)."""

    async def done() -> list[Delivery] | None:
        await rig.server.runtime.worker.run_once()
        async with rig.server.runtime.db.reading() as session:
            rows = list(
                await session.scalars(select(Delivery).where(Delivery.notice_id == notice_id))
            )
        waiting = any(row.status in ("queued", "claimed", "sending") for row in rows)
        return None if waiting else rows

    rows: list[Delivery] = await eventually(done, message=f"notice {notice_id} is still being sent")
    return rows


def telegram_messages(rig: Rig, driver: Driver) -> list[dict[str, Any]]:
    assert isinstance(driver, TelegramDriver)
    return [
        {
            "text": call.fields.get("text") or call.fields.get("caption") or "",
            "method": call.method,
            "buttons": [
                (b["text"], b.get("callback_data"))
                for row in (call.fields.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ],
        }
        for call in rig.telegram.sent(chat_id=driver.chat_id)
        if call.method in ("sendMessage", "sendPhoto")
    ]


async def rest_pushes(rig: Rig, user: str) -> list[dict[str, Any]]:
    async with rig.server.runtime.db.reading() as session:
        rows = await session.scalars(
            select(RestMessage)
            .join(ChatUser, ChatUser.id == RestMessage.chat_user_id)
            .where(ChatUser.channel == "rest", ChatUser.platform_user_id == user)
            .order_by(RestMessage.id)
        )
        return [row.message for row in rows]


async def test_an_outage_notice_reaches_a_logged_in_customer_on_telegram_and_the_web_chat(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    telegram = await password_login(rig, "telegram", "an-telegram", *AN)
    web = await password_login(rig, "web", "an-web", *AN)
    assert isinstance(web, WebDriver)
    capsys.readouterr()

    assert (
        await cskh(
            rig,
            "notify",
            "outage",
            "--province",
            "da nang",
            "--ward",
            "hoi an",
            "--start",
            "2026-11-28T07:00",
            "--end",
            "2026-11-28T15:30",
            "--reason",
            "Bảo dưỡng đường dây",
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    first = re.fullmatch(
        r"notice (\d+): 2 recipients \(planned outage (\d+), Phường Hội An, Thành phố Đà Nẵng, "
        r"28/11/2026 07:00–15:30; sent from 26/11/2026 15:00\)",
        out[0],
    )
    assert first, out
    assert re.fullmatch(
        r"notice \d+: 2 recipients \(reminder the evening before, at 27/11/2026 18:00\)", out[1]
    )
    notice_id = int(first.group(1))

    rows = await delivered(rig, notice_id)
    assert {row.status for row in rows} == {"sent"}
    [pushed] = [m for m in telegram_messages(rig, telegram) if m["text"] == OUTAGE_TEXT]
    assert pushed["buttons"] == [
        ("🔕 Tắt loại thông báo này", "unsub:outage:PC05CC0123456"),
        ("💬 Phản hồi", f"nreply:{notice_id}"),
    ]
    await web._collect()  # the push arrives on the open page
    assert web.text == OUTAGE_TEXT
    assert web.button_titles == ["🔕 Tắt loại thông báo này", "💬 Phản hồi"]

    # The outage is in "Lịch tạm ngừng cung cấp điện" from now on.
    await telegram.say("/lookup")
    await telegram.press("⚡ Lịch tạm ngừng cấp điện")
    await telegram.press("PC05CC0123456 — Nguyễn Văn An")
    assert (
        "• 28/11/2026 07:00–15:30: Phường Hội An, Thành phố Đà Nẵng. "
        "Lý do: Bảo dưỡng đường dây." in telegram.text
    )
    await web.close()


async def test_outages_by_code_province_only_incident_and_power_restored(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    await password_login(rig, "rest", "an-rest", *AN)
    await password_login(rig, "rest", "dung-rest", *DUNG)
    capsys.readouterr()

    incident = [
        "notify", "outage", "--province", "48", "--ward", "20410", "--kind", "incident",
        "--start", "2026-11-26T14:20", "--end", "2026-11-26T17:00", "--reason",
        "Sự cố đường dây trung áp do cây ngã", "--json",
    ]  # fmt: skip
    assert await cskh(rig, *incident) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["recipients"], made["urgent"], made["eve_notice_id"]) == (1, True, None)
    await delivered(rig, made["notice_id"])
    assert (await rest_pushes(rig, "an-rest"))[-1]["text"].startswith(
        "⚡ Sự cố mất điện khu vực phường Hội An từ 14:20 ngày 26/11/2026."
    )
    assert await rest_pushes(rig, "dung-rest") == []

    whole_province = [
        "notify", "outage", "--province", "gia lai", "--start", "2026-12-05 08:00",
        "--end", "2026-12-05 11:00", "--reason", "Nâng cấp đường dây trung áp", "--json",
    ]  # fmt: skip
    assert await cskh(rig, *whole_province) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["area"] == "Gia Lai" and planned["recipients"] == 1
    assert planned["not_before"] == "2026-11-30T08:00:00+07:00"  # 5 days ahead

    rig.clock.advance(hours=1)
    assert await cskh(rig, "notify", "restored", str(made["outage_id"])) == 0
    restored = re.fullmatch(
        rf"notice (\d+): 1 recipients \(power restored, outage {made['outage_id']}\)",
        capsys.readouterr().out.strip(),
    )
    assert restored
    await delivered(rig, int(restored.group(1)))
    assert (await rest_pushes(rig, "an-rest"))[-1]["text"] == (
        "✅ Điện đã có lại tại khu vực phường Hội An từ 16:00 ngày 26/11/2026. "
        "Điện lực Hội An cảm ơn Quý khách đã thông cảm."
    )


async def test_notify_mistakes_exit_2_with_one_line(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--start", "2026-12-01T07:00", "--end", "2026-12-01T09:00", "--reason", "x"]
    cases = [
        (["--province", "Atlantis"], "no province named 'Atlantis'"),
        (["--province", "da nang", "--ward", "pleiku"], "no ward named 'pleiku'"),
        (["--province", "48", "--ward", "23575"], "ward 23575 is not in Thành phố Đà Nẵng"),
    ]
    for where, message in cases:
        assert await cskh(rig, "notify", "outage", *where, *window) == 2
        assert message in last_line_error(capsys)
    bad_times = [
        (["--start", "tomorrow", "--end", "2026-12-01T09:00"], "not an ISO time: 'tomorrow'"),
        (["--start", "2026-12-01T09:00", "--end", "2026-12-01T07:00"], "end must be after"),
        (["--start", "2026-11-20T07:00", "--end", "2026-11-27T09:00"], "start in the future"),
    ]
    for times, message in bad_times:
        argv = ["notify", "outage", "--province", "48", *times, "--reason", "x"]
        assert await cskh(rig, *argv) == 2
        assert message in last_line_error(capsys)
    assert await cskh(rig, "notify", "outage", "--province", "48") == 2
    assert "required" in last_line_error(capsys)
    assert await cskh(rig, "notify", "restored", "999") == 2
    assert last_line_error(capsys) == "cskh: no outage 999"
    assert await cskh(rig, "notify", "bills", "--period", "2026-13") == 2
    assert "not a month" in last_line_error(capsys)
    async with rig.server.runtime.db.reading() as session:
        made = select(func.count()).select_from(Notice).where(~Notice.key.startswith("history:"))
        assert await session.scalar(made) == 0  # the demo personas' past notices aside


async def test_a_bill_notice_past_its_due_date_says_it_is_overdue_and_has_its_pay_button(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """An's November bill was due on 15/11; told on 26/11 (`--period`: a late run), the
    notice said "hạn thanh toán 15/11/2026" as if there were still time (issue 15)."""
    telegram = await password_login(rig, "telegram", "an-bills", *AN)
    capsys.readouterr()
    assert await cskh(rig, "notify", "bills", "--period", "2026-11") == 0
    counts = re.fullmatch(
        r"bills of 11/2026: (\d+) notices, (\d+) recipients", capsys.readouterr().out.strip()
    )
    assert counts and int(counts.group(2)) >= 1
    assert await cskh(rig, "notify", "bills", "--period", "2026-11") == 0
    assert (
        capsys.readouterr().out.strip().endswith(": " + counts.group(1) + " notices, 0 recipients")
    )

    async with rig.server.runtime.db.reading() as session:
        notice_id = await session.scalar(
            select(Notice.id).where(Notice.kind == "bill_issued", Notice.key.startswith("bill:"))
        )
    assert notice_id is not None
    await delivered(rig, notice_id)
    [bill] = [m for m in telegram_messages(rig, telegram) if m["text"].startswith("🧾")]
    assert bill["text"].startswith("🧾 Thông báo tiền điện kỳ 1 tháng 11/2026")
    assert "mã PC05CC0123456" in bill["text"]
    assert "đã quá hạn thanh toán (15/11/2026)" in bill["text"]
    assert "· hạn thanh toán 15/11/2026" not in bill["text"]
    pay, switch_off, reply = bill["buttons"]
    assert switch_off == ("🔕 Tắt loại thông báo này", "unsub:bill:PC05CC0123456")
    assert pay == ("💳 Thanh toán", "payments:PC05CC0123456")
    assert reply[0] == "💬 Phản hồi"

    # The button is live: it opens Thanh toán for that code, the amount and how to pay.
    assert isinstance(telegram, TelegramDriver)
    await telegram._post(tu.callback(990_001, telegram.chat_id, pay[1]))
    assert telegram.text.startswith("Thanh toán 320.652 đ cho mã PC05CC0123456:")
    assert "💳 Thẻ/ngân hàng (VNPay)" in telegram.button_titles


async def test_a_campaign_from_create_to_done_with_its_progress(
    rig: Rig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    telegram = await password_login(rig, "telegram", "an-campaign", *AN)
    await password_login(rig, "rest", "an-campaign-rest", *AN)
    await password_login(rig, "rest", "dung-campaign", *DUNG)
    runtime = rig.server.runtime
    # The bot's own worker stands aside: this test sends one row at a time.
    runtime.worker.options = replace(runtime.worker.options, channels=frozenset())
    worker = DeliveryWorker(
        runtime.db, runtime.pusher.channels, RateLimiter({}), rig.clock, WorkerOptions(batch=1)
    )
    poster = tmp_path / "poster.png"
    poster.write_bytes(PNG)
    capsys.readouterr()

    create = [
        "campaign", "create", "--text", "Tuần lễ tri ân khách hàng: giảm 5% tiền điện tháng 12.",
        "--image", str(poster), "--province", "da nang", "--language", "vi",
        "--at", "2026-11-26T16:00",
    ]  # fmt: skip
    assert await cskh(rig, *create) == 0
    out = capsys.readouterr().out
    campaign_id = out.split()[-1]
    assert campaign_id.isdigit() and "2 chats match now" in out

    async def status() -> dict[str, Any]:
        assert await cskh(rig, "campaign", "status", campaign_id, "--json") == 0
        return dict(json.loads(capsys.readouterr().out))

    assert (await status())["state"] == "draft"
    assert await cskh(rig, "campaign", "start", campaign_id) == 0
    assert capsys.readouterr().out.strip() == (
        f"campaign {campaign_id} started: 2 queued, 0 skipped (weekly cap), "
        "sent from 26/11/2026 16:00"
    )
    assert await worker.run_once() == 0  # 16:00 has not come
    rig.clock.advance(hours=1)
    assert await worker.run_once() == 1
    shown = await status()
    assert {k: shown[k] for k in ("queued", "sent", "failed", "unreachable", "state")} == {
        "queued": 1,
        "sent": 1,
        "failed": 0,
        "unreachable": 0,
        "state": "running",
    }
    assert await cskh(rig, "campaign", "status", campaign_id) == 0
    assert "[###############...............] 50% (1/2)" in capsys.readouterr().out

    assert await cskh(rig, "campaign", "pause", campaign_id) == 0
    assert f"campaign {campaign_id} paused: 1 rows held" in capsys.readouterr().out
    assert await worker.run_once() == 0
    assert (await status())["held"] == 1
    assert await cskh(rig, "campaign", "start", campaign_id) == 0
    assert capsys.readouterr().out.strip() == f"campaign {campaign_id} resumed: 1 rows queued again"
    assert await worker.run_once() == 1
    shown = await status()
    assert (shown["state"], shown["sent"], shown["queued"], shown["in_doubt"]) == ("done", 2, 0, 0)

    [photo] = [m for m in telegram_messages(rig, telegram) if m["method"] == "sendPhoto"]
    assert photo["text"] == "Tuần lễ tri ân khách hàng: giảm 5% tiền điện tháng 12."
    assert photo["buttons"][0] == ("🔕 Tắt loại thông báo này", "unsub:other")
    assert photo["buttons"][1][0] == "💬 Phản hồi"
    [rest] = await rest_pushes(rig, "an-campaign-rest")
    assert rest["image"] and rest["text"].startswith("Tuần lễ tri ân")
    assert await rest_pushes(rig, "dung-campaign") == []  # Gia Lai is not in the segment
    async with runtime.db.reading() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Media).where(Media.chat_user_id.is_(None))
            )
            == 1
        )


async def test_campaign_mistakes_exit_2_with_one_line(
    rig: Rig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    not_a_picture = tmp_path / "poster.png"
    not_a_picture.write_bytes(b"%PDF-1.7")
    for argv, message in [
        (["start", "999"], "cskh: no campaign 999"),
        (["pause", "999"], "cskh: no campaign 999"),
        (["status", "999", "--json"], "cskh: no campaign 999"),
        (["create", "--text", "x", "--image", str(not_a_picture)], "not a JPEG, PNG, GIF or WebP"),
        (["create", "--text", "x", "--image", str(tmp_path / "none.png")], "cannot read"),
        (["create", "--text", "x", "--at", "2026-11-26T14:00"], "--at is in the past"),
        (["create", "--text", "x", "--ward", "hoi an"], "--ward needs --province"),
        (["create", "--text", "x", "--tariff", "farm"], "invalid choice: 'farm'"),
        (["create", "--text", "x", "--channel", "fax"], "invalid choice: 'fax'"),
        (["create", "--text", "   "], "the text is empty"),
    ]:
        assert await cskh(rig, "campaign", *argv) == 2, argv
        assert message in last_line_error(capsys)
    assert await cskh(rig, "campaign", "create", "--text", "x", "--ward", "20410") == 0
    assert capsys.readouterr().out.split()[-1].isdigit()


async def test_notify_run_tells_a_customer_who_just_logged_in_of_the_outage_in_her_ward(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    await password_login(rig, "rest", "dung-run", *DUNG)  # her ward: outage in 2 days
    capsys.readouterr()
    assert await cskh(rig, "notify", "run") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "outages: 2 notices, 2 rows" in lines  # the notice now and the evening before
    assert lines[-1] == "cancelled outages: 0 rows not sent dropped"
    async with rig.server.runtime.db.reading() as session:
        notice_id = await session.scalar(
            select(Notice.id).where(
                Notice.kind == "outage_planned", Notice.key.startswith("outage:")
            )
        )
    assert notice_id is not None
    await delivered(rig, notice_id)
    # Only the outage: her November bill was paid before she linked her code here.
    [pushed] = await rest_pushes(rig, "dung-run")
    assert pushed["text"].startswith(
        "⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 28/11/2026"
    )
    # The streets it covers, hers among them, as the lookup names them (issue 15).
    assert "khu vực một phần phường Pleiku (Hùng Vương, Phan Bội Châu)" in pushed["text"]
    assert await cskh(rig, "notify", "run") == 0
    assert "outages: 2 notices, 0 rows" in capsys.readouterr().out.splitlines()
