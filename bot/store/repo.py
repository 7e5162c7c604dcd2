"""Repositories of the bot's own data: chat users, conversations, transcripts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    ChatUser,
    Conversation,
    ProcessedUpdate,
    TranscriptMessage,
)


async def get_chat_user(
    session: AsyncSession, channel: str, platform_user_id: str
) -> ChatUser | None:
    return await session.scalar(
        select(ChatUser).where(
            ChatUser.channel == channel, ChatUser.platform_user_id == platform_user_id
        )
    )


async def get_or_create_chat_user(
    session: AsyncSession,
    channel: str,
    platform_user_id: str,
    *,
    language: str,
    display_name: str | None = None,
) -> ChatUser:
    """The chat user, created on first contact (safe against a concurrent creation)."""
    user = await get_chat_user(session, channel, platform_user_id)
    if user is not None:
        return user
    user = ChatUser(
        channel=channel,
        platform_user_id=platform_user_id,
        language=language,
        display_name=display_name,
        # Known to be empty: reading them on a first message must not lazy-load (an
        # async session cannot), e.g. a forged "nsub:on" from a brand-new chat.
        links=[],
    )
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        # Another process created the same user between our select and insert.
        existing = await get_chat_user(session, channel, platform_user_id)
        if existing is None:
            raise
        return existing
    return user


async def get_or_create_conversation(session: AsyncSession, user: ChatUser) -> Conversation:
    conversation = await session.scalar(
        select(Conversation).where(Conversation.chat_user_id == user.id)
    )
    if conversation is None:
        conversation = Conversation(chat_user_id=user.id, chat_user=user, state={})
        session.add(conversation)
        await session.flush()
    return conversation


async def claim_update(session: AsyncSession, channel: str, update_id: str) -> bool:
    """Record that this delivery is being handled; False if it was handled before.

    Runs inside the update's transaction, so a failed update is not marked handled.
    """
    if await session.get(ProcessedUpdate, (channel, update_id)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ProcessedUpdate(channel=channel, update_id=update_id))
    except IntegrityError:
        return False
    return True


async def recent_transcript(
    session: AsyncSession, chat_user_id: int, limit: int
) -> list[TranscriptMessage]:
    """The user's last `limit` transcript messages, oldest first."""
    rows = await session.scalars(
        select(TranscriptMessage)
        .join(Conversation, TranscriptMessage.conversation_id == Conversation.id)
        .where(Conversation.chat_user_id == chat_user_id)
        .order_by(TranscriptMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))
