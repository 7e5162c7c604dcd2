"""Telegram through aiogram 3: webhook or long polling, in and out.

The channel holds an aiogram `Bot` (pointed at CSKH_TELEGRAM_API_URL when set, which
is also how tests talk to a fake Bot API on loopback) and translates:
Update -> `Incoming` -> engine -> `Reply` -> Bot API calls. It answers every
callback query, downloads the largest size of a photo, joins an album into one
update, and ignores edited messages. Re-delivered updates run once (the engine
records each update id). A 429 waits retry_after, a 403 marks the chat
unreachable, network errors are retried with backoff; none of them crash the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import html
import io
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiohttp import web
from pydantic import ValidationError

from bot.channels.base import Channel
from bot.core.engine import Engine
from bot.core.messages import (
    BadInput,
    Contact,
    Incoming,
    KeyboardRequest,
    Location,
    Media,
    Reply,
)
from bot.core.push import ChannelUnreachable, Pusher, RateLimited, Recipient
from bot.dialogs.fields import FieldError, parse_phone
from bot.settings import Settings
from bot.store.db import Database
from bot.store.media import is_refused_upload, load_media, sniff_media
from bot.store.media_quota import MediaQuota
from bot.store.repo import get_chat_user

log = logging.getLogger(__name__)

T = TypeVar("T")
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # Bot API limit of one message's text
MAX_CAPTION = 1024  # and of a photo's or document's caption
ALBUM_WAIT = 0.8  # seconds to wait for the rest of an album after its last part
ALLOWED_UPDATES = ["message", "callback_query"]
UNSUPPORTED = ("sticker", "voice", "video", "video_note", "animation", "audio", "poll", "dice")
MAX_ATTEMPTS = 5
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")  # a document of these is a photo
# Set while the delivery worker pushes: Bot API calls try once and report a 429 or an
# error to the worker instead of sleeping and retrying here.
_PUSHING: contextvars.ContextVar[bool] = contextvars.ContextVar("pushing", default=False)
BACKOFF_BASE = 1.0  # seconds before the first retry after a network error; doubles each time


class TelegramDeliveryError(Exception):
    """Telegram kept failing after every retry."""


@dataclass
class _Album:
    messages: list[Message] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class TelegramChannel(Channel):
    """Customers in Telegram private chats."""

    name = "telegram"

    def __init__(
        self,
        engine: Engine,
        db: Database,
        pusher: Pusher,
        settings: Settings,
        bot: Bot | None = None,
        quota: MediaQuota | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.pusher = pusher
        self.settings = settings
        self.quota = quota  # what a chat may make us keep (bot/store/media_quota.py)
        self.mode = settings.telegram_mode
        self.max_upload_bytes = settings.max_upload_mb * 1024 * 1024
        self.bot = bot or make_bot(settings)
        self._albums: dict[str, _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.backoff_base = BACKOFF_BASE
        # Telegram's file_id of a stored media already uploaded once: a campaign image
        # goes up once, not once per customer.
        self._file_ids: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(WEBHOOK_PATH, self.webhook)] if self.mode == "webhook" else []

    async def start(self) -> None:
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for group_id in list(self._albums):
            self._flush_album(group_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.bot.session.close()

    # --- in ------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.telegram_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if expected is None or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode()
        ):
            return web.json_response({"error": "wrong secret token"}, status=401)
        try:
            body = json.loads(await request.read())
            update = Update.model_validate(body, context={"bot": self.bot})
        except (ValueError, ValidationError, RecursionError):  # RecursionError: too deep
            return web.json_response({"error": "not a Telegram update"}, status=400)
        await self.process(update)
        return web.Response(text="ok")

    async def _poll(self) -> None:
        offset: int | None = None
        delay = self.backoff_base
        try:
            await self._call(lambda: self.bot.delete_webhook(drop_pending_updates=False))
        except Exception:
            log.exception("could not remove the Telegram webhook; polling may get 409s")
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=25, allowed_updates=ALLOWED_UPDATES
                )
                delay = self.backoff_base
            except TelegramRetryAfter as error:
                await asyncio.sleep(error.retry_after)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # network, 5xx, 409 (another poller), a bad token...
                log.warning("telegram polling failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                continue
            if updates:
                offset = updates[-1].update_id + 1
                await self._process_batch(updates)

    async def _process_batch(self, updates: Sequence[Update]) -> None:
        """Different chats in parallel, each chat's updates in order."""
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(_chat_id(update) or 0, []).append(update)

        async def run(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self.process(update)

        await asyncio.gather(*(run(group) for group in by_chat.values()))

    async def process(self, update: Update) -> None:
        """Handle one update; errors are logged, never raised (a bad update must not stop
        the polling loop or make Telegram re-deliver forever)."""
        try:
            await self._process(update)
        except BadInput as error:  # e.g. a NUL in callback data: nothing a customer sends
            log.warning("telegram update %s refused: %s", update.update_id, error)
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    async def _process(self, update: Update) -> None:
        if update.callback_query is not None:
            query = update.callback_query
            # Always answered, first, so the button stops spinning.
            with contextlib.suppress(Exception):
                await self._call(lambda: self.bot.answer_callback_query(query.id))
            if query.message is None or not query.data:
                return
            chat_id = query.message.chat.id
            pressed = Incoming(
                channel=self.name,
                user_id=str(chat_id),
                payload=query.data,
                update_id=str(update.update_id),
                display_name=query.from_user.full_name,
                language_hint=query.from_user.language_code,
                shares_verified_contact=True,
            )
            await self._handle(chat_id, pressed)
            return
        message = update.message
        if message is None or message.chat.type != "private":
            return  # edited messages, channel posts, groups: not ours (personal data)
        if message.media_group_id:
            self._add_to_album(message)
            return
        incoming = await self._incoming(message, str(update.update_id))
        if incoming is not None:
            await self._handle(message.chat.id, incoming)

    async def _incoming(
        self, message: Message, update_id: str, photos: tuple[Media | str, ...] = ()
    ) -> Incoming | None:
        sender = message.from_user
        common: dict[str, Any] = {
            "channel": self.name,
            "user_id": str(message.chat.id),
            "update_id": update_id,
            "message_ref": str(message.message_id),
            "reply_to_ref": str(message.reply_to_message.message_id)
            if message.reply_to_message
            else None,
            "display_name": sender.full_name if sender else None,
            "language_hint": sender.language_code if sender else None,
            "shares_verified_contact": True,
        }
        text = message.text or message.caption
        if photos or message.photo:
            downloaded = photos or (await self._download_photo(message),)
            refused = [photo for photo in downloaded if isinstance(photo, str)]
            if refused:
                return Incoming(unsupported=refused[0], **common)
            kept = tuple(photo for photo in downloaded if isinstance(photo, Media))
            return Incoming(text=text, photos=kept, **common)
        if message.document is not None:
            document = await self._download_document(message)
            if isinstance(document, str):
                return Incoming(unsupported=document, **common)
            if document.content_type in PHOTO_TYPES:
                return Incoming(text=text, photos=(document,), **common)
            return Incoming(text=text, documents=(document,), **common)
        if message.location is not None:
            location = Location(message.location.latitude, message.location.longitude)
            return Incoming(location=location, **common)
        if message.contact is not None:
            contact = message.contact
            # Only the sender's own contact proves the phone is theirs.
            verified = sender is not None and contact.user_id == sender.id
            return Incoming(
                contact=Contact(_e164(contact.phone_number), verified, contact.first_name),
                **common,
            )
        if text is not None:
            return Incoming(text=text, **common)
        for kind in UNSUPPORTED:
            if getattr(message, kind, None) is not None:
                return Incoming(unsupported=kind, **common)
        return None  # service messages (pinned, joined...): nothing to answer

    async def _download_photo(self, message: Message) -> Media | str:
        """The largest size of the photo, or why we do not take it ("too_large", "quota")."""
        largest = max(message.photo or [], key=lambda size: size.width * size.height)
        refused = await self._refused_size(message, largest.file_size)
        if refused is not None:
            return refused
        data = await self._download(largest.file_id)
        return Media("image/jpeg", f"{largest.file_unique_id}.jpg", data=data)

    async def _download_document(self, message: Message) -> Media | str:
        """The file, typed by its bytes (mime_type is only the sender's claim); or why we
        do not take it: "too_large", or "unsafe_file" for SVG and HTML (issue 12)."""
        document = message.document
        assert document is not None
        refused = await self._refused_size(message, document.file_size)
        if refused is not None:
            return refused
        data = await self._download(document.file_id)
        if is_refused_upload(data, document.mime_type, document.file_name):
            log.warning("telegram message %s: SVG or HTML file refused", message.message_id)
            return "unsafe_file"
        filename = document.file_name or f"{document.file_unique_id}.bin"
        return Media(sniff_media(data), filename, data=data)

    async def _refused_size(self, message: Message, size: int | None) -> str | None:
        """ "too_large" past the upload limit, "quota" past what this chat or everybody may
        make us keep (issue 12); None when the file may come."""
        if (size or 0) > self.max_upload_bytes:
            return "too_large"
        if self.quota is None:
            return None
        refused = await self.quota.refuses(self.name, str(message.chat.id), size or 0)
        return "quota" if refused is not None else None

    async def _download(self, file_id: str) -> bytes:
        buffer = await self._call(lambda: self.bot.download(file_id, destination=io.BytesIO()))
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue()

    # --- albums: several photos with one media_group_id become one update ----------------

    def _add_to_album(self, message: Message) -> None:
        group_id = str(message.media_group_id)
        album = self._albums.setdefault(group_id, _Album())
        album.messages.append(message)
        if album.timer is not None:
            album.timer.cancel()
        loop = asyncio.get_running_loop()
        album.timer = loop.call_later(ALBUM_WAIT, self._flush_album, group_id)

    def _flush_album(self, group_id: str) -> None:
        album = self._albums.pop(group_id, None)
        if album is None:
            return
        if album.timer is not None:
            album.timer.cancel()
        task = asyncio.create_task(self._process_album(group_id, album.messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_album(self, group_id: str, messages: list[Message]) -> None:
        try:
            messages.sort(key=lambda m: m.message_id)
            photos = tuple([await self._download_photo(m) for m in messages if m.photo])
            first = next((m for m in messages if m.caption), messages[0])
            # One key for the whole album: a re-delivered part cannot run it twice.
            incoming = await self._incoming(first, f"album:{group_id}", photos=photos)
            if incoming is not None:
                await self._handle(first.chat.id, incoming)
        except Exception:
            log.exception("telegram album %s failed", group_id)

    # --- out -----------------------------------------------------------------------------

    async def _handle(self, chat_id: int, incoming: Incoming) -> None:
        typing = asyncio.create_task(self._keep_typing(chat_id))
        try:
            replies = await self.engine.handle(incoming)
        finally:
            typing.cancel()
        if getattr(replies, "delete_incoming", False) and incoming.message_ref:
            # A typed password or PIN: take it off the chat where Telegram allows it.
            message_id = int(incoming.message_ref)
            with contextlib.suppress(Exception):
                await self.bot.delete_message(chat_id, message_id)
        try:
            await self._send(chat_id, replies)
        except ChannelUnreachable:
            await self._mark_unreachable(str(chat_id))

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """A push from the delivery worker: one try, a 429 or a failure goes back to the
        worker (which pauses the channel or retries later); the last message's id."""
        token = _PUSHING.set(True)
        try:
            sent = await self._send(int(recipient.platform_user_id), replies)
        finally:
            _PUSHING.reset(token)
        return str(sent[-1]) if sent else None

    async def _keep_typing(self, chat_id: int) -> None:
        """Show "typing…" while a slow answer is prepared (from 0.5 s, renewed every 4 s)."""
        await asyncio.sleep(0.5)
        while True:
            with contextlib.suppress(Exception):
                await self.bot.send_chat_action(chat_id, "typing")
            await asyncio.sleep(4)

    async def _send(self, chat_id: int, replies: Sequence[Reply]) -> list[int]:
        """Send the replies; the ids of the messages sent."""
        sent: list[int] = []
        for reply in replies:
            markup = _markup(reply)
            text = _with_links(reply) if reply.requests else reply.text
            if reply.image is not None or reply.document is not None:
                sent.extend(await self._send_media(chat_id, reply, text, markup))
            elif text or markup:
                sent.extend(await self._send_text(chat_id, text or "…", markup))
        return sent

    async def _send_media(self, chat_id: int, reply: Reply, text: str, markup: Any) -> list[int]:
        media = reply.image or reply.document
        assert media is not None
        file = await self._input_file(media)
        sent: list[int] = []
        if len(html.escape(text, quote=False)) > MAX_CAPTION:
            sent.extend(await self._send_text(chat_id, text, None))
            text = ""
        caption = html.escape(text, quote=False) or None
        pushing = _PUSHING.get()  # a push shows no "uploading…" (one call less per notice)
        if reply.image is not None:
            if not pushing:
                await self._call(lambda: self.bot.send_chat_action(chat_id, "upload_photo"))
            message = await self._call(
                lambda: self.bot.send_photo(chat_id, file, caption=caption, reply_markup=markup)
            )
            if media.media_id is not None and message.photo:
                self._file_ids[media.media_id] = message.photo[-1].file_id
        else:
            if not pushing:
                await self._call(lambda: self.bot.send_chat_action(chat_id, "upload_document"))
            message = await self._call(
                lambda: self.bot.send_document(chat_id, file, caption=caption, reply_markup=markup)
            )
        return [*sent, message.message_id]

    async def _send_text(self, chat_id: int, text: str, markup: Any) -> list[int]:
        chunks = split_text(text)
        sent: list[int] = []
        for index, chunk in enumerate(chunks):
            keyboard = markup if index == len(chunks) - 1 else None  # buttons under the last
            sent.append(await self._send_chunk(chat_id, html.escape(chunk, quote=False), keyboard))
        return sent

    async def _send_chunk(self, chat_id: int, escaped: str, markup: Any) -> int:
        message = await self._call(
            lambda: self.bot.send_message(chat_id, escaped, reply_markup=markup)
        )
        return message.message_id

    async def _input_file(self, media: Media) -> BufferedInputFile | str:
        if media.media_id is not None and media.media_id in self._file_ids:
            return self._file_ids[media.media_id]
        if media.data is not None:
            return BufferedInputFile(media.data, filename=media.filename)
        if media.media_id is not None:
            async with self.db.reading() as session:
                row = await load_media(session, media.media_id)
            if row is not None:
                return BufferedInputFile(row.data, filename=row.filename)
        if media.url is not None:
            return media.url  # Telegram fetches it
        raise ValueError(f"media {media.filename!r} has nothing to send")

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call with Telegram's rules: wait out a 429, give up on a 403,
        retry network and server errors with exponential backoff."""
        delay = self.backoff_base
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await make()
            except TelegramRetryAfter as error:
                log.warning("telegram asks to wait %s s (429)", error.retry_after)
                if _PUSHING.get():  # the delivery worker pauses the whole channel
                    raise RateLimited(float(error.retry_after)) from error
                await asyncio.sleep(error.retry_after)
            except TelegramForbiddenError as error:
                raise ChannelUnreachable(str(error)) from error
            except TelegramBadRequest as error:
                if "chat not found" in str(error).lower():
                    raise ChannelUnreachable(str(error)) from error
                raise
            except (TelegramNetworkError, TelegramServerError) as error:
                log.warning("telegram call failed (attempt %s: %s)", attempt, error)
                if _PUSHING.get():  # the worker retries with its own backoff
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise TelegramDeliveryError(f"telegram still failing after {MAX_ATTEMPTS} attempts")

    async def _mark_unreachable(self, platform_user_id: str) -> None:
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, platform_user_id)
        if user is not None:
            await self.pusher.mark_unreachable(user.id)


def make_bot(settings: Settings) -> Bot:
    """An aiogram Bot for CSKH_TELEGRAM_TOKEN, at CSKH_TELEGRAM_API_URL when set."""
    if settings.telegram_token is None:
        raise ValueError("CSKH_TELEGRAM_TOKEN is not set")
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else AiohttpSession()
    )
    return Bot(
        settings.telegram_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode="HTML"),
    )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces whose HTML-escaped form fits one message, cut at a line or word break."""
    chunks: list[str] = []
    rest = text
    while len(html.escape(rest, quote=False)) > limit:
        cut = limit
        while len(html.escape(rest[:cut], quote=False)) > limit:
            cut -= 1
        for separator in ("\n", " "):
            position = rest.rfind(separator, 0, cut)
            if position > cut // 2:
                cut = position + 1
                break
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:]
    chunks.append(rest)
    return [chunk for chunk in chunks if chunk] or [""]


def _markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if reply.requests:
        # A reply keyboard: the request buttons, then the other choices as text buttons
        # (the engine maps a typed button title back to its payload).
        keyboard = [
            [
                KeyboardButton(
                    text=request.title,
                    request_contact=request.kind == KeyboardRequest.CONTACT or None,
                    request_location=request.kind == KeyboardRequest.LOCATION or None,
                )
            ]
            for request in reply.requests
        ]
        keyboard += [
            [KeyboardButton(text=b.title) for b in row if b.payload is not None]
            for row in reply.buttons
        ]
        return ReplyKeyboardMarkup(
            keyboard=[row for row in keyboard if row], resize_keyboard=True, one_time_keyboard=True
        )
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.title, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.title, callback_data=b.payload)
                for b in row
            ]
            for row in reply.buttons
        ]
    )


def _with_links(reply: Reply) -> str:
    """A reply keyboard cannot hold links: spell them out under the text."""
    links = [f"{b.title}: {b.url}" for b in reply.all_buttons if b.url]
    return "\n".join([reply.text, *links]) if links else reply.text


def _e164(phone: str) -> str:
    try:
        return parse_phone(phone)
    except FieldError:
        return phone if phone.startswith("+") else f"+{phone}"


def _chat_id(update: Update) -> int | None:
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat.id
    return None
