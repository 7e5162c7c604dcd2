"""Web chat pushes between processes (CSKH_REDIS_URL): a notice sent by one bot process
reaches a page another process holds. Runs when CSKH_TEST_REDIS_URL is set (CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.messages import Reply
from bot.settings import Settings
from bot.store.models import ChatUser
from tests.channels.test_webchat import Visitor, receive
from tests.helpers import make_settings, running_bot

REDIS_URL = os.environ.get("CSKH_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="CSKH_TEST_REDIS_URL is not set")


async def test_a_push_from_another_process_reaches_the_open_page(
    tmp_path: Path, migrated_url: str
) -> None:
    def settings(name: str) -> Settings:
        return make_settings(tmp_path / name, migrated_url, redis_url=REDIS_URL)

    async with (
        running_bot(settings("a")) as holding,  # the process that holds the page
        running_bot(settings("b")) as sending,  # say, the one whose worker sent it
    ):
        visitor = Visitor(holding)
        try:
            await visitor.open_page()
            socket = await visitor.connect()
            await receive(socket, "history")
            await socket.send_json({"type": "text", "text": "menu"})
            await receive(socket, "message")
            async with sending.runtime.db.reading() as session:
                user_id = await session.scalar(
                    select(ChatUser.id).where(ChatUser.platform_user_id == visitor.visitor_id)
                )
            assert user_id is not None
            notice = Reply(text="⚡ Điện đã có lại tại phường Hội An")
            assert await sending.runtime.pusher.push(user_id, [notice])
            frame = await receive(socket, "message")
            assert frame["message"]["text"] == "⚡ Điện đã có lại tại phường Hội An"
            await socket.close()
        finally:
            await visitor.close()
