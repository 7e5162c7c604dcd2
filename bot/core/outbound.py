"""What leaves the engine for a user who did not just write: the outbound contract.

A channel offers `Outbound` to the delivery worker; handlers and services push through
the `Push` protocol on the context (bot/notify/push.py implements it, behind it the
outbox and the delivery worker). Both sides meet here, in core, so neither imports the
other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Reply
from bot.store.models import ChatUser


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


class DeliveryRefused(Exception):
    """The platform refused this one delivery for good (a template or quota error): the
    row is failed at once with this error, never tried again."""


@dataclass(frozen=True)
class Sending:
    """The outbox row a channel is delivering now (the delivery worker sets
    `SENDING`): a channel that falls back to another way of reaching the customer (Zalo's
    template messages) needs the notice's kind and fields, and the row's id to track it."""

    delivery_id: int
    kind: str
    customer_code: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


SENDING: ContextVar[Sending | None] = ContextVar("sending", default=None)


class RateLimited(Exception):
    """The platform said "too many requests" (HTTP 429): wait `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


class Outbound(Protocol):
    """What a channel offers the delivery worker: deliver replies to one of its users
    once (no retries of its own) and return the platform's id of the last message
    sent, when it has one (a reply to it is matched to the notice).

    Raises ChannelUnreachable when the platform refuses the user for good,
    RateLimited on a 429; any other exception is retried later by the worker.
    """

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None: ...


class PushError(Exception):
    """The push could not be delivered (unknown user, channel not running)."""


class Push(Protocol):
    """Sends replies to a chat user on whatever channel they use, through the outbox."""

    async def push(
        self,
        chat_user_id: int,
        replies: Sequence[Reply],
        *,
        author: str = "system",
        session: AsyncSession | None = None,
        kind: str = "push",
    ) -> bool:
        """Deliver `replies` to the user. Without `session`: commit the row and send it
        now; True when it was sent. With `session`: add the row to the caller's
        transaction; True when it was queued (sent after the commit). False when the
        user cannot be reached.

        Raises:
            PushError: unknown user, or the user's channel is not running here.
        """
        ...

    async def enqueue(
        self,
        session: AsyncSession,
        chat_user_id: int,
        replies: Sequence[Reply],
        author: str = "system",
        kind: str = "push",
        *,
        claim: bool = False,
    ) -> int | None:
        """Write the outbox row for one user in the caller's transaction; its id, or None
        when the user cannot be reached. `claim`: the caller will `send_now` it after the
        commit."""
        ...

    async def send_now(self, delivery_ids: Sequence[int]) -> bool:
        """Send committed rows at once; True when sent (or left to another process)."""
        ...

    async def ready(self) -> None:
        """Make sure this process's sender is known before rows are claimed for it."""
        ...

    async def mark_unreachable(self, chat_user_id: int) -> None:
        """Stop pushing to a user the platform refuses (they blocked the bot)."""
        ...
