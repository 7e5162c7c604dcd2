"""Conversation logic, one module per tab of the app; `build_router` wires them all."""

from __future__ import annotations

from bot.core.router import Router
from bot.handlers import (
    account,
    bills,
    freetext,
    lookups,
    navigation,
    notices,
    payments,
    services,
    settings,
    support,
)

MODULES = (
    navigation,
    account,
    lookups,
    bills,
    services,
)
TABS = (
    payments.router,
    notices.router,
)
LATER = (settings,)


def build_router() -> Router:
    router = Router()
    for module in MODULES:
        module.register(router)
    router.include(*TABS)
    for module in LATER:
        module.register(router)
    router.include(support.router)
    freetext.register(router)
    router.emit_startup()
    return router
