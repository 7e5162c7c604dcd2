"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


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
        mails = [m for m in self.messages if m["To"] == to]
        assert mails, f"no e-mail to {to}"
        body = mails[-1].get_content()
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)
