"""Moving a service request along its lifecycle and telling the customer.

The one path for every status change (the `cskh requests` command and the staff
console): the change, its history and the customer's notice (an outbox row, in
their language) are stored in one transaction; then the notice is sent at once on
whatever channel the customer uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.messages import Button, Reply
from bot.core.outbound import Push, PushError
from bot.core.texts import Texts
from bot.dialogs.forms import FormSpec
from bot.store import requests as store
from bot.store.db import Database
from bot.store.models import ChatUser, ServiceRequest

log = logging.getLogger(__name__)


async def change_status(
    db: Database,
    pusher: Push,
    texts: Texts,
    forms: Mapping[str, FormSpec],
    clock: Clock,
    code: str,
    status: str,
    *,
    note: str | None,
    actor: str,
    also: Callable[[AsyncSession, ServiceRequest], None] | None = None,
) -> tuple[ServiceRequest, bool]:
    """Set the status; returns the request and whether the customer was told. `also`
    adds what the caller keeps with the change to the same transaction (the console's
    audit record), so both are kept or neither.

    Raises:
        store.RequestError: unknown request or status, or a missing note.
    """
    await pusher.ready()
    async with db.transaction() as session:
        request, delivery = await _record_change(
            session, pusher, texts, forms, code, status, note=note, actor=actor, now=clock.now()
        )
        if also is not None:
            also(session, request)
    told = await pusher.send_now([delivery]) if delivery is not None else False
    return request, told


async def _record_change(
    session: AsyncSession,
    pusher: Push,
    texts: Texts,
    forms: Mapping[str, FormSpec],
    code: str,
    status: str,
    *,
    note: str | None,
    actor: str,
    now: datetime,
) -> tuple[ServiceRequest, int | None]:
    """The change, its history and the customer's notice in the caller's transaction;
    the notice's delivery (to send once committed), None when the customer cannot be
    told."""
    request = await store.set_status(session, code, status, note=note, actor=actor, now=now)
    user = await session.get(ChatUser, request.chat_user_id) if request.chat_user_id else None
    if user is None:
        return request, None
    notice = _notice(texts, forms, request, status, note, user.language)
    try:
        return request, await pusher.enqueue(session, user.id, [notice], author=actor, claim=True)
    except PushError:  # the customer's channel is not configured here
        log.warning(
            "status of %s changed; customer not told (channel %s is off)",
            request.code,
            user.channel,
        )
        return request, None


def _notice(
    texts: Texts,
    forms: Mapping[str, FormSpec],
    request: ServiceRequest,
    status: str,
    note: str | None,
    lang: str,
) -> Reply:
    """What the customer reads about the change, with the way to the request."""
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
    return Reply(text=text, buttons=buttons)
