"""Signed, expiring links to stored media, and replies as JSON for web clients.

A link is /media/<random id>?e=<expiry>&s=<HMAC-SHA256(secret, id|expiry)>: the id
is unguessable (invoices and charts carry personal data), and a leaked link stops
working after CSKH_MEDIA_LINK_TTL seconds. Replies kept for later (REST pushes) store
media by id and get fresh links when they are read.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import unicodedata
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.core.codec import button_to_json, request_to_json
from bot.core.messages import Media, Reply
from bot.store.db import Database
from bot.store.media import load_media, sniff_media

MEDIA_PATH = "/media/{media_id}"
# On every media response: nothing in a file runs or loads anything, even if a browser
# shows it (issue 12, point 3); the browser never guesses another type; no copies kept.
SAFE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


class MediaLinks:
    """Makes and checks signed media links."""

    def __init__(self, secret: bytes, public_url: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._ttl = ttl_seconds

    @property
    def secret(self) -> bytes:
        return self._secret

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
                raise web.HTTPForbidden(
                    text="This link is invalid or has expired.", headers=SAFE_HEADERS
                )
            async with db.reading() as session:
                media = await load_media(session, media_id)
            if media is None:
                raise web.HTTPNotFound(text="No such file.", headers=SAFE_HEADERS)
            # The bytes decide, not the stored type: rows from before issue 12 hold what
            # the sender claimed (an SVG that ran its script on our origin).
            content_type = sniff_media(media.data)
            disposition = "inline" if content_type.startswith("image/") else "attachment"
            return web.Response(
                body=media.data,
                content_type=content_type,
                headers={
                    **SAFE_HEADERS,
                    "Content-Disposition": content_disposition(disposition, media.filename),
                },
            )

        return web.get(MEDIA_PATH, serve)


def content_disposition(disposition: str, filename: str) -> str:
    """`disposition` with the file's name as RFC 6266 gives it: UTF-8 percent-encoded,
    after an ASCII fallback for old clients ("Hóa đơn.pdf" → "Hoa don.pdf")."""
    # No control or format characters (a right-to-left override can disguise ".exe").
    name = unicodedata.normalize("NFC", filename)
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C") or "file"
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    fallback = "".join(c for c in ascii_name if c.isascii() and c not in '"\\') or "file"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def reply_to_client(reply: Reply, links: MediaLinks) -> dict[str, Any]:
    """The JSON a web client gets: text, button rows, requests, media as signed links."""
    return {
        "text": reply.text,
        "buttons": [[button_to_json(button) for button in row] for row in reply.buttons],
        "requests": [request_to_json(request) for request in reply.requests],
        "image": _media_url(reply.image, links),
        "document": (
            {"url": _media_url(reply.document, links), "filename": reply.document.filename}
            if reply.document
            else None
        ),
    }


def _media_url(media: Media | None, links: MediaLinks) -> str | None:
    if media is None:
        return None
    if media.media_id is not None:
        return links.url_for(media.media_id)
    return media.url
