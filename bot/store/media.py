"""Photos and documents kept in the database (see models.Media)."""

from __future__ import annotations

import secrets

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


async def save_media(session: AsyncSession, media: MediaRef, chat_user_id: int | None) -> str:
    """Store `media` (which must carry bytes) and return its id."""
    if media.data is None:
        raise ValueError("only media with bytes can be stored")
    row = Media(
        id=new_media_id(),
        chat_user_id=chat_user_id,
        content_type=media.content_type,
        filename=media.filename,
        size=len(media.data),
        data=media.data,
    )
    session.add(row)
    return row.id


async def load_media(session: AsyncSession, media_id: str) -> Media | None:
    return await session.get(Media, media_id)
