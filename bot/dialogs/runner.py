"""The one form engine: start → ask → validate → next → summary → submit.

The draft (draft.py) lives in the conversation state, so it survives restarts and a
customer can leave and come back; after 7 days it is dropped with a notice. Answers
are parsed by the typed fields of fields.py; an invalid answer is asked again with
the reason and an example. "⬅ Quay lại" returns to the previous question, "Bỏ qua"
skips an optional one, "✖ Hủy" cancels after a confirmation, and nothing is sent
before the form's final button on the summary.

Every move ends by showing a question or the summary, and that is where the draft is
stored back into the conversation state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any

from bot.core.context import Context
from bot.core.fmt import day, local
from bot.core.messages import Button, KeyboardRequest, Reply, RequestButton, rows
from bot.core.router import STATE_AWAITING
from bot.dialogs import fields as parse
from bot.dialogs.deadlines import add_working_days
from bot.dialogs.draft import Draft, Partial, discard_draft, keep_draft, open_draft, stored_draft
from bot.dialogs.forms import FieldSpec, FormSpec, Option
from bot.store.models import ChatUser
from bot.store.places import province_name, ward_name, ward_province
from nlu.normalize import fold

STEP_FORM = "form"
DONE_WORDS = frozenset({"xong", "done", "het", "du roi", "xong roi", "ok"})
SUBMIT_KEYS = {
    "register": "form.register",
    "send_request": "form.send_request",
    "send_complaint": "form.send_complaint",
}

Prefill = Callable[[Context, FieldSpec, dict[str, Any]], Awaitable[tuple[Any, str] | None]]


def session_of(user: ChatUser) -> str:
    """Which login session of the chat this is: every log-out (here, "everywhere" from
    another chat, a password reset, 5 wrong PINs) starts a new one."""
    return user.history_from.isoformat() if user.history_from is not None else ""


# --- for bot/handlers/services.py, which still reads the stored draft --------------------


def draft_of(ctx: Context) -> dict[str, Any] | None:
    """The open form's draft as stored (FormRunner.current gives it typed)."""
    return stored_draft(ctx.state)


def expired(draft: Mapping[str, Any], now: datetime) -> bool:
    return Draft.from_state(draft).expired(now)


def ended_by_logout(draft: Mapping[str, Any], user: ChatUser) -> bool:
    """A draft begun in a session a log-out has ended: its answers (names, ID numbers,
    photos) are not to be resumed by whoever holds the chat now (issue 12, point 10)."""
    return Draft.from_state(draft).ended_by_logout(session_of(user))


def today(ctx: Context) -> date:
    return local(ctx.now()).date()


class FormRunner:
    """Runs any form of domain.yml for one update at a time (stateless itself)."""

    def __init__(self, forms: Mapping[str, FormSpec], prefill: Prefill) -> None:
        self.forms = forms
        self.prefill = prefill

    def current(self, ctx: Context) -> Draft | None:
        """The open form's draft, if any."""
        return open_draft(ctx.state)

    def _open(self, ctx: Context) -> tuple[Draft, FormSpec]:
        draft = self.current(ctx)
        assert draft is not None
        return draft, self.forms[draft.form_id]

    def _asked(self, ctx: Context) -> tuple[Draft, FieldSpec]:
        draft, form = self._open(ctx)
        return draft, form.fields[draft.index]

    # --- starting and resuming ------------------------------------------------------------

    async def start(self, ctx: Context, form_id: str) -> list[Reply]:
        form = self.forms[form_id]
        draft = Draft.begin(form_id, ctx.now(), session_of(ctx.user))
        intro = Reply(
            text=f"{ctx.t('form.intro_title', title=self._title(ctx, form))}\n"
            f"{form.intro.get(ctx.lang) or form.intro['vi']}"
        )
        return [intro, *await self._advance(ctx, draft)]

    async def resume(self, ctx: Context) -> list[Reply]:
        draft = self.current(ctx)
        if draft is None:
            return []
        if draft.index >= len(self.forms[draft.form_id].fields):
            return self._summary(ctx, draft)
        if draft.index < 0:
            return await self._advance(ctx, draft)
        return await self._ask(ctx, draft)

    def drop(self, ctx: Context) -> None:
        discard_draft(ctx.state)
        if (ctx.state.get(STATE_AWAITING) or {}).get("step") == STEP_FORM:
            ctx.state.pop(STATE_AWAITING, None)

    # --- asking -----------------------------------------------------------------------------------

    def _title(self, ctx: Context, form: FormSpec) -> str:
        return form.title.get(ctx.lang) or form.title["vi"]

    def _progress(self, form: FormSpec, draft: Draft) -> tuple[int, int]:
        visible = [
            i for i, f in enumerate(form.fields) if f.shown(draft.answers) or i == draft.index
        ]
        return visible.index(draft.index) + 1, len(visible)

    async def _ask(self, ctx: Context, draft: Draft, error: str | None = None) -> list[Reply]:
        """The current question (or `error` and the same choices again)."""
        form = self.forms[draft.form_id]
        field = form.fields[draft.index]
        ctx.state[STATE_AWAITING] = {"step": STEP_FORM}
        draft.updated = ctx.now()
        step, total = self._progress(form, draft)
        prompt = field.prompt.get(ctx.lang) or field.prompt["vi"]
        partial = draft.partial
        if field.type == "address" and partial.line:
            prompt = ctx.t("form.ask_area")
        lines = [ctx.t("form.step", step=step, total=total, prompt=prompt)]
        if field.help and not error:
            lines.append(field.help.get(ctx.lang) or field.help["vi"])
        buttons: list[tuple[Button, ...]] = []
        requests: tuple[RequestButton, ...] = ()
        offered = None
        if field.prefill and not draft.retype and not error:
            offered = await self.prefill(ctx, field, draft.answers)
        if offered is not None:
            value, shown = offered
            draft.offered = value
            lines.append(ctx.t("form.prefilled", value=shown))
            buttons.append(
                (
                    Button(ctx.t("form.keep"), payload="form:keep"),
                    Button(ctx.t("form.change"), payload="form:retype"),
                )
            )
        else:
            draft.offered = None
            buttons += self._choices(ctx, field, partial)
            if field.type == "location":
                requests = (RequestButton(KeyboardRequest.LOCATION, ctx.t("form.send_location")),)
            if field.type == "photos":
                got = len(partial.photos)
                if got:
                    lines.append(
                        ctx.t("form.photos_got", count=got, maximum=field.params.get("max", 5))
                    )
        footer = [
            Button(ctx.t("menu.back"), payload="form:back"),
            Button(ctx.t("form.cancel"), payload="form:cancel"),
        ]
        if field.optional:
            footer.insert(0, Button(ctx.t("form.skip"), payload="form:skip"))
        buttons.append(tuple(footer))
        keep_draft(ctx.state, draft)
        text = error if error else "\n".join(lines)
        return [Reply(text=text, buttons=tuple(buttons), requests=requests)]

    def _choices(
        self, ctx: Context, field: FieldSpec, partial: Partial
    ) -> list[tuple[Button, ...]]:
        if field.type == "choice":
            return list(
                rows(
                    *(
                        Button(o.label.get(ctx.lang) or o.label["vi"], payload=f"form:pick:{o.key}")
                        for o in offered_options(ctx, field)
                    ),
                    per_row=1,
                )
            )
        if field.type == "multi_choice":
            chosen = set(partial.chosen)
            marks = [
                Button(
                    ("☑ " if o.key in chosen else "☐ ") + (o.label.get(ctx.lang) or o.label["vi"]),
                    payload=f"form:toggle:{o.key}",
                )
                for o in field.options
            ]
            return [*rows(*marks, per_row=1), (Button(ctx.t("form.done"), payload="form:done"),)]
        if field.type == "yes_no":
            return [
                (
                    Button(ctx.t("form.answer_yes"), payload="form:pick:yes"),
                    Button(ctx.t("form.answer_no"), payload="form:pick:no"),
                )
            ]
        if field.type == "customer_code":
            codes = sorted(
                ctx.user.customer_codes, key=lambda c: c != ctx.user.default_customer_code
            )
            return list(rows(*(Button(c, payload=f"form:pick:{c}") for c in codes), per_row=1))
        if field.type == "photos" and len(partial.photos) >= int(field.params.get("min", 1)):
            return [(Button(ctx.t("form.done"), payload="form:done"),)]
        if field.type == "address" and partial.areas:
            return list(
                rows(
                    *(
                        Button(f"{a.ward}, {a.province}", payload=f"form:area:{a.ward_code}")
                        for a in partial.areas
                    ),
                    per_row=1,
                )
            )
        return []

    # --- answering ------------------------------------------------------------------------------

    async def answer(self, ctx: Context) -> list[Reply]:
        """What the customer typed or sent for the current question."""
        draft, field = self._asked(ctx)
        incoming = ctx.incoming
        text = (incoming.text or "").strip()
        try:
            if field.type == "photos":
                return await self._photos(ctx, draft, field)
            if field.type == "location":
                if incoming.location is None:
                    raise parse.FieldError("location_needed")
                where = incoming.location
                value: Any = {"lat": where.latitude, "lon": where.longitude}
                return await self._accept(
                    ctx, draft, value, f"📍 {where.latitude:.5f}, {where.longitude:.5f}"
                )
            if field.type == "phone" and incoming.contact is not None:
                text = incoming.contact.phone
            if field.type == "address":
                return await self._address(ctx, draft, field, text)
            value, shown = self._parse(ctx, field, text)
        except parse.FieldError as error:
            return await self._ask(ctx, draft, error=ctx.t(f"fields.{error.key}", **error.params))
        return await self._accept(ctx, draft, value, shown)

    def _parse(self, ctx: Context, field: FieldSpec, text: str) -> tuple[Any, str]:
        """The value of a typed answer and how the summary shows it."""
        params = field.params
        lang = ctx.lang
        kind = field.type
        if kind == "text":
            value = parse.parse_text(
                text,
                min_length=int(params.get("min_length", 1)),
                max_length=int(params.get("max_length", 500)),
            )
            return value, value
        if kind == "phone":
            phone = parse.parse_phone(text)
            return phone, shown_phone(phone)
        if kind == "email":
            email = parse.parse_email(text)
            return email, email
        if kind == "id_number":
            number = parse.parse_id_number(text, today=today(ctx))
            return number, number
        if kind == "number":
            amount = parse.parse_number(
                text,
                unit=params.get("unit"),
                minimum=params.get("min"),
                maximum=params.get("max"),
                integer=bool(params.get("integer", False)),
            )
            return amount, f"{str(amount).replace('.', ',')} {params.get('unit', '')}".strip()
        if kind == "date":
            when = parse.parse_date(
                text,
                today=today(ctx),
                rule=str(params.get("rule", "any")),
                max_days=params.get("max_days"),
            )
            return when.isoformat(), day(when)
        if kind == "yes_no":
            yes = parse.parse_yes_no(text)
            return yes, ctx.t("form.answer_yes" if yes else "form.answer_no")
        if kind == "customer_code":
            code = parse.parse_customer_code(text)
            if code not in ctx.user.customer_codes:
                raise parse.FieldError("code_not_linked", code=code)
            return code, code
        options = [parse.Option(o.key, o.label) for o in offered_options(ctx, field)]
        if kind == "choice":
            key = parse.match_choice(text, options, lang)
            return key, self._label(field, key, lang)
        if kind == "multi_choice":
            keys = parse.match_choices(text, options, lang, minimum=int(params.get("min", 1)))
            return keys, ", ".join(self._label(field, k, lang) for k in keys)
        raise parse.FieldError("text_short", min=1, count=0)

    @staticmethod
    def _label(field: FieldSpec, key: str, lang: str) -> str:
        option = next(o for o in field.options if o.key == key)
        return option.label.get(lang) or option.label["vi"]

    async def _photos(self, ctx: Context, draft: Draft, field: FieldSpec) -> list[Reply]:
        media = ctx.incoming_media
        if not media:
            if fold(ctx.incoming.text or "") in DONE_WORDS:
                return await self._done(ctx, draft, field)
            raise parse.FieldError("photo_needed")
        collected = [*draft.partial.photos, *media]
        maximum = int(field.params.get("max", 5))
        draft.partial.photos = collected[:maximum]
        if len(collected) >= maximum:
            return await self._done(ctx, draft, field)
        return await self._ask(ctx, draft)

    async def _address(
        self, ctx: Context, draft: Draft, field: FieldSpec, text: str
    ) -> list[Reply]:
        partial = draft.partial
        if not partial.line:
            partial.line = parse.parse_text(text, min_length=2, max_length=200)
            return await self._ask(ctx, draft)
        areas = parse.find_areas(text)
        if not areas:
            raise parse.FieldError("area")
        if len(areas) > 1:
            partial.areas = areas[:5]
            return await self._ask(ctx, draft, error=ctx.t("form.which_area"))
        return await self._accept_area(ctx, draft, areas[0].ward_code)

    async def _accept_area(self, ctx: Context, draft: Draft, ward_code: int) -> list[Reply]:
        line = draft.partial.line or ""
        ward = ward_name(ward_code)
        province_code = ward_province(ward_code)
        value = {
            "line": line,
            "ward_code": ward_code,
            "ward": ward,
            "province_code": province_code,
            "province": province_name(province_code),
        }
        return await self._accept(ctx, draft, value, f"{line}, {ward}, {value['province']}")

    async def _accept(self, ctx: Context, draft: Draft, value: Any, shown: str) -> list[Reply]:
        field = self.forms[draft.form_id].fields[draft.index]
        draft.answers[field.name] = value
        draft.display[field.name] = shown
        return await self._advance(ctx, draft)

    async def _advance(self, ctx: Context, draft: Draft) -> list[Reply]:
        form = self.forms[draft.form_id]
        draft.clear_question()
        if draft.index >= 0:
            draft.history.append(draft.index)
        if draft.editing:
            draft.editing = False
            return self._summary(ctx, draft)
        for index in range(draft.index + 1, len(form.fields)):
            if form.fields[index].shown(draft.answers):
                draft.index = index
                return await self._ask(ctx, draft)
        draft.index = len(form.fields)
        return self._summary(ctx, draft)

    # --- buttons of the form ------------------------------------------------------------------

    async def pick(self, ctx: Context, key: str) -> list[Reply]:
        draft, field = self._asked(ctx)
        if field.type == "address":
            try:  # a ward code from our button; a forged or unknown one is asked again
                return await self._accept_area(ctx, draft, int(key))
            except ValueError:
                return await self._ask(ctx, draft)
        text = {"yes": ctx.t("form.answer_yes"), "no": ctx.t("form.answer_no")}.get(key, key)
        if field.type == "choice":
            if key not in {o.key for o in offered_options(ctx, field)}:
                return await self._ask(ctx, draft)
            return await self._accept(ctx, draft, key, self._label(field, key, ctx.lang))
        try:
            value, shown = self._parse(ctx, field, text)
        except parse.FieldError as error:
            return await self._ask(ctx, draft, error=ctx.t(f"fields.{error.key}", **error.params))
        return await self._accept(ctx, draft, value, shown)

    async def toggle(self, ctx: Context, key: str) -> list[Reply]:
        draft, field = self._asked(ctx)
        if field.type != "multi_choice" or key not in {o.key for o in field.options}:
            return await self._ask(ctx, draft)
        chosen = set(draft.partial.chosen)
        chosen ^= {key}
        draft.partial.chosen = sorted(chosen, key=[o.key for o in field.options].index)
        return await self._ask(ctx, draft)

    async def done(self, ctx: Context) -> list[Reply]:
        draft, field = self._asked(ctx)
        return await self._done(ctx, draft, field)

    async def _done(self, ctx: Context, draft: Draft, field: FieldSpec) -> list[Reply]:
        partial = draft.partial
        if field.type == "multi_choice":
            chosen = list(partial.chosen)
            if len(chosen) < int(field.params.get("min", 1)):
                return await self._ask(
                    ctx, draft, error=ctx.t("fields.choice_min", min=field.params.get("min", 1))
                )
            return await self._accept(
                ctx, draft, chosen, ", ".join(self._label(field, k, ctx.lang) for k in chosen)
            )
        if field.type == "photos":
            photos = list(partial.photos)
            minimum = int(field.params.get("min", 1))
            if len(photos) < minimum:
                return await self._ask(
                    ctx, draft, error=ctx.t("fields.photos_min", min=minimum, count=len(photos))
                )
            return await self._accept(
                ctx, draft, photos, ctx.t("form.photos_count", count=len(photos))
            )
        return await self._ask(ctx, draft)

    async def keep(self, ctx: Context) -> list[Reply]:
        draft, field = self._asked(ctx)
        offered = draft.offered
        if offered is None:
            return await self._ask(ctx, draft)
        shown = offered
        if field.type == "address":
            shown = f"{offered['line']}, {offered['ward']}, {offered['province']}"
        elif field.type == "phone":
            shown = shown_phone(offered)
        return await self._accept(ctx, draft, offered, str(shown))

    async def retype(self, ctx: Context) -> list[Reply]:
        draft, _ = self._open(ctx)
        draft.retype = True
        return await self._ask(ctx, draft)

    async def skip(self, ctx: Context) -> list[Reply]:
        draft, field = self._asked(ctx)
        if not field.optional:
            return await self._ask(ctx, draft)
        draft.answers.pop(field.name, None)
        draft.display.pop(field.name, None)
        return await self._advance(ctx, draft)

    async def back(self, ctx: Context) -> list[Reply] | None:
        """The previous question; None at the first one (the caller offers to cancel)."""
        draft, _ = self._open(ctx)
        if not draft.history:
            return None
        draft.clear_question()
        draft.index = draft.history.pop()
        draft.retype = True
        return await self._ask(ctx, draft)

    async def edit(self, ctx: Context, index: int) -> list[Reply]:
        draft, form = self._open(ctx)
        if not 0 <= index < len(form.fields) or not form.fields[index].shown(draft.answers):
            return self._summary(ctx, draft)
        draft.index = index
        draft.editing = True
        draft.retype = True
        return await self._ask(ctx, draft)

    # --- summary ----------------------------------------------------------------------------------

    def summary(self, ctx: Context) -> list[Reply]:
        draft, _ = self._open(ctx)
        return self._summary(ctx, draft)

    def _summary(self, ctx: Context, draft: Draft) -> list[Reply]:
        form = self.forms[draft.form_id]
        ctx.state[STATE_AWAITING] = {"step": STEP_FORM}
        draft.index = len(form.fields)
        lines = [ctx.t("form.summary", title=self._title(ctx, form))]
        edits = []
        for index, field in enumerate(form.fields):
            if not field.shown(draft.answers):
                continue
            shown = draft.display.get(field.name, ctx.t("form.skipped"))
            lines.append(f"• {field.label(ctx.lang)}: {shown}")
            edits.append(
                Button(
                    ctx.t("form.edit", label=field.label(ctx.lang)[:28]),
                    payload=f"form:edit:{index}",
                )
            )
        submit = Button(ctx.t(SUBMIT_KEYS[form.submit]), payload="form:submit")
        lines.append(ctx.t("form.check", submit=submit.title))
        keep_draft(ctx.state, draft)
        return [
            Reply(
                text="\n".join(lines),
                buttons=(
                    *rows(*edits),
                    (submit,),
                    (Button(ctx.t("form.cancel"), payload="form:cancel"),),
                ),
            )
        ]

    def visible_answers(self, draft: Draft | Mapping[str, Any]) -> dict[str, Any]:
        """The answers to the questions the customer was asked (an answer given before
        changing the one it depended on is not sent)."""
        typed = draft if isinstance(draft, Draft) else Draft.from_state(draft)
        form = self.forms[typed.form_id]
        return {
            f.name: typed.answers[f.name]
            for f in form.fields
            if f.shown(typed.answers) and f.name in typed.answers
        }

    def deadline(
        self, form: FormSpec, answers: Mapping[str, Any], received: date
    ) -> tuple[int, date]:
        """The promised working days and date: longer in a commune (xã) or when works are
        needed (the commitments of the regulations on power supply)."""
        commitment = form.commitment
        days = int(commitment.get("days", 1))
        works_field = commitment.get("works_field")
        if works_field and answers.get(works_field) is True and "works_days" in commitment:
            days = int(commitment["works_days"])
        elif "rural_days" in commitment and any(
            isinstance(a, dict) and str(a.get("ward", "")).startswith("Xã")
            for a in answers.values()
        ):
            days = int(commitment["rural_days"])
        return days, add_working_days(received, days)

    def accepts(self, ctx: Context, text: str) -> bool:
        """Whether `text` is a valid answer to the current (typed) question."""
        _, field = self._asked(ctx)
        try:
            self._parse(ctx, field, text)
        except parse.FieldError:
            return False
        return True


def offered_options(ctx: Context, field: FieldSpec) -> list[Option]:
    """The options this customer may pick (one about "my contract" needs a linked code)."""
    return [o for o in field.options if o.requires != "customer" or ctx.user.customer_codes]


def shown_phone(e164: str) -> str:
    """+84905123456 -> 0905 123 456."""
    national = "0" + e164[3:] if e164.startswith("+84") else e164
    return f"{national[:4]} {national[4:7]} {national[7:]}".strip()
