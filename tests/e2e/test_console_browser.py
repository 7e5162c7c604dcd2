"""The staff console in a real browser (Debian's Chromium, headless): an agent watches a
web chat customer live, takes over, answers, resolves, and the customer rates the help.

CSKH_SCREENSHOT_DIR=docs saves the console's screenshots the README shows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.staff_models import Handoff
from tests.console.staff import DEMO_PASSWORDS
from tests.e2e.test_webchat_browser import CHROMIUM, FLAGS, PHONE, _browser_or_skip
from tests.handlers.rig import Rig, make_rig
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
