"""Telegram updates -> `Incoming`: a pressed button, text, the largest size of a photo,
a document typed by its bytes, a location, a shared contact, or what we cannot take
(a sticker, a file past the size limit or the media quotas)."""

from __future__ import annotations

import io
import logging
from typing import Any

from aiogram.types import CallbackQuery, Message, Update

from bot.channels.base import Channel
from bot.channels.telegram.sending import TelegramSender
from bot.core.messages import Contact, Incoming, Location, Media
from bot.core.phones import NotAPhone, parse_contact
from bot.store.media import is_refused_upload, sniff_media
from bot.store.media_quota import MediaQuota

log = logging.getLogger(__name__)

UNSUPPORTED = ("sticker", "voice", "video", "video_note", "animation", "audio", "poll", "dice")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")  # a document of these is a photo


class UpdateReader:
    """Reads the updates of one bot's private chats, downloading what they carry."""

    def __init__(
        self,
        channel: Channel,
        sender: TelegramSender,
        quota: MediaQuota | None,
        max_upload_bytes: int,
    ) -> None:
        self.channel = channel
        self.sender = sender  # its Bot API calls keep Telegram's rules for downloads too
        self.quota = quota  # what a chat may make us keep (bot/store/media_quota.py)
        self.max_upload_bytes = max_upload_bytes

    def pressed(self, update_id: int, query: CallbackQuery, chat_id: int) -> Incoming:
        return self.channel.incoming(
            str(chat_id),
            payload=query.data,
            update_id=str(update_id),
            display_name=query.from_user.full_name,
            language_hint=query.from_user.language_code,
        )

    async def incoming(
        self, message: Message, update_id: str, photos: tuple[Media | str, ...] = ()
    ) -> Incoming | None:
        sender = message.from_user
        common: dict[str, Any] = {
            "update_id": update_id,
            "message_ref": str(message.message_id),
            "reply_to_ref": str(message.reply_to_message.message_id)
            if message.reply_to_message
            else None,
            "display_name": sender.full_name if sender else None,
            "language_hint": sender.language_code if sender else None,
        }
        chat = str(message.chat.id)
        text = message.text or message.caption
        if photos or message.photo:
            downloaded = photos or (await self.download_photo(message),)
            refused = [photo for photo in downloaded if isinstance(photo, str)]
            if refused:
                return self.channel.incoming(chat, unsupported=refused[0], **common)
            kept = tuple(photo for photo in downloaded if isinstance(photo, Media))
            return self.channel.incoming(chat, text=text, photos=kept, **common)
        if message.document is not None:
            document = await self._download_document(message)
            if isinstance(document, str):
                return self.channel.incoming(chat, unsupported=document, **common)
            if document.content_type in PHOTO_TYPES:
                return self.channel.incoming(chat, text=text, photos=(document,), **common)
            return self.channel.incoming(chat, text=text, documents=(document,), **common)
        if message.location is not None:
            location = Location(message.location.latitude, message.location.longitude)
            return self.channel.incoming(chat, location=location, **common)
        if message.contact is not None:
            contact = message.contact
            # Only the sender's own contact proves the phone is theirs.
            verified = sender is not None and contact.user_id == sender.id
            return self.channel.incoming(
                chat,
                contact=Contact(contact_e164(contact.phone_number), verified, contact.first_name),
                **common,
            )
        if text is not None:
            return self.channel.incoming(chat, text=text, **common)
        for kind in UNSUPPORTED:
            if getattr(message, kind, None) is not None:
                return self.channel.incoming(chat, unsupported=kind, **common)
        return None  # service messages (pinned, joined...): nothing to answer

    async def download_photo(self, message: Message) -> Media | str:
        """The largest size of the photo, or why we do not take it ("too_large", "quota")."""
        largest = max(message.photo or [], key=lambda size: size.width * size.height)
        refused = await self._refused_size(message, largest.file_size)
        if refused is not None:
            return refused
        data = await self._download(largest.file_id)
        return Media("image/jpeg", f"{largest.file_unique_id}.jpg", data=data)

    async def _download_document(self, message: Message) -> Media | str:
        """The file, typed by its bytes (mime_type is only the sender's claim); or why we
        do not take it: "too_large", or "unsafe_file" for SVG and HTML (issue 12)."""
        document = message.document
        assert document is not None
        refused = await self._refused_size(message, document.file_size)
        if refused is not None:
            return refused
        data = await self._download(document.file_id)
        if is_refused_upload(data, document.mime_type, document.file_name):
            log.warning("telegram message %s: SVG or HTML file refused", message.message_id)
            return "unsafe_file"
        filename = document.file_name or f"{document.file_unique_id}.bin"
        return Media(sniff_media(data), filename, data=data)

    async def _refused_size(self, message: Message, size: int | None) -> str | None:
        """ "too_large" past the upload limit, "quota" past what this chat or everybody may
        make us keep (issue 12); None when the file may come."""
        if (size or 0) > self.max_upload_bytes:
            return "too_large"
        if self.quota is None:
            return None
        refused = await self.quota.refuses(self.channel.name, str(message.chat.id), size or 0)
        return "quota" if refused is not None else None

    async def _download(self, file_id: str) -> bytes:
        bot = self.sender.bot
        buffer = await self.sender.call(lambda: bot.download(file_id, destination=io.BytesIO()))
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue()


def chat_of(update: Update) -> int | None:
    """The chat an update comes from (updates of one chat are handled in order)."""
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat.id
    return None


def contact_e164(phone: str) -> str:
    """Telegram sends a contact's number without "+" ("84905123456"), and one from the
    phone book as its owner wrote it ("0236 3822 123"): a Vietnamese number, mobile or
    landline, is kept in E.164 (login then takes only a mobile), any other gets its "+"."""
    try:
        return parse_contact(phone)
    except NotAPhone:
        return phone if phone.startswith("+") else f"+{phone}"
