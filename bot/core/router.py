"""Decides which single handler an update goes to.

Order (ARCHITECTURE.md, "per-update flow"):
1. a pressed button: its payload's name ("lang:en" -> "lang", argument "en"), or the
   number of an option a channel without (enough) buttons listed ("2");
2. a slash command, or a navigation word typed in any case, with or without
   diacritics ("menu", "hủy"/"huy", "quay lại"...): these work everywhere, even in the
   middle of a question; a word whose button is on screen does what that button does
   (typed "quay lại" in a form goes back one question, as its "⬅ Quay lại" does);
2b. urgent text (a danger to life: fallen wire, fire, shock) before anything else reads it;
2c. a reply to an earlier bot message (Telegram) that may answer a notice (`on_answer`);
3. an answer to the open question (its step), whatever it carries;
4. a typed title of a button the bot just showed ("tra cuu" for "🔎 Tra cứu"), or a
   few words naming only one of them ("vnpay" for "💳 Thẻ/ngân hàng (VNPay)");
5. a photo, a document, a location or a contact nobody asked for (or content the
   bot cannot take, such as a sticker); a photo may answer a notice (`on_answer`);
6. free text: the fallback (the language model, bot/handlers/freetext.py).

Each module of bot/handlers/ has its own `Router` (the style of aiogram 3's routers):
module-level handlers registered with its decorators. `bot.handlers.build_router`,
which the composition root calls, includes them into the engine's router from one
explicit list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.core.context import Context, Handler, Route
from bot.core.messages import chosen_option
from bot.core.state import ConversationState
from nlu.normalize import fold

# A payload is "name" or "name:argument"; names stay short because Telegram limits
# callback data to 64 bytes.
PAYLOAD_SEPARATOR = ":"
StartupHook = TypeVar("StartupHook", bound=Callable[[], object])


class Router:
    """A registry of handlers by button name, command, awaited step and content kind.

    A tab declares its handlers on a router of its own; the engine's router `include`s
    them all. A name taken twice, in one router or across included ones, is a wiring
    mistake and raises at once."""

    def __init__(self) -> None:
        self._buttons: dict[str, Handler] = {}
        self._commands: dict[str, Handler] = {}
        self._words: dict[str, Handler] = {}
        self._steps: dict[str, Handler] = {}
        self._secret_steps: set[str] = set()
        self._photo: Handler | None = None
        self._document: Handler | None = None
        self._unsupported: Handler | None = None
        self._location: Handler | None = None
        self._contact: Handler | None = None
        self._fallback: Handler | None = None
        self._unknown_button: Handler | None = None
        self._answer: Handler | None = None
        self._with_staff: Handler | None = None
        self._urgent: list[tuple[Callable[[str], bool], Handler]] = []
        self.before_hooks: list[Callable[[Context], Awaitable[None]]] = []
        self.startup_hooks: list[Callable[[], object]] = []

    # --- registration ------------------------------------------------------------------

    def button(self, *names: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                _add(self._buttons, name, handler, "button")
            return handler

        return register

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        """Slash commands ("/menu") and words that act like them ("menu", "hủy")."""

        def register(handler: Handler) -> Handler:
            for name in names:
                if name.startswith("/"):
                    _add(self._commands, name.lower(), handler, "command")
                else:
                    _add(self._words, fold(name), handler, "word")
            return handler

        return register

    def step(self, name: str, *, secret: bool = False) -> Callable[[Handler], Handler]:
        """The handler of the answer to an open question named `name`. The answer to a
        `secret` step (a password, a PIN) is never kept in the transcript, and channels
        delete it from the chat where they can."""

        def register(handler: Handler) -> Handler:
            _add(self._steps, name, handler, "step")
            if secret:
                self._secret_steps.add(name)
            return handler

        return register

    def expects_secret(self, state: ConversationState) -> bool:
        return state.step in self._secret_steps

    def on_photo(self, handler: Handler) -> Handler:
        self._photo = _only(self._photo, handler, "photo")
        return handler

    def on_document(self, handler: Handler) -> Handler:
        self._document = _only(self._document, handler, "document")
        return handler

    def on_unsupported(self, handler: Handler) -> Handler:
        """Content the bot cannot take yet: stickers, voice, video..."""
        self._unsupported = _only(self._unsupported, handler, "unsupported")
        return handler

    def on_location(self, handler: Handler) -> Handler:
        self._location = _only(self._location, handler, "location")
        return handler

    def on_contact(self, handler: Handler) -> Handler:
        self._contact = _only(self._contact, handler, "contact")
        return handler

    def fallback(self, handler: Handler) -> Handler:
        self._fallback = _only(self._fallback, handler, "fallback")
        return handler

    def unknown_button(self, handler: Handler) -> Handler:
        self._unknown_button = _only(self._unknown_button, handler, "unknown_button")
        return handler

    def on_answer(self, handler: Handler) -> Handler:
        """A message that may answer a pushed notice rather than the conversation: a
        reply to an earlier bot message, or a photo nobody asked for. The handler
        decides, and routes what is no answer on with `resolve(ctx, answers=False)`."""
        self._answer = _only(self._answer, handler, "answer")
        return handler

    def with_staff(self, handler: Handler) -> Handler:
        """Every update of a conversation a staff member has taken over: the bot stays
        quiet (the agent reads the message live) except where the handler answers."""
        self._with_staff = _only(self._with_staff, handler, "with_staff")
        return handler

    def staff_route(self) -> Route | None:
        return Route(self._with_staff) if self._with_staff is not None else None

    def urgent(self, test: Callable[[str], bool]) -> Callable[[Handler], Handler]:
        """A handler for text that must be answered before any form or menu sees it."""

        def register(handler: Handler) -> Handler:
            self._urgent.append((test, handler))
            return handler

        return register

    def before(
        self, hook: Callable[[Context], Awaitable[None]]
    ) -> Callable[[Context], Awaitable[None]]:
        """Run `hook` on every update before it is routed (e.g. sliding the PIN window)."""
        self.before_hooks.append(hook)
        return hook

    def startup(self, hook: StartupHook) -> StartupHook:
        """Run `hook` once when the composition root builds the engine: work that must
        stop the start when it fails (domain.yml's forms), not the first customer."""
        self.startup_hooks.append(hook)
        return hook

    def include(self, *routers: Router) -> None:
        """Take every handler and hook of `routers` (a tab's own) into this router."""
        for other in routers:
            for table, theirs, what in (
                (self._buttons, other._buttons, "button"),
                (self._commands, other._commands, "command"),
                (self._words, other._words, "word"),
                (self._steps, other._steps, "step"),
            ):
                for key, handler in theirs.items():
                    _add(table, key, handler, what)
            self._secret_steps |= other._secret_steps
            self._photo = _merged(self._photo, other._photo, "photo")
            self._document = _merged(self._document, other._document, "document")
            self._unsupported = _merged(self._unsupported, other._unsupported, "unsupported")
            self._location = _merged(self._location, other._location, "location")
            self._contact = _merged(self._contact, other._contact, "contact")
            self._fallback = _merged(self._fallback, other._fallback, "fallback")
            self._unknown_button = _merged(
                self._unknown_button, other._unknown_button, "unknown_button"
            )
            self._answer = _merged(self._answer, other._answer, "answer")
            self._with_staff = _merged(self._with_staff, other._with_staff, "with_staff")
            self._urgent += other._urgent
            self.before_hooks += other.before_hooks
            self.startup_hooks += other.startup_hooks

    def emit_startup(self) -> None:
        """Run the startup hooks of every included router, in the order included."""
        for hook in self.startup_hooks:
            hook()

    @property
    def command_names(self) -> list[str]:
        return sorted(self._commands)

    @property
    def button_names(self) -> list[str]:
        """Every payload name a button may carry (what a forged payload would try)."""
        return sorted(self._buttons)

    # --- resolution --------------------------------------------------------------------

    def resolve(self, ctx: Context, *, answers: bool = True) -> Route:
        incoming = ctx.incoming
        answer = self._answer if answers else None
        if incoming.payload is not None:
            return self._by_payload(incoming.payload)
        # A number typed for one of the options a channel without buttons listed is that
        # button pressed (before an open question: the options are on screen).
        numbered = chosen_option(incoming.text or "", ctx.state.numbered)
        if numbered is not None:
            return self._by_payload(numbered)
        if incoming.unsupported and self._unsupported:
            return Route(self._unsupported)
        text = (incoming.text or "").strip()
        if text.startswith("/"):
            command = text.split()[0].split("@")[0].lower()
            if command in self._commands:
                return Route(self._commands[command])
        folded = fold(text) if text else ""
        if folded in self._words:
            return self._word(ctx, folded)
        for test, urgent_handler in self._urgent if text else ():
            if test(text):
                return Route(urgent_handler)
        # Never in place of a secret (a PIN typed as a reply stays a PIN).
        if answer and incoming.reply_to_ref and not self.expects_secret(ctx.state):
            return Route(answer)
        step = ctx.state.step
        if step is not None and step in self._steps:
            return Route(self._steps[step])
        shown = ctx.state.shown_buttons
        if folded and folded in shown:
            return self._by_payload(shown[folded])
        if (payload := _named_button(folded, shown)) is not None:
            return self._by_payload(payload)
        if incoming.photos and answer:
            return Route(answer)
        if incoming.photos and self._photo:
            return Route(self._photo)
        if incoming.documents and self._document:
            return Route(self._document)
        if incoming.location and self._location:
            return Route(self._location)
        if incoming.contact and self._contact:
            return Route(self._contact)
        return Route(self._required(self._fallback, "fallback"))

    def _word(self, ctx: Context, folded: str) -> Route:
        """A navigation word typed: what its button on screen does, when one is shown
        (the form's "✖ Hủy" asks to confirm, its "⬅ Quay lại" goes back one question;
        issue 15), else the word's own handler. A button is the word's when its title is
        one of that handler's words ("⬅ Quay lại" for "tro lai", "✖ Hủy" for "huy bo")."""
        handler = self._words[folded]
        for title, payload in ctx.state.shown_buttons.items():
            if self._words.get(title) is handler:
                return self._by_payload(payload)
        return Route(handler)

    def for_payload(self, payload: str) -> Route | None:
        """The route of a button payload kept as data (what a gate resumes, the flow an
        intent opens); None when no handler takes its name."""
        name, _, arg = payload.partition(PAYLOAD_SEPARATOR)
        handler = self._buttons.get(name)
        return Route(handler, arg or None) if handler is not None else None

    def _by_payload(self, payload: str) -> Route:
        route = self.for_payload(payload)
        if route is None:
            return Route(self._required(self._unknown_button, "unknown_button"), payload)
        return route

    @staticmethod
    def _required(handler: Handler | None, what: str) -> Handler:
        if handler is None:
            raise LookupError(f"the router has no {what} handler")
        return handler


# A few words typed that name one button on screen by part of its title ("vnpay" for
# "💳 Thẻ/ngân hàng (VNPay)", "tat ca" for "💰 Tất cả: 717.230 đ"): that button.
NAMING_MAX_WORDS = 3
NAMING_MIN_CHARS = 3


def _named_button(folded: str, shown: dict[str, str]) -> str | None:
    """The payload of the only shown button whose folded title holds `folded` as whole
    words; None when none or several do, or when `folded` is long (a sentence goes to
    the language model) or has no letter (a number is no name)."""
    if (
        len(folded) < NAMING_MIN_CHARS
        or len(folded.split()) > NAMING_MAX_WORDS
        or not any(c.isalpha() for c in folded)
    ):
        return None
    words = f" {folded} "
    named = {payload for title, payload in shown.items() if words in f" {title} "}
    return named.pop() if len(named) == 1 else None


def _only(current: Handler | None, handler: Handler, what: str) -> Handler:
    """One handler per kind of content: a second registration is a wiring mistake."""
    if current is not None and current is not handler:
        raise ValueError(f"the {what} handler is registered twice")
    return handler


def _merged(current: Handler | None, handler: Handler | None, what: str) -> Handler | None:
    return current if handler is None else _only(current, handler, what)


def _add(table: dict[str, Handler], key: str, handler: Handler, what: str) -> None:
    if not key:
        raise ValueError(f"empty {what} name")
    if key in table and table[key] is not handler:
        raise ValueError(f"{what} '{key}' is registered twice")
    table[key] = handler
