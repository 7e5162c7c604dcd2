"""one-time codes remember the client address and network that asked; guards know when
their count began (issue 12)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("otp_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_address", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("client_network", sa.String(length=49), nullable=True))
        batch_op.create_index(
            "ix_otp_address_created", ["client_address", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_otp_network_created", ["client_network", "created_at"], unique=False
        )
        batch_op.create_index("ix_otp_created", ["created_at"], unique=False)
    with op.batch_alter_table("auth_guards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_guards", schema=None) as batch_op:
        batch_op.drop_column("window_start")
    with op.batch_alter_table("otp_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_created")
        batch_op.drop_index("ix_otp_network_created")
        batch_op.drop_index("ix_otp_address_created")
        batch_op.drop_column("client_network")
        batch_op.drop_column("client_address")
