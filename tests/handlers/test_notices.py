"""The "🔔 Thông báo" tab (recent notices by category, unread counts and marks, marking
read) and "Nhận thông báo" (which categories arrive, per code; one-tap unsubscribe),
with notices written to the outbox as producers write them and sent by the worker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.core.messages import Button, Reply
from bot.notify import outbox, subscriptions
from bot.store.models import ChatUser, Delivery, Notice
from tests.drivers import Driver
from tests.handlers.rig import LightRig, password_login
from tests.helpers import eventually

AN = ("annguyen", "An@2026cskh")
HOME, SHOP = "PC05CC0123456", "PC05CC0123457"  # Nguyễn Văn An's two codes


@dataclass(frozen=True)
class Sent:
    notice_id: int
    delivery_ids: list[int]


async def chat_user(rig: LightRig, driver: Driver) -> ChatUser:
    async with rig.runtime.db.reading() as session:
        user = await session.scalar(
            select(ChatUser).where(
                ChatUser.channel == driver.channel,
                ChatUser.platform_user_id == driver.platform_user_id,
            )
        )
    assert user is not None
    return user


async def send_notice(
    rig: LightRig,
    driver: Driver,
    category: str,
    text: str,
    *,
    code: str | None = None,
    marketing: bool = False,
    buttons: tuple[tuple[Button, ...], ...] = (),
    not_before: datetime | None = None,
) -> Sent:
    """Write a notice for this chat as a producer does (with its "💬 Phản hồi" button)
    and, unless it is for later, have the worker send it."""
    user = await chat_user(rig, driver)
    async with rig.runtime.db.transaction() as session:
        notice = await outbox.notice_for(
            session,
            f"test:{uuid.uuid4().hex}",
            kind=f"test_{category}",
            category=category,
            marketing=marketing,
        )
        reply = Reply(
            text=text,
            buttons=((Button("💬 Phản hồi", payload=f"nreply:{notice.id}"),), *buttons),
        )
        recipient = await session.get(ChatUser, user.id)
        assert recipient is not None
        ids = await outbox.enqueue(
            session,
            notice,
            [outbox.Addressee(recipient, [reply], code)],
            now=rig.clock.now(),
            not_before=not_before,
        )
        notice_id = notice.id
    if ids and not_before is None:
        await delivered(rig, ids)
    return Sent(notice_id, ids)


async def delivered(rig: LightRig, ids: list[int]) -> None:
    """Run the worker until these rows are sent (the rig's own worker may help)."""

    async def sent() -> bool:
        await rig.runtime.worker.run_once()
        return set((await statuses(rig, ids)).values()) == {"sent"}

    await eventually(sent, message=lambda: statuses(rig, ids))


async def statuses(rig: LightRig, ids: list[int]) -> dict[int, str]:
    async with rig.runtime.db.reading() as session:
        rows = await session.execute(
            select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids))
        )
        return {int(i): str(s) for i, s in rows}


async def rows_for(rig: LightRig, driver: Driver) -> int:
    user = await chat_user(rig, driver)
    async with rig.runtime.db.reading() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.chat_user_id == user.id)
            )
            or 0
        )


async def without_demo_history(rig: LightRig) -> None:
    """Leave out the personas' past notices the demo data holds (bot/demo/history.py):
    these tests count notices they send themselves."""
    async with rig.runtime.db.transaction() as session:
        await session.execute(delete(Notice).where(Notice.key.startswith("history:")))


async def tap_under_notice(driver: Driver, payload: str) -> None:
    """Tap a button under a pushed notice (it is not in the driver's last answer)."""
    driver.buttons = [{"title": "under the notice", "payload": payload}]
    await driver.press("under the notice")


# --- the tab ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["rest", "telegram"])
async def test_the_tab_counts_and_marks_unread_notices_and_opening_one_reads_it(
    rig: LightRig, channel: str
) -> None:
    await without_demo_history(rig)
    an = await password_login(rig, channel, f"tab-{channel}", *AN)
    await send_notice(rig, an, "bill", "🧾 Tiền điện kỳ 2 tháng 11/2026: 305.230 đ", code=HOME)
    await send_notice(rig, an, "bill", "🧾 Nhắc thanh toán: hạn 25/11/2026", code=SHOP)
    await send_notice(rig, an, "outage", "⚡ Tạm ngừng cấp điện 07:00–15:30 ngày 02/12", code=HOME)
    # Not shown: a notice about a code this chat does not hold, and one not sent yet.
    await send_notice(rig, an, "bill", "🧾 Tiền điện của người khác", code="PC10AA0034567")
    later = rig.clock.now() + timedelta(hours=2)
    await send_notice(rig, an, "outage", "⚡ Chưa gửi", code=HOME, not_before=later)

    await an.say("menu")
    await an.press("🔔 Thông báo")
    assert an.text == "🔔 Thông báo gần đây: 3 chưa đọc (●)."
    assert an.button_titles == [
        "🧾 Tiền điện (2 mới)",
        "⚡ Tạm ngừng cấp điện (1 mới)",
        "📢 Thông báo khác",
        "✔ Đánh dấu đã đọc hết",
        "🔔 Nhận thông báo",
        "🏠 Menu",
    ]

    await an.press("🧾 Tiền điện (2 mới)")
    assert an.text == "Thông báo tiền điện: 2 chưa đọc (●). Chọn một thông báo để xem lại:"
    assert an.button_titles == [
        "● 26/11 Nhắc thanh toán: hạn 25/11/2026",
        "● 26/11 Tiền điện kỳ 2 tháng 11/2026…",  # cut to fit a phone
        "⬅ Quay lại",
        "🏠 Menu",
    ]
    await an.press("● 26/11 Tiền điện kỳ 2 tháng 11/2026…")
    assert an.text == "🧾 Tiền điện kỳ 2 tháng 11/2026: 305.230 đ"  # as it was sent
    assert an.button_titles == ["💬 Phản hồi", "⬅ Quay lại", "🏠 Menu"]
    await an.press("⬅ Quay lại")
    assert an.text.startswith("Thông báo tiền điện: 1 chưa đọc")
    assert "26/11 Tiền điện kỳ 2 tháng 11/2026…" in an.button_titles  # no mark now

    await an.press("⬅ Quay lại")
    assert an.button_titles[:2] == ["🧾 Tiền điện (1 mới)", "⚡ Tạm ngừng cấp điện (1 mới)"]
    await an.press("✔ Đánh dấu đã đọc hết")
    assert an.text == "✅ Đã đánh dấu 2 thông báo là đã đọc."
    assert an.button_titles == [
        "🧾 Tiền điện",
        "⚡ Tạm ngừng cấp điện",
        "📢 Thông báo khác",
        "🔔 Nhận thông báo",
        "🏠 Menu",
    ]
    await an.press("📢 Thông báo khác")
    assert an.text == "Thông báo khác: chưa có thông báo nào."
    await an.say("thông báo")
    assert an.text == "🔔 Thông báo gần đây: Quý khách đã đọc hết."


async def test_the_tab_is_honest_when_empty_and_personal(rig: LightRig) -> None:
    stranger = await rig.driver("rest", "tab-stranger")
    await stranger.say("/notices")
    assert stranger.text.startswith("🔑 Mục này cần đăng nhập")
    await without_demo_history(rig)
    dung = await password_login(rig, "rest", "tab-dung", "dungpham", "Dung@2026cskh")
    await dung.press("🏠 Menu")
    await dung.press("🔔 Thông báo")
    assert dung.text.startswith("🔔 Quý khách chưa có thông báo nào.")
    assert dung.button_titles == ["🔔 Nhận thông báo", "🏠 Menu"]


async def test_a_notice_of_another_chat_cannot_be_opened(rig: LightRig) -> None:
    an = await password_login(rig, "rest", "tab-an", *AN)
    other = await password_login(rig, "rest", "tab-an-phone", *AN)
    theirs = await send_notice(rig, other, "bill", "🧾 Tiền điện kỳ 2", code=HOME)
    await tap_under_notice(an, f"nview:{theirs.delivery_ids[0]}")
    assert an.text.splitlines()[0] == "Không tìm thấy thông báo này trong khung chat của Quý khách."
    await tap_under_notice(an, f"nreply:{theirs.notice_id}")
    assert an.text.startswith("Không tìm thấy thông báo này")


# --- which notices arrive ----------------------------------------------------------------------


async def test_switching_a_category_off_for_one_code_stops_its_notices_until_switched_on(
    rig: LightRig,
) -> None:
    an = await password_login(rig, "rest", "subs-an", *AN)
    await an.say("cài đặt")
    await an.press("🔔 Nhận thông báo")
    assert an.text.splitlines() == [
        "🔔 Nhận thông báo. Bấm một nút để bật hoặc tắt:",
        f"• {HOME}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện bật",
        f"• {SHOP}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện bật",
        "• Thông báo khác: bật",
    ]
    assert an.button_titles == [
        f"Tắt tiền điện · {HOME}",
        f"Tắt cảnh báo tiêu thụ · {HOME}",
        f"Tắt ngừng cấp điện · {HOME}",
        f"Tắt tiền điện · {SHOP}",
        f"Tắt cảnh báo tiêu thụ · {SHOP}",
        f"Tắt ngừng cấp điện · {SHOP}",
        "Tắt thông báo khác",
        "⬅ Quay lại",
        "🏠 Menu",
    ]
    # Waiting for quiet hours to end: switched off before it goes, it never goes.
    waiting = await send_notice(
        rig, an, "bill", "🧾 Tiền điện", code=SHOP, not_before=rig.clock.now() + timedelta(hours=1)
    )
    await an.press(f"Tắt tiền điện · {SHOP}")
    assert an.text.splitlines()[0] == f"Đã tắt tiền điện ({SHOP})."
    assert f"• {SHOP}: tiền điện tắt, cảnh báo tiêu thụ bật, ngừng cấp điện bật" in an.text
    assert await statuses(rig, waiting.delivery_ids) == {waiting.delivery_ids[0]: "skipped"}

    assert (await send_notice(rig, an, "bill", "🧾 Cửa hàng", code=SHOP)).delivery_ids == []
    assert (await send_notice(rig, an, "bill", "🧾 Nhà", code=HOME)).delivery_ids != []
    assert (await send_notice(rig, an, "outage", "⚡ Cửa hàng", code=SHOP)).delivery_ids != []

    await an.press(f"Bật tiền điện · {SHOP}")
    assert an.text.splitlines()[0] == f"✅ Đã bật tiền điện ({SHOP})."
    assert (await send_notice(rig, an, "bill", "🧾 Cửa hàng", code=SHOP)).delivery_ids != []

    await an.press("Tắt thông báo khác")
    assert "• Thông báo khác: tắt" in an.text
    assert (await send_notice(rig, an, "other", "📢 Tri ân khách hàng")).delivery_ids == []
    await an.press("⬅ Quay lại")
    assert an.text.startswith("⚙️ Cài đặt.")


async def test_the_unusual_use_line_is_switched_per_code_like_a_category(
    rig: LightRig,
) -> None:
    an = await password_login(rig, "rest", "subs-usage", *AN)
    await an.say("nhận thông báo")
    await an.press(f"Tắt cảnh báo tiêu thụ · {HOME}")
    assert an.text.splitlines()[0] == f"Đã tắt cảnh báo tiêu thụ ({HOME})."
    assert f"• {HOME}: tiền điện bật, cảnh báo tiêu thụ tắt, ngừng cấp điện bật" in an.text
    assert f"• {SHOP}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện bật" in an.text
    # The bill notices themselves still come.
    assert (await send_notice(rig, an, "bill", "🧾 Nhà", code=HOME)).delivery_ids != []
    await an.press(f"Bật cảnh báo tiêu thụ · {HOME}")
    assert an.text.splitlines()[0] == f"✅ Đã bật cảnh báo tiêu thụ ({HOME})."
    # The one-tap form too, as a notice's button would carry it.
    await tap_under_notice(an, f"unsub:usage:{SHOP}")
    assert an.text.startswith(f"🔕 Đã tắt Cảnh báo điện tiêu thụ bất thường ({SHOP}).")
    async with rig.runtime.db.reading() as session:
        off = await subscriptions.switched_off(session, (await chat_user(rig, an)).id)
    assert off == {("usage", SHOP)}


async def test_a_code_that_is_not_linked_cannot_be_switched(rig: LightRig) -> None:
    an = await password_login(rig, "rest", "subs-guard", *AN)
    await tap_under_notice(an, "nsub:off:bill:PC10AA0034567")
    assert an.text.splitlines()[:2] == [
        "Mã khách hàng này không thuộc tài khoản của Quý khách trong khung chat này, "
        "nên tôi không thể thực hiện.",
        "🔔 Nhận thông báo. Bấm một nút để bật hoặc tắt:",
    ]
    assert ": tiền điện tắt" not in an.text
    before = await rows_for(rig, an)
    await send_notice(rig, an, "bill", "🧾 Tiền điện", code=HOME)
    assert await rows_for(rig, an) == before + 1


@pytest.mark.parametrize("channel", ["rest", "telegram"])
async def test_unsubscribe_under_a_marketing_notice_takes_one_tap(
    rig: LightRig, channel: str
) -> None:
    visitor = await rig.driver(channel, f"unsub-{channel}")
    await visitor.say("/start")  # never logged in: "Thông báo khác" still reaches them
    unsubscribe = Button("🔕 Không nhận tin này nữa", payload="unsub:other")
    await send_notice(
        rig,
        visitor,
        "other",
        "📢 Tuần lễ tri ân khách hàng",
        marketing=True,
        buttons=((unsubscribe,),),
    )
    await visitor.receive_pushes()  # the notice really carries the button
    assert visitor.replies[-1].buttons[-1] == (unsubscribe,)

    await tap_under_notice(visitor, "unsub:other")
    assert visitor.text.startswith("🔕 Đã tắt Thông báo khác. Các thông báo còn lại vẫn đến")
    assert "Cài đặt → Nhận thông báo" in visitor.text
    assert visitor.button_titles == ["🔔 Bật lại", "🏠 Menu"]
    assert (await send_notice(rig, visitor, "other", "📢 Sự kiện")).delivery_ids == []

    await visitor.press("🔔 Bật lại")
    assert visitor.text.splitlines()[0] == "✅ Đã bật thông báo khác."
    assert "Đăng nhập để chọn thông báo tiền điện" in visitor.text
    assert (await send_notice(rig, visitor, "other", "📢 Sự kiện")).delivery_ids != []


async def test_one_code_back_on_after_switching_a_category_off_for_the_whole_chat(
    rig: LightRig,
) -> None:
    an = await password_login(rig, "rest", "subs-chat", *AN)
    await tap_under_notice(an, "unsub:outage")  # "Tắt loại thông báo này" with no code
    assert an.text.startswith("🔕 Đã tắt Thông báo tạm ngừng cung cấp điện.")
    await an.say("nhận thông báo")
    assert f"• {HOME}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện tắt" in an.text
    assert f"• {SHOP}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện tắt" in an.text

    await an.press(f"Bật ngừng cấp điện · {HOME}")
    assert f"• {HOME}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện bật" in an.text
    assert f"• {SHOP}: tiền điện bật, cảnh báo tiêu thụ bật, ngừng cấp điện tắt" in an.text
    assert (await send_notice(rig, an, "outage", "⚡ Nhà", code=HOME)).delivery_ids != []
    assert (await send_notice(rig, an, "outage", "⚡ Cửa hàng", code=SHOP)).delivery_ids == []
