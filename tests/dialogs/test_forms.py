"""The service forms as data: the seventeen of the app's Dịch vụ tab load from domain.yml,
and a mistake in a declaration stops the bot at start-up, naming the form and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogs.forms import FormError, default_forms, load_forms
from nlu.intents import INTENTS

# The app's Dịch vụ tab, group by group, with each service's final button.
SERVICES = {
    "new_connection": [
        ("Cấp điện sinh hoạt", "register"),
        ("Cấp điện ngoài sinh hoạt", "register"),
    ],
    "contract": [
        ("Thay đổi thông tin đã đăng ký", "send_request"),
        ("Thay đổi công suất sử dụng điện/Thay đổi loại công tơ", "send_request"),
        ("Thay đổi vị trí thiết bị đo", "send_request"),
        ("Kiểm tra công tơ và thiết bị đo đếm", "send_request"),
        ("Thay đổi mục đích sử dụng điện", "send_request"),
        ("Thay đổi định mức sử dụng điện", "send_request"),
        ("Gia hạn hợp đồng mua bán điện", "send_request"),
        ("Chấm dứt hợp đồng mua bán điện", "register"),
        ("Cấp điện trở lại khi khách hàng đã tạm ngừng sử dụng điện", "send_request"),
        ("Thay đổi hình thức thanh toán tiền điện", "send_request"),
        ("Thay đổi chủ thể hợp đồng mua bán điện", "send_request"),
        ("Xử lý báo mất điện", "send_request"),
    ],
    "support": [
        ("Tư vấn sử dụng dịch vụ điện", "send_request"),
        (
            "Tư vấn thiết kế xây dựng, nghiệm thu, bảo trì/bảo dưỡng, vận hành công trình điện",
            "send_request",
        ),
        ("Giải đáp kiến nghị của khách hàng", "send_complaint"),
    ],
}


def test_the_seventeen_services_in_the_apps_order_with_its_final_buttons() -> None:
    forms = default_forms()
    assert len(forms) == 17
    for group, services in SERVICES.items():
        declared = [(f.title["vi"], f.submit) for f in forms.values() if f.group == group]
        assert declared == services


def test_new_connections_need_a_phone_and_everything_else_a_customer() -> None:
    for form in default_forms().values():
        expected = "phone" if form.group == "new_connection" or form.urgent else "customer"
        assert form.needs == expected, form.id


def test_the_documents_each_service_really_requires_are_asked_for() -> None:
    forms = default_forms()

    def photos(form_id: str) -> dict[str, dict[str, Any]]:
        return {
            f.name: dict(f.params) | {"optional": f.optional}
            for f in forms[form_id].fields
            if f.type == "photos"
        }

    for form_id in ("svc_new_household", "svc_new_business"):
        asked = photos(form_id)
        assert any(p.get("min", 1) >= 2 and not p["optional"] for p in asked.values()), form_id
        assert len([p for p in asked.values() if not p["optional"]]) >= 2, form_id  # ID + site
    assert len([p for p in photos("svc_new_business").values() if not p["optional"]]) >= 3
    assert len([p for p in photos("svc_change_owner").values() if not p["optional"]]) >= 2
    assert any(f.type == "photos" and f.optional for f in forms["report_outage"].fields)
    # A non-household connection of 40 kW or more asks for the load chart.
    conditions = [f.when for f in forms["svc_new_business"].fields if f.when]
    assert any(w.get("at_least") == 40 for w in conditions)


def test_every_form_is_opened_by_an_intent_of_the_language_model() -> None:
    forms = default_forms()
    assert all(form.intent in INTENTS for form in forms.values())
    # Both new connections answer "cấp điện mới": the customer picks home or business.
    assert [f.id for f in forms.by_intent("svc_new_connection")] == [
        "svc_new_household",
        "svc_new_business",
    ]
    assert [f.id for f in forms.by_intent("report_outage")] == ["report_outage"]
    assert forms.by_intent("estimate_bill") == ()


def test_the_outage_report_checks_the_places_it_asks_for() -> None:
    forms = default_forms()
    assert forms["report_outage"].checks == {
        "known_outage": ("customer_code", "address", "location")
    }
    assert [f.id for f in forms.values() if f.checks] == ["report_outage"]


MINIMAL: dict[str, Any] = {
    "group": "contract",
    "title": {"vi": "Thử", "en": "Test"},
    "intro": {"vi": "Giới thiệu", "en": "Intro"},
    "submit": "send_request",
    "needs": "customer",
    "commitment": {"days": 3},
    "fields": [
        {
            "name": "kind",
            "type": "choice",
            "prompt": {"vi": "Loại?", "en": "Kind?"},
            "short": {"vi": "Loại", "en": "Kind"},
            "options": [{"key": "a", "label": {"vi": "A", "en": "A"}}],
        },
        {
            "name": "note",
            "type": "text",
            "prompt": {"vi": "Ghi chú?", "en": "Note?"},
            "short": {"vi": "Ghi chú", "en": "Note"},
            "max_length": 200,
        },
    ],
}


def load_one(tmp_path: Path, form: dict[str, Any]) -> None:
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump({"forms": {"svc_test": form}}, allow_unicode=True))
    load_forms(path)


def test_a_minimal_form_loads(tmp_path: Path) -> None:
    load_one(tmp_path, MINIMAL)


def _broken(change: str) -> dict[str, Any]:
    form = copy.deepcopy(MINIMAL)
    kind, note = form["fields"]
    if change == "group":
        form["group"] = "other"
    elif change == "submit":
        form["submit"] = "send"
    elif change == "needs":
        del form["needs"]
    elif change == "commitment":
        form["commitment"] = {"weeks": 1}
    elif change == "commitment_extra":
        form["commitment"] = {"days": 3, "rurl_days": 5}
    elif change == "works_field":
        form["commitment"] = {"days": 3, "works_days": 7, "works_field": "note"}
    elif change == "no_fields":
        form["fields"] = []
    elif change == "type":
        note["type"] = "textarea"
    elif change == "english":
        del note["prompt"]["en"]
    elif change == "twice":
        note["name"] = "kind"
    elif change == "options":
        del kind["options"]
    elif change == "prefill":
        note["prefill"] = "customer.phone"
    elif change == "when_later":
        kind["when"] = {"field": "note", "is": "x"}
    elif change == "when_option":
        note["when"] = {"field": "kind", "is": "b"}
    elif change == "when_condition":
        note["when"] = {"field": "kind", "equals": "a"}
    elif change == "param_typo":
        note["max_lenght"] = 200
    elif change == "param_type":
        note["max_length"] = "200"
    elif change == "param_order":
        note["min_length"] = 300
    elif change == "intent":
        form["intent"] = "svc_change_colour"
    elif change == "check":
        form["checks"] = {"known_flood": ["note"]}
    elif change == "check_field":
        form["checks"] = {"known_outage": ["note"]}
    elif change == "rural_days":
        form["commitment"] = {"days": 3, "rural_days": 5}
    elif change == "short":
        del note["short"]
    elif change == "short_long":
        note["short"] = {"vi": "Công suất dự kiến sử dụng (kW)", "en": "Load"}
    elif change == "option_long":
        kind["options"][0]["label"]["en"] = "Automatic debit from a bank account"
    elif change == "area_field":
        form["commitment"] = {"days": 3, "rural_days": 5, "area_field": "note"}
    return form


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("group", "forms.svc_test: group must be one of"),
        ("submit", "forms.svc_test: submit must be one of"),
        ("needs", "forms.svc_test: needs must be customer or phone"),
        ("commitment", "forms.svc_test: commitment needs days or hours"),
        ("commitment_extra", "forms.svc_test: commitment has no setting rurl_days"),
        ("works_field", "commitment.works_field must name a yes_no field"),
        ("no_fields", "forms.svc_test: no fields"),
        ("type", "forms.svc_test.fields[1].note: unknown type 'textarea'"),
        ("english", "forms.svc_test.fields[1].note.prompt: needs a text in vi and en"),
        ("twice", "forms.svc_test.fields[1].kind: the name is used twice"),
        ("options", "forms.svc_test.fields[0].kind: a choice needs options"),
        ("prefill", "cannot prefill a text from 'customer.phone'"),
        ("when_later", "forms.svc_test.fields[0].kind: 'when' must name an earlier field"),
        ("when_option", "'when' names an option kind lacks"),
        ("when_condition", "'when' takes one of"),
        ("param_typo", "forms.svc_test.fields[1].note: a text field has no setting max_lenght"),
        ("param_type", "max_length must be a number"),
        ("param_order", "min_length is more than max_length"),
        ("intent", "forms.svc_test: intent 'svc_change_colour' is none the language model"),
        ("check", "forms.svc_test: unknown check 'known_flood' (known: known_outage)"),
        (
            "check_field",
            "forms.svc_test.checks.known_outage: 'note' is no field of type address or "
            "customer_code or location",
        ),
        ("rural_days", "forms.svc_test: commitment.area_field must name an address field"),
        ("area_field", "forms.svc_test: commitment.area_field must name an address field"),
        ("short", "forms.svc_test.fields[1].note.short: needs a text in vi and en"),
        (
            "short_long",
            "forms.svc_test.fields[1].note: 'Công suất dự kiến sử dụng (kW)' is longer than 21",
        ),
        (
            "option_long",
            "forms.svc_test.fields[0].kind: 'Automatic debit from a bank account' is longer "
            "than 24",
        ),
    ],
)
def test_a_mistake_in_a_form_is_named(tmp_path: Path, change: str, message: str) -> None:
    with pytest.raises(FormError) as raised:
        load_one(tmp_path, _broken(change))
    assert message in str(raised.value)
