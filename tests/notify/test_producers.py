"""Producers of notices: bills, reminders, debts, payments, outages and power restored
reach the right chats, in their language, once however often they run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.core.fmt import LOCAL_TZ
from bot.notify import producers, scheduler
from bot.notify.outages import create_outage, power_restored
from bot.notify.outbox import replies_of
from bot.notify.producers import NoticeError
from bot.notify.scheduler import NoticeScheduler
from bot.notify.segments import AreaError, resolve_area
from bot.store.models import Delivery, Outage, OutageArea
from tests.notify.conftest import HAI_CHAU, HOI_AN, NOW, PLEIKU, TODAY, World

A, B, C, P = "PC05CC0000001", "PC05CC0000002", "PC05CC0000003", "PC10AA0000004"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def text_of(row: Delivery) -> str:
    return replies_of(row)[0].text


def buttons_of(row: Delivery) -> list[list[tuple[str, str | None]]]:
    return [[(b.title, b.payload) for b in line] for line in replies_of(row)[0].buttons]


def chats_of(rows: list[Delivery]) -> list[int]:
    return sorted(row.chat_user_id for row in rows)


async def test_a_new_bill_reaches_every_linked_chat_in_its_language_once(world: World) -> None:
    await world.customer(A)
    await world.customer(B)
    an_vi = await world.chat("an-vi", A, B)
    an_en = await world.chat("an-en", A, channel="web", language="en")
    await world.chat("not-activated", A, activated=False)
    await world.chat("blocked-the-bot", A, reachable=False)
    await world.bill(A)
    await world.bill(B, issued_on=TODAY - timedelta(days=2), total=1_250_000)
    await world.bill(A, month=10, issued_on=TODAY - timedelta(days=40))  # told long ago

    summary = await world.run(scheduler.run_bill_notices)

    assert summary["issued"] == (2, 3)
    rows = await world.rows("bill:")
    by_chat = {(row.chat_user_id, row.customer_code): row for row in rows}
    assert set(by_chat) == {(an_vi.id, A), (an_en.id, A), (an_vi.id, B)}
    vietnamese = by_chat[(an_vi.id, A)]
    assert text_of(vietnamese) == (
        "🧾 Thông báo tiền điện kỳ 1 tháng 11/2026 (16/10–15/11), mã PC05CC0000001:\n"
        "134 kWh · 305.230 đ · hạn thanh toán 05/12/2026."
    )
    assert buttons_of(vietnamese) == [
        [("💳 Thanh toán", f"payments:{A}")],
        [("🔕 Tắt loại thông báo này", f"unsub:bill:{A}")],
        [("💬 Phản hồi", f"nreply:{vietnamese.notice_id}")],
    ]
    assert text_of(by_chat[(an_en.id, A)]) == (
        "🧾 Electricity bill for term 1, 11/2026 (16/10–15/11), PC05CC0000001:\n"
        "134 kWh · 305,230 VND · due 05/12/2026."
    )
    assert buttons_of(by_chat[(an_en.id, A)])[-1] == [
        ("💬 Reply", f"nreply:{vietnamese.notice_id}")
    ]
    assert "1.250.000 đ" in text_of(by_chat[(an_vi.id, B)])
    assert all(row.category == "bill" and not row.urgent for row in rows)
    assert all(row.status == "queued" and row.not_before == NOW for row in rows)

    again = await world.run(scheduler.run_bill_notices)
    assert again["issued"] == (2, 0)
    assert len(await world.rows("bill:")) == 3
    assert len(await world.notices()) == 2


async def test_reminder_before_the_due_date_and_debt_notice_after_it(world: World) -> None:
    for code in (A, B, C):
        await world.customer(code)
    soon = await world.chat("due-soon", A)
    late = await world.chat("overdue", B, language="en")
    await world.chat("paid-up", C)
    await world.bill(A, issued_on=TODAY - timedelta(days=7))  # due in 2 days
    await world.bill(B, issued_on=TODAY - timedelta(days=10))  # due yesterday
    await world.bill(C, issued_on=TODAY - timedelta(days=10), paid_at=NOW - timedelta(days=5))

    summary = await world.run(scheduler.run_bill_notices)

    assert summary == {"issued": (0, 0), "reminder": (1, 1), "debt": (1, 1)}
    [reminder] = [row for row in await world.rows("bill:") if row.chat_user_id == soon.id]
    assert text_of(reminder) == (
        "🧾 Nhắc thanh toán: tiền điện kỳ 1 tháng 11/2026, mã PC05CC0000001: 305.230 đ, "
        "hạn thanh toán 28/11/2026. Nếu Quý khách đã thanh toán, vui lòng bỏ qua tin này."
    )
    [debt] = [row for row in await world.rows("bill:") if row.chat_user_id == late.id]
    assert text_of(debt) == (
        "⚠️ The bill for term 1, 11/2026, PC05CC0000002: 305,230 VND is past its due date "
        "(25/11/2026). Please pay soon to avoid a disconnection."
    )
    assert buttons_of(debt)[0] == [("💳 Pay", f"payments:{B}")]

    # The next two days add nothing (each bill is reminded once, its debt told once);
    # the day after A's due date, A's debt notice comes.
    for days in (1, 2):
        await world.run(scheduler.run_bill_notices, NOW + timedelta(days=days))
    assert len(await world.rows("bill:")) == 2
    await world.run(scheduler.run_bill_notices, NOW + timedelta(days=3))
    rows = await world.rows("bill:")
    assert [(row.chat_user_id, text_of(row)[:2]) for row in rows[2:]] == [(soon.id, "⚠️")]


async def test_a_payment_received_is_told_once_with_its_time(world: World) -> None:
    await world.customer(A)
    an = await world.chat("an", A)
    await world.chat("linked-after-paying", A, linked_at=NOW - timedelta(minutes=30))
    await world.bill(
        A, month=10, issued_on=TODAY - timedelta(days=40), paid_at=NOW - timedelta(days=10)
    )
    await world.bill(A, issued_on=TODAY - timedelta(days=3), paid_at=NOW - timedelta(hours=1))

    for _ in range(2):
        summary = await world.run(scheduler.run_payments_received)
    assert summary == {"paid": (1, 0)}
    [row] = await world.rows("bill:")
    assert row.chat_user_id == an.id and row.customer_code == A
    assert text_of(row) == (
        "✅ Đã nhận thanh toán tiền điện kỳ 1 tháng 11/2026, mã PC05CC0000001: 305.230 đ, "
        "lúc 14:00 ngày 26/11/2026. Cảm ơn Quý khách."
    )
    assert buttons_of(row) == [
        [("🔕 Tắt loại thông báo này", f"unsub:bill:{A}")],
        [("💬 Phản hồi", f"nreply:{row.notice_id}")],
    ]


async def test_chats_that_switched_bill_notices_off_get_none(world: World) -> None:
    await world.customer(A)
    await world.customer(B)
    per_code = await world.chat("off-for-A", A, B)
    everything = await world.chat("off-for-all", A)
    outages_only = await world.chat("off-for-outages", A)
    await world.opt_out(per_code, "bill", A)
    await world.opt_out(everything, "bill")
    await world.opt_out(outages_only, "outage")
    await world.bill(A)
    await world.bill(B)

    await world.run(scheduler.run_bill_notices)

    rows = await world.rows("bill:")
    assert sorted((row.chat_user_id, row.customer_code) for row in rows) == [
        (per_code.id, B),
        (outages_only.id, A),
    ]


# --- outages --------------------------------------------------------------------------


async def outage(world: World, area: str, start: str, end: str, kind: str = "planned", **kw: str):
    province, _, ward = area.partition("/")
    async with world.db.transaction() as session:
        return await create_outage(
            session,
            world.texts,
            backend=world.backend,
            area=resolve_area(province, ward or None),
            start=local(start),
            end=local(end),
            reason=kw.get("reason", "Bảo dưỡng đường dây"),
            kind=kind,
            now=world.clock.now(),
            notice_days=world.settings.outage_notice_days,
        )


async def test_a_planned_outage_is_announced_days_ahead_and_again_the_evening_before(
    world: World,
) -> None:
    await world.customer(A, ward=HOI_AN)
    await world.customer(C, ward=HAI_CHAU)
    await world.customer(P, ward=PLEIKU)
    hoi_an = await world.chat("hoi-an", A)
    hoi_an_en = await world.chat("hoi-an-en", A, language="en", channel="web")
    await world.chat("hai-chau", C)
    await world.chat("pleiku", P)

    made = await outage(world, "da nang/hoi an", "2026-12-03 07:00", "2026-12-03 15:30")

    first = await world.rows(f"outage:{made.outage_id}:planned")
    eve = await world.rows(f"outage:{made.outage_id}:eve")
    assert chats_of(first) == chats_of(eve) == sorted([hoi_an.id, hoi_an_en.id])
    assert made.notice is not None and made.notice.recipients == 2
    assert {row.not_before for row in first} == {local("2026-11-28 07:00")}
    assert {row.not_before for row in eve} == {local("2026-12-02 18:00")}
    assert not any(row.urgent for row in first + eve)
    vietnamese = next(row for row in first if row.chat_user_id == hoi_an.id)
    assert text_of(vietnamese) == (
        "⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 03/12/2026, khu vực phường "
        "Hội An. Lý do: Bảo dưỡng đường dây. Điện lực PC05CC xin lỗi Quý khách vì sự bất tiện."
    )
    assert buttons_of(vietnamese) == [
        [("🔕 Tắt loại thông báo này", f"unsub:outage:{A}")],
        [("💬 Phản hồi", f"nreply:{vietnamese.notice_id}")],
    ]
    english_eve = next(row for row in eve if row.chat_user_id == hoi_an_en.id)
    assert text_of(english_eve) == (
        "⚡ Reminder: the power will be off tomorrow, 07:00–15:30 on 03/12/2026, in phường "
        "Hội An. Reason: Bảo dưỡng đường dây. Please plan ahead."
    )


async def test_an_outage_of_a_whole_province_reaches_all_its_wards(world: World) -> None:
    await world.customer(A, ward=HOI_AN)
    await world.customer(C, ward=HAI_CHAU)
    await world.customer(P, ward=PLEIKU)
    hoi_an, hai_chau = await world.chat("hoi-an", A), await world.chat("hai-chau", C)
    await world.chat("pleiku", P)

    made = await outage(world, "Thành phố Đà Nẵng", "2026-12-01 22:00", "2026-12-02 04:00")

    rows = await world.rows(f"outage:{made.outage_id}:planned")
    assert chats_of(rows) == sorted([hoi_an.id, hai_chau.id])
    assert "từ 22:00 ngày 01/12/2026 đến 04:00 ngày 02/12/2026, khu vực thành phố Đà Nẵng" in (
        text_of(rows[0])
    )


@pytest.mark.parametrize(
    ("now", "start", "eve_at"),
    [
        ("2026-11-26 15:00", "2026-11-28 07:00", "2026-11-27 18:00"),  # first now, eve tomorrow
        ("2026-11-26 15:00", "2026-11-27 07:00", None),  # first notice is that same day
        ("2026-11-26 19:00", "2026-11-27 07:00", None),  # the evening before has passed
        ("2026-11-20 09:00", "2026-11-27 07:00", "2026-11-26 18:00"),  # first on the 22nd
    ],
)
async def test_the_evening_before_reminder_only_when_it_adds_something(
    world: World, now: str, start: str, eve_at: str | None
) -> None:
    await world.customer(A)
    await world.chat("an", A)
    world.clock._now = local(now)
    made = await outage(world, "48/20410", start, start.replace("07:00", "11:00"))

    first = await world.rows(f"outage:{made.outage_id}:planned")
    assert [row.not_before for row in first] == [max(local(now), local(start) - timedelta(days=5))]
    eve = await world.rows(f"outage:{made.outage_id}:eve")
    assert [row.not_before for row in eve] == ([local(eve_at)] if eve_at else [])


async def test_an_incident_is_urgent_and_power_restored_reaches_those_it_reached(
    world: World,
) -> None:
    await world.customer(A)
    told = await world.chat("told", A)
    not_yet = await world.chat("not-yet", A)
    made = await outage(
        world,
        "da nang/Hội An",
        "2026-11-26 14:30",
        "2026-11-26 18:00",
        kind="incident",
        reason="Sự cố máy biến áp",
    )

    rows = await world.rows(f"outage:{made.outage_id}:incident")
    assert chats_of(rows) == sorted([told.id, not_yet.id])
    assert all(row.urgent and row.not_before == NOW for row in rows)
    assert text_of(rows[0]) == (
        "⚡ Sự cố mất điện khu vực phường Hội An từ 14:30 ngày 26/11/2026. Nguyên nhân: Sự cố "
        "máy biến áp. Dự kiến có điện lại lúc 18:00 ngày 26/11/2026. Điện lực PC05CC đang "
        "khẩn trương khắc phục, xin lỗi Quý khách vì sự bất tiện."
    )
    async with world.db.transaction() as session:  # the worker sent one of the two
        await session.execute(
            update(Delivery).where(Delivery.chat_user_id == told.id).values(status="sent")
        )

    for _ in range(2):
        async with world.db.transaction() as session:
            restored = await power_restored(
                session,
                made.outage_id,
                world.texts,
                backend=world.backend,
                now=NOW + timedelta(hours=1),
            )
    assert restored.recipients == 0  # the second time: nobody twice
    [back] = await world.rows(f"outage:{made.outage_id}:restored")
    assert back.chat_user_id == told.id and back.urgent
    assert text_of(back) == (
        "✅ Điện đã có lại tại khu vực phường Hội An từ 16:00 ngày 26/11/2026. "
        "Điện lực PC05CC cảm ơn Quý khách đã thông cảm."
    )
    stale = next(row for row in rows if row.chat_user_id == not_yet.id)
    [stale] = [row for row in await world.rows("outage:") if row.id == stale.id]
    assert stale.status == "skipped"  # "the power is out" after it came back helps nobody
    async with world.db.reading() as session:
        recorded = await session.get(Outage, made.outage_id)
        assert recorded is not None
        assert recorded.status == "restored" and recorded.end_at == NOW + timedelta(hours=1)

    async with world.db.transaction() as session:
        with pytest.raises(NoticeError, match="no outage 999"):
            await power_restored(session, 999, world.texts, backend=world.backend, now=NOW)


async def test_outage_areas_by_name_without_diacritics_or_by_code() -> None:
    assert resolve_area("da nang", "hoi an") == resolve_area("48", "20410")
    assert resolve_area("THÀNH PHỐ ĐÀ NẴNG", "Phường Hội An").ward_code == HOI_AN
    assert resolve_area("Gia Lai", "pleiku").ward_code == PLEIKU
    assert resolve_area("Quảng Nam").province_code == 48  # merged into Đà Nẵng in 2025
    assert resolve_area("da nang", "Hoà Cường").name == "Phường Hòa Cường, Thành phố Đà Nẵng"
    for province, ward, error in [
        ("Atlantis", None, "no province named 'Atlantis'"),
        ("99", None, "no province with code 99"),
        ("da nang", "pleiku", "no ward named 'pleiku' in Thành phố Đà Nẵng"),
        ("48", "23575", "ward 23575 is not in Thành phố Đà Nẵng"),
    ]:
        with pytest.raises(AreaError, match=error):
            resolve_area(province, ward)


async def test_the_outage_job_announces_outages_others_recorded_and_chats_linked_since(
    world: World,
) -> None:
    await world.customer(P, ward=PLEIKU)
    first = await world.chat("pleiku-1", P)
    async with world.db.transaction() as session:  # e.g. synced from the utility
        recorded = Outage(
            kind="planned",
            start_at=local("2026-11-28 07:00"),
            end_at=local("2026-11-28 15:30"),
            reason="Thay máy biến áp",
            area_description="Một phần phường Pleiku (Hùng Vương)",
            status="scheduled",
            areas=[OutageArea(province_code=52, ward_code=PLEIKU)],
        )
        session.add(recorded)
    job = scheduler.run_outage_notices

    assert (await world.run(job))["outages"] == (2, 2)
    assert (await world.run(job))["outages"] == (2, 0)
    second = await world.chat("pleiku-2", P)
    assert (await world.run(job))["outages"] == (2, 2)
    rows = await world.rows(f"outage:{recorded.id}:")
    assert sorted((row.chat_user_id, row.not_before) for row in rows) == sorted(
        [(chat.id, when) for chat in (first, second) for when in (NOW, local("2026-11-27 18:00"))]
    )
    # As published: the utility's words say which part of the ward (issue 15).
    assert "khu vực một phần phường Pleiku (Hùng Vương). Lý do: Thay máy biến áp." in text_of(
        rows[0]
    )

    async with world.db.transaction() as session:  # called off: what is not sent stays
        await session.execute(
            update(Outage).where(Outage.id == recorded.id).values(status="cancelled")
        )
    assert (await world.run(job))["cancelled"] == (0, 4)
    assert {row.status for row in await world.rows(f"outage:{recorded.id}:")} == {"skipped"}


async def test_an_outage_of_some_streets_names_them_and_tells_only_who_lives_on_them_regression(
    world: World,
) -> None:
    """The push said "khu vực phường Pleiku" for an outage of two of its streets, and went
    to every customer of the ward."""
    on_it, off_it, no_number = P, "PC10AA0000005", "PC10AA0000006"
    await world.customer(on_it, ward=PLEIKU, address="88 Hùng Vương")
    await world.customer(off_it, ward=PLEIKU, address="12 Trần Phú")
    await world.customer(no_number, ward=PLEIKU, address="Hẻm 5 Phan Bội Châu")
    dung = await world.chat("pleiku-hung-vuong", on_it)
    await world.chat("pleiku-tran-phu", off_it)
    neighbour = await world.chat("pleiku-phan-boi-chau", no_number)
    async with world.db.transaction() as session:  # e.g. synced from the utility
        recorded = Outage(
            kind="planned",
            start_at=local("2026-11-28 07:00"),
            end_at=local("2026-11-28 15:30"),
            reason="Thay máy biến áp",
            area_description="Một phần phường Pleiku (Hùng Vương, Phan Bội Châu)",
            status="scheduled",
            areas=[
                OutageArea(
                    province_code=52, ward_code=PLEIKU, streets=["Hùng Vương", "Phan Bội Châu"]
                )
            ],
        )
        session.add(recorded)

    assert (await world.run(scheduler.run_outage_notices))["outages"] == (2, 4)
    rows = await world.rows(f"outage:{recorded.id}:planned")
    assert sorted(row.chat_user_id for row in rows) == sorted([dung.id, neighbour.id])
    assert text_of(rows[0]) == (
        "⚡ Thông báo tạm ngừng cung cấp điện: 07:00–15:30 ngày 28/11/2026, khu vực một phần "
        "phường Pleiku (Hùng Vương, Phan Bội Châu). Lý do: Thay máy biến áp. Điện lực PC10AA "
        "xin lỗi Quý khách vì sự bất tiện."
    )


async def test_nobody_linked_makes_no_notice(world: World) -> None:
    await world.customer(A)
    await world.bill(A)
    await world.run(scheduler.run_all)
    assert await world.notices() == []
    assert producers.BILL_KINDS == ("issued", "reminder", "debt", "paid")


async def test_the_scheduler_runs_the_jobs_in_the_server_and_wakes_the_worker(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    woken: list[bool] = []
    jobs = NoticeScheduler(
        world.db,
        world.backend,
        world.texts,
        world.settings,
        world.clock,
        lambda: woken.append(True),
    )
    jobs.start()
    try:
        planned = jobs.jobs()
        assert sorted(planned) == ["bills", "outages", "payments"]
        started = datetime.now(LOCAL_TZ)
        assert all(  # a first run a few minutes after the start, then on schedule
            timedelta(0) < when - started <= scheduler.STARTUP_DELAY for when in planned.values()
        )
        await world.customer(A)
        await world.chat("an", A)
        await world.bill(A)
        summary = await jobs.run("bills", scheduler.run_bill_notices)
        assert summary is not None and summary["issued"] == (1, 1) and woken == [True]
        assert await jobs.run("bills", scheduler.run_bill_notices) is not None
        assert woken == [True]  # nothing new: nobody to wake

        async def broken(*_: object) -> scheduler.Summary:
            raise RuntimeError("database away")

        assert await jobs.run("outages", broken) is None  # logged; the next run tries again
        assert "notice job outages failed" in caplog.text
    finally:
        await jobs.stop()
    assert jobs.jobs() == {}
