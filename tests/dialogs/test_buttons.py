"""Every button a form of domain.yml can show fits a phone whole (issue 15, point 8): the
"✏️" buttons of the summary carry each field's short name, never a prompt cut mid-word,
and no button is longer than what a phone shows (24 characters), in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.state import ConversationState
from bot.core.texts import Texts
from bot.dialogs.draft import Draft, Partial
from bot.dialogs.forms import FieldSpec, FormSpec, default_forms
from bot.dialogs.runner import FormRunner
from bot.dialogs.spec import BUTTON_CHARS
from tests.dialogs.context import Chat, phone_on_record, titles

FORMS = default_forms()
RUNNER = FormRunner(FORMS, phone_on_record)
TEXTS = Texts.load()
PARTIALS = [  # what a question may have received before it is answered
    Partial(),
    Partial(photos=["p1"]),
    Partial(photos=["p1", "p2", "p3"]),
    Partial(chosen=["name", "phone"]),
    Partial(line="12 Trần Phú"),
]


def meeting(field: FieldSpec, form: FormSpec) -> dict[str, Any]:
    """Answers under which `field` is asked (its condition met)."""
    if not field.when:
        return {}
    when = field.when
    source = next(f for f in form.fields if f.name == when["field"])
    if "is" in when:
        value: Any = when["is"]
    elif "in" in when:
        value = when["in"][0]
    elif "at_least" in when:
        value = when["at_least"]
    else:
        value = next(o.key for o in source.options if o.key != when["is_not"])
    return {source.name: [value] if source.type == "multi_choice" else value}


def chat_at(form: FormSpec, index: int, answers: dict[str, Any], lang: str, **draft: Any) -> Chat:
    chat = Chat(phone="+84905123456")
    chat.user.language = lang
    stored = Draft(form.id, chat.clock.now(), chat.clock.now(), index=index, answers=answers)
    for key, value in draft.items():
        setattr(stored, key, value)
    chat.state = ConversationState({"form": stored.to_state(), "awaiting": {"step": "form"}})
    return chat


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("form_id", list(FORMS))
async def test_every_button_of_every_question_fits_a_phone(form_id: str, lang: str) -> None:
    form = FORMS[form_id]
    for index, field in enumerate(form.fields):
        for partial in PARTIALS:
            for retype in (False, True):  # with and without the value on record offered
                chat = chat_at(form, index, meeting(field, form), lang, retype=retype)
                chat.state.form = {**chat.state.form, "sub": partial.to_state()}
                for title in titles(await RUNNER.resume(chat.ctx())):
                    assert len(title) <= BUTTON_CHARS, (form_id, field.name, title)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("form_id", list(FORMS))
async def test_every_field_has_its_whole_short_name_on_its_edit_button(
    form_id: str, lang: str
) -> None:
    form = FORMS[form_id]
    for field in form.fields:
        answers = {f.name: "x" for f in form.fields} | meeting(field, form)
        chat = chat_at(form, len(form.fields), answers, lang)
        shown = titles(await RUNNER.resume(chat.ctx()))
        assert f"✏️ {field.short_label(lang)}" in shown, (form_id, field.name, shown)
        for title in shown:
            assert len(title) <= BUTTON_CHARS, (form_id, title)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_buttons_around_a_form_fit_a_phone(lang: str) -> None:
    """Cancelling ("✖ Hủy đơn", "▶ Tiếp tục") and the way back to a draft."""
    for key in ("form.cancel_yes", "form.cancel_no", "services.continue_draft"):
        assert len(TEXTS.get(key, lang)) <= BUTTON_CHARS, key


def test_short_names_are_names_not_prompts_cut() -> None:
    for form in FORMS.values():
        for field in form.fields:
            for lang in ("vi", "en"):
                short = field.short_label(lang)
                assert short and not short.endswith(("?", ":", "(", " ")), (form.id, field.name)
                assert short.count("(") == short.count(")"), (form.id, field.name)
