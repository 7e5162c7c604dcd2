"""What a form of domain.yml declares, as the loader (forms.py) checked it: the specs
the engine and the field types read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Text = Mapping[str, str]  # language -> text

# What a phone shows on a button without cutting it (two to a row on a 390 px screen;
# issue 15): the field's `short` name goes on its "✏️ …" button, an option on its own.
BUTTON_CHARS = 24
SHORT_CHARS = BUTTON_CHARS - len("✏️ ")


@dataclass(frozen=True)
class Option:
    """One answer of a choice or multi_choice question."""

    key: str
    label: Text
    requires: str | None = None  # "customer": offered only when a customer code is linked


@dataclass(frozen=True)
class FieldSpec:
    """One question of a form."""

    name: str
    type: str
    prompt: Text
    short: Text  # the name on a button ("✏️ Công suất dự kiến")
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
        """The name in the summary's lines: the prompt without its question mark."""
        text = self.prompt.get(lang) or self.prompt["vi"]
        return text.split("?")[0].split(":")[0].strip()

    def short_label(self, lang: str) -> str:
        """The name on a button: domain.yml's `short`, whole (never cut)."""
        return self.short.get(lang) or self.short["vi"]


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
    intent: str | None = None  # the language model's intent that opens it from free text
    # The checks run on answers as they come: check name -> the fields it reads.
    checks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Forms(Mapping[str, FormSpec]):
    """The forms by id, in domain.yml's order, and by the intent that opens them."""

    def __init__(self, forms: Iterable[FormSpec]) -> None:
        self._forms = {form.id: form for form in forms}

    def __getitem__(self, form_id: str) -> FormSpec:
        return self._forms[form_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)

    def by_intent(self, intent: str) -> tuple[FormSpec, ...]:
        """The forms an intent opens: one, or several to choose from (a new connection
        is for a home or for a business)."""
        return tuple(form for form in self._forms.values() if form.intent == intent)

    def intents(self) -> dict[str, tuple[FormSpec, ...]]:
        """Every intent that opens forms, with its forms."""
        intents = dict.fromkeys(f.intent for f in self._forms.values() if f.intent is not None)
        return {intent: self.by_intent(intent) for intent in intents}
