"""A new user of the demo sees the Thông báo tab as customers do, and the notice runs
tell the personas what their data says (issue 15)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.models import Notice
from tests.handlers.rig import Rig, password_login
from tests.notify.test_notify_cli import AN, cskh, delivered, rest_pushes


async def test_a_new_demo_user_finds_the_personas_notices_in_the_tab_regression(
    rig: Rig,
) -> None:
    """The tab was empty on a fresh demo: "Quý khách chưa có thông báo nào"."""
    an = await password_login(rig, "rest", "history-an", *AN)
    await an.say("menu")
    await an.press("🔔 Thông báo")
    assert an.text == "🔔 Thông báo gần đây: 6 chưa đọc (●)."
    assert an.button_titles[:3] == [
        "🧾 Tiền điện (4 mới)",
        "⚡ Tạm ngừng cấp điện (2 mới)",
        "📢 Thông báo khác",
    ]
    await an.press("🧾 Tiền điện (4 mới)")
    bills = an.button_titles[:4]  # newest first, both codes, each on its day
    assert [title[:8] for title in bills] == ["● 12/11 ", "● 06/11 ", "● 03/11 ", "● 28/10 "]
    assert "Nhắc thanh toán" in bills[0] and "Thông báo tiền điện" in bills[1]
    await an.press(bills[0])
    assert an.text.startswith("🧾 Nhắc thanh toán: tiền điện kỳ 1 tháng 11/2026, mã PC05CC0123456")
    assert "hạn thanh toán 15/11/2026" in an.text  # as it read on 12/11
    assert "💬 Phản hồi" in an.button_titles  # a notice like any: it can be answered
    await an.press("⬅ Quay lại")
    await an.press("⬅ Quay lại")
    await an.press("⚡ Tạm ngừng cấp điện (2 mới)")
    restored, announced = an.button_titles[:2]
    assert restored.startswith("● 17/11 Điện đã có lại tại")
    await an.press(announced)
    assert an.text.startswith("⚡ Thông báo tạm ngừng cung cấp điện: 07:30–11:30 ngày 17/11/2026")

    other = await password_login(rig, "rest", "history-an-2", *AN)  # her second phone
    await other.say("menu")
    await other.press("🔔 Thông báo")
    assert other.text == "🔔 Thông báo gần đây: 6 chưa đọc (●)."  # its own, once


async def test_notify_run_tells_an_of_her_overdue_bill_regression(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """Her November bill was due on 15/11 (11 days ago on the demo's day): the run looked
    back 10 days only and told her nothing."""
    await password_login(rig, "rest", "overdue-an", *AN)
    capsys.readouterr()
    assert await cskh(rig, "notify", "run") == 0
    assert "debt: 1 notices, 1 rows" in capsys.readouterr().out.splitlines()
    async with rig.server.runtime.db.reading() as session:
        notice_id = await session.scalar(
            select(Notice.id).where(Notice.kind == "bill_debt", Notice.key.startswith("bill:"))
        )
    assert notice_id is not None
    await delivered(rig, notice_id)
    [debt] = [m for m in await rest_pushes(rig, "overdue-an") if m["text"].startswith("⚠️")]
    assert debt["text"].startswith("⚠️ Tiền điện kỳ 1 tháng 11/2026, mã PC05CC0123456: ")
    assert "đã quá hạn thanh toán (15/11/2026)" in debt["text"]
