"""A fake Telegram Bot API server on loopback: the real aiogram client talks to it.

It records every method call (with its fields decoded), keeps files for getFile and
downloads, queues updates for getUpdates (long polling), and can be told to fail a
method with 429 (retry_after), 403, 400 or 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.helpers import eventually

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "CSKH", "username": "cskh_test_bot"}


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    files: dict[str, bytes]
    ok: bool = True  # False when the fake answered with an injected error


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegram:
    """Start with `await fake.start()`; point aiogram at `fake.url`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self._updates: list[dict[str, Any]] = []
        self._new_updates = asyncio.Event()
        self._failures: dict[str, list[_Failure]] = {}
        self._message_ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.url = ""

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        # A long poll still open would hold the server's shutdown for its whole timeout.
        self._closing = True
        self._new_updates.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test controls -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        description: str = "error",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        self._failures.setdefault(method, []).append(
            _Failure(status, description, retry_after, times)
        )

    def add_file(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    def queue_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_updates.set()

    def attempts(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Every call, refused ones included."""
        return [
            call
            for call in self.calls
            if (method is None or call.method == method)
            and (chat_id is None or str(call.fields.get("chat_id")) == str(chat_id))
        ]

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """The calls that succeeded."""
        return [call for call in self.attempts(method, chat_id) if call.ok]

    def texts(self, chat_id: int) -> list[str]:
        return [
            c.fields.get("text") or c.fields.get("caption") or ""
            for c in self.sent(chat_id=chat_id)
            if c.method in ("sendMessage", "sendPhoto", "sendDocument")
        ]

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 10) -> None:
        await eventually(
            condition, within=seconds, message=lambda: f"calls: {[c.method for c in self.calls]}"
        )

    # --- the Bot API -----------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fields, files = await _read_fields(request)
        call = Call(method, fields, files)
        self.calls.append(call)
        failures = self._failures.get(method)
        if failures:
            call.ok = False
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        handler = getattr(self, f"_{method}", None)
        result = await handler(fields, files) if handler else True
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".")[0]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    def _message(self, fields: dict[str, Any], **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(fields["chat_id"]), "type": "private"},
            **content,
        }

    async def _getMe(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        return BOT_USER

    async def _sendMessage(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        return self._message(fields, text=fields.get("text", ""))

    async def _sendPhoto(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        photo = [{"file_id": "sent-photo", "file_unique_id": "sp", "width": 1, "height": 1}]
        return self._message(fields, photo=photo, caption=fields.get("caption"))

    async def _sendDocument(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        document = {"file_id": "sent-doc", "file_unique_id": "sd", "file_name": "file"}
        return self._message(fields, document=document, caption=fields.get("caption"))

    async def _getFile(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id = fields["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files.get(file_id, b"")),
            "file_path": f"photos/{file_id}.jpg",
        }

    async def _getUpdates(self, fields: dict[str, Any], files: dict[str, bytes]) -> Any:
        offset = int(fields.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and not self._closing:
            self._new_updates.clear()
            # Long polling, shortened for tests.
            timeout = min(float(fields.get("timeout") or 0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_updates.wait(), timeout)
        return [u for u in self._updates if u["update_id"] >= offset]


async def _read_fields(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        return dict(await request.json()), files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = value.file.read()
            fields[name] = f"<file {value.filename}>"
        else:
            fields[name] = _decode(str(value))
    # aiogram uploads a file under a random part name and sets the field to "attach://name".
    for name, value in list(fields.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            files[name] = files.get(value.removeprefix("attach://"), b"")
    return fields, files


def _decode(value: str) -> Any:
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
