"""Signed, expiring links to stored media (invoices and charts carry personal data).

A link is /media/<random id>?e=<expiry>&s=<HMAC-SHA256(secret, id|expiry)>: the id
is unguessable, and a leaked link stops working after CSKH_MEDIA_LINK_TTL seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

from aiohttp import web

from bot.store.db import Database
from bot.store.media import load_media

MEDIA_PATH = "/media/{media_id}"


class MediaLinks:
    """Makes and checks signed media links."""

    def __init__(self, secret: bytes, public_url: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._ttl = ttl_seconds

    def url_for(self, media_id: str, *, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self._ttl)
        signature = self._sign(media_id, expires)
        return f"{self._public_url}/media/{quote(media_id)}?e={expires}&s={signature}"

    def is_valid(
        self, media_id: str, expires: str, signature: str, *, now: float | None = None
    ) -> bool:
        if not expires.isdigit():
            return False
        if int(expires) < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._sign(media_id, int(expires)), signature)

    def _sign(self, media_id: str, expires: int) -> str:
        message = f"{media_id}|{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def handler(self, db: Database) -> web.RouteDef:
        async def serve(request: web.Request) -> web.StreamResponse:
            media_id = request.match_info["media_id"]
            if not self.is_valid(media_id, request.query.get("e", ""), request.query.get("s", "")):
                raise web.HTTPForbidden(text="This link is invalid or has expired.")
            async with db.reading() as session:
                media = await load_media(session, media_id)
            if media is None:
                raise web.HTTPNotFound(text="No such file.")
            disposition = "inline" if media.content_type.startswith("image/") else "attachment"
            return web.Response(
                body=media.data,
                content_type=media.content_type,
                headers={
                    "Content-Disposition": (
                        f"{disposition}; filename*=UTF-8''{quote(media.filename)}"
                    ),
                    "Cache-Control": "private, no-store",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return web.get(MEDIA_PATH, serve)
