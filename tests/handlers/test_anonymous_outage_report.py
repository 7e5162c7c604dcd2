"""An outage reported by a customer who has not logged in (issue 15, point 12): by the
ward typed or a shared location, with a phone to call back, filed as the real urgent
report staff work on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.core.fmt import LOCAL_TZ
from bot.store.models import ServiceRequest
from tests.drivers import Driver
from tests.handlers.rig import LightRig
from tests.handlers.test_services import FORMS, answer, field_asked

# During the planned outage of phường Pleiku (28/11/2026 07:00–15:30, demo data).
DURING = datetime(2026, 11, 28, 9, 0, tzinfo=LOCAL_TZ)


async def at_pleiku_outage(rig: LightRig) -> None:
    rig.clock.advance(seconds=(DURING - rig.clock.now()).total_seconds())


async def finish(driver: Driver) -> str:
    form = FORMS["report_outage"]
    for _ in range(20):
        if "kiểm tra lại" in driver.text:
            break
        if field_asked(form, driver.text).type == "phone":
            await driver.say("0914 222 333")
        else:
            await answer(driver, field_asked(form, driver.text))
    await driver.press("📨 Gửi yêu cầu")
    return driver.text


async def requests_of(rig: LightRig) -> list[ServiceRequest]:
    async with rig.runtime.db.reading() as session:
        return list(await session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))


async def test_an_outage_is_reported_by_ward_without_login_regression(rig: LightRig) -> None:
    await at_pleiku_outage(rig)
    visitor = await rig.driver("rest", "no-login-ward")
    await visitor.say("mất điện rồi")
    assert "🔑 Mục này cần đăng nhập" not in visitor.text
    assert "Đăng nhập" in visitor.text and "theo dõi" in visitor.text  # what login adds
    assert "Địa chỉ trên hợp đồng của tôi" not in visitor.button_titles
    await visitor.press("Địa chỉ khác")
    await visitor.say("15 Hùng Vương")
    await visitor.say("Pleiku")
    # The planned outage of that ward, said at once, as to a logged-in customer.
    assert "⚡ Khu vực phường Pleiku đang có lịch tạm ngừng cung cấp điện" in visitor.text
    text = await finish(visitor)
    assert text.startswith("⚡ Báo mất điện YC-2026-")
    assert "0914 222 333" in text
    (filed,) = await requests_of(rig)
    assert filed.type == "report_outage" and filed.urgent
    assert filed.customer_code is None
    assert filed.data["answers"]["address"]["ward"] == "Phường Pleiku"
    assert filed.data["answers"]["contact_phone"] == "+84914222333"


async def test_an_outage_is_reported_from_a_shared_location_without_login(
    rig: LightRig,
) -> None:
    visitor = await rig.driver("rest", "no-login-location")
    await visitor.say("/start")
    await visitor.say("nhà tôi mất điện")
    await visitor.press("Vị trí hiện tại của tôi")
    await visitor.send_location(13.9833, 108.0)
    text = await finish(visitor)
    assert text.startswith("⚡ Báo mất điện YC-2026-")
    (filed,) = await requests_of(rig)
    assert filed.urgent and filed.data["answers"]["location"] == {"lat": 13.9833, "lon": 108.0}
