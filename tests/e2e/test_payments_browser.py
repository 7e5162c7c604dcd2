"""Thanh toán in a real browser (issue 16): on a phone, An pays her bill from the web
chat through the sandbox VNPay page `cskh serve` plays, and the receipt appears in the
chat without a reload. Debian's Chromium via Playwright, as tests/e2e/test_webchat_browser
.py runs it (skipped loudly without it; CSKH_REQUIRE_BROWSER=1 fails instead).
CSKH_SCREENSHOT_DIR=docs saves docs/payment-sandbox.png and docs/payment-receipt.png.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.e2e.test_webchat_browser import PHONE, _phone_page, demo_server
from tests.handlers.payment_helpers import unpaid_totals
from tests.helpers import BotServer

__all__ = ["demo_server"]  # the fixture, used by name


async def fits_the_phone(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


async def test_an_pays_her_bill_on_a_phone_and_the_receipt_comes_live(
    demo_server: BotServer, tmp_path: Path
) -> None:
    screenshots = os.environ.get("CSKH_SCREENSHOT_DIR")
    owed = await unpaid_totals(demo_server.runtime, "PC05CC0123456")
    assert len(owed) == 1
    async with _phone_page(demo_server, tmp_path) as chat:
        text = chat.locator("#text")
        await chat.locator(".msg.out", has_text="Xin chào!").last.wait_for()
        await chat.get_by_role("button", name="🔑 Đăng nhập").last.click()
        await chat.get_by_role("button", name="✅ Đồng ý").last.click()
        await chat.get_by_role("button", name="👤 Tên đăng nhập/mật khẩu").last.click()
        await chat.locator(".msg.out", has_text="Vui lòng nhập tên đăng nhập").last.wait_for()
        for typed in ("annguyen", "An@2026cskh"):
            await text.fill(typed)
            await text.press("Enter")
        await chat.get_by_role("button", name="⭐ PC05CC0123456 — Nguyễn Văn An").last.click()
        await chat.locator(".msg.out", has_text="✅ Mã mặc định: PC05CC0123456.").last.wait_for()

        await text.fill("thanh toan tien dien")
        await text.press("Enter")
        amount = f"{owed[0]:,} đ".replace(",", ".")
        await chat.locator(
            ".msg.out", has_text=f"Thanh toán {amount} cho mã PC05CC0123456:"
        ).last.wait_for()
        await chat.get_by_role("button", name="💳 Thẻ/ngân hàng (VNPay)").last.click()
        link = chat.get_by_role("link", name="💳 Mở trang thanh toán").last
        await link.wait_for()
        await fits_the_phone(chat)
        # The link opens a tab of its own; the chat stays open in this one.
        async with chat.context.expect_page() as opened:
            await link.click()
        gateway = await opened.value
        await gateway.get_by_role("button", name="Thanh toán", exact=True).wait_for()
        assert "/sandbox/vnpay/" in gateway.url
        assert amount.replace(" đ", "") in await gateway.locator("body").inner_text()
        await fits_the_phone(gateway)
        if screenshots:
            await gateway.screenshot(path=str(Path(screenshots) / "payment-sandbox.png"))
        await gateway.get_by_role("button", name="Thanh toán", exact=True).click()
        await gateway.get_by_text("Thanh toán thành công").wait_for()
        assert "/payments/vnpay/return" in gateway.url
        await fits_the_phone(gateway)

        # Back in the chat, without a reload: the receipt.
        await chat.bring_to_front()
        receipt = chat.locator(".msg.out", has_text="✅ Đã nhận thanh toán").last
        await receipt.wait_for(timeout=15_000)
        told = await receipt.inner_text()
        assert f"{amount} qua VNPay" in told and "cho mã PC05CC0123456" in told
        await fits_the_phone(chat)
        if screenshots:
            await chat.screenshot(path=str(Path(screenshots) / "payment-receipt.png"))
    assert await unpaid_totals(demo_server.runtime, "PC05CC0123456") == []
