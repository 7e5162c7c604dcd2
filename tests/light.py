"""The light rig's channel: customers talk to the engine in this process, with no HTTP
server and no fake platform in between (tests/handlers/rig.py builds the rig).

`LightDriver` keeps the interface of tests/drivers.py's drivers (`say`, `press`,
`send_photo`, `send_location`, `text`, `buttons`, `files`), builds each `Incoming` as
the named channel does (its user ids, address, Telegram's sender fields) and shows the
answer as that channel's customer sees it. `LightOutbound` is registered with the
pusher under each channel's name, so a push goes outbox → delivery worker → channel as
in production and the driver reads it with `receive_pushes`. What is particular to a
platform (HTTP shapes, uploads, signed links, Telegram's API) is tested with the full
rig in tests/channels.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.app import Runtime
from bot.channels.telegram import TELEGRAM_CAPS
from bot.channels.telegram.updates import contact_e164
from bot.core.messages import ChannelCaps, Contact, Incoming, Location, Media, Reply
from bot.core.outbound import Recipient
from bot.store.media import load_media, sniff_image
from tests.drivers import Driver, File

LOOPBACK = "127.0.0.1"  # where the full rig's REST and web chat customers come from


class LightOutbound:
    """A channel's sending side (the pusher's Outbound): keeps what it is handed per
    chat, as the platform keeps it for the customer's device."""

    _message_ids = itertools.count(1)

    def __init__(self, name: str) -> None:
        self.name = name
        self.pushed: dict[str, list[Reply]] = defaultdict(list)

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        self.pushed[recipient.platform_user_id].extend(replies)
        if self.name != "telegram":
            return None  # only Telegram has message ids (a reply to a notice is matched)
        return str(next(self._message_ids))


class LightDriver(Driver):
    """One customer on `channel` ("rest", "web" or "telegram"), in this process."""

    _ids = itertools.count(500_000)

    def __init__(
        self, runtime: Runtime, outbound: LightOutbound, user_id: str, address: str | None
    ) -> None:
        self.runtime = runtime
        self.outbound = outbound
        self.channel = outbound.name
        self.platform_user_id = user_id
        self.address = address  # the client address a channel would read off the network
        self.replies: list[Reply] = []  # the last answer (or the pushes last received)
        self.buttons = []
        self.files = []
        self.seconds = 0.0  # how long the engine took to answer the last message
        self._pushes_read = 0
        # What the channel says it can show, when not the channel's own (a test of a
        # platform without buttons: the terminal's, the Zalo Bot's).
        self.caps: ChannelCaps | None = None

    async def send(self, **content: Any) -> None:
        """One update with `content` (Incoming's fields), as the channel hands it in."""
        platform: dict[str, Any] = {}
        if self.channel == "telegram":
            number = next(self._ids)
            platform = {
                "update_id": str(number),
                "message_ref": str(number),
                "display_name": "Lan Nguyễn",
                "language_hint": "vi",
                "channel_caps": TELEGRAM_CAPS,  # as the Telegram channel says
            }
        if self.caps is not None:
            platform["channel_caps"] = self.caps
        incoming = Incoming(
            channel=self.channel,
            user_id=self.platform_user_id,
            client_address=self.address,
            **platform,
            **content,
        )
        started = time.perf_counter()
        replies = await self.runtime.engine.handle(incoming)
        self.seconds = time.perf_counter() - started
        # What the bot does after an answer (a one-time code leaves then) is done before
        # the test reads the fake providers, as the full rig's `settle` does.
        await self.runtime.engine.services.otp.drain()
        await self._show(replies)

    async def say(self, text: str) -> None:
        await self.send(text=text)

    async def press(self, title: str) -> None:
        button = self._button(title)
        if button.get("typed"):
            await self.say(title)  # a reply-keyboard button sends its title
        else:
            assert button.get("payload"), f"{title!r} is a link, not a button to press"
            await self.send(payload=button["payload"])

    async def send_photo(self, data: bytes, caption: str | None = None) -> None:
        content_type = sniff_image(data)
        assert content_type is not None, "the channels take only images as photos"
        if self.channel == "telegram":  # Telegram hands over a JPEG by the file's id
            media = Media("image/jpeg", f"photo{next(self._ids)}.jpg", data=data)
        else:
            media = Media(content_type, f"photo.{content_type.split('/')[1]}", data=data)
        await self.send(photos=(media,), text=caption)

    async def send_location(self, lat: float, lon: float) -> None:
        await self.send(location=Location(lat, lon))

    async def share_contact(self, phone: str, *, own: bool = True) -> None:
        """Telegram's contact card; only one's own is vouched for by the platform."""
        assert self.channel == "telegram", "only Telegram shares contacts"
        # As the Telegram channel reads a contact card's number.
        await self.send(contact=Contact(contact_e164(phone), verified=own, name="Lan"))

    async def receive_pushes(self) -> None:
        """Read the messages pushed to this chat since the last call."""
        pushed = self.outbound.pushed[self.platform_user_id]
        fresh, self._pushes_read = pushed[self._pushes_read :], len(pushed)
        await self._show(fresh)

    async def _show(self, replies: Sequence[Reply]) -> None:
        """The answer as this channel's customer sees it: Telegram sends nothing for an
        empty reply and turns a reply with contact/location requests into a reply
        keyboard (every button typed, links spelled out under the text)."""
        telegram = self.channel == "telegram"
        if telegram:
            replies = [r for r in replies if r.text or r.buttons or r.image or r.document]
        self.replies = list(replies)
        texts, self.buttons, self.files = [], [], []
        for reply in replies:
            keyboard = telegram and bool(reply.requests)
            links = [f"{b.title}: {b.url}" for b in reply.all_buttons if b.url and keyboard]
            texts.append("\n".join([reply.text, *links]))
            if keyboard:
                self.buttons += [
                    {"title": r.title, "typed": True, "request": str(r.kind)}
                    for r in reply.requests
                ]
            for button in reply.all_buttons:
                if keyboard and button.payload is not None:
                    self.buttons.append({"title": button.title, "typed": True})
                elif not keyboard:
                    self.buttons.append(
                        {"title": button.title, "payload": button.payload, "url": button.url}
                    )
            for kind, media in (("image", reply.image), ("document", reply.document)):
                if media is not None:
                    self.files.append(File(kind, await self._bytes(media), media.filename))
        self.text = "\n".join(texts)

    async def _bytes(self, media: Media) -> bytes:
        if media.data is not None:
            return media.data
        assert media.media_id is not None, media
        async with self.runtime.db.reading() as session:
            stored = await load_media(session, media.media_id)
        assert stored is not None, f"media {media.media_id} is gone"
        return stored.data
