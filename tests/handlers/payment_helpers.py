"""What the payment tests share: paying in the sandbox gateway as a customer's browser
does, a bank statement line, and reading the money's state from the database."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.store.models import Bill, Customer
from bot.store.payment_models import HeldPayment, PaymentOrder
from tests.drivers import Driver
from tests.helpers import eventually

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def link_of(driver: Driver, title: str = "💳 Mở trang thanh toán") -> str:
    button = driver._button(title)
    assert button.get("url"), f"{title!r} is no link"
    return str(button["url"])


async def pay_in_sandbox(url: str, outcome: str = "pay") -> tuple[int, str]:
    """Open the gateway's page, press pay (or cancel, or decline), follow the redirect
    back to our return page: (its status, its text)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200, await page.text()
            html = await page.text()
        found = TOKEN.search(html)
        assert found, html
        async with http.post(
            url.split("?")[0], data={"token": found[1], "outcome": outcome}
        ) as back:
            return back.status, await back.text()


async def unpaid_totals(runtime: Any, code: str) -> list[int]:
    async with runtime.db.reading() as session:
        rows = await session.scalars(
            select(Bill.total)
            .join(Customer)
            .where(Customer.code == code, Bill.status == "unpaid")
            .order_by(Bill.period_end)
        )
        return list(rows)


async def all_paid(runtime: Any, code: str) -> None:
    """Wait until `code` owes nothing: the IPN confirms the money at once and the
    settlement worker pays the bills moments later."""
    await eventually(
        lambda: _owes_nothing(runtime, code),
        message=lambda: unpaid_totals(runtime, code),
    )


async def _owes_nothing(runtime: Any, code: str) -> bool:
    return await unpaid_totals(runtime, code) == []


async def orders(runtime: Any) -> list[PaymentOrder]:
    async with runtime.db.reading() as session:
        return list(await session.scalars(select(PaymentOrder).order_by(PaymentOrder.id)))


async def held(runtime: Any) -> list[HeldPayment]:
    async with runtime.db.reading() as session:
        return list(await session.scalars(select(HeldPayment).order_by(HeldPayment.id)))


async def pushed(driver: Any, containing: str = "") -> str:
    """The messages pushed to a REST customer until one holds `containing` (the worker
    sends within a second); the driver's text is then that message."""
    seen: list[str] = []

    async def arrived() -> str | None:
        await driver.receive_pushes()
        for message in driver.chat.messages:
            seen.append(message.get("text", ""))
            if containing in message.get("text", ""):
                driver.text = message["text"]
                return str(message["text"])
        return None

    return str(await eventually(arrived, message=lambda: seen))


def statement(*lines: tuple[str, int, str, str]) -> str:
    """A bank statement CSV: (date, amount, description, reference) per line."""
    out = ["date,amount,description,reference"]
    out += [f'{d},{a},"{desc}",{ref}' for d, a, desc, ref in lines]
    return "\n".join(out) + "\n"
