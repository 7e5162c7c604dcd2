"""Campaigns: the segment picks the right chats, the weekly cap skips (and counts) the
rest, pause holds and start resumes, the send time is kept, the image stored once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.notify.campaigns import (
    CampaignError,
    campaign_status,
    create_campaign,
    pause_campaign,
    reach,
    start_campaign,
)
from bot.notify.outbox import replies_of
from bot.notify.segments import Segment
from bot.store.models import Media
from tests.notify.conftest import HAI_CHAU, HOI_AN, NOW, PLEIKU, TODAY, World

A, B, P = "PC05CC0000001", "PC05CC0000002", "PC10AA0000004"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


EVERYONE = Segment()


async def create(world: World, segment: Segment = EVERYONE, **kw: object) -> int:
    async with world.db.transaction() as session:
        campaign = await create_campaign(
            session,
            text=str(kw.pop("text", "Tiết kiệm điện mùa nắng nóng: tắt thiết bị khi không dùng.")),
            segment=segment,
            now=world.clock.now(),
            **kw,  # type: ignore[arg-type]
        )
        return campaign.id


async def start(world: World, campaign_id: int) -> None:
    async with world.db.transaction() as session:
        await start_campaign(
            session,
            campaign_id,
            world.texts,
            backend=world.backend,
            now=world.clock.now(),
            marketing_per_week=world.settings.marketing_per_week,
        )


async def status(world: World, campaign_id: int) -> dict[str, object]:
    async with world.db.reading() as session:
        return await campaign_status(session, campaign_id)


@pytest.fixture
async def town(world: World) -> dict[str, int]:
    """Chats of three customers: a household in debt (past due) in Hội An, a shop in Hải Châu, a
    workshop in Pleiku; plus a chat with no code and one not activated."""
    await world.customer(A, ward=HOI_AN)
    await world.customer(B, ward=HAI_CHAU, tariff="business")
    await world.customer(P, ward=PLEIKU, tariff="production")
    await world.bill(A, issued_on=TODAY - timedelta(days=20))  # past due, unpaid
    await world.bill(B)  # unpaid, not due yet
    chats = {
        "hoi-an": await world.chat("hoi-an", A),
        "hai-chau": await world.chat("hai-chau", B, channel="web", language="en"),
        "pleiku": await world.chat("pleiku", P),
        "no-code": await world.chat("no-code", channel="rest"),
    }
    await world.chat("not-activated", A, activated=False)
    return {name: chat.id for name, chat in chats.items()}


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (Segment(), ["hoi-an", "hai-chau", "pleiku", "no-code"]),
        (Segment(province_code=48), ["hoi-an", "hai-chau"]),
        (Segment(province_code=48, ward_code=HOI_AN), ["hoi-an"]),
        (Segment(tariff_group="business"), ["hai-chau"]),
        (Segment(has_debt=True), ["hoi-an", "hai-chau"]),  # unpaid, due or not
        (Segment(channel="web"), ["hai-chau"]),
        (Segment(language="vi"), ["hoi-an", "pleiku", "no-code"]),
        (Segment(province_code=48, language="vi"), ["hoi-an"]),
    ],
)
async def test_the_segment_picks_its_chats(
    world: World, town: dict[str, int], segment: Segment, expected: list[str]
) -> None:
    campaign_id = await create(world, segment)
    assert await world.rows("campaign:") == []  # a draft sends nothing
    await start(world, campaign_id)

    rows = await world.rows(f"campaign:{campaign_id}")
    assert sorted(row.chat_user_id for row in rows) == sorted(town[name] for name in expected)
    assert all(row.category == "other" and not row.urgent for row in rows)
    first = replies_of(rows[0])[0]
    assert first.text == "Tiết kiệm điện mùa nắng nóng: tắt thiết bị khi không dùng."
    by_chat = {row.chat_user_id: row for row in rows}
    if "hai-chau" in expected:
        english = replies_of(by_chat[town["hai-chau"]])[0]
        assert [[(b.title, b.payload) for b in line] for line in english.buttons] == [
            [("🔕 Turn these messages off", "unsub:other")],
            [("💬 Reply", f"nreply:{rows[0].notice_id}")],
        ]


async def test_the_weekly_cap_skips_and_counts_the_extra_message(
    world: World, town: dict[str, int]
) -> None:
    for _ in range(2):  # two campaigns for Đà Nẵng this week
        await start(world, await create(world, Segment(province_code=48)))
    world.clock.advance(days=1)
    third = await create(world, Segment(), text="Tuần lễ tri ân khách hàng")
    await start(world, third)

    rows = {row.chat_user_id: row for row in await world.rows(f"campaign:{third}")}
    assert rows[town["hoi-an"]].status == rows[town["hai-chau"]].status == "skipped"
    assert rows[town["pleiku"]].status == rows[town["no-code"]].status == "queued"
    shown = await status(world, third)
    assert shown["queued"] == 2 and shown["skipped"] == 2 and shown["total"] == 4

    world.clock.advance(days=7)  # a week after the first two: room again
    fourth = await create(world, Segment(province_code=48))
    await start(world, fourth)
    assert (await status(world, fourth))["queued"] == 2


async def test_a_campaign_scheduled_for_later_counts_in_the_week_it_goes(
    world: World, town: dict[str, int]
) -> None:
    """Started long before its send time, a campaign counts for the cap of whatever
    goes near that time: no seven days hold three marketing messages."""
    later = await create(world, Segment(province_code=48), send_at=NOW + timedelta(days=10))
    await start(world, later)
    world.clock.advance(days=8)  # two days before it goes
    first = await create(world, Segment(province_code=48))
    await start(world, first)
    second = await create(world, Segment(province_code=48))
    await start(world, second)
    assert (await status(world, first))["queued"] == 2
    assert (await status(world, second))["skipped"] == 2

    world.clock.advance(days=10)  # a week after the scheduled one: room again
    fresh = await create(world, Segment(province_code=48))
    await start(world, fresh)
    assert (await status(world, fresh))["queued"] == 2


async def test_pause_holds_what_is_not_sent_and_start_resumes(
    world: World, town: dict[str, int]
) -> None:
    campaign_id = await create(world)
    assert (await status(world, campaign_id))["state"] == "draft"
    async with world.db.transaction() as session:
        with pytest.raises(CampaignError, match="has not started"):
            await pause_campaign(session, campaign_id)
    await start(world, campaign_id)
    assert (await status(world, campaign_id))["queued"] == 4

    async with world.db.transaction() as session:
        assert await pause_campaign(session, campaign_id) == 4
    paused = await status(world, campaign_id)
    assert (paused["state"], paused["queued"], paused["held"]) == ("paused", 0, 4)

    await start(world, campaign_id)
    resumed = await status(world, campaign_id)
    assert (resumed["state"], resumed["queued"], resumed["held"]) == ("running", 4, 0)
    await start(world, campaign_id)  # already running: nothing doubles
    assert (await status(world, campaign_id))["total"] == 4

    async with world.db.transaction() as session:
        with pytest.raises(CampaignError, match="no campaign 404"):
            await start_campaign(
                session, 404, world.texts, backend=world.backend, now=NOW, marketing_per_week=2
            )


async def test_a_campaign_with_a_send_time_waits_for_it(world: World, town: dict[str, int]) -> None:
    campaign_id = await create(world, send_at=NOW + timedelta(hours=2))
    await start(world, campaign_id)
    assert {row.not_before for row in await world.rows("campaign:")} == {NOW + timedelta(hours=2)}
    async with world.db.transaction() as session:
        with pytest.raises(CampaignError, match="in the past"):
            await create_campaign(
                session, text="x", segment=Segment(), now=NOW, send_at=NOW - timedelta(minutes=1)
            )


async def test_the_image_is_stored_once_for_every_recipient(
    world: World, town: dict[str, int]
) -> None:
    campaign_id = await create(world, image=PNG, image_name="poster.png")
    await start(world, campaign_id)

    rows = await world.rows("campaign:")
    images = {replies_of(row)[0].image for row in rows}
    assert len(rows) == 4 and len(images) == 1
    [image] = images
    assert image is not None and image.media_id and image.content_type == "image/png"
    async with world.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Media)) == 1
    async with world.db.transaction() as session:
        with pytest.raises(CampaignError, match="not a JPEG, PNG, GIF or WebP"):
            await create_campaign(
                session, text="x", segment=Segment(), now=NOW, image=b"%PDF-1.7 not a picture"
            )
        # The text of a picture is its caption, one message: Telegram takes 1,024.
        with pytest.raises(CampaignError, match="caption: 1025 characters, at most 1024"):
            await create_campaign(session, text="đ" * 1025, segment=Segment(), now=NOW, image=PNG)
        await create_campaign(session, text="đ" * 1024, segment=Segment(), now=NOW, image=PNG)


async def test_a_chat_that_switched_other_notices_off_gets_no_campaign(
    world: World, town: dict[str, int]
) -> None:
    unsubscribed = await world.chat("unsubscribed", A)
    await world.opt_out(unsubscribed, "other")
    campaign_id = await create(world)
    await start(world, campaign_id)
    rows = await world.rows(f"campaign:{campaign_id}")
    assert sorted(row.chat_user_id for row in rows) == sorted(town.values())


async def test_reach_counts_ahead_what_start_writes(world: World, town: dict[str, int]) -> None:
    """The console shows who a segment reaches before sending: chats that switched
    campaigns off get no row, chats at the weekly cap a skipped one."""
    await world.opt_out(await world.chat("unsubscribed", A), "other")
    # Switched off for its Đà Nẵng code only: it got neither campaign for Đà Nẵng, and
    # takes one for everybody through its Gia Lai code.
    await world.opt_out(await world.chat("two-codes", A, P), "other", A)
    for _ in range(2):  # two campaigns for Đà Nẵng this week
        await start(world, await create(world, Segment(province_code=48)))

    async with world.db.reading() as session:
        found = await reach(session, Segment(), backend=world.backend, at=NOW, marketing_per_week=2)
    assert (found.matching, found.opted_out, found.at_cap, found.receiving) == (6, 1, 2, 3)
    campaign_id = await create(world)
    await start(world, campaign_id)
    shown = await status(world, campaign_id)
    assert (shown["queued"], shown["skipped"]) == (found.receiving, found.at_cap)
