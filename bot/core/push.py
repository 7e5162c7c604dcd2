"""The push API: send messages to a user who did not just write, on their channel.

Every push (notice, broadcast, staff reply, status change) goes through
`Pusher.push`. It records the messages in the user's transcript in one transaction,
then, once that is committed, hands them to the user's channel: a network call never
holds a database transaction. The notices issue puts an outbox and a delivery worker
behind this same call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.messages import Reply
from bot.store import repo
from bot.store.db import Database
from bot.store.models import ChatUser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """Who a channel delivers to."""

    chat_user_id: int
    channel: str
    platform_user_id: str
    language: str

    @classmethod
    def of(cls, user: ChatUser) -> Recipient:
        return cls(user.id, user.channel, user.platform_user_id, user.language)


class ChannelUnreachable(Exception):
    """The platform says this user cannot be reached any more (e.g. blocked the bot)."""


class Outbound(Protocol):
    """What a channel offers the pusher: deliver replies to one of its users.

    Raises ChannelUnreachable when the platform refuses the user for good.
    """

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> None: ...


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
        self, chat_user_id: int, replies: Sequence[Reply], *, author: str = "system"
    ) -> bool:
        """Deliver `replies` to the user; False when the user cannot be reached.

        Call it outside any transaction of yours: it commits the transcript first.
        """
        async with self.db.transaction() as session:
            user = await session.get(ChatUser, chat_user_id)
            if user is None:
                raise PushError(f"no chat user {chat_user_id}")
            if not user.reachable:
                log.info("push to unreachable chat user %s skipped", chat_user_id)
                return False
            channel = self.channels.get(user.channel)
            if channel is None:
                raise PushError(
                    f"channel {user.channel!r} of chat user {chat_user_id} is not running"
                )
            stored = await repo.store_reply_media(session, replies, user.id)
            conversation = await repo.get_or_create_conversation(session, user)
            repo.record_replies(session, conversation.id, stored, author=author)
            recipient = Recipient.of(user)
        try:
            await channel.deliver(recipient, stored)
        except ChannelUnreachable:
            await self.mark_unreachable(chat_user_id)
            return False
        return True

    async def mark_unreachable(self, chat_user_id: int) -> None:
        """Stop pushing to a user the platform refuses (they blocked the bot)."""
        async with self.db.transaction() as session:
            user = await session.get(ChatUser, chat_user_id)
            if user is not None and user.reachable:
                user.reachable = False
                log.info("chat user %s is unreachable; pushes stop", chat_user_id)
