"""Apply Alembic migrations, one process at a time.

Several `cskh serve` processes may start together: on PostgreSQL they queue on an
advisory lock, on SQLite on an exclusive lock of a file beside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from bot.paths import resource_path
from bot.store.db import Database

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process of this app.
MIGRATION_LOCK_KEY = 0x63736B68  # "cskh"
VERSION_TABLE = "alembic_version"  # alembic's default, which migrations/env.py keeps


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_path("migrations")))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    # Reading the migration scripts takes ~40 ms, and they do not change while we run.
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def schema_state(db: Database) -> str:
    """The schema against this code's migrations, for /healthz: "ok", "missing" (no
    schema: `cskh db upgrade`), "outdated (at X, expected Y)", or "newer than this code
    (at X, expected Y)" (a later release migrated it)."""
    # On the read engine, which on SQLite never waits for a writer; and without
    # alembic's MigrationContext, which logs two lines each time (polled every few
    # seconds).
    async with db.read_engine.connect() as conn:
        current = await conn.run_sync(_applied_revision)
    expected = head_revision()
    if current == expected:
        return "ok"
    if current is None:
        return "missing"
    known = {script.revision for script in _scripts().walk_revisions()}
    state = "outdated" if current in known else "newer than this code"
    return f"{state} (at {current}, expected {expected})"


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Bring the schema to `revision` and return the revision now applied."""
    async with _file_lock(db.sqlite_path), db.engine.connect() as conn:
        if db.is_postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await conn.commit()
        try:
            await conn.run_sync(_upgrade_on, revision)
            await conn.commit()
        finally:
            if db.is_postgres:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await conn.commit()
    applied = await current_revision(db)
    log.info("database schema at revision %s", applied)
    return applied


async def is_up_to_date(db: Database) -> bool:
    return await current_revision(db) == head_revision()


def _applied_revision(sync_connection: Connection) -> str | None:
    if not inspect(sync_connection).has_table(VERSION_TABLE):
        return None
    return sync_connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _upgrade_on(sync_connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


@contextlib.asynccontextmanager
async def _file_lock(sqlite_path: str | None) -> AsyncIterator[None]:
    if sqlite_path is None:
        yield
        return
    lock_path = Path(sqlite_path).with_name(Path(sqlite_path).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:  # noqa: ASYNC230 - a local lock file, once at start
        # Wait in a thread: another holder may be this very process's event loop.
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_sync(url: str) -> str | None:
    """`upgrade` for synchronous callers (the command line)."""

    async def run() -> str | None:
        db = Database(url)
        try:
            return await upgrade(db)
        finally:
            await db.dispose()

    return asyncio.run(run())
