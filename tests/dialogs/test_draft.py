"""The open form's draft, typed: drafts stored before the typed Draft (captured from the
engine on main in stored_drafts.json) read, write back unchanged, and resume where the
customer stopped."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.state import ConversationState
from bot.dialogs.draft import Draft
from bot.dialogs.forms import default_forms
from bot.dialogs.runner import FormRunner
from tests.dialogs.context import Chat, phone_on_record, text, titles

STORED: dict[str, Any] = json.loads(
    (Path(__file__).with_name("stored_drafts.json")).read_text(encoding="utf-8")
)
STORED.pop("_comment")
PHOTO = STORED["photos"]["sub"]["photos"][0]


def chat_with(name: str, *, without: tuple[str, ...] = ()) -> Chat:
    """A chat whose conversation state holds the stored draft `name` (less `without`)."""
    stored = copy.deepcopy(STORED[name])
    for key in without:
        stored.pop(key)
    return Chat(state=ConversationState({"form": stored, "awaiting": {"step": "form"}}))


def runner() -> FormRunner:
    return FormRunner(default_forms(), phone_on_record)


@pytest.mark.parametrize("name", sorted(STORED))
def test_a_stored_draft_reads_and_writes_back_unchanged(name: str) -> None:
    stored = STORED[name]
    assert Draft.from_state(stored).to_state() == stored


def test_a_draft_from_before_sessions_were_recorded_is_no_other_sessions() -> None:
    stored = {k: v for k, v in STORED["photos"].items() if k != "session"}
    draft = Draft.from_state(stored)
    assert draft.session is None and not draft.ended_by_logout("2026-11-26T09:00:00+00:00")
    assert Draft.from_state(STORED["photos"]).ended_by_logout("2026-11-26T09:00:00+00:00")
    assert draft.to_state() == stored


def test_a_stored_draft_expires_a_week_after_its_last_answer() -> None:
    draft = Draft.from_state(STORED["summary"])
    assert not draft.expired(draft.updated + timedelta(days=7))
    assert draft.expired(draft.updated + timedelta(days=7, seconds=1))


async def test_ticked_options_resume_ticked() -> None:
    chat = chat_with("multi_choice_chosen")
    replies = await runner().resume(chat.ctx())
    # Every change asks at least one more question: counted before any is ticked.
    assert text(replies).startswith("Bước 2/3 — Quý khách muốn thay đổi thông tin nào?")
    assert titles(replies)[:5] == [
        "☑ Họ tên",
        "☐ Số điện thoại",
        "☐ Email",
        "☑ Địa chỉ nhận thông báo",
        "☐ Số tài khoản ngân hàng",
    ]
    replies = await runner().done(chat.ctx())
    assert text(replies).splitlines()[:2] == [
        "Với câu trả lời vừa rồi, đơn có thêm 2 bước.",  # the name needs its ID card too
        "Bước 3/5 — Họ tên mới? Ghi như trên CCCD/thẻ căn cước.",
    ]
    assert chat.state.form["answers"]["changes"] == ["name", "notice_address"]


async def test_a_typed_street_resumes_at_the_ward() -> None:
    chat = chat_with("address_line")
    replies = await runner().resume(chat.ctx())
    # The ward is the street's step continued: no second "Bước 4/5".
    assert text(replies).startswith("Phường/xã và tỉnh/thành phố?")
    replies = await runner().answer(chat.ctx("phường Hội An, Đà Nẵng"))
    assert text(replies).startswith("Bước 5/5 — Ảnh CCCD/thẻ căn cước có họ tên mới?")
    assert chat.state.form["display"]["new_notice_address"] == (
        "12 Trần Phú, Phường Hội An, Thành phố Đà Nẵng"
    )


async def test_the_wards_offered_resume_offered() -> None:
    chat = chat_with("address_areas")
    replies = await runner().resume(chat.ctx())
    assert titles(replies)[:2] == ["Phường An Khê, Thành phố Đà Nẵng", "Phường An Khê, Gia Lai"]
    replies = await runner().pick(chat.ctx(), "23617")
    assert text(replies).startswith("Bước 5/5")
    assert chat.state.form["answers"]["new_notice_address"] == {
        "line": "12 Trần Phú",
        "ward_code": 23617,
        "ward": "Phường An Khê",
        "province_code": 52,
        "province": "Gia Lai",
    }


async def test_photos_received_are_kept_and_counted() -> None:
    chat = chat_with("photos")
    replies = await runner().resume(chat.ctx())
    assert "Đã nhận 1 ảnh (tối đa 2)." in text(replies)
    assert titles(replies) == ["✅ Xong", "⬅ Quay lại", "✖ Hủy"]
    replies = await runner().answer(chat.ctx(media=["second-photo"]))  # the most: done
    assert text(replies).startswith("📋 Thay đổi thông tin đã đăng ký — Quý khách kiểm tra lại:")
    assert chat.state.form["answers"]["id_photos"] == [PHOTO, "second-photo"]


async def test_the_summary_resumes_as_it_was() -> None:
    chat = chat_with("summary")
    replies = await runner().resume(chat.ctx())
    assert text(replies).splitlines() == [
        "📋 Thay đổi thông tin đã đăng ký — Quý khách kiểm tra lại:",
        "• Mã khách hàng cần thay đổi thông tin: PC05CC0123456",
        "• Quý khách muốn thay đổi thông tin nào: Họ tên, Địa chỉ nhận thông báo",
        "• Họ tên mới: Nguyễn Văn Bình",
        "• Địa chỉ nhận thông báo mới: 12 Trần Phú, Phường An Khê, Thành phố Đà Nẵng",
        "• Ảnh CCCD/thẻ căn cước có họ tên mới: 1 ảnh",
        "Thông tin đúng thì bấm “📨 Gửi yêu cầu”; chưa đúng thì bấm ✏️ để sửa.",
    ]
    assert runner().visible_answers(Draft.from_state(chat.state.form))["id_photos"] == [PHOTO]


async def test_an_answer_changed_from_the_summary_returns_to_it() -> None:
    chat = chat_with("editing")
    replies = await runner().resume(chat.ctx())
    assert text(replies).startswith("Bước 3/5 — Họ tên mới?")
    assert "Theo hồ sơ" not in text(replies)
    replies = await runner().answer(chat.ctx("Nguyễn Văn Chín"))
    assert "• Họ tên mới: Nguyễn Văn Chín" in text(replies).splitlines()


async def test_a_value_on_record_offered_is_kept_with_one_press() -> None:
    chat = chat_with("offered")
    replies = await runner().resume(chat.ctx())
    assert "Theo hồ sơ: 0905 123 456" in text(replies)
    replies = await runner().keep(chat.ctx())
    assert "• Số điện thoại liên hệ: 0905 123 456" in text(replies).splitlines()
    assert chat.state.form["answers"]["contact_phone"] == "+84905123456"


async def test_a_chosen_retype_is_not_offered_the_record_again() -> None:
    chat = chat_with("retype")
    replies = await runner().resume(chat.ctx())
    assert text(replies) == "Bước 6/6 — Số điện thoại liên hệ? Ví dụ: 0905 123 456."
    replies = await runner().answer(chat.ctx("0905 111 222"))
    assert "• Số điện thoại liên hệ: 0905 111 222" in text(replies).splitlines()


async def test_back_from_a_stored_draft_goes_to_the_question_before() -> None:
    chat = chat_with("photos", without=("session",))
    replies = await runner().back(chat.ctx())
    assert replies is not None
    assert text(replies).startswith("Bước 4/5 — Địa chỉ nhận thông báo mới")
    assert chat.state.form["history"] == [0, 1, 2]
    assert "session" not in chat.state.form  # an old row stays an old row
