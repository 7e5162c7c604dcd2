"""The transcript: what the customer sent and what the bot answered, as stored rows.

Media with bytes get a media id first (`store_reply_media`), so links, the transcript
and the outbox all name a file the same way. Buttons are written as the Reply codec
(bot/core/codec.py) writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.codec import button_to_json
from bot.core.messages import Incoming, Media, Reply
from bot.store.media import save_media
from bot.store.models import Conversation, TranscriptMessage, utcnow

TRANSCRIPT_TEXT_LIMIT = 20_000  # characters kept of one message; longer input is cut


def incoming_attachments(
    incoming: Incoming, photo_ids: Sequence[str], document_ids: Sequence[str] = ()
) -> list[dict[str, Any]]:
    attachments: list[dict[str, Any]] = [{"type": "photo", "media": mid} for mid in photo_ids]
    attachments += [{"type": "document", "media": mid} for mid in document_ids]
    if incoming.location:
        attachments.append(
            {
                "type": "location",
                "lat": incoming.location.latitude,
                "lon": incoming.location.longitude,
            }
        )
    if incoming.contact:
        attachments.append(
            {
                "type": "contact",
                "phone": incoming.contact.phone,
                "verified": incoming.contact.verified,
            }
        )
    return attachments


REDACTED = "••••••"


async def record_incoming(
    session: AsyncSession, conversation: Conversation, incoming: Incoming, *, redact: bool = False
) -> TranscriptMessage:
    """Keep what the customer sent, photos included, in the transcript; a secret (the
    answer to a password or PIN question) is replaced by dots."""
    photo_ids = [
        await save_media(session, photo, conversation.chat_user_id)
        for photo in incoming.photos
        if photo.data is not None
    ]
    document_ids = [
        await save_media(session, document, conversation.chat_user_id)
        for document in incoming.documents
        if document.data is not None
    ]
    message = TranscriptMessage(
        conversation_id=conversation.id,
        direction="in",
        author="customer",
        text=REDACTED
        if redact and incoming.text
        else (incoming.text or None) and incoming.text[:TRANSCRIPT_TEXT_LIMIT],
        payload=incoming.payload and incoming.payload[:200],
        attachments=incoming_attachments(incoming, photo_ids, document_ids),
        created_at=incoming.at,
    )
    session.add(message)
    return message


async def store_reply_media(
    session: AsyncSession, replies: Sequence[Reply], chat_user_id: int | None
) -> list[Reply]:
    """Give every image/document with bytes a media id (links and transcript use it)."""
    stored: list[Reply] = []
    for reply in replies:
        image, document = reply.image, reply.document
        if image is not None and image.data is not None and image.media_id is None:
            image = replace(image, media_id=await save_media(session, image, chat_user_id))
        if document is not None and document.data is not None and document.media_id is None:
            document = replace(document, media_id=await save_media(session, document, chat_user_id))
        stored.append(replace(reply, image=image, document=document))
    return stored


def record_replies(
    session: AsyncSession,
    conversation_id: int,
    replies: Sequence[Reply],
    *,
    author: str = "bot",
    at: datetime | None = None,
) -> None:
    for values in transcript_rows(conversation_id, replies, author=author, at=at):
        session.add(TranscriptMessage(**values))


def transcript_rows(
    conversation_id: int,
    replies: Sequence[Reply],
    *,
    author: str = "bot",
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The transcript rows of `replies` sent in a conversation, as column values (for
    a bulk insert of many conversations' rows at once)."""
    rows: list[dict[str, Any]] = []
    for reply in replies:
        attachments: list[dict[str, Any]] = []
        for kind, media in (("image", reply.image), ("document", reply.document)):
            if media is not None:
                attachments.append(_media_attachment(kind, media))
        buttons = [[button_to_json(b) for b in row] for row in reply.buttons]
        if buttons:
            attachments.append({"type": "buttons", "rows": buttons})
        rows.append(
            {
                "conversation_id": conversation_id,
                "direction": "out",
                "author": author,
                "text": reply.text,
                "payload": None,
                "attachments": attachments,
                "created_at": at or utcnow(),
            }
        )
    return rows


def _media_attachment(kind: str, media: Media) -> dict[str, Any]:
    return {"type": kind, "media": media.media_id, "url": media.url, "filename": media.filename}
