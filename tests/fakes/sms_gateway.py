"""SMS fakes: an HTTP gateway on loopback that takes POST JSON {"to", "text"} like a real
one (for the full rig), and a provider in this process that keeps the same record (for
the light rig, tests/light.py)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.auth.providers import DeliveryError, Outgoing


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
        return last_sms_code(self.received, to)


@dataclass
class FakeSms:
    """An SMS provider (bot/auth/providers.py's Sender) that keeps what it is handed, in
    the gateway's shape; a status in `failures` refuses the next message the way the
    HTTP sender reports a gateway's refusal (DeliveryError)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds each message takes to hand over (a slow gateway)

    async def send(self, message: Outgoing) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)  # the gateway's latency, not a wait in a test
        if self.failures:
            raise DeliveryError(f"SMS gateway refused the message ({self.failures.pop(0)})")
        self.received.append({"to": message.to, "text": message.body})

    async def close(self) -> None:
        return None

    def last_code(self, to: str) -> str:
        """The 6-digit code in the last SMS to `to`."""
        return last_sms_code(self.received, to)


def last_sms_code(received: list[dict[str, Any]], to: str) -> str:
    texts = [m["text"] for m in received if m["to"] == to]
    assert texts, f"no SMS to {to}: {received}"
    match = re.search(r"\b(\d{6})\b", texts[-1])
    assert match, texts[-1]
    return match.group(1)
