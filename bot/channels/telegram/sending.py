"""Replies -> Bot API calls: inline or reply keyboards, text cut to Telegram's limits,
images and documents uploaded once, and Telegram's rules on every call (wait out a 429,
give up on a 403, retry network and server errors with backoff)."""

from __future__ import annotations

import asyncio
import contextvars
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiogram import Bot
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
    ReplyKeyboardMarkup,
)

from bot.core.messages import KeyboardRequest, Media, Reply
from bot.core.outbound import ChannelUnreachable, RateLimited
from bot.store.db import Database
from bot.store.media import load_media

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_TEXT = 4096  # Bot API limit of one message's text
MAX_CAPTION = 1024  # and of a photo's or document's caption
MAX_ATTEMPTS = 5
# Set while the delivery worker pushes: Bot API calls try once and report a 429 or an
# error to the worker instead of sleeping and retrying here.
_PUSHING: contextvars.ContextVar[bool] = contextvars.ContextVar("pushing", default=False)


class TelegramDeliveryError(Exception):
    """Telegram kept failing after every retry."""


class TelegramSender:
    """Sends replies to one bot's chats and makes every Bot API call of the channel."""

    def __init__(self, bot: Bot, db: Database, backoff_base: float) -> None:
        self.bot = bot
        self.db = db
        self.backoff_base = backoff_base  # seconds before the first retry; doubles each time
        # Telegram's file_id of a stored media already uploaded once: a campaign image
        # goes up once, not once per customer.
        self._file_ids: dict[str, str] = {}

    async def push(self, chat_id: int, replies: Sequence[Reply]) -> list[int]:
        """`send` for the delivery worker: one try, a 429 or a failure goes back to it
        (it pauses the channel or retries later)."""
        token = _PUSHING.set(True)
        try:
            return await self.send(chat_id, replies)
        finally:
            _PUSHING.reset(token)

    async def send(self, chat_id: int, replies: Sequence[Reply]) -> list[int]:
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
                await self.call(lambda: self.bot.send_chat_action(chat_id, "upload_photo"))
            message = await self.call(
                lambda: self.bot.send_photo(chat_id, file, caption=caption, reply_markup=markup)
            )
            if media.media_id is not None and message.photo:
                self._file_ids[media.media_id] = message.photo[-1].file_id
        else:
            if not pushing:
                await self.call(lambda: self.bot.send_chat_action(chat_id, "upload_document"))
            message = await self.call(
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
        message = await self.call(
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

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
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
