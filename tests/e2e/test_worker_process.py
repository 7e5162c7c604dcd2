"""`cskh worker` as a process: killed with SIGKILL in the middle of a run and started
again, it delivers every notice; only the sends under way at the kill may arrive
twice, and those are counted as in doubt."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.core.messages import Reply
from bot.notify import outbox
from bot.store.db import Database
from bot.store.models import ChatUser, Delivery
from tests.e2e.test_cli import CSKH, _env
from tests.helpers import NLU_CACHE, eventually

RECIPIENTS = 40


class SlowBotApi:
    """A Bot API that takes 0.15 s to answer sendMessage, so a kill lands mid-run."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _method(self, request: web.Request) -> web.Response:
        fields = dict(await request.post())
        if request.match_info["method"] != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        await asyncio.sleep(0.15)
        chat_id = int(str(fields["chat_id"]))
        self.received.append((chat_id, str(fields["text"])))
        message = {
            "message_id": len(self.received),
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "text": fields["text"],
        }
        return web.json_response({"ok": True, "result": message})


async def all_recorded(db: Database) -> bool:
    """Whether every row has an outcome written (none waits or is on its way)."""
    async with db.reading() as session:
        busy = await session.scalar(
            select(func.count()).where(Delivery.status.in_(("queued", "claimed", "sending")))
        )
    return busy == 0


@pytest.fixture
async def bot_api() -> AsyncIterator[SlowBotApi]:
    api = SlowBotApi()
    await api.start()
    yield api
    await api.close()


async def test_a_killed_worker_restarted_delivers_everything_once_but_the_doubtful(
    migrated_url: str, tmp_path: Path, bot_api: SlowBotApi
) -> None:
    db = Database(migrated_url)
    try:
        async with db.transaction() as session:
            users = [
                ChatUser(channel="telegram", platform_user_id=str(5000 + i)) for i in range(40)
            ]
            session.add_all(users)
            await session.flush()
            notice = await outbox.notice_for(
                session, "outage:77:incident", kind="outage_incident", category="outage"
            )
            await outbox.enqueue(
                session,
                notice,
                [
                    outbox.Addressee(u, [Reply(text=f"⚡ Mất điện đột xuất — {u.id}")])
                    for u in users
                ],
                now=datetime.now(UTC),
            )
        env = _env(
            CSKH_DATABASE_URL=migrated_url,
            CSKH_VAR_DIR=str(tmp_path / "var"),
            CSKH_TELEGRAM_TOKEN="1:T",
            CSKH_TELEGRAM_API_URL=bot_api.url,
            CSKH_TELEGRAM_RATE="1000",
            CSKH_NOTIFY_CONCURRENCY="5",
            CSKH_QUIET_HOURS="0-0",  # whatever the hour the test runs at
            CSKH_DEMO_SEED="0",
            CSKH_NLU_CACHE_DIR=str(NLU_CACHE),
        )
        first = await asyncio.create_subprocess_exec(*CSKH, "worker", env=env, cwd=tmp_path)
        try:
            await eventually(lambda: len(bot_api.received) >= 12, within=60)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.wait_for(first.wait(), 10)
        at_kill = len(bot_api.received)
        assert at_kill < RECIPIENTS  # the kill really came mid-run

        second = await asyncio.create_subprocess_exec(
            *CSKH, "worker", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
        )
        try:
            await eventually(
                lambda: len({chat for chat, _ in bot_api.received}) == RECIPIENTS, within=60
            )
            await eventually(lambda: all_recorded(db))  # the last wave's outcomes written
        finally:
            second.send_signal(signal.SIGTERM)
            _, errors = await asyncio.wait_for(second.communicate(), 20)
        assert second.returncode == 0, errors.decode()

        async with db.reading() as session:
            statuses = Counter(
                dict(
                    (
                        await session.execute(
                            select(Delivery.status, func.count()).group_by(Delivery.status)
                        )
                    ).all()
                )
            )
            in_doubt = await session.scalar(select(func.count()).where(Delivery.in_doubt.is_(True)))
        twice = [chat for chat, n in Counter(c for c, _ in bot_api.received).items() if n > 1]
        assert statuses == Counter({"sent": RECIPIENTS}), json.dumps(statuses)
        assert len(twice) <= int(in_doubt or 0) <= 5  # at most one wave was on the wire
    finally:
        await db.dispose()
