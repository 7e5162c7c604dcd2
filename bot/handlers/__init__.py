"""Conversation logic, one module per tab of the app; `build_router` wires them all."""

from __future__ import annotations

from bot.core.router import Router
from bot.handlers import (
    account,
    bills,
    estimate,
    freetext,
    lookups,
    my_account,
    navigation,
    notices,
    outages,
    password_reset,
    payments,
    pin,
    points,
    schedule,
    services,
    settings,
    support,
)

MODULES = (services,)
TABS = (
    navigation.router,
    account.router,
    password_reset.router,
    lookups.router,
    estimate.router,
    schedule.router,
    points.router,
    outages.router,
    bills.router,
    payments.router,
    notices.router,
    settings.router,
    my_account.router,
    pin.router,
)


def build_router() -> Router:
    router = Router()
    for module in MODULES:
        module.register(router)
    router.include(*TABS)
    router.include(support.router)
    freetext.register(router)
    router.emit_startup()
    return router
