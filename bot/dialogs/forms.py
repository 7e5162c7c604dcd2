"""The service forms, as declared in domain.yml under `forms:` (docs/FORMS.md).

Loading checks the whole declaration, so a typo in a form is a start-up error with
the form and field named, not a customer stuck in the middle of a request.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.paths import resource_path

FIELD_TYPES = frozenset(
    {
        "text",
        "phone",
        "email",
        "id_number",
        "address",
        "choice",
        "multi_choice",
        "number",
        "date",
        "customer_code",
        "photos",
        "location",
        "yes_no",
    }
)
GROUPS = ("new_connection", "contract", "support")
SUBMITS = frozenset({"register", "send_request", "send_complaint"})
PREFILLS = {
    "customer.name": {"text"},
    "customer.address": {"address"},
    "customer.phone": {"phone"},
    "customer.email": {"email"},
    "user.phone": {"phone"},
}
CONDITIONS = frozenset({"is", "is_not", "at_least", "in"})
# The settings each field type reads (docs/FORMS.md); anything else is a typo.
PARAMS: dict[str, frozenset[str]] = {
    "text": frozenset({"min_length", "max_length"}),
    "number": frozenset({"unit", "min", "max", "integer"}),
    "date": frozenset({"rule", "max_days"}),
    "multi_choice": frozenset({"min"}),
    "photos": frozenset({"min", "max"}),
}
DATE_RULES = ("any", "future", "past")
COMMITMENT = frozenset({"days", "hours", "rural_days", "works_days", "works_field"})


class FormError(ValueError):
    """domain.yml declares a form the engine cannot run."""


Text = Mapping[str, str]  # language -> text


@dataclass(frozen=True)
class Option:
    key: str
    label: Text
    requires: str | None = None  # "customer": offered only when a customer code is linked


@dataclass(frozen=True)
class FieldSpec:
    """One question of a form."""

    name: str
    type: str
    prompt: Text
    help: Text | None = None
    optional: bool = False
    prefill: str | None = None
    when: Mapping[str, Any] | None = None
    options: tuple[Option, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def shown(self, answers: Mapping[str, Any]) -> bool:
        """Whether this field is asked, given the answers so far."""
        if not self.when:
            return True
        value = answers.get(str(self.when["field"]))
        if value is None:
            return False
        values = value if isinstance(value, list) else [value]
        if "is" in self.when:
            return self.when["is"] in values
        if "is_not" in self.when:
            return self.when["is_not"] not in values
        if "in" in self.when:
            return any(v in self.when["in"] for v in values)
        if "at_least" in self.when:
            return isinstance(value, int | float) and value >= self.when["at_least"]
        return True

    def label(self, lang: str) -> str:
        """A short name for the summary: the prompt without its question mark."""
        text = self.prompt.get(lang) or self.prompt["vi"]
        return text.split("?")[0].split(":")[0].strip()


@dataclass(frozen=True)
class FormSpec:
    """A service request form: its fields in order and what submitting promises."""

    id: str
    group: str
    title: Text
    intro: Text
    submit: str
    needs: str  # customer | phone
    urgent: bool
    commitment: Mapping[str, Any]
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def _text(value: Any, where: str) -> Text:
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(lang), str) and value[lang].strip() for lang in ("vi", "en")
    ):
        raise FormError(f"{where}: needs a text in vi and en")
    return dict(value)


def _field(raw: Mapping[str, Any], where: str, earlier: dict[str, FieldSpec]) -> FieldSpec:
    name = raw.get("name")
    kind = raw.get("type")
    if not isinstance(name, str) or not name.isidentifier():
        raise FormError(f"{where}: a field needs a snake_case name")
    if kind not in FIELD_TYPES:
        raise FormError(f"{where}.{name}: unknown type {kind!r}")
    if name in earlier:
        raise FormError(f"{where}.{name}: the name is used twice")
    options = tuple(
        Option(str(o["key"]), _text(o.get("label"), f"{where}.{name}.options"), o.get("requires"))
        for o in raw.get("options", [])
    )
    if kind in ("choice", "multi_choice") and not options:
        raise FormError(f"{where}.{name}: a {kind} needs options")
    prefill = raw.get("prefill")
    if prefill is not None and kind not in PREFILLS.get(prefill, set()):
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
    known = {"name", "type", "prompt", "help", "optional", "prefill", "when", "options"}
    params = {k: v for k, v in raw.items() if k not in known}
    _check_params(kind, params, f"{where}.{name}")
    return FieldSpec(
        name=name,
        type=kind,
        prompt=_text(raw.get("prompt"), f"{where}.{name}.prompt"),
        help=_text(raw["help"], f"{where}.{name}.help") if raw.get("help") else None,
        optional=bool(raw.get("optional", False)),
        prefill=prefill,
        when=when,
        options=options,
        params=params,
    )


def _check_params(kind: str, params: Mapping[str, Any], where: str) -> None:
    unknown = set(params) - PARAMS.get(kind, frozenset())
    if unknown:
        raise FormError(f"{where}: a {kind} field has no setting {', '.join(sorted(unknown))}")
    for key in ("min", "max", "min_length", "max_length", "max_days"):
        if key in params and (
            not isinstance(params[key], int | float) or isinstance(params[key], bool)
        ):
            raise FormError(f"{where}: {key} must be a number")
    for low, high in (("min", "max"), ("min_length", "max_length")):
        if low in params and high in params and params[low] > params[high]:
            raise FormError(f"{where}: {low} is more than {high}")
    if kind == "date" and params.get("rule", "any") not in DATE_RULES:
        raise FormError(f"{where}: rule must be one of {DATE_RULES}")


def _form(form_id: str, raw: Mapping[str, Any]) -> FormSpec:
    where = f"forms.{form_id}"
    if raw.get("group") not in GROUPS:
        raise FormError(f"{where}: group must be one of {GROUPS}")
    if raw.get("submit") not in SUBMITS:
        raise FormError(f"{where}: submit must be one of {sorted(SUBMITS)}")
    if raw.get("needs") not in ("customer", "phone"):
        raise FormError(f"{where}: needs must be customer or phone")
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
    )


def load_forms(path: Path | None = None) -> dict[str, FormSpec]:
    """Every form in domain.yml, checked."""
    with open(path or resource_path("domain.yml"), encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    raw = document.get("forms") or {}
    return {form_id: _form(form_id, spec) for form_id, spec in raw.items()}


@functools.cache
def default_forms() -> dict[str, FormSpec]:
    return load_forms()
