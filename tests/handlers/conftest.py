"""Fixtures of the conversation tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.handlers.rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[Rig]:
    async for running in make_rig(tmp_path, seeded_sqlite_template):
        yield running
