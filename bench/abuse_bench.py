"""The attacker's probe of issue 12, replayed against a real `cskh serve` process.

    python bench/abuse_bench.py [--source DIR] [--database-url URL] [--rounds 3]

Starts `cskh serve` (from this checkout, or the one at --source: an older commit checked
out with `git worktree add`, to put before and after side by side) with the REST channel,
an HTTP SMS gateway on loopback that takes 300 ms to answer, and the shipped limits, then:

1. timing: the answer to "send me a code" for a phone on a contract and one that is not
   (REST users behind a trusted proxy, each from its own address so no limit is met),
   and the same for "forgot password" with a real and a made-up username;
2. pumping: 20 fresh web chat visitors, then 40 fresh REST users, each asking an SMS code
   for a contract phone, from one address; then 40 REST users through the proxy from 40
   networks; the SMS the gateway received and how long each wave took.

Prints Markdown tables for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "bench-token"
GATEWAY_DELAY = 0.3
# The demo personas' contract phones and portal usernames (`cskh demo personas`).
PHONES = ["0905123456", "0914222333", "0935777888", "0987654321", "0989111222", "0358666777"]
USERNAMES = ["annguyen", "binhtran", "cuongle", "dungpham", "ducho", "hoavo"]
ROOT = Path(__file__).resolve().parent.parent


class Gateway:
    """An SMS gateway that takes 300 ms per message, like a slow real one."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def send(request: web.Request) -> web.Response:
            await asyncio.sleep(GATEWAY_DELAY)
            self.received.append(await request.json())
            return web.json_response({"status": "queued"})

        app = web.Application()
        app.router.add_post("/send", send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/send"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(
    source: Path, gateway: Gateway, database_url: str | None, **extra: str
) -> AsyncIterator[tuple[str, str]]:
    """`cskh serve` from `source` on a new var directory (settings `extra` on top);
    yields its base URL and its database URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as var:
        url = database_url or f"sqlite+aiosqlite:///{var}/cskh.db"
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "CSKH_VAR_DIR": var,
            "CSKH_PORT": str(port),
            "CSKH_REST_TOKEN": TOKEN,
            "CSKH_SECRET_KEY": "bench",
            "CSKH_SMS_PROVIDER": "http",
            "CSKH_SMS_HTTP_URL": gateway.url,
            "CSKH_TRUSTED_PROXIES": "127.0.0.1",
            "CSKH_NOTIFY_SCHEDULER": "0",
            "CSKH_LOG_LEVEL": "WARNING",
            **extra,
        }
        if database_url:
            env["CSKH_DATABASE_URL"] = database_url
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
            [sys.executable, "-m", "bot", "serve"],
            cwd=source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(600):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(base + "/healthz") as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("cskh serve did not start")
            yield base, url
        finally:
            process.send_signal(signal.SIGTERM)
            # Waiting on the event loop: the gateway, in this process, must keep answering
            # the codes the server still sends while it shuts down.
            for _ in range(600):
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                process.kill()


class Rest:
    """One REST user, optionally behind the trusted proxy with its own address."""

    def __init__(self, http: aiohttp.ClientSession, base: str, user: str, address: str | None):
        self.http, self.base, self.user = http, base, user
        self.headers = {"Authorization": f"Bearer {TOKEN}"}
        if address:
            self.headers["X-Forwarded-For"] = address
        self.last: list[dict[str, Any]] = []

    async def send(self, **content: Any) -> float:
        started = time.perf_counter()
        async with self.http.post(
            self.base + "/api/chat", json={"user": self.user, **content}, headers=self.headers
        ) as response:
            body = await response.json()
        elapsed = time.perf_counter() - started
        self.last = body.get("messages", [])
        return elapsed

    async def press(self, title: str) -> float:
        for message in self.last:
            for row in message["buttons"]:
                for button in row:
                    if button["title"] == title:
                        return await self.send(button=button["payload"])
        raise RuntimeError(f"no button {title!r} in {self.last}")

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.last)


async def ask_code(user: Rest, phone: str) -> float:
    await user.send(text="/start")
    await user.press("🔑 Đăng nhập")
    await user.press("✅ Đồng ý")
    await user.press("📱 Số điện thoại")
    await user.send(text=phone)
    return await user.press("💬 SMS")


async def forgot(user: Rest, username: str) -> float:
    await user.send(text="/start")
    await user.press("🔑 Đăng nhập")
    await user.press("✅ Đồng ý")
    await user.press("👤 Tên đăng nhập/mật khẩu")
    await user.send(text=username)
    await user.press("❓ Quên mật khẩu")
    return await user.send(text=username)


def row(name: str, known: list[float], unknown: list[float]) -> str:
    def ms(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    median_known, median_unknown = (statistics.median(v) * 1000 for v in (known, unknown))
    return (
        f"| {name} | {median_known:.0f} | {ms(known, 0.9):.0f} | {median_unknown:.0f} | "
        f"{ms(unknown, 0.9):.0f} | {median_known - median_unknown:+.0f} |"
    )


async def timing(base: str, rounds: int) -> None:
    """Each round asks once per persona (a known phone or username) and once for a
    made-up one; rounds are 61 s apart, since a phone gets one code a minute."""
    samples: dict[str, list[float]] = {k: [] for k in ("known", "unknown", "rk", "ru")}
    async with aiohttp.ClientSession() as http:
        # Warm up: the language model trains in the background for its first seconds,
        # and the first requests of a process pay for lazy imports.
        await asyncio.sleep(12)
        for n in range(3):
            await ask_code(Rest(http, base, f"warm{n}", f"10.250.{n}.1"), f"0912{n:06d}")
        for round_ in range(rounds):
            if round_:
                await asyncio.sleep(61)
            for index, (phone, username) in enumerate(zip(PHONES, USERNAMES, strict=True)):

                def user(kind: str, n: int = index, r: int = round_) -> Rest:
                    return Rest(http, base, f"{kind}{r}-{n}", f"10.{r}.{n}.{len(kind)}")

                samples["known"].append(await ask_code(user("k"), phone))
                samples["unknown"].append(await ask_code(user("u"), f"0911{round_:02d}{index:04d}"))
                samples["rk"].append(await forgot(user("rk"), username))
                samples["ru"].append(await forgot(user("ru"), f"nobody{round_}x{index}"))
    count = len(samples["known"])
    print(
        f"| request ({count} of each) | known median (ms) | known p90 | unknown median (ms) "
        "| unknown p90 | median difference (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(row("activation code by SMS", samples["known"], samples["unknown"]))
    print(row("forgot password", samples["rk"], samples["ru"]))


async def contract_phones(database_url: str) -> list[str]:
    """Every phone on a demo contract, as a customer types it (0905...)."""
    from sqlalchemy import select

    from bot.store.db import Database
    from bot.store.models import CustomerPhone

    db = Database(database_url)
    try:
        async with db.reading() as session:
            phones = list(await session.scalars(select(CustomerPhone.phone).distinct()))
    finally:
        await db.dispose()
    return ["0" + phone.removeprefix("+84") for phone in sorted(phones)]


async def pumping(base: str, gateway: Gateway, phones: list[str]) -> None:
    """The probe's pattern: fresh identities, each asking a code for another contract's
    phone (so no per-phone limit is ever met)."""
    print("| wave | requests | SMS at the gateway | seconds |")
    print("|---|---:|---:|---:|")
    async with aiohttp.ClientSession() as http:
        before, started = len(gateway.received), time.perf_counter()
        for visitor in range(20):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as page:
                async with page.get(base + "/") as response:
                    await response.read()
                socket_ = await page.ws_connect(base + "/webchat/ws", headers={"Origin": base})
                await socket_.receive_json()  # history
                for frame in (
                    {"type": "button", "payload": "login"},
                    {"type": "button", "payload": "consent:yes"},
                    {"type": "button", "payload": "login_phone"},
                    {"type": "text", "text": phones[visitor]},
                    {"type": "button", "payload": "otp:sms"},
                ):
                    await socket_.send_json(frame)
                    await socket_.receive_json()
                await socket_.close()
        await asyncio.sleep(GATEWAY_DELAY * 2)
        wave = (len(gateway.received) - before, time.perf_counter() - started)
        print(f"| 20 fresh web visitors, one address | 20 | {wave[0]} | {wave[1]:.1f} |")
        before, started = len(gateway.received), time.perf_counter()
        for user in range(40):
            await ask_code(Rest(http, base, f"r{user}", None), phones[20 + user])
        await asyncio.sleep(GATEWAY_DELAY * 2)
        wave = (len(gateway.received) - before, time.perf_counter() - started)
        print(f"| 40 fresh REST users, one address | 40 | {wave[0]} | {wave[1]:.1f} |")
        before, started = len(gateway.received), time.perf_counter()
        for user in range(40):
            proxied = Rest(http, base, f"p{user}", f"172.{16 + user}.0.9")
            await ask_code(proxied, phones[60 + user])
        await asyncio.sleep(GATEWAY_DELAY * 2)
        wave = (len(gateway.received) - before, time.perf_counter() - started)
        print(f"| 40 REST users through the proxy, 40 networks | 40 | {wave[0]} | {wave[1]:.1f} |")


async def main(source: Path, database_url: str | None, rounds: int) -> None:
    gateway = Gateway()
    await gateway.start()
    try:
        print(f"source: {source}")
        # A budget that never binds: this part measures time, not limits.
        async with serve(source, gateway, database_url, CSKH_SMS_PER_MINUTE="100000") as (base, _):
            await timing(base, rounds)
        print()
        async with serve(source, gateway, database_url) as (base, url):
            await pumping(base, gateway, await contract_phones(url))
    finally:
        await gateway.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout to serve from")
    parser.add_argument("--database-url", help="e.g. a PostgreSQL database to use (emptied)")
    parser.add_argument("--rounds", type=int, default=3, help="of 6 known and 6 unknown (≤ 5)")
    options = parser.parse_args()
    asyncio.run(main(options.source.resolve(), options.database_url, options.rounds))
