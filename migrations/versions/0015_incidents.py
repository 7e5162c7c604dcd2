"""outage report clustering: report areas, suspected incidents, the reports counted in
them and the chats waiting to hear the power is back (issue 19)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_areas",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=True),
        sa.Column("ward_name", sa.String(length=120), nullable=False),
        sa.Column("open_incident_id", sa.Integer(), nullable=True),
        sa.Column("counted_from", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_report_areas")),
    )
    op.create_table(
        "suspected_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_key", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=6), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=True),
        sa.Column("ward_name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("first_report_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporters_at_opening", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_suspected_incidents_outage_id_outages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspected_incidents")),
    )
    op.create_index(
        op.f("ix_suspected_incidents_area_key"), "suspected_incidents", ["area_key"], unique=False
    )
    op.create_index(
        op.f("ix_suspected_incidents_status"), "suspected_incidents", ["status"], unique=False
    )
    op.create_table(
        "incident_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_incident_subscribers_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["suspected_incidents.id"],
            name=op.f("fk_incident_subscribers_incident_id_suspected_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_subscribers")),
        sa.UniqueConstraint(
            "incident_id", "chat_user_id", name=op.f("uq_incident_subscribers_incident_id")
        ),
    )
    op.create_table(
        "outage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_key", sa.String(length=40), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("customer_code", sa.String(length=13), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_outage_reports_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["suspected_incidents.id"],
            name=op.f("fk_outage_reports_incident_id_suspected_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_outage_reports_request_id_service_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_reports")),
    )
    op.create_index(
        "ix_outage_reports_area", "outage_reports", ["area_key", "reported_at"], unique=False
    )
    op.create_index(
        op.f("ix_outage_reports_chat_user_id"), "outage_reports", ["chat_user_id"], unique=False
    )
    op.create_index(
        op.f("ix_outage_reports_incident_id"), "outage_reports", ["incident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("outage_reports")
    op.drop_table("incident_subscribers")
    op.drop_table("suspected_incidents")
    op.drop_table("report_areas")
