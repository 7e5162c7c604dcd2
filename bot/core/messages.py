"""The engine's own message types: what a channel hands in and what it gets back.

Nothing here knows a platform. A channel adapter turns a platform update into an
`Incoming` and a `Reply` into platform calls.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese typed on different keyboards compares equal."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Media:
    """An image or a document: bytes we hold, or a URL somebody else serves."""

    content_type: str
    filename: str
    data: bytes | None = None
    url: str | None = None
    media_id: str | None = None  # once stored in the media table

    def __post_init__(self) -> None:
        if self.data is None and self.url is None and self.media_id is None:
            raise ValueError("Media needs data, a url or a stored media id")


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError("latitude must be within ±90 and longitude within ±180")


@dataclass(frozen=True)
class Contact:
    """A phone number shared by the user; `verified` only when the platform vouches
    that it is the sender's own (Telegram: contact.user_id equals the sender)."""

    phone: str
    verified: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One update from a customer, whatever channel it came through."""

    channel: str
    user_id: str  # the platform's id of the chat/user, unique within the channel
    text: str | None = None
    payload: str | None = None  # a pressed button
    photos: tuple[Media, ...] = ()
    documents: tuple[Media, ...] = ()
    location: Location | None = None
    contact: Contact | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    display_name: str | None = None
    language_hint: str | None = None  # the platform's idea of the user's language
    message_ref: str | None = None  # the platform's id of this message
    reply_to_ref: str | None = None  # the platform's id of the message it answers
    update_id: str | None = None  # the platform's delivery id: handled at most once
    unsupported: str | None = None  # content we cannot take yet ("sticker", "voice"...)

    def __post_init__(self) -> None:
        if self.text is not None:
            object.__setattr__(self, "text", nfc(self.text))

    @property
    def is_empty(self) -> bool:
        return not (
            (self.text and self.text.strip())
            or self.payload
            or self.photos
            or self.documents
            or self.location
            or self.contact
        )


# Telegram carries at most 64 bytes of callback data; every channel keeps to it.
MAX_PAYLOAD_BYTES = 64


@dataclass(frozen=True)
class Button:
    """A button under a message: it sends `payload` back, or opens `url`.

    Payloads are short keys ("lang:en"), never data: at most 64 bytes of UTF-8.
    """

    title: str
    payload: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.url is None):
            raise ValueError("a button carries exactly one of payload or url")
        if self.payload is not None and len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload longer than {MAX_PAYLOAD_BYTES} bytes")


class KeyboardRequest(StrEnum):
    """What a reply-keyboard button asks the platform for."""

    CONTACT = "contact"
    LOCATION = "location"


@dataclass(frozen=True)
class RequestButton:
    """A button that asks the platform for the user's contact or location (Telegram's
    request_contact / request_location; the web chat's geolocation). Channels without
    one fall back to asking the user to type it."""

    kind: KeyboardRequest
    title: str


@dataclass(frozen=True)
class Reply:
    """One message from the bot."""

    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    requests: tuple[RequestButton, ...] = ()
    image: Media | None = None
    document: Media | None = None

    @property
    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


def rows(*buttons: Button, per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row (two fit a phone screen)."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
