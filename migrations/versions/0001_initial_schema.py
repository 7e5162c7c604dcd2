"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("platform_user_id", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("verified_phone", sa.String(length=16), nullable=True),
        sa.Column("default_customer_code", sa.String(length=13), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_users")),
        sa.UniqueConstraint("channel", "platform_user_id", name=op.f("uq_chat_users_channel")),
    )
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_users_verified_phone"), ["verified_phone"], unique=False
        )

    op.create_table(
        "managing_units",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_managing_units")),
    )
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("area_description", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
    )
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.create_index("ix_outages_window", ["end_at", "start_at"], unique=False)

    op.create_table(
        "payment_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=True),
        sa.Column("ward_name", sa.String(length=120), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("province_name", sa.String(length=120), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("opening_hours", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_points")),
    )
    with op.batch_alter_table("payment_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_points_province_code"), ["province_code"], unique=False
        )

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_conversations_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("chat_user_id", name=op.f("uq_conversations_chat_user_id")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_last_activity_at"), ["last_activity_at"], unique=False
        )

    op.create_table(
        "customer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("customer_code", sa.String(length=13), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_customer_links_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint(
            "chat_user_id", "customer_code", name=op.f("uq_customer_links_chat_user_id")
        ),
    )
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_links_customer_code"), ["customer_code"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=True),
        sa.Column("ward_name", sa.String(length=120), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("province_name", sa.String(length=120), nullable=False),
        sa.Column("former_district", sa.String(length=120), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("tariff_group", sa.String(length=20), nullable=False),
        sa.Column("voltage_level", sa.String(length=20), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("meter_number", sa.String(length=30), nullable=False),
        sa.Column("reading_day", sa.Integer(), nullable=False),
        sa.Column("terms_per_month", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["managing_units.code"],
            name=op.f("fk_customers_unit_code_managing_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_code")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_province_code"), ["province_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customers_unit_code"), ["unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_ward_code"), ["ward_code"], unique=False)

    op.create_table(
        "media",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_media_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_chat_user_id"), ["chat_user_id"], unique=False)

    op.create_table(
        "outage_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_outage_areas_outage_id_outages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_areas")),
    )
    with op.batch_alter_table("outage_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outage_areas_province_code"), ["province_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outage_areas_ward_code"), ["ward_code"], unique=False)

    op.create_table(
        "rest_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_rest_messages_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rest_messages")),
    )
    with op.batch_alter_table("rest_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rest_messages_chat_user_id"), ["chat_user_id"], unique=False
        )

    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=True),
        sa.Column("customer_code", sa.String(length=13), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_service_requests_chat_user_id_chat_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("code", name=op.f("uq_service_requests_code")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_requests_customer_code"), ["customer_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_requests_status"), ["status"], unique=False)

    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("old_index", sa.Integer(), nullable=False),
        sa.Column("new_index", sa.Integer(), nullable=False),
        sa.Column("kwh", sa.Integer(), nullable=False),
        sa.Column("before_vat", sa.Integer(), nullable=False),
        sa.Column("vat_rate", sa.Integer(), nullable=False),
        sa.Column("vat", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_channel", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_bills_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint(
            "customer_id", "year", "month", "term", name=op.f("uq_bills_customer_id")
        ),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bills_customer_period", ["customer_id", "period_end"], unique=False
        )
        batch_op.create_index("ix_bills_status_due", ["status", "due_date"], unique=False)

    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_phones_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phones")),
        sa.UniqueConstraint("customer_id", "phone", name=op.f("uq_customer_phones_customer_id")),
    )
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_phones_phone"), ["phone"], unique=False)

    op.create_table(
        "meter_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("read_on", sa.Date(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("index_value", sa.Integer(), nullable=False),
        sa.Column("kwh", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_meter_readings_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_readings")),
        sa.UniqueConstraint("customer_id", "read_on", name=op.f("uq_meter_readings_customer_id")),
    )
    op.create_table(
        "service_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_service_request_events_request_id_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_events")),
    )
    with op.batch_alter_table("service_request_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_request_events_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "transcript_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("author", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.String(length=200), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_transcript_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_messages")),
    )
    with op.batch_alter_table("transcript_messages", schema=None) as batch_op:
        batch_op.create_index("ix_transcript_conversation", ["conversation_id", "id"], unique=False)

    op.create_table(
        "e_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=1), nullable=False),
        sa.Column("series", sa.String(length=6), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_e_invoices_bill_id_bills"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_e_invoices")),
        sa.UniqueConstraint("bill_id", name=op.f("uq_e_invoices_bill_id")),
        sa.UniqueConstraint("series", "number", name=op.f("uq_e_invoices_series")),
    )


def downgrade() -> None:
    op.drop_table("e_invoices")
    with op.batch_alter_table("transcript_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_conversation")

    op.drop_table("transcript_messages")
    with op.batch_alter_table("service_request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_events_request_id"))

    op.drop_table("service_request_events")
    op.drop_table("meter_readings")
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_phones_phone"))

    op.drop_table("customer_phones")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index("ix_bills_status_due")
        batch_op.drop_index("ix_bills_customer_period")

    op.drop_table("bills")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_requests_status"))
        batch_op.drop_index(batch_op.f("ix_service_requests_customer_code"))

    op.drop_table("service_requests")
    with op.batch_alter_table("rest_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rest_messages_chat_user_id"))

    op.drop_table("rest_messages")
    with op.batch_alter_table("outage_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outage_areas_ward_code"))
        batch_op.drop_index(batch_op.f("ix_outage_areas_province_code"))

    op.drop_table("outage_areas")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_chat_user_id"))

    op.drop_table("media")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_ward_code"))
        batch_op.drop_index(batch_op.f("ix_customers_unit_code"))
        batch_op.drop_index(batch_op.f("ix_customers_province_code"))

    op.drop_table("customers")
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_links_customer_code"))

    op.drop_table("customer_links")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_last_activity_at"))

    op.drop_table("conversations")
    with op.batch_alter_table("payment_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_points_province_code"))

    op.drop_table("payment_points")
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.drop_index("ix_outages_window")

    op.drop_table("outages")
    op.drop_table("managing_units")
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_users_verified_phone"))

    op.drop_table("chat_users")
