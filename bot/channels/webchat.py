"""The web chat: a page at `/` and a websocket, for the utility's web site.

Identity is a server-issued visitor id in a signed HttpOnly cookie (never a
client-chosen id). The websocket carries messages both ways; every socket of a
visitor (several tabs) sees the conversation; pushes arrive live while a page is
open, and a page that (re)connects gets the recent history. Photos go up by HTTP
POST (size and type checked here). The websocket checks the Origin against our public
address, limits message size, and slows down a visitor who floods it, with a polite
notice.

Limits (issue 12, point 4) are kept per visitor and per client address in a throttle
that outlives the socket (memory, or Redis with CSKH_REDIS_URL: shared by every
process), so reconnecting does not reset them; sockets are capped per visitor and per
address (in each process); uploads are throttled and stored media is capped per
visitor and in total.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
import logging
import secrets
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.history import visible_history
from bot.channels.base import Channel, ChannelParts, ChannelSettings, client_address
from bot.channels.media import MediaLinks, reply_to_client
from bot.core import metrics
from bot.core.codec import reply_from_json, reply_to_json
from bot.core.messages import MAX_PAYLOAD_BYTES, ChannelCaps, Incoming, Location, Media, Reply
from bot.core.network import client_key
from bot.core.outbound import Recipient
from bot.core.state import ConversationState
from bot.core.transcript import REDACTED
from bot.store.media import sniff_image
from bot.store.models import ChatUser, Conversation, TranscriptMessage
from bot.store.repo import get_chat_user
from bot.store.throttle import Rate, Throttle

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
COOKIE = "cskh_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_WS_MESSAGE = 64 * 1024  # bytes of one websocket frame
MAX_TEXT = 4000  # characters of one typed message
HISTORY = 50  # messages shown again when a page (re)connects
FANOUT = "cskh:webchat:push"  # the Redis channel pushes travel on between processes
UI_KEYS = (
    "placeholder",
    "send",
    "photo",
    "location",
    "connecting",
    "reconnecting",
    "offline",
    "you",
    "sending_photo",
    "location_denied",
    "title",
    "subtitle",
    "secret_placeholder",
)
# What the page's input is for, sent with every answer (and the history): "secret" while
# the bot waits for a password, a PIN or a code (a password field, the bubble shows dots).
INPUT_TEXT, INPUT_SECRET = "text", "secret"


@dataclass
class _Visitor:
    """The sockets this process holds for one visitor (their tabs)."""

    sockets: set[web.WebSocketResponse] = field(default_factory=set)


SOCKET_REFUSED = 4008  # a close code the page reads as "do not hurry back"


class WebChatSettings(ChannelSettings):
    """The web chat has no credentials: it is always on. Its limits are the main
    settings' CSKH_WEBCHAT_* (README)."""

    channel_name = "web"


class WebChatChannel(Channel):
    """Visitors of the chat page."""

    name = "web"
    # The page draws every button and any length; media are signed links it shows.
    caps = ChannelCaps()

    def __init__(self, parts: ChannelParts, config: WebChatSettings | None = None) -> None:
        settings = self.settings = parts.settings
        self.engine = parts.engine
        self.db = parts.db
        self.texts = parts.texts
        self.links: MediaLinks = parts.links
        self.clock = parts.engine.services.clock
        # Limits that outlive a socket (memory, or Redis shared by every process).
        self.throttle: Throttle = parts.throttle
        self.quota = parts.quota
        self._secret = parts.links.secret
        self._visitors: dict[str, _Visitor] = {}
        self._sockets_by_address: Counter[str] = Counter()
        per_minute, burst = settings.webchat_per_minute, settings.webchat_burst
        self._message_rates = (
            Rate(per_minute, 60, burst),
            # Many customers may share one address (an office, a mobile carrier's NAT):
            # a minute's worth may come at once.
            Rate(settings.webchat_address_per_minute, 60),
        )
        self._upload_rates = (
            Rate(settings.uploads_per_hour, 3600, min(5, settings.uploads_per_hour)),
            Rate(
                settings.uploads_per_address_hour,
                3600,
                min(15, settings.uploads_per_address_hour),
            ),
        )
        self._page = string.Template((STATIC_DIR / "webchat.html").read_text(encoding="utf-8"))
        self._secure_cookie = settings.effective_public_url.startswith("https://")
        # With CSKH_REDIS_URL, pushes go through Redis to every process, each sending
        # them to the pages it holds; without it, to this process's pages only.
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.settings.redis_url:
            await self.start_fanout()

    async def start_fanout(self) -> None:
        """Connect to Redis and listen for pushes any process makes."""
        import redis.asyncio as redis

        self._redis = redis.from_url(str(self.settings.redis_url))
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(FANOUT)
        self._listener = asyncio.create_task(self._listen(pubsub), name="webchat-fanout")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    push = json.loads(message["data"])
                    replies = [reply_from_json(r) for r in push["replies"]]
                    await self._broadcast(str(push["visitor"]), replies)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: try again (history covers the gap)
                log.warning("web chat fan-out interrupted; resubscribing", exc_info=True)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(FANOUT)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/", self.page),
            web.get("/webchat/ws", self.websocket),
            web.post("/webchat/upload", self.upload),
            web.static("/webchat/static", STATIC_DIR, append_version=True),
        ]

    # --- identity --------------------------------------------------------------------------

    def _sign(self, visitor_id: str) -> str:
        return hmac.new(self._secret, f"visitor|{visitor_id}".encode(), hashlib.sha256).hexdigest()[
            :32
        ]

    def visitor_of(self, request: web.Request) -> str | None:
        """The visitor id from a cookie we signed, or None."""
        value = request.cookies.get(COOKIE, "")
        visitor_id, _, signature = value.partition(".")
        if visitor_id and hmac.compare_digest(signature, self._sign(visitor_id)):
            return visitor_id
        return None

    def _origin_allowed(self, request: web.Request) -> bool:
        """A browser page may open the chat only from our public address (or an origin
        CSKH_WEBCHAT_ORIGINS allows). The Host header is the client's to write, so it
        is never what the Origin is compared with (issue 12, point 10)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser (browsers always send Origin on websockets and POST)
        return origin.rstrip("/").lower() in self.allowed_origins()

    def allowed_origins(self) -> set[str]:
        settings = self.settings
        public = urlsplit(settings.effective_public_url)
        allowed = {f"{public.scheme}://{public.netloc}".lower(), *settings.webchat_origins}
        if settings.public_url is None and _is_loopback(public.hostname):
            # Trying it out on one's own machine: http://localhost:PORT is the same server.
            port = f":{public.port}" if public.port else ""
            allowed |= {f"{public.scheme}://{host}{port}" for host in _LOOPBACK_NAMES}
        return {origin.lower() for origin in allowed}

    async def _language(self, visitor_id: str) -> str:
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, visitor_id)
        return user.language if user else self.settings.default_language

    # --- the page ------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        visitor_id = self.visitor_of(request)
        new = visitor_id is None
        if visitor_id is None:
            visitor_id = secrets.token_urlsafe(16)
        lang = await self._language(visitor_id)
        ui = {key: self.texts.get(f"webchat.{key}", lang) for key in UI_KEYS}
        body = self._page.substitute(
            lang=lang,
            title=html.escape(ui["title"]),
            subtitle=html.escape(ui["subtitle"]),
            placeholder=html.escape(ui["placeholder"]),
            send=html.escape(ui["send"]),
            photo=html.escape(ui["photo"]),
            location=html.escape(ui["location"]),
            # "</" cannot end the script element early once escaped.
            ui_json=json.dumps(ui, ensure_ascii=False).replace("</", "<\\/"),
        )
        response = web.Response(text=body, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'self'"
        )
        response.headers["Cache-Control"] = "no-store"
        if new:
            response.set_cookie(
                COOKIE,
                f"{visitor_id}.{self._sign(visitor_id)}",
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=self._secure_cookie,
                path="/",
            )
        return response

    # --- the websocket -----------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        visitor_id = self.visitor_of(request)
        if visitor_id is None:
            raise web.HTTPUnauthorized(text="No chat session: reload the page.")
        if not self._origin_allowed(request):
            raise web.HTTPForbidden(text="This page may not open the chat.")
        address = client_address(request, self.settings.trusted_proxies)
        client = client_key(address) or ""
        # Read before the upgrade: with the database down the answer is a plain 503,
        # not a socket that opens and breaks at once.
        history, expects = await self._history(visitor_id)
        socket = web.WebSocketResponse(max_msg_size=MAX_WS_MESSAGE, heartbeat=30)
        await socket.prepare(request)
        visitor = self._visitors.setdefault(visitor_id, _Visitor())
        if (
            len(visitor.sockets) >= self.settings.webchat_sockets_per_visitor
            or self._sockets_by_address[client] >= self.settings.webchat_sockets_per_address
        ):
            metrics.THROTTLED.labels("socket").inc()
            await self._notice(socket, visitor_id, "webchat.too_many_windows")
            await socket.close(code=SOCKET_REFUSED, message=b"too many chat windows")
            if not visitor.sockets:
                self._visitors.pop(visitor_id, None)
            return socket
        visitor.sockets.add(socket)
        self._sockets_by_address[client] += 1
        try:
            await socket.send_json({"type": "history", "messages": history, "input": expects})
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    await self._on_frame(visitor_id, address, visitor, socket, frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            visitor.sockets.discard(socket)
            if not visitor.sockets:
                self._visitors.pop(visitor_id, None)
            self._sockets_by_address[client] -= 1
            if self._sockets_by_address[client] <= 0:
                del self._sockets_by_address[client]
        return socket

    async def _allowed(
        self, kind: str, rates: tuple[Rate, Rate], visitor_id: str, address: str | None
    ) -> bool:
        """One more message or upload for this visitor and their address, if both allow.
        The visitor first: one flooding visitor must not spend the allowance of everybody
        behind the same address (an office, a carrier's NAT)."""
        if not (await self.throttle.take(f"web:{kind}:v:{visitor_id}", rates[0])).allowed:
            return False
        client = client_key(address)
        if client is None:
            return True
        return (await self.throttle.take(f"web:{kind}:a:{client}", rates[1])).allowed

    async def _on_frame(
        self,
        visitor_id: str,
        address: str | None,
        visitor: _Visitor,
        socket: web.WebSocketResponse,
        data: str,
    ) -> None:
        if not await self._allowed("msg", self._message_rates, visitor_id, address):
            metrics.THROTTLED.labels("message").inc()
            await self._notice(socket, visitor_id, "webchat.slow_down")
            return
        try:
            incoming = self._parse(visitor_id, address, json.loads(data))
        except (ValueError, TypeError, RecursionError):  # RecursionError: nesting 100,000 deep
            await self._notice(socket, visitor_id, "webchat.bad_message")
            return
        replies = await self.answer(incoming)
        # The echo waits for the engine: only it knows whether the text was a secret.
        await self._echo(
            visitor, socket, incoming, secret=getattr(replies, "delete_incoming", False)
        )
        await self._broadcast(visitor_id, replies, input_kind(replies))

    def _parse(self, visitor_id: str, address: str | None, message: Any) -> Incoming:
        if not isinstance(message, dict):
            raise ValueError("not an object")
        common: dict[str, Any] = {"client_address": address}
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                raise ValueError("text")
            return self.incoming(visitor_id, text=text, **common)
        if kind == "button":
            payload = message.get("payload")
            if not isinstance(payload, str) or not 0 < len(payload.encode()) <= MAX_PAYLOAD_BYTES:
                raise ValueError("payload")
            return self.incoming(visitor_id, payload=payload, **common)
        if kind == "location":  # Location refuses true/false, NaN and the out-of-range
            location = Location(message.get("lat"), message.get("lon"))  # type: ignore[arg-type]
            return self.incoming(visitor_id, location=location, **common)
        raise ValueError("unknown type")

    async def _echo(
        self,
        visitor: _Visitor,
        sender: web.WebSocketResponse,
        incoming: Incoming,
        *,
        secret: bool,
    ) -> None:
        """Show the visitor's message in their other tabs too (a secret as dots)."""
        others = [s for s in visitor.sockets if s is not sender and not s.closed]
        if not others or incoming.text is None:
            return
        for socket in others:
            await socket.send_json({"type": "echo", "text": REDACTED if secret else incoming.text})

    async def _notice(self, socket: web.WebSocketResponse, visitor_id: str, key: str) -> None:
        text = self.texts.get(key, await self._language(visitor_id))
        await socket.send_json({"type": "notice", "text": text})

    async def _broadcast(
        self, visitor_id: str, replies: Sequence[Reply], expects: str | None = None
    ) -> None:
        """To every page of the visitor; an answer says what the input is now for
        (`expects`), a push leaves it as it is."""
        visitor = self._visitors.get(visitor_id)
        if visitor is None:
            return  # no page open: the transcript shows it when one connects
        frames: list[dict[str, Any]] = [
            {"type": "message", "message": reply_to_client(r, self.links)} for r in replies
        ]
        if expects is not None:
            for frame in frames:
                frame["input"] = expects
        for socket in list(visitor.sockets):
            if socket.closed:
                continue
            for frame in frames:
                await socket.send_json(frame)

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """To the visitor's open pages, in whatever process holds them (Redis), or to
        this process's; a visitor with no page open sees it in the history later."""
        if self._redis is not None:
            push = {
                "visitor": recipient.platform_user_id,
                "replies": [reply_to_json(r) for r in replies],
            }
            await self._redis.publish(FANOUT, json.dumps(push, ensure_ascii=False))
        else:
            await self._broadcast(recipient.platform_user_id, replies)
        return None

    # --- photos ---------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        visitor_id = self.visitor_of(request)
        if visitor_id is None:
            return web.json_response({"error": "reload the page"}, status=401)
        if not self._origin_allowed(request):
            return web.json_response({"error": "origin not allowed"}, status=403)
        lang = await self._language(visitor_id)
        address = client_address(request, self.settings.trusted_proxies)
        if not await self._allowed("upload", self._upload_rates, visitor_id, address):
            metrics.THROTTLED.labels("upload").inc()
            return self._upload_error("webchat.upload_slow_down", lang, 429)
        limit = self.settings.max_upload_mb * 1024 * 1024
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return self._upload_error("webchat.too_large", lang, 413)
        photo = form.get("photo")
        if not isinstance(photo, web.FileField):
            return self._upload_error("webchat.not_image", lang, 400)
        data = photo.file.read(limit + 1)
        if len(data) > limit:
            return self._upload_error("webchat.too_large", lang, 413)
        content_type = sniff_image(data)
        if content_type is None:
            return self._upload_error("webchat.not_image", lang, 400)
        if self.quota is not None:
            refused = await self.quota.refuses(self.name, visitor_id, len(data))
            if refused is not None:
                metrics.THROTTLED.labels("quota").inc()
                return self._upload_error(f"webchat.quota_{refused}", lang, 507)
        caption = form.get("caption")
        filename = Path(photo.filename or "photo").name[:100]
        incoming = self.incoming(
            visitor_id,
            photos=(Media(content_type, filename, data=data),),
            text=caption if isinstance(caption, str) and caption.strip() else None,
            client_address=address,
        )
        replies = await self.answer(incoming)
        await self._broadcast(visitor_id, replies, input_kind(replies))
        return web.json_response({"ok": True})

    def _upload_error(self, key: str, lang: str, status: int) -> web.Response:
        text = self.texts.get(
            key, lang, max_mb=self.settings.max_upload_mb, hotline=self.settings.hotline
        )
        return web.json_response({"error": text}, status=status)

    # --- history ----------------------------------------------------------------------------------

    async def _history(self, visitor_id: str) -> tuple[list[dict[str, Any]], str]:
        """The messages a (re)connecting page shows, and what its input is for now (a
        reload while the bot waits for a PIN keeps the password field)."""
        async with self.db.reading() as session:
            messages = await visible_history(
                session, self.name, visitor_id, now=self.clock.now(), limit=HISTORY
            )
            secret = await self._waits_for_secret(session, visitor_id)
        titles: dict[str, str] = {}
        rendered = []
        for message in messages:
            item = self._render_past(message, titles)
            # What the page sent on its own (the first visit's start) is nothing the
            # customer typed or tapped: no empty bubble of theirs (issue 15, point 9).
            if item["direction"] != "in" or item["text"] or item["images"] or item["documents"]:
                rendered.append(item)
            for attachment in message.attachments:
                if attachment.get("type") == "buttons":
                    titles.update(
                        {
                            b["payload"]: b["title"]
                            for row in attachment["rows"]
                            for b in row
                            if b.get("payload")
                        }
                    )
        return rendered, INPUT_SECRET if secret else INPUT_TEXT

    async def _waits_for_secret(self, session: AsyncSession, visitor_id: str) -> bool:
        state = await session.scalar(
            select(Conversation.state)
            .join(ChatUser, Conversation.chat_user_id == ChatUser.id)
            .where(ChatUser.channel == self.name, ChatUser.platform_user_id == visitor_id)
        )
        return state is not None and self.engine.router.expects_secret(ConversationState(state))

    def _render_past(self, message: TranscriptMessage, titles: dict[str, str]) -> dict[str, Any]:
        """A transcript message as the page shows it (buttons live again, links fresh)."""
        item: dict[str, Any] = {"direction": message.direction, "text": message.text or ""}
        if message.direction == "in" and message.payload and not message.text:
            item["text"] = titles.get(message.payload, "")
        images, documents, buttons = [], [], []
        for attachment in message.attachments:
            kind = attachment.get("type")
            media_id = attachment.get("media")
            if kind in ("photo", "image") and media_id:
                images.append(self.links.url_for(media_id))
            elif kind == "document" and media_id:
                documents.append(
                    {"url": self.links.url_for(media_id), "filename": attachment.get("filename")}
                )
            elif kind == "location":
                item["text"] = (
                    item["text"] or f"📍 {attachment['lat']:.5f}, {attachment['lon']:.5f}"
                )
            elif kind == "buttons":
                buttons = attachment["rows"]
        item["images"] = images
        item["documents"] = documents
        item["buttons"] = [
            [{k: v for k, v in b.items() if v is not None} for b in row] for row in buttons
        ]
        return item


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def input_kind(replies: Sequence[Reply]) -> str:
    """What the page's input is for after this answer of the engine."""
    return INPUT_SECRET if getattr(replies, "expects_secret", False) else INPUT_TEXT


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
