"""The database handle: an async engine, sessions and transactions.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every
transaction starts with BEGIN IMMEDIATE so a transaction that reads and then
writes never fails on a stale snapshot. Inside one process, transactions on SQLite
take turns on an asyncio lock (SQLite has one writer anyway); that keeps waiting
on the event loop instead of in driver threads. PostgreSQL needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.store.media import FILES, REMOVED, WRITTEN, MediaFiles

log = logging.getLogger(__name__)

# Key of AsyncSession.info: plain callables run once the transaction has committed.
AFTER_COMMIT = "after_commit"

SQLITE_BUSY_TIMEOUT_MS = 10_000
# A health check that hangs on a database that does not answer is worse than one that
# says so: /healthz and the error pages wait at most this long (issue 12).
PING_TIMEOUT = 2.0


class Database:
    """An async engine plus the session factory; one per process."""

    def __init__(self, url: str, *, echo: bool = False, media_dir: Path | None = None) -> None:
        """`media_dir`: where photos and documents are written (bot/store/media.py);
        without one their bytes are kept in the database."""
        self.url = make_url(url)
        self.media_files = MediaFiles(media_dir) if media_dir is not None else None
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_turn = asyncio.Lock() if self.is_sqlite else None
        # Reads that stand apart from a conversation's transaction (the utility
        # backend): on SQLite a second engine with plain deferred transactions, which
        # WAL lets run beside the writer; elsewhere the same engine.
        self.read_engine = self.engine
        if self.is_sqlite:
            self.read_engine = create_async_engine(self.url, **kwargs)
            _configure_sqlite(self.read_engine, begin="BEGIN")
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # The hot path's own small pool: autocommit, and no ping before each use (half
        # a millisecond of CPU a statement); a connection the server dropped fails one
        # statement, whose caller tries once more, and the pool starts afresh.
        self._autocommit_engine = (
            None
            if self.is_sqlite
            else create_async_engine(
                self.url,
                echo=echo,
                isolation_level="AUTOCOMMIT",
                # Ten kept open: a connection opened for a burst and closed after it
                # costs more than the statement it served.
                pool_size=10,
                max_overflow=10,
                pool_reset_on_return=None,  # nothing to roll back
            )
        )
        self._unreachable_since: float | None = None  # monotonic time of the first failed ping

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return None
        return self.url.database

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error.

        Never open a second transaction while holding one (on SQLite it would wait
        for itself); pass the session down instead.
        """
        async with self._turn(), self.sessions() as session:
            session.info[FILES] = self.media_files
            try:
                async with session.begin():
                    yield session
            except BaseException:
                if self.media_files is not None:  # files of rows that were never kept
                    self.media_files.remove(session.info.get(WRITTEN, []))
                raise
            if self.media_files is not None:  # files of rows that are gone for good
                self.media_files.remove(session.info.get(REMOVED, []))
            for callback in session.info.get(AFTER_COMMIT, []):
                callback()  # e.g. wake the delivery worker for rows just committed

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose every statement commits by itself: for a hot path of one
        atomic statement (a VNPay IPN's claim), with no session and, on PostgreSQL, no
        BEGIN/COMMIT round trips. On SQLite each statement takes its turn as a
        transaction would."""
        if self._autocommit_engine is None:
            async with self._turn(), self.engine.begin() as conn:
                yield conn
        else:
            async with self._autocommit_engine.connect() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._sqlite_turn is None:
            yield
        else:
            async with self._sqlite_turn:
                yield

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only session that never waits for a writer (and is never rolled into
        one): safe to use while a `transaction()` is open in the same task."""
        async with self._read_sessions() as session:
            session.info[FILES] = self.media_files
            yield session  # closing the session rolls its transaction back

    async def ping(self) -> bool:
        """True when the database answers a trivial query within PING_TIMEOUT seconds.

        /healthz asks every few seconds: the first failure after a success is logged in
        one line, and so is the recovery; the failures between are quiet (issue 12).
        """
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                async with self.read_engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not reachable" to a health check
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
                reason = (
                    f"no answer within {PING_TIMEOUT:g} s"
                    if isinstance(error, TimeoutError)
                    else error_summary(error)
                )
                log.warning("database unreachable: %s", reason)
                log.debug("database ping failed", exc_info=True)
            return False
        if self._unreachable_since is not None:
            down_for = time.monotonic() - self._unreachable_since
            self._unreachable_since = None
            log.info("database reachable again after %.0f s", down_for)
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._autocommit_engine is not None:
            await self._autocommit_engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def error_summary(error: BaseException) -> str:
    """The error in one line ("OperationalError: (sqlite3.OperationalError) unable to
    open database file"): SQLAlchemy adds the statement and a link on further lines."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _configure_sqlite(engine: AsyncEngine, begin: str = "BEGIN IMMEDIATE") -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
