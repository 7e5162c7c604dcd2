"""The demo data holds the notices each persona already had (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.demo.definitions import personas
from bot.store.db import Database
from bot.store.models import Notice


async def test_every_persona_had_a_bill_notice_and_an_outage_notice(seeded_url: str) -> None:
    db = Database(seeded_url)
    try:
        async with db.reading() as session:
            notices = list(
                await session.scalars(select(Notice).where(Notice.key.startswith("history:")))
            )
    finally:
        await db.dispose()
    for person in personas():
        codes = person["customer_codes"]
        theirs = [n for n in notices if n.meta["customer_code"] in codes]
        kinds = {n.kind for n in theirs}
        assert {"bill_issued", "outage_planned", "outage_restored"} <= kinds, person["name"]
        for notice in theirs:
            texts = {lang: m[0]["text"] for lang, m in notice.meta["messages"].items()}
            assert set(texts) == {"vi", "en"} and all(texts.values())
            assert notice.created_at <= datetime(2026, 11, 26, 12, tzinfo=UTC)  # the demo's day
    an = [n for n in notices if n.meta["customer_code"] == "PC05CC0123456"]
    assert "bill_reminder" in {n.kind for n in an}  # her unpaid bill was reminded
