"""The push API: send messages to a user who did not just write, on their channel.

Every push (notice, broadcast, staff reply, status change) goes through
`Pusher.push`. Today it delivers at once through the user's channel; the notices
issue puts an outbox and a delivery worker behind this same call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Reply
from bot.store import repo
from bot.store.db import Database
from bot.store.models import ChatUser

log = logging.getLogger(__name__)


class Outbound(Protocol):
    """What a channel offers the pusher: deliver replies to one of its users."""

    async def deliver(
        self, user: ChatUser, replies: Sequence[Reply], session: AsyncSession
    ) -> None: ...


class PushError(Exception):
    """The push could not be delivered (unknown user, channel not running)."""


class Pusher:
    """Sends replies to a chat user on whatever channel they use."""

    def __init__(self, db: Database, channels: Mapping[str, Outbound] | None = None) -> None:
        self.db = db
        self.channels: dict[str, Outbound] = dict(channels or {})

    def register(self, name: str, channel: Outbound) -> None:
        self.channels[name] = channel

    async def push(
        self,
        chat_user_id: int,
        replies: Sequence[Reply],
        *,
        author: str = "system",
        session: AsyncSession | None = None,
    ) -> bool:
        """Deliver `replies` to the user; False when the user is marked unreachable.

        Pass `session` to push inside a transaction you already hold (the push is then
        part of it); otherwise the push runs in its own transaction.
        """
        if session is not None:
            return await self._push_in(session, chat_user_id, replies, author)
        async with self.db.transaction() as own_session:
            return await self._push_in(own_session, chat_user_id, replies, author)

    async def _push_in(
        self, session: AsyncSession, chat_user_id: int, replies: Sequence[Reply], author: str
    ) -> bool:
        user = await session.get(ChatUser, chat_user_id)
        if user is None:
            raise PushError(f"no chat user {chat_user_id}")
        if not user.reachable:
            log.info("push to unreachable chat user %s skipped", chat_user_id)
            return False
        channel = self.channels.get(user.channel)
        if channel is None:
            raise PushError(f"channel {user.channel!r} of chat user {chat_user_id} is not running")
        stored = await repo.store_reply_media(session, replies, user.id)
        conversation = await repo.get_or_create_conversation(session, user)
        repo.record_replies(session, conversation.id, stored, author=author)
        await channel.deliver(user, stored, session)
        return True
