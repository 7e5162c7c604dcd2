"""Telegram Update JSON as the Bot API sends it (webhook body / getUpdates items)."""

from __future__ import annotations

import itertools
import time
from typing import Any

_message_ids = itertools.count(1)


def _user(user_id: int, language: str = "vi") -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Lan",
        "last_name": "Nguyễn",
        "username": f"user{user_id}",
        "language_code": language,
    }


def message(
    update_id: int, chat_id: int, *, language: str = "vi", **content: Any
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": next(_message_ids),
            "from": _user(chat_id, language),
            "chat": {
                "id": chat_id,
                "first_name": "Lan",
                "last_name": "Nguyễn",
                "username": f"user{chat_id}",
                "type": "private",
            },
            "date": int(time.time()),
            **content,
        },
    }


def text(update_id: int, chat_id: int, body: str, **extra: Any) -> dict[str, Any]:
    entities = (
        [{"offset": 0, "length": len(body.split()[0]), "type": "bot_command"}]
        if body.startswith("/")
        else None
    )
    content: dict[str, Any] = {"text": body}
    if entities:
        content["entities"] = entities
    return message(update_id, chat_id, **content, **extra)


def callback(update_id: int, chat_id: int, data: str, message_id: int = 999) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cb{update_id}",
            "from": _user(chat_id),
            "message": {
                "message_id": message_id,
                "from": {
                    "id": 4242,
                    "is_bot": True,
                    "first_name": "CSKH",
                    "username": "cskh_test_bot",
                },
                "chat": {"id": chat_id, "first_name": "Lan", "type": "private"},
                "date": int(time.time()),
                "text": "Quý khách chọn mục cần hỗ trợ:",
            },
            "chat_instance": "-4200000000000000000",
            "data": data,
        },
    }


def photo(
    update_id: int,
    chat_id: int,
    file_id: str,
    *,
    caption: str | None = None,
    media_group_id: str | None = None,
) -> dict[str, Any]:
    sizes = [
        {
            "file_id": f"{file_id}_s",
            "file_unique_id": f"{file_id}s",
            "file_size": 1200,
            "width": 90,
            "height": 67,
        },
        {
            "file_id": file_id,
            "file_unique_id": f"{file_id}u",
            "file_size": 52000,
            "width": 1280,
            "height": 960,
        },
        {
            "file_id": f"{file_id}_m",
            "file_unique_id": f"{file_id}m",
            "file_size": 14000,
            "width": 320,
            "height": 240,
        },
    ]
    content: dict[str, Any] = {"photo": sizes}
    if caption:
        content["caption"] = caption
    if media_group_id:
        content["media_group_id"] = media_group_id
    return message(update_id, chat_id, **content)


def contact(
    update_id: int, chat_id: int, phone: str, contact_user_id: int | None
) -> dict[str, Any]:
    card: dict[str, Any] = {"phone_number": phone, "first_name": "Lan"}
    if contact_user_id is not None:
        card["user_id"] = contact_user_id
    return message(update_id, chat_id, contact=card)


def location(update_id: int, chat_id: int, lat: float, lon: float) -> dict[str, Any]:
    return message(update_id, chat_id, location={"latitude": lat, "longitude": lon})


def sticker(update_id: int, chat_id: int) -> dict[str, Any]:
    return message(
        update_id,
        chat_id,
        sticker={
            "file_id": "CAACAgIAAxkBAAEB",
            "file_unique_id": "AgADtwADVp29Cg",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        },
    )


def document(
    update_id: int, chat_id: int, file_id: str, name: str, mime: str, size: int = 2048
) -> dict[str, Any]:
    return message(
        update_id,
        chat_id,
        document={
            "file_id": file_id,
            "file_unique_id": f"{file_id}u",
            "file_name": name,
            "mime_type": mime,
            "file_size": size,
        },
    )


def edited(update_id: int, chat_id: int, body: str) -> dict[str, Any]:
    update = text(update_id, chat_id, body)
    edited_message = update.pop("message")
    edited_message["edit_date"] = int(time.time())
    update["edited_message"] = edited_message
    return update
