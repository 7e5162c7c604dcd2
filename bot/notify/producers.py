"""Producers of notices (issue 7): bills, payment reminders, debts, payments received;
what every notice shares (its buttons, `Produced`, `NoticeError`). Outages and power
restored are in outages.py.

Each producer writes a `Notice` named by an idempotency key ("bill:12:issued",
"outage:7:eve") and one outbox row per recipient through `outbox.enqueue`, in the
caller's transaction, so the event and its notice commit together and a producer run
twice adds nothing. Recipients are the activated, reachable chats linked to the
customer code (or to a customer in the outage's area), each in its own language;
the row carries the customer code, so a category switched off for one code holds.
Bills, customers and units come from the `UtilityBackend`; the chats, their links and
the notices from our tables.

Every notice ends with "🔕 Tắt loại thông báo này" (`unsub:<category>:<code>`, as
UX.md shows) and a "💬 Phản hồi" button (`nreply:<notice id>`) below it. Bills, reminders
and planned outages wait out the quiet hours (the worker's business); incidents and
power restored are urgent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.messages import Button, Reply
from bot.core.texts import Texts
from bot.notify import outbox, usage
from bot.notify.inbox import REPLY_PAYLOAD
from bot.notify.outbox import Addressee
from bot.notify.segments import users_of_codes
from bot.notify.usage import UsageJudge, UsageNote
from bot.store.backend import BillFilter, BillRecord
from bot.store.models import ChatUser

log = logging.getLogger(__name__)

# "💳 Thanh toán" opens the Thanh toán tab with the code as its argument (the tab
# answers for every code today; the payments issue reads the argument).
PAY_PAYLOAD = "payments"
# The Cài đặt tab's one-tap switch: "unsub:<category>[:<customer code>]".
UNSUBSCRIBE_PAYLOAD = "unsub"
BILL_KINDS = ("issued", "reminder", "debt", "paid")
# How far back a run looks, so a missed day is caught up but a chat linked today is
# not told about last year's bills.
ISSUED_LOOKBACK = timedelta(days=5)
# A bill is told overdue (once) until the next month's bill comes, about three weeks
# after its due date; 10 days left out An's bill, 17 days overdue (issue 15).
DEBT_LOOKBACK = timedelta(days=25)
PAID_LOOKBACK = timedelta(days=3)


class NoticeError(ValueError):
    """A producer was asked for something impossible (unknown outage, end before start);
    the message says what, for the command line to print."""


@dataclass(frozen=True)
class Produced:
    """A notice and the rows this call wrote for it (0 when everyone had one)."""

    notice_id: int
    recipients: int
    not_before: datetime


def reply_row(texts: Texts, lang: str, notice_id: int) -> tuple[Button, ...]:
    """The "💬 Phản hồi" row every notice ends with."""
    return (Button(texts.get("notify.reply_button", lang), payload=f"{REPLY_PAYLOAD}:{notice_id}"),)


def switch_off_row(texts: Texts, lang: str, category: str, code: str | None) -> tuple[Button, ...]:
    """ "🔕 Tắt loại thông báo này": one tap switches the category off (for the code)."""
    payload = ":".join(part for part in (UNSUBSCRIBE_PAYLOAD, category, code) if part)
    return (Button(texts.get("notify.unsubscribe_button", lang), payload=payload),)


def notice_reply(
    texts: Texts, lang: str, notice_id: int, text: str, *rows: tuple[Button, ...]
) -> Reply:
    return Reply(text=text, buttons=(*rows, reply_row(texts, lang, notice_id)))


# --- bills --------------------------------------------------------------------------------


def _bill_text(texts: Texts, lang: str, bill: BillRecord, kind: str, now: datetime) -> str:
    """The notice's sentence; a bill or reminder told once its due date has passed (a
    late run, a chat linked since) says it is overdue instead of "due on"."""
    if kind in ("issued", "reminder") and bill.paid_at is None and _overdue(bill, now):
        kind = "issued_overdue" if kind == "issued" else "debt"
    values = {
        "period": texts.get(
            "lookups.period_name", lang, term=bill.term, month=bill.month, year=bill.year
        ),
        "code": bill.customer_code,
        "amount": fmt.money(bill.total, lang),
        "due": fmt.day(bill.due_date),
    }
    if kind in ("issued", "issued_overdue"):
        values |= {
            "start": fmt.short_day(bill.period_start),
            "end": fmt.short_day(bill.period_end),
            "kwh": fmt.kwh(bill.kwh, lang),
        }
    if kind == "paid":
        paid_at = bill.paid_at or datetime.combine(bill.due_date, time(), fmt.LOCAL_TZ)
        values |= {"time": fmt.clock(paid_at), "date": fmt.day(paid_at)}
        del values["due"]
    return texts.get(f"notify.bill_{kind}", lang, **values)


def _overdue(bill: BillRecord, now: datetime) -> bool:
    return fmt.local(now).date() > bill.due_date


def bill_replies(
    texts: Texts,
    lang: str,
    notice_id: int,
    bill: BillRecord,
    kind: str,
    now: datetime,
    insight: UsageNote | None = None,
) -> list[Reply]:
    """The notice; an issued bill with an `insight` says in one more line that its use
    is unusual and offers the explanation (and the meter check)."""
    code = bill.customer_code
    text = _bill_text(texts, lang, bill, kind, now)
    switch_off = switch_off_row(texts, lang, "bill", code)
    if kind == "paid":
        return [notice_reply(texts, lang, notice_id, text, switch_off)]
    pay = Button(texts.get("notify.pay_button", lang), payload=f"{PAY_PAYLOAD}:{code}")
    if insight is None or kind != "issued":
        return [notice_reply(texts, lang, notice_id, text, (pay,), switch_off)]
    text += "\n" + usage.insight_line(texts, lang, insight)
    more = usage.insight_buttons(texts, lang, bill, insight)
    return [notice_reply(texts, lang, notice_id, text, (pay,), more, switch_off)]


async def bill_notice(
    session: AsyncSession,
    bill: BillRecord,
    kind: str,
    texts: Texts,
    *,
    now: datetime,
    users: Sequence[ChatUser] | None = None,
    insight: UsageNote | None = None,
) -> Produced | None:
    """Tell the chats linked to the bill's customer code about `bill`: "issued",
    "reminder", "debt" or "paid". None when no chat is linked (no notice is made).
    An issued bill's `insight` (unusual use) is told to the chats that did not switch
    "usage" off for the code."""
    if kind not in BILL_KINDS:
        raise ValueError(f"unknown bill notice {kind!r}")
    if bill.id is None:
        raise ValueError("a bill without the utility's id cannot name its notice")
    code = bill.customer_code
    if users is None:
        users = (await users_of_codes(session, [code])).get(code, [])
    if kind == "paid" and bill.paid_at is not None:
        # A chat that linked the code after the payment did not wait for the news.
        paid_at = bill.paid_at
        users = [u for u in users if _linked_by(u, code, paid_at)]
    if not users:
        return None
    notice = await outbox.notice_for(
        session,
        f"bill:{bill.id}:{kind}",
        kind=f"bill_{kind}",
        category="bill",
        meta={"bill_id": bill.id, "customer_code": code},
    )
    quiet: set[tuple[int, str]] = set()
    if insight is not None:
        quiet = await outbox.opted_out(session, (user.id for user in users), usage.USAGE)

    def told(user: ChatUser) -> UsageNote | None:
        wanted = (user.id, code) not in quiet and (user.id, "") not in quiet
        return insight if wanted else None

    addressees = [
        Addressee(
            user,
            bill_replies(texts, user.language, notice.id, bill, kind, now, told(user)),
            code,
        )
        for user in users
    ]
    written = await outbox.enqueue(session, notice, addressees, now=now)
    return Produced(notice.id, len(written), now)


def _linked_by(user: ChatUser, customer_code: str, moment: datetime) -> bool:
    return any(
        link.customer_code == customer_code and link.linked_at <= moment for link in user.links
    )


def due_bills(
    kind: str, *, now: datetime, reminder_days: int, period: tuple[int, int] | None = None
) -> BillFilter:
    """The bills a run tells about (of the customers with a linked chat).

    issued: unpaid, issued in the last days (or of `period`, a (year, month));
    reminder: unpaid, due within `reminder_days`;
    debt: unpaid, due date passed in the last days; paid: paid in the last days.
    """
    today = fmt.local(now).date()
    if kind == "issued":
        if period is not None:
            return BillFilter(status="unpaid", period=period)
        return BillFilter(status="unpaid", issued_between=(today - ISSUED_LOOKBACK, today))
    if kind == "reminder":
        # (`reminder_wanted` leaves out bills issued that late: the bill notice is enough.)
        return BillFilter(
            status="unpaid", due_between=(today, today + timedelta(days=reminder_days))
        )
    if kind == "debt":
        yesterday = today - timedelta(days=1)
        return BillFilter(status="unpaid", due_between=(today - DEBT_LOOKBACK, yesterday))
    if kind == "paid":
        return BillFilter(status="paid", paid_since=now - PAID_LOOKBACK)
    raise ValueError(f"unknown bill notice {kind!r}")


def reminder_wanted(bill: BillRecord, reminder_days: int) -> bool:
    """A reminder for a bill issued within the reminder period would repeat its notice."""
    return bill.issued_on < bill.due_date - timedelta(days=reminder_days)


async def bill_notices(
    session: AsyncSession,
    bills: Sequence[BillRecord],
    kind: str,
    texts: Texts,
    *,
    now: datetime,
    judge: UsageJudge | None = None,
) -> tuple[int, int]:
    """Notices of one kind for these bills: (notices, rows). Issued bills are judged
    for unusual use by `judge` when one is given."""
    users = await users_of_codes(session, [bill.customer_code for bill in bills])
    notices = rows = 0
    for bill in bills:
        linked = users.get(bill.customer_code, [])
        insight = None
        if kind == "issued" and linked and judge is not None:
            insight = await judge(bill)
        produced = await bill_notice(
            session, bill, kind, texts, now=now, users=linked, insight=insight
        )
        if produced is not None:
            notices += 1
            rows += produced.recipients
    return notices, rows
