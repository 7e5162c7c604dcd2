"""The Zalo OA channel against a fake OA on loopback (tests/fakes/zalo_oa.py): the real
client signs nothing, refreshes tokens, uploads images and sends customer-service and
ZNS messages to it; the fake signs and posts webhook events as Zalo does."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import build_runtime, create_app
from bot.channels.zalo_oa import ZaloOaSettings
from bot.channels.zalo_oa.channel import PAYLOAD_MARK, WEBHOOK_PATH, ZaloOaChannel
from bot.core.clock import FakeClock
from bot.core.messages import Button, Reply
from bot.core.outbound import Recipient
from bot.settings import Settings
from bot.store.media import load_media
from bot.store.models import ChatUser, Delivery, ZaloOaToken
from bot.store.models import Media as MediaRow
from tests.channels.test_webchat import PNG
from tests.drivers import Driver, File
from tests.fakes.sms_gateway import FakeSmsGateway
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_SECRET_KEY, FakeZaloOa
from tests.helpers import BotServer, eventually, make_settings

USER = "2512523625412515"
_NOTICES = itertools.count(1)

TEMPLATES = """\
bill_issued:
  template_id: "301234"
  data:
    customer_code: "{customer_code}"
    amount: "{amount}"
    period: "{period}"
    due_date: "{due_date}"
outage_planned:
  template_id: "301240"
  data: {customer_code: "{customer_code}", message: "{text:100}"}
outage_incident:
  template_id: "301241"
  data: {customer_code: "{customer_code}", cause: "{cause}"}
"""


def zalo_config(fake: FakeZaloOa, tmp_path: Path, **overrides: Any) -> ZaloOaSettings:
    templates = tmp_path / "zns.yml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "secret_key": OA_SECRET_KEY,
        "access_token": "access-0",
        "refresh_token": "refresh-0",
        "api_url": fake.url,
        "oauth_url": fake.url,
        "zns_api_url": fake.url,
        "zns_templates": templates,
        "chat_interval": 0.0,
        **overrides,
    }
    return ZaloOaSettings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def zalo_server(
    settings: Settings, config: ZaloOaSettings, clock: FakeClock
) -> AsyncIterator[BotServer]:
    """`cskh serve`'s app with the Zalo OA on (its settings given, not read)."""
    runtime = await build_runtime(settings, clock=clock)
    runtime.channel_settings["zalo_oa"] = config
    app = create_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    await runtime.understanding.ready()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    runtime.links._public_url = f"http://{host}:{port}"
    runtime.settings.public_url = f"http://{host}:{port}"
    server = BotServer(runtime, runner, f"http://{host}:{port}", aiohttp.ClientSession())
    try:
        yield server
    finally:
        await server.close()


@dataclass
class ZaloRig:
    fake: FakeZaloOa
    server: BotServer
    clock: FakeClock
    sms: FakeSmsGateway | None = None

    @property
    def channel(self) -> ZaloOaChannel:
        channel = self.server.runtime.channels["zalo_oa"]
        assert isinstance(channel, ZaloOaChannel)
        return channel

    @property
    def webhook(self) -> str:
        return self.server.base_url + WEBHOOK_PATH

    async def post(self, event: dict[str, Any], **kwargs: Any) -> int:
        return await self.fake.post_event(self.server.session, self.webhook, event, **kwargs)

    async def send(self, name: str, user: str = USER, **message: Any) -> None:
        """An event from `user`, handled to the end (the answer sent)."""
        assert await self.post(self.fake.event(name, user, **message)) == 200
        await self.handled()

    async def handled(self) -> None:
        await self.channel.idle()
        await self.server.settle()

    async def chat_user(self, user: str = USER) -> ChatUser | None:
        async with self.server.runtime.db.reading() as session:
            return await session.scalar(
                select(ChatUser).where(
                    ChatUser.channel == "zalo_oa", ChatUser.platform_user_id == user
                )
            )


@pytest.fixture
async def zalo(tmp_path: Path, migrated_url: str) -> AsyncIterator[ZaloRig]:
    fake = await FakeZaloOa().start()
    clock = FakeClock()
    settings = make_settings(tmp_path / "var", migrated_url)
    try:
        async with zalo_server(settings, zalo_config(fake, tmp_path), clock) as server:
            yield ZaloRig(fake, server, clock)
    finally:
        await fake.close()


# --- the webhook ---------------------------------------------------------------------


async def test_a_wrong_or_missing_signature_gets_401_and_nothing_runs(zalo: ZaloRig) -> None:
    event = zalo.fake.event("user_send_text", USER, text="menu")
    assert await zalo.post(event, signature="") == 401
    assert await zalo.post(event, signature="mac=" + "0" * 64) == 401
    # Signed with the app secret instead of the OA secret key: refused.
    assert await zalo.post(event, key=APP_SECRET) == 401
    # An HMAC is not Zalo's signature either.
    raw = json.dumps(event).encode()
    wrong = hmac.new(OA_SECRET_KEY.encode(), APP_ID.encode() + raw, hashlib.sha256).hexdigest()
    assert await zalo.post(event, body=raw, signature="mac=" + wrong) == 401
    await zalo.handled()
    assert zalo.fake.sent == [] and await zalo.chat_user() is None
    assert await zalo.post(event) == 200
    await zalo.handled()
    assert zalo.fake.cs(USER), "a correctly signed event is answered"


async def test_a_signed_event_the_code_cannot_read_is_acknowledged_and_logged(
    zalo: ZaloRig, caplog: pytest.LogCaptureFixture
) -> None:
    broken = zalo.fake.event("user_send_location", USER, attachments=[{"type": "location"}])
    strange = zalo.fake.event("user_send_text", USER, text=["not", "text"])
    not_an_object = b'["a list"]'
    with caplog.at_level(logging.WARNING):
        assert await zalo.post(broken) == 200
        assert await zalo.post(strange) == 200
        assert (
            await zalo.post(
                broken,
                body=not_an_object,
                signature=zalo.fake.sign(not_an_object, ""),
            )
            == 200
        )
        await zalo.handled()
    assert "location without coordinates" in caplog.text
    # The bot goes on: the next message is answered.
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.cs(USER)


async def test_a_replayed_msg_id_is_handled_once(zalo: ZaloRig) -> None:
    event = zalo.fake.event("user_send_text", USER, text="menu")
    statuses = await asyncio.gather(*(zalo.post(event) for _ in range(4)))
    assert statuses == [200] * 4
    await zalo.handled()
    assert await zalo.post(event) == 200  # again later
    await zalo.handled()
    assert len(zalo.fake.cs(USER)) == 1


async def test_a_customers_messages_are_handled_in_the_order_zalo_posted_them(
    zalo: ZaloRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zalo posts each message at once; the first one's handling may take longer (a
    photo downloaded, a slow query) than the second's: the second still waits for it,
    as a form's answers must come in order. Another customer does not wait."""
    channel = zalo.channel
    handled: list[str] = []
    dispatch = channel._dispatch

    async def slow_first(name: str, event: dict[str, Any]) -> None:
        text = str(event["message"]["text"])
        if text == "một":
            await asyncio.sleep(0.3)
        await dispatch(name, event)
        handled.append(text)

    monkeypatch.setattr(channel, "_dispatch", slow_first)
    for user, text in ((USER, "một"), (USER, "hai"), ("other-user", "ba")):
        assert await zalo.post(zalo.fake.event("user_send_text", user, text=text)) == 200
    await zalo.handled()
    assert handled.index("một") < handled.index("hai")
    assert handled[0] == "ba"  # not held up behind the first customer


async def test_text_gets_an_answer_with_buttons_and_a_pressed_button_runs(zalo: ZaloRig) -> None:
    await zalo.send("user_send_text", text="xin chào")
    (answer,) = zalo.fake.cs(USER)
    assert answer.text
    buttons = answer.buttons or []
    if not buttons:  # more than five options: numbered in the text
        assert re.search(r"^\s+1\. ", answer.text, re.M), answer.text
    else:
        assert len(buttons) <= 5
        assert all(b["payload"].startswith(PAYLOAD_MARK) for b in buttons)
    await zalo.send("user_send_text", text=PAYLOAD_MARK + "help")
    assert len(zalo.fake.cs(USER)) == 2
    assert zalo.server.runtime.settings.hotline in zalo.fake.cs(USER)[-1].text


async def test_more_buttons_than_zalo_shows_become_numbered_options(zalo: ZaloRig) -> None:
    channel = zalo.channel
    await zalo.send("user_send_text", text="menu")  # the chat user exists
    user = await zalo.chat_user()
    assert user is not None
    six = [Button(f"Lựa chọn {n}", payload=f"opt{n}") for n in range(1, 7)]
    three = [Button(f"Nút {n}", payload=f"b{n}") for n in range(1, 4)]
    await channel.deliver(
        Recipient.of(user),
        [Reply("Chọn một:", buttons=(tuple(six),)), Reply("Ba nút", buttons=(tuple(three),))],
    )
    many, few = zalo.fake.cs(USER)[-2:]
    assert many.buttons == [] and "  6. Lựa chọn 6" in many.text
    assert [b["title"] for b in few.buttons] == ["Nút 1", "Nút 2", "Nút 3"]
    assert few.buttons[0] == {"title": "Nút 1", "type": "oa.query.hide", "payload": "#cskh:b1"}


async def test_an_image_is_downloaded_and_stored_like_a_telegram_photo(zalo: ZaloRig) -> None:
    url = zalo.fake.add_file("photo1.png", PNG)
    await zalo.send(
        "user_send_image",
        text="ảnh công tơ",
        attachments=[{"type": "image", "payload": {"url": url, "thumbnail": url}}],
    )
    async with zalo.server.runtime.db.reading() as session:
        ids = list(await session.scalars(select(MediaRow.id)))
        stored = [await load_media(session, media_id) for media_id in ids]
    assert [row.data for row in stored if row is not None] == [PNG]
    assert zalo.fake.cs(USER), "the photo is answered"


async def test_a_file_past_the_limit_is_refused_without_downloading(
    tmp_path: Path, migrated_url: str
) -> None:
    fake = await FakeZaloOa().start()
    settings = make_settings(tmp_path / "var", migrated_url)
    config = zalo_config(fake, tmp_path, max_file_mb=0.001)
    try:
        async with zalo_server(settings, config, FakeClock()) as server:
            rig = ZaloRig(fake, server, FakeClock())
            url = fake.add_file("big.pdf", b"%PDF-1.4 " + b"x" * 5000)
            await rig.send(
                "user_send_file",
                attachments=[
                    {"type": "file", "payload": {"url": url, "size": "5009", "name": "big.pdf"}}
                ],
            )
            (answer,) = fake.cs(USER)
            assert "MB" in answer.text or "lớn" in answer.text, answer.text
            small = fake.add_file("small.pdf", b"%PDF-1.4 small")
            await rig.send(
                "user_send_file",
                attachments=[
                    {"type": "file", "payload": {"url": small, "size": "14", "name": "a.pdf"}}
                ],
            )
            async with server.runtime.db.reading() as session:
                names = list(await session.scalars(select(MediaRow.filename)))
            assert names == ["a.pdf"]
    finally:
        await fake.close()


async def test_a_location_and_a_sticker(zalo: ZaloRig) -> None:
    await zalo.send(
        "user_send_location",
        attachments=[
            {
                "type": "location",
                "payload": {"coordinates": {"latitude": "16.06", "longitude": "108.2"}},
            }
        ],
    )
    await zalo.send("user_send_sticker", attachments=[{"type": "sticker", "payload": {"id": "1"}}])
    answers = zalo.fake.cs(USER)
    assert len(answers) == 2
    assert answers[-1].text  # answered politely, not ignored


async def test_follow_greets_and_offers_activation_and_unfollow_stops_notices(
    zalo: ZaloRig,
) -> None:
    await zalo.send("follow")
    (greeting,) = zalo.fake.cs(USER)
    titles = [b["title"] for b in greeting.buttons] or [greeting.text]
    assert any("Đăng nhập" in title for title in titles), greeting.text
    await zalo.send("unfollow")
    user = await zalo.chat_user()
    assert user is not None and user.reachable is False
    pushed = await zalo.server.runtime.pusher.push(user.id, [Reply("Thông báo")])
    assert pushed is False
    assert len(zalo.fake.cs(USER)) == 1  # nothing more went to Zalo
    from bot.store.models import Conversation, TranscriptMessage

    async with zalo.server.runtime.db.reading() as session:
        kept = await session.scalar(
            select(TranscriptMessage.id)
            .join(Conversation, Conversation.id == TranscriptMessage.conversation_id)
            .where(Conversation.chat_user_id == user.id)
            .limit(1)
        )
    assert kept is not None, "the history is kept"
    # Following again makes the chat reachable.
    await zalo.send("follow")
    user = await zalo.chat_user()
    assert user is not None and user.reachable is True


# --- the token --------------------------------------------------------------------------


async def _token_row(rig: ZaloRig) -> ZaloOaToken:
    async with rig.server.runtime.db.reading() as session:
        row = await session.get(ZaloOaToken, APP_ID)
    assert row is not None
    return row


async def test_the_token_is_refreshed_before_expiry_and_the_pair_stored(zalo: ZaloRig) -> None:
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.refreshes == 1  # the settings' pair had an unknown age
    row = await _token_row(zalo)
    assert (row.access_token, row.refresh_token) == ("access-1", "refresh-1")
    assert row.expires_at == zalo.clock.now() + timedelta(seconds=90000)
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.refreshes == 1
    zalo.clock.advance(hours=24, minutes=1)  # within the hour before expiry
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.refreshes == 2
    assert {s.token for s in zalo.fake.cs(USER)} == {"access-1", "access-2"}
    assert zalo.fake.used_refresh == ["refresh-0", "refresh-1"]


async def test_minus_216_refreshes_and_the_message_still_goes(zalo: ZaloRig) -> None:
    await zalo.send("user_send_text", text="menu")
    zalo.fake.expire_access()
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.refreshes == 2
    assert len(zalo.fake.cs(USER)) == 2 and zalo.fake.cs(USER)[-1].token == "access-2"


async def test_a_lost_refresh_chain_is_reported_loudly(
    zalo: ZaloRig, caplog: pytest.LogCaptureFixture
) -> None:
    zalo.fake.refresh_refused = True
    with caplog.at_level(logging.ERROR):
        await zalo.send("user_send_text", text="menu")
    assert zalo.fake.cs(USER) == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("authorises the OA again" in r.getMessage() for r in errors)
    async with zalo.server.session.get(zalo.server.base_url + "/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "degraded"
    assert "re-authorisation" in body["checks"]["zalo_oa"]
    assert zalo.fake.used_refresh == ["refresh-0"]  # not hammered again
    await zalo.send("user_send_text", text="menu")
    assert zalo.fake.used_refresh == ["refresh-0"]


async def test_two_processes_refresh_at_the_same_moment_once_and_both_keep_working(
    tmp_path: Path, migrated_url: str
) -> None:
    """Two `cskh serve` processes on one database, both holding an access token due for
    refresh: one refresh (the refresh token is single-use), both send with its token."""
    fake = await FakeZaloOa(refresh_delay=0.3).start()
    clock = FakeClock()
    config = zalo_config(fake, tmp_path)
    try:
        async with (
            zalo_server(make_settings(tmp_path / "a", migrated_url), config, clock) as one,
            zalo_server(make_settings(tmp_path / "b", migrated_url), config, clock) as two,
        ):
            rigs = [ZaloRig(fake, one, clock), ZaloRig(fake, two, clock)]
            users = ["1000000000000001", "1000000000000002"]
            pairs = list(zip(rigs, users, strict=True))
            await asyncio.gather(*(rig.send("user_send_text", u, text="menu") for rig, u in pairs))
            assert fake.refreshes == 1
            assert fake.used_refresh == ["refresh-0"]
            for user in users:
                (answer,) = fake.cs(user)
                assert answer.token == "access-1"
            # A day later both are due again: again one refresh between them.
            clock.advance(hours=24, minutes=30)
            pairs = list(zip(rigs, users, strict=True))
            await asyncio.gather(*(rig.send("user_send_text", u, text="menu") for rig, u in pairs))
            assert fake.refreshes == 2 and fake.used_refresh == ["refresh-0", "refresh-1"]
            assert {fake.cs(user)[-1].token for user in users} == {"access-2"}
    finally:
        await fake.close()


# --- notices outside the customer-service window: ZNS ------------------------------------


async def _activated(rig: ZaloRig, phone: str = "+84905123456") -> ChatUser:
    """A Zalo chat whose customer activated with `phone` (as the OTP flow leaves it)."""
    await rig.send("user_send_text", text="menu")
    async with rig.server.runtime.db.transaction() as session:
        user = await session.scalar(
            select(ChatUser).where(ChatUser.channel == "zalo_oa", ChatUser.platform_user_id == USER)
        )
        assert user is not None
        user.verified_phone = phone
    return user


async def _silent(rig: ZaloRig, days: float) -> None:
    """The customer last wrote `days` ago (the engine stamps the wall clock)."""
    from bot.store.models import utcnow

    async with rig.server.runtime.db.transaction() as session:
        user = await session.scalar(
            select(ChatUser).where(ChatUser.channel == "zalo_oa", ChatUser.platform_user_id == USER)
        )
        assert user is not None
        user.last_seen_at = utcnow() - timedelta(days=days)


async def _notice(
    rig: ZaloRig, user: ChatUser, kind: str, meta: dict[str, Any], text: str = "Thông báo"
) -> int:
    """A notice of `kind` for `user` through the outbox, sent by the worker; its row id."""
    from bot.notify import outbox

    runtime = rig.server.runtime
    async with runtime.db.transaction() as session:
        chat_user = await session.get(ChatUser, user.id)
        assert chat_user is not None
        notice = await outbox.notice_for(
            session, f"test:{kind}:{next(_NOTICES)}", kind=kind, category="outage", meta=meta
        )
        (row_id,) = await outbox.enqueue(
            session,
            notice,
            [outbox.Addressee(chat_user, [Reply(text)], "PC05CC0123456")],
            now=rig.clock.now(),
        )
    await runtime.worker.send_now([row_id])
    return row_id


async def _delivery(rig: ZaloRig, row_id: int) -> Delivery:
    async with rig.server.runtime.db.reading() as session:
        row = await session.get(Delivery, row_id)
    assert row is not None
    return row


async def test_inside_the_window_a_notice_is_a_customer_service_message(zalo: ZaloRig) -> None:
    user = await _activated(zalo)
    row_id = await _notice(zalo, user, "outage_incident", {"outage_id": 1, "cause": "sự cố"})
    assert (await _delivery(zalo, row_id)).status == "sent"
    assert zalo.fake.cs(USER)[-1].text == "Thông báo" and zalo.fake.zns() == []


async def test_after_seven_silent_days_a_notice_goes_as_its_zns_template(zalo: ZaloRig) -> None:
    user = await _activated(zalo)
    await _silent(zalo, 7.05)
    before = len(zalo.fake.cs(USER))
    row_id = await _notice(
        zalo, user, "outage_incident", {"outage_id": 7, "cause": "Sự cố đường dây 22 kV"}
    )
    row = await _delivery(zalo, row_id)
    assert row.status == "sent", row.error
    (zns,) = zalo.fake.zns()
    assert zns.body == {
        "phone": "84905123456",
        "template_id": "301241",
        "template_data": {"customer_code": "PC05CC0123456", "cause": "Sự cố đường dây 22 kV"},
        "tracking_id": str(row_id),
    }
    assert len(zalo.fake.cs(USER)) == before  # no customer-service message tried


async def test_minus_230_falls_back_to_zns(zalo: ZaloRig) -> None:
    user = await _activated(zalo)
    zalo.fake.fail("cs", -230, user_id=USER)
    long_text = "Lịch cắt điện ngày 28/11 từ 7:00 đến 11:30 " * 5
    row_id = await _notice(zalo, user, "outage_planned", {"outage_id": 3}, long_text)
    assert (await _delivery(zalo, row_id)).status == "sent"
    (zns,) = zalo.fake.zns()
    assert zns.body["template_id"] == "301240"
    message = zns.body["template_data"]["message"]
    assert len(message) == 100 and long_text.startswith(message)


async def test_zns_quota_and_template_errors_fail_the_delivery_once_and_are_counted(
    zalo: ZaloRig,
) -> None:
    from bot.core import metrics

    def counted(outcome: str) -> float:
        return metrics.REGISTRY.get_sample_value("cskh_zalo_zns_total", {"outcome": outcome}) or 0

    user = await _activated(zalo)
    await _silent(zalo, 8)
    quota, template_error, no_template = (
        counted("quota"),
        counted("template_error"),
        counted("no_template"),
    )
    zalo.fake.fail("zns", -144)  # the OA's daily quota is spent
    spent = await _delivery(
        zalo, await _notice(zalo, user, "outage_incident", {"outage_id": 1, "cause": "mưa bão"})
    )
    assert spent.status == "failed" and spent.attempts == 1
    assert spent.error is not None and "quota" in spent.error and "-144" in spent.error
    # A field the template needs and the notice lacks: a template error, never sent.
    missing = await _delivery(zalo, await _notice(zalo, user, "outage_incident", {"outage_id": 2}))
    assert missing.status == "failed" and "no value for {cause}" in (missing.error or "")
    # A kind with no template in the YAML.
    none = await _delivery(zalo, await _notice(zalo, user, "outage_restored", {"outage_id": 3}))
    assert none.status == "failed" and "no ZNS template for outage_restored" in (none.error or "")
    assert zalo.fake.zns() == []
    assert counted("quota") == quota + 1
    assert counted("template_error") == template_error + 1
    assert counted("no_template") == no_template + 1
    # Nothing is tried again later.
    zalo.clock.advance(hours=1)
    assert await zalo.server.runtime.worker.run_once() == 0
    assert zalo.fake.zns() == []


async def test_without_an_activated_phone_a_late_notice_fails_with_the_reason(
    zalo: ZaloRig,
) -> None:
    await zalo.send("user_send_text", text="menu")
    user = await zalo.chat_user()
    assert user is not None
    await _silent(zalo, 8)
    row = await _delivery(
        zalo, await _notice(zalo, user, "outage_incident", {"outage_id": 1, "cause": "x"})
    )
    assert row.status == "failed" and "no activated phone" in (row.error or "")


# --- shared -----------------------------------------------------------------------------


@dataclass
class ZaloDriver(Driver):
    """A Zalo user for the conversation scenarios."""

    rig: ZaloRig
    platform_user_id: str = USER
    channel: str = "zalo_oa"
    text: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    files: list[File] = field(default_factory=list)

    async def _event(self, name: str, **message: Any) -> None:
        seen = len(self.rig.fake.cs(self.platform_user_id))
        await self.rig.send(name, self.platform_user_id, **message)
        sent = self.rig.fake.cs(self.platform_user_id)[seen:]
        assert sent, "Zalo got no answer"
        self.text = "\n".join(s.text for s in sent if s.text and s.text != "…")
        self.buttons = [
            {"title": b["title"], "payload": str(b["payload"]).removeprefix(PAYLOAD_MARK)}
            for s in sent
            for b in s.buttons
            if b["type"] == "oa.query.hide"
        ]
        self.files = [
            File("image", self.rig.fake.uploads[s.image]) for s in sent if s.image is not None
        ]

    async def say(self, text: str) -> None:
        await self._event("user_send_text", text=text)

    async def press(self, title: str) -> None:
        for button in self.buttons:
            if button["title"] == title:
                await self.say(PAYLOAD_MARK + button["payload"])
                return
        match = re.search(rf"^\s+(\d+)\. {re.escape(title)}$", self.text, re.M)
        assert match, f"no button {title!r} in {self.button_titles}; text: {self.text}"
        await self.say(match.group(1))

    async def send_photo(self, data: bytes) -> None:
        url = self.rig.fake.add_file(f"p{len(self.rig.fake.files)}.png", data)
        await self._event(
            "user_send_image", attachments=[{"type": "image", "payload": {"url": url}}]
        )

    async def send_location(self, lat: float, lon: float) -> None:
        coordinates = {"latitude": str(lat), "longitude": str(lon)}
        await self._event(
            "user_send_location",
            attachments=[{"type": "location", "payload": {"coordinates": coordinates}}],
        )


# --- a demo customer through the OA -----------------------------------------------------


async def _demo_rig(tmp_path: Path, url: str, **overrides: Any) -> AsyncIterator[ZaloRig]:
    """The demo data (a seeded database of the test's own, on each backend)."""
    from tests.handlers.rig import LIFTED_LIMITS

    fake = await FakeZaloOa().start()
    sms = await FakeSmsGateway().start()
    clock = FakeClock()
    settings = make_settings(
        tmp_path / "var",
        url,
        sms_provider="http",
        sms_http_url=sms.url,
        sms_http_token=sms.token,
        **LIFTED_LIMITS,
    )
    try:
        config = zalo_config(fake, tmp_path, **overrides)
        async with zalo_server(settings, config, clock) as server:
            yield ZaloRig(fake, server, clock, sms)
    finally:
        await sms.close()
        await fake.close()


@pytest.fixture
async def demo(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[ZaloRig]:
    async for rig in _demo_rig(tmp_path, own_seeded_url):
        yield rig


@pytest.fixture
async def demo_otp(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[ZaloRig]:
    """The demo with one-time codes by ZNS (CSKH_ZALO_ZNS_OTP_TEMPLATE)."""
    async for rig in _demo_rig(tmp_path, own_seeded_url, zns_otp_template="300999"):
        yield rig


async def test_a_demo_customer_lives_the_bot_through_the_oa(demo: ZaloRig) -> None:
    """An activates by a one-time code, looks up her consumption (a chart), files a service
    request with a photo, receives an outage notice and talks to an agent, all through
    the OA."""
    from bot.notify.outages import create_outage
    from bot.store.models import Conversation
    from bot.store.staff_models import StaffAccount
    from bot.support import handoff
    from tests.handlers.rig import AN_PHONE, assert_activated_as_an, start_login
    from tests.handlers.test_services import FORMS, complete, stored

    assert demo.sms is not None
    an = ZaloDriver(demo)
    await demo.send("follow")
    # Activation: Zalo vouches for no phone, so the account flow's one-time code.
    await start_login(an)
    await an.press("📱 Số điện thoại")
    await an.say("0905123456")
    assert "🟦 Nhận mã qua Zalo" not in an.button_titles  # no ZNS template for codes
    await an.press("💬 SMS")
    await an.say(demo.sms.last_code(AN_PHONE))
    assert_activated_as_an(an)
    user = await demo.chat_user()
    assert user is not None and user.verified_phone == AN_PHONE

    # A lookup with its chart: the image goes up to Zalo and is sent by attachment id.
    await an.say("/lookup")
    await an.press("📊 Điện năng tiêu thụ")
    if not an.files:  # two contracts: which one
        await an.press(next(b["title"] for b in an.buttons if "PC05CC0123456" in b["title"]))
    assert an.text.startswith("📊 Điện năng tiêu thụ"), an.text
    (chart,) = an.files
    assert chart.data.startswith(b"\x89PNG")

    # A service request with a photo.
    form_id = next(
        form_id
        for form_id, form in FORMS.items()
        if any(f.type == "photos" and not f.optional and not f.when for f in form.fields)
    )
    text = await complete(an, form_id)
    code = re.search(r"YC-2026-\d{6}", text)
    assert code, text
    request = await stored(demo_chat_rig(demo), code.group(0))
    assert request.attachments

    # An outage notice for her contract reaches her on Zalo.
    runtime = demo.server.runtime
    services = runtime.engine.services
    now = demo.clock.now()
    async with runtime.db.transaction() as session:
        await create_outage(
            session,
            runtime.texts,
            backend=services.backend,
            area=None,
            customer_codes=("PC05CC0123456",),
            start=now,
            end=now + timedelta(hours=3),
            reason="Sự cố máy biến áp",
            kind="incident",
            now=now,
            notice_days=runtime.settings.outage_notice_days,
            created_by="operations",
        )
    runtime.worker.wake()
    await eventually(lambda: any("Sự cố máy biến áp" in s.text for s in demo.fake.cs(USER)))

    # Asking for a person; the agent's reply comes through the OA.
    await an.say("gặp nhân viên")
    assert an.text.startswith("👤"), an.text
    async with runtime.db.transaction() as session:
        staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == "agent"))
        assert staff is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.chat_user_id == user.id)
        )
        assert conversation is not None
        await handoff.take_over(session, conversation.id, staff, now=now, live=services.live)
    async with runtime.db.transaction() as session:
        conversation = await session.get(Conversation, conversation.id)
        assert conversation is not None
        row_id = await handoff.reply(
            session, runtime.pusher, conversation, staff, Reply("Chào chị An, em là Bích.")
        )
    assert row_id is not None
    assert await runtime.pusher.send_now([row_id])
    assert demo.fake.cs(USER)[-1].text == "Chào chị An, em là Bích."
    await demo.send("user_send_text", text="Cảm ơn em")  # for the agent: the bot stays quiet
    assert demo.fake.cs(USER)[-1].text == "Chào chị An, em là Bích."
    async with runtime.db.reading() as session:
        last = await session.get(Conversation, conversation.id)
    assert last is not None and last.last_text == "Cảm ơn em"


def demo_chat_rig(rig: ZaloRig) -> Any:
    """What `tests.handlers.test_services.stored` reads of a rig: its runtime."""

    @dataclass
    class _Rig:
        runtime: Any

    return _Rig(rig.server.runtime)


async def test_a_lost_chain_shows_on_every_staff_console_page(
    demo: ZaloRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.console import base
    from tests.console.staff import StaffClient

    monkeypatch.setattr(base, "ALERTS_EVERY", 0.0)
    banner = "Zalo OA đã mất quyền gửi tin"
    client = StaffClient(demo.server.base_url)
    try:
        status, page = await client.login("agent")
        assert status == 200 and banner not in page
        demo.fake.refresh_refused = True
        await demo.send("user_send_text", text="menu")
        status, page = await client.get("/console/queue")
        assert status == 200 and banner in page
        assert "cấp quyền lại cho OA" in page
    finally:
        await client.close()


async def test_a_code_by_zalo_beside_sms_with_the_same_limits(demo_otp: ZaloRig) -> None:
    from tests.handlers.rig import AN_PHONE, assert_activated_as_an, start_login

    rig = demo_otp
    an = ZaloDriver(rig)
    await start_login(an)
    await an.press("📱 Số điện thoại")
    await an.say("0905123456")
    assert "💬 SMS" in an.button_titles and "🟦 Nhận mã qua Zalo" in an.button_titles
    await an.press("🟦 Nhận mã qua Zalo")
    assert an.text.startswith("Nếu số"), an.text
    await rig.server.settle()
    (zns,) = rig.fake.zns()
    assert zns.body["phone"] == "84905123456" and zns.body["template_id"] == "300999"
    code = zns.body["template_data"]["otp"]
    assert re.fullmatch(r"\d{6}", code)
    assert rig.sms is not None and not [m for m in rig.sms.received if m["to"] == AN_PHONE]
    # Asking again at once: the same wait as for an SMS, and nothing more is sent.
    await an.say(PAYLOAD_MARK + "otp:resend")
    assert "giây" in an.text, an.text
    assert len(rig.fake.zns()) == 1
    await an.say(code)
    assert_activated_as_an(an)


async def test_a_code_zalo_refuses_is_told_with_sms_offered(demo_otp: ZaloRig) -> None:
    from tests.handlers.rig import start_login

    rig = demo_otp
    an = ZaloDriver(rig)
    await start_login(an)
    await an.press("📱 Số điện thoại")
    await an.say("0905123456")
    rig.fake.fail("zns", -144)
    await an.press("🟦 Nhận mã qua Zalo")
    await rig.server.settle()
    await rig.handled()
    await eventually(lambda: "mã qua Zalo chưa gửi được" in rig.fake.cs(USER)[-1].text)
    last = rig.fake.cs(USER)[-1]
    assert "💬 SMS" in [b["title"] for b in last.buttons]


async def test_a_bill_notice_after_a_silent_week_goes_as_zns_with_the_bills_figures(
    demo: ZaloRig,
) -> None:
    from bot.notify.producers import bill_notice
    from tests.handlers.rig import AN_PHONE, assert_activated_as_an, start_login

    assert demo.sms is not None
    an = ZaloDriver(demo)
    await start_login(an)
    await an.press("📱 Số điện thoại")
    await an.say("0905123456")
    await an.press("💬 SMS")
    await an.say(demo.sms.last_code(AN_PHONE))
    assert_activated_as_an(an)
    await _silent(demo, 8)
    runtime = demo.server.runtime
    (bill, *_) = await runtime.engine.services.backend.bills("PC05CC0123456")
    async with runtime.db.transaction() as session:
        produced = await bill_notice(session, bill, "issued", runtime.texts, now=demo.clock.now())
    assert produced is not None
    runtime.worker.wake()
    zns = await eventually(lambda: demo.fake.zns())
    assert zns[0].body["phone"] == "84905123456"
    assert zns[0].body["template_data"] == {
        "customer_code": "PC05CC0123456",
        "amount": f"{bill.total:,}".replace(",", "."),
        "period": f"{bill.month:02d}/{bill.year}",
        "due_date": f"{bill.due_date:%d/%m/%Y}",
    }

    async def recorded() -> Delivery | None:
        async with runtime.db.reading() as session:
            row = await session.scalar(
                select(Delivery).where(
                    Delivery.notice_id == produced.notice_id, Delivery.status == "sent"
                )
            )
        return row

    row = await eventually(recorded)
    assert zns[0].body["tracking_id"] == str(row.id)


async def test_the_token_is_kept_fresh_while_nobody_writes(
    tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.zalo_oa import channel as zalo_channel

    monkeypatch.setattr(zalo_channel, "KEEP_FRESH_EVERY", 0.05)
    fake = await FakeZaloOa().start()
    clock = FakeClock()
    settings = make_settings(tmp_path / "var", migrated_url)
    try:
        async with zalo_server(settings, zalo_config(fake, tmp_path), clock):
            await eventually(lambda: fake.refreshes == 1)  # the settings' pair, at once
            clock.advance(hours=23)
            await asyncio.sleep(0.2)
            assert fake.refreshes == 1  # not due yet
            clock.advance(hours=1, minutes=1)
            await eventually(lambda: fake.refreshes == 2)
            assert fake.sent == []  # nobody wrote, nothing was sent
    finally:
        await fake.close()
