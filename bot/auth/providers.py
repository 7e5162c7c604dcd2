"""Sending codes: SMS through an HTTP gateway, e-mail through SMTP, or (development) the
log and the dev outbox table.

CSKH_SMS_PROVIDER=http posts JSON {"to": "+849...", "text": "..."} to CSKH_SMS_HTTP_URL
(with `Authorization: Bearer CSKH_SMS_HTTP_TOKEN` when set), retrying network errors
and 5xx. E-mail goes through SMTP (aiosmtplib) when CSKH_SMTP_HOST is set. Without
them, the `log` providers write the message to the log and to `dev_messages` for
staff and `cskh dev outbox`: never use them in production.

Senders run after the customer has had the answer (bot/auth/otp.py), outside the
conversation's transaction: the gateway's speed must not tell whether a phone is known.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiohttp
import aiosmtplib

from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import DevMessage

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10  # seconds for one gateway call
HTTP_ATTEMPTS = 3


class DeliveryError(Exception):
    """The message could not be handed to the gateway."""


@dataclass(frozen=True)
class Outgoing:
    """One SMS (no subject) or e-mail."""

    kind: str  # sms | email | zalo (a ZNS template message: `body` is the code)
    to: str
    body: str
    subject: str | None = None


class Sender(Protocol):
    """Hands an outgoing message to a gateway. Raises DeliveryError."""

    async def send(self, message: Outgoing) -> None: ...

    async def close(self) -> None: ...


class LogSender:
    """Development: log the message and keep it in dev_messages (nothing leaves)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Lets `cskh chat` show the "SMS" right in the terminal.
        self.listeners: list[Callable[[Outgoing], None]] = []

    async def send(self, message: Outgoing) -> None:
        log.warning(
            "DEVELOPMENT %s to %s (not sent; set a real provider in production): %s",
            message.kind.upper(),
            message.to,
            message.body,
        )
        async with self.db.transaction() as session:
            session.add(
                DevMessage(
                    kind=message.kind,
                    recipient=message.to,
                    subject=message.subject,
                    body=message.body,
                )
            )
        for listener in self.listeners:
            listener(message)

    async def close(self) -> None:
        return None


class HttpSmsSender:
    """An SMS gateway that takes POST JSON {"to", "text"}."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self._session: aiohttp.ClientSession | None = None
        self.backoff = 0.5

    async def send(self, message: Outgoing) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        delay = self.backoff
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            try:
                async with self._session.post(
                    self.url, json={"to": message.to, "text": message.body}, headers=headers
                ) as response:
                    if response.status < 300:
                        return
                    if response.status < 500:
                        raise DeliveryError(f"SMS gateway refused the message ({response.status})")
                    log.warning("SMS gateway answered %s (attempt %s)", response.status, attempt)
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("SMS gateway unreachable (attempt %s): %s", attempt, error)
            if attempt < HTTP_ATTEMPTS:
                await asyncio.sleep(delay)
                delay *= 2
        raise DeliveryError("SMS gateway failed after retries")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SmtpSender:
    """E-mail through an SMTP server (aiosmtplib)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: Outgoing) -> None:
        settings = self.settings
        email = EmailMessage()
        email["From"] = settings.smtp_from
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email.set_content(message.body)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                email,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user,
                password=password,
                start_tls=settings.smtp_starttls,
                timeout=HTTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP failed: {error}") from error

    async def close(self) -> None:
        return None


@dataclass
class Senders:
    """The SMS and e-mail senders the settings ask for, and Zalo's ZNS when the Zalo OA
    channel runs with CSKH_ZALO_ZNS_OTP_TEMPLATE (it sets `zalo` when it is built)."""

    sms: Sender
    email: Sender
    zalo: Sender | None = None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> Senders:
        development = LogSender(db)
        sms: Sender = development
        if settings.sms_provider == "http":
            if not settings.sms_http_url:
                raise ValueError("CSKH_SMS_PROVIDER=http needs CSKH_SMS_HTTP_URL")
            token = settings.sms_http_token.get_secret_value() if settings.sms_http_token else None
            sms = HttpSmsSender(settings.sms_http_url, token)
        email: Sender = SmtpSender(settings) if settings.smtp_host else development
        return cls(sms, email)

    def listen(self, listener: Callable[[Outgoing], None]) -> None:
        """Hear every message the development providers keep (for `cskh chat`)."""
        for sender in {id(self.sms): self.sms, id(self.email): self.email}.values():
            if isinstance(sender, LogSender):
                sender.listeners.append(listener)

    async def close(self) -> None:
        await self.sms.close()
        if self.email is not self.sms:
            await self.email.close()
