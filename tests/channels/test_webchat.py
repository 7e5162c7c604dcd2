"""The web chat over HTTP and websocket: identity, origin, history, pushes, uploads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from yarl import URL

from bot.core.messages import Button, Reply
from bot.store.models import ChatUser, TranscriptMessage
from tests.handlers.rig import LIFTED_LIMITS
from tests.helpers import BotServer, copy_sqlite, make_settings, running_bot

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\xdac\xfc\xcf\xc0P\x0f\x00\x04\x85\x01\x80"
    b"\x84\xa9\x8c!\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Visitor:
    """A browser: a cookie jar, the page, and websockets."""

    def __init__(self, server: BotServer) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def open_page(self) -> str:
        async with self.http.get(self.server.base_url + "/") as response:
            assert response.status == 200
            return await response.text()

    async def connect(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        headers = {"Origin": origin or self.server.base_url}
        return await self.http.ws_connect(self.server.base_url + "/webchat/ws", headers=headers)

    @property
    def visitor_id(self) -> str:
        cookie = self.http.cookie_jar.filter_cookies(URL(self.server.base_url))["cskh_visitor"]
        return cookie.value.split(".")[0]

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def visitor(bot: BotServer) -> AsyncIterator[Visitor]:
    browser = Visitor(bot)
    await browser.open_page()
    yield browser
    await browser.close()


async def receive(socket: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(socket.receive_json(), 5)
        if frame["type"] == kind:
            return frame


async def answer(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The message frames of one answer (they follow each other at once)."""
    frames = [await receive(socket, "message")]
    while True:
        try:
            frame = await asyncio.wait_for(socket.receive_json(), 0.3)
        except TimeoutError:
            return frames
        if frame["type"] == "message":
            frames.append(frame)


def titled(frames: list[dict[str, Any]], title: str) -> str:
    """The payload of the button titled `title` in an answer."""
    return next(
        b["payload"]
        for frame in frames
        for row in frame["message"].get("buttons", [])
        for b in row
        if b["title"] == title
    )


async def test_the_page_gives_a_signed_httponly_visitor_cookie(bot: BotServer) -> None:
    browser = Visitor(bot)
    try:
        async with browser.http.get(bot.base_url + "/") as response:
            assert response.status == 200
            page = await response.text()
            cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert '<html lang="vi">' in page and "CSKH Điện lực miền Trung" in page
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        first = browser.visitor_id
        async with browser.http.get(bot.base_url + "/") as response:
            assert "Set-Cookie" not in response.headers  # the same visitor keeps the id
        assert browser.visitor_id == first
    finally:
        await browser.close()


async def test_the_websocket_needs_our_cookie_and_our_origin(
    bot: BotServer, visitor: Visitor
) -> None:
    async with aiohttp.ClientSession() as stranger:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stranger.ws_connect(bot.base_url + "/webchat/ws")
        assert refused.value.status == 401
        forged = {"cskh_visitor": "someone-else.0000"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stranger.ws_connect(
                bot.base_url + "/webchat/ws",
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in forged.items())},
            )
        assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await visitor.connect(origin="https://evil.example")
    assert refused.value.status == 403


async def test_a_conversation_over_the_websocket(visitor: Visitor) -> None:
    socket = await visitor.connect()
    assert (await receive(socket, "history"))["messages"] == []
    await socket.send_json({"type": "text", "text": "/start"})
    message = (await receive(socket, "message"))["message"]
    assert message["text"].startswith("Xin chào!")
    assert message["buttons"][0] == [{"title": "🔑 Đăng nhập", "payload": "login"}]
    await socket.send_json({"type": "button", "payload": "settings"})
    assert (await receive(socket, "message"))["message"]["text"].startswith("⚙️ Cài đặt.")
    await socket.send_json({"type": "location", "lat": 16.06, "lon": 108.22})
    located = (await receive(socket, "message"))["message"]["text"]
    assert located.startswith("Chưa có điểm thu nào gần vị trí này")  # an empty database
    await socket.close()


async def test_reconnecting_shows_the_recent_history(visitor: Visitor) -> None:
    socket = await visitor.connect()
    await receive(socket, "history")
    await socket.send_json({"type": "text", "text": "/start"})
    await receive(socket, "message")
    await socket.send_json({"type": "button", "payload": "settings"})
    await receive(socket, "message")
    await socket.close()
    again = await visitor.connect()
    history = (await receive(again, "history"))["messages"]
    assert [(m["direction"], m["text"][:12]) for m in history] == [
        ("in", "/start"),
        ("out", "Xin chào! Tô"),
        ("in", "⚙️ Cài đặt"),
        ("out", "⚙️ Cài đặt. "),
    ]
    assert history[1]["buttons"][0] == [{"title": "🔑 Đăng nhập", "payload": "login"}]
    await again.close()


async def test_the_pages_own_start_is_no_message_of_the_customer_regression(
    visitor: Visitor,
) -> None:
    """Issue 15, point 9: a first visit's page asks for the greeting as a button would;
    a reload shows the greeting, and no "/start" (nor an empty bubble) as typed."""
    socket = await visitor.connect()
    assert (await receive(socket, "history"))["messages"] == []
    await socket.send_json({"type": "button", "payload": "start"})  # what webchat.js sends
    assert (await receive(socket, "message"))["message"]["text"].startswith("Xin chào!")
    await socket.close()
    again = await visitor.connect()
    history = (await receive(again, "history"))["messages"]
    assert [m["direction"] for m in history] == ["out"]
    assert history[0]["text"].startswith("Xin chào!")
    await again.close()


async def test_every_tab_sees_the_conversation_and_pushes_arrive_live(
    bot: BotServer, visitor: Visitor
) -> None:
    first, second = await visitor.connect(), await visitor.connect()
    await receive(first, "history")
    await receive(second, "history")
    await first.send_json({"type": "text", "text": "menu"})
    assert (await receive(second, "echo"))["text"] == "menu"
    assert (await receive(second, "message"))["message"]["text"] == "Quý khách chọn mục cần hỗ trợ:"
    await receive(first, "message")
    async with bot.runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == visitor.visitor_id)
        )
    assert user_id is not None
    home = Button("🏠 Menu", payload="menu")
    pushed = Reply(text="⚡ Lịch tạm ngừng cung cấp điện", buttons=((home,),))
    assert await bot.runtime.pusher.push(user_id, [pushed])
    for socket in (first, second):
        frame = await receive(socket, "message")
        assert frame["message"]["text"] == "⚡ Lịch tạm ngừng cung cấp điện"
    await first.close()
    await second.close()


async def test_a_flood_is_slowed_down_politely(visitor: Visitor) -> None:
    socket = await visitor.connect()
    await receive(socket, "history")
    for _ in range(12):
        await socket.send_json({"type": "text", "text": "menu"})
    notice = await receive(socket, "notice")
    assert notice["text"].startswith("Quý khách gửi hơi nhanh")
    await socket.close()


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "text", "text": ""}',
        "not json",
        '{"type": "x"}',
        '{"type": "button", "payload": "' + "x" * 65 + '"}',
        '{"type": "text", "text": "' + "a" * 4001 + '"}',
    ],
)
async def test_malformed_frames_get_a_notice(visitor: Visitor, frame: str) -> None:
    socket = await visitor.connect()
    await receive(socket, "history")
    await socket.send_str(frame)
    assert (await receive(socket, "notice"))["text"].startswith("Tin nhắn này không gửi được")
    await socket.close()


async def test_photo_upload_is_checked_and_answered(bot: BotServer, visitor: Visitor) -> None:
    socket = await visitor.connect()
    await receive(socket, "history")

    async def upload(data: bytes, name: str) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field("photo", data, filename=name, content_type="image/png")
        async with visitor.http.post(
            bot.base_url + "/webchat/upload", data=form, headers={"Origin": bot.base_url}
        ) as response:
            return response.status, await response.json()

    status, body = await upload(b"MZ\x90\x00 not a picture", "virus.png")
    assert status == 400 and body["error"].startswith("Tệp này không phải ảnh")
    status, body = await upload(b"\x89PNG\r\n\x1a\n" + b"0" * (10 * 1024 * 1024), "big.png")
    assert status == 413 and body["error"].startswith("Ảnh lớn quá (tối đa 10 MB)")
    status, body = await upload(PNG, "cong-to.png")
    assert status == 200 and body == {"ok": True}
    assert (await receive(socket, "message"))["message"]["text"].startswith("Tôi đã nhận ảnh")
    history_socket = await visitor.connect()
    history = (await receive(history_socket, "history"))["messages"]
    photo_url = history[0]["images"][0]
    async with visitor.http.get(photo_url) as response:
        assert response.status == 200 and await response.read() == PNG
    async with aiohttp.ClientSession() as stranger:
        form = aiohttp.FormData()
        form.add_field("photo", PNG, filename="x.png")
        async with stranger.post(bot.base_url + "/webchat/upload", data=form) as response:
            assert response.status == 401
    await socket.close()
    await history_socket.close()


@pytest.fixture
async def demo_bot(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[BotServer]:
    """A server on a copy of the demo data (the personas can log in)."""
    url = copy_sqlite(seeded_sqlite_template, tmp_path / "db")
    async with running_bot(make_settings(tmp_path / "var", url, **LIFTED_LIMITS)) as server:
        yield server


async def test_a_typed_password_and_pin_never_show_again_regression(
    demo_bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15, point 4: while the bot asks for a secret the page is told so (its input
    becomes a password field); the secret is never echoed to another tab, never comes
    back in the history of a reload, and is kept nowhere, logs included."""
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    password, pin = "An@2026cskh", "258046"
    browser = Visitor(demo_bot)
    await browser.open_page()
    tab, other_tab = await browser.connect(), await browser.connect()
    try:
        await _log_in_and_set_a_pin(demo_bot, browser, tab, other_tab, password, pin)
        assert password not in caplog.text and pin not in caplog.text
    finally:
        await tab.close()
        await other_tab.close()
        await browser.close()


async def _log_in_and_set_a_pin(
    demo_bot: BotServer,
    browser: Visitor,
    tab: aiohttp.ClientWebSocketResponse,
    other_tab: aiohttp.ClientWebSocketResponse,
    password: str,
    pin: str,
) -> None:
    for socket in (tab, other_tab):
        await receive(socket, "history")

    async def tap(payload: str) -> list[dict[str, Any]]:
        await tab.send_json({"type": "button", "payload": payload})
        await answer(other_tab)
        return await answer(tab)

    async def say(text: str) -> list[dict[str, Any]]:
        await tab.send_json({"type": "text", "text": text})
        echoed = (await receive(other_tab, "echo"))["text"]
        await answer(other_tab)
        frames = await answer(tab)
        frames[0]["echoed"] = echoed
        return frames

    await tap("login")
    await tap("consent:yes")
    asked = await tap("login_portal")
    assert asked[-1]["message"]["text"].startswith("Vui lòng nhập tên đăng nhập")
    assert asked[-1]["input"] == "text"  # a username is no secret
    asked = await say("AnNguyen")
    assert asked[-1]["input"] == "secret"  # the password is
    reloaded = await browser.connect()  # a reload now still gets a password field
    assert (await receive(reloaded, "history"))["input"] == "secret"
    await reloaded.close()
    activated = await say(password)
    assert activated[0]["echoed"] == "••••••"  # the other tab shows dots, not the password
    assert activated[0]["message"]["text"].startswith("✅ Kích hoạt thành công.")
    assert activated[-1]["input"] == "text"

    settings = await tap("settings")
    pin_screen = await tap(titled(settings, "🔒 Cài đặt mật khẩu"))
    asked = await tap(titled(pin_screen, "🔒 Đặt mật khẩu"))
    assert asked[-1]["message"]["text"] == "Vui lòng nhập mật khẩu mới gồm 4–6 chữ số."
    assert asked[-1]["input"] == "secret"
    assert (await say(pin))[-1]["input"] == "secret"  # asked again to confirm
    done = await say(pin)
    assert done[0]["echoed"] == "••••••"
    assert done[0]["message"]["text"] == "✅ Đã đặt mật khẩu ứng dụng."
    assert done[-1]["input"] == "text"

    again = await browser.connect()
    history = await receive(again, "history")
    assert history["input"] == "text"
    typed = [m["text"] for m in history["messages"] if m["direction"] == "in"]
    assert typed.count("••••••") == 3 and "AnNguyen" in typed
    shown = str(history)
    assert password not in shown and pin not in shown
    async with demo_bot.runtime.db.reading() as session:
        kept = [t or "" for t in await session.scalars(select(TranscriptMessage.text))]
    assert not [t for t in kept if password in t or pin in t]
    await again.close()
