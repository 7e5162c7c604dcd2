"""The REST channel: POST /api/chat for a turn, GET /api/messages for pushes.

Enabled only when CSKH_REST_TOKEN is set; every request needs
`Authorization: Bearer <token>`. Image and document URLs in answers are signed,
expiring links served by the same server (channels/media.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict
from sqlalchemy import select

from bot.channels.base import Channel, ChannelParts, ChannelSettings, client_address
from bot.channels.media import MediaLinks, reply_to_client
from bot.core.codec import reply_from_json, reply_to_json
from bot.core.messages import (
    MAX_NAME,
    MAX_USER_ID,
    BadInput,
    ChannelCaps,
    Incoming,
    Location,
    Media,
    Reply,
    check_key,
)
from bot.core.network import Networks
from bot.core.outbound import Recipient
from bot.store.media import sniff_image
from bot.store.models import RestMessage
from bot.store.repo import get_chat_user

log = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_PAYLOAD = 200
MAX_FETCH = 100
MAX_CURSOR = 2**31 - 1  # rest_messages.id is a 32-bit integer on PostgreSQL
CURSOR = re.compile(r"[0-9]{1,10}")
CONTENTS = ("text", "button", "location", "photo")


class BadRequest(ValueError):
    """A request we refuse with 400 and this plain-words message."""


class RestSettings(ChannelSettings):
    """CSKH_REST_TOKEN: the bearer token integrations send (unset: REST is off)."""

    model_config = SettingsConfigDict(env_prefix="CSKH_REST_")
    channel_name = "rest"
    compat_prefix = "rest_"

    token: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())


class RestChannel(Channel):
    """JSON over HTTP, for integrations, tests and the web site's back end."""

    name = "rest"
    # The client draws what it gets: every button, any length, media as signed links.
    caps = ChannelCaps()

    def __init__(self, parts: ChannelParts, config: RestSettings) -> None:
        assert config.token is not None, "RestSettings.enabled is checked first"
        settings = parts.settings
        self.engine = parts.engine
        self.db = parts.db
        self._token = config.token.get_secret_value().encode()
        self.links: MediaLinks = parts.links
        self.max_upload_bytes = settings.max_upload_mb * 1024 * 1024
        # An integration calling for many customers sends each one's address in
        # X-Forwarded-For from a trusted proxy; any other caller is one client.
        self.trusted_proxies: Networks = settings.trusted_proxies
        self.quota = parts.quota  # what a user may make us keep (bot/store/media_quota.py)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post("/api/chat", self._authorised(self.chat)),
            web.get("/api/messages", self._authorised(self.messages)),
        ]

    def _authorised(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            # A header is Latin-1 or UTF-8 bytes to HTTP; whatever the bytes, a wrong
            # token is a 401, never a 500 (issue 12, point 9).
            presented = given.encode("utf-8", "surrogateescape")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self._token):
                return web.json_response(
                    {"error": "missing or wrong bearer token"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                return await handler(request)
            except BadRequest as error:
                return web.json_response({"error": str(error)}, status=400)

        return checked

    # --- POST /api/chat ------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            incoming = self.parse_incoming(body, client_address(request, self.trusted_proxies))
        except BadInput as error:  # what Incoming itself refuses (a NUL in the user id...)
            raise BadRequest(str(error)) from None
        if incoming.photos and self.quota is not None:
            size = sum(len(photo.data or b"") for photo in incoming.photos)
            refused = await self.quota.refuses(self.name, incoming.user_id, size)
            if refused is not None:
                return web.json_response(
                    {"error": f"no more photos can be kept now ({refused} quota)"}, status=507
                )
        replies = await self.answer(incoming)
        return web.json_response({"messages": [self.render(reply) for reply in replies]})

    def parse_incoming(self, body: dict[str, Any], address: str | None = None) -> Incoming:
        user = _user_id(body.get("user"))
        present = [key for key in CONTENTS if body.get(key) is not None]
        if len(present) != 1:
            raise BadRequest("send exactly one of 'text', 'button', 'location' or 'photo'")
        kind = present[0]
        value = body[kind]
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise BadRequest(f"'name' must be a string of at most {MAX_NAME} characters")
        common: dict[str, Any] = {"display_name": name, "client_address": address}
        if kind == "text":
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise BadRequest(f"'text' must be a string of at most {MAX_TEXT} characters")
            return self.incoming(user, text=value, **common)
        if kind == "button":
            if not isinstance(value, str) or not value or len(value) > MAX_PAYLOAD:
                raise BadRequest(
                    f"'button' must be a payload string of at most {MAX_PAYLOAD} characters"
                )
            return self.incoming(user, payload=value, **common)
        if kind == "location":
            return self.incoming(user, location=_location(value), **common)
        caption = body.get("caption")
        if caption is not None and (not isinstance(caption, str) or len(caption) > MAX_TEXT):
            raise BadRequest(f"'caption' must be a string of at most {MAX_TEXT} characters")
        return self.incoming(user, photos=(self._photo(value),), text=caption, **common)

    def _photo(self, value: object) -> Media:
        if not isinstance(value, str):
            raise BadRequest("'photo' must be a base64-encoded image")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("'photo' is not valid base64") from None
        if len(data) > self.max_upload_bytes:
            limit_mb = self.max_upload_bytes // (1024 * 1024)
            raise BadRequest(f"'photo' is larger than {limit_mb} MB")
        content_type = sniff_image(data)
        if content_type is None:
            raise BadRequest("'photo' is not a JPEG, PNG, GIF or WebP image")
        extension = content_type.split("/")[1]
        return Media(content_type=content_type, filename=f"photo.{extension}", data=data)

    # --- GET /api/messages -----------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.Response:
        user_id = _user_id(request.query.get("user", ""))
        after = request.query.get("after", "0") or "0"
        # "²" is a digit to str.isdigit() and 5,000 digits no integer int() takes.
        if not CURSOR.fullmatch(after) or int(after) > MAX_CURSOR:
            raise BadRequest("'after' must be the cursor from a previous answer (digits only)")
        cursor = int(after)
        async with self.db.reading() as session:
            user = await get_chat_user(session, self.name, user_id)
            rows = []
            if user is not None:
                rows = list(
                    await session.scalars(
                        select(RestMessage)
                        .where(RestMessage.chat_user_id == user.id, RestMessage.id > cursor)
                        .order_by(RestMessage.id)
                        .limit(MAX_FETCH)
                    )
                )
        if rows:
            cursor = rows[-1].id
        messages = [self.render(reply_from_json(row.message)) for row in rows]
        return web.json_response({"messages": messages, "cursor": str(cursor)})

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        """Keep the push until the integration fetches it with GET /api/messages."""
        async with self.db.transaction() as session:
            for reply in replies:
                session.add(
                    RestMessage(chat_user_id=recipient.chat_user_id, message=reply_to_json(reply))
                )
        return None

    def render(self, reply: Reply) -> dict[str, Any]:
        """A reply in the documented answer shape, with fresh signed media links."""
        return reply_to_client(reply, self.links)


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def parse_json(raw: bytes | str) -> Any:
    """JSON from a client, or BadRequest: not UTF-8, not JSON, or nested too deep for
    the parser (a RecursionError would otherwise end in a 500)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("the request body must be a JSON object") from None


def _user_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_USER_ID:
        raise BadRequest(f"'user' must be a non-empty string of at most {MAX_USER_ID} characters")
    try:
        return check_key(value, "'user'", MAX_USER_ID)
    except BadInput:
        raise BadRequest("'user' must not hold control characters or invalid ones") from None


def _location(value: object) -> Location:
    if not isinstance(value, dict):
        raise BadRequest('\'location\' must be an object like {"lat": 16.06, "lon": 108.22}')
    lat, lon = value.get("lat"), value.get("lon")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        raise BadRequest("'location' needs numeric 'lat' and 'lon'")
    try:
        return Location(lat, lon)  # type: ignore[arg-type]
    except BadInput as error:
        raise BadRequest(f"'location': {error}") from None
