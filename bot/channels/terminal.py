"""`cskh chat`: talk to the bot in a terminal. Buttons are numbered; type the number.

Besides plain text: /photo PATH sends a photo, /location LAT LON a location,
/contact PHONE a phone number, /quit (or Ctrl-D) leaves. Images and documents the
bot sends are saved under var/downloads/ and their path printed. While the bot asks
for a password, a PIN or a code, a terminal does not echo what is typed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

try:
    import termios
except ImportError:  # not a POSIX system: secrets are read like any line
    termios = None  # type: ignore[assignment]

from bot.auth.providers import Outgoing
from bot.channels.base import Channel
from bot.core.engine import Engine
from bot.core.messages import (
    ChannelCaps,
    Contact,
    Incoming,
    KeyboardRequest,
    Location,
    Media,
    Reply,
)
from bot.core.outbound import Recipient
from bot.core.texts import Texts
from bot.core.transcript import REDACTED
from bot.store.db import Database
from bot.store.media import load_media, sniff_image


class TerminalChannel(Channel):
    """One local user talking through stdin/stdout."""

    name = "terminal"
    # No buttons: every choice is a numbered option, typed (the engine matches it). No
    # pictures either: a file the bot sends is saved and its name printed.
    caps = ChannelCaps(max_buttons=0, images=False, documents=False)

    def __init__(
        self,
        engine: Engine,
        db: Database,
        texts: Texts,
        *,
        user_id: str,
        lang: str = "vi",
        downloads: Path,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.texts = texts
        self.lang = lang
        self._hints = {
            KeyboardRequest.LOCATION: self._t("terminal.location_hint"),
            KeyboardRequest.CONTACT: self._t("terminal.contact_hint"),
        }
        self.user_id = user_id
        self.downloads = downloads
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    async def run(self) -> None:
        """The read-answer loop, until /quit or end of input."""
        self._print(self._t("terminal.usage"))
        secret = await self._turn(self._make(text="/start"))
        while True:
            line = await asyncio.to_thread(self._read_line, secret=secret)
            if line is None:
                break
            line = line.strip()
            if line in ("/quit", "/exit", "/q"):
                break
            if not line:
                continue
            incoming = self.parse(line)
            if isinstance(incoming, str):
                self._print(incoming)
                continue
            secret = await self._turn(incoming)

    def parse(self, line: str) -> Incoming | str:
        """An update from a typed line, or a message explaining what is wrong with it."""
        command, _, rest = line.partition(" ")
        if command == "/photo":
            return self._photo(rest.strip())
        if command == "/location":
            try:
                lat, lon = (float(part) for part in rest.split())
                return self._make(location=Location(lat, lon))
            except ValueError:
                return self._t("terminal.location_usage")
        if command == "/contact" and rest.strip():
            return self._make(contact=Contact(phone=rest.strip()))
        return self._make(text=line)

    def _photo(self, path_text: str) -> Incoming | str:
        path = Path(path_text).expanduser()
        try:
            data = path.read_bytes()
        except OSError as error:
            return self._t("terminal.unreadable", path=path, reason=error.strerror)
        content_type = sniff_image(data)
        if content_type is None:
            return self._t("terminal.not_image")
        return self._make(photos=(Media(content_type, path.name, data=data),))

    def _t(self, key: str, **params: object) -> str:
        return self.texts.get(key, self.lang, **params)

    def _make(self, **content: Any) -> Incoming:
        return self.incoming(self.user_id, **content)

    async def _turn(self, incoming: Incoming) -> bool:
        """Send one update and show the answer; whether the bot now waits for a secret."""
        replies = await self.answer(incoming)
        await self._show(replies)
        return bool(getattr(replies, "expects_secret", False))

    async def _show(self, replies: Sequence[Reply], *, pushed: bool = False) -> None:
        for reply in replies:
            for media in (reply.image, reply.document):
                if media is not None:
                    await self._save(media)
        lines = [reply.text for reply in self.adapt(replies)]
        # No contact or location button here: say how to type one.
        lines += [self._hints[request.kind] for reply in replies for request in reply.requests]
        prefix = "🔔 " if pushed else ""
        self._print(prefix + "\n".join(line for line in lines if line))

    async def _save(self, media: Media) -> None:
        data = media.data
        if data is None and media.media_id is not None:
            async with self.db.reading() as session:
                row = await load_media(session, media.media_id)
                data = row.data if row else None
        if data is None:
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        target = self.downloads / Path(media.filename).name
        target.write_bytes(data)
        self._print(self._t("terminal.saved", path=target))

    def show_dev_message(self, message: Outgoing) -> None:
        """A code the development SMS/e-mail provider "sent": show it, as a phone would."""
        self._print(
            self._t(
                "terminal.dev_message", kind=message.kind.upper(), to=message.to, body=message.body
            )
        )

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        # Not adapted first: `_show` saves the files before they become names.
        return await self.send(recipient, replies)

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        if recipient.platform_user_id == self.user_id:
            await self._show(replies, pushed=True)
        return None

    def _read_line(self, *, secret: bool = False) -> str | None:
        hidden = secret and termios is not None and self.stdin.isatty()
        if not hidden:
            self.stdout.write("> ")
            self.stdout.flush()
            line = self.stdin.readline()
            return line if line else None
        # A password, PIN or code: the terminal stops echoing before the prompt shows.
        fd = self.stdin.fileno()
        echoing = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        try:
            self.stdout.write("🔒 > ")
            self.stdout.flush()
            line = self.stdin.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, echoing)
        self._print(REDACTED if line.strip() else "")  # Enter was not echoed either
        return line if line else None

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()
