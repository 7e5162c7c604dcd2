"""The media quotas hold on every channel that takes files, not only the web chat
(issue 12, point 4): a Telegram chat and a REST user cannot fill the disk either."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channels.test_webchat import PNG
from tests.drivers import TELEGRAM_SECRET
from tests.fakes import telegram_updates as tu
from tests.handlers.rig import Rig, make_rig
from tests.helpers import TOKEN

BIG = 700_000  # bytes: a picture as large as a phone's


@pytest.fixture
async def rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Rig]:
    async for running in make_rig(tmp_path, own_seeded_url, media_quota_user_mb=1):
        yield running


async def test_a_telegram_chat_cannot_store_past_its_quota(rig: Rig) -> None:
    chat = 4_200_001
    rig.telegram.add_file("bigdoc", b"%PDF-1.4 " + bytes(BIG))
    for update_id in (1, 2):
        update = tu.document(update_id, chat, "bigdoc", "hoa-don.pdf", "application/pdf", BIG)
        async with rig.server.session.post(
            rig.server.base_url + "/telegram/webhook",
            data=json.dumps(update),
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        ) as response:
            assert response.status == 200
    first, second = rig.telegram.texts(chat)[-2:]
    assert first.startswith("Tôi đã nhận")
    assert second.startswith("Xin lỗi, hiện chưa lưu thêm được tệp của Quý khách")


async def test_a_rest_user_cannot_store_past_the_quota(rig: Rig) -> None:
    photo = base64.b64encode(PNG + bytes(BIG)).decode()
    statuses = []
    for _ in range(2):
        async with rig.server.session.post(
            rig.server.base_url + "/api/chat",
            json={"user": "uploader", "photo": photo},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            statuses.append((response.status, await response.json()))
    assert statuses[0][0] == 200
    assert statuses[1][0] == 507 and "quota" in statuses[1][1]["error"]
