"""Live events for open consoles: "conversation 42 changed", "the queue changed".

The engine, the delivery worker and the console publish an event once the change is
committed; every console page open in any process hears it and fetches what changed
(the events carry ids, never customers' words: what a page may show is decided when
it fetches, by the staff member's role). With CSKH_REDIS_URL the events go through a
Redis channel to every `cskh serve`; without it they stay in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import AFTER_COMMIT

log = logging.getLogger(__name__)

CHANNEL = "cskh:console"
QUEUE_SIZE = 1000  # events a slow page may fall behind by; past it, it reloads


class LiveFeed:
    """Publishes events and hands them to every subscriber (an open console page)."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on Redis for other processes' events (when CSKH_REDIS_URL is set)."""
        if not self.redis_url or self._redis is not None:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(self.redis_url)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        self._listener = asyncio.create_task(self._listen(pubsub), name="console-live")

    async def stop(self) -> None:
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def after_commit(self, session: AsyncSession, event: dict[str, Any]) -> None:
        """Publish `event` once the session's transaction commits (not if it fails)."""
        session.info.setdefault(AFTER_COMMIT, []).append(lambda: self.publish(event))

    def publish(self, event: dict[str, Any]) -> None:
        """Send `event` to every console (through Redis when it is configured)."""
        if self._redis is None:
            self._hand_out(event)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command-line tool): nobody is listening here
            return
        task = loop.create_task(self._publish(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, event: dict[str, Any]) -> None:
        try:
            await self._redis.publish(CHANNEL, json.dumps(event))
        except Exception:  # Redis is down: this process's pages still hear it
            log.warning("live event not published through Redis", exc_info=True)
            self._hand_out(event)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of every event from now until the block ends."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _hand_out(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled page: tell it to reload instead
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait({"type": "reload"})

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._hand_out(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: resubscribe; pages reload on "reload"
                log.warning("console live feed interrupted; resubscribing", exc_info=True)
                self._hand_out({"type": "reload"})
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(CHANNEL)


def conversation_changed(conversation_id: int) -> dict[str, Any]:
    return {"type": "conversation", "id": conversation_id}
