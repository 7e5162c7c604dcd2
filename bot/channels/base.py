"""The contract every channel keeps, and the fallbacks for what a platform cannot show.

A channel translates: platform update -> `Incoming` -> engine -> `Reply` -> platform
call. It holds no business rule. A channel module is one `Channel` subclass (its
`name`, its `caps`, its platform calls) and one `ChannelSettings` model (its
CSKH_<NAME>_* settings, whether they switch it on, its send rate limit); the
composition root (bot/app.py) lists them (`ChannelKind`) and builds every
channel whose settings switch it on (`Channel.build(parts, settings)`).

What the platform cannot show is turned into what it can here, once, for every
channel (`Channel.adapt`): buttons past `caps.max_buttons` become numbered options the
customer types (the engine keeps their payloads per conversation, so "2" presses the
second), an image or document the platform cannot take becomes a signed link, and a
text past `caps.max_text` is split at sentence boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from aiohttp import web
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.media import MediaLinks
from bot.core.engine import Engine
from bot.core.messages import ChannelCaps, Incoming, Media, Reply
from bot.core.network import Networks, client_address_from
from bot.core.outbound import Push, Recipient
from bot.core.texts import Texts
from bot.notify.limits import ChannelLimit
from bot.settings import Settings
from bot.store.db import Database
from bot.store.media_quota import MediaQuota
from bot.store.throttle import Throttle

IMAGE_MARK, DOCUMENT_MARK, LINK_MARK, NAMED_MARK = "🖼", "📎", "↗", "•"
# "typing…" from half a second into a slow answer, renewed before the platform drops it.
TYPING_AFTER, TYPING_EVERY = 0.5, 4.0


class ChannelSettingsError(ValueError):
    """A channel's settings cannot work together (the message names the setting)."""


@dataclass(frozen=True)
class ChannelParts:
    """What the composition root hands every channel it builds."""

    engine: Engine
    db: Database
    settings: Settings  # the process's own (public address, upload limits, proxies...)
    texts: Texts
    links: MediaLinks
    pusher: Push
    throttle: Throttle
    quota: MediaQuota


class ChannelSettings(BaseSettings):
    """A channel's own settings model: its fields are read from CSKH_<NAME>_* (set
    `model_config`'s env_prefix), or, for a name the main `Settings` already declares
    (CSKH_TELEGRAM_TOKEN...), from there (`compat_prefix`), so older names keep working.

    A channel whose credentials are not set is off (`enabled`)."""

    model_config = SettingsConfigDict(
        env_prefix="CSKH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # The channel's name: the key of its chat users, deliveries and rate limit.
    channel_name: ClassVar[str]
    # The prefix of this model's fields on the main Settings ("telegram_": its `token`
    # is Settings.telegram_token); empty when the main Settings holds none of them.
    compat_prefix: ClassVar[str] = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """This channel's settings: what the main `Settings` holds for it, the rest from
        the environment."""
        declared = type(settings).model_fields
        values = {
            name: getattr(settings, cls.compat_prefix + name)
            for name in cls.model_fields
            if cls.compat_prefix and cls.compat_prefix + name in declared
        }
        return cls(**values)

    @property
    def enabled(self) -> bool:
        """Whether the channel runs: its credentials are set."""
        return True

    def rate_limit(self) -> ChannelLimit | None:
        """How fast the delivery worker may push on this channel (None: no limit)."""
        return None

    def check(self) -> None:
        """Refuse settings that cannot work (raise ChannelSettingsError); called before
        an enabled channel is built."""


@dataclass(frozen=True)
class ChannelKind:
    """One entry of the composition root's list of channels: the settings model, and
    the channel class, loaded only when the settings switch it on (Telegram's aiogram
    takes seconds to import); the root calls its `build(parts, settings)`."""

    settings: type[ChannelSettings]
    load: Callable[[], type[Channel]]


class Channel(ABC):
    """A way customers reach the bot.

    Subclasses set `name` and `caps`, turn platform updates into `Incoming` with
    `incoming(...)`, get the engine's answer with `answer(...)`, and send what `adapt`
    makes of it; `send` takes a push from the delivery worker, already adapted."""

    name: ClassVar[str]
    caps: ClassVar[ChannelCaps] = ChannelCaps()
    engine: Engine
    # Signed links for media the platform cannot take (None: the file's name only).
    links: MediaLinks | None = None
    # The delivery worker's limit for pushes on this channel (from its settings).
    rate_limit: ChannelLimit | None = None

    @classmethod
    def build(cls, parts: ChannelParts, config: Any) -> Channel:
        """The channel the composition root runs, from its settings model (`config`)."""
        return cls(parts, config)  # type: ignore[call-arg]  # a subclass's own __init__

    def routes(self) -> list[web.AbstractRouteDef]:
        """The HTTP routes the channel serves under `cskh serve` (webhooks, pages)."""
        return []

    async def start(self) -> None:  # noqa: B027 - most channels have nothing to open
        """Open clients and background tasks; called once when the app starts."""

    async def stop(self) -> None:  # noqa: B027
        """Close what `start` opened."""

    def incoming(self, user_id: str, **content: Any) -> Incoming:
        """An update of this channel for the engine (`content`: Incoming's fields)."""
        return Incoming(channel=self.name, user_id=user_id, channel_caps=self.caps, **content)

    async def answer(self, incoming: Incoming) -> list[Reply]:
        """The engine's answer to an update; on a platform with a typing action
        (`caps.typing`) "typing…" shows while a slow one is prepared."""
        if not self.caps.typing:
            return await self.engine.handle(incoming)
        typing = asyncio.create_task(self._keep_typing(incoming.user_id))
        try:
            return await self.engine.handle(incoming)
        finally:
            typing.cancel()

    async def show_typing(self, user_id: str) -> None:  # noqa: B027 - with caps.typing
        """Show "typing…" in the chat (a platform call; its failure is ignored)."""

    async def _keep_typing(self, user_id: str) -> None:
        await asyncio.sleep(TYPING_AFTER)
        while True:
            with contextlib.suppress(Exception):
                await self.show_typing(user_id)
            await asyncio.sleep(TYPING_EVERY)

    def adapt(self, replies: Sequence[Reply]) -> list[Reply]:
        """The replies as this platform can show them (`caps`): too many buttons become
        numbered options in the text (numbered as bot.core.messages.numbered_options
        numbers them, which the engine keeps), or, under a question that takes a typed
        answer (`Reply.named_options`), options listed by name; media it cannot take a
        link, and a long text several messages (the buttons and media stay with the
        last)."""
        adapted: list[Reply] = []
        number = 1
        for reply in replies:
            lines = [reply.text]
            image, document = reply.image, reply.document
            if image is not None and not self.caps.images:
                lines.append(self._media_line(IMAGE_MARK, image))
                image = None
            if document is not None and not self.caps.documents:
                lines.append(self._media_line(DOCUMENT_MARK, document))
                document = None
            buttons = reply.buttons
            if self.caps.lists(reply):
                numbered = self.caps.numbers(reply)
                for button in reply.all_buttons:
                    if button.payload is not None and numbered:
                        lines.append(f"  {number}. {button.title}")
                        number += 1
                    elif button.payload is not None:  # chosen by its words (named_options)
                        lines.append(f"  {NAMED_MARK} {button.title}")
                    else:
                        lines.append(f"  {LINK_MARK} {button.title}: {button.url}")
                buttons = ()
            text = "\n".join(line for line in lines if line)
            *firsts, last = (
                split_at_sentences(text, self.caps.max_text) if self.caps.max_text else [text]
            )
            adapted += [Reply(text=chunk) for chunk in firsts]
            adapted.append(
                replace(reply, text=last, buttons=buttons, image=image, document=document)
            )
        return adapted

    def _media_line(self, mark: str, media: Media) -> str:
        url = media.url
        if media.media_id is not None and self.links is not None:
            url = self.links.url_for(media.media_id)
        return f"{mark} {media.filename}" + (f": {url}" if url else "")

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """A push from the delivery worker (bot/core/outbound.py: `Outbound`), adapted to
        the platform, then sent by `send`."""
        return await self.send(recipient, self.adapt(replies))

    @abstractmethod
    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """Send replies the platform can show (adapted) to a user who did not ask just
        now, once; the platform's id of the last message sent, if it has ids.

        Raises:
            ChannelUnreachable: the platform refuses this user for good.
            RateLimited: the platform asks to slow down (the worker pauses the channel).
        """


# Where a long text may be cut, best first: a paragraph, a line, the end of a
# sentence (after . ! ? … and any closing quote or bracket), a space. "305.230 đ" has no
# space after its dot, so a number is never taken for a sentence's end.
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+"),
    re.compile(r"\s+"),
)


def split_at_sentences(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at the end of a paragraph, a line or a
    sentence (a word's end only where a sentence is longer than `limit`), never inside
    a word unless one word alone is longer than `limit`."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut, resume = _cut(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[resume:]  # the break's own spaces are gone; an option's indent stays
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _cut(text: str, limit: int) -> tuple[int, int]:
    """Where the first piece ends and the next begins."""
    window = text[: limit + 1]  # a break just after the limit still leaves a full piece
    found = [[m for m in p.finditer(window) if 0 < m.start() <= limit] for p in _BREAKS]
    *sentences, words = found
    # The best kind of break in the second half (a paragraph over a line over a
    # sentence); else the last end of a sentence anywhere (a short piece is better than
    # one cut mid-sentence); else the last space.
    for breaks in sentences:
        late = [m for m in breaks if m.start() > limit // 2]
        if late:
            return late[-1].start(), late[-1].end()
    last = max((m for breaks in sentences for m in breaks), key=lambda m: m.start(), default=None)
    last = last or (words[-1] if words else None)
    if last is not None:
        return last.start(), last.end()
    return limit, limit  # one word longer than a whole message: no better place


def client_address(request: web.Request, trusted_proxies: Networks) -> str | None:
    """The customer's network address (bot/core/network.py: `client_address_from`)."""
    return client_address_from(
        request.remote, request.headers.getall("X-Forwarded-For", []), trusted_proxies
    )
