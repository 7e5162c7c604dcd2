"""E-mail fakes: a real SMTP server (aiosmtpd) on loopback that keeps what it receives
(for the full rig), and a provider in this process that keeps the same messages (for
the light rig, tests/light.py)."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from bot.auth.providers import Outgoing


class _Keeper:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


class LocalSmtp:
    """Start with `start()`; point CSKH_SMTP_HOST/PORT at `host`/`port`."""

    def __init__(self) -> None:
        self.keeper = _Keeper()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.host = "127.0.0.1"
        self.controller = Controller(self.keeper, hostname=self.host, port=self.port)

    def start(self) -> LocalSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.keeper.messages

    def last_code(self, to: str) -> str:
        return last_mail_code(self.messages, to)


class FakeMail:
    """An e-mail provider (bot/auth/providers.py's Sender) that keeps each message as the
    SMTP server would have received it."""

    def __init__(self, sender: str = "cskh@example.com") -> None:
        self.sender = sender
        self.messages: list[EmailMessage] = []

    async def send(self, message: Outgoing) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail.set_content(message.body)
        self.messages.append(mail)

    async def close(self) -> None:
        return None

    def last_code(self, to: str) -> str:
        return last_mail_code(self.messages, to)


def last_mail_code(messages: list[EmailMessage], to: str) -> str:
    mails = [m for m in messages if m["To"] == to]
    assert mails, f"no e-mail to {to}"
    body = mails[-1].get_content()
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)
