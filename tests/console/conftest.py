"""The console's rig: the full server (fake Telegram, SMS, SMTP) on a seeded database
of the test's own, on SQLite and on PostgreSQL when CSKH_TEST_DATABASE_URL is set, and
staff members' HTTP sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.console.staff import StaffClient
from tests.handlers.rig import Rig, make_rig


@pytest.fixture
async def console_rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Rig]:
    async for rig in make_rig(tmp_path, own_seeded_url):
        yield rig


@pytest.fixture
async def staff(console_rig: Rig) -> AsyncIterator[Callable[[str], Awaitable[StaffClient]]]:
    """`await staff("agent")`: a signed-in demo account of that name."""
    clients: list[StaffClient] = []

    async def signed_in(username: str) -> StaffClient:
        client = StaffClient(console_rig.server.base_url)
        clients.append(client)
        status, page = await client.login(username)
        assert status == 200 and client.csrf, page[:500]
        return client

    yield signed_in
    for client in clients:
        await client.close()
