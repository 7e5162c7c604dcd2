"""The OA's token pair: read from the database, refreshed before it expires and when Zalo
says it is invalid (-216), by one process at a time.

The refresh token is single-use: two processes refreshing with the same one would leave
one of them holding a dead chain. So a refresh happens inside one transaction holding
the pair's row (FOR UPDATE on PostgreSQL; SQLite's transactions begin IMMEDIATE, one
writer at a time): whoever comes second finds the pair changed and uses it. The first
pair comes from the settings (CSKH_ZALO_OA_ACCESS_TOKEN / _REFRESH_TOKEN); later pairs
live only in the database. A refresh Zalo refuses (the token was used, revoked or is
older than 3 months) loses the chain: logged at ERROR, kept on the row (`lost_at`) so
/healthz and the staff console of every process show it until an admin authorises the
OA again and sets the new pair.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from bot.channels.zalo_oa import ZaloOaSettings
from bot.channels.zalo_oa.client import ZaloClient, ZaloError
from bot.core.clock import Clock
from bot.store.db import Database
from bot.store.models import ZaloOaToken

log = logging.getLogger(__name__)


class TokenLost(Exception):
    """The refresh chain is lost: an admin must authorise the OA again."""


async def token_state(db: Database, app_id: str) -> str | None:
    """Why the OA cannot send (its chain is lost), or None when it can."""
    async with db.reading() as session:
        row = await session.get(ZaloOaToken, app_id)
    if row is None or row.lost_at is None:
        return None
    since = f"{row.lost_at:%Y-%m-%d %H:%M} UTC"
    return f"Zalo OA needs re-authorisation since {since} ({row.lost_reason})"


class TokenKeeper:
    """Hands out a valid access token; refreshes the pair when it is due."""

    def __init__(
        self, db: Database, client: ZaloClient, config: ZaloOaSettings, clock: Clock
    ) -> None:
        assert config.app_id is not None
        self.db = db
        self.client = client
        self.config = config
        self.app_id = config.app_id
        self.clock = clock
        self._lock = asyncio.Lock()  # this process's callers queue here, not on the row
        self._cached: tuple[str, datetime] | None = None  # (token, when to refresh)

    async def ensure(self) -> None:
        """Write the settings' pair when the database holds none, or holds a lost chain
        and the settings give a different pair (the admin authorised the OA again)."""
        given = self.config.refresh_token
        if given is None:
            return
        now = self.clock.now()
        access = self.config.access_token.get_secret_value() if self.config.access_token else ""
        async with self.db.transaction() as session:
            # The settings' token was issued at some unknown time: refreshed at once. Two
            # processes starting together: the second insert leaves the first's row.
            module: Any = postgresql if self.db.is_postgres else sqlite
            await session.execute(
                module.insert(ZaloOaToken)
                .values(
                    app_id=self.app_id,
                    access_token=access,
                    refresh_token=given.get_secret_value(),
                    expires_at=now,
                    refreshes=0,
                )
                .on_conflict_do_nothing(index_elements=["app_id"])
            )
            row = await session.get(
                ZaloOaToken, self.app_id, with_for_update=True, populate_existing=True
            )
            assert row is not None
            if row.lost_at is not None and row.refresh_token != given.get_secret_value():
                log.warning("zalo oa: a new token pair from the settings replaces the lost one")
                row.access_token = access
                row.refresh_token = given.get_secret_value()
                row.expires_at = now
                row.lost_at = None
                row.lost_reason = None
        self._cached = None

    async def token(self) -> str:
        """A valid access token (refreshed first when it is due)."""
        now = self.clock.now()
        if self._cached is not None and now < self._cached[1]:
            return self._cached[0]
        async with self.db.reading() as session:
            row = await session.get(ZaloOaToken, self.app_id)
        if row is None:
            await self.ensure()
            return await self.token()
        if row.lost_at is not None:
            raise TokenLost(row.lost_reason or "refresh chain lost")
        due = row.expires_at - timedelta(seconds=self.config.refresh_margin)
        if now >= due:
            return await self.refreshed(row.access_token, due_only=True)
        self._cached = (row.access_token, due)
        return row.access_token

    async def refreshed(self, seen: str, *, due_only: bool = False) -> str:
        """A new access token instead of `seen` (Zalo refused it, or it is due): another
        process's refresh if one happened meanwhile, else ours."""
        async with self._lock:
            lost: str | None = None
            async with self.db.transaction() as session:
                row = await session.get(ZaloOaToken, self.app_id, with_for_update=True)
                if row is None:
                    raise TokenLost("no token pair: set CSKH_ZALO_OA_REFRESH_TOKEN")
                if row.lost_at is not None:
                    raise TokenLost(row.lost_reason or "refresh chain lost")
                now = self.clock.now()
                due = row.expires_at - timedelta(seconds=self.config.refresh_margin)
                if row.access_token != seen or (due_only and now < due):
                    self._cached = (row.access_token, due) if now < due else None
                    return row.access_token  # refreshed by somebody else meanwhile
                try:
                    pair = await self.client.refresh(row.refresh_token)
                except ZaloError as error:  # the refresh token was refused: chain lost
                    lost = f"refresh refused: {error}"[:300]
                    row.lost_at = now
                    row.lost_reason = lost
                else:
                    row.access_token = pair.access_token
                    row.refresh_token = pair.refresh_token
                    row.expires_at = now + timedelta(seconds=pair.expires_in)
                    row.refreshed_at = now
                    row.refreshes += 1
                    token = pair.access_token
                    due = row.expires_at - timedelta(seconds=self.config.refresh_margin)
            if lost is not None:
                self._cached = None
                log.error(
                    "zalo oa: the access token cannot be refreshed (%s); Zalo OA messages "
                    "stop until an admin authorises the OA again and sets "
                    "CSKH_ZALO_OA_ACCESS_TOKEN and CSKH_ZALO_OA_REFRESH_TOKEN (README, Zalo OA)",
                    lost,
                )
                raise TokenLost(lost)
            log.info("zalo oa: access token refreshed")
            self._cached = (token, due)
            return token
