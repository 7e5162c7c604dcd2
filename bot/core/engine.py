"""The conversation engine: one `Incoming` in, the replies out.

For each update: take the conversation's lock, load (or create) the chat user and
the conversation, pick one handler (router.py), run it, then save the state and
the transcript in the same transaction. A handler that fails rolls back whatever it
did; the customer gets an apology, the log gets the conversation id, and the
conversation stays where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from bot.core.context import Context, Replies, Services
from bot.core.live import conversation_changed
from bot.core.locks import KeyedLocks, advisory_key
from bot.core.messages import Button, ChannelCaps, Incoming, Reply, numbered_options
from bot.core.router import Router
from bot.core.state import ConversationState
from bot.core.transcript import record_incoming, record_replies, store_reply_media
from bot.store import repo
from bot.store.db import Database
from bot.store.models import Conversation, utcnow
from nlu.normalize import fold

log = logging.getLogger(__name__)

MODE_STAFF = "staff"
PREVIEW_CHARS = 200  # the console's list shows this much of the last message


class Engine:
    """Runs every update of every channel; channels call `handle` and send the result."""

    def __init__(
        self,
        db: Database,
        router: Router,
        services: Services,
    ) -> None:
        self.db = db
        self.router = router
        self.services = services
        self._locks = KeyedLocks()

    async def handle(self, incoming: Incoming) -> list[Reply]:
        key = f"{incoming.channel}:{incoming.user_id}"
        if incoming.text and not incoming.text.startswith("/"):
            # Typed words right after a first start wait for the language model (no
            # lock or transaction held meanwhile): understood from the first message.
            await self.services.understanding.wait_ready()
        async with self._locks.hold(key):
            try:
                async with self.db.transaction() as session:
                    return await self._handle_in(session, key, incoming)
            except Exception:
                if not await self.db.ping():
                    # The database is down (ping says so once, not once per message):
                    # nothing can be kept, so apologise without a traceback each time.
                    log.debug("update of %s not handled: database unreachable", key)
                    return [self._apology(self._initial_language(incoming))]
                log.exception("update failed for conversation %s; state kept", key)
                return await self._apologise(incoming)

    async def _handle_in(self, session: AsyncSession, key: str, incoming: Incoming) -> list[Reply]:
        if self.db.is_postgres:
            # Serialises this conversation across processes for this transaction.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(key)}
            )
        if incoming.update_id is not None and not await repo.claim_update(
            session, incoming.channel, incoming.update_id
        ):
            log.info("update %s of %s handled before; skipped", incoming.update_id, key)
            return []
        user = await repo.get_or_create_chat_user(
            session,
            incoming.channel,
            incoming.user_id,
            language=self._initial_language(incoming),
            display_name=incoming.display_name,
        )
        conversation = await repo.get_or_create_conversation(session, user)
        state = ConversationState(conversation.state)
        secret = self.router.expects_secret(state)
        recorded = await record_incoming(session, conversation, incoming, redact=secret)
        now = utcnow()
        user.last_seen_at = now
        user.reachable = True  # whoever writes can be written to (they unblocked us)
        conversation.last_activity_at = now
        _preview(conversation, recorded.text, recorded.attachments, "customer")
        self.services.live.after_commit(session, conversation_changed(conversation.id))
        ctx = Context(
            incoming=incoming,
            session=session,
            user=user,
            conversation=conversation,
            services=self.services,
            state=state,
            router=self.router,
            incoming_media=[
                a["media"] for a in recorded.attachments if a.get("type") in ("photo", "document")
            ],
        )
        staff_route = self.router.staff_route() if conversation.mode == MODE_STAFF else None
        if conversation.mode == MODE_STAFF and staff_route is None:
            return []  # a person is answering: the bot stays quiet
        if staff_route is not None:
            route = staff_route
        else:
            for hook in self.router.before_hooks:
                await hook(ctx)
            route = self.router.resolve(ctx)
        ctx.arg = route.arg
        replies = [*ctx.notices, *await route.handler(ctx)]
        replies = await store_reply_media(session, replies, user.id)
        recorded.intent = ctx.intent
        _remember_buttons(ctx.state, replies)
        _remember_options(ctx.state, replies, incoming.channel_caps)
        _save_state(conversation, ctx.state)
        record_replies(session, conversation.id, replies)
        answer = Replies(replies)
        answer.delete_incoming = secret or ctx.delete_incoming
        answer.expects_secret = self.router.expects_secret(ctx.state)
        return answer

    async def _apologise(self, incoming: Incoming) -> list[Reply]:
        """Apologise, and keep the customer's message and the apology in the transcript
        (a fresh transaction: the failed one is gone, the state is untouched)."""
        try:
            async with self.db.transaction() as session:
                user = await repo.get_or_create_chat_user(
                    session,
                    incoming.channel,
                    incoming.user_id,
                    language=self._initial_language(incoming),
                )
                replies = Replies([self._apology(user.language)])
                conversation = await repo.get_or_create_conversation(session, user)
                secret = self.router.expects_secret(ConversationState(conversation.state))
                await record_incoming(session, conversation, incoming, redact=secret)
                record_replies(session, conversation.id, replies, author="system")
                # The state is kept: the question (a secret one too) is still open.
                replies.delete_incoming = replies.expects_secret = secret
                return replies
        except Exception:
            log.exception(
                "could not record the failed update of %s:%s", incoming.channel, incoming.user_id
            )
            return [self._apology(self._initial_language(incoming))]

    def _apology(self, lang: str) -> Reply:
        texts = self.services.texts
        return Reply(
            text=texts.get("errors.internal", lang, hotline=self.services.settings.hotline),
            buttons=((Button(texts.get("menu.home", lang), payload="menu"),),),
        )

    def _initial_language(self, incoming: Incoming) -> str:
        hint = (incoming.language_hint or "").lower()[:2]
        if hint in ("vi", "en"):
            return hint
        return self.services.settings.default_language


def _remember_buttons(state: ConversationState, replies: Sequence[Reply]) -> None:
    """Keep the payloads of the buttons just shown, by folded title, so a customer who
    types "tra cuu" instead of tapping "🔎 Tra cứu" gets the same result."""
    shown = [reply for reply in replies if reply.buttons]
    if not shown:
        return
    state.shown_buttons = {
        fold(button.title): button.payload
        for reply in shown
        for button in reply.all_buttons
        if button.payload and fold(button.title)
    }


def _remember_options(
    state: ConversationState, replies: Sequence[Reply], caps: ChannelCaps
) -> None:
    """Keep the payloads of the options the channel numbers (it has fewer buttons than
    the answer: bot/channels/base.py), so a typed "2" picks the second. Every answer
    replaces them: a number means the options on screen."""
    state.numbered = [
        button.payload for button in numbered_options(replies, caps) if button.payload
    ]


def _preview(
    conversation: Conversation, text: str | None, attachments: Sequence[dict], author: str
) -> None:
    """Keep the beginning of the customer's last message on the conversation (the
    console's list shows what customers and agents said, not the bot's menus)."""
    if text:
        shown = " ".join(text.split())
    else:
        kinds = [a.get("type", "") for a in attachments]
        shown = "[" + ", ".join(k for k in kinds if k) + "]" if kinds else ""
    conversation.last_text = shown[:PREVIEW_CHARS] or None
    conversation.last_author = author


def _save_state(conversation: Conversation, state: ConversationState) -> None:
    stored = state.to_json()
    if stored != conversation.state:
        conversation.state = stored
        flag_modified(conversation, "state")
