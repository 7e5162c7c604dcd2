"""What a handler gets: the update, the user, the conversation state and services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.core.faq import FaqBook
from bot.core.live import LiveFeed
from bot.core.messages import Incoming, Reply
from bot.core.outbound import Push
from bot.core.state import ConversationState
from bot.core.texts import Texts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.auth.otp import OtpService
    from bot.billing.tariffs import TariffBook
    from bot.core.clock import Clock
    from bot.core.understanding import Understanding
    from bot.payments.service import PaymentService
    from bot.settings import Settings
    from bot.store.backend import UtilityBackend
    from bot.store.db import Database
    from bot.store.models import ChatUser, Conversation
    from nlu.model import Parse


@dataclass
class Services:
    """The services handlers call; built once in bot/app.py and passed in, never global."""

    settings: Settings
    db: Database  # for work outside a conversation's transaction
    texts: Texts
    backend: UtilityBackend
    tariffs: TariffBook
    pusher: Push
    clock: Clock
    otp: OtpService
    understanding: Understanding
    live: LiveFeed = field(default_factory=LiveFeed)  # tells open consoles what changed
    faq: FaqBook = field(default_factory=FaqBook)  # the utility's FAQ (issue 19)
    payments: PaymentService | None = None  # None only in tests that build Services by hand


@dataclass
class Context:
    """One update being handled. `state` is the conversation's saved state: change it
    and the engine stores it in the same transaction as the transcript."""

    incoming: Incoming
    session: AsyncSession
    user: ChatUser
    conversation: Conversation
    services: Services
    state: ConversationState
    # The engine's router, for payloads held as data (what a gate resumes, a reply that
    # answers no notice); a handler that needs another one calls it as a function.
    router: Routing
    arg: str | None = None  # the part after ':' of a button payload
    # Set by a handler that read a secret (password, PIN): channels that can delete the
    # customer's message from the chat do so.
    delete_incoming: bool = False
    # What the language model understood of free text (intent, entities) when it opened
    # this flow, so the flow can start with what the customer already said.
    parse: Parse | None = None
    # What the free text was understood as, for the transcript and the dashboard: the
    # intent's name, or "?" when the bot did not understand.
    intent: str | None = None
    # Ids of the photos/documents this update brought, as stored in the media table.
    incoming_media: list[str] = field(default_factory=list)
    # Messages to show before the handler's answer (e.g. "your draft expired").
    notices: list[Reply] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.user.language

    def t(self, key: str, /, **params: object) -> str:
        """The text `key` from domain.yml in the user's language."""
        return self.services.texts.get(key, self.lang, **params)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def now(self) -> datetime:
        return self.services.clock.now()


class Replies(list[Reply]):
    """The engine's answer: the replies; whether the customer's message held a secret
    (channels delete it where they can, and never show it again); whether the bot now
    waits for a secret (the web chat's input becomes a password field)."""

    delete_incoming: bool = False
    expects_secret: bool = False


Handler = Callable[[Context], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Route:
    """Where an update goes: the handler, and the part after ':' of a button payload."""

    handler: Handler
    arg: str | None = None


class Routing(Protocol):
    """What a handler may ask of the engine's router (bot/core/router.py)."""

    def for_payload(self, payload: str) -> Route | None:
        """Where a payload kept as data leads; None when no handler takes its name."""
        ...

    def resolve(self, ctx: Context, *, answers: bool = True) -> Route:
        """Where this update goes (`answers=False`: as if it answered no notice)."""
        ...
