"""`cskh requests set-fee` and `cskh payments import|held|resolve|query` as staff type
them, against the database of a live bot (issue 16): what they print, their exit codes,
and what the customer then sees in the chat."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.__main__ import _parser
from bot.payments.sandbox import API_PATH, PAY_PATH, VnpaySandbox
from bot.payments.vnpay import VnpayConfig
from tests.drivers import Driver
from tests.handlers.payment_helpers import TOKEN, held, link_of, orders, unpaid_totals
from tests.handlers.rig import LightRig, make_light_rig, password_login
from tests.handlers.test_requests_cli import pushed, submitted

AN = ("annguyen", "An@2026cskh")
BINH = ("binhtran", "Binh@2026cskh")
MERCHANT = VnpayConfig(
    tmn_code="CSKHE2E1",
    hash_secret="e2e-merchant-secret-not-the-demo-one",
    pay_url="",  # the bot's settings say where the gateway is
    api_url="",
)


@pytest.fixture
async def rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[LightRig]:
    async for running in make_light_rig(tmp_path, seeded_sqlite_template):
        yield running


async def cskh(rig: LightRig, *argv: str) -> int:
    """Parse the command line as bot/__main__.py does and run it on the bot's settings
    (in a thread: the command runs its own event loop)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    args.clock = rig.clock  # the bot's time, as `cskh notify` takes it in tests
    return int(await asyncio.to_thread(args.run, rig.runtime.settings, args))


async def logged_in(rig: LightRig, who: tuple[str, str], name: str) -> Driver:
    driver = await password_login(rig, "rest", name, *who)
    if any(title.startswith("⭐") for title in driver.button_titles):
        await driver.press(driver.button_titles[0])  # the default code: the first one
    return driver


async def transfer_text(driver: Driver) -> str:
    """Open the VietQR offer of what /pay shows first; the text to put in the transfer."""
    await driver.say("/pay")
    if "💰" in " ".join(driver.button_titles):
        await driver.press(next(t for t in driver.button_titles if t.startswith("💰")))
    await driver.press("🏦 Chuyển khoản VietQR")
    return next(line for line in driver.text.splitlines() if line.startswith("TT"))


async def test_a_fee_set_by_staff_can_be_paid_in_the_chat(
    rig: LightRig, capsys: pytest.CaptureFixture[str]
) -> None:
    request = await submitted(rig, "fee-an", "svc_check_meter")
    capsys.readouterr()
    # Not approved yet: no fee.
    assert await cskh(rig, "requests", "set-fee", request, "350000") == 2
    assert "set the fee once it is approved" in capsys.readouterr().err
    assert await cskh(rig, "requests", "set-status", request, "in_progress") == 0
    capsys.readouterr()
    assert await cskh(rig, "requests", "set-fee", request, "350000") == 0
    assert capsys.readouterr().out.strip() == f"{request}: fee 350,000 đ; the customer was told"
    assert any(request in text and "350.000 đ" in text for text in await pushed(rig, "fee-an"))

    an = await rig.driver("rest", "fee-an")
    await an.say("/pay")
    assert f"Phí {request}" in an.button_titles, an.button_titles
    await an.press(f"Phí {request}")
    assert an.text.startswith("Thanh toán 350.000 đ:")
    assert f"({request}): 350.000 đ" in an.text


async def test_a_statement_with_a_bad_line_imports_the_good_ones_once(
    rig: LightRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    an = await logged_in(rig, AN, "import-an")
    ref, code = (await transfer_text(an)).split()
    (amount,) = await unpaid_totals(rig.runtime, code)
    # As a bank's export reads: Vietnamese headers, grouped amounts, the text reshaped.
    grouped = f"{amount:,}".replace(",", ".")
    file = tmp_path / "sao-ke-07-12.csv"
    file.write_text(
        "Ngày giao dịch,Số tiền,Nội dung,Mã giao dịch\n"
        f'07/12/2026,"{grouped}",IBFT {ref}{code} thanh toan tien dien,FT26341001\n'
        '07/12/2026,"50.000",chuyen tien an trua,FT26341002\n'
        "07/12/2026,12a,hong,FT26341003\n",
        encoding="utf-8",
    )
    assert await cskh(rig, "payments", "import", str(file)) == 1  # a line needs fixing
    out = capsys.readouterr().out
    assert out.startswith("3 lines: 1 paid, 0 held for staff, 1 not ours, 0 imported before")
    assert "  line 4: " in out  # as a spreadsheet numbers it, the header being line 1
    assert await unpaid_totals(rig.runtime, code) == []

    assert await cskh(rig, "payments", "import", str(file)) == 1
    again = capsys.readouterr().out
    assert again.startswith("3 lines: 0 paid, 0 held for staff, 0 not ours, 2 imported before")
    assert [o.status for o in await orders(rig.runtime)] == ["paid"]


async def two_held(rig: LightRig, tmp_path: Path) -> tuple[tuple[str, str, int], ...]:
    """An sends 1.000 đ short of her bill, Bình 20.000 đ more than her debt: both are
    held for staff (#1 and #2); (order, code, amount sent) of each."""
    an = await logged_in(rig, AN, "held-an")
    an_ref, an_code = (await transfer_text(an)).split()
    binh = await logged_in(rig, BINH, "held-binh")
    binh_ref, binh_code = (await transfer_text(binh)).split()
    (an_owed,) = await unpaid_totals(rig.runtime, an_code)
    binh_owed = sum(await unpaid_totals(rig.runtime, binh_code))
    sent = ((an_ref, an_code, an_owed - 1000), (binh_ref, binh_code, binh_owed + 20000))
    file = tmp_path / "sao-ke.csv"
    file.write_text(
        "date,amount,description,reference\n"
        + "".join(f"07/12/2026,{amount},{ref} {code},FT{ref}\n" for ref, code, amount in sent),
        encoding="utf-8",
    )
    assert await cskh(rig, "payments", "import", str(file)) == 0
    return sent


async def test_held_lists_the_money_held_for_staff(
    rig: LightRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (an_ref, an_code, _), (_, _, binh_sent) = await two_held(rig, tmp_path)
    assert "held: #1, #2 (cskh payments held)" in capsys.readouterr().out
    assert await cskh(rig, "payments", "held") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert listed[0].startswith("#1  ") and "amount_mismatch" in listed[0]
    assert f"order {an_ref} ({an_code}," in listed[0] and "  held  — " in listed[0]
    assert f"{binh_sent:,} đ" in listed[1]


async def test_held_money_is_refunded_or_applied(
    rig: LightRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (_, an_code, _), (_, binh_code, _) = await two_held(rig, tmp_path)
    capsys.readouterr()
    # Bình's money goes back; staff say how.
    assert await cskh(rig, "payments", "resolve", "2", "--refund-note", "Hoàn lại qua FT99") == 0
    assert capsys.readouterr().out.strip() == "held payment #2: refund_noted"
    assert len(await unpaid_totals(rig.runtime, binh_code)) == 2
    # A refund needs its note; a decision is made once.
    assert await cskh(rig, "payments", "resolve", "2", "--refund-note", " ") == 2
    assert "refund_noted already" in capsys.readouterr().err
    # An's shortfall is accepted: her bill is paid.
    assert await cskh(rig, "payments", "resolve", "1", "--apply") == 0
    assert capsys.readouterr().out.strip() == "held payment #1: applied"
    assert await unpaid_totals(rig.runtime, an_code) == []
    assert await cskh(rig, "payments", "held") == 0
    assert capsys.readouterr().out.strip() == "no held payments"
    kept = await held(rig.runtime)
    assert [(h.status, h.note) for h in kept] == [
        ("applied", None),
        ("refund_noted", "Hoàn lại qua FT99"),
    ]
    assert await cskh(rig, "payments", "resolve", "1", "--apply") == 2
    assert "applied already" in capsys.readouterr().err
    assert await cskh(rig, "payments", "held", "--all") == 0
    everything = capsys.readouterr().out
    assert "applied" in everything and "[Hoàn lại qua FT99]" in everything


def rig_url(rig: LightRig) -> str:
    return str(rig.runtime.settings.effective_public_url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable_rig(
    tmp_path: Path, seeded_sqlite_template: Path
) -> AsyncIterator[tuple[LightRig, VnpaySandbox]]:
    """A bot whose VNPay is a sandbox on a server of its own whose IPN cannot reach the
    bot (a port nobody listens on): only querydr can tell the bot of a payment."""
    clock: list[Any] = []
    dead = f"http://127.0.0.1:{_free_port()}/payments/vnpay/ipn"
    sandbox = VnpaySandbox(MERCHANT, ipn_url=dead, clock=lambda: clock[0].now())
    app = web.Application()
    sandbox.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    gateway = f"http://{host}:{port}"
    try:
        async for rig in make_light_rig(
            tmp_path,
            seeded_sqlite_template,
            vnpay_url=gateway + PAY_PATH,
            vnpay_api_url=gateway + API_PATH,
            vnpay_tmn_code=MERCHANT.tmn_code,
            vnpay_hash_secret=MERCHANT.hash_secret,
        ):
            clock.append(rig.clock)
            yield rig, sandbox
    finally:
        await runner.cleanup()


async def test_query_settles_a_payment_whose_ipn_never_came(
    unreachable_rig: tuple[LightRig, VnpaySandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    rig, sandbox = unreachable_rig
    an = await logged_in(rig, AN, "query-an")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    url = link_of(an)
    sandbox_url = url.split("?")[0]
    assert sandbox_url.endswith(PAY_PATH) and not sandbox_url.startswith(rig_url(rig))
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200, await page.text()
            token = TOKEN.search(await page.text())
        assert token
        async with http.post(
            sandbox_url, data={"token": token[1], "outcome": "pay"}, allow_redirects=False
        ) as back:
            assert back.status == 303  # back to the bot's return page
    (order,) = await orders(rig.runtime)
    assert sandbox.transactions[order.ref].ipn_answer is None  # the IPN did not arrive
    assert len(await unpaid_totals(rig.runtime, "PC05CC0123456")) == 1

    assert await cskh(rig, "payments", "query", order.ref) == 0
    assert capsys.readouterr().out.strip() == (
        f"{order.ref}: VNPay says response 00, transaction status 00; paid"
    )
    assert await unpaid_totals(rig.runtime, "PC05CC0123456") == []
    assert [o.status for o in await orders(rig.runtime)] == ["paid"]
    # Asked again, nothing is paid twice.
    assert await cskh(rig, "payments", "query", order.ref) == 0
    assert capsys.readouterr().out.strip().endswith("; duplicate")
    assert await cskh(rig, "payments", "query", "TTNOSUCHORDER") == 2
    assert "no VNPay order TTNOSUCHORDER" in capsys.readouterr().err


async def test_the_server_asks_vnpay_about_links_that_expired_without_an_ipn(
    unreachable_rig: tuple[LightRig, VnpaySandbox],
) -> None:
    """What `cskh payments query` does, the server does by itself for every VNPay link
    that expired five minutes ago with no IPN: paid ones are settled, the others
    expire and are not asked about again."""
    rig, _ = unreachable_rig
    service = rig.runtime.engine.services.payments
    an = await logged_in(rig, AN, "stale-an")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    paid_url = link_of(an)
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")  # a second link, opened and left
    async with aiohttp.ClientSession() as http:
        async with http.get(paid_url) as page:
            token = TOKEN.search(await page.text())
        assert token
        form = {"token": token[1], "outcome": "pay"}
        async with http.post(paid_url.split("?")[0], data=form, allow_redirects=False):
            pass
    assert await service.check_stale() == {}  # the links are still valid
    rig.clock.advance(minutes=21)
    assert await service.check_stale() == {"paid": 1, "expired": 1}
    assert await unpaid_totals(rig.runtime, "PC05CC0123456") == []
    assert sorted(o.status for o in await orders(rig.runtime)) == ["expired", "paid"]
    assert await service.check_stale() == {}  # nothing asked twice
