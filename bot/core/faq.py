"""The FAQ the bot answers from: data/faq.yml with the entries staff saved over it
(issue 19).

`FaqBook.index` is what a handler asks for: the searchable entries as the database has
them now. It costs one small query (the number of staff rows and their latest change):
when either moved, another process or the console saved an entry, and the index is
rebuilt (milliseconds), so an edit answers customers without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.faq_models import FaqEntryRow
from bot.store.models import utcnow
from nlu.faq import DEFAULT_FAQ, FaqEntry, FaqError, FaqIndex, read_faq
from nlu.normalize import fold

log = logging.getLogger(__name__)

_Version = tuple[int, datetime | None]
_TICK = timedelta(milliseconds=1)


class FaqBook:
    """The FAQ's entries (the file's, overridden by the staff's) and their index."""

    def __init__(self, path: Path = DEFAULT_FAQ) -> None:
        self.path = path
        self._shipped: list[FaqEntry] | None = None
        self._index: FaqIndex | None = None
        self._version: _Version | None = None

    def shipped(self) -> list[FaqEntry]:
        """The entries of data/faq.yml (read once)."""
        if self._shipped is None:
            self._shipped = read_faq(self.path)
        return self._shipped

    async def index(self, session: AsyncSession) -> FaqIndex:
        """The index of the entries as they are now, rebuilt when staff changed one."""
        row = (
            await session.execute(
                select(func.count(FaqEntryRow.id), func.max(FaqEntryRow.updated_at))
            )
        ).one()
        version: _Version = (int(row[0]), row[1])
        if self._index is None or version != self._version:
            # A second or so for a hundred entries on a busy machine: off the event loop.
            self._index = await asyncio.to_thread(FaqIndex, await self.entries(session))
            self._version = version
            log.info("FAQ index built: %d entries", len(self._index))
        return self._index

    async def entries(self, session: AsyncSession) -> list[FaqEntry]:
        """Every live entry: the file's in file order with the staff's edits, then the
        entries staff added, oldest first. A staff row that no longer reads as an entry
        (a later rule) is logged and the file's entry kept."""
        rows = (await session.scalars(select(FaqEntryRow).order_by(FaqEntryRow.updated_at))).all()
        staff: dict[str, FaqEntry | None] = {}
        for row in rows:
            if row.deleted:
                staff[row.id] = None
                continue
            try:
                staff[row.id] = FaqEntry.from_dict(row.document)
            except FaqError as error:
                log.warning("FAQ entry %s in the database is skipped: %s", row.id, error)
        entries: list[FaqEntry] = []
        shipped_ids: set[str] = set()
        for entry in self.shipped():
            shipped_ids.add(entry.id)
            edited = staff.get(entry.id, entry)
            if edited is not None:
                entries.append(edited)
        entries.extend(
            entry
            for entry_id, entry in staff.items()
            if entry is not None and entry_id not in shipped_ids
        )
        return entries

    async def save(self, session: AsyncSession, entry: FaqEntry, by: str | None) -> None:
        """Add or replace an entry (the caller commits)."""
        await self._write(session, entry.id, entry.as_dict(), deleted=False, by=by)

    async def remove(self, session: AsyncSession, entry_id: str, by: str | None) -> bool:
        """Hide an entry; False when there is no such live entry."""
        if entry_id not in {e.id for e in await self.entries(session)}:
            return False
        await self._write(session, entry_id, {"id": entry_id}, deleted=True, by=by)
        return True

    async def get(self, session: AsyncSession, entry_id: str) -> FaqEntry | None:
        """A live entry by id."""
        return next((e for e in await self.entries(session) if e.id == entry_id), None)

    async def _write(
        self,
        session: AsyncSession,
        entry_id: str,
        document: dict[str, object],
        *,
        deleted: bool,
        by: str | None,
    ) -> None:
        # Later than the latest row, even within the clock's resolution: the version
        # other processes compare must move.
        latest = await session.scalar(select(func.max(FaqEntryRow.updated_at)))
        now = utcnow()
        if latest is not None and now <= latest:
            now = latest + _TICK
        row = await session.get(FaqEntryRow, entry_id)
        if row is None:
            row = FaqEntryRow(id=entry_id, document=document)
            session.add(row)
        row.document, row.deleted, row.updated_at, row.updated_by = document, deleted, now, by
        await session.flush()


def matching(entries: Sequence[FaqEntry], text: str) -> list[FaqEntry]:
    """Entries whose id, questions or answers hold `text` (folded), for staff listings."""
    wanted = fold(text)
    return [
        e
        for e in entries
        if any(wanted in fold(t) for t in (e.id, *e.ways_asked(), *e.answer.values()))
    ]
