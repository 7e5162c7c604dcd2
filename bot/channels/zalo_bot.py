"""The Zalo Bot platform (Zalo's Telegram-like bot API): webhook or long polling, in
and out (issue 17).

What this module relies on of the platform (bot.zaloplatforms.com/docs, read through
public clients of it: the PHP SDK vntrungld/zalo-bot-php-sdk, and the Zalo adapters of
the openclaw and hermes-agent gateways; no official SDK in Python):

- Every method is `POST {api_url}/bot{TOKEN}/{method}` with a JSON body; the answer is
  `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": ...}`.
  Methods used: getMe, getUpdates, setWebhook {url, secret_token}, deleteWebhook,
  getWebhookInfo, sendMessage {chat_id, text}, sendPhoto {chat_id, photo: a public
  URL, caption}, sendChatAction {chat_id, action: "typing" | "upload_photo"}.
- getUpdates {timeout: seconds, as a string} long-polls and returns ONE update as its
  `result` (some clients see a list: both are read); an empty poll answers
  error_code 408. There is no update_id and no offset: an update is handed out once,
  and a message's `message_id` is the key that makes a re-delivery run once.
- An update is `{"event_name": ..., "message": {message_id, from: {id, display_name,
  is_bot}, chat: {id, chat_type: "PRIVATE" | "GROUP"}, date (milliseconds), text,
  photo_url | photo, caption, sticker}}`. Events: message.text.received,
  message.image.received (the photo is a URL on Zalo's CDN, downloaded here),
  message.sticker.received, message.unsupported.received (a contact card, a file, a
  protected account's message: no content).
- The webhook POSTs the update with the secret given to setWebhook in
  `X-Bot-Api-Secret-Token`; some deliveries wrap it as `{"ok": true, "result":
  update}`, so both shapes are read.
- A message holds at most 2000 characters (what the clients above cut at). There are
  no buttons: every choice is a numbered option (bot/channels/base.py). No documents:
  a PDF goes as a signed link. A photo goes by URL, so the bot's own pictures (a bill's
  chart) are sent as signed links of `cskh serve` (CSKH_PUBLIC_URL must be reachable
  from Zalo).
- Zalo shares no verified phone number: customers log in by username and password or
  by phone number and a one-time code (bot/handlers/account.py), as on the web chat.

Zalo publishes no send rate; the defaults (`rate`, `chat_interval`) are cautious and
settable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp
from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.channels.base import Channel, ChannelParts, ChannelSettings, ChannelSettingsError
from bot.channels.base import split_at_sentences as split_text
from bot.core.messages import BadInput, ChannelCaps, Incoming, Media, Reply
from bot.core.outbound import ChannelUnreachable, RateLimited, Recipient
from bot.notify.limits import ChannelLimit
from bot.store.media import is_refused_upload, sniff_image
from bot.store.repo import get_chat_user

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://bot-api.zaloplatforms.com"
WEBHOOK_PATH = "/zalo/bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000
POLL_SECONDS = 25  # getUpdates' long poll
EMPTY_POLL = 408  # getUpdates' error_code when nothing came during the poll
MAX_ATTEMPTS = 4
BACKOFF_BASE = 1.0  # seconds before the first retry of a failed call; doubles each time
RETRY_AFTER = 1.0  # Zalo's 429 says no wait: the delivery worker pauses this long
TEXT, IMAGE, STICKER, UNSUPPORTED = (
    "message.text.received",
    "message.image.received",
    "message.sticker.received",
    "message.unsupported.received",
)

# No buttons (numbered options), 2000 characters a message, "typing…", photos by URL,
# no documents (a signed link), no vouched-for phone number, no quoting of a message.
ZALO_BOT_CAPS = ChannelCaps(
    max_buttons=0, max_text=MAX_TEXT, verified_contact=False, typing=True, documents=False
)


class ZaloBotSettings(ChannelSettings):
    """CSKH_ZALO_BOT_*: the bot token from "Zalo Bot Manager" (unset: the Zalo Bot is
    off), polling or a webhook (with the secret Zalo sends back), and the send limits."""

    model_config = SettingsConfigDict(env_prefix="CSKH_ZALO_BOT_")
    channel_name = "zalo_bot"

    token: SecretStr | None = None
    api_url: str = DEFAULT_API_URL  # the tests' fake
    mode: Literal["webhook", "polling"] = "polling"
    webhook_secret: SecretStr | None = None
    rate: float = Field(default=20.0, gt=0)
    chat_interval: float = Field(default=1.0, ge=0)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())

    def rate_limit(self) -> ChannelLimit:
        return ChannelLimit(self.rate, self.chat_interval)

    def check(self) -> None:
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if self.mode == "webhook" and not secret:
            raise ChannelSettingsError(
                "CSKH_ZALO_BOT_MODE=webhook needs CSKH_ZALO_BOT_WEBHOOK_SECRET "
                "(Zalo sends it with every update; without it anyone could post updates)"
            )
        if secret and not 8 <= len(secret) <= 256:
            raise ChannelSettingsError("CSKH_ZALO_BOT_WEBHOOK_SECRET: 8 to 256 characters")


class ZaloBotError(Exception):
    """Zalo answered a call with ok=false (or an HTTP error)."""

    def __init__(self, method: str, code: int | None, description: str) -> None:
        super().__init__(f"zalo {method} failed ({code}): {description}")
        self.code = code
        self.description = description


class ZaloBotApi:
    """The Bot API's calls, over one aiohttp session."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL) -> None:
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, **fields: Any) -> Any:
        """One call; its `result`, or ZaloBotError."""
        async with self.session.post(f"{self._base}/{method}", json=fields) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise ZaloBotError(method, response.status, f"HTTP {response.status}")
            if response.status >= 400 or body.get("ok") is False:
                code = body.get("error_code", response.status)
                raise ZaloBotError(method, code, str(body.get("description") or ""))
            return body.get("result")

    async def get_me(self) -> dict[str, Any]:
        return dict(await self.call("getMe") or {})

    async def get_updates(self, seconds: int = POLL_SECONDS) -> list[dict[str, Any]]:
        """The updates of one long poll (none when it timed out empty)."""
        try:
            result = await self.call("getUpdates", timeout=str(seconds))
        except ZaloBotError as error:
            if error.code == EMPTY_POLL:
                return []
            raise
        return updates_in(result)

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> Any:
        return await self.call("getWebhookInfo")

    async def send_message(self, chat_id: str, text: str) -> Any:
        return await self.call("sendMessage", chat_id=chat_id, text=text)

    async def send_photo(self, chat_id: str, photo: str, caption: str | None = None) -> Any:
        fields: dict[str, Any] = {"chat_id": chat_id, "photo": photo}
        if caption:
            fields["caption"] = caption
        return await self.call("sendPhoto", **fields)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", chat_id=chat_id, action=action)

    async def download(self, url: str, limit: int) -> bytes | None:
        """A photo from Zalo's CDN; None past `limit` bytes."""
        async with self.session.get(url) as response:
            response.raise_for_status()
            if (response.content_length or 0) > limit:
                return None
            data = await response.content.read(limit + 1)
            return None if len(data) > limit else data


def updates_in(body: Any) -> list[dict[str, Any]]:
    """The updates of a getUpdates result or a webhook body: an update, a list of them,
    or either wrapped as `{"ok": true, "result": ...}`."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict) and "event_name" in item]
    if not isinstance(body, dict):
        return []
    if "event_name" in body:
        return [body]
    if "result" in body:
        return updates_in(body["result"])
    return []


class ZaloBotChannel(Channel):
    """Customers in private chats with the bot on Zalo."""

    name = "zalo_bot"
    caps = ZALO_BOT_CAPS

    def __init__(
        self, parts: ChannelParts, config: ZaloBotSettings, api: ZaloBotApi | None = None
    ) -> None:
        if config.token is None:
            raise ValueError("CSKH_ZALO_BOT_TOKEN is not set")
        self.engine = parts.engine
        self.db = parts.db
        self.pusher = parts.pusher
        self.links = parts.links
        self.quota = parts.quota
        self.max_upload_bytes = parts.settings.max_upload_mb * 1024 * 1024
        self.config = config
        self.mode = config.mode
        self.rate_limit = config.rate_limit()
        self.api = api or ZaloBotApi(config.token.get_secret_value(), config.api_url)
        self.backoff_base = BACKOFF_BASE
        self._poller: asyncio.Task[None] | None = None
        # Polling: one queue and worker per chat, so one slow chat holds up only itself.
        self._chats: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(WEBHOOK_PATH, self.webhook)] if self.mode == "webhook" else []

    async def start(self) -> None:
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="zalo-bot-polling")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for queue in list(self._chats.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.join(), timeout=5)
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self.api.close()

    # --- in ------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.config.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if expected is None or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode()
        ):
            return web.json_response({"ok": False, "error": "wrong secret token"}, status=401)
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        updates = updates_in(body)
        if not updates:
            return web.json_response({"ok": False, "error": "not a Zalo Bot update"}, status=400)
        for update in updates:
            await self.process(update)
        return web.json_response({"ok": True})

    async def _poll(self) -> None:
        try:
            await self.api.delete_webhook()  # getUpdates is refused while a webhook is set
        except Exception as error:
            log.warning("could not remove the Zalo Bot webhook (%s); polling anyway", error)
        delay = self.backoff_base
        while True:
            try:
                updates = await self.api.get_updates()
                delay = self.backoff_base
            except asyncio.CancelledError:
                raise
            except Exception as error:  # network, 5xx, a bad token...
                log.warning("zalo bot polling failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                continue
            for update in updates:
                self._dispatch(update)

    def _dispatch(self, update: dict[str, Any]) -> None:
        """Queue an update behind its chat's earlier ones (a worker per busy chat)."""
        chat = _chat_id(update) or ""
        queue = self._chats.get(chat)
        if queue is None:
            queue = self._chats[chat] = asyncio.Queue()
            self._workers[chat] = asyncio.create_task(self._work(chat, queue), name="zalo-chat")
        queue.put_nowait(update)

    async def _work(self, chat: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """A chat's updates in order; the worker ends when its chat has nothing queued
        (no await between the check and the removal: `_dispatch` sees one or the other)."""
        while not queue.empty():
            update = queue.get_nowait()
            try:
                await self.process(update)
            finally:
                queue.task_done()
        del self._chats[chat], self._workers[chat]

    async def process(self, update: dict[str, Any]) -> None:
        """Handle one update; errors are logged, never raised (a bad update must not stop
        polling or make Zalo re-deliver forever)."""
        try:
            incoming = await self.read(update)
            if incoming is not None:
                await self._handle(incoming)
        except BadInput as error:
            log.warning("zalo bot update refused: %s", error)
        except Exception:
            log.exception("zalo bot update %s failed", update.get("event_name"))

    async def read(self, update: dict[str, Any]) -> Incoming | None:
        """An update as the engine takes it; None for what is not ours (groups, bots,
        events without a message)."""
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        if not isinstance(chat, dict) or not isinstance(sender, dict) or sender.get("is_bot"):
            return None
        chat_id = str(chat.get("id") or sender.get("id") or "")
        if not chat_id or str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
            return None  # a group: not ours (personal data)
        message_id = str(message.get("message_id") or "")
        common: dict[str, Any] = {
            # No update ids on Zalo: the message's id makes a re-delivery run once.
            "update_id": f"msg:{message_id}" if message_id else None,
            "message_ref": message_id or None,
            "display_name": sender.get("display_name") or sender.get("name"),
        }
        event = update.get("event_name")
        text = message.get("text") or message.get("caption")
        if event == IMAGE:
            photo = await self._photo(chat_id, message)
            if isinstance(photo, str):
                return self.incoming(chat_id, unsupported=photo, **common)
            return self.incoming(chat_id, text=text, photos=(photo,), **common)
        if event == TEXT and isinstance(text, str) and text.strip():
            return self.incoming(chat_id, text=text, **common)
        if event == STICKER:
            return self.incoming(chat_id, unsupported="sticker", **common)
        if event in (UNSUPPORTED, TEXT):  # a contact card, a file, an empty text
            return self.incoming(chat_id, unsupported="unsupported", **common)
        log.info("zalo bot event %r ignored", event)
        return None

    async def _photo(self, chat_id: str, message: dict[str, Any]) -> Media | str:
        """The photo of an image message, downloaded and typed by its bytes; or why it
        is not taken ("too_large", "quota", "unsafe_file", "unsupported")."""
        url = message.get("photo_url") or message.get("photo") or message.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return "unsupported"
        if self.quota is not None and await self.quota.refuses(self.name, chat_id, 0):
            return "quota"
        data = await self.api.download(url, self.max_upload_bytes)
        if data is None:
            return "too_large"
        if self.quota is not None and await self.quota.refuses(self.name, chat_id, len(data)):
            return "quota"
        content_type = sniff_image(data)
        if content_type is None or is_refused_upload(data, None, None):
            return "unsafe_file"
        extension = content_type.split("/")[1].replace("jpeg", "jpg")
        name = f"zalo-{message.get('message_id') or 'photo'}.{extension}"
        return Media(content_type, name, data=data)

    # --- out -----------------------------------------------------------------------------

    async def _handle(self, incoming: Incoming) -> None:
        replies = await self.answer(incoming)
        try:
            await self._send(incoming.user_id, self.adapt(replies), pushing=False)
        except ChannelUnreachable:
            await self._mark_unreachable(incoming.user_id)

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """A push from the delivery worker: one try per call; a 429 or a failure goes
        back to the worker (which pauses the channel or retries later)."""
        sent = await self._send(recipient.platform_user_id, replies, pushing=True)
        return sent[-1] if sent else None

    async def show_typing(self, user_id: str) -> None:
        await self.api.send_chat_action(user_id, "typing")

    async def _send(self, chat_id: str, replies: Sequence[Reply], *, pushing: bool) -> list[str]:
        sent: list[str] = []
        for reply in replies:
            text = reply.text
            if reply.image is not None:
                url = self._photo_url(reply.image)
                if url is not None:
                    caption = text if len(text) <= MAX_TEXT else ""
                    if not caption and text:
                        sent += await self._texts(chat_id, text, pushing)
                    if not pushing:
                        with contextlib.suppress(Exception):
                            await self.api.send_chat_action(chat_id, "upload_photo")
                    result = await self._call(
                        "sendPhoto", pushing, chat_id=chat_id, photo=url, caption=caption or None
                    )
                    sent.append(_message_id(result))
                    continue
                text = "\n".join(t for t in (text, f"🖼 {reply.image.filename}") if t)
            if reply.document is not None:  # only when `adapt` was skipped: a link
                text = "\n".join(t for t in (text, self._media_line("📎", reply.document)) if t)
            if text:
                sent += await self._texts(chat_id, text, pushing)
        return sent

    async def _texts(self, chat_id: str, text: str, pushing: bool) -> list[str]:
        sent = []
        for piece in split_text(text, MAX_TEXT):
            result = await self._call("sendMessage", pushing, chat_id=chat_id, text=piece)
            sent.append(_message_id(result))
        return sent

    def _photo_url(self, media: Media) -> str | None:
        """The URL Zalo fetches the picture from: a signed link of ours, or its own."""
        if media.media_id is not None and self.links is not None:
            return self.links.url_for(media.media_id)
        return media.url

    async def _call(self, method: str, pushing: bool, **fields: Any) -> Any:
        """One send with the platform's rules: a 429 and errors are retried with backoff
        here for an answer, handed to the delivery worker for a push; a chat that
        blocked the bot (403) or is gone (404) is unreachable."""
        delay = self.backoff_base
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self.api.call(method, **fields)
            except ZaloBotError as error:
                if error.code in (403, 404):
                    raise ChannelUnreachable(str(error)) from error
                if error.code == 429 and pushing:
                    raise RateLimited(RETRY_AFTER) from error
                if error.code not in (429, 500, 502, 503, 504) or pushing:
                    raise
                log.warning("zalo bot %s failed (attempt %s: %s)", method, attempt, error)
            except (TimeoutError, aiohttp.ClientError) as error:
                if pushing:
                    raise
                log.warning("zalo bot %s failed (attempt %s: %s)", method, attempt, error)
            await asyncio.sleep(delay)
            delay *= 2
        raise ZaloBotError(method, None, f"still failing after {MAX_ATTEMPTS} attempts")

    async def _mark_unreachable(self, platform_user_id: str) -> None:
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, platform_user_id)
        if user is not None:
            await self.pusher.mark_unreachable(user.id)


def _chat_id(update: dict[str, Any]) -> str | None:
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat")
    return str(chat.get("id")) if isinstance(chat, dict) and chat.get("id") else None


def _message_id(result: Any) -> str:
    if isinstance(result, dict) and result.get("message_id"):
        return str(result["message_id"])
    return ""


__all__ = [
    "WEBHOOK_PATH",
    "ZALO_BOT_CAPS",
    "ZaloBotApi",
    "ZaloBotChannel",
    "ZaloBotError",
    "ZaloBotSettings",
    "updates_in",
]
