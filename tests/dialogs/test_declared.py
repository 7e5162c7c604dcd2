"""What a form declares beyond its questions, acted on by the engine: the deadline rule
(rural by the ward's kind in vietnam-provinces) and the checks run on answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bot.dialogs.forms import default_forms
from bot.dialogs.runner import FormRunner
from bot.store.backend import OutageRecord
from bot.store.models import Base
from bot.store.places import province_name, ward_name, ward_province
from tests.dialogs.context import Chat, phone_on_record, text

FORMS = default_forms()
RECEIVED = date(2026, 11, 26)  # a Thursday
HOI_AN, BINH_MINH, LY_SON = 20410, 21085, 21548  # a phường, a xã, a đặc khu


def address(ward_code: int, **overrides: Any) -> dict[str, Any]:
    province = ward_province(ward_code)
    return {
        "line": "12 Trần Phú",
        "ward_code": ward_code,
        "ward": ward_name(ward_code),
        "province_code": province,
        "province": province_name(province),
    } | overrides


def promised(form_id: str, answers: dict[str, Any]) -> int:
    days, _ = FormRunner(FORMS, phone_on_record).deadline(FORMS[form_id], answers, RECEIVED)
    return days


@pytest.mark.parametrize(("ward_code", "days"), [(HOI_AN, 3), (BINH_MINH, 5), (LY_SON, 3)])
def test_a_new_connection_takes_longer_in_a_commune(ward_code: int, days: int) -> None:
    answers = {"address": address(ward_code), "needs_works": False}
    assert promised("svc_new_household", answers) == days
    assert promised("svc_new_business", answers) == days


def test_works_take_longest_wherever_the_site() -> None:
    for ward_code in (HOI_AN, BINH_MINH):
        answers = {"address": address(ward_code), "needs_works": True}
        assert promised("svc_new_household", answers) == 7


def test_the_wards_kind_decides_not_how_its_name_is_written() -> None:
    assert promised("svc_new_household", {"address": address(HOI_AN, ward="Xã Hội An")}) == 3
    assert promised("svc_new_household", {"address": address(BINH_MINH, ward="Bình Minh")}) == 5


def test_a_form_without_a_rural_rule_promises_its_days_anywhere() -> None:
    answers = {"new_notice_address": address(BINH_MINH), "changes": ["notice_address"]}
    assert promised("svc_change_info", answers) == 3


class Outages:
    """A utility backend that knows one outage, in phường Hội An."""

    def __init__(self, kind: str) -> None:
        self.asked: list[tuple[int, int | None]] = []
        self.outage = OutageRecord(
            id=1,
            kind=kind,
            start_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),  # 07:00 in Vietnam
            end_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
            reason="Bảo dưỡng lưới điện",
            area_description="Phường Hội An",
            status="announced",
            unit_code=None,
            areas=(),
        )

    async def outages(
        self, province: int, ward: int | None, start: datetime, end: datetime
    ) -> list[OutageRecord]:
        self.asked.append((province, ward))
        return [self.outage] if ward == HOI_AN else []


async def report_at(chat: Chat, area: str) -> list[str]:
    """The outage report answered up to its address: what the engine said last."""
    engine = FormRunner(FORMS, phone_on_record)
    await engine.start(chat.ctx(), "report_outage")
    await engine.pick(chat.ctx(), "other_address")
    await engine.answer(chat.ctx("12 Trần Phú"))
    before = dict(chat.state.form["answers"])
    replies = await engine.answer(chat.ctx(area))
    return [reply.text for reply in await engine.checked(chat.ctx(), before, replies)]


async def test_the_outage_report_tells_at_once_of_an_outage_known_there() -> None:
    chat = Chat(backend=Outages("planned"))
    said = await report_at(chat, "phường Hội An, Đà Nẵng")
    assert said[0].startswith(
        "⚡ Khu vực phường Hội An đang có lịch tạm ngừng cung cấp điện từ 07:00 đến 16:30"
    )
    assert said[1].startswith("Bước 3/6 — Quý khách thấy hiện tượng gì?")
    engine = FormRunner(FORMS, phone_on_record)
    before = dict(chat.state.form["answers"])
    replies = await engine.pick(chat.ctx(), "whole_area")
    assert text(await engine.checked(chat.ctx(), before, replies)).startswith("Bước 4/6")
    assert chat.backend.asked == [(48, HOI_AN)]  # asked once, for the address


async def test_an_incident_being_repaired_is_told_as_one() -> None:
    said = await report_at(Chat(backend=Outages("incident")), "phường Hội An, Đà Nẵng")
    assert said[0].startswith("⚡ Điện lực đã biết sự cố ở phường Hội An từ 07:00")


async def test_no_outage_known_there_says_nothing_more() -> None:
    # Nor a suspected incident (issue 19): the check reads our table of them.
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        chat = Chat(backend=Outages("planned"), session=session)
        said = await report_at(chat, "xã Bình Minh, Quảng Ngãi")
    await engine.dispose()
    assert said[0].startswith("Bước 3/6")
    assert chat.backend.asked == [(51, BINH_MINH)]


async def test_a_form_without_checks_asks_the_backend_nothing() -> None:
    chat = Chat(backend=Outages("planned"))
    engine = FormRunner(FORMS, phone_on_record)
    await engine.start(chat.ctx(), "svc_new_household")
    await engine.answer(chat.ctx("12 Trần Phú"))
    replies = await engine.answer(chat.ctx("phường Hội An, Đà Nẵng"))
    assert await engine.checked(chat.ctx(), {}, replies) == replies
    assert chat.backend.asked == []
