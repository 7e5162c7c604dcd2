"""What every console page shares: its services, the signed-in staff member, templates
(Jinja2 with autoescape on: a customer's `<script>` is shown, never run) and the
security headers of every answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.billing.tariffs import TariffBook
from bot.console.access import NAVIGATION
from bot.console.sessions import SessionStore, SignedIn
from bot.core import fmt, phones
from bot.core.clock import Clock
from bot.core.faq import FaqBook
from bot.core.live import LiveFeed
from bot.core.texts import Texts
from bot.notify.push import Pusher
from bot.settings import Settings
from bot.store.backend import UtilityBackend
from bot.store.db import Database
from bot.store.throttle import Throttle

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STAFF = web.RequestKey("console_staff", SignedIn)  # the signed-in staff member

# Script, styles and images come from here only: nothing a customer wrote can load
# or run anything, even if a page forgot to escape it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

MODE_LABELS = {
    "bot": "Bot",
    "waiting": "Chờ nhân viên",
    "staff": "Nhân viên",
    "resolved": "Đã xong",
}
CHANNEL_LABELS = {"telegram": "Telegram", "web": "Web chat", "rest": "REST", "zalo": "Zalo"}


@dataclass
class ConsoleServices:
    """The services the console calls, built once by the composition root."""

    db: Database
    settings: Settings
    texts: Texts
    pusher: Pusher
    live: LiveFeed
    throttle: Throttle
    clock: Clock
    backend: UtilityBackend
    tariffs: TariffBook  # the side panel's bill explanation (issue 18)
    # What an admin must fix, for a banner on every page (a channel that lost its
    # credentials: Zalo OA's token chain); none when not given.
    alerts: Callable[[], Awaitable[list[str]]] | None = None
    faq: FaqBook = field(default_factory=FaqBook)  # the bot's, so an edit reindexes it


ALERTS = web.RequestKey("console_alerts", list)  # the banner's lines for this page
ALERTS_EVERY = 30.0  # seconds the banner's lines are kept before they are read again


class Console:
    """Templates, sessions and services of the console; pages reach it with
    `console_of(request)`."""

    def __init__(self, services: ConsoleServices) -> None:
        self.services = services
        settings = services.settings
        self.sessions = SessionStore(
            services.db, services.clock, timedelta(minutes=settings.console_idle_minutes)
        )
        self.secure_cookies = settings.effective_public_url.startswith("https://")
        self._alerts: tuple[float, list[str]] | None = None
        # The navigation's pages that exist (web.py keeps it to the registered routes).
        self.navigation: tuple[tuple[str, str, frozenset[str]], ...] = NAVIGATION
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(
            money=fmt.money,
            number=fmt.number,
            day=fmt.day,
            clock=fmt.clock,
            moment=moment,
            waited=self.waited,
            phone=lambda e164: phones.shown(e164) if e164 else "",
            mode=lambda mode: MODE_LABELS.get(mode, mode),
            channel=lambda name: CHANNEL_LABELS.get(name, name),
        )

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    async def alerts(self) -> list[str]:
        """The banner's lines (read at most every ALERTS_EVERY seconds); a failure to
        read them shows none rather than failing the page."""
        read = self.services.alerts
        if read is None:
            return []
        moment = time.monotonic()
        if self._alerts is None or moment - self._alerts[0] > ALERTS_EVERY:
            try:
                self._alerts = (moment, await read())
            except Exception:
                log.warning("console: the alerts could not be read", exc_info=True)
                return []
        return self._alerts[1]

    def waited(self, since: datetime | None) -> str:
        """How long a customer has waited, as "12 phút" / "2 giờ 5 phút"."""
        if since is None:
            return ""
        return duration(self.now - since)

    def render(
        self, request: web.Request, template: str, *, status: int = 200, **values: Any
    ) -> web.Response:
        """A whole page (with the navigation of the staff member's role)."""
        staff = request.get(STAFF)
        context = {
            "staff": staff,
            "csrf": staff.csrf if staff else "",
            "nav": [
                (path, label)
                for path, label, roles in self.navigation
                if staff is not None and staff.role in roles
            ],
            "path": request.path,
            "error": None,
            "notice": None,
            "alerts": request.get(ALERTS, []),
            **values,
        }
        body = self.templates.get_template(template).render(context)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    def fragment(self, template: str, **values: Any) -> str:
        return self.templates.get_template(template).render(values)


CONSOLE = web.RequestKey("console", Console)


def home_of(console: Console, role: str) -> str:
    """The first page a role lands on after signing in."""
    for path, _, roles in console.navigation:
        if role in roles:
            return path
    return "/console/me"


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location})


def console_of(request: web.Request) -> Console:
    console = request.get(CONSOLE)
    if not isinstance(console, Console):
        raise RuntimeError("a console page outside the console's guard")
    return console


def staff_of(request: web.Request) -> SignedIn:
    staff = request.get(STAFF)
    if not isinstance(staff, SignedIn):
        raise RuntimeError("a console page outside the console's guard")
    return staff


def moment(value: datetime | None) -> str:
    """A time in Vietnam: "14:30" today's, "14:30 26/11" this year's, else the date."""
    if value is None:
        return ""
    local = fmt.local(value)
    return f"{local:%H:%M %d/%m/%Y}"


def duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} phút"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"
    return f"{hours // 24} ngày"


def int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None
