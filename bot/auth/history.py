"""Which past messages a chat may be shown again (a web page that reconnects).

A chat's transcript holds bills, addresses and names. On a shared computer they must
not come back to whoever opens the page next: nothing while the PIN is due, nothing
from before a log-out (issue 12). The rules are the account's; a channel only asks and
draws the answer on its page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.accounts import pin_needed
from bot.store.models import TranscriptMessage
from bot.store.repo import get_chat_user, recent_transcript


async def visible_history(
    session: AsyncSession, channel: str, chat_id: str, *, now: datetime, limit: int
) -> list[TranscriptMessage]:
    """Of the chat's last `limit` messages, oldest first, those it may see again: none
    for a chat we do not know or one whose PIN is due, and none from before its last
    log-out."""
    user = await get_chat_user(session, channel, chat_id)
    if user is None or pin_needed(user, now):
        return []
    return [
        message
        for message in await recent_transcript(session, user.id, limit)
        if user.history_from is None or message.created_at >= user.history_from
    ]
