"""Marketing broadcasts in a real browser (Debian's Chromium, headless): the recipient
count and the preview follow the form as it is filled in, the send asks for confirmation,
and the progress page follows the delivery to the end without a reload.

CSKH_SCREENSHOT_DIR=docs saves the compose and progress pages' screenshots.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.staff import DEMO_PASSWORDS
from tests.e2e.test_webchat_browser import CHROMIUM, FLAGS, _browser_or_skip
from tests.handlers.rig import Rig, make_rig, password_login

LAPTOP = {"width": 1280, "height": 900}
# A text that would run script if the console ever put it into the page as HTML.
XSS = 'Ưu đãi tháng 12 <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
# A 1×1 PNG a browser can draw.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a1d8d10000000049454e44ae426082"
)


@pytest.fixture
async def rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path, own_seeded_url):
        yield made


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    async_playwright = _browser_or_skip()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport=LAPTOP,
            locale="vi-VN",
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def test_marketing_builds_a_segment_previews_sends_and_watches_it_finish(
    rig: Rig, page: Any, tmp_path: Path
) -> None:
    await password_login(rig, "rest", "an-browser", "annguyen", "An@2026cskh")  # Đà Nẵng
    await password_login(rig, "rest", "dung-browser", "dungpham", "Dung@2026cskh")  # Gia Lai
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.on("dialog", lambda dialog: dialog.accept())  # "Gửi ngay … cho 1 khách hàng?"
    base = rig.server.base_url

    await page.goto(base + "/console/login")
    await page.get_by_label("Tên đăng nhập").fill("marketing")
    await page.get_by_label("Mật khẩu").fill(DEMO_PASSWORDS["marketing"])
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.locator("h1", has_text="Thông báo quảng bá").wait_for()
    await page.get_by_role("link", name="✍ Soạn thông báo mới").click()
    await page.locator('#bc-reach [data-receiving="2"]').wait_for()

    # The count follows the segment, the preview the text and the picture.
    await page.get_by_label("Tỉnh/thành phố").fill("Đà Nẵng")
    await page.locator('#bc-reach [data-receiving="1"]').wait_for()
    await page.get_by_label("Tin nhắn gửi khách hàng").fill(XSS)
    await page.locator(".bc-tg-text", has_text='<img src=x onerror="window.__pwned=1">').wait_for()
    await page.locator(".bc-web-text", has_text="<script>window.__pwned=2</script>").wait_for()
    picture = tmp_path / "poster.png"
    picture.write_bytes(PIXEL)
    await page.locator("#bc-image").set_input_files(str(picture))
    await page.locator(".bc-tg-photo[src^='blob:']").wait_for()
    await page.locator(".bc-web-photo[src^='blob:']").wait_for()
    assert await page.locator(".bc-tg-key").all_inner_texts() == [
        "🔕 Tắt loại thông báo này",
        "💬 Phản hồi",
    ]
    assert await page.evaluate("window.__pwned") is None
    screenshots = os.environ.get("CSKH_SCREENSHOT_DIR")
    if screenshots:
        await page.screenshot(
            path=str(Path(screenshots) / "console-broadcast-compose.png"), full_page=True
        )

    await page.get_by_role("button", name="Gửi ngay").click()
    await page.locator(".alert.ok", has_text="Đã bắt đầu gửi thông báo.").wait_for()
    # The bot's delivery worker sends it; the page follows without a reload.
    await page.locator("#bc-state", has_text="Đã gửi xong").wait_for(timeout=15_000)
    assert await page.locator('[data-count="sent"]').inner_text() == "1"
    assert await page.locator("#bc-bar").evaluate("bar => [bar.value, bar.max]") == [1, 1]
    assert await page.locator("#bc-pause").is_hidden()
    assert await page.evaluate("window.__pwned") is None
    if screenshots:
        await page.screenshot(path=str(Path(screenshots) / "console-broadcast-progress.png"))
    assert refused == []
