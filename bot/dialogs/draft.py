"""The open form's draft: what the customer has answered so far and where they are.

It lives in the conversation state (`ConversationState.form`), so the database keeps it between
messages and across restarts. This module is the only one that knows the stored keys:
`Draft.from_state` reads every row written since forms began (drafts begun before
issue 12 have no `session`), and `Draft.to_state` writes the same keys, so rows stored
before and after the typed draft are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.state import ConversationState
from bot.dialogs.fields import AreaChoice

DRAFT_LIFETIME = timedelta(days=7)
# A draft whose age cannot be read is treated as begun at this moment: long expired.
_UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Partial:
    """A question answered over several messages: what has come so far."""

    line: str | None = None  # address: the house and street, typed first
    areas: list[AreaChoice] = field(default_factory=list)  # address: wards the name may be
    photos: list[str] = field(default_factory=list)  # photos: media ids received
    chosen: list[str] = field(default_factory=list)  # multi_choice: the option keys ticked

    @classmethod
    def from_state(cls, raw: Mapping[str, Any]) -> Partial:
        return cls(
            line=raw.get("line"),
            areas=[
                AreaChoice(
                    int(area["ward_code"]),
                    str(area["ward"]),
                    int(area["province_code"]),
                    str(area["province"]),
                )
                for area in raw.get("areas") or []
            ],
            photos=[str(media) for media in raw.get("photos") or []],
            chosen=[str(key) for key in raw.get("chosen") or []],
        )

    def to_state(self) -> dict[str, Any]:
        """Only the parts given: a question answered at once stores no partial answer."""
        stored: dict[str, Any] = {}
        if self.line is not None:
            stored["line"] = self.line
        if self.areas:
            stored["areas"] = [area.__dict__ for area in self.areas]
        if self.photos:
            stored["photos"] = list(self.photos)
        if self.chosen:
            stored["chosen"] = list(self.chosen)
        return stored


@dataclass
class Draft:
    """A form being filled in: its answers, the question asked, and how we got there."""

    form_id: str
    started: datetime
    updated: datetime
    # The login session it was begun in (runner.session_of); None for a draft begun
    # before sessions were recorded, which no log-out can have ended.
    session: str | None = None
    # The question asked: -1 before the first, len(form.fields) at the summary.
    index: int = -1
    answers: dict[str, Any] = field(default_factory=dict)
    display: dict[str, str] = field(default_factory=dict)  # each answer as the summary shows it
    history: list[int] = field(default_factory=list)  # the questions asked before, for "back"
    partial: Partial = field(default_factory=Partial)
    offered: Any = None  # the value on record offered for confirmation (prefill)
    retype: bool = False  # the customer chose to type instead of taking the value on record
    editing: bool = False  # one answer changed from the summary: back to it afterwards
    run: int | None = None  # its row in form_runs (runs.py); None for drafts begun before
    total: int | None = None  # the number of steps last shown ("Bước 3/7": 7)

    @classmethod
    def begin(cls, form_id: str, now: datetime, session: str) -> Draft:
        return cls(form_id=form_id, started=now, updated=now, session=session)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Draft:
        """The draft as stored in the conversation state, old rows included."""
        started = _time(state.get("started"))
        session = state.get("session")
        return cls(
            form_id=str(state["id"]),
            started=started,
            updated=_time(state.get("updated"), started),
            session=None if session is None else str(session),
            index=int(state.get("index", -1)),
            answers=dict(state.get("answers") or {}),
            display=dict(state.get("display") or {}),
            history=[int(i) for i in state.get("history") or []],
            partial=Partial.from_state(state.get("sub") or {}),
            offered=state.get("offered"),
            retype=bool(state.get("retype", False)),
            editing=bool(state.get("editing", False)),
            run=int(state["run"]) if state.get("run") is not None else None,
            total=int(state["total"]) if state.get("total") is not None else None,
        )

    def to_state(self) -> dict[str, Any]:
        """The stored form: the keys the engine has always written, the optional ones
        only when they hold something."""
        state: dict[str, Any] = {
            "id": self.form_id,
            "index": self.index,
            "answers": dict(self.answers),
            "display": dict(self.display),
            "started": self.started.isoformat(),
            "updated": self.updated.isoformat(),
            "history": list(self.history),
        }
        if self.session is not None:
            state["session"] = self.session
        if partial := self.partial.to_state():
            state["sub"] = partial
        if self.offered is not None:
            state["offered"] = self.offered
        if self.retype:
            state["retype"] = True
        if self.editing:
            state["editing"] = True
        if self.run is not None:
            state["run"] = self.run
        if self.total is not None:
            state["total"] = self.total
        return state

    def expired(self, now: datetime) -> bool:
        """Untouched for longer than a draft is kept (it is dropped with a notice)."""
        return now - self.updated > DRAFT_LIFETIME

    def ended_by_logout(self, session: str) -> bool:
        """Begun in a login session a log-out has ended since (`session` is the chat's
        current one): its answers are not for whoever holds the chat now."""
        return self.session is not None and self.session != session

    def clear_question(self) -> None:
        """Forget what belongs to the question being left (a partial answer, the offer)."""
        self.partial = Partial()
        self.offered = None
        self.retype = False


def open_draft(state: ConversationState) -> Draft | None:
    """The draft of the open form in a conversation state, if any."""
    stored = state.form
    return Draft.from_state(stored) if stored is not None else None


def keep_draft(state: ConversationState, draft: Draft) -> None:
    state.form = draft.to_state()


def discard_draft(state: ConversationState) -> None:
    state.form = None


def _time(value: Any, default: datetime = _UNKNOWN_TIME) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else default
