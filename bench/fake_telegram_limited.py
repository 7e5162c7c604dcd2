"""A fake Telegram Bot API that enforces send limits, for the delivery benchmarks (issue 7).

    python bench/fake_telegram_limited.py --rate 30 --chat-interval 1 [--port-file FILE]

Runs in its own process (so it never shares the delivery worker's event loop or CPU
accounting). It answers sendMessage / sendPhoto / sendDocument like Telegram, except
when the message would be one too many:

- more than `--rate` messages accepted in the last second (a sliding window over
  arrival times), or
- a second message to the same chat less than `--chat-interval` seconds after the last
  one it accepted there,

then it answers 429 "Too Many Requests: retry after N" with `parameters.retry_after`,
as Telegram does, and does not count the message. `GET /stats` returns what it saw:
accepted and refused counts, duplicates (the same text to the same chat twice), the
arrival time of each accepted message, and `?chats=1` the chat ids received.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import math
import time
from pathlib import Path
from typing import Any

from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "CSKH", "username": "cskh_bench_bot"}
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


class LimitedTelegram:
    """The Bot API's sending side with Telegram's limits; counts everything."""

    def __init__(self, rate: float, chat_interval: float) -> None:
        self.rate = rate
        self.chat_interval = chat_interval
        self.window: collections.deque[float] = collections.deque()
        self.chat_last: dict[str, float] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.arrivals: list[float] = []  # monotonic seconds of each accepted message
        self.chats: list[str] = []  # the chat of each accepted message, in order
        self.refused_rate = 0
        self.refused_chat = 0
        self.refusals: list[tuple[float, str, str]] = []  # (arrival, chat, which limit)
        self.duplicates = 0
        self.other_calls: collections.Counter[str] = collections.Counter()
        self.message_ids = itertools.count(1)

    def admit(self, chat: str, now: float) -> float:
        """0 when the message may go now, else the seconds Telegram would ask to wait."""
        window = self.window
        while window and window[0] <= now - 1.0:
            window.popleft()
        last = self.chat_last.get(chat)
        if last is not None and now - last < self.chat_interval:
            self.refused_chat += 1
            self.refusals.append((now, chat, "chat"))
            return self.chat_interval - (now - last)
        if len(window) >= self.rate:
            self.refused_rate += 1
            self.refusals.append((now, chat, "rate"))
            return window[0] + 1.0 - now
        window.append(now)
        self.chat_last[chat] = now
        return 0.0

    async def method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if name not in SEND_METHODS:
            self.other_calls[name] += 1
            result: Any = BOT_USER if name == "getMe" else True
            return web.json_response({"ok": True, "result": result})
        fields = await request.post()
        chat = str(fields.get("chat_id"))
        text = str(fields.get("text") or fields.get("caption") or "")
        now = time.monotonic()
        wait = self.admit(chat, now)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))  # Telegram gives whole seconds
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
                status=429,
            )
        self.arrivals.append(now)
        self.chats.append(chat)
        key = (chat, text)
        copies = self.seen.get(key, 0)
        if copies:
            self.duplicates += 1
        self.seen[key] = copies + 1
        message = {
            "message_id": next(self.message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"},
            "text": text,
        }
        return web.json_response({"ok": True, "result": message})

    async def stats(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {
            "rate": self.rate,
            "chat_interval": self.chat_interval,
            "accepted": len(self.arrivals),
            "refused_rate": self.refused_rate,
            "refused_chat": self.refused_chat,
            "duplicates": self.duplicates,
            "refusals": self.refusals[:100],
            "now": time.monotonic(),
            "other_calls": dict(self.other_calls),
        }
        if request.query.get("arrivals"):
            body["arrivals"] = self.arrivals
        if request.query.get("chats"):
            body["chats"] = self.chats
        return web.json_response(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.method)
        app.router.add_get("/stats", self.stats)
        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=30.0, help="messages per sliding second")
    parser.add_argument("--chat-interval", type=float, default=1.0, help="seconds per chat")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    args = parser.parse_args()
    fake = LimitedTelegram(args.rate, args.chat_interval)

    async def serve() -> None:
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        if args.port_file:
            args.port_file.write_text(str(port))
        print(f"fake Telegram on http://127.0.0.1:{port} ({args.rate:g}/s)", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
