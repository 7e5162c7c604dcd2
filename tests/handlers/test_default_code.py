"""The default customer code (issue 15, point 9): chosen once right after activation,
changed in Cài đặt → Tài khoản, and used by every lookup without asking, with
"🔁 Mã khác" for the other codes."""

from __future__ import annotations

from tests.drivers import Driver
from tests.handlers.rig import LightRig, assert_activated_as_an, start_login

HOME = "PC05CC0123456 — Nguyễn Văn An"
RESTAURANT = "PC05CC0123457 — Nhà hàng An"


async def an_logs_in(driver: Driver) -> None:
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    await driver.say("annguyen")
    await driver.say("An@2026cskh")


async def test_activation_with_several_codes_asks_for_the_default_once_regression(
    rig: LightRig,
) -> None:
    an = await rig.driver("rest", "an-default")
    await an_logs_in(an)
    assert_activated_as_an(an)
    asking = [reply for reply in an.replies if reply.buttons]
    assert len(asking) == 1  # one question on the screen, not two competing
    assert "mã mặc định" in asking[0].text
    assert an.button_titles == [f"⭐ {HOME}", f"⭐ {RESTAURANT}", "🏠 Menu"]
    await an.press(f"⭐ {RESTAURANT}")
    assert an.text.startswith("✅ Mã mặc định: PC05CC0123457.")
    for title, shown in (
        ("🧾 Thông tin thanh toán", "mã PC05CC0123457:"),
        ("📊 Điện năng tiêu thụ", "mã PC05CC0123457 ("),
        ("📅 Lịch ghi chỉ số", "Mã PC05CC0123457:"),
        ("⚡ Lịch tạm ngừng cấp điện", "phường Hội An"),
        ("🏪 Điểm thu tiền điện", "mã PC05CC0123457 nhất:"),
    ):
        await an.say("/lookup")
        await an.press(title)
        assert "Quý khách tra cứu cho mã khách hàng nào?" not in an.text, title
        assert shown in an.text, title
        assert "🔁 Mã khác" in an.button_titles, title
    await an.press("🔁 Mã khác")
    assert an.text == "Quý khách tra cứu cho mã khách hàng nào?"
    await an.press(HOME)
    assert "mã PC05CC0123456 nhất:" in an.text


async def test_a_lookup_asked_before_login_waits_for_the_default_then_opens(
    rig: LightRig,
) -> None:
    an = await rig.driver("rest", "an-gated")
    await an.say("/lookup")
    await an.press("🧾 Thông tin thanh toán")
    assert an.text.startswith("🔑 Mục này cần đăng nhập")
    await an.press("🔑 Đăng nhập")
    await an.press("✅ Đồng ý")
    await an.press("👤 Tên đăng nhập/mật khẩu")
    await an.say("annguyen")
    await an.say("An@2026cskh")
    assert_activated_as_an(an)
    assert "Quý khách tra cứu cho mã khách hàng nào?" not in an.text
    assert an.button_titles == [f"⭐ {HOME}", f"⭐ {RESTAURANT}", "🏠 Menu"]
    await an.press(f"⭐ {HOME}")
    assert an.text.startswith("✅ Mã mặc định: PC05CC0123456.")
    assert "🧾 Tiền điện kỳ 1 tháng 11/2026 (06/10–05/11), mã PC05CC0123456:" in an.text


async def test_the_default_set_in_settings_is_used_by_lookups_regression(
    rig: LightRig,
) -> None:
    an = await rig.driver("rest", "an-settings")
    await an_logs_in(an)
    await an.press("🏠 Menu")  # no default chosen at activation
    await an.say("/lookup")
    await an.press("📄 Hóa đơn điện tử")
    assert an.text == "Quý khách tra cứu cho mã khách hàng nào?"
    await an.say("/account")
    await an.press("⭐ Mặc định PC05CC0123457")
    await an.say("/lookup")
    await an.press("📄 Hóa đơn điện tử")
    assert an.text.startswith("Mã PC05CC0123457:\nQuý khách chọn kỳ hóa đơn")
    assert "🔁 Mã khác" in an.button_titles
    await an.say("tien dien bao nhieu")
    assert "mã PC05CC0123457:" in an.text.splitlines()[0]


async def test_one_code_is_the_default_without_a_question(rig: LightRig) -> None:
    dung = await rig.driver("rest", "dung-default")
    await start_login(dung)
    await dung.press("👤 Tên đăng nhập/mật khẩu")
    await dung.say("dungpham")
    await dung.say("Dung@2026cskh")
    assert dung.button_titles == ["🔎 Tra cứu", "🏠 Menu"]
    await dung.press("🔎 Tra cứu")
    await dung.press("🧾 Thông tin thanh toán")
    assert "mã PC10AA0034567:" in dung.text
    assert "🔁 Mã khác" not in dung.button_titles
