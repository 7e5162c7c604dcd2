"""The types of question a form may ask, one class each (docs/FORMS.md's table).

A type says which settings a field of it reads, where a value on record may come from,
how the question is asked (prompt, notes, buttons), what an answer is (typed text, a
button, photos, a shared location) and how the summary shows a value. The engine
(runner.py) asks the type and never looks at the type's name; the loader (forms.py)
checks a field's settings against its type. A new type is one class here, listed in
FIELD_TYPES.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.core import phones
from bot.core.context import Context
from bot.core.fmt import day, today
from bot.core.messages import Button, KeyboardRequest, RequestButton, rows
from bot.dialogs import fields as parse
from bot.dialogs.dates import RULES
from bot.dialogs.draft import Partial
from bot.dialogs.spec import FieldSpec, Option
from bot.store.places import province_name, ward_name, ward_province
from nlu.normalize import fold

Buttons = list[tuple[Button, ...]]
# What a customer writes to say "that's all the photos" instead of pressing "✅ Xong".
DONE_WORDS = frozenset({"xong", "done", "het", "du roi", "xong roi", "ok"})


@dataclass(frozen=True)
class Accept:
    """The question is answered: keep `value`; the summary shows it as `shown`."""

    value: Any
    shown: str


@dataclass(frozen=True)
class Again:
    """Ask the same question again: with `error` shown instead of it when given."""

    error: str | None = None


Outcome = Accept | Again


class FieldType:
    """A question answered by one typed message; subclasses change what differs.

    Methods raise `fields.FieldError` for an answer the question cannot take: the
    engine asks again with the text that error names.
    """

    name: ClassVar[str]
    params: ClassVar[frozenset[str]] = frozenset()  # the settings a field of it reads
    prefills: ClassVar[frozenset[str]] = frozenset()  # where a value on record may come from
    has_options: ClassVar[bool] = False  # declared with `options:`
    # Any text is an answer to it: text typed meanwhile is never a question for another flow.
    takes_any_text: ClassVar[bool] = False

    def check(self, params: Mapping[str, Any]) -> str | None:
        """What is wrong with a field's settings beyond their names and numbers."""
        return None

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        """A typed answer's value and how the summary shows it."""
        # Asked by other means than typing (an address in two steps, photos, a location).
        raise parse.FieldError("text_short", min=1, count=0)

    def show(self, ctx: Context, value: Any) -> str:
        """A value on record (a prefill), as the summary shows it."""
        return str(value)

    def prompt(self, ctx: Context, field: FieldSpec, partial: Partial) -> str:
        return _in(field.prompt, ctx.lang)

    def notes(self, ctx: Context, field: FieldSpec, partial: Partial) -> list[str]:
        """Lines under the prompt about what has come so far."""
        return []

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        return []

    def continues(self, partial: Partial) -> bool:
        """Whether the question is asked in a second message of its own (an address's
        ward after its street): that message goes on the same step, with no counter."""
        return False

    def candidates(self, ctx: Context, field: FieldSpec) -> list[Any]:
        """The answers that may come, for counting the questions depending on this one
        (steps.py); none listed (a number, a text) counts the fewest: none of them."""
        return []

    def requests(self, ctx: Context) -> tuple[RequestButton, ...]:
        """Buttons that send something from the device (a location)."""
        return ()

    def receive(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        """The customer's message for the question."""
        return Accept(*self.parse(ctx, field, (ctx.incoming.text or "").strip()))

    def pick(self, ctx: Context, field: FieldSpec, partial: Partial, key: str) -> Outcome:
        """A button of the question (form:pick:<key>): read as if typed."""
        text = {"yes": ctx.t("form.answer_yes"), "no": ctx.t("form.answer_no")}.get(key, key)
        return Accept(*self.parse(ctx, field, text))

    def toggle(self, ctx: Context, field: FieldSpec, partial: Partial, key: str) -> Outcome:
        """A tick of an option (form:toggle:<key>)."""
        return Again()

    def done(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        """The "✅ Xong" button: what has come so far is the answer."""
        return Again()


class TextType(FieldType):
    name = "text"
    params = frozenset({"min_length", "max_length"})
    prefills = frozenset({"customer.name"})
    takes_any_text = True

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        value = parse.parse_text(
            text,
            min_length=int(field.params.get("min_length", 1)),
            max_length=int(field.params.get("max_length", 500)),
        )
        return value, value


class PhoneType(FieldType):
    name = "phone"
    params = frozenset({"mobile"})  # mobile: true where the number must receive SMS codes
    prefills = frozenset({"customer.phone", "user.phone"})

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        phone = parse.parse_phone(text, mobile=bool(field.params.get("mobile", False)))
        return phone, phones.shown(phone)

    def show(self, ctx: Context, value: Any) -> str:
        return phones.shown(str(value))

    def receive(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        contact = ctx.incoming.contact  # a contact shared from the phone book
        if contact is None:
            return super().receive(ctx, field, partial)
        return Accept(*self.parse(ctx, field, contact.phone))


class EmailType(FieldType):
    name = "email"
    prefills = frozenset({"customer.email"})

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        email = parse.parse_email(text)
        return email, email


class IdNumberType(FieldType):
    name = "id_number"

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        number = parse.parse_id_number(text, today=today(ctx))
        return number, number


class NumberType(FieldType):
    name = "number"
    params = frozenset({"unit", "min", "max", "integer"})

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        params = field.params
        amount = parse.parse_number(
            text,
            unit=params.get("unit"),
            minimum=params.get("min"),
            maximum=params.get("max"),
            integer=bool(params.get("integer", False)),
        )
        return amount, f"{str(amount).replace('.', ',')} {params.get('unit', '')}".strip()


class DateType(FieldType):
    name = "date"
    params = frozenset({"rule", "max_days"})

    def check(self, params: Mapping[str, Any]) -> str | None:
        if params.get("rule", "any") not in RULES:
            return f"rule must be one of {RULES}"
        return None

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        when = parse.parse_date(
            text,
            today=today(ctx),
            rule=str(field.params.get("rule", "any")),
            max_days=field.params.get("max_days"),
        )
        return when.isoformat(), day(when)


class YesNoType(FieldType):
    name = "yes_no"

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        yes = parse.parse_yes_no(text)
        return yes, ctx.t("form.answer_yes" if yes else "form.answer_no")

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        return [
            (
                Button(ctx.t("form.answer_yes"), payload="form:pick:yes"),
                Button(ctx.t("form.answer_no"), payload="form:pick:no"),
            )
        ]

    def candidates(self, ctx: Context, field: FieldSpec) -> list[Any]:
        return [True, False]


class CustomerCodeType(FieldType):
    name = "customer_code"

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        code = parse.parse_customer_code(text)
        if code not in ctx.user.customer_codes:
            raise parse.FieldError("code_not_linked", code=code)
        return code, code

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        codes = sorted(ctx.user.customer_codes, key=lambda c: c != ctx.user.default_customer_code)
        return list(rows(*(Button(c, payload=f"form:pick:{c}") for c in codes), per_row=1))


class ChoiceType(FieldType):
    name = "choice"
    params = frozenset({"summary"})
    has_options = True

    def check(self, params: Mapping[str, Any]) -> str | None:
        # summary: follow_up — the summary shows on this line the answer of the question
        # the option led to ("where" -> the address itself), not the option's label.
        if params.get("summary", "follow_up") != "follow_up":
            return "summary can only be follow_up"
        return None

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        key = parse.match_choice(text, _choices(ctx, field), ctx.lang)
        return key, _label(field, key, ctx.lang)

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        return list(
            rows(
                *(
                    Button(_in(o.label, ctx.lang), payload=f"form:pick:{o.key}")
                    for o in offered_options(ctx, field)
                ),
                per_row=1,
            )
        )

    def candidates(self, ctx: Context, field: FieldSpec) -> list[Any]:
        return [o.key for o in offered_options(ctx, field)]

    def pick(self, ctx: Context, field: FieldSpec, partial: Partial, key: str) -> Outcome:
        if key not in {o.key for o in offered_options(ctx, field)}:
            return Again()
        return Accept(key, _label(field, key, ctx.lang))


class MultiChoiceType(FieldType):
    name = "multi_choice"
    params = frozenset({"min"})
    has_options = True

    def parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        minimum = int(field.params.get("min", 1))
        keys = parse.match_choices(text, _choices(ctx, field), ctx.lang, minimum=minimum)
        return keys, self._shown(ctx, field, keys)

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        chosen = set(partial.chosen)
        marks = [
            Button(
                ("☑ " if o.key in chosen else "☐ ") + _in(o.label, ctx.lang),
                payload=f"form:toggle:{o.key}",
            )
            for o in field.options
        ]
        return [*rows(*marks, per_row=1), (Button(ctx.t("form.done"), payload="form:done"),)]

    def candidates(self, ctx: Context, field: FieldSpec) -> list[Any]:
        return [[o.key] for o in field.options]

    def toggle(self, ctx: Context, field: FieldSpec, partial: Partial, key: str) -> Outcome:
        order = [o.key for o in field.options]
        if key in order:
            partial.chosen = sorted(set(partial.chosen) ^ {key}, key=order.index)
        return Again()

    def done(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        chosen = list(partial.chosen)
        if len(chosen) < int(field.params.get("min", 1)):
            raise parse.FieldError("choice_min", min=field.params.get("min", 1))
        return Accept(chosen, self._shown(ctx, field, chosen))

    @staticmethod
    def _shown(ctx: Context, field: FieldSpec, keys: list[str]) -> str:
        return ", ".join(_label(field, k, ctx.lang) for k in keys)


class AddressType(FieldType):
    """House and street first, then the ward and province (picked among wards of the
    same name when the name is not enough)."""

    name = "address"
    prefills = frozenset({"customer.address"})
    takes_any_text = True

    def show(self, ctx: Context, value: Any) -> str:
        return f"{value['line']}, {value['ward']}, {value['province']}"

    def prompt(self, ctx: Context, field: FieldSpec, partial: Partial) -> str:
        return ctx.t("form.ask_area") if partial.line else super().prompt(ctx, field, partial)

    def continues(self, partial: Partial) -> bool:
        return bool(partial.line)

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        return list(
            rows(
                *(
                    Button(f"{a.ward}, {a.province}", payload=f"form:pick:{a.ward_code}")
                    for a in partial.areas
                ),
                per_row=1,
            )
        )

    def receive(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        text = (ctx.incoming.text or "").strip()
        if not partial.line:
            partial.line = parse.parse_text(text, min_length=2, max_length=200)
            return Again()
        areas = parse.find_areas(text)
        if not areas:
            raise parse.FieldError("area")
        if len(areas) > 1:
            partial.areas = areas[:5]
            return Again(error=ctx.t("form.which_area"))
        return self._area(ctx, partial, areas[0].ward_code)

    def pick(self, ctx: Context, field: FieldSpec, partial: Partial, key: str) -> Outcome:
        try:  # a ward code from our button; a forged or unknown one is asked again
            return self._area(ctx, partial, int(key))
        except ValueError:
            return Again()

    def _area(self, ctx: Context, partial: Partial, ward_code: int) -> Outcome:
        province_code = ward_province(ward_code)
        value = {
            "line": partial.line or "",
            "ward_code": ward_code,
            "ward": ward_name(ward_code),
            "province_code": province_code,
            "province": province_name(province_code),
        }
        return Accept(value, self.show(ctx, value))


class PhotosType(FieldType):
    name = "photos"
    params = frozenset({"min", "max"})
    takes_any_text = True

    def notes(self, ctx: Context, field: FieldSpec, partial: Partial) -> list[str]:
        if not partial.photos:
            return []
        maximum = field.params.get("max", 5)
        return [ctx.t("form.photos_got", count=len(partial.photos), maximum=maximum)]

    def buttons(self, ctx: Context, field: FieldSpec, partial: Partial) -> Buttons:
        if len(partial.photos) < int(field.params.get("min", 1)):
            return []
        return [(Button(ctx.t("form.done"), payload="form:done"),)]

    def receive(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        media = ctx.incoming_media
        if not media:
            if fold(ctx.incoming.text or "") in DONE_WORDS:
                return self.done(ctx, field, partial)
            raise parse.FieldError("photo_needed")
        collected = [*partial.photos, *media]
        maximum = int(field.params.get("max", 5))
        partial.photos = collected[:maximum]
        return self.done(ctx, field, partial) if len(collected) >= maximum else Again()

    def done(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        photos = list(partial.photos)
        minimum = int(field.params.get("min", 1))
        if len(photos) < minimum:
            raise parse.FieldError("photos_min", min=minimum, count=len(photos))
        return Accept(photos, ctx.t("form.photos_count", count=len(photos)))


class LocationType(FieldType):
    name = "location"
    takes_any_text = True

    def requests(self, ctx: Context) -> tuple[RequestButton, ...]:
        return (RequestButton(KeyboardRequest.LOCATION, ctx.t("form.send_location")),)

    def notes(self, ctx: Context, field: FieldSpec, partial: Partial) -> list[str]:
        # The button named as it is shown (the prompt once named one that was not).
        return [ctx.t("form.location_hint", button=ctx.t("form.send_location"))]

    def receive(self, ctx: Context, field: FieldSpec, partial: Partial) -> Outcome:
        where = ctx.incoming.location
        if where is None:
            raise parse.FieldError("location_needed")
        value = {"lat": where.latitude, "lon": where.longitude}
        return Accept(value, f"📍 {where.latitude:.5f}, {where.longitude:.5f}")


FIELD_TYPES: dict[str, FieldType] = {
    kind.name: kind()
    for kind in (
        TextType,
        PhoneType,
        EmailType,
        IdNumberType,
        AddressType,
        ChoiceType,
        MultiChoiceType,
        NumberType,
        DateType,
        CustomerCodeType,
        PhotosType,
        LocationType,
        YesNoType,
    )
}


def field_type(field: FieldSpec) -> FieldType:
    """The type of a loaded field (the loader let no unknown type through)."""
    return FIELD_TYPES[field.type]


def offered_options(ctx: Context, field: FieldSpec) -> list[Option]:
    """The options this customer may pick (one about "my contract" needs a linked code)."""
    return [o for o in field.options if o.requires != "customer" or ctx.user.customer_codes]


def _choices(ctx: Context, field: FieldSpec) -> list[parse.Option]:
    return [parse.Option(o.key, o.label) for o in offered_options(ctx, field)]


def _label(field: FieldSpec, key: str, lang: str) -> str:
    return _in(next(o for o in field.options if o.key == key).label, lang)


def _in(text: Mapping[str, str], lang: str) -> str:
    return text.get(lang) or text["vi"]
