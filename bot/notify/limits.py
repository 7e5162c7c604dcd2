"""Per-channel send rate limits: at most N messages in any one-second window, and a
gap between two messages to the same chat (Telegram: 30/s overall, 1/s per chat).

The limiter is per process; run several delivery processes with the limit divided
between them (docs/DESIGN.md). A 429 from the platform pauses the whole channel.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLimit:
    """`per_second`: messages in any one-second window (None: no limit);
    `chat_interval`: seconds between two messages to one chat."""

    per_second: float | None = None
    chat_interval: float = 0.0


# The platform counts a message when it arrives, somewhere between the moment the
# request left here and the moment its answer came back. A send's slot is therefore
# stamped twice: when it is granted, and again when the answer arrives (`release`);
# the window and the chat gap run from the later stamp, so no jitter on the way can
# put N+1 arrivals into one of the platform's seconds. A hair of slack stays for the
# platform's own rounding.
WINDOW = 1.005


@dataclass(slots=True)
class _Stamp:
    """One message in a channel's window: when it counts from, and whether the
    platform has answered it (until then it may still arrive, so it stays counted)."""

    at: float
    answered: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    """One granted send: `release` it when the platform has answered."""

    channel: str
    chat: str
    interval: float
    stamps: tuple[_Stamp, ...]


class RateLimiter:
    """Hands out send slots; `acquire` waits until a message may go, `release` tells
    the limiter when the platform answered."""

    def __init__(
        self,
        limits: Mapping[str, ChannelLimit],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = dict(limits)
        self._monotonic = monotonic
        self._sleep = sleep
        # Per channel, the sends in the last window, oldest first.
        self._sent: dict[str, collections.deque[_Stamp]] = collections.defaultdict(
            collections.deque
        )
        self._turn: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._chat_free_at: dict[tuple[str, str], float] = {}
        self._paused_until: dict[str, float] = {}

    def chat_ready_in(self, channel: str, chat: str) -> float:
        """Seconds until `chat` may get its next message (0 when it may now)."""
        free_at = self._chat_free_at.get((channel, chat), 0.0)
        return max(0.0, free_at - self._monotonic())

    def pause(self, channel: str, seconds: float) -> None:
        """The platform said "too many requests": nothing goes out for `seconds`."""
        until = self._monotonic() + seconds
        self._paused_until[channel] = max(self._paused_until.get(channel, 0.0), until)

    def paused_for(self, channel: str) -> float:
        return max(0.0, self._paused_until.get(channel, 0.0) - self._monotonic())

    async def acquire(self, channel: str, chat: str, messages: int = 1) -> Slot:
        """Wait for the chat's gap, then for room in the channel's window."""
        limit = self.limits.get(channel, ChannelLimit())
        interval = limit.chat_interval * messages
        if limit.chat_interval > 0:
            while (wait := self.chat_ready_in(channel, chat)) > 0:
                await self._sleep(wait)
            # Reserve the chat now: a second message to it waits for the gap.
            self._chat_free_at[(channel, chat)] = self._monotonic() + interval
        stamps: list[_Stamp] = []
        async with self._turn[channel]:
            while (wait := self.paused_for(channel)) > 0:
                await self._sleep(wait)
            if limit.per_second is not None:
                capacity = max(1, int(limit.per_second))
                sent = self._sent[channel]
                for _ in range(messages):
                    while True:
                        now = self._monotonic()
                        self._expire(sent, now)
                        if len(sent) < capacity:
                            break
                        await self._sleep(max(0.001, sent[0].at + WINDOW - now))
                    stamp = _Stamp(self._monotonic())
                    sent.append(stamp)
                    stamps.append(stamp)
        if limit.chat_interval > 0:
            self._chat_free_at[(channel, chat)] = self._monotonic() + interval
            self._forget_old(channel)
        return Slot(channel, chat, interval, tuple(stamps))

    def release(self, slot: Slot) -> None:
        """The platform answered (or the send failed): the window and the chat's gap
        count from now, the latest the platform can have counted the message."""
        now = self._monotonic()
        for stamp in slot.stamps:
            stamp.at = max(stamp.at, now)
            stamp.answered = True
        if slot.interval > 0:
            key = (slot.channel, slot.chat)
            self._chat_free_at[key] = max(self._chat_free_at.get(key, 0.0), now + slot.interval)

    @staticmethod
    def _expire(sent: collections.deque[_Stamp], now: float) -> None:
        """Drop the stamps that left the window. A send still unanswered stays in it
        whatever its age (it may not have arrived yet): it moves to the back, where its
        answer will stamp it."""
        for _ in range(len(sent)):
            stamp = sent[0]
            if stamp.at > now - WINDOW:
                return
            sent.popleft()
            if not stamp.answered:
                stamp.at = now
                sent.append(stamp)

    def _forget_old(self, channel: str) -> None:
        if len(self._chat_free_at) < 50_000:
            return
        now = self._monotonic()
        for key in [k for k, free_at in self._chat_free_at.items() if free_at < now]:
            del self._chat_free_at[key]
