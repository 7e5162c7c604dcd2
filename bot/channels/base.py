"""The contract every channel keeps, and the plain-text fallbacks.

A channel translates: platform update -> `Incoming` -> engine -> `Reply` -> platform
call. It holds no business rule. Sending text is all a channel must do; buttons,
images and documents fall back to numbered options and links (`render_plain`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from aiohttp import web

from bot.core.messages import KeyboardRequest, Reply
from bot.core.network import Networks, client_address_from
from bot.core.outbound import Recipient


class Channel(ABC):
    """A way customers reach the bot (an explicit registry in app.py lists them)."""

    name: ClassVar[str]

    def routes(self) -> list[web.AbstractRouteDef]:
        """The HTTP routes the channel serves under `cskh serve` (webhooks, pages)."""
        return []

    async def start(self) -> None:  # noqa: B027 - most channels have nothing to open
        """Open clients and background tasks; called once when the app starts."""

    async def stop(self) -> None:  # noqa: B027
        """Close what `start` opened."""

    @abstractmethod
    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """Send replies the user did not ask for just now (a push from the delivery
        worker), once; the platform's id of the last message sent, if it has ids.

        Raises:
            ChannelUnreachable: the platform refuses this user for good.
            RateLimited: the platform asks to slow down (the worker pauses the channel).
        """


def numbered_options(replies: Sequence[Reply]) -> list[tuple[str, str]]:
    """(title, payload) of every payload button, numbered from 1 across the replies."""
    return [
        (button.title, button.payload)
        for reply in replies
        for button in reply.all_buttons
        if button.payload is not None
    ]


def render_plain(
    replies: Sequence[Reply], *, hints: Mapping[KeyboardRequest, str] | None = None
) -> str:
    """Replies as plain text: payload buttons as numbered options, links spelled out,
    and for a contact/location request the `hints` line saying how to send one."""
    lines: list[str] = []
    number = 1
    for reply in replies:
        if reply.text:
            lines.append(reply.text)
        for media, label in ((reply.image, "🖼"), (reply.document, "📎")):
            if media is not None:
                lines.append(f"{label} {media.filename}" + (f": {media.url}" if media.url else ""))
        for button in reply.all_buttons:
            if button.payload is not None:
                lines.append(f"  {number}. {button.title}")
                number += 1
            else:
                lines.append(f"  ↗ {button.title}: {button.url}")
        lines.extend((hints or {}).get(request.kind, "") for request in reply.requests)
    return "\n".join(line for line in lines if line)


def client_address(request: web.Request, trusted_proxies: Networks) -> str | None:
    """The customer's network address (bot/core/network.py: `client_address_from`)."""
    return client_address_from(
        request.remote, request.headers.getall("X-Forwarded-For", []), trusted_proxies
    )
