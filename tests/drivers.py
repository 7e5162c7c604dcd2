"""One customer talking to the bot through a real channel: REST, web chat or Telegram.

The same scenario runs on every channel: `say` types, `press` taps a button by its
title, `text` is what the bot answered last, `buttons` the titles it offered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import BotServer, RestChat

TELEGRAM_SECRET = "driver_secret"


@dataclass(frozen=True)
class File:
    """A photo or document the bot sent, as the customer's device receives it."""

    kind: str  # image | document
    data: bytes
    filename: str | None = None


class Driver(ABC):
    channel: str
    platform_user_id: str
    text: str = ""
    buttons: list[dict[str, Any]]
    files: list[File]

    @abstractmethod
    async def say(self, text: str) -> None:
        """Type `text` and wait for the bot's answer."""

    @abstractmethod
    async def press(self, title: str) -> None:
        """Tap the button titled `title` in the last answer."""

    async def send_photo(self, data: bytes) -> None:
        """Send a photo, as the channel's customers do."""
        raise AssertionError(f"{self.channel} cannot send photos in tests")

    async def send_location(self, lat: float, lon: float) -> None:
        raise AssertionError(f"{self.channel} cannot send locations in tests")

    async def close(self) -> None:
        return None

    @property
    def button_titles(self) -> list[str]:
        return [b["title"] for b in self.buttons]

    def _button(self, title: str) -> dict[str, Any]:
        for button in self.buttons:
            if button["title"] == title:
                return button
        raise AssertionError(f"no button {title!r} in {self.button_titles}; text: {self.text}")


class RestDriver(Driver):
    channel = "rest"

    def __init__(self, server: BotServer, user: str) -> None:
        self.server = server
        self.chat = RestChat(server, user)
        self.platform_user_id = user
        self.buttons = []
        self.files = []
        self._cursor = "0"

    async def receive_pushes(self) -> None:
        """Read the messages pushed since the last call, as an integration polls them."""
        status, body = await self.server.get(
            "/api/messages", params={"user": self.platform_user_id, "after": self._cursor}
        )
        assert status == 200, body
        self._cursor = body["cursor"]
        self.chat.messages = body["messages"]
        await self._update()

    async def _update(self) -> None:
        self.text = self.chat.text
        self.buttons = [b for row in self.chat.buttons_rows for b in row]
        self.files = await fetch_files(self.server, self.chat.messages)

    async def say(self, text: str) -> None:
        await self.chat.say(text)
        await self._update()

    async def press(self, title: str) -> None:
        await self.chat.send(button=self._button(title)["payload"])
        await self._update()

    async def send_photo(self, data: bytes) -> None:
        await self.chat.send(photo=base64.b64encode(data).decode())
        await self._update()

    async def send_location(self, lat: float, lon: float) -> None:
        await self.chat.send(location={"lat": lat, "lon": lon})
        await self._update()


class WebDriver(Driver):
    channel = "web"

    def __init__(self, server: BotServer) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.buttons = []
        self.files = []
        self.platform_user_id = ""

    async def open(self) -> WebDriver:
        async with self.http.get(self.server.base_url + "/") as response:
            assert response.status == 200
        cookie = self.http.cookie_jar.filter_cookies(URL(self.server.base_url))["cskh_visitor"]
        self.platform_user_id = cookie.value.split(".")[0]
        self.socket = await self.http.ws_connect(
            self.server.base_url + "/webchat/ws", headers={"Origin": self.server.base_url}
        )
        first = await self.socket.receive_json()
        assert first["type"] == "history"
        return self

    async def _exchange(self, frame: dict[str, Any]) -> None:
        assert self.socket is not None
        await self.socket.send_json(frame)
        await self._collect()

    async def _collect(self) -> None:
        assert self.socket is not None
        messages = []
        timeout = 5.0
        while True:
            try:
                received = await asyncio.wait_for(self.socket.receive_json(), timeout)
            except TimeoutError:
                break
            if received["type"] in ("message", "notice"):
                messages.append(received.get("message") or {"text": received["text"]})
                timeout = 0.15  # the rest of this answer follows at once
        assert messages, "the web chat did not answer"
        await self.server.settle()
        self.text = "\n".join(m["text"] for m in messages)
        self.buttons = [b for m in messages for row in m.get("buttons", []) for b in row]
        self.files = await fetch_files(self.server, messages)

    async def say(self, text: str) -> None:
        await self._exchange({"type": "text", "text": text})

    async def press(self, title: str) -> None:
        await self._exchange({"type": "button", "payload": self._button(title)["payload"]})

    async def send_location(self, lat: float, lon: float) -> None:
        await self._exchange({"type": "location", "lat": lat, "lon": lon})

    async def send_photo(self, data: bytes) -> None:
        form = aiohttp.FormData()
        form.add_field("photo", data, filename="anh.png", content_type="image/png")
        async with self.http.post(
            self.server.base_url + "/webchat/upload",
            data=form,
            headers={"Origin": self.server.base_url},
        ) as response:
            assert response.status == 200, await response.text()
        await self._collect()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.http.close()


class TelegramDriver(Driver):
    channel = "telegram"
    _ids = itertools.count(100_000)

    def __init__(self, server: BotServer, fake: FakeTelegram, chat_id: int) -> None:
        self.server = server
        self.fake = fake
        self.chat_id = chat_id
        self.platform_user_id = str(chat_id)
        self.buttons = []
        self.files = []
        self.last_message_id: int | None = None

    async def _post(self, update: dict[str, Any]) -> None:
        seen = len(self.fake.sent(chat_id=self.chat_id))
        async with self.server.session.post(
            self.server.base_url + "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        ) as response:
            assert response.status == 200
        await self.server.settle()
        calls = [
            c
            for c in self.fake.sent(chat_id=self.chat_id)[seen:]
            if c.method in ("sendMessage", "sendPhoto", "sendDocument")
        ]
        assert calls, "Telegram got no answer"
        self.text = "\n".join(c.fields.get("text") or c.fields.get("caption") or "" for c in calls)
        self.files = [
            File(
                "image" if c.method == "sendPhoto" else "document",
                c.files.get("photo") or c.files.get("document") or b"",
            )
            for c in calls
            if c.method in ("sendPhoto", "sendDocument")
        ]
        self.buttons = []
        for call in calls:
            markup = call.fields.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                self.buttons += [
                    {"title": b["text"], "payload": b.get("callback_data"), "url": b.get("url")}
                    for b in row
                ]
            for row in markup.get("keyboard", []):
                self.buttons += [
                    {"title": b["text"], "typed": True, "request_contact": b.get("request_contact")}
                    for b in row
                ]

    async def say(self, text: str) -> None:
        update = tu.text(next(self._ids), self.chat_id, text)
        self.last_message_id = update["message"]["message_id"]
        await self._post(update)

    async def press(self, title: str) -> None:
        button = self._button(title)
        if button.get("typed"):
            await self.say(title)  # a reply-keyboard button sends its title
        else:
            await self._post(tu.callback(next(self._ids), self.chat_id, button["payload"]))

    async def send_photo(self, data: bytes) -> None:
        file_id = f"photo{next(self._ids)}"
        self.fake.add_file(file_id, data)
        await self._post(tu.photo(next(self._ids), self.chat_id, file_id))

    async def send_location(self, lat: float, lon: float) -> None:
        await self._post(tu.location(next(self._ids), self.chat_id, lat, lon))

    async def share_contact(self, phone: str, *, own: bool = True) -> None:
        await self._post(
            tu.contact(
                next(self._ids), self.chat_id, phone, contact_user_id=self.chat_id if own else 7
            )
        )


async def fetch_files(server: BotServer, messages: list[dict[str, Any]]) -> list[File]:
    """Download the images and documents of web/REST answers through their signed links."""
    files = []
    for message in messages:
        links = []
        if message.get("image"):
            links.append(("image", message["image"], None))
        if message.get("document"):
            links.append(("document", message["document"]["url"], message["document"]["filename"]))
        for kind, url, filename in links:
            async with server.session.get(url) as response:
                assert response.status == 200, url
                files.append(File(kind, await response.read(), filename))
    return files


async def open_driver(kind: str, server: BotServer, fake: FakeTelegram | None, name: str) -> Driver:
    if kind == "rest":
        return RestDriver(server, name)
    if kind == "web":
        return await WebDriver(server).open()
    assert fake is not None
    return TelegramDriver(server, fake, 7_000_000 + abs(hash(name)) % 1_000_000)


@contextlib.asynccontextmanager
async def closing(driver: Driver) -> Any:
    try:
        yield driver
    finally:
        await driver.close()
