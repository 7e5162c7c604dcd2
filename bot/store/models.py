"""SQLAlchemy models: the utility's data (customers, bills, outages...) and the bot's
own (chat users, conversations, transcripts, service requests, media).

Money is integer VND; every timestamp is timezone-aware UTC in Python (SQLite keeps
it as naive UTC text, see `UTCDateTime`); phone numbers are E.164 strings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend (stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- the utility's data -------------------------------------------------------------


class ManagingUnit(Base):
    """An Điện lực: the first 6 characters of every customer code it serves."""

    __tablename__ = "managing_units"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    province_code: Mapped[int | None]


class Customer(Base):
    """A customer's electricity contract (one customer code)."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(13), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))  # house number and street, or hamlet
    ward_code: Mapped[int | None] = mapped_column(index=True)
    ward_name: Mapped[str] = mapped_column(String(120))
    province_code: Mapped[int] = mapped_column(index=True)
    province_name: Mapped[str] = mapped_column(String(120))
    former_district: Mapped[str | None] = mapped_column(String(120))  # before 1 July 2025
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    email: Mapped[str | None] = mapped_column(String(200))
    tariff_group: Mapped[str] = mapped_column(String(20))  # household | business | production
    voltage_level: Mapped[str | None] = mapped_column(String(20))  # below_6kv | 6_22kv
    households: Mapped[int] = mapped_column(default=1)  # số hộ sharing the meter
    meter_number: Mapped[str] = mapped_column(String(30))
    reading_day: Mapped[int]  # day of month of the (last) reading; 31 means month end
    terms_per_month: Mapped[int] = mapped_column(default=1)  # 3 for large customers
    unit_code: Mapped[str] = mapped_column(ForeignKey("managing_units.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )
    unit: Mapped[ManagingUnit] = relationship(lazy="joined")


class CustomerPhone(Base):
    """A phone on the contract or registered for SMS notices (E.164)."""

    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "phone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="contract")  # contract | sms
    customer: Mapped[Customer] = relationship(back_populates="phones")


class MeterReading(Base):
    __tablename__ = "meter_readings"
    __table_args__ = (UniqueConstraint("customer_id", "read_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    read_on: Mapped[date] = mapped_column(Date)
    term: Mapped[int] = mapped_column(default=1)  # kỳ within the month
    index_value: Mapped[int]  # chỉ số mới
    kwh: Mapped[int]  # consumption since the previous reading


class Bill(Base):
    """One billing period: first and last day between two readings, kỳ/tháng/năm."""

    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("customer_id", "year", "month", "term"),
        Index("ix_bills_customer_period", "customer_id", "period_end"),
        Index("ix_bills_status_due", "status", "due_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    term: Mapped[int] = mapped_column(default=1)
    month: Mapped[int]
    year: Mapped[int]
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    old_index: Mapped[int]
    new_index: Mapped[int]
    kwh: Mapped[int]
    before_vat: Mapped[int]
    vat_rate: Mapped[int]  # percent of the last day of the period
    vat: Mapped[int]
    total: Mapped[int]
    issued_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="unpaid")  # unpaid | paid
    paid_at: Mapped[datetime | None]
    paid_channel: Mapped[str | None] = mapped_column(String(30))

    customer: Mapped[Customer] = relationship(lazy="raise")
    invoice: Mapped[EInvoice | None] = relationship(back_populates="bill", lazy="selectin")


class EInvoice(Base):
    """The VAT e-invoice of a bill (form and series as Circular 78/2021 prescribes)."""

    __tablename__ = "e_invoices"
    __table_args__ = (UniqueConstraint("series", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"), unique=True)
    form: Mapped[str] = mapped_column(String(1), default="1")
    series: Mapped[str] = mapped_column(String(6))  # e.g. K25TAA
    number: Mapped[int]
    issued_on: Mapped[date] = mapped_column(Date)
    lines: Mapped[list[Any]] = mapped_column(JSON)  # per tier: kwh, unit_price, amount...
    bill: Mapped[Bill] = relationship(back_populates="invoice")


class PaymentPoint(Base):
    __tablename__ = "payment_points"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    ward_code: Mapped[int | None]
    ward_name: Mapped[str] = mapped_column(String(120))
    province_code: Mapped[int] = mapped_column(index=True)
    province_name: Mapped[str] = mapped_column(String(120))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # counter | bank | post_office | store


class Outage(Base):
    """A planned outage or an incident, affecting one or more areas."""

    __tablename__ = "outages"
    __table_args__ = (Index("ix_outages_window", "end_at", "start_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # planned | incident
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300))
    area_description: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    unit_code: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(60))  # staff username
    restored_at: Mapped[datetime | None]
    areas: Mapped[list[OutageArea]] = relationship(
        back_populates="outage", cascade="all, delete-orphan", lazy="selectin"
    )


class OutageArea(Base):
    """A province, or one ward of it, that an outage affects."""

    __tablename__ = "outage_areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    province_code: Mapped[int] = mapped_column(index=True)
    ward_code: Mapped[int | None] = mapped_column(index=True)  # None: the whole province
    # The streets of the ward it covers, as published ("Hùng Vương"); empty: all of it.
    streets: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    outage: Mapped[Outage] = relationship(back_populates="areas")


# --- the bot's own data --------------------------------------------------------------


class ChatUser(Base):
    """Somebody talking to the bot on one channel (a Telegram chat, a web visitor...)."""

    __tablename__ = "chat_users"
    __table_args__ = (UniqueConstraint("channel", "platform_user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(2), default="vi")
    display_name: Mapped[str | None] = mapped_column(String(200))
    verified_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    default_customer_code: Mapped[str | None] = mapped_column(String(13))
    activated_at: Mapped[datetime | None]
    # Who proved themselves here: "phone:+84..." or "portal:<username>"; "log out
    # everywhere" unlinks every chat with the same identity.
    identity: Mapped[str | None] = mapped_column(String(80), index=True)
    consent_version: Mapped[str | None] = mapped_column(String(20))
    consent_at: Mapped[datetime | None]
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    pin_unlocked_until: Mapped[datetime | None]
    # Set by 5 wrong PINs: only a one-time code sent to the phone activates this chat again.
    otp_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set at log-out: a web page reconnecting shows the conversation only from here on.
    history_from: Mapped[datetime | None]
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # dashboard
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    links: Mapped[list[CustomerLink]] = relationship(
        back_populates="chat_user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def customer_codes(self) -> list[str]:
        return [link.customer_code for link in self.links]

    @property
    def is_activated(self) -> bool:
        return self.activated_at is not None


class CustomerLink(Base):
    """A customer code a chat user has proven is theirs."""

    __tablename__ = "customer_links"
    __table_args__ = (UniqueConstraint("chat_user_id", "customer_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(ForeignKey("chat_users.id", ondelete="CASCADE"))
    # No foreign key: with a real utility backend, customers live in its system.
    customer_code: Mapped[str] = mapped_column(String(13), index=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    chat_user: Mapped[ChatUser] = relationship(back_populates="links")


class Conversation(Base):
    """The one conversation of a chat user: where it stands and who answers."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), unique=True
    )
    # bot | waiting (for staff) | staff (an agent answers) | resolved (the bot again)
    mode: Mapped[str] = mapped_column(String(16), default="bot", index=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The console's live list (issue 14): who answers, since when the customer waits,
    # the open handoff, and the last message (kept here so the list reads one table).
    staff_id: Mapped[int | None]
    handoff_id: Mapped[int | None]
    waiting_since: Mapped[datetime | None]
    last_text: Mapped[str | None] = mapped_column(String(200))
    last_author: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    chat_user: Mapped[ChatUser] = relationship(lazy="joined")


class TranscriptMessage(Base):
    __tablename__ = "transcript_messages"
    __table_args__ = (
        Index("ix_transcript_conversation", "conversation_id", "id"),
        Index("ix_transcript_created_at", "created_at"),  # the dashboard's days
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(40))  # customer | bot | staff:<name> | system
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(String(200))
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # media ids, location...
    # What the language model made of a customer's free text: the intent, or "?" when
    # it did not understand (the console's dashboard: top intents, phrases to teach).
    intent: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormRun(Base):
    """One service form a customer began: how far they got and how it ended (submitted,
    cancelled; neither: abandoned). The dashboard's funnel per service reads these."""

    __tablename__ = "form_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), index=True
    )
    form_id: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    step: Mapped[str | None] = mapped_column(String(60))  # the last field asked
    steps_done: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str | None] = mapped_column(String(12))  # submitted | cancelled
    finished_at: Mapped[datetime | None]


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    # The console's queue: open requests by status, urgent first, by age.
    __table_args__ = (Index("ix_service_requests_queue", "status", "urgent", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # YC-2026-000123
    chat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_users.id", ondelete="SET NULL")
    )
    customer_code: Mapped[str | None] = mapped_column(String(13), index=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_to: Mapped[str | None] = mapped_column(String(60), index=True)  # staff username
    due_on: Mapped[date | None] = mapped_column(Date)  # the promised date (working days)
    # The fee staff set on an approved request (a new connection's), paid in the chat.
    fee_amount: Mapped[int | None]
    fee_paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    events: Mapped[list[ServiceRequestEvent]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ServiceRequestEvent.id",
    )


class ServiceRequestEvent(Base):
    """One step of a service request's status history."""

    __tablename__ = "service_request_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    request: Mapped[ServiceRequest] = relationship(back_populates="events")


class Media(Base):
    """A photo or document, sent by a customer or generated for one (chart, invoice).

    The bytes are a file in the media directory named by the random id (`data` is
    NULL), or in `data` when no directory is configured; links to it are signed and
    expire (they carry personal data). bot/store/media.py reads and writes both.
    """

    __tablename__ = "media"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalAccount(Base):
    """An account of the utility's web portal (cskh.cpc.vn): username and password."""

    __tablename__ = "portal_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime | None]
    codes: Mapped[list[PortalAccountCode]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class PortalAccountCode(Base):
    __tablename__ = "portal_account_codes"
    __table_args__ = (UniqueConstraint("account_id", "customer_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"))
    customer_code: Mapped[str] = mapped_column(String(13))


class OtpCode(Base):
    """A one-time code requested for a phone. A request for a phone that is on no
    contract is recorded too (without a code), so limits and answers are the same."""

    __tablename__ = "otp_codes"
    __table_args__ = (
        Index("ix_otp_subject_created", "subject", "created_at"),
        Index("ix_otp_chat_user_created", "chat_user_id", "created_at"),
        # Limits per client address and network, and the global SMS budget (issue 12).
        Index("ix_otp_address_created", "client_address", "created_at"),
        Index("ix_otp_network_created", "client_network", "created_at"),
        Index("ix_otp_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))  # the phone (E.164) proven by the code
    purpose: Mapped[str] = mapped_column(String(20))  # activate | add_code | reset_password
    target: Mapped[str | None] = mapped_column(String(60))  # e.g. the customer code to add
    delivery: Mapped[str] = mapped_column(String(10))  # sms | email
    code_hash: Mapped[str | None] = mapped_column(String(64))  # None: nothing was sent
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # the gateway refused it
    chat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_users.id", ondelete="SET NULL")
    )
    client_address: Mapped[str | None] = mapped_column(String(45))  # who asked, if known
    client_network: Mapped[str | None] = mapped_column(String(49))  # its /24 or /64
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthGuard(Base):
    """Wrong attempts against one subject (a phone, a username, a chat's PIN) and the
    lock they earn."""

    __tablename__ = "auth_guards"
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # When the count began, for the limits counted per hour (issue 12).
    window_start: Mapped[datetime | None]


class SecurityEvent(Base):
    """The audit log: activations, logins, OTPs, lockouts, PIN and code changes."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int | None] = mapped_column(index=True)  # kept after data deletion
    event: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str | None] = mapped_column(String(100))  # masked phone, username...
    actor: Mapped[str | None] = mapped_column(String(60), index=True)  # staff username
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DevMessage(Base):
    """An SMS or e-mail the development providers did not really send (shown to staff
    and by `cskh dev outbox`)."""

    __tablename__ = "dev_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # sms | email
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """A platform delivery already handled: a re-delivered update is not run again."""

    __tablename__ = "processed_updates"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ZaloOaToken(Base):
    """The Zalo Official Account's token pair (issue 17): the access token lasts about 25
    hours, the refresh token is single-use, so the pair is replaced whole, under this
    row's lock, by one process at a time (bot/channels/zalo_oa/tokens.py). `lost_at`:
    the refresh chain broke and an admin must authorise the OA again."""

    __tablename__ = "zalo_oa_tokens"
    app_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    refreshed_at: Mapped[datetime | None]
    refreshes: Mapped[int] = mapped_column(default=0)
    lost_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(String(300))


class RestMessage(Base):
    """A push kept for a REST user until fetched with GET /api/messages."""

    __tablename__ = "rest_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- notices: the outbox (bot/notify/) ------------------------------------------------


class Campaign(Base):
    """A marketing broadcast (Thông báo khác): text, optional image, a segment, a time."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    image_media_id: Mapped[str | None] = mapped_column(String(32))
    # province_code, ward_code, tariff_group, has_debt, channel, language: all optional.
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft|running|paused|done
    created_by: Mapped[str | None] = mapped_column(String(60))  # staff username
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]


class Notice(Base):
    """Something to tell: a bill, a reminder, an outage, a campaign, a staff answer.

    `key` is the producer's idempotency key ("bill:123:issued", "outage:7:planned"): a
    producer run twice finds its notice and adds no second row for a recipient.
    """

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    # bill | outage | other (the three the customer subscribes to) | service (answers
    # to the customer's own requests and messages: always delivered).
    category: Mapped[str] = mapped_column(String(10))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One notice for one chat user: the outbox row a delivery worker sends.

    status: queued → claimed (taken by a worker) → sending (the platform call is under
    way) → sent | failed | unreachable; held (campaign paused); skipped (not sent:
    marketing cap, unsubscribed in the meantime).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "chat_user_id"),  # the idempotency key
        Index("ix_deliveries_user", "chat_user_id", "id"),
        # The claim's order over queued rows only: a worker reads its next 500 rows
        # off this index instead of sorting every queued row (100,000 after a bill run).
        Index(
            "ix_deliveries_claim",
            text("urgent DESC"),
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        # The rows workers hold, for recovery (few at any time).
        Index(
            "ix_deliveries_in_hand",
            "status",
            "worker",
            postgresql_where=text("status IN ('claimed', 'sending')"),
            sqlite_where=text("status IN ('claimed', 'sending')"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    chat_user_id: Mapped[int] = mapped_column(ForeignKey("chat_users.id", ondelete="CASCADE"))
    customer_code: Mapped[str | None] = mapped_column(String(13))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(10))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    message: Mapped[list[Any]] = mapped_column(default=list)  # the replies (core/codec.py)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)  # the dashboard's days
    # Sent again after a worker died while its platform call was under way: the
    # customer may have it twice. Counted in the campaign status.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(300))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notice: Mapped[Notice] = relationship(lazy="joined")


class WorkerHeartbeat(Base):
    """A running delivery worker; one whose heartbeat stopped has its rows taken back."""

    __tablename__ = "delivery_workers"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NoticeOptOut(Base):
    """A category the customer switched off, for one linked code or ("") for the chat."""

    __tablename__ = "notice_optouts"
    __table_args__ = (UniqueConstraint("chat_user_id", "customer_code", "category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(ForeignKey("chat_users.id", ondelete="CASCADE"))
    customer_code: Mapped[str] = mapped_column(String(13), default="")
    category: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxItem(Base):
    """A customer's answer to a notice, waiting in the staff queue (`cskh inbox`)."""

    __tablename__ = "inbox_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_user_id: Mapped[int] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    text: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[Any]] = mapped_column(default=list)  # media ids
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open|answered
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(60))
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- outage report clustering (issue 19, bot/outages/) ----------------------------------


class ReportArea(Base):
    """A place outage reports are counted in: a managing unit's ward (the unit's
    province when the ward is unknown). Its row is locked while a report is counted,
    so two processes never both open, or both miss, the area's suspected incident."""

    __tablename__ = "report_areas"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)  # "PC05CC:48:20410"
    unit_code: Mapped[str] = mapped_column(String(6), default="")
    province_code: Mapped[int]
    ward_code: Mapped[int | None]
    ward_name: Mapped[str] = mapped_column(String(120), default="")
    open_incident_id: Mapped[int | None]  # the suspected incident open there now
    # Reports before this moment no longer count (a dismissed or restored incident's).
    counted_from: Mapped[datetime | None]


class SuspectedIncident(Base):
    """Enough customers of one area reported an outage nobody announced.

    status: open (operations alerted) → confirmed (an incident outage announced to the
    whole area, `outage_id`) → restored; or dismissed (checked house by house)."""

    __tablename__ = "suspected_incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    area_key: Mapped[str] = mapped_column(String(40), index=True)
    unit_code: Mapped[str] = mapped_column(String(6), default="")
    province_code: Mapped[int]
    ward_code: Mapped[int | None]
    ward_name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    first_report_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    reporters_at_opening: Mapped[int]
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="SET NULL"))
    decided_by: Mapped[str | None] = mapped_column(String(60))
    decided_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]


class OutageReport(Base):
    """One customer's outage report (the form, or free text from a logged-in customer)."""

    __tablename__ = "outage_reports"
    __table_args__ = (Index("ix_outage_reports_area", "area_key", "reported_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    area_key: Mapped[str] = mapped_column(String(40))
    chat_user_id: Mapped[int] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_requests.id", ondelete="SET NULL")
    )
    customer_code: Mapped[str | None] = mapped_column(String(13))
    source: Mapped[str] = mapped_column(String(10))  # form | text
    reported_at: Mapped[datetime]
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("suspected_incidents.id", ondelete="SET NULL"), index=True
    )


class IncidentSubscriber(Base):
    """A chat that tapped "🔔 Báo tôi khi có điện lại" under a suspected incident."""

    __tablename__ = "incident_subscribers"
    __table_args__ = (UniqueConstraint("incident_id", "chat_user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("suspected_incidents.id", ondelete="CASCADE")
    )
    chat_user_id: Mapped[int] = mapped_column(ForeignKey("chat_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
