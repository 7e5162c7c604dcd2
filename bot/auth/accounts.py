"""Activation, linked customer codes, the app PIN, logging out and forgetting a user.

An activated chat user has an identity ("phone:+84..." or "portal:<username>") and
the customer codes proven for it. Everything personal acts only on those codes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import audit, guard
from bot.auth.guard import Requester
from bot.auth.passwords import hash_secret, verify_secret
from bot.core import metrics, phones
from bot.core.messages import Incoming
from bot.store.media import delete_media
from bot.store.models import (
    ChatUser,
    Conversation,
    CustomerLink,
    Delivery,
    InboxItem,
    Media,
    NoticeOptOut,
    OtpCode,
    PortalAccount,
    RestMessage,
    ServiceRequest,
    TranscriptMessage,
    utcnow,
)
from bot.store.requests import OPEN_STATUSES

log = logging.getLogger(__name__)

# The personal-data notice the customer accepts at activation (Decree 13/2023/NĐ-CP);
# change the version whenever its text in domain.yml changes meaning.
CONSENT_VERSION = "2026-11"
PIN_IDLE = timedelta(minutes=15)
PIN_PATTERN = re.compile(r"^\d{4,6}$")


def is_linked(user: ChatUser, code: str) -> bool:
    """Whether `code` is one of the user's proven customer codes (any other is refused,
    typed or forged in a button payload alike)."""
    return code.upper() in user.customer_codes


async def activate(
    session: AsyncSession,
    user: ChatUser,
    *,
    identity: str,
    codes: list[str],
    now: datetime,
    phone: str | None = None,
    method: str,
) -> None:
    """Activate the chat for `identity` with exactly these customer codes (links left
    from an earlier identity are replaced, never merged)."""
    user.activated_at = now
    user.identity = identity
    user.otp_required = False
    if phone:
        user.verified_phone = phone
    kept = [link for link in user.links if link.customer_code in codes]
    known = {link.customer_code for link in kept}
    user.links = kept + [CustomerLink(customer_code=c) for c in codes if c not in known]
    _settle_default(user)
    audit.record(
        session,
        "activation",
        chat_user_id=user.id,
        subject=_mask(identity),
        method=method,
        codes=len(codes),
    )


def _settle_default(user: ChatUser) -> None:
    """The default code is the customer's choice among several (lookups use it without
    asking, issue 15); the only code is the default; a default no longer linked goes."""
    codes = user.customer_codes
    if user.default_customer_code not in codes:
        user.default_customer_code = codes[0] if len(codes) == 1 else None


def link_code(session: AsyncSession, user: ChatUser, code: str) -> None:
    if not is_linked(user, code):
        user.links.append(CustomerLink(customer_code=code))
        audit.record(session, "code_linked", chat_user_id=user.id, subject=code)
    _settle_default(user)


def unlink_code(session: AsyncSession, user: ChatUser, code: str) -> None:
    user.links = [link for link in user.links if link.customer_code != code]
    _settle_default(user)
    audit.record(session, "code_unlinked", chat_user_id=user.id, subject=code)


def set_default(session: AsyncSession, user: ChatUser, code: str) -> None:
    user.default_customer_code = code
    audit.record(session, "default_code", chat_user_id=user.id, subject=code)


def _deactivate(user: ChatUser) -> None:
    user.history_from = utcnow()  # a page reloaded later starts from here
    user.activated_at = None
    user.identity = None
    user.verified_phone = None
    user.default_customer_code = None
    user.links = []
    user.pin_hash = None
    user.pin_unlocked_until = None


def logout(session: AsyncSession, user: ChatUser, *, event: str = "logout") -> None:
    """Unlink this chat from the account."""
    audit.record(session, event, chat_user_id=user.id, subject=_mask(user.identity))
    _deactivate(user)


async def logout_identity(session: AsyncSession, identity: str, *, by: int | None) -> int:
    """Unlink every chat of `identity` (after a password reset: whoever knew the old one)."""
    chats = list(
        await session.scalars(
            select(ChatUser).where(
                ChatUser.identity == identity, ChatUser.activated_at.is_not(None)
            )
        )
    )
    for chat in chats:
        _deactivate(chat)
    if chats:
        audit.record(
            session, "logout_everywhere", chat_user_id=by, subject=_mask(identity), chats=len(chats)
        )
    return len(chats)


async def logout_everywhere(session: AsyncSession, user: ChatUser) -> int:
    """Unlink every chat with the same identity; the number of chats logged out."""
    identity = user.identity
    if identity is None:
        return 0
    others = list(await session.scalars(select(ChatUser).where(ChatUser.identity == identity)))
    for other in others:
        _deactivate(other)
    audit.record(
        session,
        "logout_everywhere",
        chat_user_id=user.id,
        subject=_mask(identity),
        chats=len(others),
    )
    return len(others)


# --- the app PIN -----------------------------------------------------------------------


def own_mobile(incoming: Incoming) -> str | None:
    """The mobile number (E.164) of a contact the customer shared, when it is proven to be
    their own: the channel can vouch for a contact (`verified_contact`) and did so for
    this one. None for anyone else's contact, a typed one, or a channel that cannot tell.

    Raises:
        phones.NotAPhone: their own contact, but not a Vietnamese mobile number.
    """
    contact = incoming.contact
    if contact is None or not contact.verified or not incoming.channel_caps.verified_contact:
        return None
    return phones.parse_mobile(contact.phone)


def pin_needed(user: ChatUser, now: datetime) -> bool:
    """A PIN is set and the last unlock has lapsed (15 minutes without activity)."""
    return user.pin_hash is not None and not (
        user.pin_unlocked_until is not None and user.pin_unlocked_until > now
    )


def keep_unlocked(user: ChatUser, now: datetime) -> None:
    """Any activity while unlocked keeps the PIN unlocked for another 15 minutes."""
    if user.pin_hash is not None and user.pin_unlocked_until and user.pin_unlocked_until > now:
        user.pin_unlocked_until = now + PIN_IDLE


def set_pin_hash(session: AsyncSession, user: ChatUser, pin_hash: str, now: datetime) -> None:
    """Set the PIN (given as its argon2id hash) and count the customer as unlocked."""
    changed = user.pin_hash is not None
    user.pin_hash = pin_hash
    user.pin_unlocked_until = now + PIN_IDLE
    audit.record(session, "pin_changed" if changed else "pin_set", chat_user_id=user.id)


def remove_pin(session: AsyncSession, user: ChatUser) -> None:
    user.pin_hash = None
    user.pin_unlocked_until = None
    audit.record(session, "pin_removed", chat_user_id=user.id)


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    attempts_left: int = 0
    locked_out: bool = False  # 5 wrong PINs: the chat is logged out until a new OTP


async def check_pin(session: AsyncSession, user: ChatUser, pin: str, now: datetime) -> PinCheck:
    subject = f"pin:{user.id}"
    await guard.serialise(session, subject)
    if await verify_secret(user.pin_hash, pin):
        await guard.clear(session, subject)
        user.pin_unlocked_until = now + PIN_IDLE
        return PinCheck(True)
    audit.record(session, "pin_failed", chat_user_id=user.id)
    if await guard.record_failure(session, subject, now) is not None:
        await guard.clear(session, subject)
        logout(session, user, event="pin_lockout")
        user.otp_required = True  # a password or a shared contact will not do now
        return PinCheck(False, locked_out=True)
    return PinCheck(False, attempts_left=await guard.failures_left(session, subject))


# --- portal accounts -----------------------------------------------------------------------

# Wrong passwords (issue 12, points 5 and 6): 5 lock the chat that typed them out of that
# account, so a stranger cannot lock its owner out; one chat or one address trying many
# usernames is slowed as well, or it could spray a common password over every account;
# and 50 an hour from everywhere lock the account itself, a ceiling no one chat or address
# can reach alone, with a warning.
WRONG_LOGINS_PER_REQUESTER = guard.MAX_FAILURES
WRONG_LOGINS_PER_CHAT = 10
WRONG_LOGINS_PER_ADDRESS = 30
WRONG_LOGINS_PER_ACCOUNT = 50
LOGIN_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class LoginCheck:
    account: PortalAccount | None  # set when the password is right
    attempts_left: int = 0
    locked_until: datetime | None = None
    locked: str | None = None  # what stops this chat: "requester", "chat", "address", "account"


def _login_scopes(
    username: str, requester: Requester
) -> list[tuple[str, str, int, timedelta | None]]:
    scopes: list[tuple[str, str, int, timedelta | None]] = [
        (
            "requester",
            f"portal:{username}|chat:{requester.chat_user_id}",
            WRONG_LOGINS_PER_REQUESTER,
            None,
        ),
        ("chat", f"login-chat:{requester.chat_user_id}", WRONG_LOGINS_PER_CHAT, LOGIN_WINDOW),
        ("account", f"portal:{username}", WRONG_LOGINS_PER_ACCOUNT, LOGIN_WINDOW),
    ]
    if requester.client is not None:
        scopes.append(
            ("address", f"login-addr:{requester.client}", WRONG_LOGINS_PER_ADDRESS, LOGIN_WINDOW)
        )
    return scopes


async def check_password(
    session: AsyncSession, username: str, password: str, requester: Requester, now: datetime
) -> LoginCheck:
    """A portal login attempt, counted against this chat for the account, the chat, its
    address and the account."""
    scopes = _login_scopes(username, requester)
    await guard.serialise(session, *(subject for _, subject, _, _ in scopes))
    for scope, subject, _, _ in scopes:
        until = await guard.locked_until(session, subject, now)
        if until is not None:
            return LoginCheck(None, locked_until=until, locked=scope)
    account = await portal_account(session, username)
    # verify_secret runs a dummy check for an unknown username: same time, same answer.
    if await verify_secret(account.password_hash if account else None, password):
        await guard.clear(session, scopes[0][1])
        return LoginCheck(account)
    audit.record(
        session,
        "login_failure",
        chat_user_id=requester.chat_user_id,
        subject=f"portal:{username}",
        method="password",
    )
    earned: LoginCheck | None = None
    for scope, subject, limit, window in scopes:  # every scope counts this attempt
        until = await guard.record_failure(session, subject, now, limit=limit, window=window)
        if until is None:
            continue
        metrics.LOCKOUTS.labels(f"login_{scope}").inc()
        audit.record(
            session,
            "lockout",
            chat_user_id=requester.chat_user_id,
            subject=f"portal:{username}" if scope in ("requester", "account") else subject,
            scope=scope,
            until=until.isoformat(),
        )
        if scope == "account":
            log.warning("portal account %s locked: 50 wrong passwords in an hour", username)
        if earned is None or scope == "account":
            earned = LoginCheck(None, locked_until=until, locked=scope)
    if earned is not None:
        return earned
    left = min(
        [await guard.failures_left(session, subject, limit) for _, subject, limit, _ in scopes]
    )
    return LoginCheck(None, attempts_left=left)


async def portal_account(session: AsyncSession, username: str) -> PortalAccount | None:
    return await session.scalar(
        select(PortalAccount).where(PortalAccount.username == username.strip().lower())
    )


async def set_portal_password(
    session: AsyncSession, account: PortalAccount, password: str, now: datetime
) -> None:
    account.password_hash = await hash_secret(password)
    account.password_changed_at = now
    audit.record(session, "password_reset", subject=account.username)


# --- "Xóa dữ liệu của tôi" -----------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    messages: int
    media: int
    kept_requests: list[str]  # codes of open service requests whose files stay (with files)


async def forget(session: AsyncSession, user: ChatUser) -> Deletion:
    """Unlink the chat and delete its transcript and media, except the files an open
    service request still needs. The security audit log stays (legal retention)."""
    open_requests = list(
        await session.scalars(
            select(ServiceRequest).where(
                ServiceRequest.chat_user_id == user.id,
                ServiceRequest.status.in_(OPEN_STATUSES),
            )
        )
    )
    kept_media = {
        str(item["media"])
        for request in open_requests
        for item in request.attachments
        if isinstance(item, dict) and item.get("media")
    }
    conversation_ids = select(Conversation.id).where(Conversation.chat_user_id == user.id)
    messages = await session.scalar(
        select(func.count())
        .select_from(TranscriptMessage)
        .where(TranscriptMessage.conversation_id.in_(conversation_ids))
    )
    await session.execute(
        delete(TranscriptMessage).where(TranscriptMessage.conversation_id.in_(conversation_ids))
    )
    media = await delete_media(
        session,
        Media.chat_user_id == user.id,
        *([Media.id.not_in(kept_media)] if kept_media else []),
    )
    await session.execute(delete(RestMessage).where(RestMessage.chat_user_id == user.id))
    # The notices sent to this chat, its answers to them and its subscription choices.
    await session.execute(delete(InboxItem).where(InboxItem.chat_user_id == user.id))
    await session.execute(delete(Delivery).where(Delivery.chat_user_id == user.id))
    await session.execute(delete(NoticeOptOut).where(NoticeOptOut.chat_user_id == user.id))
    # The phone numbers typed for codes go too; the audit log keeps only masked ones.
    await session.execute(delete(OtpCode).where(OtpCode.chat_user_id == user.id))
    await session.execute(
        update(Conversation).where(Conversation.chat_user_id == user.id).values(state={})
    )
    logout(session, user, event="data_deleted")
    user.display_name = None
    user.consent_version = None
    user.consent_at = None
    # Only the requests whose files stay are named: "kept the documents of" a request
    # that had none would not be true (issue 15).
    with_files = [
        request.code
        for request in open_requests
        if any(isinstance(item, dict) and item.get("media") for item in request.attachments)
    ]
    return Deletion(int(messages or 0), int(media), with_files)


def _mask(identity: str | None) -> str | None:
    if identity and identity.startswith("phone:"):
        return "phone:" + phones.masked(identity.removeprefix("phone:"))
    return identity
