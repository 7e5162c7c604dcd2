"""Moving a service request along its lifecycle and telling the customer.

The one path for every status change (the `cskh requests` command now, the staff
console later): the change is stored with its history in one transaction, then the
customer gets a push in their language on whatever channel they use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.core.clock import Clock
from bot.core.messages import Button, Reply
from bot.core.push import Pusher, PushError
from bot.core.texts import Texts
from bot.dialogs.forms import FormSpec
from bot.store import requests as store
from bot.store.db import Database
from bot.store.models import ChatUser, ServiceRequest

log = logging.getLogger(__name__)


async def change_status(
    db: Database,
    pusher: Pusher,
    texts: Texts,
    forms: Mapping[str, FormSpec],
    clock: Clock,
    code: str,
    status: str,
    *,
    note: str | None,
    actor: str,
) -> tuple[ServiceRequest, bool]:
    """Set the status; returns the request and whether the customer was told.

    Raises:
        store.RequestError: unknown request or status, or a missing note.
    """
    async with db.transaction() as session:
        request = await store.set_status(
            session, code, status, note=note, actor=actor, now=clock.now()
        )
        user = await session.get(ChatUser, request.chat_user_id) if request.chat_user_id else None
        lang = user.language if user else "vi"
    if user is None:
        return request, False
    form = forms.get(request.type)
    title = (form.title.get(lang) or form.title["vi"]) if form else request.type
    status_name = texts.get(f"status.{status}", lang)
    buttons: tuple[tuple[Button, ...], ...] = (
        (Button(texts.get("services.progress", lang), payload=f"req:{request.code}"),),
    )
    if status == "needs_info":
        text = texts.get(
            "requests.needs_info", lang, code=request.code, title=title, note=note or ""
        )
        buttons = (
            (Button(texts.get("requests.send_info", lang), payload=f"req_info:{request.code}"),),
            *buttons,
        )
    elif status == "rejected":
        text = texts.get("requests.rejected", lang, code=request.code, title=title, note=note)
    elif note:
        text = texts.get(
            "requests.changed_note",
            lang,
            code=request.code,
            title=title,
            status=status_name,
            note=note,
        )
    else:
        text = texts.get(
            "requests.changed", lang, code=request.code, title=title, status=status_name
        )
    try:
        told = await pusher.push(user.id, [Reply(text=text, buttons=buttons)], author=actor)
    except PushError:
        log.warning(
            "status of %s changed; customer not told (channel %s not running here)",
            request.code,
            user.channel,
        )
        told = False
    return request, told
