"""Test helpers: a real bot server on loopback and a REST conversation driver.

Tests read like the conversation they check:

    chat = bot.chat("u1")
    await chat.say("/start")
    await chat.press("⚙️ Cài đặt")
    assert "Ngôn ngữ hiện tại" in chat.text
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import Runtime, build_runtime, create_app
from bot.core.clock import Clock
from bot.settings import Settings

TOKEN = "test-rest-token"
# One trained language model for every test run (keyed by the training data's hash).
# The directory holds one model: a branch whose training data differs (the FAQ's class,
# issue 19) keeps its own, so parallel checkouts do not retrain each other's.
NLU_CACHE = Path(tempfile.gettempdir()) / "cskh-test-nlu-cache"
PG_URL = os.environ.get("CSKH_TEST_DATABASE_URL")


def make_settings(var_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: nothing from the environment or a .env file leaks in."""
    values: dict[str, Any] = {
        "var_dir": var_dir,
        "database_url": database_url,
        "rest_token": TOKEN,
        "secret_key": "test-secret-key",
        "demo_seed": False,
        "public_url": "http://127.0.0.1:0",
        "nlu_cache_dir": NLU_CACHE,
        # The notice jobs run on the wall clock; tests call them with their own time.
        "notify_scheduler": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _pg_admin_dsn() -> str:
    from sqlalchemy.engine import make_url

    assert PG_URL, "CSKH_TEST_DATABASE_URL is not set"
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database(template: str | None = None) -> str:
    """A new PostgreSQL database on the CSKH_TEST_DATABASE_URL server: empty, or a copy
    of the database at `template` (which nobody may be connected to)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"cskh_t_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    admin = await asyncpg.connect(_pg_admin_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()
    return make_url(PG_URL or "").set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = await asyncpg.connect(_pg_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new PostgreSQL database for the duration of the block."""
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


def copy_sqlite(template: Path, target_dir: Path) -> str:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "cskh.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


@dataclass
class BotServer:
    """`cskh serve`'s web app on a free loopback port, with its runtime at hand."""

    runtime: Runtime
    runner: web.AppRunner
    base_url: str
    session: aiohttp.ClientSession

    def chat(self, user: str = "u1") -> RestChat:
        return RestChat(self, user)

    async def settle(self) -> None:
        """Wait for what the bot does after an answer (one-time codes leave then), so a
        test reads the fake gateway only once the code is there."""
        await self.runtime.engine.services.otp.drain()

    async def post(
        self, path: str, body: Any = None, *, token: str | None = TOKEN, data: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
            response = await self.session.post(self.base_url + path, data=data, headers=headers)
        else:
            response = await self.session.post(self.base_url + path, json=body, headers=headers)
        async with response:
            return response.status, await _body(response)

    async def get(
        self, path: str, *, token: str | None = TOKEN, params: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.session.get(self.base_url + path, headers=headers, params=params) as r:
            return r.status, await _body(r)

    async def close(self) -> None:
        await self.session.close()
        await self.runner.cleanup()


async def _body(response: aiohttp.ClientResponse) -> Any:
    if response.content_type == "application/json":
        return await response.json()
    return await response.read()


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, *, clock: Clock | None = None
) -> AsyncIterator[BotServer]:
    runtime = await build_runtime(settings, clock=clock)
    app = create_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    await runtime.understanding.ready()  # tests do not race the model's loading
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    # Links the bot makes must point at this server, and it is the origin pages come from.
    runtime.links._public_url = f"http://{host}:{port}"
    runtime.settings.public_url = f"http://{host}:{port}"
    server = BotServer(runtime, runner, f"http://{host}:{port}", aiohttp.ClientSession())
    try:
        yield server
    finally:
        await server.close()


class RestChat:
    """One customer talking to the bot over the REST channel."""

    def __init__(self, server: BotServer, user: str) -> None:
        self.server = server
        self.user = user
        self.messages: list[dict[str, Any]] = []

    async def send(self, **content: Any) -> list[dict[str, Any]]:
        status, body = await self.server.post("/api/chat", {"user": self.user, **content})
        await self.server.settle()
        assert status == 200, (status, body)
        self.messages = body["messages"]
        return self.messages

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.send(text=text)

    async def press(self, title: str) -> list[dict[str, Any]]:
        """Tap the button titled `title` in the bot's last answer."""
        for row in self.buttons_rows:
            for button in row:
                if button["title"] == title and "payload" in button:
                    return await self.send(button=button["payload"])
        raise AssertionError(f"no button {title!r} in {self.button_titles}")

    @property
    def text(self) -> str:
        return "\n".join(message["text"] for message in self.messages)

    @property
    def buttons_rows(self) -> list[list[dict[str, str]]]:
        return [row for message in self.messages for row in message["buttons"]]

    @property
    def button_titles(self) -> list[str]:
        return [button["title"] for row in self.buttons_rows for button in row]


async def gather_all(*coroutines: Any) -> list[Any]:
    return list(await asyncio.gather(*coroutines))


async def eventually(
    condition: Callable[[], Any | Awaitable[Any]],
    *,
    within: float = 5.0,
    interval: float = 0.01,
    message: str | Callable[[], Any] = "",
) -> Any:
    """Wait until `condition()` (a function or a coroutine function) returns something
    true, and return it; AssertionError with `message` (or what it returns) after
    `within` seconds. For what happens in the background: no test waits a fixed time."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            if inspect.isawaitable(said):
                said = await said
            raise AssertionError(f"not so after {within} s: {said}")
        await asyncio.sleep(interval)
