"""The console's live feed (bot/core/live.py): events after a commit, never after a
rollback, and from one process to another through Redis."""

from __future__ import annotations

import asyncio
import os

import pytest

from bot.core.live import LiveFeed, conversation_changed
from bot.store.db import Database


async def test_an_event_is_heard_once_its_change_is_committed(migrated_url: str) -> None:
    feed = LiveFeed()
    db = Database(migrated_url)
    try:
        with feed.subscribe() as heard:
            async with db.transaction() as session:
                feed.after_commit(session, conversation_changed(7))
                assert heard.empty()  # not before the commit
            assert heard.get_nowait() == {"type": "conversation", "id": 7}
            with pytest.raises(RuntimeError):
                async with db.transaction() as session:
                    feed.after_commit(session, conversation_changed(8))
                    raise RuntimeError("the change fails")
            assert heard.empty()  # a change that did not happen is not announced
    finally:
        await db.dispose()


async def test_a_stalled_page_is_told_to_reload_instead_of_growing_forever() -> None:
    feed = LiveFeed()
    with feed.subscribe() as heard:
        for n in range(1500):
            feed.publish(conversation_changed(n))
        assert heard.qsize() == 1000
        events = [heard.get_nowait() for _ in range(1000)]
    assert {"type": "reload"} in events


@pytest.mark.skipif(
    not os.environ.get("CSKH_TEST_REDIS_URL"), reason="CSKH_TEST_REDIS_URL is not set"
)
async def test_an_event_reaches_the_consoles_of_another_process_through_redis() -> None:
    url = os.environ["CSKH_TEST_REDIS_URL"]
    here, there = LiveFeed(url), LiveFeed(url)
    await here.start()
    await there.start()
    try:
        with there.subscribe() as heard:
            here.publish(conversation_changed(42))
            event = await asyncio.wait_for(heard.get(), 5)
        assert event == {"type": "conversation", "id": 42}
        assert heard.empty()  # once, not once per process
    finally:
        await here.stop()
        await there.stop()
