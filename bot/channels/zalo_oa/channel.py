"""Zalo Official Account: the signed webhook in, customer-service messages out, and ZNS
template messages when a notice falls outside the customer-service window (issue 17).

In: POST /zalo/oa/webhook. The body is checked against X-ZEvent-Signature ("mac=" +
SHA-256 hex of app id + raw body + the event's timestamp + the OA secret key: a plain
hash, not an HMAC, and the OA secret key is not the app secret); a mismatch gets 401.
A signed event is answered 200 at once and handled in the background, once per msg_id
(the processed_updates table's unique key, shared by every process); one the code
cannot read is logged, never refused (Zalo would resend it).

Out: POST /v3.0/oa/message/cs with the access token (tokens.py keeps it valid): text,
buttons as the OA's button template (at most 5; more become numbered options, base.py),
images uploaded first and sent by attachment id. A notice for a customer silent for 7
days (or refused with -230) goes as the ZNS template its kind names in the templates'
YAML (zns.py), to the phone the customer activated with, tracked by the delivery's id;
ZNS quota and template errors fail the delivery (recorded, counted, not retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import Counter

from bot.auth.providers import DeliveryError, Outgoing
from bot.channels.base import Channel, ChannelParts
from bot.channels.zalo_oa import ZALO_OA_CAPS, ZaloOaSettings
from bot.channels.zalo_oa.client import (
    INVALID_TOKEN,
    NOT_FOLLOWING,
    OUTSIDE_WINDOW,
    RATE_LIMITED,
    ZNS_INVALID_TOKEN,
    ZaloClient,
    ZaloError,
    ZaloTransportError,
)
from bot.channels.zalo_oa.tokens import TokenKeeper, TokenLost, token_state
from bot.channels.zalo_oa.zns import Template, TemplateError, load_templates
from bot.core import metrics
from bot.core.messages import BadInput, Incoming, Location, Media, Reply
from bot.core.outbound import (
    SENDING,
    ChannelUnreachable,
    DeliveryRefused,
    RateLimited,
    Recipient,
    Sending,
)
from bot.store.media import is_refused_upload, load_media, sniff_media
from bot.store.models import ChatUser, utcnow
from bot.store.repo import claim_update, get_chat_user

log = logging.getLogger(__name__)

T = TypeVar("T")
WEBHOOK_PATH = "/zalo/oa/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
# A pressed button comes back as the text of its payload (the OA's "oa.query.hide"
# button sends it without showing it in the chat); this mark tells it from typed text.
PAYLOAD_MARK = "#cskh:"
MAX_BUTTON_TITLE = 100
UNSUPPORTED = {
    "user_send_sticker": "sticker",
    "user_send_gif": "animation",
    "user_send_audio": "voice",
    "user_send_video": "video",
    "user_send_link": "link",
    "user_send_business_card": "contact_card",
}
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
KEEP_FRESH_EVERY = 600.0  # seconds between two looks at the token's expiry

ZNS_MESSAGES = Counter(
    "cskh_zalo_zns",
    "Zalo ZNS template messages by outcome (sent, no_template, no_phone, template_error, "
    "quota, refused).",
    ["outcome"],
    registry=metrics.REGISTRY,
)
# ZNS error codes of a spent quota (daily or monthly, of the OA or of one phone).
ZNS_QUOTA_CODES = frozenset({-144, -145, -146, -147, -1144})


def signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """The X-ZEvent-Signature Zalo sends with an event."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret_key.encode())
    return "mac=" + digest.hexdigest()


class ZaloOaChannel(Channel):
    """Customers who follow the utility's Zalo Official Account."""

    name = "zalo_oa"
    caps = ZALO_OA_CAPS

    def __init__(
        self, parts: ChannelParts, config: ZaloOaSettings, client: ZaloClient | None = None
    ) -> None:
        assert config.app_id is not None and config.secret_key is not None
        self.engine = parts.engine
        self.db = parts.db
        self.pusher = parts.pusher
        self.links = parts.links
        self.quota = parts.quota
        self.backend = parts.engine.services.backend
        self.clock = parts.engine.services.clock
        self.config = config
        self.rate_limit = config.rate_limit()
        self.max_file = min(
            int(config.max_file_mb * 1024 * 1024), parts.settings.max_upload_mb * 1024 * 1024
        )
        self.client = client or ZaloClient(config)
        self.tokens = TokenKeeper(self.db, self.client, config, self.clock)
        self.templates: dict[str, Template] = (
            load_templates(config.zns_templates) if config.zns_templates else {}
        )
        self._attachments: dict[str, str] = {}  # stored media id -> Zalo attachment id
        # One-time codes by ZNS beside SMS and e-mail (bot/app.py hands it to the OTP
        # service's senders).
        self.otp_sender = ZnsOtpSender(self) if config.zns_otp_template else None
        self._tasks: set[asyncio.Task[None]] = set()
        # Each user's latest event being handled: the next one waits for it, so a
        # customer's messages are answered in the order Zalo posted them (this process).
        self._latest: dict[str, asyncio.Task[None]] = {}
        self._keeper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(WEBHOOK_PATH, self.webhook)]

    async def start(self) -> None:
        await self.tokens.ensure()
        self._keeper = asyncio.create_task(self._keep_fresh(), name="zalo-oa-token")

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self.idle()
        await self.client.close()

    async def _keep_fresh(self) -> None:
        """Refresh the pair when it is due even while nobody writes: an unused refresh
        token dies after 3 months, and the first answer after a quiet night should not
        wait for a refresh."""
        while True:
            await asyncio.sleep(KEEP_FRESH_EVERY)
            try:
                await self.tokens.token()
            except TokenLost:
                pass  # logged at ERROR when it was lost; /healthz and the console say so
            except Exception as error:
                log.warning("zalo oa: the token could not be refreshed now: %s", error)

    async def idle(self) -> None:
        """Wait until the events received so far are handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def health(self) -> str | None:
        """Why the OA cannot send (its token chain is lost), or None (/healthz)."""
        return await token_state(self.db, self.tokens.app_id)

    async def staff_alert(self) -> str | None:
        """The staff console's banner while the OA cannot send."""
        if await token_state(self.db, self.tokens.app_id) is None:
            return None
        return (
            "Zalo OA đã mất quyền gửi tin: khách hàng trên Zalo không nhận được trả lời và "
            "thông báo. Quản trị viên cần cấp quyền lại cho OA và đặt cặp token mới "
            "(README, mục Zalo OA)."
        )

    # --- in ------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        event: Any = None
        with contextlib.suppress(ValueError, RecursionError):
            event = json.loads(body)
        timestamp = event.get("timestamp", "") if isinstance(event, dict) else ""
        assert self.config.app_id is not None and self.config.secret_key is not None
        expected = signature(
            self.config.app_id, body, str(timestamp), self.config.secret_key.get_secret_value()
        )
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
            return web.json_response({"error": "wrong signature"}, status=401)
        if not isinstance(event, dict):
            log.warning("zalo oa: a signed event that is no JSON object; ignored")
            return web.json_response({"ok": True})
        user = str(_dig(event, "sender", "id") or _dig(event, "follower", "id") or "")
        task = asyncio.create_task(self._in_turn(self._latest.get(user), event))
        self._tasks.add(task)
        self._latest[user] = task
        task.add_done_callback(lambda done: self._finished(user, done))
        return web.json_response({"ok": True})

    async def _in_turn(self, before: asyncio.Task[None] | None, event: dict[str, Any]) -> None:
        """`event` handled once the same user's event before it is (process never raises)."""
        if before is not None:
            await asyncio.wait([before])
        await self.process(event)

    def _finished(self, user: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._latest.get(user) is task:
            del self._latest[user]

    async def process(self, event: dict[str, Any]) -> None:
        """Handle one event once; errors are logged, never raised."""
        name = event.get("event_name")
        try:
            key = _event_key(event)
            if key is None:
                log.warning("zalo oa: event %r without a user or id; ignored", name)
                return
            async with self.db.transaction() as session:
                first = await claim_update(session, self.name, key)
            if not first:
                log.info("zalo oa: event %s handled before; skipped", key)
                return
            await self._dispatch(str(name), event)
        except BadInput as error:
            log.warning("zalo oa: event %r refused: %s", name, error)
        except Exception:
            log.exception("zalo oa: event %r failed", name)

    async def _dispatch(self, name: str, event: dict[str, Any]) -> None:
        if name == "unfollow":
            await self._unfollowed(str(_dig(event, "follower", "id")))
            return
        if name == "follow":
            user = str(_dig(event, "follower", "id"))
            await self._handle(user, self.incoming(user, payload="start"))
            return
        if not name.startswith("user_send_"):
            log.debug("zalo oa: event %s not for the bot; ignored", name)
            return
        user = str(_dig(event, "sender", "id"))
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        assert isinstance(message, dict)
        common: dict[str, Any] = {"message_ref": _str_or_none(message.get("msg_id"))}
        text = message.get("text") if isinstance(message.get("text"), str) else None
        attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
        incoming: Incoming
        if name == "user_send_text" and text is not None:
            if text.startswith(PAYLOAD_MARK):
                incoming = self.incoming(user, payload=text[len(PAYLOAD_MARK) :], **common)
            else:
                incoming = self.incoming(user, text=text, **common)
        elif name == "user_send_image" and attachments:
            incoming = await self._images(user, text, attachments, common)
        elif name == "user_send_location" and attachments:
            coordinates = _dig(attachments[0], "payload", "coordinates") or {}
            try:
                location = Location(float(coordinates["latitude"]), float(coordinates["longitude"]))
            except (KeyError, TypeError, ValueError) as error:
                raise BadInput(f"a location without coordinates: {error}") from error
            incoming = self.incoming(user, location=location, **common)
        elif name == "user_send_file" and attachments:
            incoming = await self._file(user, attachments[0], common)
        else:
            kind = UNSUPPORTED.get(name, name.removeprefix("user_send_"))
            incoming = self.incoming(user, unsupported=kind, **common)
        await self._handle(user, incoming)

    async def _images(
        self, user: str, text: str | None, attachments: list[dict[str, Any]], common: dict[str, Any]
    ) -> Incoming:
        photos: list[Media] = []
        for attachment in attachments:
            url = _dig(attachment, "payload", "url")
            if not isinstance(url, str):
                continue
            fetched = await self._fetch(user, url, None)
            if isinstance(fetched, str):
                return self.incoming(user, unsupported=fetched, **common)
            content_type = sniff_media(fetched)
            if content_type not in PHOTO_TYPES:
                return self.incoming(user, unsupported="unsafe_file", **common)
            extension = content_type.split("/")[1].replace("jpeg", "jpg")
            photos.append(Media(content_type, f"zalo-{len(photos) + 1}.{extension}", data=fetched))
        if not photos:
            raise BadInput("an image event without an image")
        return self.incoming(user, text=text, photos=tuple(photos), **common)

    async def _file(
        self, user: str, attachment: dict[str, Any], common: dict[str, Any]
    ) -> Incoming:
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        url, filename = payload.get("url"), str(payload.get("name") or "file")
        try:
            size = int(payload.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        if not isinstance(url, str):
            raise BadInput("a file event without a url")
        fetched = await self._fetch(user, url, size)
        if isinstance(fetched, str):
            return self.incoming(user, unsupported=fetched, **common)
        if is_refused_upload(fetched, None, filename):
            log.warning("zalo oa: SVG or HTML file refused")
            return self.incoming(user, unsupported="unsafe_file", **common)
        media = Media(sniff_media(fetched), filename, data=fetched)
        if media.content_type in PHOTO_TYPES:
            return self.incoming(user, photos=(media,), **common)
        return self.incoming(user, documents=(media,), **common)

    async def _fetch(self, user: str, url: str, size: int | None) -> bytes | str:
        """The file's bytes, or why it is not taken ("too_large", "quota")."""
        if size is not None and size > self.max_file:
            return "too_large"
        if await self.quota.refuses(self.name, user, size or 0) is not None:
            return "quota"
        data = await self.client.download(url, self.max_file)
        if data is None:
            return "too_large"
        if size is None and await self.quota.refuses(self.name, user, len(data)) is not None:
            return "quota"
        return data

    async def _unfollowed(self, platform_user_id: str) -> None:
        """Notices stop (the chat is unreachable); the history stays."""
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, platform_user_id)
        if user is not None:
            await self.pusher.mark_unreachable(user.id)

    # --- out -----------------------------------------------------------------------------

    async def _handle(self, user_id: str, incoming: Incoming) -> None:
        replies = await self.answer(incoming)
        try:
            await self._send_cs(user_id, self.adapt(replies))
        except ZaloError as error:
            if error.code == NOT_FOLLOWING:
                await self._unfollowed(user_id)
            log.warning("zalo oa: the answer to %s was not sent: %s", user_id, error)

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """A push from the delivery worker: a customer-service message inside the 7 days'
        window, else (or when Zalo says -230) the notice's ZNS template."""
        sending = SENDING.get()
        if sending is not None and await self._silent_too_long(recipient):
            return await self._zns(recipient, sending, replies, "no message for 7 days")
        try:
            return await self._send_cs(recipient.platform_user_id, replies)
        except ZaloError as error:
            if error.code == OUTSIDE_WINDOW and sending is not None:
                return await self._zns(recipient, sending, replies, "Zalo said -230")
            if error.code == OUTSIDE_WINDOW:
                raise DeliveryRefused(f"outside the customer-service window ({error})") from error
            if error.code == NOT_FOLLOWING:
                raise ChannelUnreachable(str(error)) from error
            if error.code == RATE_LIMITED:
                raise RateLimited(60.0) from error
            raise

    async def _send_cs(self, user_id: str, replies: Sequence[Reply]) -> str | None:
        last: str | None = None
        for reply in replies:
            message: dict[str, Any] = {"text": reply.text or "…"}
            buttons = [_button(b.title, b.payload, b.url) for b in reply.all_buttons]
            if buttons:
                message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
            if reply.text or buttons or reply.image is None:
                last = await self._send_one(user_id, message)
            if reply.image is not None:
                attachment = await self._attachment(reply.image)
                image = {
                    "attachment": {
                        "type": "template",
                        "payload": {
                            "template_type": "media",
                            "elements": [{"media_type": "image", "attachment_id": attachment}],
                        },
                    }
                }
                last = await self._send_one(user_id, image)
        return last

    async def _send_one(self, user_id: str, message: dict[str, Any]) -> str | None:
        return await self._with_token(lambda token: self.client.send_cs(token, user_id, message))

    async def _attachment(self, media: Media) -> str:
        """Zalo's attachment id of an image, uploaded once per stored media."""
        if media.media_id is not None and media.media_id in self._attachments:
            return self._attachments[media.media_id]
        data, content_type, filename = media.data, media.content_type, media.filename
        if data is None and media.media_id is not None:
            async with self.db.reading() as session:
                row = await load_media(session, media.media_id)
            if row is not None:
                data, content_type, filename = row.data, row.content_type, row.filename
        if data is None and media.url is not None:
            data = await self.client.download(media.url, self.max_file)
        if data is None:
            raise ValueError(f"image {media.filename!r} has nothing to send")
        attachment = await self._with_token(
            lambda token: self.client.upload_image(token, data, filename, content_type)
        )
        if media.media_id is not None:
            self._attachments[media.media_id] = attachment
        return attachment

    async def _with_token(self, call: Callable[[str], Awaitable[T]]) -> T:
        """One OA call with a valid token; refreshed and tried again once on -216."""
        token = await self.tokens.token()
        try:
            return await call(token)
        except ZaloError as error:
            if error.code not in (INVALID_TOKEN, ZNS_INVALID_TOKEN):
                raise
            log.info("zalo oa: the access token was refused (%s); refreshing", error.code)
            return await call(await self.tokens.refreshed(token))

    # --- ZNS -----------------------------------------------------------------------------

    async def _silent_too_long(self, recipient: Recipient) -> bool:
        async with self.db.reading() as session:
            user = await session.get(ChatUser, recipient.chat_user_id)
        if user is None:
            return False
        # last_seen_at is the engine's wall clock (bot/core/engine.py), as Zalo's window.
        window = timedelta(days=self.config.cs_window_days)
        return user.last_seen_at < utcnow() - window

    async def _zns(
        self, recipient: Recipient, sending: Sending, replies: Sequence[Reply], why: str
    ) -> str | None:
        """The notice as its ZNS template, to the customer's activated phone."""
        template = self.templates.get(sending.kind)
        if template is None:
            ZNS_MESSAGES.labels("no_template").inc()
            raise DeliveryRefused(
                f"outside the customer-service window ({why}); no ZNS template for {sending.kind}"
            )
        async with self.db.reading() as session:
            user = await session.get(ChatUser, recipient.chat_user_id)
        phone = user.verified_phone if user is not None else None
        if not phone:
            ZNS_MESSAGES.labels("no_phone").inc()
            raise DeliveryRefused(
                f"outside the customer-service window ({why}); no activated phone for ZNS"
            )
        try:
            data = template.fill(await self._values(sending, replies))
        except TemplateError as error:
            ZNS_MESSAGES.labels("template_error").inc()
            raise DeliveryRefused(f"ZNS {error}") from error
        try:
            message_id = await self._with_token(
                lambda token: self.client.send_zns(
                    token, phone.lstrip("+"), template.template_id, data, str(sending.delivery_id)
                )
            )
        except ZaloError as error:
            outcome = "quota" if error.code in ZNS_QUOTA_CODES else "refused"
            ZNS_MESSAGES.labels(outcome).inc()
            raise DeliveryRefused(f"ZNS {outcome}: {error}") from error
        ZNS_MESSAGES.labels("sent").inc()
        log.info("zalo oa: delivery %s sent by ZNS (%s)", sending.delivery_id, why)
        return f"zns:{message_id}" if message_id else "zns"

    async def _values(self, sending: Sending, replies: Sequence[Reply]) -> dict[str, Any]:
        now = self.clock.now()
        values: dict[str, Any] = {
            key: value for key, value in sending.meta.items() if isinstance(value, str | int)
        }
        values.update(
            customer_code=sending.customer_code or values.get("customer_code"),
            text=" ".join(" ".join(r.text.split()) for r in replies if r.text),
            date=f"{now:%d/%m/%Y}",
            delivery_id=sending.delivery_id,
        )
        bill_id = sending.meta.get("bill_id")
        if isinstance(bill_id, int):
            bills = await self.backend.bills_by_id([bill_id])
            if bills:
                bill = bills[0]
                values.update(
                    amount=f"{bill.total:,}".replace(",", "."),
                    kwh=bill.kwh,
                    period=f"{bill.month:02d}/{bill.year}",
                    due_date=f"{bill.due_date:%d/%m/%Y}",
                )
        return values


def _button(title: str, payload: str | None, url: str | None) -> dict[str, Any]:
    title = title[:MAX_BUTTON_TITLE]
    if url is not None:
        return {"title": title, "type": "oa.open.url", "payload": {"url": url}}
    return {"title": title, "type": "oa.query.hide", "payload": PAYLOAD_MARK + (payload or "")}


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _event_key(event: dict[str, Any]) -> str | None:
    """What makes an event one: its msg_id, else (follow, unfollow) its name, user and
    time. At most 64 characters (processed_updates.update_id)."""
    msg_id = _dig(event, "message", "msg_id")
    if msg_id:
        key = f"msg:{msg_id}"
    else:
        user = _dig(event, "follower", "id") or _dig(event, "sender", "id")
        if not user:
            return None
        key = f"{event.get('event_name')}:{user}:{event.get('timestamp')}"
    if len(key) > 64:
        key = "sha:" + hashlib.sha256(key.encode()).hexdigest()[:60]
    return key


class ZnsOtpSender:
    """One-time codes as the ZNS template CSKH_ZALO_ZNS_OTP_TEMPLATE, to the phone's Zalo
    account (the OTP service's `Sender`); its limits are the OTP service's."""

    def __init__(self, channel: ZaloOaChannel) -> None:
        assert channel.config.zns_otp_template is not None
        self.channel = channel
        self.template_id = channel.config.zns_otp_template
        self.param = channel.config.zns_otp_param

    async def send(self, message: Outgoing) -> None:
        phone = message.to.lstrip("+")
        tracking = "otp-" + secrets.token_hex(8)
        try:
            await self.channel._with_token(
                lambda token: self.channel.client.send_zns(
                    token, phone, self.template_id, {self.param: message.body}, tracking
                )
            )
        except (ZaloError, ZaloTransportError, TokenLost) as error:
            outcome = "quota" if getattr(error, "code", None) in ZNS_QUOTA_CODES else "refused"
            ZNS_MESSAGES.labels(outcome).inc()
            raise DeliveryError(f"ZNS: {error}") from error
        ZNS_MESSAGES.labels("sent").inc()

    async def close(self) -> None:
        """The channel closes its client."""
