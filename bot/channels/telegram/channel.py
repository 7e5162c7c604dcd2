"""Telegram through aiogram 3: webhook or long polling, in and out.

The channel holds an aiogram `Bot` (pointed at CSKH_TELEGRAM_API_URL when set, which
is also how tests talk to a fake Bot API on loopback) and translates:
Update -> `Incoming` -> engine -> `Reply` -> Bot API calls. It answers every
callback query, downloads the largest size of a photo, joins an album into one
update, and ignores edited messages. Re-delivered updates run once (the engine
records each update id). A 429 waits retry_after, a 403 marks the chat
unreachable, network errors are retried with backoff; none of them crash the bot.

This module runs the channel (webhook, polling, albums, the engine's answer);
updates.py reads an update into an `Incoming`, sending.py sends the replies, and the
package's __init__ holds its settings and capabilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Message, Update
from aiohttp import web
from pydantic import ValidationError

from bot.channels.base import Channel, ChannelParts
from bot.channels.telegram import TELEGRAM_CAPS, TelegramSettings
from bot.channels.telegram.sending import TelegramDeliveryError, TelegramSender, split_text
from bot.channels.telegram.updates import UpdateReader, chat_of
from bot.core.messages import BadInput, Incoming, Reply
from bot.core.outbound import ChannelUnreachable, Recipient
from bot.store.repo import get_chat_user

__all__ = [
    "ALLOWED_UPDATES",
    "WEBHOOK_PATH",
    "TelegramChannel",
    "TelegramDeliveryError",
    "make_bot",
    "split_text",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALBUM_WAIT = 0.8  # seconds to wait for the rest of an album after its last part
ALLOWED_UPDATES = ["message", "callback_query"]
BACKOFF_BASE = 1.0  # seconds before the first retry after a network error; doubles each time


@dataclass
class _Album:
    messages: list[Message] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class TelegramChannel(Channel):
    """Customers in Telegram private chats."""

    name = "telegram"
    caps = TELEGRAM_CAPS

    def __init__(
        self, parts: ChannelParts, config: TelegramSettings, bot: Bot | None = None
    ) -> None:
        self.engine = parts.engine
        self.db = parts.db
        self.pusher = parts.pusher
        self.config = config
        self.mode = config.mode
        self.rate_limit = config.rate_limit()
        self.bot = bot or make_bot(config)
        self.sender = TelegramSender(self.bot, self.db, BACKOFF_BASE)
        self.reader = UpdateReader(
            self, self.sender, parts.quota, parts.settings.max_upload_mb * 1024 * 1024
        )
        self._albums: dict[str, _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None

    @property
    def backoff_base(self) -> float:
        """Seconds before the first retry after a network error (tests shorten it)."""
        return self.sender.backoff_base

    @backoff_base.setter
    def backoff_base(self, seconds: float) -> None:
        self.sender.backoff_base = seconds

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
        expected = self.config.webhook_secret
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
            await self.sender.call(lambda: self.bot.delete_webhook(drop_pending_updates=False))
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
            by_chat.setdefault(chat_of(update) or 0, []).append(update)

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
                await self.sender.call(lambda: self.bot.answer_callback_query(query.id))
            if query.message is None or not query.data:
                return
            chat = query.message.chat.id
            await self._handle(chat, self.reader.pressed(update.update_id, query, chat))
            return
        message = update.message
        if message is None or message.chat.type != "private":
            return  # edited messages, channel posts, groups: not ours (personal data)
        if message.media_group_id:
            self._add_to_album(message)
            return
        incoming = await self.reader.incoming(message, str(update.update_id))
        if incoming is not None:
            await self._handle(message.chat.id, incoming)

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
            photos = tuple([await self.reader.download_photo(m) for m in messages if m.photo])
            first = next((m for m in messages if m.caption), messages[0])
            # One key for the whole album: a re-delivered part cannot run it twice.
            incoming = await self.reader.incoming(first, f"album:{group_id}", photos=photos)
            if incoming is not None:
                await self._handle(first.chat.id, incoming)
        except Exception:
            log.exception("telegram album %s failed", group_id)

    # --- out -----------------------------------------------------------------------------

    async def _handle(self, chat_id: int, incoming: Incoming) -> None:
        replies = await self.answer(incoming)
        if getattr(replies, "delete_incoming", False) and incoming.message_ref:
            # A typed password or PIN: take it off the chat where Telegram allows it.
            message_id = int(incoming.message_ref)
            with contextlib.suppress(Exception):
                await self.bot.delete_message(chat_id, message_id)
        try:
            await self.sender.send(chat_id, self.adapt(replies))
        except ChannelUnreachable:
            await self._mark_unreachable(str(chat_id))

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """A push from the delivery worker: one try, a 429 or a failure goes back to the
        worker (which pauses the channel or retries later); the last message's id."""
        sent = await self.sender.push(int(recipient.platform_user_id), replies)
        return str(sent[-1]) if sent else None

    async def show_typing(self, user_id: str) -> None:
        await self.bot.send_chat_action(int(user_id), "typing")

    async def _mark_unreachable(self, platform_user_id: str) -> None:
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, platform_user_id)
        if user is not None:
            await self.pusher.mark_unreachable(user.id)


def make_bot(config: TelegramSettings) -> Bot:
    """An aiogram Bot for CSKH_TELEGRAM_TOKEN, at CSKH_TELEGRAM_API_URL when set."""
    if config.token is None:
        raise ValueError("CSKH_TELEGRAM_TOKEN is not set")
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(config.api_url))
        if config.api_url
        else AiohttpSession()
    )
    return Bot(
        config.token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode="HTML"),
    )
