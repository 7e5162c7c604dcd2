"""Outages named by a list of customer codes, a new expected end, power back later than
expected, and the preview the console shows before publishing (bot/notify/outages.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.core.fmt import LOCAL_TZ
from bot.notify import scheduler
from bot.notify.outages import (
    UnknownCodes,
    create_outage,
    outage_draft,
    outage_end_changed,
    power_restored,
    preview_outage,
)
from bot.notify.outbox import replies_of
from bot.notify.producers import NoticeError
from bot.notify.segments import Area, resolve_area
from bot.store.models import Delivery, Outage
from tests.notify.conftest import HAI_CHAU, HOI_AN, NOW, World

A, B, C = "PC05CC0000001", "PC05CC0000002", "PC05CC0000003"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def text_of(row: Delivery) -> str:
    return replies_of(row)[0].text


async def publish(
    world: World,
    *,
    area: Area | None = None,
    codes: tuple[str, ...] = (),
    start: str = "2026-11-26 14:30",
    end: str = "2026-11-26 18:00",
    kind: str = "incident",
    reason: str = "Sự cố máy biến áp",
) -> int:
    async with world.db.transaction() as session:
        made = await create_outage(
            session,
            world.texts,
            backend=world.backend,
            area=area,
            customer_codes=codes,
            start=local(start),
            end=local(end),
            reason=reason,
            kind=kind,
            now=NOW,
            notice_days=world.settings.outage_notice_days,
            created_by="operations",
        )
    return made.outage_id


async def mark_sent(world: World) -> None:
    async with world.db.transaction() as session:
        await session.execute(update(Delivery).values(status="sent"))


async def test_an_outage_of_listed_customers_tells_only_their_chats_and_names_their_ward(
    world: World,
) -> None:
    await world.customer(A, ward=HOI_AN)
    await world.customer(B, ward=HOI_AN)
    await world.customer(C, ward=HAI_CHAU)
    listed = await world.chat("listed", A)
    neighbour = await world.chat("neighbour", B)  # same ward, not on the list

    outage_id = await publish(world, codes=(" pc05cc0000001", A))

    rows = await world.rows(f"outage:{outage_id}:incident")
    assert [row.chat_user_id for row in rows] == [listed.id]
    assert neighbour.id not in [row.chat_user_id for row in await world.rows()]
    assert text_of(rows[0]).startswith("⚡ Sự cố mất điện khu vực phường Hội An từ 14:30")
    async with world.db.reading() as session:
        recorded = await session.get(Outage, outage_id)
        assert recorded is not None
        assert recorded.areas == [] and recorded.created_by == "operations"
        assert recorded.area_description == "phường Hội An"
    with pytest.raises(UnknownCodes) as refused:
        await publish(world, codes=(A, "PC05CC9999999", "khong-phai-ma"))
    assert refused.value.codes == ("PC05CC9999999", "KHONG-PHAI-MA")


async def test_a_new_expected_end_is_told_to_those_told_and_carried_by_rows_not_sent(
    world: World,
) -> None:
    await world.customer(A)
    told = await world.chat("told", A)
    outage_id = await publish(world, area=resolve_area("48", "20410"))
    await mark_sent(world)
    later = await world.chat("linked-later", A)
    await world.run(scheduler.run_outage_notices)  # its row waits for the worker

    async with world.db.transaction() as session:
        changed = await outage_end_changed(
            session,
            outage_id,
            world.texts,
            backend=world.backend,
            end=local("2026-11-26 20:00"),
            now=NOW,
        )

    assert changed.rewritten == 1 and changed.told.recipients == 1
    [update_row] = await world.rows(f"outage:{outage_id}:updated:1")
    assert update_row.chat_user_id == told.id and update_row.urgent  # the power is off
    assert text_of(update_row) == (
        "⚡ Cập nhật lịch ngừng cung cấp điện khu vực phường Hội An: dự kiến có điện lại lúc "
        "20:00 ngày 26/11/2026. Điện lực PC05CC xin lỗi Quý khách vì sự bất tiện."
    )
    waiting = next(
        row
        for row in await world.rows(f"outage:{outage_id}:incident")
        if row.chat_user_id == later.id
    )
    assert "Dự kiến có điện lại lúc 20:00 ngày 26/11/2026" in text_of(waiting)
    async with world.db.transaction() as session:
        for end, error in [
            (local("2026-11-26 20:00"), "unchanged"),
            (local("2026-11-26 14:00"), "after the start"),
            (local("2026-11-26 14:45"), "has passed"),  # 15:00 now
        ]:
            with pytest.raises(NoticeError, match=error):
                await outage_end_changed(
                    session, outage_id, world.texts, backend=world.backend, end=end, now=NOW
                )


async def test_power_back_later_than_expected_says_when_it_came_back(world: World) -> None:
    await world.customer(A)
    await world.chat("an", A)
    outage_id = await publish(world, area=resolve_area("48", "20410"), end="2026-11-26 15:30")
    await mark_sent(world)
    back = NOW + timedelta(hours=1)  # 16:00, half an hour after the expected end

    async with world.db.transaction() as session:
        await power_restored(session, outage_id, world.texts, backend=world.backend, now=back)

    [row] = await world.rows(f"outage:{outage_id}:restored")
    assert "từ 16:00 ngày 26/11/2026" in text_of(row)
    async with world.db.reading() as session:
        recorded = await session.get(Outage, outage_id)
        assert recorded is not None
        assert recorded.restored_at == recorded.end_at == back
    async with world.db.transaction() as session:
        with pytest.raises(NoticeError, match="restored"):
            await outage_end_changed(
                session,
                outage_id,
                world.texts,
                backend=world.backend,
                end=back + timedelta(hours=1),
                now=back,
            )


async def test_the_preview_counts_the_chats_the_notice_then_reaches(world: World) -> None:
    await world.customer(A, ward=HOI_AN)
    await world.customer(C, ward=HAI_CHAU)
    await world.chat("telegram", A)
    await world.chat("web", A, channel="web")
    switched_off = await world.chat("switched-off", A)
    await world.opt_out(switched_off, "outage")
    await world.chat("elsewhere", C)
    area = resolve_area("da nang", "hoi an")
    draft = await outage_draft(
        world.backend,
        area=area,
        kind="planned",
        start=local("2026-12-03 07:00"),
        end=local("2026-12-03 15:30"),
        reason="Bảo dưỡng đường dây",
        now=NOW,
    )
    async with world.db.reading() as session:
        preview = await preview_outage(
            session, world.texts, backend=world.backend, outage=draft, now=NOW, notice_days=5
        )

    assert sorted(p.chat_user.channel for p in preview.recipients) == ["telegram", "web"]
    assert preview.first_at == local("2026-11-28 07:00")
    assert preview.eve_at == local("2026-12-02 18:00")
    outage_id = await publish(
        world,
        area=area,
        start="2026-12-03 07:00",
        end="2026-12-03 15:30",
        kind="planned",
        reason="Bảo dưỡng đường dây",
    )
    [first, *_] = rows = await world.rows(f"outage:{outage_id}:planned")
    assert len(rows) == len(preview.recipients)
    assert text_of(first) == preview.text  # what the customer reads, word for word
