"""The staff console in a real browser (Debian's Chromium, headless): an agent watches a
web chat customer live, takes over, answers, resolves, and the customer rates the help.

CSKH_SCREENSHOT_DIR=docs saves the console's screenshots the README shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import TranscriptMessage
from bot.store.staff_models import Handoff
from tests.console.staff import DEMO_PASSWORDS
from tests.console.test_outages import an_on
from tests.console.test_requests import CODE
from tests.drivers import TelegramDriver
from tests.e2e.test_webchat_browser import CHROMIUM, FLAGS, PHONE, _browser_or_skip
from tests.handlers.rig import Rig, make_rig
from tests.handlers.test_services import complete
from tests.helpers import eventually

LAPTOP = {"width": 1280, "height": 800}
# Customer text that would run script if the console ever put it into the page as HTML.
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture
async def rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path, own_seeded_url):
        yield made


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Any]:
    """A function opening a new browser (its own empty profile) with a viewport."""
    async_playwright = _browser_or_skip()
    async with async_playwright() as playwright, contextlib.AsyncExitStack() as stack:
        count = 0

        async def open_browser(viewport: dict[str, int]) -> Any:
            nonlocal count
            count += 1
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{count}"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                viewport=viewport,
                locale="vi-VN",
            )
            stack.push_async_callback(context.close)
            return context.pages[0] if context.pages else await context.new_page()

        yield open_browser


async def _sign_in(page: Any, base_url: str, username: str) -> None:
    await page.goto(base_url + "/console/login")
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(DEMO_PASSWORDS[username])
    await page.get_by_role("button", name="Đăng nhập").click()


async def test_an_agent_takes_over_a_web_chat_answers_and_the_customer_rates(
    rig: Rig, chromium: Any
) -> None:
    base = rig.server.base_url
    agent = await chromium(LAPTOP)
    await _sign_in(agent, base, "agent")
    await agent.locator("h1", has_text="Hội thoại").wait_for()
    await agent.locator(".live-dot.on").wait_for()  # the event stream is open

    customer = await chromium(PHONE)
    await customer.goto(base + "/")
    await customer.locator(".msg.out", has_text="Xin chào!").last.wait_for()
    await customer.locator("#text").fill(XSS)
    await customer.keyboard.press("Enter")
    await customer.get_by_role("button", name="👤 Gặp nhân viên").last.click()
    await customer.locator(".msg.out", has_text="Yêu cầu gặp nhân viên").last.wait_for()

    # The list grows without a reload: the customer's row, waiting for staff.
    row = agent.locator("#conversation-list tr.mode-waiting")
    await row.first.wait_for()
    assert await agent.evaluate("window.__pwned") is None
    await row.first.click()
    shown = agent.locator("#transcript .msg-in", has_text='<img src=x onerror="window.__pwned=1">')
    await shown.wait_for()
    assert await agent.evaluate("window.__pwned") is None
    screenshots = os.environ.get("CSKH_SCREENSHOT_DIR")

    await agent.get_by_role("button", name="Tiếp nhận").click()
    await agent.locator("#composer").wait_for(state="visible")
    await customer.locator(".msg.out", has_text="đang hỗ trợ Quý khách").last.wait_for()
    await agent.locator("#reply-text").fill("Chào anh/chị, em là Bích. Em kiểm tra giúp ngay ạ.")
    await agent.get_by_role("button", name="Gửi", exact=True).click()
    await customer.locator(".msg.out", has_text="em là Bích").last.wait_for()

    # The customer answers; the agent's open transcript shows it without a reload.
    await customer.locator("#text").fill("Cảm ơn em, hóa đơn tháng 11 của tôi cao bất thường")
    await customer.keyboard.press("Enter")
    await agent.locator("#transcript .msg-in", has_text="cao bất thường").wait_for()
    if screenshots:
        await agent.screenshot(path=str(Path(screenshots) / "console-conversation.png"))
        tablet = await chromium({"width": 820, "height": 1180})
        await _sign_in(tablet, base, "supervisor")
        await tablet.locator("#conversation-list").wait_for()
        await tablet.screenshot(path=str(Path(screenshots) / "console-list-tablet.png"))

    await agent.get_by_role("button", name="Hoàn tất").click()
    await agent.locator(".handoff .mode", has_text="Đã xong").wait_for()
    await customer.locator(".msg.out", has_text="hài lòng").last.wait_for()
    await customer.get_by_role("button", name="⭐⭐⭐⭐⭐", exact=True).last.click()
    await customer.locator(".msg.out", has_text="đánh giá 5/5").last.wait_for()

    async def rated() -> int | None:
        async with rig.runtime.db.reading() as session:
            return await session.scalar(select(Handoff.csat))

    assert await eventually(rated) == 5
    assert await agent.evaluate("window.__pwned") is None

    # The supervisor sees the handoff and its rating on the dashboard.
    supervisor = await chromium(LAPTOP)
    await _sign_in(supervisor, base, "supervisor")
    await supervisor.goto(base + "/console/dashboard")
    kpi = supervisor.locator(".kpi", has_text="CSAT trung bình (1 đánh giá)")
    await kpi.wait_for()
    assert (await kpi.locator("b").inner_text()).strip() in ("5", "5,0", "5.0")
    if screenshots:
        await supervisor.screenshot(
            path=str(Path(screenshots) / "console-dashboard.png"), full_page=True
        )


async def test_a_message_sent_while_the_console_page_loads_is_shown_regression(
    rig: Rig, chromium: Any
) -> None:
    """CI saw it: a reply posted reloads the agent's page; the customer answered before
    the page's event stream opened, and the answer never appeared. The page now fetches
    what it may have missed when its stream opens."""
    base = rig.server.base_url
    agent = await chromium(LAPTOP)
    await _sign_in(agent, base, "agent")
    await agent.locator(".live-dot.on").wait_for()

    customer = await chromium(PHONE)
    await customer.goto(base + "/")
    await customer.locator(".msg.out", has_text="Xin chào!").last.wait_for()
    await customer.get_by_role("button", name="👤 Gặp nhân viên").last.click()
    row = agent.locator("#conversation-list tr.mode-waiting")
    await row.first.wait_for()

    # The conversation page renders, but its event stream is held back a while.
    release = asyncio.Event()

    async def hold(route: Any) -> None:
        await release.wait()
        await route.continue_()

    await agent.route("**/console/events", hold)
    await row.first.click()
    await agent.locator("#transcript .msg-in", has_text="Gặp nhân viên").first.wait_for()
    await customer.locator("#text").fill("Tôi vẫn chờ, điện nhà tôi chập chờn từ sáng")
    await customer.keyboard.press("Enter")

    async def stored() -> int:
        async with rig.runtime.db.reading() as session:
            return len(
                (
                    await session.scalars(
                        select(TranscriptMessage.id).where(
                            TranscriptMessage.text.contains("chập chờn")
                        )
                    )
                ).all()
            )

    assert await eventually(stored) == 1
    assert not await agent.locator("#transcript", has_text="chập chờn").count()
    release.set()
    await agent.locator("#transcript .msg-in", has_text="chập chờn").wait_for()


async def test_operations_publish_an_incident_and_an_agent_moves_a_request(
    rig: Rig, chromium: Any
) -> None:
    """A Telegram customer (the demo's An, logged in) is told of an incident operations
    publish, and of the status an agent gives his service request."""
    base = rig.server.base_url
    an = await an_on(rig, "telegram", "an")
    assert isinstance(an, TelegramDriver)
    code = CODE.search(await complete(an, "svc_change_quota"))
    assert code is not None

    ops = await chromium(LAPTOP)
    await _sign_in(ops, base, "operations")
    await ops.goto(base + "/console/outages/new?kind=incident")
    await ops.locator('input[name="province"]').fill("da nang")
    await ops.locator('input[name="ward"]').fill("Hoi An")
    await ops.locator('input[name="end"]').fill("2026-11-26T18:00")
    await ops.locator('input[name="reason"]').fill("Sự cố máy biến áp")
    await ops.get_by_role("button", name="Xem trước").click()
    await ops.locator(".notice-text").wait_for()
    screenshots = os.environ.get("CSKH_SCREENSHOT_DIR")
    if screenshots:
        await ops.locator(".notice-text").scroll_into_view_if_needed()
        await ops.screenshot(path=str(Path(screenshots) / "console-outage-preview.png"))
    await ops.get_by_role("button", name="Đăng và gửi thông báo").click()
    await ops.locator(".alert.ok", has_text="Đã đăng lịch").wait_for()
    await rig.telegram.wait_for(
        lambda: any(t.startswith("⚡ Sự cố mất điện") for t in rig.telegram.texts(an.chat_id))
    )

    agent = await chromium(LAPTOP)
    await _sign_in(agent, base, "agent")
    await agent.goto(base + "/console/requests")
    await agent.locator(f'tr[data-href="/console/requests/{code.group(0)}"]').click()
    await agent.get_by_label("Trạng thái mới").select_option("in_progress")
    note = "Điện lực sẽ khảo sát tại nhà ngày 30/11."
    await agent.locator('textarea[name="note"]').fill(note)
    await agent.get_by_role("button", name="Đổi trạng thái và báo khách").click()
    await agent.locator(".alert.ok", has_text="Đã đổi trạng thái").wait_for()
    if screenshots:
        await agent.screenshot(path=str(Path(screenshots) / "console-request.png"))
    await rig.telegram.wait_for(lambda: any(note in t for t in rig.telegram.texts(an.chat_id)))
