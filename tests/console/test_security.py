"""Sự kiện bảo mật as a supervisor reads it: a customer locked out after wrong passwords
and staff signing in, newest first, in Vietnamese, filtered by event and by staff
member, and never what was typed as a password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.core import fmt
from tests.console.staff import StaffClient
from tests.console.tables import tables
from tests.handlers.rig import Rig, start_login

Staff = Callable[[str], Awaitable[StaffClient]]
LOCKOUT = "Tạm khóa do nhập sai nhiều lần lockout"


async def a_customer_locked_out(rig: Rig) -> None:
    driver = await rig.driver("rest", "doan-mo")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    for _ in range(5):
        await driver.say("annguyen")
        await driver.say("Doan-mo-lan-5")
    assert driver.text.startswith("Vì nhập sai nhiều lần")


def events(page: str) -> list[list[str]]:
    return [row for row in tables(page)["security-events"] if len(row) == 5]


async def test_the_security_log_lists_a_lockout_and_staff_sign_ins_newest_first(
    console_rig: Rig, staff: Staff
) -> None:
    await staff("agent")
    await a_customer_locked_out(console_rig)
    console_rig.clock.advance(minutes=1)
    supervisor = await staff("supervisor")
    status, page = await supervisor.get("/console/security")
    assert status == 200
    rows = events(page)
    kinds = [row[1] for row in rows]
    assert kinds[0] == "Nhân viên đăng nhập staff_login" and rows[0][2] == "supervisor"
    assert LOCKOUT in kinds
    lockout = rows[kinds.index(LOCKOUT)]
    assert lockout[2].startswith("Khách hàng #") and lockout[3] == "portal:annguyen"
    assert '<a href="/console/conversations/' in page  # the customer's conversation, a click away
    assert kinds.index(LOCKOUT) < kinds.index("Nhân viên đăng nhập staff_login", 1)
    assert "Doan-mo-lan-5" not in page  # what was typed as a password is nowhere

    status, page = await supervisor.get("/console/security?actor=agent")
    rows = events(page)
    assert rows and {row[2] for row in rows} == {"agent"}
    assert [row[1] for row in rows] == ["Nhân viên đăng nhập staff_login"]
    assert 'value="agent"' in page  # the filter stays as typed

    status, page = await supervisor.get("/console/security?event=lockout")
    assert {row[1] for row in events(page)} == {LOCKOUT}
    status, page = await supervisor.get("/console/security?subject=ANNGUYEN")
    assert events(page) and all(row[3] == "portal:annguyen" for row in events(page))


async def test_the_security_log_filters_by_day_and_says_when_a_date_is_wrong(
    staff: Staff,
) -> None:
    supervisor = await staff("supervisor")
    today = fmt.local(datetime.now(UTC)).date()  # the audit log is stamped by the wall clock
    status, page = await supervisor.get(f"/console/security?from={today}&to={today}")
    assert status == 200 and events(page)
    status, page = await supervisor.get(f"/console/security?from={today + timedelta(days=1)}")
    assert status == 200 and events(page) == []
    assert "Không có sự kiện nào khớp bộ lọc." in page
    status, page = await supervisor.get(f"/console/security?to={today - timedelta(days=1)}")
    assert events(page) == []
    status, page = await supervisor.get("/console/security?from=26-11-2026")
    assert status == 400 and "Ngày bắt đầu chưa đúng" in page
    assert 'value="26-11-2026"' in page


async def test_agents_and_marketing_cannot_read_the_security_log(staff: Staff) -> None:
    for role in ("agent", "marketing"):
        client = await staff(role)
        status, page = await client.get("/console/security")
        assert status == 403 and "không có quyền" in page
