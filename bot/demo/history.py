"""The notices each persona already had, for the Thông báo tab of a new demo (issue 15).

Per customer code: the latest bill's notice and, once its reminder day has come, the
payment reminder; per persona: the notice and the "power restored" of the planned
outage its ward had the week before last (generate.py). Written as the producers write
them (bot/notify), in both languages, at the moment they would have been sent; a chat
that links the code finds them in its tab (bot/notify/history.py). A bill overdue now
is left to `cskh notify run`, which tells it as a debt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.codec import reply_to_json
from bot.core.messages import Reply
from bot.core.texts import Texts
from bot.demo.definitions import definitions
from bot.notify import history
from bot.notify.outages import outage_replies
from bot.notify.producers import bill_replies
from bot.store.backend import BillRecord, OutageRecord, SqlUtilityBackend, outage_record
from bot.store.db import Database
from bot.store.models import Notice, Outage, OutageArea

LANGUAGES = ("vi", "en")
NOTICE_HOUR = time(8, 0)  # the daily bill run's hour (bot/notify/scheduler.py)
REMINDER_DAYS = 3  # CSKH_PAYMENT_REMINDER_DAYS' default
OUTAGE_NOTICE_DAYS = 3  # CSKH_OUTAGE_NOTICE_DAYS' default

Render = Callable[[str, int], list[Reply]]  # (language, notice id) -> the notice


def _morning(day: date) -> datetime:
    return datetime.combine(day, NOTICE_HOUR, fmt.LOCAL_TZ)


class _Writer:
    def __init__(self, session: AsyncSession, texts: Texts, now: datetime, known: set[str]):
        self.session, self.texts, self.now, self.known = session, texts, now, known
        self.written = 0

    async def add(
        self, code: str, what: str, kind: str, category: str, at: datetime, render: Render
    ) -> None:
        if history.history_key(code, what) in self.known or at > self.now:
            return
        notice = await history.record(
            self.session, code=code, what=what, kind=kind, category=category, sent_at=at
        )
        messages = {
            lang: [reply_to_json(reply) for reply in render(lang, notice.id)] for lang in LANGUAGES
        }
        history.set_messages(notice, messages)
        self.written += 1

    async def bill(self, bill: BillRecord) -> None:
        code, texts = bill.customer_code, self.texts
        issued_at = _morning(bill.issued_on)
        await self.add(
            code,
            f"bill:{bill.id}:issued",
            "bill_issued",
            "bill",
            issued_at,
            lambda lang, nid: bill_replies(texts, lang, nid, bill, "issued", issued_at),
        )
        reminded_at = _morning(bill.due_date - timedelta(days=REMINDER_DAYS))
        if bill.paid_at is None or bill.paid_at > reminded_at:
            await self.add(
                code,
                f"bill:{bill.id}:reminder",
                "bill_reminder",
                "bill",
                reminded_at,
                lambda lang, nid: bill_replies(texts, lang, nid, bill, "reminder", reminded_at),
            )

    async def outage(self, outage: OutageRecord, code: str, unit: str) -> None:
        texts = self.texts
        announced = _morning(fmt.local(outage.start_at).date() - timedelta(OUTAGE_NOTICE_DAYS))
        for kind, at in (("planned", announced), ("restored", outage.end_at)):

            def render(lang: str, nid: int, kind: str = kind, at: datetime = at) -> list[Reply]:
                return outage_replies(texts, lang, nid, outage, kind, unit=unit, code=code, now=at)

            await self.add(
                code, f"outage:{outage.id}:{kind}", f"outage_{kind}", "outage", at, render
            )


async def write_history(db: Database, texts: Texts, *, now: datetime) -> int:
    """The personas' past notices (a key written before is kept); how many were added."""
    backend = SqlUtilityBackend(db)
    async with db.transaction() as session:
        known = set(
            await session.scalars(select(Notice.key).where(Notice.key.startswith("history:")))
        )
        writer = _Writer(session, texts, now, known)
        for persona in definitions()["personas"]:
            codes = [spec["code"] for spec in persona["customers"]]
            for code in codes:
                for bill in await backend.bills(code, limit=1):
                    await writer.bill(bill)
            customer = await backend.customer(codes[0])
            if customer is None or customer.ward_code is None:
                continue
            row = await session.scalar(
                select(Outage)
                .join(OutageArea)
                .where(OutageArea.ward_code == customer.ward_code, Outage.status == "restored")
                .order_by(Outage.start_at.desc())
                .limit(1)
            )
            if row is None:
                continue
            await writer.outage(outage_record(row), codes[0], customer.unit_name)
    return writer.written
