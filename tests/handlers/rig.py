"""The rigs of the conversation tests, on a seeded database copy with a clock the tests
move, and the steps every login test takes.

The light rig (`make_light_rig`) runs the engine with its handlers and the delivery
worker in this process: drivers hand updates to the engine (tests/light.py), codes go to
in-process SMS and e-mail providers. The full rig (`make_rig`) is `cskh serve`'s web app
on loopback with a fake SMS gateway, a real SMTP server and a fake Telegram Bot API,
for what a channel adds (tests/channels) and one conversation per channel. A handler
test gets the light rig from the `rig` fixture unless it is marked `full_rig`.
"""

from __future__ import annotations

import contextlib
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.core.clock import FakeClock
from bot.settings import Settings
from bot.store.models import SecurityEvent, TranscriptMessage
from tests.drivers import TELEGRAM_SECRET, Driver, open_driver
from tests.fakes.sms_gateway import FakeSms, FakeSmsGateway
from tests.fakes.smtp_server import FakeMail, LocalSmtp
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import BotServer, copy_sqlite, make_settings, running_bot
from tests.light import LOOPBACK, LightDriver, LightOutbound

AN_PHONE = "+84905123456"
AN_CODES = ["PC05CC0123456", "PC05CC0123457"]
CHANNELS = ["rest", "web", "telegram"]

# Settings of both rigs: every scripted customer comes from 127.0.0.1, so the
# per-address limits are lifted here and tested on their own (test_abuse.py).
LIFTED_LIMITS: dict[str, Any] = {
    "webchat_burst": 1000,  # scripted conversations type faster than people
    "webchat_address_per_minute": 100_000,
    "otp_per_address_hour": 1000,
    "otp_per_network_hour": 1000,
    "sms_per_minute": 1000,
    "uploads_per_hour": 1000,
    "uploads_per_address_hour": 1000,
}


class ChatRig(ABC):
    """What a conversation test uses of a rig, light or full."""

    runtime: Runtime
    sms: FakeSms | FakeSmsGateway
    smtp: FakeMail | LocalSmtp
    clock: FakeClock

    @abstractmethod
    async def driver(self, kind: str, name: str = "an") -> Driver:
        """A new customer on channel `kind`; `name` picks the REST user and Telegram chat."""

    async def transcript_texts(self) -> list[str]:
        async with self.runtime.db.reading() as session:
            return [t or "" for t in await session.scalars(select(TranscriptMessage.text))]

    async def events(self) -> list[str]:
        async with self.runtime.db.reading() as session:
            return list(await session.scalars(select(SecurityEvent.event)))


@dataclass
class Rig(ChatRig):
    """The full rig: a running server, its fake platforms and providers."""

    server: BotServer
    sms: FakeSmsGateway
    smtp: LocalSmtp
    telegram: FakeTelegram
    clock: FakeClock

    @property  # type: ignore[override]
    def runtime(self) -> Runtime:
        return self.server.runtime

    async def driver(self, kind: str, name: str = "an") -> Driver:
        return await open_driver(kind, self.server, self.telegram, name)


async def make_rig(tmp_path: Path, seeded: Path | str, **overrides: Any) -> AsyncIterator[Rig]:
    """A full rig on a copy of the seeded SQLite template, or on `seeded` when it is a URL
    of a seeded database of the test's own; `overrides` are settings."""
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
        **LIFTED_LIMITS,
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


@dataclass
class LightRig(ChatRig):
    """The light rig: the runtime `cskh serve` builds, without its web app; REST, web
    chat and Telegram customers are in-process drivers (tests/light.py)."""

    runtime: Runtime
    sms: FakeSms
    smtp: FakeMail
    clock: FakeClock
    outbound: dict[str, LightOutbound]

    async def driver(
        self, kind: str, name: str = "an", *, address: str | None = None
    ) -> LightDriver:
        """As the full rig's: a REST user is `name`, a web chat visitor is new each time,
        a Telegram chat has a number made from `name`. `address`: where the customer
        writes from (REST behind a trusted proxy); REST and web chat default to the
        loopback address the full rig's customers come from, Telegram has none."""
        user_id = {
            "rest": name,
            "web": secrets.token_urlsafe(12),
            "telegram": str(7_000_000 + abs(hash(name)) % 1_000_000),
        }[kind]
        if address is None and kind != "telegram":
            address = LOOPBACK
        return LightDriver(self.runtime, self.outbound[kind], user_id, address)

    async def answer(self, user: str, **content: Any) -> list[str]:
        """The texts the REST user `user` gets for one update of `content` (Incoming's
        fields), sent outside any driver (a forged payload, say)."""
        driver = await self.driver("rest", user)
        await driver.send(**content)
        return [reply.text for reply in driver.replies]


async def make_light_rig(
    tmp_path: Path, seeded: Path | str, **overrides: Any
) -> AsyncIterator[LightRig]:
    """A light rig on a copy of the seeded SQLite template, or on `seeded` when it is a
    URL of a seeded database of the test's own; `overrides` are settings."""
    url = seeded if isinstance(seeded, str) else copy_sqlite(seeded, tmp_path / "db")
    values: dict[str, Any] = {
        **LIFTED_LIMITS,
        # Telegram's one message a second to a chat is the platform's limit, kept by the
        # worker (tests/notify/test_worker.py); the light rig has no platform.
        "telegram_chat_interval": 0.0,
    }
    settings = make_settings(tmp_path / "var", url, **{**values, **overrides})
    async with light_rig(settings, FakeClock()) as rig:
        yield rig


@contextlib.asynccontextmanager
async def light_rig(settings: Settings, clock: FakeClock) -> AsyncIterator[LightRig]:
    """A light rig on `settings` (a second one on the same settings is a restart)."""
    runtime = await build_runtime(settings, prepare=False, clock=clock)
    sms, mail = FakeSms(), FakeMail(settings.smtp_from)
    runtime.senders.sms, runtime.senders.email = sms, mail
    outbound = {name: LightOutbound(name) for name in CHANNELS}
    for name, channel in outbound.items():
        runtime.pusher.register(name, channel)
    try:
        await runtime.understanding.ready()  # tests do not race the model's loading
        runtime.start_delivery()  # pushes queued in a transaction go out as in `serve`
        yield LightRig(runtime, sms, mail, clock, outbound)
    finally:
        await runtime.close()


async def password_login(
    rig: ChatRig, channel: str, name: str, username: str, password: str
) -> Driver:
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
