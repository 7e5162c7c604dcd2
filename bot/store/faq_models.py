"""The FAQ entries staff add or edit (issue 19).

data/faq.yml is the reviewed FAQ the bot ships with; a row here overrides the entry of
the same id (or adds one), and a `deleted` row hides it. Kept in the database, not in a
file, so every `cskh serve` process sees an edit and it survives a redeploy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, utcnow


class FaqEntryRow(Base):
    """One FAQ entry as staff last saved it: the whole entry as data/faq.yml writes it."""

    __tablename__ = "faq_entries"
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    document: Mapped[dict[str, Any]]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_by: Mapped[str | None] = mapped_column(String(60))
