"""What a chat may be shown again: nothing while its PIN is due, nothing from before
its last log-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.auth import accounts
from bot.auth.history import visible_history
from bot.store.db import Database
from bot.store.models import ChatUser, Conversation, TranscriptMessage

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CHAT = "visitor-1"


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    db = Database(migrated_url)
    async with db.transaction() as session:
        user = ChatUser(channel="webchat", platform_user_id=CHAT)
        session.add(user)
        await session.flush()
        conversation = Conversation(chat_user_id=user.id)
        session.add(conversation)
        await session.flush()
        session.add_all(
            TranscriptMessage(
                conversation_id=conversation.id,
                direction="in" if minutes % 2 else "out",
                author="customer" if minutes % 2 else "bot",
                text=f"message {minutes}",
                created_at=NOW - timedelta(minutes=60 - minutes),
            )
            for minutes in range(1, 7)
        )
    yield db
    await db.dispose()


async def shown(db: Database, *, limit: int = 50, chat: str = CHAT) -> list[str | None]:
    async with db.reading() as session:
        history = await visible_history(session, "webchat", chat, now=NOW, limit=limit)
    return [message.text for message in history]


async def change_user(db: Database, **values: object) -> None:
    async with db.transaction() as session:
        user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == CHAT))
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)


async def test_the_last_messages_oldest_first(db: Database) -> None:
    assert await shown(db) == [f"message {n}" for n in range(1, 7)]
    assert await shown(db, limit=2) == ["message 5", "message 6"]


async def test_a_chat_we_do_not_know_sees_nothing(db: Database) -> None:
    assert await shown(db, chat="someone-else") == []


async def test_nothing_while_the_pin_is_due_and_all_once_unlocked(db: Database) -> None:
    await change_user(db, pin_hash="argon2-hash", pin_unlocked_until=NOW - timedelta(seconds=1))
    assert await shown(db) == []
    await change_user(db, pin_unlocked_until=NOW + accounts.PIN_IDLE)
    assert len(await shown(db)) == 6


async def test_nothing_from_before_the_last_logout(db: Database) -> None:
    await change_user(db, history_from=NOW - timedelta(minutes=56))
    assert await shown(db) == ["message 4", "message 5", "message 6"]
