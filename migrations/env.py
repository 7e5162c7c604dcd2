"""Alembic environment: runs on the connection `bot.store.migrate` hands over.

`cskh db upgrade` (and `cskh serve` at start) call Alembic through
bot/store/migrate.py, which passes an open connection in
config.attributes["connection"]; running `alembic` by hand is not supported.
"""

from __future__ import annotations

from typing import Any

from alembic import context

# Their tables are part of the schema.
from bot.store import faq_models, payment_models, staff_models  # noqa: F401
from bot.store.models import Base, UTCDateTime

target_metadata = Base.metadata


def render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import the models: UTCDateTime is a plain aware DateTime.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `cskh db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
