"""The one form engine: start → ask → validate → next → summary → submit.

The draft (draft.py) lives in the conversation state, so it survives restarts and a
customer can leave and come back; after 7 days it is dropped with a notice. Answers
are read by the field types of field_types.py; an invalid answer is asked again with
the reason and an example. "⬅ Quay lại" returns to the previous question, "Bỏ qua"
skips an optional one, "✖ Hủy" cancels after a confirmation, and nothing is sent
before the form's final button on the summary.

Every move ends by showing a question or the summary, and that is where the draft is
stored back into the conversation state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.core.context import Context
from bot.core.messages import Button, Reply, RequestButton, rows
from bot.dialogs import runs, steps
from bot.dialogs.checks import CHECKS
from bot.dialogs.deadlines import add_working_days, is_rural
from bot.dialogs.draft import Draft, discard_draft, keep_draft, open_draft
from bot.dialogs.field_types import Accept, Outcome, field_type
from bot.dialogs.fields import FieldError
from bot.dialogs.forms import FieldSpec, Forms, FormSpec
from bot.dialogs.needs import refusal
from bot.store.models import ChatUser

STEP_FORM = "form"
SUBMIT_KEYS = {
    "register": "form.register",
    "send_request": "form.send_request",
    "send_complaint": "form.send_complaint",
}

Prefill = Callable[[Context, FieldSpec, dict[str, Any]], Awaitable[tuple[Any, str] | None]]
# How the summary shows an answer, when the records say more than the answer (a contract
# code with its address); None keeps the field type's own.
Describe = Callable[[Context, FieldSpec, Any], Awaitable[str | None]]


def session_of(user: ChatUser) -> str:
    """Which login session of the chat this is: every log-out (here, "everywhere" from
    another chat, a password reset, 5 wrong PINs) starts a new one."""
    return user.history_from.isoformat() if user.history_from is not None else ""


@dataclass(frozen=True)
class Submission:
    """What a finished form sends: the answers the customer was asked, as the summary
    showed them and under their Vietnamese labels, and what the request is filed by."""

    answers: dict[str, Any]
    display: dict[str, str | None]
    labels: dict[str, str]
    customer_codes: list[str]  # the answers naming a contract, in the form's order
    photos: list[dict[str, str]]  # attachments: {"type": "photo", "media": id, "field": name}
    contact_phone: str | None  # the first phone answer: where staff call back


class FormRunner:
    """Runs any form of domain.yml for one update at a time (stateless itself)."""

    def __init__(self, forms: Forms, prefill: Prefill, describe: Describe | None = None) -> None:
        self.forms = forms
        self.prefill = prefill
        self.describe = describe

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
        """The form's first question, or what the customer needs first (its `needs:`)."""
        form = self.forms[form_id]
        if (refused := refusal(ctx, form)) is not None:
            return refused
        draft = Draft.begin(form_id, ctx.now(), session_of(ctx.user))
        draft.run = await runs.begin(ctx, form_id)
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
        """Close the open form: submitted when its request was filed in this update,
        left (abandoned) when it expired or a log-out ended it, else cancelled."""
        draft = self.current(ctx)
        if draft is not None and draft.run is not None:
            if runs.filed(ctx.session, draft.form_id, ctx.user.id, draft.started):
                runs.ended(ctx.session, draft.run, runs.SUBMITTED, ctx.now())
            elif not draft.expired(ctx.now()) and not draft.ended_by_logout(session_of(ctx.user)):
                runs.ended(ctx.session, draft.run, runs.CANCELLED, ctx.now())
        discard_draft(ctx.state)
        if ctx.state.step == STEP_FORM:
            ctx.state.answered()

    # --- asking -----------------------------------------------------------------------------------

    def _title(self, ctx: Context, form: FormSpec) -> str:
        return form.title.get(ctx.lang) or form.title["vi"]

    def progress(self, ctx: Context, draft: Draft) -> tuple[int, int]:
        """The number of the question asked and of the questions the form asks (at
        the summary, one past the last)."""
        form = self.forms[draft.form_id]
        index = min(draft.index, len(form.fields))
        total = steps.expected_total(
            form, draft.answers, index, lambda f: field_type(f).candidates(ctx, f)
        )
        step = steps.position(form, draft.answers, index)
        return step, max(total, step)

    async def _ask(self, ctx: Context, draft: Draft, error: str | None = None) -> list[Reply]:
        """The current question (or `error` and the same choices again)."""
        form = self.forms[draft.form_id]
        field = form.fields[draft.index]
        kind = field_type(field)
        ctx.state.ask(STEP_FORM)
        draft.updated = ctx.now()
        step, total = self.progress(ctx, draft)
        if draft.run is not None:
            runs.reached(ctx.session, draft.run, field.name, step - 1)
        prompt = kind.prompt(ctx, field, draft.partial)
        lines = []
        if draft.total is not None and total != draft.total:  # an answer changed the count
            more = total > draft.total
            key = "form.steps_more" if more else "form.steps_fewer"
            lines.append(ctx.t(key, count=abs(total - draft.total)))
        draft.total = total
        if kind.continues(draft.partial):
            lines.append(prompt)  # the same step's second message (an address's ward)
        else:
            lines.append(ctx.t("form.step", step=step, total=total, prompt=prompt))
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
            buttons += kind.buttons(ctx, field, draft.partial)
            requests = kind.requests(ctx)
            lines += kind.notes(ctx, field, draft.partial)
        # Only the way around the form under it (back, cancel, skip): the question takes
        # a typed answer, which a number may be, so no option is numbered (DESIGN.md).
        named = not buttons
        footer = [
            Button(ctx.t("menu.back"), payload="form:back"),
            Button(ctx.t("form.cancel"), payload="form:cancel"),
        ]
        if field.optional and not draft.partial.to_state():
            # Only before anything came: a photo received makes the way on "✅ Xong".
            footer.insert(0, Button(ctx.t("form.skip"), payload="form:skip"))
        buttons.append(tuple(footer))
        keep_draft(ctx.state, draft)
        text = error if error else "\n".join(lines)
        reply = Reply(text=text, buttons=tuple(buttons), requests=requests, named_options=named)
        if ctx.incoming.channel_caps.lists(reply) and named:
            # Listed under the text by name: say how to choose one.
            reply = replace(reply, text=f"{text}\n{ctx.t('form.type_option')}")
        return [reply]

    # --- answering ------------------------------------------------------------------------------

    async def answer(self, ctx: Context) -> list[Reply]:
        """What the customer typed or sent for the current question."""
        draft, field = self._asked(ctx)
        return await self._settle(
            ctx, draft, lambda: field_type(field).receive(ctx, field, draft.partial)
        )

    async def _settle(
        self, ctx: Context, draft: Draft, outcome: Callable[[], Outcome]
    ) -> list[Reply]:
        """Keep the answer `outcome` gives, or ask again (with the reason it is none)."""
        try:
            result = outcome()
        except FieldError as error:
            return await self._ask(ctx, draft, error=ctx.t(error.text_key, **error.params))
        if isinstance(result, Accept):
            return await self._accept(ctx, draft, result.value, result.shown)
        return await self._ask(ctx, draft, error=result.error)

    async def _accept(self, ctx: Context, draft: Draft, value: Any, shown: str) -> list[Reply]:
        field = self.forms[draft.form_id].fields[draft.index]
        if self.describe is not None:
            shown = await self.describe(ctx, field, value) or shown
        draft.answers[field.name] = value
        draft.display[field.name] = shown
        return await self._advance(ctx, draft)

    async def _advance(self, ctx: Context, draft: Draft) -> list[Reply]:
        form = self.forms[draft.form_id]
        draft.clear_question()
        if draft.index >= 0:
            draft.history.append(draft.index)
        if draft.editing:
            # A changed answer may lead to questions not asked yet ("Địa chỉ khác" asks
            # the address): those first, then back to the summary.
            follow_up = self._follow_up(form, draft)
            if follow_up is not None:
                draft.index = follow_up
                return await self._ask(ctx, draft)
            draft.editing = False
            return self._answered_all(ctx, draft)
        for index in range(draft.index + 1, len(form.fields)):
            if form.fields[index].shown(draft.answers):
                draft.index = index
                return await self._ask(ctx, draft)
        return self._answered_all(ctx, draft)

    def _follow_up(self, form: FormSpec, draft: Draft) -> int | None:
        """After an answer changed from the summary: the next question it leads to that
        was never asked, or, for a question whose line shows its follow-up's answer
        (`summary: follow_up`), its follow-up again."""
        edited = form.fields[draft.index]
        shows_next = edited.params.get("summary") == "follow_up"
        for index in range(draft.index + 1, len(form.fields)):
            field = form.fields[index]
            if not field.shown(draft.answers):
                continue
            led_to = field.when is not None and field.when.get("field") == edited.name
            if (shows_next and led_to) or (
                field.name not in draft.answers and index not in draft.history
            ):
                return index
        return None

    def _answered_all(self, ctx: Context, draft: Draft) -> list[Reply]:
        """Every question answered: the summary, which is the run's last step."""
        form = self.forms[draft.form_id]
        if draft.run is not None:
            asked = sum(1 for f in form.fields if f.shown(draft.answers))
            runs.reached(ctx.session, draft.run, runs.SUMMARY, asked)
        return self._summary(ctx, draft)

    # --- buttons of the form ------------------------------------------------------------------

    async def pick(self, ctx: Context, key: str) -> list[Reply]:
        draft, field = self._asked(ctx)
        return await self._settle(
            ctx, draft, lambda: field_type(field).pick(ctx, field, draft.partial, key)
        )

    async def toggle(self, ctx: Context, key: str) -> list[Reply]:
        draft, field = self._asked(ctx)
        return await self._settle(
            ctx, draft, lambda: field_type(field).toggle(ctx, field, draft.partial, key)
        )

    async def done(self, ctx: Context) -> list[Reply]:
        draft, field = self._asked(ctx)
        return await self._settle(
            ctx, draft, lambda: field_type(field).done(ctx, field, draft.partial)
        )

    async def keep(self, ctx: Context) -> list[Reply]:
        """The value on record offered for the question is the answer."""
        draft, field = self._asked(ctx)
        if draft.offered is None:
            return await self._ask(ctx, draft)
        shown = field_type(field).show(ctx, draft.offered)
        return await self._accept(ctx, draft, draft.offered, shown)

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
        """One step back: from the summary, the last question answered; from an answer
        being changed from the summary, the summary; from an address's ward, its street;
        else the previous question. None at the first one (the caller offers to cancel)."""
        draft, form = self._open(ctx)
        if draft.editing:
            draft.clear_question()
            draft.editing = False
            return self._summary(ctx, draft)
        if draft.partial.line is not None and draft.index < len(form.fields):
            draft.clear_question()
            draft.retype = True
            return await self._ask(ctx, draft)
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
        ctx.state.ask(STEP_FORM)
        draft.index = len(form.fields)
        lines = [ctx.t("form.summary", title=self._title(ctx, form))]
        edits = []
        # A question whose line shows its follow-up's answer ("Mất điện ở đâu: 12 Trần
        # Phú…", not "Địa chỉ trên hợp đồng"): the follow-up has no line of its own.
        shown_on = {
            follow_up.name: field.name
            for field in form.fields
            if field.params.get("summary") == "follow_up" and field.shown(draft.answers)
            for follow_up in form.fields
            if follow_up.when is not None
            and follow_up.when.get("field") == field.name
            and follow_up.shown(draft.answers)
            and follow_up.name in draft.display
        }
        display = dict(draft.display)
        for follow_up, source in shown_on.items():
            display[source] = display[follow_up]
        for index, field in enumerate(form.fields):
            if not field.shown(draft.answers) or field.name in shown_on:
                continue
            shown = display.get(field.name, ctx.t("form.skipped"))
            lines.append(f"• {field.label(ctx.lang)}: {shown}")
            edits.append(
                Button(
                    ctx.t("form.edit", label=field.short_label(ctx.lang)),
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
                    (
                        Button(ctx.t("menu.back"), payload="form:back"),
                        Button(ctx.t("form.cancel"), payload="form:cancel"),
                    ),
                ),
            )
        ]

    def visible_answers(self, draft: Draft) -> dict[str, Any]:
        """The answers to the questions the customer was asked (an answer given before
        changing the one it depended on is not sent)."""
        form = self.forms[draft.form_id]
        return {
            f.name: draft.answers[f.name]
            for f in form.fields
            if f.shown(draft.answers) and f.name in draft.answers
        }

    def submission(self, draft: Draft) -> Submission:
        """What the finished `draft` files as a service request."""
        form = self.forms[draft.form_id]
        answers = self.visible_answers(draft)
        asked = [f for f in form.fields if f.name in answers]
        return Submission(
            answers=answers,
            display={f.name: draft.display.get(f.name) for f in asked},
            labels={f.name: f.label("vi") for f in asked},
            customer_codes=[
                answers[f.name] for f in asked if f.type == "customer_code" and answers[f.name]
            ],
            photos=[
                {"type": "photo", "media": media, "field": f.name}
                for f in asked
                if f.type == "photos"
                for media in answers[f.name]
            ],
            contact_phone=next(
                (answers[f.name] for f in asked if f.type == "phone" and answers[f.name]), None
            ),
        )

    def deadline(
        self, form: FormSpec, answers: Mapping[str, Any], received: date
    ) -> tuple[int, date]:
        """The promised working days and date: `works_days` when the answer to
        `works_field` is yes, `rural_days` when the address of `area_field` is in a
        commune (xã), else `days` (the commitments of the regulations on power supply)."""
        commitment = form.commitment
        days = int(commitment.get("days", 1))
        works_field = commitment.get("works_field")
        area_field = commitment.get("area_field")
        area = answers.get(area_field) if area_field else None
        if works_field and answers.get(works_field) is True and "works_days" in commitment:
            days = int(commitment["works_days"])
        elif "rural_days" in commitment and isinstance(area, dict) and is_rural(area["ward_code"]):
            days = int(commitment["rural_days"])
        return days, add_working_days(received, days)

    async def checked(
        self, ctx: Context, before: Mapping[str, Any], replies: list[Reply]
    ) -> list[Reply]:
        """`replies`, after what the form's checks (`checks:`) say about the answers
        given since `before` (the answers when the update began), if anything."""
        draft = self.current(ctx)
        if draft is None:
            return replies
        form = self.forms[draft.form_id]
        for name, read in form.checks.items():
            for field in form.fields:
                if field.name in read and field.name in draft.answers and field.name not in before:
                    notice = await CHECKS[name].run(ctx, field.type, draft.answers[field.name])
                    if notice is not None:
                        return [notice, *replies]
        return replies

    def accepts(self, ctx: Context, text: str) -> bool:
        """Whether `text` is a valid answer to the current (typed) question."""
        _, field = self._asked(ctx)
        try:
            field_type(field).parse(ctx, field, text)
        except FieldError:
            return False
        return True
