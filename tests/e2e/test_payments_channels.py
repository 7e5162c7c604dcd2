"""Thanh toán (issue 16) on the web chat and Telegram, the server and its fake platforms
running: Bình pays one bill through the sandbox VNPay gateway, then what is left; Đức
pays by VietQR, the QR arriving as an image on his channel, and the bank statement is
imported with `cskh payments import`. Each receipt is a push on the customer's own
channel (the web chat's websocket, the fake Bot API's sendMessage)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bot.__main__ import _parser
from tests.drivers import Driver, TelegramDriver, WebDriver
from tests.handlers.payment_helpers import link_of, pay_in_sandbox, statement, unpaid_totals
from tests.handlers.rig import Rig, make_rig, password_login
from tests.helpers import eventually

BINH = ("binhtran", "Binh@2026cskh")
DUC = ("ducho", "Duc@2026cskh")
CHANNELS = ["web", "telegram"]


@pytest.fixture
async def rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[Rig]:
    async for running in make_rig(tmp_path, seeded_sqlite_template):
        yield running


async def logged_in(rig: Rig, channel: str, who: tuple[str, str], name: str) -> Driver:
    driver = await password_login(rig, channel, name, *who)
    if any(title.startswith("⭐") for title in driver.button_titles):
        await driver.press(driver.button_titles[0])  # the default code: the first one
    return driver


def money(amount: int) -> str:
    return f"{amount:,} đ".replace(",", ".")


async def receipt(rig: Rig, driver: Driver, containing: str = "✅ Đã nhận thanh toán") -> str:
    """The message pushed to the customer's channel that holds `containing` (the delivery
    worker sends it from the outbox; Telegram keeps a second between a chat's messages)."""
    seen: list[str] = []
    if isinstance(driver, WebDriver):
        socket = driver.socket
        assert socket is not None

        async def on_the_page() -> str | None:
            try:
                frame = await asyncio.wait_for(socket.receive_json(), 0.2)
            except TimeoutError:
                return None
            text = str((frame.get("message") or {}).get("text") or frame.get("text") or "")
            seen.append(text)
            return text if containing in text else None

        return str(await eventually(on_the_page, within=15, message=lambda: seen))
    assert isinstance(driver, TelegramDriver)
    chat_id = driver.chat_id

    def in_the_chat() -> str | None:
        seen[:] = rig.telegram.texts(chat_id)[-5:]
        return next((t for t in reversed(rig.telegram.texts(chat_id)) if containing in t), None)

    return str(await eventually(in_the_chat, within=15, message=lambda: seen))


async def cskh(rig: Rig, *argv: str) -> int:
    """Run the command line as bot/__main__.py does, on the bot's settings (in a thread:
    the command runs its own event loop)."""
    args = _parser().parse_args(argv)
    args.clock = rig.clock  # the bot's time, as `cskh notify` takes it in tests
    return int(await asyncio.to_thread(args.run, rig.runtime.settings, args))


@pytest.mark.parametrize("channel", CHANNELS)
async def test_binh_pays_one_bill_then_the_rest_through_vnpay(rig: Rig, channel: str) -> None:
    binh = await logged_in(rig, channel, BINH, f"binh-{channel}")
    owed = await unpaid_totals(rig.runtime, "PC03BB0045678")
    assert len(owed) == 2
    await binh.say("/pay")
    assert binh.text.startswith("💳 Mã PC03BB0045678 còn 2 hóa đơn chưa thanh toán:")
    one = next(title for title in binh.button_titles if title.startswith("Kỳ "))
    assert one.endswith(money(owed[0]))  # the oldest bill first
    await binh.press(one)
    assert binh.text.startswith(f"Thanh toán {money(owed[0])} cho mã PC03BB0045678:")
    await binh.press("💳 Thẻ/ngân hàng (VNPay)")
    url = link_of(binh)  # on Telegram an inline URL button
    assert f"vnp_Amount={owed[0] * 100}&" in url

    status, page = await pay_in_sandbox(url)
    assert status == 200 and "Thanh toán thành công" in page
    assert await unpaid_totals(rig.runtime, "PC03BB0045678") == [owed[1]]
    first = await receipt(rig, binh)
    assert f"{money(owed[0])} qua VNPay" in first and "cho mã PC03BB0045678" in first
    assert first.count("• Tiền điện") == 1 and "Mã giao dịch: TT" in first

    await binh.say("/pay")  # one bill left: its amount at once
    assert binh.text.startswith(f"Thanh toán {money(owed[1])} cho mã PC03BB0045678:")
    await binh.press("💳 Thẻ/ngân hàng (VNPay)")
    status, page = await pay_in_sandbox(link_of(binh))
    assert status == 200 and "Thanh toán thành công" in page
    second = await receipt(rig, binh, f"✅ Đã nhận thanh toán {money(owed[1])}")
    assert "qua VNPay" in second
    assert await unpaid_totals(rig.runtime, "PC03BB0045678") == []

    await binh.say("/pay")
    assert binh.text.startswith("✅ Mã PC03BB0045678 không còn hóa đơn nào cần thanh toán.")
    await binh.close()


@pytest.mark.parametrize("channel", CHANNELS)
async def test_duc_pays_by_vietqr_and_the_imported_statement_settles_it(
    rig: Rig, channel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    duc = await logged_in(rig, channel, DUC, f"duc-{channel}")
    await duc.say("thanh toan tien dien")
    assert duc.text.startswith("✅ Mã PQ02000012345 không còn hóa đơn nào cần thanh toán.")
    await duc.press("💳 PQ02000012346")
    (amount,) = await unpaid_totals(rig.runtime, "PQ02000012346")
    assert duc.text.startswith(f"Thanh toán {money(amount)} cho mã PQ02000012346:")
    await duc.press("🏦 Chuyển khoản VietQR")
    assert "Quét mã QR" in duc.text and "Vietcombank" in duc.text
    # The QR is an image on the channel (Telegram: sendPhoto) that a banking app reads.
    (qr,) = [f for f in duc.files if f.kind == "image"]
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.data)))
    transfer = next(
        line for line in duc.text.splitlines() if line.startswith("TT") and len(line) <= 25
    )
    assert transfer in decoded.text and f"54{len(str(amount)):02d}{amount}" in decoded.text
    ref, code = transfer.split()

    today = rig.clock.now()
    file = tmp_path / "sao-ke.csv"
    bank_text = f"MBVCB.8812345.{ref}{code}.CT tu 0011"  # spaces gone, as banks do
    file.write_text(
        statement((f"{today:%d/%m/%Y}", amount, bank_text, "FT26341001")), encoding="utf-8"
    )
    capsys.readouterr()
    assert await cskh(rig, "payments", "import", str(file)) == 0
    assert "1 paid" in capsys.readouterr().out
    assert await unpaid_totals(rig.runtime, "PQ02000012346") == []
    told = await receipt(rig, duc)
    assert f"{money(amount)} qua chuyển khoản VietQR" in told
    assert "cho mã PQ02000012346" in told
    await duc.close()
