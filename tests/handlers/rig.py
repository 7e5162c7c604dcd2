"""A running bot with fake SMS gateway, SMTP server and Telegram, on a seeded database
copy, with a clock the tests move; plus the steps every login test takes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.store.models import SecurityEvent, TranscriptMessage
from tests.drivers import TELEGRAM_SECRET, Driver, open_driver
from tests.fakes.sms_gateway import FakeSmsGateway
from tests.fakes.smtp_server import LocalSmtp
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import BotServer, copy_sqlite, make_settings, running_bot

AN_PHONE = "+84905123456"
AN_CODES = ["PC05CC0123456", "PC05CC0123457"]
CHANNELS = ["rest", "web", "telegram"]


@dataclass
class Rig:
    server: BotServer
    sms: FakeSmsGateway
    smtp: LocalSmtp
    telegram: FakeTelegram
    clock: FakeClock

    async def driver(self, kind: str, name: str = "an") -> Driver:
        return await open_driver(kind, self.server, self.telegram, name)

    async def transcript_texts(self) -> list[str]:
        async with self.server.runtime.db.reading() as session:
            return [t or "" for t in await session.scalars(select(TranscriptMessage.text))]

    async def events(self) -> list[str]:
        async with self.server.runtime.db.reading() as session:
            return list(await session.scalars(select(SecurityEvent.event)))


async def make_rig(tmp_path: Path, seeded: Path | str, **overrides: Any) -> AsyncIterator[Rig]:
    """A rig on a copy of the seeded SQLite template, or on `seeded` when it is a URL of
    a seeded database of the test's own; `overrides` are settings."""
    sms = await FakeSmsGateway().start()
    smtp = LocalSmtp().start()
    telegram = await FakeTelegram().start()
    clock = FakeClock()
    url = seeded if isinstance(seeded, str) else copy_sqlite(seeded, tmp_path / "db")
    values: dict[str, Any] = {
        "sms_provider": "http",
        "sms_http_url": sms.url,
        "sms_http_token": sms.token,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "telegram_token": "1:T",
        "telegram_api_url": telegram.url,
        "telegram_mode": "webhook",
        "telegram_webhook_secret": TELEGRAM_SECRET,
        "webchat_burst": 1000,  # scripted conversations type faster than people
        "webchat_address_per_minute": 100_000,
        # Every scripted customer comes from 127.0.0.1: the per-address limits are
        # tested on their own (tests/handlers/test_abuse.py).
        "otp_per_address_hour": 1000,
        "otp_per_network_hour": 1000,
        "sms_per_minute": 1000,
        "uploads_per_hour": 1000,
        "uploads_per_address_hour": 1000,
    }
    values.update(overrides)
    settings = make_settings(tmp_path / "var", url, **values)
    try:
        async with running_bot(settings, clock=clock) as server:
            yield Rig(server, sms, smtp, telegram, clock)
    finally:
        smtp.stop()
        await sms.close()
        await telegram.close()


async def password_login(rig: Rig, channel: str, name: str, username: str, password: str) -> Driver:
    """A new chat on `channel` that logs in with a cskh.cpc.vn username and password."""
    driver = await rig.driver(channel, name)
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say(username)
    await driver.say(password)
    assert driver.text.startswith("✅ Kích hoạt thành công."), driver.text
    return driver


async def start_login(driver: Driver) -> None:
    await driver.say("/start")
    await driver.press("🔑 Đăng nhập")
    assert driver.text.startswith("Để kích hoạt, Quý khách đồng ý")
    await driver.press("✅ Đồng ý")
    assert driver.text == "Quý khách muốn đăng nhập bằng cách nào?"


def assert_activated_as_an(driver: Driver) -> None:
    assert driver.text.startswith("✅ Kích hoạt thành công.")
    for code in AN_CODES:
        assert code in driver.text
    assert "12 Trần Phú, Phường Hội An, Thành phố Đà Nẵng" in driver.text
