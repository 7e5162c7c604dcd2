"""the staff console: sessions, handoffs, notes, canned replies, live list columns (issue 14)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_sessions_staff_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"])
    with op.batch_alter_table("security_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=60), nullable=True))
        batch.create_index(batch.f("ix_security_events_actor"), ["actor"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("csat_comment", sa.Text(), nullable=True),
        sa.Column("csat_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoffs_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_handoffs_staff_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(op.f("ix_handoffs_conversation_id"), "handoffs", ["conversation_id"])
    op.create_index(op.f("ix_handoffs_requested_at"), "handoffs", ["requested_at"])
    op.create_table(
        "staff_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_staff_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notes")),
    )
    op.create_index(op.f("ix_staff_notes_conversation_id"), "staff_notes", ["conversation_id"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("handoff_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_since", TS, nullable=True))
        batch.add_column(sa.Column("last_text", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("last_author", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_conversations_mode"), ["mode"])
    with op.batch_alter_table("transcript_messages") as batch:
        batch.add_column(sa.Column("intent", sa.String(length=40), nullable=True))
        batch.create_index("ix_transcript_created_at", ["created_at"])
    op.create_index(op.f("ix_chat_users_created_at"), "chat_users", ["created_at"])
    op.create_index(op.f("ix_deliveries_sent_at"), "deliveries", ["sent_at"])
    op.create_table(
        "form_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("step", sa.String(length=60), nullable=True),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_form_runs_chat_user_id_chat_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_runs")),
    )
    op.create_index(op.f("ix_form_runs_chat_user_id"), "form_runs", ["chat_user_id"])
    op.create_index(op.f("ix_form_runs_started_at"), "form_runs", ["started_at"])
    with op.batch_alter_table("service_requests") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.create_index(batch.f("ix_service_requests_assigned_to"), ["assigned_to"])
        batch.create_index("ix_service_requests_queue", ["status", "urgent", "created_at"])
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=60), nullable=True))
    with op.batch_alter_table("outages") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("restored_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outages") as batch:
        batch.drop_column("restored_at")
        batch.drop_column("created_by")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_index("ix_service_requests_queue")
        batch.drop_index(batch.f("ix_service_requests_assigned_to"))
        batch.drop_column("due_on")
        batch.drop_column("assigned_to")
    op.drop_table("form_runs")
    op.drop_index(op.f("ix_deliveries_sent_at"), table_name="deliveries")
    op.drop_index(op.f("ix_chat_users_created_at"), table_name="chat_users")
    with op.batch_alter_table("transcript_messages") as batch:
        batch.drop_index("ix_transcript_created_at")
        batch.drop_column("intent")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(batch.f("ix_conversations_mode"))
        for column in ("last_author", "last_text", "waiting_since", "handoff_id", "staff_id"):
            batch.drop_column(column)
    op.drop_table("canned_replies")
    op.drop_table("staff_notes")
    op.drop_table("handoffs")
    with op.batch_alter_table("security_events") as batch:
        batch.drop_index(batch.f("ix_security_events_actor"))
        batch.drop_column("actor")
    op.drop_table("staff_sessions")
