"""How much media the customers may make us keep, and the job that makes room.

An anonymous web visitor can send photos; without a cap one of them could fill the
disk (issue 12, point 4). Uploads are refused past CSKH_MEDIA_QUOTA_USER_MB for one chat
and CSKH_MEDIA_QUOTA_TOTAL_MB for everybody, and a cleanup job (in `cskh serve`) removes
the oldest media nothing needs any more while the store is above 90 % of the total, or a
chat above its own quota, until it is back under 80 % (or under its quota).

"Needed" means: a service request's attachment, a reply to a notice in the staff inbox,
a campaign's picture, a message still waiting in the outbox, or a photo in a form draft.
Everything else (a photo sent in passing, a chart or an e-invoice already shown) is
only in the transcript, whose link then says the file is gone; charts and invoices can
be asked for again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select

from bot.store.db import Database
from bot.store.media import delete_media
from bot.store.models import (
    Campaign,
    Conversation,
    Delivery,
    InboxItem,
    Media,
    ServiceRequest,
    utcnow,
)
from bot.store.repo import get_chat_user

log = logging.getLogger(__name__)

HIGH_WATER = 0.9  # the total at which the job starts removing
LOW_WATER = 0.8  # and where it stops
MIN_AGE = timedelta(hours=1)  # a file this new may be on its way into a draft or a request
TOTAL_REFRESH = 30.0  # seconds the store's total is taken as known
BATCH = 500
MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{24}")
UNSENT = ("queued", "claimed", "sending", "held")


class MediaQuota:
    """Checks uploads against the quotas and makes room when the store is too full."""

    def __init__(self, db: Database, *, per_user_bytes: int, total_bytes: int) -> None:
        self.db = db
        self.per_user_bytes = per_user_bytes
        self.total_bytes = total_bytes
        self._total: int | None = None
        self._total_at = 0.0
        self._cleaning: asyncio.Task[int] | None = None

    async def refuses(self, channel: str, platform_user_id: str, size: int) -> str | None:
        """Why `size` more bytes from this chat cannot be kept ("user" or "total"), or
        None when they can."""
        async with self.db.reading() as session:
            user = await get_chat_user(session, channel, platform_user_id)
            used = 0
            if user is not None:
                used = int(
                    await session.scalar(
                        select(func.coalesce(func.sum(Media.size), 0)).where(
                            Media.chat_user_id == user.id
                        )
                    )
                    or 0
                )
            if used + size > self.per_user_bytes:
                return "user"
            total = await self._stored_total(session)
        if total + size > self.total_bytes:
            log.warning(
                "media store full: %s of %s bytes (CSKH_MEDIA_QUOTA_TOTAL_MB); uploads refused",
                total,
                self.total_bytes,
            )
            self.clean_soon()
            return "total"
        self._total = total + size
        return None

    async def _stored_total(self, session: Any) -> int:
        if self._total is None or time.monotonic() - self._total_at > TOTAL_REFRESH:
            self._total = int(
                await session.scalar(select(func.coalesce(func.sum(Media.size), 0))) or 0
            )
            self._total_at = time.monotonic()
        return self._total

    def clean_soon(self) -> None:
        """Run the cleanup now in the background (once at a time)."""
        if self._cleaning is None or self._cleaning.done():
            self._cleaning = asyncio.get_running_loop().create_task(self.clean())

    async def clean(self, now: datetime | None = None) -> int:
        """Remove the oldest media nothing needs until the store and every chat are
        under their marks; the number of files removed."""
        now = now or utcnow()
        async with self.db.reading() as session:
            total = int(await session.scalar(select(func.coalesce(func.sum(Media.size), 0))) or 0)
            over_users = {
                int(user_id or 0): int(used or 0) - self.per_user_bytes
                for user_id, used in await session.execute(
                    select(Media.chat_user_id, func.sum(Media.size))
                    .where(Media.chat_user_id.is_not(None))
                    .group_by(Media.chat_user_id)
                    .having(func.sum(Media.size) > self.per_user_bytes)
                )
            }
        excess = (
            total - int(self.total_bytes * LOW_WATER)
            if total > self.total_bytes * HIGH_WATER
            else 0
        )
        if excess <= 0 and not over_users:
            return 0
        needed = await self._needed()
        removed = 0
        for user_id, over in over_users.items():
            removed += await self._remove_oldest(now, needed, over, Media.chat_user_id == user_id)
        if excess > 0:
            removed += await self._remove_oldest(now, needed, excess)
        self._total = None
        if removed:
            log.warning("media cleanup removed %s files nothing needed any more", removed)
        return removed

    async def _remove_oldest(
        self, now: datetime, needed: set[str], to_free: int, *where: Any
    ) -> int:
        """Remove the oldest media not `needed` (matching `where`) until `to_free` bytes
        are gone; pages through the media by age, so needed files never block the way."""
        removed = 0
        after: tuple[datetime, str] | None = None
        while to_free > 0:
            page = [Media.created_at < now - MIN_AGE, *where]
            if after is not None:
                page.append(
                    or_(
                        Media.created_at > after[0],
                        and_(Media.created_at == after[0], Media.id > after[1]),
                    )
                )
            async with self.db.reading() as session:
                candidates = list(
                    await session.execute(
                        select(Media.id, Media.size, Media.created_at)
                        .where(*page)
                        .order_by(Media.created_at, Media.id)
                        .limit(BATCH)
                    )
                )
            if not candidates:
                break  # nothing older is left to remove
            after = (candidates[-1][2], candidates[-1][0])
            chosen: list[str] = []
            for media_id, size, _ in candidates:
                if media_id in needed:
                    continue
                chosen.append(media_id)
                to_free -= int(size)
                if to_free <= 0:
                    break
            if chosen:
                async with self.db.transaction() as session:
                    removed += await delete_media(session, Media.id.in_(chosen))
        return removed

    async def _needed(self) -> set[str]:
        """Ids of media something still needs (see the module's docstring)."""
        async with self.db.reading() as session:
            texts: list[Iterable[Any]] = [
                await session.scalars(select(cast(ServiceRequest.attachments, String))),
                await session.scalars(select(cast(InboxItem.media, String))),
                await session.scalars(
                    select(Campaign.image_media_id).where(Campaign.image_media_id.is_not(None))
                ),
                await session.scalars(
                    select(cast(Delivery.message, String)).where(Delivery.status.in_(UNSENT))
                ),
                await session.scalars(
                    select(cast(Conversation.state, String)).where(
                        cast(Conversation.state, String).like('%"form"%')
                    )
                ),
            ]
            return {media_id for rows in texts for text in rows for media_id in _ids(text)}


def _ids(text: Any) -> list[str]:
    return MEDIA_ID.findall(str(text)) if text else []
