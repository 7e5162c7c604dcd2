"""A fake Zalo Bot API server on loopback: the real channel code talks to it over HTTP.

It answers `POST /bot{token}/{method}` as bot-api.zaloplatforms.com does (see
bot/channels/zalo_bot.py for the shapes relied on): getUpdates hands out the queued
updates one per call (long-polling while none is queued, then error_code 408),
sendMessage / sendPhoto / sendChatAction are recorded, setWebhook / deleteWebhook keep
the webhook, and `post_webhook` delivers an update to it with the secret header as
Zalo would. It also serves customers' photos (`add_photo`) as Zalo's CDN does, and can
be told to fail a method (`fail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "1234567890:zalo-test-token"


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    at: float  # time.monotonic() when it arrived


class FakeZaloBot:
    """Start with `await fake.start()`; point CSKH_ZALO_BOT_API_URL at `fake.url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.webhook: dict[str, str] | None = None
        self.polls = 0  # getUpdates calls (not kept in `calls`: they are many)
        self._updates: list[dict[str, Any]] = []
        self._new_updates = asyncio.Event()
        self._failures: dict[str, list[tuple[int, int]]] = {}  # method: [(code, times)]
        self._photos: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.url = ""

    async def start(self) -> FakeZaloBot:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/cdn/{name}", self._photo)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        self._new_updates.set()  # an open long poll would hold the shutdown
        if self._runner is not None:
            await self._runner.cleanup()

    # --- updates as Zalo sends them ---------------------------------------------------------

    def message(
        self, chat_id: str, event: str = "message.text.received", **content: Any
    ) -> dict[str, Any]:
        """An update of a private chat (`content`: text, photo_url, caption, sticker...)."""
        message_id = content.pop("message_id", None) or f"m{next(self._ids):06d}"
        return {
            "event_name": event,
            "message": {
                "message_id": message_id,
                "from": {"id": chat_id, "display_name": "Lan Nguyễn", "is_bot": False},
                "chat": {"id": chat_id, "chat_type": content.pop("chat_type", "PRIVATE")},
                "date": int(time.time() * 1000),
                **content,
            },
        }

    def queue_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_updates.set()

    async def post_webhook(
        self, update: dict[str, Any], *, secret: str | None = None, wrapped: bool = False
    ) -> tuple[int, Any]:
        """Deliver `update` to the webhook set (its secret unless `secret` is given),
        bare or wrapped as {ok, result}; the status and body of the bot's answer."""
        assert self.webhook is not None, "no webhook set"
        body = {"ok": True, "result": update} if wrapped else update
        token = self.webhook["secret_token"] if secret is None else secret
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.webhook["url"], json=body, headers={"X-Bot-Api-Secret-Token": token}
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    def add_photo(self, data: bytes) -> str:
        """A customer's photo on the CDN; its URL."""
        name = f"p{next(self._ids)}.jpg"
        self._photos[name] = data
        return f"{self.url}/cdn/{name}"

    # --- test controls ----------------------------------------------------------------------

    def fail(self, method: str, code: int, times: int = 1) -> None:
        self._failures.setdefault(method, []).append((code, times))

    def sent(self, method: str | None = None, chat_id: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (method is None or c.method == method)
            and (chat_id is None or c.fields.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: str) -> list[str]:
        """What the chat received: message texts and photo captions, in order."""
        return [
            str(c.fields.get("text") or c.fields.get("caption") or "")
            for c in self.sent(chat_id=chat_id)
            if c.method in ("sendMessage", "sendPhoto")
        ]

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "the fake Zalo Bot API never saw it"
            await asyncio.sleep(0.02)

    # --- the API ------------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            fields = await request.json() if request.can_read_body else {}
        except ValueError:
            return _error(400, "Bad Request: body is not JSON")
        fields = fields if isinstance(fields, dict) else {}
        if method == "getUpdates":
            self.polls += 1
        else:
            self.calls.append(Call(method, fields, time.monotonic()))
        failures = self._failures.get(method)
        if failures:
            code, times = failures[0]
            failures[0] = (code, times - 1)
            if times <= 1:
                failures.pop(0)
            return _error(code, "injected failure")
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, f"Not Found: method {method}")
        result = await handler(fields)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _getMe(self, fields: dict[str, Any]) -> Any:
        return {"id": "bot-4242", "account_name": "bot.cskh", "account_type": "BASIC"}

    async def _sendMessage(self, fields: dict[str, Any]) -> Any:
        text = str(fields.get("text", ""))
        if not fields.get("chat_id") or not text:
            return _error(400, "Bad Request: chat_id and text are required")
        if len(text) > 2000:
            return _error(400, "Bad Request: text is too long")
        return {"message_id": f"s{next(self._ids)}", "date": int(time.time() * 1000)}

    async def _sendPhoto(self, fields: dict[str, Any]) -> Any:
        photo = str(fields.get("photo", ""))
        if not photo.startswith(("http://", "https://")):
            return _error(400, "Bad Request: photo must be a URL")
        return {"message_id": f"s{next(self._ids)}", "date": int(time.time() * 1000)}

    async def _sendChatAction(self, fields: dict[str, Any]) -> Any:
        return True

    async def _setWebhook(self, fields: dict[str, Any]) -> Any:
        self.webhook = {"url": str(fields["url"]), "secret_token": str(fields["secret_token"])}
        return {"url": self.webhook["url"], "updated_at": int(time.time() * 1000)}

    async def _deleteWebhook(self, fields: dict[str, Any]) -> Any:
        self.webhook = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def _getWebhookInfo(self, fields: dict[str, Any]) -> Any:
        return {"url": (self.webhook or {}).get("url", "")}

    async def _getUpdates(self, fields: dict[str, Any]) -> Any:
        if self.webhook is not None:
            return _error(409, "Conflict: a webhook is set")
        deadline = time.monotonic() + min(float(fields.get("timeout", 0) or 0), 2.0)
        while not self._updates and not self._closing:
            self._new_updates.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return _error(408, "Request timeout")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_updates.wait(), left)
        if not self._updates:
            return _error(408, "Request timeout")
        return self._updates.pop(0)  # one update a call, as Zalo hands them out

    async def _photo(self, request: web.Request) -> web.Response:
        data = self._photos.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=200
    )


OPTION = re.compile(r"^\s+(\d+)\. (.+)$", re.MULTILINE)


class ZaloChat:
    """One customer in a private chat with the bot on Zalo (webhook mode): types, sends
    photos, and reads what the bot sent back; a "button" is chosen by typing its
    number, as Zalo has no buttons."""

    def __init__(self, fake: FakeZaloBot, chat_id: str, settle: Callable[[], Any]) -> None:
        self.fake = fake
        self.chat_id = chat_id
        self.settle = settle  # the bot's after-answer work (one-time codes leave then)
        self.text = ""
        self.photos: list[str] = []  # the URLs of the photos the bot sent

    async def say(self, text: str) -> None:
        await self._post(self.fake.message(self.chat_id, text=text))

    async def send_photo(self, data: bytes, caption: str | None = None) -> None:
        content: dict[str, Any] = {"photo_url": self.fake.add_photo(data)}
        if caption:
            content["caption"] = caption
        await self._post(self.fake.message(self.chat_id, "message.image.received", **content))

    @property
    def options(self) -> dict[str, str]:
        """The numbered options of the last answer, by title."""
        return {title.strip(): number for number, title in OPTION.findall(self.text)}

    async def choose(self, title: str) -> None:
        """Type the number of the option titled `title`."""
        number = self.options.get(title)
        assert number is not None, f"no option {title!r} in {self.text}"
        await self.say(number)

    async def _post(self, update: dict[str, Any]) -> None:
        seen = len(self.fake.sent(chat_id=self.chat_id))
        status, body = await self.fake.post_webhook(update)
        assert status == 200, body
        await self.settle()
        calls = [
            c
            for c in self.fake.sent(chat_id=self.chat_id)[seen:]
            if c.method in ("sendMessage", "sendPhoto")
        ]
        assert calls, "the bot sent nothing back"
        self.text = "\n".join(
            str(c.fields.get("text") or c.fields.get("caption") or "") for c in calls
        )
        self.photos = [str(c.fields["photo"]) for c in calls if c.method == "sendPhoto"]
