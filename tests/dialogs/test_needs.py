"""A form's `needs:` is enforced by the engine: a form about a contract needs a linked
customer code, one that only needs a call back a phone (verified, a contract's, or the
form's own question)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.dialogs.forms import Forms, default_forms
from bot.dialogs.runner import FormRunner
from tests.dialogs.context import AN_CODES, AN_PHONE, Chat, phone_on_record, text, titles

NEEDS_CUSTOMER = (
    "Dịch vụ này cần mã khách hàng gắn với tài khoản của Quý khách. "
    "Quý khách thêm mã khách hàng trước, rồi chọn lại dịch vụ nhé."
)
NEEDS_PHONE = "Dịch vụ này cần số điện thoại để điện lực liên hệ lại."


async def start(chat: Chat, form_id: str) -> str:
    replies = await FormRunner(default_forms(), phone_on_record).start(chat.ctx(), form_id)
    return text(replies)


@pytest.mark.parametrize(
    "form_id", [f.id for f in default_forms().values() if f.needs == "customer"]
)
async def test_a_form_about_a_contract_asks_for_a_linked_code_first(form_id: str) -> None:
    chat = Chat(codes=(), phone=AN_PHONE)  # logged in by phone; no contract of that phone
    replies = await FormRunner(default_forms(), phone_on_record).start(chat.ctx(), form_id)
    assert text(replies) == NEEDS_CUSTOMER
    assert titles(replies) == ["➕ Thêm mã khách hàng", "🏠 Menu"]
    assert chat.state.form is None
    assert (await start(Chat(codes=AN_CODES[:1]), form_id)).startswith("📝 ")


@pytest.mark.parametrize("form_id", [f.id for f in default_forms().values() if f.needs == "phone"])
async def test_a_form_that_needs_a_phone_takes_a_verified_one_a_contracts_or_its_own(
    form_id: str,
) -> None:
    assert (await start(Chat(codes=(), phone=AN_PHONE), form_id)).startswith("📝 ")
    assert (await start(Chat(codes=AN_CODES, phone=None), form_id)).startswith("📝 ")
    # A website account with no code linked yet: the form asks for the phone itself, so
    # an outage report or a new connection is not refused for want of a contract.
    assert (await start(Chat(codes=(), phone=None), form_id)).startswith("📝 ")


async def test_a_form_that_needs_a_phone_and_asks_none_sends_for_one() -> None:
    form = default_forms()["report_outage"]
    silent = replace(form, fields=tuple(f for f in form.fields if f.type != "phone"))
    chat = Chat(codes=(), phone=None)
    replies = await FormRunner(Forms([silent]), phone_on_record).start(chat.ctx(), form.id)
    assert text(replies).startswith(NEEDS_PHONE)
    assert chat.state.form is None
    assert (await start(Chat(codes=(), phone=AN_PHONE), form.id)).startswith("📝 ")
