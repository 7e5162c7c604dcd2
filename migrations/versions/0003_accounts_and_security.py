"""accounts and security

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_guards",
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_auth_guards")),
    )
    op.create_table(
        "dev_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_messages")),
    )
    op.create_table(
        "portal_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_portal_accounts_username")),
    )
    with op.batch_alter_table("portal_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_accounts_phone"), ["phone"], unique=False)

    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_events_chat_user_id"), ["chat_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_security_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_security_events_event"), ["event"], unique=False)

    op.create_table(
        "otp_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=60), nullable=True),
        sa.Column("delivery", sa.String(length=10), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_otp_codes_chat_user_id_chat_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_codes")),
    )
    with op.batch_alter_table("otp_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_otp_chat_user_created", ["chat_user_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_otp_subject_created", ["subject", "created_at"], unique=False)

    op.create_table(
        "portal_account_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("customer_code", sa.String(length=13), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["portal_accounts.id"],
            name=op.f("fk_portal_account_codes_account_id_portal_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_account_codes")),
        sa.UniqueConstraint(
            "account_id", "customer_code", name=op.f("uq_portal_account_codes_account_id")
        ),
    )
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("consent_version", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pin_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("pin_unlocked_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_chat_users_identity"), ["identity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_users_identity"))
        batch_op.drop_column("pin_unlocked_until")
        batch_op.drop_column("pin_hash")
        batch_op.drop_column("consent_at")
        batch_op.drop_column("consent_version")
        batch_op.drop_column("identity")

    op.drop_table("portal_account_codes")
    with op.batch_alter_table("otp_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_subject_created")
        batch_op.drop_index("ix_otp_chat_user_created")

    op.drop_table("otp_codes")
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_events_event"))
        batch_op.drop_index(batch_op.f("ix_security_events_created_at"))
        batch_op.drop_index(batch_op.f("ix_security_events_chat_user_id"))

    op.drop_table("security_events")
    with op.batch_alter_table("portal_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_accounts_phone"))

    op.drop_table("portal_accounts")
    op.drop_table("dev_messages")
    op.drop_table("auth_guards")
