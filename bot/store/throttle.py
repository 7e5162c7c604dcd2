"""Rate limits that outlive a connection: "at most N per period, M at once", per key.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket kept as one
timestamp per key): each event pushes the key's "theoretical arrival time" one
interval (period / N) into the future, and an event is refused when that time would
run more than `burst` intervals ahead of now. One number per key makes it cheap to
keep in memory (one process) or in Redis (shared by every process, CSKH_REDIS_URL).

Limits are keyed by what an attacker cannot change for free (a web visitor's cookie
and their network address), so closing the socket and reconnecting does not reset
them (issue 12, point 4).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """`count` events per `per` seconds, at most `burst` (default: `count`) at once."""

    count: int
    per: float
    burst: int | None = None

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0 or (self.burst is not None and self.burst < 1):
            raise ValueError("a rate needs a positive count, period and burst")

    @property
    def interval(self) -> float:
        return self.per / self.count

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else self.count


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next event would be allowed


class Throttle(Protocol):
    """Counts events per key against a rate."""

    async def take(self, key: str, rate: Rate, *, now: float | None = None) -> Verdict:
        """Count one event for `key` if the rate allows it."""
        ...

    async def close(self) -> None: ...


def _decide(tat: float, now: float, rate: Rate) -> tuple[Verdict, float | None]:
    """GCRA on one stored time: the verdict and the new stored time (None: unchanged)."""
    start = max(tat, now)
    new_tat = start + rate.interval
    allow_at = new_tat - rate.capacity * rate.interval
    if allow_at > now:
        return Verdict(False, allow_at - now), None
    return Verdict(True), new_tat


class MemoryThrottle:
    """Limits kept in this process (one process, or when nothing is shared)."""

    MAX_KEYS = 100_000  # past this, keys whose bucket is full again are dropped

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def take(self, key: str, rate: Rate, *, now: float | None = None) -> Verdict:
        moment = time.monotonic() if now is None else now
        verdict, new_tat = _decide(self._tats.get(key, moment), moment, rate)
        if new_tat is not None:
            self._tats[key] = new_tat
            if len(self._tats) > self.MAX_KEYS:
                self._prune(moment)
        return verdict

    def _prune(self, now: float) -> None:
        # A key whose time has passed holds a full bucket: forgetting it changes nothing.
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        if len(self._tats) > self.MAX_KEYS // 2:
            # Still crowded (a flood of fresh keys): keep the half nearest to refusing, so
            # memory stays bounded and pruning is not redone on every call.
            busiest = sorted(self._tats.items(), key=lambda item: item[1], reverse=True)
            self._tats = dict(busiest[: self.MAX_KEYS // 2])

    def __len__(self) -> int:
        return len(self._tats)

    async def close(self) -> None:
        return None


# GCRA in one round trip: KEYS[1] the key; ARGV now, interval, capacity (seconds as
# floats). Returns {allowed (0/1), retry_after as a string}.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - capacity * interval
if allow_at > now then
  return {0, tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, '0'}
"""


class RedisThrottle:
    """Limits shared by every process through Redis (CSKH_REDIS_URL).

    Redis failing must not take the chat down with it: a call that fails is allowed
    (and logged once until Redis answers again)."""

    PREFIX = "cskh:throttle:"

    def __init__(self, client: Any) -> None:
        self._client = client
        self._script = client.register_script(_GCRA)
        self._failing = False

    @classmethod
    def from_url(cls, url: str) -> RedisThrottle:
        import redis.asyncio as redis

        return cls(redis.from_url(url))

    async def take(self, key: str, rate: Rate, *, now: float | None = None) -> Verdict:
        moment = time.time() if now is None else now
        try:
            allowed, retry_after = await self._script(
                keys=[self.PREFIX + key], args=[repr(moment), repr(rate.interval), rate.capacity]
            )
        except Exception as error:  # Redis down: fail open, say so once
            if not self._failing:
                log.warning("rate limits unavailable (Redis: %s); allowing meanwhile", error)
                self._failing = True
            return Verdict(True)
        if self._failing:
            log.warning("rate limits available again (Redis answers)")
            self._failing = False
        return Verdict(bool(int(allowed)), _seconds(retry_after))

    async def close(self) -> None:
        await self._client.aclose()


def _seconds(value: Any) -> float:
    seconds = float(value.decode() if isinstance(value, bytes) else value)
    return seconds if math.isfinite(seconds) else 0.0


def make_throttle(redis_url: str | None) -> Throttle:
    """Redis when the settings give one (limits shared across processes), else memory."""
    return RedisThrottle.from_url(redis_url) if redis_url else MemoryThrottle()
