"""A fake HTTP SMS gateway on loopback: takes POST JSON {"to", "text"} like a real one."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeSmsGateway:
    token: str = "sms-token"
    received: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses to answer next
    delay: float = 0.0  # seconds each answer takes (a slow real gateway: ~300 ms)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeSmsGateway:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/send"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _send(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorised"}, status=401)
        if self.failures:
            return web.json_response({"error": "gateway busy"}, status=self.failures.pop(0))
        self.received.append(await request.json())
        return web.json_response({"status": "queued"})

    def last_code(self, to: str) -> str:
        """The 6-digit code in the last SMS to `to`."""
        texts = [m["text"] for m in self.received if m["to"] == to]
        assert texts, f"no SMS to {to}: {self.received}"
        match = re.search(r"\b(\d{6})\b", texts[-1])
        assert match, texts[-1]
        return match.group(1)
