"""Tổng quan as a supervisor reads it: a day of customers (asking for staff, taken over,
rated, misunderstood, filling in forms) shows up in the dashboard's tables, the CSV
downloads hold the same rows, the phrases the bot did not understand download as
Rasa nlu.yml, and a date range leaves other days out."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import yaml
from sqlalchemy import select

from bot.core import fmt
from bot.store.models import ChatUser, Conversation
from tests.console.staff import StaffClient
from tests.console.tables import tables as page_tables
from tests.drivers import RestDriver
from tests.handlers.rig import Rig
from tests.handlers.test_services import FORMS, complete, logged_in
from tests.helpers import eventually

Staff = Callable[[str], Awaitable[StaffClient]]
RECONNECT = FORMS["svc_reconnect"].title["vi"]
QUOTA = FORMS["svc_change_quota"].title["vi"]


def tables(page: str) -> dict[str, list[list[str]]]:
    """The dashboard's tables by name (their ids are "table-<name>")."""
    return {
        name.removeprefix("table-"): rows
        for name, rows in page_tables(page).items()
        if name.startswith("table-")
    }


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def iso(shown_day: str) -> str:
    """26/11/2026 (as the page shows a day) -> 2026-11-26 (as the CSV writes it)."""
    return datetime.strptime(shown_day, "%d/%m/%Y").date().isoformat()


def on_wall_clock(rig: Rig) -> date:
    """Move the bot's clock to now: messages are stamped by the wall clock, handoffs and
    forms by the bot's, and one day's figures need both on the same day. Today's date."""
    rig.clock.advance(seconds=(datetime.now(UTC) - rig.clock.now()).total_seconds())
    return fmt.local(rig.clock.now()).date()


async def _conversation_id(rig: Rig, user: str) -> int:
    async with rig.runtime.db.reading() as session:
        found = await session.scalar(
            select(Conversation.id)
            .join(ChatUser, ChatUser.id == Conversation.chat_user_id)
            .where(ChatUser.platform_user_id == user)
        )
    assert found is not None
    return found


async def a_day_of_customers(rig: Rig, staff: Staff) -> None:
    """Five customers on three channels; one asked for staff three days earlier."""
    rig.clock.advance(days=-3)
    earlier = await rig.driver("rest", "hom-truoc")
    await earlier.say("gặp nhân viên")
    rig.clock.advance(days=3)
    lan = await rig.driver("rest", "lan")
    await lan.say("xyzzy plugh")
    await lan.say("XYZZY   plugh")  # the same phrase: one line of the export
    await lan.say("gặp nhân viên")
    minh = await rig.driver("telegram", "minh")
    await minh.say("gap nhan vien")
    thu = await rig.driver("web", "thu")
    await thu.say("xyzzy plugh")
    await thu.say("lịch cắt điện")
    an = await logged_in(rig, "rest", "an")
    assert (await complete(an, "svc_reconnect")).startswith("✅")
    await an.say("/services")
    await an.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await an.press(QUOTA)
    await an.press(next(t for t in an.button_titles if "PC05CC0123456" in t))
    assert "Bước 2/" in an.text  # and An leaves the form there
    rig.clock.advance(minutes=4)
    supervisor = await staff("supervisor")
    conversation = await _conversation_id(rig, "lan")
    status, _ = await supervisor.post(f"/console/conversations/{conversation}/take")
    assert status == 200
    status, _ = await supervisor.post(f"/console/conversations/{conversation}/resolve")
    assert status == 200
    assert isinstance(lan, RestDriver)

    async def asked_to_rate() -> bool:
        await lan.receive_pushes()
        return "⭐⭐⭐⭐" in lan.button_titles

    await eventually(asked_to_rate)
    await lan.press("⭐⭐⭐⭐")
    assert lan.text.startswith("Cảm ơn Quý khách đã đánh giá 4/5.")


async def test_the_dashboard_shows_a_days_chats_handoffs_ratings_and_forms(
    console_rig: Rig, staff: Staff
) -> None:
    today = on_wall_clock(console_rig)
    await a_day_of_customers(console_rig, staff)
    supervisor = await staff("supervisor")
    status, page = await supervisor.get("/console/dashboard")
    assert status == 200 and "<svg" in page
    shown = tables(page)
    day = fmt.day(today)
    conversations = {row[0]: row for row in shown["conversations"]}
    assert len(shown["conversations"]) == 14 and shown["conversations"][-1][0] == day
    assert conversations[day] == [day, "3", "1", "1", "5"]  # REST, then Telegram and web
    assert {row[-1] for row in shown["conversations"][:-1]} == {"0"}
    new_users = {row[0]: row for row in shown["new_users"]}
    assert new_users[day][-1] == "5"
    handoffs = {row[0]: row for row in shown["handoffs"]}
    assert handoffs[day] == [day, "2", "1", "4,0", "4,0"]
    three_days_ago = fmt.day(today - timedelta(days=3))
    assert handoffs[three_days_ago] == [three_days_ago, "1", "0", "–", "–"]
    assert shown["csat"] == [
        ["1", "0", "0,0"],
        ["2", "0", "0,0"],
        ["3", "0", "0,0"],
        ["4", "1", "100,0"],
        ["5", "0", "0,0"],
    ]
    assert shown["intents"] == [["Lịch tạm ngừng cung cấp điện", "lookup_outage_schedule", "1"]]
    assert shown["unknown"] == [["xyzzy plugh", "3"]]
    assert shown["forms"] == [
        [QUOTA, "1", "0", "0", "1", "0,0"],
        [RECONNECT, "1", "1", "0", "0", "100,0"],
    ]
    assert shown["form_steps"] == [[QUOTA, "Số hộ dùng chung công tơ này", "1"]]

    status, text = await supervisor.get(
        f"/console/dashboard/conversations.csv?from={today - timedelta(days=13)}&to={today}"
    )
    assert status == 200 and supervisor.last is not None
    assert supervisor.last.headers["Content-Type"].startswith("text/csv")
    rows = csv_rows(text)
    assert rows[0] == ["Ngày", "REST", "Telegram", "Web chat", "Tổng"]
    assert rows[1:] == [[iso(row[0]), *row[1:]] for row in shown["conversations"]]
    status, text = await supervisor.get(f"/console/dashboard/handoffs.csv?from={today}&to={today}")
    assert csv_rows(text)[1:] == [[today.isoformat(), "2", "1", "4.0", "4.0"]]


async def test_a_date_range_leaves_other_days_out(console_rig: Rig, staff: Staff) -> None:
    today = on_wall_clock(console_rig)
    await a_day_of_customers(console_rig, staff)
    supervisor = await staff("supervisor")
    earlier = today - timedelta(days=3)
    status, page = await supervisor.get(f"/console/dashboard?from={earlier}&to={earlier}")
    assert status == 200
    shown = tables(page)
    assert shown["handoffs"] == [[fmt.day(earlier), "1", "0", "–", "–"]]
    assert shown["conversations"] == [[fmt.day(earlier), "0"]]
    assert shown["unknown"] == [["Bot hiểu hết các câu trong khoảng thời gian này."]]
    status, page = await supervisor.get(f"/console/dashboard?from={today}&to={today}")
    shown = tables(page)
    assert shown["handoffs"] == [[fmt.day(today), "2", "1", "4,0", "4,0"]]
    # The phrases the bot did not understand, for the language team, as Rasa reads them.
    status, text = await supervisor.get(f"/console/dashboard/unknown.yml?from={today}&to={today}")
    assert status == 200
    exported = yaml.safe_load(text)
    assert exported["version"] == "3.1"
    assert exported["nlu"][0]["intent"] == "unsorted"
    assert exported["nlu"][0]["examples"] == "- xyzzy plugh\n"
    status, text = await supervisor.get(
        f"/console/dashboard/unknown.yml?from={earlier}&to={earlier}"
    )
    assert yaml.safe_load(text)["nlu"][0]["examples"] == ""


async def test_only_supervisors_and_admins_open_the_dashboard(staff: Staff) -> None:
    for role in ("agent", "marketing"):
        client = await staff(role)
        for path in ("/console/dashboard", "/console/dashboard/conversations.csv"):
            status, page = await client.get(path)
            assert status == 403 and "không có quyền" in page
        status, _ = await client.get("/console/dashboard/unknown.yml")
        assert status == 403
    admin = await staff("admin")
    status, page = await admin.get("/console/dashboard")
    assert status == 200 and "Tổng quan" in page


async def test_dates_that_cannot_be_read_are_said_and_kept(staff: Staff) -> None:
    supervisor = await staff("supervisor")
    status, page = await supervisor.get("/console/dashboard?from=2026-13-01&to=2026-11-26")
    assert status == 400 and "Ngày bắt đầu chưa đúng" in page
    assert 'value="2026-13-01"' in page
    status, page = await supervisor.get("/console/dashboard?from=2026-11-27&to=2026-11-26")
    assert status == 400 and "Ngày bắt đầu phải trước hoặc trùng ngày kết thúc." in page
    status, _ = await supervisor.get("/console/dashboard/nothing.csv")
    assert status == 404
