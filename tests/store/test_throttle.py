"""The GCRA throttle behind the web chat's limits: a burst, then one per interval, the
same in memory and in Redis (shared by every process)."""

from __future__ import annotations

import os
import uuid

import pytest

from bot.store.throttle import MemoryThrottle, Rate, RedisThrottle, Throttle

REDIS_URL = os.environ.get("CSKH_TEST_REDIS_URL")
RATE = Rate(6, 60, burst=3)  # 3 at once, then one every 10 s


async def allowed_at(throttle: Throttle, key: str, moments: list[float]) -> list[bool]:
    return [(await throttle.take(key, RATE, now=moment)).allowed for moment in moments]


async def check(throttle: Throttle) -> None:
    key = f"test:{uuid.uuid4().hex}"
    assert await allowed_at(throttle, key, [100, 100, 100, 100]) == [True] * 3 + [False]
    refused = await throttle.take(key, RATE, now=101)
    assert not refused.allowed and refused.retry_after == pytest.approx(9)
    assert await allowed_at(throttle, key, [110, 110, 125, 200]) == [True, False, True, True]
    assert await allowed_at(throttle, "other-" + key, [100, 100, 100]) == [True] * 3


async def test_memory_gives_a_burst_then_one_per_interval() -> None:
    await check(MemoryThrottle())


@pytest.mark.skipif(not REDIS_URL, reason="CSKH_TEST_REDIS_URL is not set")
async def test_redis_gives_the_same_answers_as_memory() -> None:
    throttle = RedisThrottle.from_url(str(REDIS_URL))
    try:
        await check(throttle)
    finally:
        await throttle.close()


async def test_a_flood_of_fresh_keys_keeps_memory_bounded() -> None:
    throttle = MemoryThrottle()
    throttle.MAX_KEYS = 1000
    for index in range(5000):
        await throttle.take(f"visitor-{index}", RATE, now=100.0)
    assert len(throttle) <= 1000
    # A key under pressure is still limited after the pruning.
    assert await allowed_at(throttle, "visitor-4999", [100, 100, 100]) == [True, True, False]


async def test_a_redis_outage_lets_messages_through_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = RedisThrottle.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        for _ in range(3):
            assert (await throttle.take("k", RATE)).allowed
    finally:
        await throttle.close()
    assert caplog.text.count("rate limits unavailable") == 1
