"""The service forms, as declared in domain.yml under `forms:` (docs/FORMS.md).

Loading checks the whole declaration, so a typo in a form is a start-up error with
the form and field named, not a customer stuck in the middle of a request.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.dialogs.checks import CHECKS
from bot.dialogs.field_types import FIELD_TYPES, FieldType
from bot.dialogs.needs import NEEDS
from bot.dialogs.spec import BUTTON_CHARS, SHORT_CHARS, FieldSpec, Forms, FormSpec, Option, Text
from bot.paths import read_yaml, resource_path
from nlu.intents import INTENTS

__all__ = [
    "GROUPS",
    "FieldSpec",
    "FormError",
    "FormSpec",
    "Forms",
    "Option",
    "default_forms",
    "load_forms",
]

GROUPS = ("new_connection", "contract", "support")
SUBMITS = frozenset({"register", "send_request", "send_complaint"})
CONDITIONS = frozenset({"is", "is_not", "at_least", "in"})
COMMITMENT = frozenset({"days", "hours", "rural_days", "area_field", "works_days", "works_field"})


class FormError(ValueError):
    """domain.yml declares a form the engine cannot run."""


def _text(value: Any, where: str) -> Text:
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(lang), str) and value[lang].strip() for lang in ("vi", "en")
    ):
        raise FormError(f"{where}: needs a text in vi and en")
    return dict(value)


def _fits(text: Text, chars: int, where: str) -> Text:
    """`text`, when it fits a button of `chars` characters in both languages."""
    for lang in ("vi", "en"):
        if len(text[lang]) > chars:
            raise FormError(f"{where}: {text[lang]!r} is longer than {chars} characters")
    return text


def _field(raw: Mapping[str, Any], where: str, earlier: dict[str, FieldSpec]) -> FieldSpec:
    name = raw.get("name")
    kind = raw.get("type")
    if not isinstance(name, str) or not name.isidentifier():
        raise FormError(f"{where}: a field needs a snake_case name")
    if kind not in FIELD_TYPES:
        raise FormError(f"{where}.{name}: unknown type {kind!r}")
    field_type = FIELD_TYPES[kind]
    if name in earlier:
        raise FormError(f"{where}.{name}: the name is used twice")
    # An option is a button; a ticked one carries "☑ " before it.
    room = BUTTON_CHARS - (len("☑ ") if kind == "multi_choice" else 0)
    options = tuple(
        Option(
            str(o["key"]),
            _fits(_text(o.get("label"), f"{where}.{name}.options"), room, f"{where}.{name}"),
            o.get("requires"),
        )
        for o in raw.get("options", [])
    )
    if field_type.has_options and not options:
        raise FormError(f"{where}.{name}: a {kind} needs options")
    prefill = raw.get("prefill")
    if prefill is not None and prefill not in field_type.prefills:
        raise FormError(f"{where}.{name}: cannot prefill a {kind} from {prefill!r}")
    when = raw.get("when")
    if when is not None:
        target = earlier.get(str(when.get("field")))
        if target is None:
            raise FormError(f"{where}.{name}: 'when' must name an earlier field")
        if not set(when) - {"field"} <= CONDITIONS or len(when) != 2:
            raise FormError(f"{where}.{name}: 'when' takes one of {sorted(CONDITIONS)}")
        keys = {o.key for o in target.options}
        wanted = when.get("is", when.get("is_not"))
        wanted_list = when.get("in", [wanted] if wanted is not None else [])
        if keys and not isinstance(wanted, bool) and not set(wanted_list) <= keys:
            raise FormError(f"{where}.{name}: 'when' names an option {target.name} lacks")
    known = {"name", "type", "prompt", "short", "help", "optional", "prefill", "when", "options"}
    params = {k: v for k, v in raw.items() if k not in known}
    _check_params(field_type, params, f"{where}.{name}")
    return FieldSpec(
        name=name,
        type=kind,
        prompt=_text(raw.get("prompt"), f"{where}.{name}.prompt"),
        short=_fits(
            _text(raw.get("short"), f"{where}.{name}.short"), SHORT_CHARS, f"{where}.{name}"
        ),
        help=_text(raw["help"], f"{where}.{name}.help") if raw.get("help") else None,
        optional=bool(raw.get("optional", False)),
        prefill=prefill,
        when=when,
        options=options,
        params=params,
    )


def _check_params(kind: FieldType, params: Mapping[str, Any], where: str) -> None:
    unknown = set(params) - kind.params
    if unknown:
        raise FormError(f"{where}: a {kind.name} field has no setting {', '.join(sorted(unknown))}")
    for key in ("min", "max", "min_length", "max_length", "max_days"):
        if key in params and (
            not isinstance(params[key], int | float) or isinstance(params[key], bool)
        ):
            raise FormError(f"{where}: {key} must be a number")
    for low, high in (("min", "max"), ("min_length", "max_length")):
        if low in params and high in params and params[low] > params[high]:
            raise FormError(f"{where}: {low} is more than {high}")
    if (problem := kind.check(params)) is not None:
        raise FormError(f"{where}: {problem}")


def _form(form_id: str, raw: Mapping[str, Any]) -> FormSpec:
    where = f"forms.{form_id}"
    if raw.get("group") not in GROUPS:
        raise FormError(f"{where}: group must be one of {GROUPS}")
    if raw.get("submit") not in SUBMITS:
        raise FormError(f"{where}: submit must be one of {sorted(SUBMITS)}")
    if raw.get("needs") not in NEEDS:
        raise FormError(f"{where}: needs must be {' or '.join(NEEDS)}")
    commitment = raw.get("commitment") or {}
    if not ({"days", "hours"} & set(commitment)):
        raise FormError(f"{where}: commitment needs days or hours")
    if set(commitment) - COMMITMENT:
        extra = ", ".join(sorted(set(commitment) - COMMITMENT))
        raise FormError(f"{where}: commitment has no setting {extra}")
    fields: dict[str, FieldSpec] = {}
    for index, item in enumerate(raw.get("fields") or []):
        spec = _field(item, f"{where}.fields[{index}]", fields)
        fields[spec.name] = spec
    if not fields:
        raise FormError(f"{where}: no fields")
    works = commitment.get("works_field")
    if works is not None and (works not in fields or fields[works].type != "yes_no"):
        raise FormError(f"{where}: commitment.works_field must name a yes_no field")
    area = commitment.get("area_field")
    if ("rural_days" in commitment or area is not None) and (
        area not in fields or fields[area].type != "address"
    ):
        raise FormError(f"{where}: commitment.area_field must name an address field")
    intent = raw.get("intent")
    if intent is not None and intent not in INTENTS:
        raise FormError(f"{where}: intent {intent!r} is none the language model knows")
    return FormSpec(
        id=form_id,
        group=raw["group"],
        title=_text(raw.get("title"), f"{where}.title"),
        intro=_text(raw.get("intro"), f"{where}.intro"),
        submit=raw["submit"],
        needs=raw["needs"],
        urgent=bool(raw.get("urgent", False)),
        commitment=commitment,
        fields=tuple(fields.values()),
        intent=intent,
        checks=_checks(raw.get("checks") or {}, fields, where),
    )


def _checks(raw: Any, fields: Mapping[str, FieldSpec], where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise FormError(f"{where}: checks maps each check to the fields it reads")
    checks: dict[str, tuple[str, ...]] = {}
    for name, names in raw.items():
        check = CHECKS.get(name)
        if check is None:
            raise FormError(f"{where}: unknown check {name!r} (known: {', '.join(CHECKS)})")
        if not isinstance(names, list) or not names:
            raise FormError(f"{where}.checks.{name}: list the fields it reads")
        for field_name in names:
            read = fields.get(field_name)
            if read is None or read.type not in check.reads:
                raise FormError(
                    f"{where}.checks.{name}: {field_name!r} is no field of type "
                    f"{' or '.join(sorted(check.reads))}"
                )
        checks[name] = tuple(names)
    return checks


def load_forms(path: Path | None = None) -> Forms:
    """Every form in domain.yml, checked."""
    document = read_yaml(path or resource_path("domain.yml"))
    raw = document.get("forms") or {}
    return Forms(_form(form_id, spec) for form_id, spec in raw.items())


@functools.cache
def default_forms() -> Forms:
    return load_forms()
