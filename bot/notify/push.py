"""The push service: send messages to a user who did not just write, on their channel.

`Pusher` implements `Push` (bot/core/outbound.py), which handlers find on the context.
Every push (notice, broadcast, staff reply, status change) goes through it: it writes
an outbox row (outbox.py) and a delivery worker (worker.py) sends it under the
channel's rate limit. `push` without a session is for one customer waiting for the
news: it commits the row, then asks this process's worker to send it at once.
`push(..., session=s)` writes the row in the caller's transaction (the event and its
notice commit together); the worker sends it after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock, SystemClock
from bot.core.messages import Reply
from bot.core.outbound import Outbound, PushError
from bot.core.transcript import store_reply_media
from bot.notify import outbox
from bot.notify.worker import DeliveryWorker
from bot.store.db import AFTER_COMMIT, Database
from bot.store.models import ChatUser

log = logging.getLogger(__name__)


class Pusher:
    """Sends replies to a chat user on whatever channel they use, through the outbox."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Outbound] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.channels: dict[str, Outbound] = dict(channels or {})
        self.clock: Clock = clock or SystemClock()
        self.worker: DeliveryWorker | None = None  # this process's, set by the app

    def register(self, name: str, channel: Outbound) -> None:
        self.channels[name] = channel

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
        transaction; True when it was queued (the worker sends it after the commit).
        False when the user cannot be reached.
        """
        if session is not None:
            return await self.enqueue(session, chat_user_id, replies, author, kind) is not None
        await self.ready()
        async with self.db.transaction() as own:
            delivery_id = await self.enqueue(own, chat_user_id, replies, author, kind, claim=True)
        return await self.send_now([delivery_id]) if delivery_id is not None else False

    async def send_now(self, delivery_ids: Sequence[int]) -> bool:
        """Send committed rows at once with this process's worker; True when sent (or,
        with no worker here, left to a worker in another process)."""
        if self.worker is None:
            return bool(delivery_ids)
        return await self.worker.send_now(delivery_ids)

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
        """Write the outbox row for one user in the caller's transaction; its id, or
        None when the user cannot be reached. `claim`: the caller will `send_now` it
        after the commit, so this process's worker takes it at once (when it sends for
        the user's channel); otherwise the worker is woken once the row commits."""
        user = await session.get(ChatUser, chat_user_id)
        if user is None:
            raise PushError(f"no chat user {chat_user_id}")
        if not user.reachable:
            log.info("push to unreachable chat user %s skipped", chat_user_id)
            return None
        if user.channel not in self.channels:
            raise PushError(f"channel {user.channel!r} of chat user {chat_user_id} is not running")
        stored = await store_reply_media(session, replies, user.id)
        notice = await outbox.notice_for(
            session,
            f"{kind}:{uuid.uuid4().hex}",
            kind=kind,
            category=outbox.SERVICE,
            urgent=True,  # the customer's own business: no quiet hours
            meta={"author": author},
        )
        mine = self.worker is not None and claim and user.channel in self.worker.serves()
        ids = await outbox.enqueue(
            session,
            notice,
            [outbox.Addressee(user, stored)],
            now=self.clock.now(),
            claimed_by=self.worker.id if mine and self.worker is not None else None,
        )
        if self.worker is not None and not mine:
            session.info.setdefault(AFTER_COMMIT, []).append(self.worker.wake)
        return ids[0] if ids else None

    async def ready(self) -> None:
        """Register this process's worker before rows are claimed for it."""
        if self.worker is not None:
            await self.worker.ensure_registered()

    async def mark_unreachable(self, chat_user_id: int) -> None:
        """Stop pushing to a user the platform refuses (they blocked the bot)."""
        async with self.db.transaction() as session:
            user = await session.get(ChatUser, chat_user_id)
            if user is not None and user.reachable:
                user.reachable = False
                log.info("chat user %s is unreachable; pushes stop", chat_user_id)
