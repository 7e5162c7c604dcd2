"""A context for running the form engine without the bot around it: domain.yml's texts,
the test clock, and a chat user with the customer codes a test gives (no database unless
a test hands one in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from bot.core.clock import FakeClock
from bot.core.context import Context
from bot.core.messages import Incoming, Reply
from bot.core.router import Router
from bot.core.state import ConversationState
from bot.core.texts import Texts
from bot.dialogs.forms import FieldSpec
from bot.store.models import ChatUser, CustomerLink

AN_PHONE = "+84905123456"
AN_CODES = ("PC05CC0123456", "PC05CC0123457")
_TEXTS = Texts.load()
_NO_ROUTES = Router()  # the form engine routes nothing itself


@dataclass
class Chat:
    """One customer's side of the engine: the state kept between their messages."""

    codes: tuple[str, ...] = AN_CODES
    phone: str | None = None
    state: ConversationState = field(default_factory=ConversationState)
    clock: FakeClock = field(default_factory=FakeClock)
    backend: Any = None
    session: Any = None  # a check that reads our tables (suspected incidents) needs one

    def __post_init__(self) -> None:
        self.user = ChatUser(
            channel="rest",
            platform_user_id="dialogs",
            language="vi",
            verified_phone=self.phone,
            default_customer_code=self.codes[0] if self.codes else None,
            links=[CustomerLink(customer_code=code) for code in self.codes],
        )

    def ctx(self, text: str | None = None, *, media: list[str] | None = None) -> Context:
        """The context of the customer's next message (`text`, or photos as `media`)."""
        services = SimpleNamespace(texts=_TEXTS, clock=self.clock, backend=self.backend)
        return Context(
            incoming=Incoming(channel="rest", user_id="dialogs", text=text),
            session=cast(Any, self.session),
            user=self.user,
            conversation=cast(Any, None),
            services=cast(Any, services),
            state=self.state,
            router=_NO_ROUTES,
            incoming_media=list(media or []),
        )


async def phone_on_record(ctx: Context, field: FieldSpec, answers: dict[str, Any]) -> Any:
    """The prefill of the tests: Nguyễn Văn An's phone for a phone question."""
    if field.prefill in ("user.phone", "customer.phone"):
        return AN_PHONE, "0905 123 456"
    return None


def titles(replies: list[Reply]) -> list[str]:
    return [button.title for reply in replies for row in reply.buttons for button in row]


def text(replies: list[Reply]) -> str:
    return "\n".join(reply.text or "" for reply in replies)
