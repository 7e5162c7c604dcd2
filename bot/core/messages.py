"""The engine's own message types: what a channel hands in and what it gets back.

Nothing here knows a platform. A channel adapter turns a platform update into an
`Incoming` and a `Reply` into platform calls.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese typed on different keyboards compares equal."""
    return unicodedata.normalize("NFC", text)


# A lone UTF-16 surrogate is no character: JSON can carry one ("\ud800"), but neither
# PostgreSQL nor SQLite's driver will store it. PostgreSQL refuses NUL in text too.
_UNSTORABLE = re.compile("[\ud800-\udfff]")
MAX_USER_ID = 128  # chat_users.platform_user_id
MAX_NAME = 200  # chat_users.display_name
MAX_FILENAME = 200  # media.filename
MAX_PAYLOAD_CHARS = 200  # transcript_messages.payload: what a forged payload may reach


class BadInput(ValueError):
    """An update no channel should have let through (the channel answers 4xx)."""


def clean_text(text: str) -> str:
    """Free text as we can store it on every database: NFC, NUL removed, a lone
    surrogate shown as U+FFFD (issue 12, point 9: the same on SQLite and PostgreSQL)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return nfc(_UNSTORABLE.sub("\ufffd", text))


def check_key(value: str, what: str, max_length: int) -> str:
    """An identifier (user id, button payload): refused, never repaired, when it holds a
    control character or a lone surrogate, or is empty or too long."""
    if not value or len(value) > max_length:
        raise BadInput(f"{what} must be 1 to {max_length} characters")
    if _UNSTORABLE.search(value) or any(unicodedata.category(c) == "Cc" for c in value):
        raise BadInput(f"{what} holds a control character or an invalid one")
    return value


def clean_filename(name: str) -> str:
    """A file name we can store and show: cleaned, at most 200 characters, the extension
    kept (a Telegram document may be named with 255)."""
    name = "".join(c for c in clean_text(name) if unicodedata.category(c) != "Cc").strip()
    if len(name) <= MAX_FILENAME:
        return name or "file"
    stem, dot, extension = name.rpartition(".")
    if dot and 0 < len(extension) <= 10:
        return stem[: MAX_FILENAME - len(extension) - 1] + "." + extension
    return name[:MAX_FILENAME]


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
        object.__setattr__(self, "filename", clean_filename(self.filename))


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        for value in (self.latitude, self.longitude):
            # bool is an int to Python, but `true` is no latitude.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadInput("latitude and longitude must be numbers")
        # Compared before any float(): NaN fails every comparison, and an integer of 400
        # digits is too large for a float.
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise BadInput("latitude must be within ±90 and longitude within ±180")
        object.__setattr__(self, "latitude", float(self.latitude))
        object.__setattr__(self, "longitude", float(self.longitude))


@dataclass(frozen=True)
class Contact:
    """A phone number shared by the user; `verified` only when the platform vouches
    that it is the sender's own (Telegram: contact.user_id equals the sender)."""

    phone: str
    verified: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phone", clean_text(self.phone)[:40])
        if self.name is not None:
            object.__setattr__(self, "name", clean_text(self.name)[:MAX_NAME])


@dataclass(frozen=True)
class ChannelCaps:
    """What a channel's platform can show and do (ARCHITECTURE.md, "The channel
    contract"). Handlers ask these on `Incoming.channel_caps`, never a channel's name;
    bot/channels/base.py turns a reply into what they allow.
    """

    # Buttons under one message: None for as many as a reply has, 0 for none. A reply
    # with more becomes numbered options the customer types ("1", "2"...).
    max_buttons: int | None = None
    # Characters in one message: None for no limit; a longer text is split at sentences.
    max_text: int | None = None
    # The platform can send the sender's own phone number, vouched for as theirs
    # (Telegram's contact button), so logging in may offer that button.
    verified_contact: bool = False
    # A customer can answer a message by quoting it (a reply to a notice is matched).
    quote_reply: bool = False
    # The platform shows "typing…" while a slow answer is prepared.
    typing: bool = False
    # The platform takes images and documents; without, they go as signed links.
    images: bool = True
    documents: bool = True

    def lists(self, reply: Reply) -> bool:
        """Whether this reply's buttons go into its text (more than the platform shows)."""
        return self.max_buttons is not None and len(reply.all_buttons) > self.max_buttons

    def numbers(self, reply: Reply) -> bool:
        """Whether this reply's buttons are shown as numbered options (listed, and not a
        question whose typed answer a number may be: `Reply.named_options`)."""
        return self.lists(reply) and not reply.named_options


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
    # Where the update came from on the network (web chat, REST behind a trusted proxy),
    # for limits an attacker cannot reset by changing identity; None for platforms.
    client_address: str | None = None
    # What the channel it came through can show (its buttons, its text length...).
    channel_caps: ChannelCaps = field(default_factory=ChannelCaps)

    def __post_init__(self) -> None:
        check_key(self.user_id, "the user id", MAX_USER_ID)
        if self.payload is not None:
            check_key(self.payload, "a button payload", MAX_PAYLOAD_CHARS)
        if self.text is not None:
            object.__setattr__(self, "text", clean_text(self.text))
        if self.display_name is not None:
            object.__setattr__(self, "display_name", clean_text(self.display_name)[:MAX_NAME])


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
    # The question takes a typed answer (a number, a text): a channel without (enough)
    # buttons lists these by name, never by number, so a typed "2" stays the answer;
    # the customer chooses one by typing its words ("hủy", "quay lại", "bỏ qua").
    named_options: bool = False

    @property
    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


def rows(*buttons: Button, per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row (two fit a phone screen)."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def numbered_options(replies: Sequence[Reply], caps: ChannelCaps) -> list[Button]:
    """The payload buttons the channel shows as numbered options, in the order numbered
    (from 1 across the replies): those of every reply with more buttons than `caps`
    allows. The engine keeps their payloads, so a typed "2" presses the second."""
    return [
        button
        for reply in replies
        if caps.numbers(reply)
        for button in reply.all_buttons
        if button.payload is not None
    ]


# A typed option's number: ASCII digits without a leading zero ("²" is a digit to
# str.isdigit(), and a phone number starts with 0). Only one within the options shown
# is a choice: a phone number or an SMS code stays text (issue 15, point 5).
_OPTION_NUMBER = re.compile(r"[1-9][0-9]{0,2}")


def chosen_option(text: str, options: Sequence[str]) -> str | None:
    """The option (payload) a typed number picks, or None when the text is no number
    within the options shown."""
    text = text.strip()
    if _OPTION_NUMBER.fullmatch(text) and int(text) <= len(options):
        return options[int(text) - 1]
    return None
