"""The Reply codec: a `Reply` as JSON and back, for what we keep (the outbox, REST's
pending messages, pushes between processes) and for the transcript's buttons.

Media are kept by id (or URL), never as bytes: links are signed when a reply is shown.
"""

from __future__ import annotations

from typing import Any

from bot.core.messages import Button, KeyboardRequest, Media, Reply, RequestButton


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """A reply to keep in the database: media by id, so links are signed when read."""
    return {
        "text": reply.text,
        "buttons": [[button_to_json(button) for button in row] for row in reply.buttons],
        "requests": [request_to_json(request) for request in reply.requests],
        "image": _media_to_json(reply.image),
        "document": _media_to_json(reply.document),
    }


def reply_from_json(data: dict[str, Any]) -> Reply:
    return Reply(
        text=data.get("text", ""),
        buttons=tuple(
            tuple(Button(b["title"], payload=b.get("payload"), url=b.get("url")) for b in row)
            for row in data.get("buttons", [])
        ),
        requests=tuple(
            RequestButton(KeyboardRequest(r["type"]), r["title"]) for r in data.get("requests", [])
        ),
        image=_media_from_json(data.get("image")),
        document=_media_from_json(data.get("document")),
    )


def request_to_json(request: RequestButton) -> dict[str, str]:
    return {"type": str(request.kind), "title": request.title}


def button_to_json(button: Button) -> dict[str, str]:
    if button.url is not None:
        return {"title": button.title, "url": button.url}
    return {"title": button.title, "payload": button.payload or ""}


def _media_to_json(media: Media | None) -> dict[str, Any] | None:
    if media is None:
        return None
    return {
        "media_id": media.media_id,
        "url": media.url,
        "filename": media.filename,
        "content_type": media.content_type,
    }


def _media_from_json(data: dict[str, Any] | None) -> Media | None:
    if not data:
        return None
    return Media(
        content_type=data["content_type"],
        filename=data["filename"],
        url=data.get("url"),
        media_id=data.get("media_id"),
    )
