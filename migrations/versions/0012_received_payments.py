"""payments: an index of the orders whose money VNPay confirmed and the settlement worker
has not applied yet (status "received"), which it looks for every few seconds (issue 16)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    op.create_index(
        "ix_payment_orders_received",
        "payment_orders",
        ["id"],
        postgresql_where=RECEIVED,
        sqlite_where=RECEIVED,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_orders_received", table_name="payment_orders")
