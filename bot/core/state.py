"""A conversation's state, typed: what the engine keeps per conversation between updates.

It is stored as a JSON object in `conversations.state` (so it survives restarts and staff
can read it) under the same keys as before this module existed, so rows written by an
earlier version load. Handlers read and change it through `ConversationState`, never by
key; the open form's own part is `bot/dialogs/draft.py`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# The stored keys: this module and the form's Draft are the only readers.
_SCREEN = "screen"
_AWAITING = "awaiting"
_BUTTONS = "buttons"
_RESUME = "resume"
_LOGIN = "login"
_GREETED = "greeted"
_FORM = "form"
_MISUNDERSTOOD = "misunderstood"
_NUMBERED = "numbered"


@dataclass
class Awaiting:
    """The question the bot asked and is waiting for an answer to: the router sends the
    next text to the handler of `step`. The other fields are what that step needs."""

    step: str
    code: str | None = None  # the customer code or request code the question is about
    delivery: int | None = None  # the notice (delivery id) a reply answers
    lookup: str | None = None  # bills: which lookup asked for the billing period
    username: str | None = None  # the portal username whose password is asked
    wants: str | None = None  # PIN: what the current PIN is asked for ("change", "remove")
    first: str | None = None  # PIN: a hash of the first entry, compared with the second
    verified_at: str | None = None  # password reset: when the code proved the phone (ISO)

    @classmethod
    def from_json(cls, data: object) -> Awaiting | None:
        """The stored question, or None when there is none (or it is unreadable)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("step"), str):
            return None
        return cls(**_known(cls, data))

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass
class LoginFlow:
    """A one-time-code flow in progress (activation or a password reset): whom the code
    is for, how it went out, and how to say so again on a resend."""

    subject: str  # "+84…" or "portal:<username>": what the code's limits count
    purpose: str  # "activate" or "reset_password"
    delivery: str | None = None  # "sms" or "email"
    address: str | None = None  # where the code went; None when it went nowhere
    target: str | None = None  # the account a reset is for
    step: str | None = None  # the router step that reads the code
    sent_key: str | None = None  # the text that says the code was sent
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object) -> LoginFlow | None:
        if not isinstance(data, Mapping) or not isinstance(data.get("subject"), str):
            return None
        values = _known(cls, data)
        values.setdefault("purpose", "")
        values["params"] = dict(values.get("params") or {})
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value not in (None, {})}


class ConversationState:
    """The typed view handlers use; the engine loads it from the stored JSON and saves
    `to_json()` in the update's transaction when it changed."""

    def __init__(self, stored: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = copy.deepcopy(dict(stored or {}))

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def clear(self) -> None:
        """Forget everything (log-out, a PIN lockout, "forget me")."""
        self._data.clear()

    # --- the question the bot waits an answer for --------------------------------------

    @property
    def awaiting(self) -> Awaiting | None:
        return Awaiting.from_json(self._data.get(_AWAITING))

    @property
    def asked(self) -> Awaiting:
        """The open question, or an empty one (no step, nothing needed) when none is."""
        return self.awaiting or Awaiting(step="")

    def ask(self, step: str, **needs: Any) -> None:
        """Wait for the answer to `step`; `needs` are Awaiting's other fields."""
        self._data[_AWAITING] = Awaiting(step, **needs).to_json()

    def answered(self) -> Awaiting | None:
        """Stop waiting; the question that was open, if any."""
        return Awaiting.from_json(self._data.pop(_AWAITING, None))

    @property
    def step(self) -> str | None:
        awaiting = self.awaiting
        return awaiting.step if awaiting else None

    # --- where the customer is -------------------------------------------------------------

    @property
    def screen(self) -> str | None:
        screen = self._data.get(_SCREEN)
        return screen if isinstance(screen, str) else None

    @screen.setter
    def screen(self, screen: str) -> None:
        self._data[_SCREEN] = screen

    @property
    def greeted(self) -> bool:
        return bool(self._data.get(_GREETED))

    @greeted.setter
    def greeted(self, greeted: bool) -> None:
        self._data[_GREETED] = greeted

    @property
    def misunderstood(self) -> int:
        """Free texts in a row the bot did not understand (three call a person)."""
        count = self._data.get(_MISUNDERSTOOD)
        return count if isinstance(count, int) else 0

    @misunderstood.setter
    def misunderstood(self, count: int) -> None:
        if count:
            self._data[_MISUNDERSTOOD] = count
        else:
            self._data.pop(_MISUNDERSTOOD, None)

    # --- what to do after a gate (log in, PIN) ---------------------------------------------

    @property
    def resume(self) -> str | None:
        payload = self._data.get(_RESUME)
        return payload if isinstance(payload, str) else None

    @resume.setter
    def resume(self, payload: str | None) -> None:
        if payload is None:
            self._data.pop(_RESUME, None)
        else:
            self._data[_RESUME] = payload

    def take_resume(self) -> str | None:
        """The button payload kept by a gate, once."""
        payload = self._data.pop(_RESUME, None)
        return payload if isinstance(payload, str) else None

    # --- a one-time-code flow ---------------------------------------------------------------

    @property
    def login(self) -> LoginFlow | None:
        return LoginFlow.from_json(self._data.get(_LOGIN))

    @login.setter
    def login(self, flow: LoginFlow | None) -> None:
        if flow is None:
            self._data.pop(_LOGIN, None)
        else:
            self._data[_LOGIN] = flow.to_json()

    # --- the buttons last shown, by folded title (typing a title taps it) --------------------

    @property
    def shown_buttons(self) -> dict[str, str]:
        shown = self._data.get(_BUTTONS)
        if not isinstance(shown, Mapping):
            return {}
        return {str(title): str(payload) for title, payload in shown.items()}

    @shown_buttons.setter
    def shown_buttons(self, shown: Mapping[str, str]) -> None:
        self._data[_BUTTONS] = dict(shown)

    # --- the options a channel without (enough) buttons numbered (typing "2" picks one) ----

    @property
    def numbered(self) -> list[str]:
        """The payloads of the numbered options last shown, in order."""
        options = self._data.get(_NUMBERED)
        return [str(payload) for payload in options] if isinstance(options, list) else []

    @numbered.setter
    def numbered(self, payloads: Sequence[str]) -> None:
        if payloads:
            self._data[_NUMBERED] = list(payloads)
        else:
            self._data.pop(_NUMBERED, None)

    # --- the open form: its content is bot/dialogs/draft.py's ------------------------------

    @property
    def form(self) -> dict[str, Any] | None:
        form = self._data.get(_FORM)
        return copy.deepcopy(form) if isinstance(form, dict) else None

    @form.setter
    def form(self, stored: Mapping[str, Any] | None) -> None:
        if stored is None:
            self._data.pop(_FORM, None)
        else:
            self._data[_FORM] = copy.deepcopy(dict(stored))


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values `cls` has fields for: a key an older version wrote and this one
    no longer reads is dropped rather than crashing the conversation."""
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}
