"""The SMS gateway and SMTP senders against real local servers; the development log."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.auth.providers import DeliveryError, HttpSmsSender, LogSender, Outgoing, SmtpSender
from bot.store.db import Database
from bot.store.models import DevMessage
from tests.fakes.sms_gateway import FakeSmsGateway
from tests.fakes.smtp_server import LocalSmtp
from tests.helpers import make_settings


async def test_the_gateway_gets_json_with_the_bearer_token(migrated_url: str) -> None:
    gateway = await FakeSmsGateway().start()
    sender = HttpSmsSender(gateway.url, gateway.token)
    sender.backoff = 0.01
    try:
        await sender.send(Outgoing("sms", "+84905123456", "Ma: 123456"))
        gateway.failures = [502, 503]  # retried, then delivered
        await sender.send(Outgoing("sms", "+84905123456", "Ma: 654321"))
        gateway.failures = [400]  # a refusal is final
        with pytest.raises(DeliveryError, match="refused"):
            await sender.send(Outgoing("sms", "+84905123456", "x"))
        gateway.failures = [500, 500, 500]
        with pytest.raises(DeliveryError, match="after retries"):
            await sender.send(Outgoing("sms", "+84905123456", "x"))
        wrong_token = HttpSmsSender(gateway.url, "nope")
        with pytest.raises(DeliveryError):
            await wrong_token.send(Outgoing("sms", "+84905123456", "x"))
        await wrong_token.close()
    finally:
        await sender.close()
        await gateway.close()
    assert gateway.received == [
        {"to": "+84905123456", "text": "Ma: 123456"},
        {"to": "+84905123456", "text": "Ma: 654321"},
    ]


async def test_smtp_delivers_a_vietnamese_mail(tmp_path: object, migrated_url: str) -> None:
    smtp = LocalSmtp().start()
    settings = make_settings(
        tmp_path,
        migrated_url,
        smtp_host=smtp.host,  # type: ignore[arg-type]
        smtp_port=smtp.port,
        smtp_starttls=False,
    )
    try:
        await SmtpSender(settings).send(
            Outgoing("email", "an.nguyen@example.com", "Mã: 482913", "Mã xác thực")
        )
    finally:
        smtp.stop()
    (mail,) = smtp.messages
    assert mail["Subject"] == "Mã xác thực" and mail["To"] == "an.nguyen@example.com"
    assert "Mã: 482913" in mail.get_content()


async def test_an_unreachable_smtp_server_is_a_delivery_error(
    tmp_path: object, migrated_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        migrated_url,
        smtp_host="127.0.0.1",  # type: ignore[arg-type]
        smtp_port=9,
        smtp_starttls=False,
    )
    with pytest.raises(DeliveryError):
        await SmtpSender(settings).send(Outgoing("email", "a@example.com", "x", "y"))


async def test_the_development_sender_logs_and_keeps_the_message(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(migrated_url)
    heard: list[Outgoing] = []
    sender = LogSender(db)
    sender.listeners.append(heard.append)
    try:
        with caplog.at_level(logging.WARNING):
            await sender.send(Outgoing("sms", "+84905123456", "Ma: 482913"))
        async with db.reading() as session:
            kept = await session.scalar(select(DevMessage))
    finally:
        await db.dispose()
    assert "DEVELOPMENT SMS to +84905123456" in caplog.text
    assert kept is not None and kept.body == "Ma: 482913"
    assert [m.body for m in heard] == ["Ma: 482913"]
