"""What a customer hears about a payment (issue 16), written to the outbox in the
payment's own transaction: the receipt, a failed attempt, money held for staff.

Implements `bot.payments.settle.PaymentNotifier`. They are bill notices (the Thông báo
tab files them under "Tiền điện"), urgent (no quiet hours: the customer just paid), to
the chat that paid — even when it switched bill notices off: it is the answer to its
own action — and to every other chat linked to the customer code that wants them. A receipt
withdraws the reminders and debt notices of the bills it paid that are still waiting
in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.messages import Button, Reply
from bot.core.texts import Texts
from bot.notify import outbox
from bot.store.models import ChatUser, CustomerLink, Delivery, Notice, utcnow
from bot.store.payment_models import HeldPayment, PaymentOrder

# The bill notices a payment makes pointless when they have not gone out yet.
WITHDRAWN_KINDS = ("reminder", "debt")


class OutboxPaymentNotifier:
    """Payment notices through the outbox, in each recipient's language."""

    def __init__(self, texts: Texts, hotline: str) -> None:
        self.texts = texts
        self.hotline = hotline

    async def settled(
        self, session: AsyncSession, orders: Sequence[PaymentOrder], *, now: datetime
    ) -> None:
        await self._tell(session, [(order, "paid", self._receipt) for order in orders], now)
        bill_ids = [
            int(item["id"]) for order in orders for item in order.items if item["kind"] == "bill"
        ]
        await withdraw_bill_notices(session, bill_ids)

    async def failed(self, session: AsyncSession, order: PaymentOrder, *, now: datetime) -> None:
        await self._tell(session, [(order, "failed", self._failure)], now)

    async def held(
        self, session: AsyncSession, order: PaymentOrder | None, held: HeldPayment, *, now: datetime
    ) -> None:
        if order is None:  # a transfer naming no order of ours: nobody to tell
            return

        def text(lang: str, order: PaymentOrder) -> list[Reply]:
            message = self.texts.get(
                "payments.held",
                lang,
                amount=fmt.money(held.amount, lang),
                ref=order.ref,
                hotline=self.hotline,
            )
            return [Reply(text=message)]

        await self._tell(session, [(order, f"held:{held.id}", text)], now)

    def _receipt(self, lang: str, order: PaymentOrder) -> list[Reply]:
        t = self.texts
        paid_at = order.paid_at or order.created_at
        code_part = (
            t.get("payments.receipt_code", lang, code=order.customer_code)
            if order.customer_code
            else ""
        )
        message = t.get(
            "payments.receipt",
            lang,
            amount=fmt.money(order.amount, lang),
            method=t.get(f"payments.method_{order.method}", lang),
            time=fmt.clock(paid_at),
            date=fmt.day(paid_at),
            code_part=code_part,
            items="\n".join(self._item_line(lang, item) for item in order.items),
            ref=order.ref,
        )
        buttons: tuple[tuple[Button, ...], ...] = ()
        if order.customer_code and any(i["kind"] == "bill" for i in order.items):
            info = Button(
                t.get("lookups.payment_info", lang), payload=f"lk_pay:{order.customer_code}"
            )
            buttons = ((info,),)
        return [Reply(text=message, buttons=buttons)]

    def _item_line(self, lang: str, item: dict[str, Any]) -> str:
        if item["kind"] == "fee":
            return self.texts.get("payments.receipt_fee", lang, request=item.get("request", ""))
        period = self.texts.get(
            "lookups.period_name", lang, term=item["term"], month=item["month"], year=item["year"]
        )
        return self.texts.get(
            "payments.covers_bill", lang, period=period, amount=fmt.money(item["amount"], lang)
        )

    def _failure(self, lang: str, order: PaymentOrder) -> list[Reply]:
        code = order.failure or "99"
        if code == "24":
            reason = self.texts.get("payments.failed_cancelled", lang)
        elif code in ("51", "65", "12", "13", "79", "09", "10", "11"):
            reason = self.texts.get("payments.failed_declined", lang)
        else:
            reason = self.texts.get("payments.failed_other", lang, code=code)
        message = self.texts.get(
            "payments.failed", lang, amount=fmt.money(order.amount, lang), reason=reason
        )
        retry = "payments:" + order.customer_code if order.customer_code else "payments"
        button = Button(self.texts.get("payments.retry_button", lang), payload=retry)
        return [Reply(text=message, buttons=((button,),))]

    async def _tell(
        self,
        session: AsyncSession,
        what: Sequence[tuple[PaymentOrder, str, Callable[[str, PaymentOrder], list[Reply]]]],
        now: datetime,
    ) -> None:
        """One notice per (order, what it says, its replies in a language), to the
        order's recipients; a batch of settlements writes them all at once (issue 16's
        200 IPNs a second: plain statements, no ORM chat users)."""
        chats = await _recipients(session, [order for order, _, _ in what])
        told = [(order, label, replies) for order, label, replies in what if chats[order.id]]
        if not told:
            return
        # Keys are new (the order's change of status, which names it, happens once).
        notice_ids = await session.scalars(
            insert(Notice).returning(Notice.id, sort_by_parameter_order=True),
            [
                {
                    "key": f"payment:{order.id}:{label}",
                    "kind": f"payment_{label.split(':')[0]}",
                    "category": "bill",
                    "urgent": True,
                    "marketing": False,
                    "campaign_id": None,
                    "meta": {"order": order.ref, "customer_code": order.customer_code},
                    "created_at": utcnow(),
                }
                for order, label, _ in told
            ],
        )
        rows: list[dict[str, Any]] = []
        others: list[tuple[Notice, outbox.Addressee]] = []
        for notice_id, (order, _, replies) in zip(notice_ids, told, strict=True):
            notice = Notice(id=notice_id, category="bill", urgent=True, marketing=False)
            for chat in chats[order.id]:
                addressee = outbox.Addressee(
                    cast(ChatUser, chat), replies(chat.language, order), order.customer_code
                )
                if chat.id == order.chat_user_id:
                    # The payer hears of their own payment whatever they switched off.
                    rows.append(outbox.delivery_row(notice, addressee, now=now))
                else:
                    others.append((notice, addressee))
        if others:  # the other chats linked to the code as they chose for bill notices
            wanted = await outbox.wanting(session, [a for _, a in others], "bill")
            kept = {id(a) for a in wanted}
            rows += [
                outbox.delivery_row(notice, a, now=now) for notice, a in others if id(a) in kept
            ]
        await outbox.insert_rows(session, rows)


# Built once (SQLAlchemy caches the compiled form): the chats that paid, and the
# activated chats linked to the orders' codes; reachable ones only.
_PAYERS = select(ChatUser.id, ChatUser.channel, ChatUser.language).where(
    ChatUser.id.in_(bindparam("ids", expanding=True)), ChatUser.reachable.is_(True)
)
_LINKED = (
    select(CustomerLink.customer_code, ChatUser.id, ChatUser.channel, ChatUser.language)
    .join(ChatUser, ChatUser.id == CustomerLink.chat_user_id)
    .where(
        CustomerLink.customer_code.in_(bindparam("codes", expanding=True)),
        ChatUser.activated_at.is_not(None),
        ChatUser.reachable.is_(True),
    )
)


@dataclass(frozen=True)
class _Chat:
    """What a delivery row needs of a chat user (no ORM instance on the IPN's path)."""

    id: int
    channel: str
    language: str
    reachable: bool = True


async def _recipients(
    session: AsyncSession, orders: Sequence[PaymentOrder]
) -> dict[int, list[_Chat]]:
    """Per order: the chat that paid first, then the others linked to its code."""
    payer_ids = sorted({o.chat_user_id for o in orders if o.chat_user_id is not None})
    codes = sorted({o.customer_code for o in orders if o.customer_code})
    payers: dict[int, _Chat] = {}
    if payer_ids:
        for user_id, channel, language in await session.execute(_PAYERS, {"ids": payer_ids}):
            payers[user_id] = _Chat(user_id, channel, language)
    linked: dict[str, list[_Chat]] = {}
    if codes:
        for code, user_id, channel, language in await session.execute(_LINKED, {"codes": codes}):
            linked.setdefault(code, []).append(_Chat(user_id, channel, language))
    chats: dict[int, list[_Chat]] = {}
    for order in orders:
        first = [payers[order.chat_user_id]] if order.chat_user_id in payers else []
        rest = sorted(
            (c for c in linked.get(order.customer_code or "", []) if c.id != order.chat_user_id),
            key=lambda c: c.id,
        )
        chats[order.id] = first + rest
    return chats


_WITHDRAW = (
    update(Delivery)
    .where(
        Delivery.notice_id.in_(
            select(Notice.id).where(Notice.key.in_(bindparam("keys", expanding=True)))
        ),
        Delivery.status.in_(("queued", "held")),
    )
    .values(status="skipped", error="bill paid")
    .execution_options(synchronize_session=False)
)


async def withdraw_bill_notices(session: AsyncSession, bill_ids: Sequence[int]) -> int:
    """Reminders and debt notices of these bills still waiting in the outbox are not
    sent (status skipped, "bill paid"); the number withdrawn."""
    if not bill_ids:
        return 0
    keys = [f"bill:{bill_id}:{kind}" for bill_id in bill_ids for kind in WITHDRAWN_KINDS]
    result = await session.execute(_WITHDRAW, {"keys": keys})
    return int(getattr(result, "rowcount", 0) or 0)
