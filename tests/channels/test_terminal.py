"""`cskh chat`'s channel: numbered buttons, typed commands, pushes, saved files."""

from __future__ import annotations

import io
import os
import pty
from pathlib import Path

from sqlalchemy import select

from bot.app import build_runtime
from bot.channels.terminal import TerminalChannel
from bot.core.messages import Media, Reply
from bot.settings import Settings
from bot.store.models import ChatUser


async def _run(settings: Settings, lines: str, tmp_path: Path) -> str:
    runtime = await build_runtime(settings)
    out = io.StringIO()
    terminal = TerminalChannel(
        runtime.engine,
        runtime.db,
        runtime.texts,
        user_id="me",
        downloads=tmp_path / "downloads",
        stdin=io.StringIO(lines),
        stdout=out,
    )
    runtime.add_channel(terminal)
    try:
        await terminal.run()
    finally:
        await runtime.close()
    return out.getvalue()


async def test_buttons_are_numbered_and_chosen_by_number(
    settings: Settings, tmp_path: Path
) -> None:
    output = await _run(settings, "6\n2\n2\n", tmp_path)
    assert "  1. 🔑 Đăng nhập" in output and "  6. ⚙️ Cài đặt" in output
    assert "⚙️ Cài đặt. Ngôn ngữ hiện tại: Tiếng Việt." in output
    assert "Quý khách chọn ngôn ngữ / Choose your language:" in output
    assert "Switched to English." in output


async def test_bad_commands_are_explained(settings: Settings, tmp_path: Path) -> None:
    output = await _run(settings, "/location abc\n/photo /no/such/file.jpg\n", tmp_path)
    assert "Cách dùng: /location 16.0544 108.2022" in output
    assert "Không đọc được tệp /no/such/file.jpg" in output


async def test_a_typed_sms_code_and_phone_number_are_text_not_button_numbers_regression(
    settings: Settings, tmp_path: Path
) -> None:
    # 🔑 Đăng nhập, ✅ Đồng ý, 📱 Số điện thoại, the phone, 💬 SMS, then the code.
    output = await _run(settings, "1\n1\n1\n0914222333\n1\n791207\n", tmp_path)
    assert "Chọn một số" not in output
    assert "Nếu số 0914 *** 333 có trong hợp đồng, mã 6 số đã được gửi." in output
    assert "Mã chưa đúng hoặc đã hết hạn." in output  # the code reached the bot as text


async def test_a_number_beyond_the_buttons_shown_is_text(
    settings: Settings, tmp_path: Path
) -> None:
    output = await _run(settings, "99\n8\n", tmp_path)
    assert "Chọn một số" not in output
    # Both reached the bot as text: the language model answered each (a bare "99" may
    # be read as 99 kWh to estimate), no button was pressed.
    text_answers = ("Xin lỗi, tôi chưa hiểu", "Ý Quý khách là", "Tiền điện ước tính")
    assert sum(output.count(answer) for answer in text_answers) == 2, output


async def test_location_and_photo_are_sent(settings: Settings, tmp_path: Path) -> None:
    photo = tmp_path / "cong-to.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    output = await _run(settings, f"/location 16.06 108.22\n/photo {photo}\n", tmp_path)
    assert "Chưa có điểm thu nào gần vị trí này" in output and "Tôi đã nhận ảnh" in output


async def test_pushes_and_documents_reach_the_terminal(settings: Settings, tmp_path: Path) -> None:
    runtime = await build_runtime(settings)
    out = io.StringIO()
    terminal = TerminalChannel(
        runtime.engine,
        runtime.db,
        runtime.texts,
        user_id="me",
        downloads=tmp_path / "dl",
        stdin=io.StringIO(""),
        stdout=out,
    )
    runtime.add_channel(terminal)
    try:
        await terminal.run()  # /start creates the user
        async with runtime.db.reading() as session:
            user_id = await session.scalar(
                select(ChatUser.id).where(ChatUser.platform_user_id == "me")
            )
        assert user_id is not None
        await runtime.pusher.push(
            user_id,
            [
                Reply(
                    text="📄 Hóa đơn tháng 10",
                    document=Media("application/pdf", "hd.pdf", data=b"%PDF"),
                )
            ],
        )
    finally:
        await runtime.close()
    assert "🔔 📄 Hóa đơn tháng 10" in out.getvalue()
    assert (tmp_path / "dl" / "hd.pdf").read_bytes() == b"%PDF"


class _Keyboard(io.StringIO):
    """The terminal's screen, and a person at its keyboard who types the next line at
    each prompt (into a real pseudo-terminal, which echoes unless told not to)."""

    def __init__(self, keyboard: int, lines: list[str]) -> None:
        super().__init__()
        self.keyboard = keyboard
        self.lines = lines

    def write(self, text: str) -> int:
        written = super().write(text)
        if text.endswith("> "):
            os.write(self.keyboard, (self.lines.pop(0) if self.lines else "\x04").encode())
        return written


async def test_a_password_typed_in_a_terminal_is_not_echoed(
    settings: Settings, tmp_path: Path
) -> None:
    keyboard, terminal_side = pty.openpty()
    # 🔑 Đăng nhập, ✅ Đồng ý, 👤 Tên đăng nhập/mật khẩu, the username, the password.
    screen = _Keyboard(keyboard, ["1\n", "1\n", "2\n", "AnNguyen\n", "An@2026cskh\n"])
    runtime = await build_runtime(settings)
    try:
        with os.fdopen(terminal_side, "r", closefd=False) as stdin:
            terminal = TerminalChannel(
                runtime.engine,
                runtime.db,
                runtime.texts,
                user_id="me",
                downloads=tmp_path / "downloads",
                stdin=stdin,
                stdout=screen,
            )
            await terminal.run()
        echoed = os.read(keyboard, 65536).decode()
    finally:
        await runtime.close()
        os.close(keyboard)
        os.close(terminal_side)
    assert "AnNguyen" in echoed  # what is no secret is echoed as typed
    assert "An@2026cskh" not in echoed
    output = screen.getvalue()
    assert "🔒 > ••••••" in output and "An@2026cskh" not in output
