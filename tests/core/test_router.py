"""The router's wiring: tab routers included into the engine's router."""

from __future__ import annotations

import pytest

from bot.core.context import Context
from bot.core.messages import Reply
from bot.core.router import Route, Router
from bot.core.state import ConversationState


async def _shown(ctx: Context) -> list[Reply]:
    return []


async def _other(ctx: Context) -> list[Reply]:
    return []


def test_an_included_router_brings_its_handlers_and_hooks() -> None:
    tab = Router()
    tab.button("lk_pay", "lk_inv")(_shown)
    tab.command("/lookup", "tra cứu")(_shown)
    tab.step("pin.new", secret=True)(_shown)
    tab.on_location(_shown)
    started: list[str] = []
    tab.startup(lambda: started.append("tab"))

    root = Router()
    root.include(tab)
    root.emit_startup()

    assert root.button_names == ["lk_inv", "lk_pay"]
    assert root.command_names == ["/lookup"]
    assert root.expects_secret(ConversationState({"awaiting": {"step": "pin.new"}}))
    assert started == ["tab"]
    assert root.for_payload("lk_pay:PC05CC0123456:2026-10-1") == Route(
        _shown, "PC05CC0123456:2026-10-1"
    )
    assert root.for_payload("lk_inv") == Route(_shown, None)
    assert root.for_payload("nobody") is None


def test_a_name_two_tabs_take_is_a_wiring_mistake() -> None:
    first, second = Router(), Router()
    first.button("account")(_shown)
    second.button("account")(_other)
    root = Router()
    root.include(first)
    with pytest.raises(ValueError, match="button 'account' is registered twice"):
        root.include(second)


def test_one_contact_handler_across_tabs() -> None:
    first, second = Router(), Router()
    first.on_contact(_shown)
    second.on_contact(_other)
    with pytest.raises(ValueError, match="contact handler is registered twice"):
        Router().include(first, second)
