"""Shared fixtures: databases (SQLite always, PostgreSQL when CSKH_TEST_DATABASE_URL is
set), a seeded demo database, and a running bot server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.demo.seed import seed
from bot.settings import Settings
from bot.store.db import Database
from bot.store.migrate import upgrade
from tests.helpers import (
    PG_URL,
    BotServer,
    copy_sqlite,
    create_pg_database,
    drop_pg_database,
    fresh_pg_database,
    make_settings,
    running_bot,
)

BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "full_rig: a conversation test on the full rig, server and fake platforms "
        "(tests/handlers/rig.py); without it the `rig` fixture is the light rig",
    )


# The demo data is anchored on a date; tests pin it so figures are stable.
DEMO_TODAY = date(2026, 11, 26)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no schema) on each backend under test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cskh.db'}"
    else:
        async with fresh_pg_database() as url:
            yield url


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    db = Database(database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    return database_url


async def _seed_into(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        await seed(db, today=DEMO_TODAY)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded SQLite file for the session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "cskh.db"
    asyncio.run(_seed_into(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def seeded_pg_url() -> Iterator[str | None]:
    """One seeded PostgreSQL database for the session (read by tests, never changed)."""
    if not PG_URL:
        yield None
        return

    async def create() -> str:
        url = await create_pg_database()
        await _seed_into(url)
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_pg_database(url))


@pytest.fixture(params=BACKENDS)
def seeded_url(request: pytest.FixtureRequest, tmp_path: Path, seeded_sqlite_template: Path) -> str:
    """A database holding the demo data set, on each backend under test."""
    if request.param == "sqlite":
        return copy_sqlite(seeded_sqlite_template, tmp_path / "seeded")
    url = request.getfixturevalue("seeded_pg_url")
    assert isinstance(url, str)
    return url


@pytest.fixture(scope="session")
def pg_seeded_template() -> Iterator[str | None]:
    """A seeded PostgreSQL database nobody connects to: tests that write get copies."""
    if not PG_URL:
        yield None
        return

    async def create() -> str:
        url = await create_pg_database()
        await _seed_into(url)
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_pg_database(url))


@pytest.fixture(params=BACKENDS)
async def own_seeded_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    seeded_sqlite_template: Path,
    pg_seeded_template: str | None,
) -> AsyncIterator[str]:
    """A seeded database of this test's own, to change at will, on each backend."""
    if request.param == "sqlite":
        yield copy_sqlite(seeded_sqlite_template, tmp_path / "own")
        return
    url = await create_pg_database(pg_seeded_template)
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
def settings(tmp_path: Path, migrated_url: str) -> Settings:
    return make_settings(tmp_path / "var", migrated_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[BotServer]:
    async with running_bot(settings) as server:
        yield server
