"""The field types, one class each: a new type is one class, its settings are checked by
the loader, and the engine asks it how its question is asked and answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.context import Context
from bot.dialogs.field_types import FIELD_TYPES, FieldType, field_type
from bot.dialogs.fields import FieldError
from bot.dialogs.forms import FormError, default_forms, load_forms
from bot.dialogs.runner import FormRunner
from bot.dialogs.spec import FieldSpec
from tests.dialogs.context import Chat, phone_on_record, text, titles


class PlotType(FieldType):
    """A land plot number as on the land-use certificate: "thửa 12, tờ 3"."""

    name = "plot"
    params = frozenset({"max_sheet"})

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        numbers = [int(word) for word in text.replace(",", " ").split() if word.isdigit()]
        if len(numbers) != 2 or numbers[1] > int(field.params.get("max_sheet", 999)):
            raise FieldError("text_short", min=2, count=len(numbers))
        return {"plot": numbers[0], "sheet": numbers[1]}, f"thửa {numbers[0]}, tờ {numbers[1]}"


def plot_form(tmp_path: Path, **params: Any) -> Path:
    form = {
        "group": "new_connection",
        "title": {"vi": "Thửa đất", "en": "Plot"},
        "intro": {"vi": "Giới thiệu", "en": "Intro"},
        "submit": "register",
        "needs": "phone",
        "commitment": {"days": 3},
        "fields": [
            {
                "name": "plot",
                "type": "plot",
                "prompt": {"vi": "Số thửa, số tờ?", "en": "Plot and sheet?"},
                "short": {"vi": "Thửa đất", "en": "Plot"},
                **params,
            }
        ],
    }
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump({"forms": {"svc_plot": form}}, allow_unicode=True))
    return path


async def test_a_new_field_type_is_one_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FIELD_TYPES, "plot", PlotType())
    with pytest.raises(FormError, match="a plot field has no setting max_shet"):
        load_forms(plot_form(tmp_path, max_shet=40))
    forms = load_forms(plot_form(tmp_path, max_sheet=40))
    chat = Chat(phone="+84905123456")
    engine = FormRunner(forms, phone_on_record)
    await engine.start(chat.ctx(), "svc_plot")
    replies = await engine.answer(chat.ctx("thửa 12, tờ 99"))
    assert text(replies).startswith("Nội dung hơi ngắn")
    replies = await engine.answer(chat.ctx("thửa 12, tờ 3"))
    assert "• Số thửa, số tờ: thửa 12, tờ 3" in text(replies).splitlines()
    assert chat.state.form["answers"] == {"plot": {"plot": 12, "sheet": 3}}


def test_every_type_of_the_forms_is_registered_with_the_settings_its_fields_use() -> None:
    for form in default_forms().values():
        for field in form.fields:
            assert set(field.params) <= field_type(field).params, (form.id, field.name)


async def test_an_address_is_asked_in_two_steps_and_a_ward_picked_among_namesakes() -> None:
    chat = Chat()
    engine = FormRunner(default_forms(), phone_on_record)
    await engine.start(chat.ctx(), "svc_new_household")
    replies = await engine.answer(chat.ctx("12 Trần Phú"))
    assert text(replies).startswith("Phường/xã và tỉnh/thành phố?")  # step 1, continued
    replies = await engine.answer(chat.ctx("phường An Khê"))
    assert text(replies) == "Quý khách chọn đúng phường/xã:"
    assert titles(replies)[:2] == ["Phường An Khê, Thành phố Đà Nẵng", "Phường An Khê, Gia Lai"]
    payloads = [b.payload for b in replies[0].all_buttons[:2]]
    assert payloads == ["form:pick:20224", "form:pick:23617"]  # what the form button picks
    replies = await engine.pick(chat.ctx(), "not-a-ward")
    assert text(replies).startswith("Phường/xã")
    replies = await engine.pick(chat.ctx(), "20224")
    assert chat.state.form["display"]["address"] == (
        "12 Trần Phú, Phường An Khê, Thành phố Đà Nẵng"
    )


async def test_photos_come_one_by_one_until_done() -> None:
    chat = Chat()
    engine = FormRunner(default_forms(), phone_on_record)
    await engine.start(chat.ctx(), "svc_new_household")
    stored = chat.state.form
    stored["index"] = 7  # id_photos: min 2, max 2
    chat.state.form = stored
    replies = await engine.answer(chat.ctx("xong"))
    assert text(replies) == "Cần ít nhất 2 ảnh (Quý khách mới gửi 0). Vui lòng gửi thêm ảnh."
    replies = await engine.answer(chat.ctx(media=["front"]))
    assert "Đã nhận 1 ảnh (tối đa 2)." in text(replies)
    assert "✅ Xong" not in titles(replies)  # one is not enough yet
    replies = await engine.answer(chat.ctx("ảnh đây"))
    assert text(replies).startswith("Quý khách vui lòng gửi ảnh")
    replies = await engine.answer(chat.ctx(media=["back"]))
    assert chat.state.form["answers"]["id_photos"] == ["front", "back"]
    assert chat.state.form["display"]["id_photos"] == "2 ảnh"


async def test_a_multiple_choice_is_ticked_then_done() -> None:
    chat = Chat()
    engine = FormRunner(default_forms(), phone_on_record)
    await engine.start(chat.ctx(), "svc_change_info")
    await engine.pick(chat.ctx(), "PC05CC0123457")
    replies = await engine.done(chat.ctx())
    assert text(replies).startswith("Quý khách vui lòng chọn ít nhất 1 mục")
    await engine.toggle(chat.ctx(), "email")
    await engine.toggle(chat.ctx(), "forged")
    replies = await engine.toggle(chat.ctx(), "name")
    assert titles(replies)[:3] == ["☑ Họ tên", "☐ Số điện thoại", "☑ Email"]
    await engine.done(chat.ctx())
    assert chat.state.form["answers"]["changes"] == ["name", "email"]
