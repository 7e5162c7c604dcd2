"""Conversation logic: each module holds the module-level handlers of one tab (or one
part of a tab) on a `router` of its own; `build_router` includes them all.

Adding a tab: a module here with its `router` and handlers, one line in ROUTERS below,
its button in common.main_menu_buttons, and its texts in domain.yml.
"""

from __future__ import annotations

from bot.core.router import Router
from bot.handlers import (
    account,
    bill_explain,
    bills,
    estimate,
    faq,
    freetext,
    incidents,
    lookups,
    my_account,
    navigation,
    notices,
    outages,
    password_reset,
    payments,
    pin,
    points,
    progress,
    schedule,
    service_form,
    services,
    settings,
    support,
)

# Every router the engine's includes, in this order: the `before` hooks run in it (an
# expired draft is dropped before the PIN window slides).
ROUTERS = (
    navigation.router,
    account.router,
    password_reset.router,
    lookups.router,
    estimate.router,
    schedule.router,
    points.router,
    outages.router,
    bills.router,
    bill_explain.router,
    services.router,
    service_form.router,
    incidents.router,
    progress.router,
    payments.router,
    notices.router,
    settings.router,
    my_account.router,
    pin.router,
    support.router,
    faq.router,
    freetext.router,  # the fallback: free text no one else took
)


def build_router() -> Router:
    """The engine's router: every tab's, then the startup hooks (domain.yml's forms are
    loaded and checked here)."""
    router = Router()
    router.include(*ROUTERS)
    router.emit_startup()
    return router
