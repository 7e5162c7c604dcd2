"""payments: orders, the ledger, held payments, imported statement lines, request fees
(issue 16)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("chat_user_id", sa.Integer(), nullable=True),
        sa.Column("customer_code", sa.String(length=13), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_user_id"],
            ["chat_users.id"],
            name=op.f("fk_payment_orders_chat_user_id_chat_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_orders")),
        sa.UniqueConstraint("ref", name=op.f("uq_payment_orders_ref")),
    )
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_orders_chat_user_id"), ["chat_user_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_orders_code_status", ["customer_code", "status"], unique=False
        )

    op.create_table(
        "held_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_held_payments_order_id_payment_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_payments")),
    )
    with op.batch_alter_table("held_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_held_payments_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_held_payments_status"), ["status"], unique=False)

    op.create_table(
        "payment_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_payment_ledger_order_id_payment_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_ledger")),
    )
    with op.batch_alter_table("payment_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_ledger_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_ledger_order_id"), ["order_id"], unique=False)

    op.create_table(
        "statement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_statement_lines_order_id_payment_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("key", name=op.f("uq_statement_lines_key")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_amount", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fee_paid_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_column("fee_paid_at")
        batch_op.drop_column("fee_amount")

    op.drop_table("statement_lines")
    with op.batch_alter_table("payment_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_ledger_order_id"))
        batch_op.drop_index(batch_op.f("ix_payment_ledger_at"))

    op.drop_table("payment_ledger")
    with op.batch_alter_table("held_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_payments_status"))
        batch_op.drop_index(batch_op.f("ix_held_payments_order_id"))

    op.drop_table("held_payments")
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_orders_code_status")
        batch_op.drop_index(batch_op.f("ix_payment_orders_chat_user_id"))

    op.drop_table("payment_orders")
