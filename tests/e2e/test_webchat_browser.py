"""The web chat in a real browser: Debian's Chromium, headless, driven by Playwright.

Without /usr/bin/chromium these tests skip with a loud message; CSKH_REQUIRE_BROWSER=1
(set by .ci/run) turns the skip into a failure. CSKH_SCREENSHOT_DIR=docs saves the
phone-sized screenshot the README shows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.messages import Button, Reply
from bot.store.models import ChatUser, TranscriptMessage
from tests.channels.test_webchat import PNG
from tests.handlers.rig import LIFTED_LIMITS
from tests.helpers import BotServer, copy_sqlite, make_settings, running_bot

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}


def _browser_or_skip() -> Any:
    reason = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason is not None:
        message = f"BROWSER TESTS NOT RUN: {reason}"
        if os.environ.get("CSKH_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return async_playwright


@pytest.fixture
async def page(bot: BotServer, tmp_path: Path) -> AsyncIterator[Any]:
    async with _phone_page(bot, tmp_path) as opened:
        yield opened


@pytest.fixture
async def demo_server(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[BotServer]:
    """A server on a copy of the demo data: its personas can log in."""
    url = copy_sqlite(seeded_sqlite_template, tmp_path / "db")
    async with running_bot(make_settings(tmp_path / "var", url, **LIFTED_LIMITS)) as server:
        yield server


@contextlib.asynccontextmanager
async def _phone_page(bot: BotServer, tmp_path: Path) -> AsyncIterator[Any]:
    async_playwright = _browser_or_skip()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport=PHONE,
            device_scale_factor=2,
            locale="vi-VN",
            geolocation={"latitude": 15.8801, "longitude": 108.338},
            permissions=["geolocation"],
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto(bot.base_url + "/")
            yield page
        finally:
            await context.close()


async def _last_bot_text(page: Any) -> str:
    return str(await page.locator(".msg.out").last.inner_text())


async def test_a_visitor_goes_through_the_menu_by_clicking(page: Any, bot: BotServer) -> None:
    await page.locator(".msg.out", has_text="Xin chào! Tôi là trợ lý CSKH").last.wait_for()
    await page.get_by_role("button", name="⚙️ Cài đặt").last.click()
    await page.locator(".msg.out", has_text="Ngôn ngữ hiện tại: Tiếng Việt").last.wait_for()
    await page.get_by_role("button", name="🌐 Ngôn ngữ / Language").last.click()
    await page.get_by_role("button", name="English").last.click()
    await page.locator(".msg.out", has_text="Switched to English.").last.wait_for()
    await page.get_by_role("button", name="👤 Talk to staff").last.click()
    await page.locator(".msg.out", has_text="staff member").last.wait_for()
    await page.get_by_role("button", name="✖️ Stop waiting").last.click()
    await page.locator(".msg.out", has_text="The bot is back to help you.").last.wait_for()
    # A link button (an agent's or a notice's) opens in a new tab.
    async with bot.runtime.db.reading() as session:
        visitor = await session.scalar(select(ChatUser.id).where(ChatUser.channel == "web"))
    assert visitor is not None
    portal = Button("🌐 Open cskh.cpc.vn", url="https://cskh.cpc.vn")
    await bot.runtime.pusher.push(visitor, [Reply(text="Portal", buttons=((portal,),))])
    link = page.get_by_role("link", name="🌐 Open cskh.cpc.vn").last
    assert await link.get_attribute("href") == "https://cskh.cpc.vn"
    assert await link.get_attribute("target") == "_blank"
    # The page is readable on a 360 px phone: nothing wider than the screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


async def test_keyboard_alone_is_enough(page: Any) -> None:
    await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()
    await page.locator("#text").focus()
    await page.keyboard.type("tra cuu")
    await page.keyboard.press("Enter")
    await page.locator(".msg.out", has_text="Quý khách muốn tra cứu gì?").last.wait_for()
    # Tab from the page start reaches the chat's buttons and Enter presses them.
    await page.get_by_role("button", name="🏠 Menu").last.focus()
    await page.keyboard.press("Enter")
    await page.locator(".msg.out", has_text="Quý khách chọn mục cần hỗ trợ:").last.wait_for()


async def test_photo_location_reload_and_a_live_push(
    page: Any, bot: BotServer, tmp_path: Path
) -> None:
    await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()
    photo = tmp_path / "cong-to.png"
    photo.write_bytes(PNG)
    await page.locator("#photo").set_input_files(str(photo))
    await page.locator(".msg.out", has_text="Tôi đã nhận ảnh").last.wait_for()
    await page.get_by_role("button", name="Gửi vị trí").click()
    await page.locator(".msg.out", has_text="Chưa có điểm thu nào gần").last.wait_for()

    await page.reload()
    await page.locator(".msg.out", has_text="Chưa có điểm thu nào gần").last.wait_for()  # history
    assert await page.locator(".msg.in img").count() == 1  # the photo, now from the server
    assert await page.locator(".msg.in", has_text="📍 15.88010, 108.33800").count() == 1

    cookies = await page.context.cookies()
    visitor_id = next(c["value"] for c in cookies if c["name"] == "cskh_visitor").split(".")[0]
    assert next(c for c in cookies if c["name"] == "cskh_visitor")["httpOnly"]
    async with bot.runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == visitor_id)
        )
    assert user_id is not None
    await bot.runtime.pusher.push(
        user_id,
        [
            Reply(
                text="⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 02/12/2026",
                buttons=((Button("🏠 Menu", payload="menu"),),),
            )
        ],
    )
    await page.locator(".msg.out", has_text="⚡ Thông báo tạm ngừng cung cấp điện").last.wait_for()

    screenshots = os.environ.get("CSKH_SCREENSHOT_DIR")
    if screenshots:
        await page.get_by_role("button", name="🏠 Menu").last.click()
        await page.locator(".msg.out", has_text="Quý khách chọn mục cần hỗ trợ:").last.wait_for()
        await page.screenshot(path=str(Path(screenshots) / "webchat.png"))


async def test_a_new_visitors_reload_shows_no_start_of_theirs_regression(page: Any) -> None:
    """Issue 15, point 9: the page's own first-visit start is no bubble of the customer."""
    await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()
    await page.reload()
    await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()  # the history
    assert await page.locator(".msg.in").count() == 0
    assert "/start" not in await page.locator("#log").inner_text()


# Every text that ever appears in a bubble of the customer's, however briefly.
WATCH_BUBBLES = """() => {
  window.seenInBubbles = [];
  new MutationObserver(() => {
    for (const bubble of document.querySelectorAll(".msg.in")) {
      window.seenInBubbles.push(bubble.textContent);
    }
  }).observe(document.getElementById("log"), {childList: true, subtree: true,
                                               characterData: true});
}"""


async def test_a_typed_password_and_pin_show_only_dots_regression(
    demo_server: BotServer, tmp_path: Path
) -> None:
    """Issue 15, point 4: on a phone, while the bot asks for a password or a PIN the input
    is a password field and the bubble shows dots at once; a reload shows no secret, and
    the transcript keeps none."""
    password, pin = "An@2026cskh", "258046"
    async with _phone_page(demo_server, tmp_path) as page:
        text = page.locator("#text")
        await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()
        await page.evaluate(WATCH_BUBBLES)

        async def type_and_send(value: str) -> None:
            await text.fill(value)
            await text.press("Enter")

        await page.get_by_role("button", name="🔑 Đăng nhập").last.click()
        await page.get_by_role("button", name="✅ Đồng ý").last.click()
        await page.get_by_role("button", name="👤 Tên đăng nhập/mật khẩu").last.click()
        await page.locator(".msg.out", has_text="Vui lòng nhập tên đăng nhập").last.wait_for()
        assert await text.get_attribute("type") == "text"  # a username is shown as typed
        await type_and_send("AnNguyen")
        await page.locator(".msg.out", has_text="Vui lòng nhập mật khẩu (tin").last.wait_for()
        assert await text.get_attribute("type") == "password"
        assert await text.get_attribute("autocomplete") == "one-time-code"
        assert await text.get_attribute("placeholder") == "🔒 Mật khẩu / mã"
        await type_and_send(password)
        assert await page.locator(".msg.in").last.inner_text() == "••••••"  # at once
        await page.locator(".msg.out", has_text="✅ Kích hoạt thành công.").last.wait_for()
        assert await text.get_attribute("type") == "text"
        assert await text.get_attribute("placeholder") == "Nhập tin nhắn…"

        await page.get_by_role("button", name="⚙️ Cài đặt").last.click()
        await page.get_by_role("button", name="🔒 Cài đặt mật khẩu").last.click()
        await page.get_by_role("button", name="🔒 Đặt mật khẩu").last.click()
        await page.locator(".msg.out", has_text="mật khẩu mới gồm 4–6 chữ số").last.wait_for()
        assert await text.get_attribute("type") == "password"
        await type_and_send(pin)
        await page.locator(".msg.out", has_text="nhập lại mật khẩu").last.wait_for()
        await type_and_send(pin)
        await page.locator(".msg.out", has_text="✅ Đã đặt mật khẩu ứng dụng.").last.wait_for()
        assert await text.get_attribute("type") == "text"
        assert await text.input_value() == ""
        seen = " ".join(await page.evaluate("window.seenInBubbles"))
        assert "AnNguyen" in seen and password not in seen and pin not in seen

        await page.reload()
        await page.locator(".msg.out", has_text="✅ Đã đặt mật khẩu ứng dụng.").last.wait_for()
        typed = await page.locator(".msg.in").all_inner_texts()
        assert typed.count("••••••") == 3 and "AnNguyen" in typed
        shown = await page.locator("body").inner_text()
        assert password not in shown and pin not in shown
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    async with demo_server.runtime.db.reading() as session:
        kept = " ".join(t or "" for t in await session.scalars(select(TranscriptMessage.text)))
    assert password not in kept and pin not in kept


async def test_the_default_code_chosen_once_serves_every_lookup_on_a_phone_regression(
    demo_server: BotServer, tmp_path: Path
) -> None:
    """Issue 15, point 9 in the browser: after activation An is asked for the default code
    once, on one screen; a lookup typed without diacritics then answers for it at once,
    with "🔁 Mã khác" for the other code."""
    async with _phone_page(demo_server, tmp_path) as page:
        text = page.locator("#text")
        await page.locator(".msg.out", has_text="Xin chào!").last.wait_for()
        await page.get_by_role("button", name="🔑 Đăng nhập").last.click()
        await page.get_by_role("button", name="✅ Đồng ý").last.click()
        await page.get_by_role("button", name="👤 Tên đăng nhập/mật khẩu").last.click()
        await page.locator(".msg.out", has_text="Vui lòng nhập tên đăng nhập").last.wait_for()
        for typed in ("annguyen", "An@2026cskh"):
            await text.fill(typed)
            await text.press("Enter")
        asking = page.locator(".msg.out", has_text="mã mặc định").last
        await asking.wait_for()
        assert await page.locator(".msg.out", has_text="tra cứu cho mã khách hàng nào").count() == 0
        await page.get_by_role("button", name="⭐ PC05CC0123457 — Nhà hàng An").last.click()
        await page.locator(".msg.out", has_text="✅ Mã mặc định: PC05CC0123457.").last.wait_for()

        await text.fill("tien dien thang nay bao nhieu")
        await text.press("Enter")
        answer = page.locator(".msg.out", has_text="mã PC05CC0123457:").last
        await answer.wait_for()
        assert "tra cứu cho mã khách hàng nào" not in await _last_bot_text(page)
        await page.get_by_role("button", name="🔁 Mã khác").last.click()
        await page.locator(".msg.out", has_text="tra cứu cho mã khách hàng nào").last.wait_for()
        await page.get_by_role("button", name="PC05CC0123456 — Nguyễn Văn An").last.click()
        await page.locator(".msg.out", has_text="mã PC05CC0123456:").last.wait_for()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
