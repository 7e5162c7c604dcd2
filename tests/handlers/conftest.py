"""Fixtures of the conversation tests: the light rig, or the full one for a test marked
`full_rig` (see tests/handlers/rig.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.handlers.rig import ChatRig, make_light_rig, make_rig


@pytest.fixture
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path, seeded_sqlite_template: Path
) -> AsyncIterator[ChatRig]:
    full = request.node.get_closest_marker("full_rig") is not None
    make = make_rig if full else make_light_rig
    async for running in make(tmp_path, seeded_sqlite_template):
        yield running
