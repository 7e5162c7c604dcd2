"""A fake Telegram Bot API for the load harness (issue 20), in a process of its own.

    python bench/load_fake_api.py --port-file FILE

Answers every Bot API method at once, as Telegram would (a Message for the send
methods, True for the others), and records each call's chat and the moment it arrived
(`time.monotonic()`, the machine-wide CLOCK_MONOTONIC on Linux, so the load generator in
another process can compare it with when it posted an update). `GET /calls` returns them
as JSON: `[[chat_id, method, monotonic seconds], ...]`; `POST /reset` forgets them.
It runs in its own process so its CPU never counts as the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "CSKH", "username": "cskh_load_bot"}
SENDS = {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendLocation"}


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, float]] = []
        self._ids = itertools.count(1000)

    async def method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fields = await _fields(request)
        chat = fields.get("chat_id")
        try:
            chat_id = int(str(chat)) if chat is not None else 0
        except ValueError:
            chat_id = 0
        self.calls.append((chat_id, method, time.monotonic()))
        if method == "getMe":
            return _ok(BOT_USER)
        if method in SENDS:
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
            }
            if "text" in fields:
                message["text"] = str(fields["text"])
            if method == "sendMediaGroup":
                return _ok([message])
            return _ok(message)
        if method == "getWebhookInfo":
            return _ok({"url": "", "has_custom_certificate": False, "pending_update_count": 0})
        return _ok(True)

    async def list_calls(self, request: web.Request) -> web.Response:
        return web.json_response(self.calls)

    async def reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        return web.json_response({"ok": True})


async def _fields(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    return {key: value for key, value in (await request.post()).items() if isinstance(value, str)}


def _ok(result: Any) -> web.Response:
    return web.Response(
        text=json.dumps({"ok": True, "result": result}), content_type="application/json"
    )


async def serve(port_file: Path) -> None:
    api = FakeApi()
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.router.add_post("/bot{token}/{method}", api.method)
    app.router.add_get("/calls", api.list_calls)
    app.router.add_post("/reset", api.reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gc.freeze()
    await asyncio.to_thread(port_file.write_text, str(port))
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port_file))


if __name__ == "__main__":
    main()
