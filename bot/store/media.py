"""Photos and documents: a `media` row per file (who it belongs to, type, name, size),
the bytes in a directory (CSKH_MEDIA_DIR, default var/media) under random names.

A file written in a transaction that rolls back is removed again, and a file whose row
is deleted goes once the deletion is committed (bot/store/db.py runs both). Without a
media directory (tools that open the database alone) the bytes stay in the row, and
rows from before the directory existed are still read from the database.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Media

# Magic numbers of the image types customers send from phones and browsers.
_IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
PDF = "application/pdf"
OCTET_STREAM = "application/octet-stream"


def sniff_image(data: bytes) -> str | None:
    """The image type of `data` by its first bytes, or None when it is no image we take."""
    for signature, content_type in _IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_media(data: bytes) -> str:
    """The type `data` is stored and served as, decided by its bytes alone: JPEG, PNG,
    WebP or GIF, a PDF, or else application/octet-stream (a download). What the sender
    claimed never counts: an SVG claimed as image/svg+xml ran its script on our origin
    (issue 12, point 3)."""
    if (image := sniff_image(data)) is not None:
        return image
    return PDF if data.startswith(b"%PDF-") else OCTET_STREAM


# Markup a browser would run scripts in: a file that begins with one of WHATWG MIME
# Sniffing's "HTML" patterns (section 7.1), or begins like XML and mentions svg, html or
# script anywhere, so a prolog, a doctype or a comment in front of `<svg` hides nothing.
_HTML_START = re.compile(
    r"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)"
    r"[\s/>]|<!--"
)
_MARKUP_MARKERS = ("<svg", "<html", "<script", "w3.org/2000/svg", "w3.org/1999/xhtml")
_MARKUP_TYPES = frozenset({"image/svg+xml", "text/html", "application/xhtml+xml"})
_MARKUP_SUFFIXES = (".svg", ".svgz", ".htm", ".html", ".xhtml", ".xht", ".shtml")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_WHITESPACE = " \t\n\r\f\x00"


def is_markup(data: bytes) -> bool:
    """Whether `data` is SVG or (X)HTML, whatever it claims to be."""
    head = _as_text(data[:1024]).lstrip(_WHITESPACE)
    if head and not head.startswith("<"):
        return False  # most files: a look at the head is enough
    text = _as_text(data).lstrip(_WHITESPACE).lower()
    return bool(_HTML_START.match(text)) or any(marker in text for marker in _MARKUP_MARKERS)


def is_refused_upload(data: bytes, claimed_type: str | None, filename: str | None) -> bool:
    """Whether a customer's file is SVG or HTML, which we refuse outright: by its bytes,
    by the type its sender claimed, or by its name."""
    claimed = (claimed_type or "").split(";")[0].strip().lower()
    name = (filename or "").strip().rstrip(". ").lower()  # Windows drops trailing dots
    return claimed in _MARKUP_TYPES or name.endswith(_MARKUP_SUFFIXES) or is_markup(data)


def _as_text(data: bytes) -> str:
    """`data` as text to look for markup in, decoded by its byte order mark as a browser
    would; without one, byte for byte (the tags are ASCII)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    return data.decode("latin-1")


def new_media_id() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits: unguessable


# Keys of AsyncSession.info (bot/store/db.py sets the first and acts on the others).
FILES = "media_files"
WRITTEN = "media_written"
REMOVED = "media_removed"


class MediaFiles:
    """The media directory: `<root>/<first two characters of the id>/<id>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, media_id: str) -> Path:
        if not media_id or "/" in media_id or media_id.startswith("."):
            raise ValueError(f"not a media id: {media_id!r}")
        return self.root / media_id[:2] / media_id

    def write(self, media_id: str, data: bytes) -> None:
        """Write atomically (a reader never sees half a file), readable by us only."""
        target = self.path(media_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def read(self, media_id: str) -> bytes | None:
        try:
            return self.path(media_id).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, media_ids: list[str]) -> None:
        for media_id in media_ids:
            self.path(media_id).unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredMedia:
    id: str
    chat_user_id: int | None
    content_type: str
    filename: str
    data: bytes


class FileToKeep(Protocol):
    """A file with its bytes and the name its sender gave it (e.g. a message's Media)."""

    @property
    def data(self) -> bytes | None: ...

    @property
    def filename(self) -> str: ...


async def save_media(session: AsyncSession, media: FileToKeep, chat_user_id: int | None) -> str:
    """Store `media` (which must carry bytes) and return its id."""
    if media.data is None:
        raise ValueError("only media with bytes can be stored")
    files: MediaFiles | None = session.info.get(FILES)
    row = Media(
        id=new_media_id(),
        chat_user_id=chat_user_id,
        content_type=sniff_media(media.data),  # never the sender's claim
        filename=media.filename,
        size=len(media.data),
        data=None if files else media.data,
    )
    if files is not None:
        files.write(row.id, media.data)
        session.info.setdefault(WRITTEN, []).append(row.id)
    session.add(row)
    return row.id


async def load_media(session: AsyncSession, media_id: str) -> StoredMedia | None:
    """The file and what we know of it, or None when there is none (any more)."""
    row = await session.get(Media, media_id)
    if row is None:
        return None
    data = row.data
    files: MediaFiles | None = session.info.get(FILES)
    if data is None and files is not None:
        data = files.read(row.id)
    if data is None:
        return None
    return StoredMedia(row.id, row.chat_user_id, row.content_type, row.filename, data)


async def delete_media(session: AsyncSession, *where: ColumnElement[Any]) -> int:
    """Delete the media rows matching `where`; their files go after the commit."""
    ids = list(await session.scalars(select(Media.id).where(*where)))
    if ids:
        await session.execute(delete(Media).where(Media.id.in_(ids)))
        session.info.setdefault(REMOVED, []).extend(ids)
    return len(ids)
