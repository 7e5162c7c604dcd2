"""Photos and documents: a `media` row per file (who it belongs to, type, name, size),
the bytes in a directory (CSKH_MEDIA_DIR, default var/media) under random names.

A file written in a transaction that rolls back is removed again, and a file whose row
is deleted goes once the deletion is committed (bot/store/db.py runs both). Without a
media directory (tools that open the database alone) the bytes stay in the row, and
rows from before the directory existed are still read from the database.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Media as MediaRef
from bot.store.models import Media

# Magic numbers of the image types customers send from phones and browsers.
_IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def sniff_image(data: bytes) -> str | None:
    """The image type of `data` by its first bytes, or None when it is no image we take."""
    for signature, content_type in _IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def new_media_id() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: unguessable


# Keys of AsyncSession.info (bot/store/db.py sets the first and acts on the others).
FILES = "media_files"
WRITTEN = "media_written"
REMOVED = "media_removed"


class MediaFiles:
    """The media directory: `<root>/<first two characters of the id>/<id>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, media_id: str) -> Path:
        if not media_id or "/" in media_id or media_id.startswith("."):
            raise ValueError(f"not a media id: {media_id!r}")
        return self.root / media_id[:2] / media_id

    def write(self, media_id: str, data: bytes) -> None:
        """Write atomically (a reader never sees half a file), readable by us only."""
        target = self.path(media_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def read(self, media_id: str) -> bytes | None:
        try:
            return self.path(media_id).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, media_ids: list[str]) -> None:
        for media_id in media_ids:
            self.path(media_id).unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredMedia:
    id: str
    chat_user_id: int | None
    content_type: str
    filename: str
    data: bytes


async def save_media(session: AsyncSession, media: MediaRef, chat_user_id: int | None) -> str:
    """Store `media` (which must carry bytes) and return its id."""
    if media.data is None:
        raise ValueError("only media with bytes can be stored")
    files: MediaFiles | None = session.info.get(FILES)
    row = Media(
        id=new_media_id(),
        chat_user_id=chat_user_id,
        content_type=media.content_type,
        filename=media.filename,
        size=len(media.data),
        data=None if files else media.data,
    )
    if files is not None:
        files.write(row.id, media.data)
        session.info.setdefault(WRITTEN, []).append(row.id)
    session.add(row)
    return row.id


async def load_media(session: AsyncSession, media_id: str) -> StoredMedia | None:
    """The file and what we know of it, or None when there is none (any more)."""
    row = await session.get(Media, media_id)
    if row is None:
        return None
    data = row.data
    files: MediaFiles | None = session.info.get(FILES)
    if data is None and files is not None:
        data = files.read(row.id)
    if data is None:
        return None
    return StoredMedia(row.id, row.chat_user_id, row.content_type, row.filename, data)


async def delete_media(session: AsyncSession, *where: ColumnElement[Any]) -> int:
    """Delete the media rows matching `where`; their files go after the commit."""
    ids = list(await session.scalars(select(Media.id).where(*where)))
    if ids:
        await session.execute(delete(Media).where(Media.id.in_(ids)))
        session.info.setdefault(REMOVED, []).extend(ids)
    return len(ids)
