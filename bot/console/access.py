"""Who may do what in the console: every route is declared here with its roles.

`Pages` collects a module's routes; `web.py` wraps each one so that it runs only for
a signed-in staff member whose role is listed (else 403), and only with the session's
CSRF token when it changes something (else 403). The route table test walks every
route with every role (tests/console/test_access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Groups of roles by the work they do (bot/auth/staff.py: ROLES).
SUPPORT = frozenset({"agent", "supervisor", "admin"})  # conversations, requests, queue
LEADS = frozenset({"supervisor", "admin"})  # canned replies, dashboard, security events
OPERATIONS = frozenset({"operations", "supervisor", "admin"})  # outages
MARKETING = frozenset({"marketing", "admin"})  # broadcasts
EVERYONE = frozenset({"agent", "supervisor", "operations", "marketing", "admin"})


@dataclass(frozen=True)
class Page:
    """One route of the console: method, path, the roles allowed, the handler."""

    method: str
    path: str
    roles: frozenset[str]
    handler: Handler

    @property
    def changes(self) -> bool:
        """A state-changing call: it needs the CSRF token."""
        return self.method not in ("GET", "HEAD")


class Pages:
    """A module's routes, declared with their roles."""

    def __init__(self) -> None:
        self.pages: list[Page] = []

    def get(self, path: str, roles: frozenset[str]) -> Callable[[Handler], Handler]:
        return self._add("GET", path, roles)

    def post(self, path: str, roles: frozenset[str]) -> Callable[[Handler], Handler]:
        return self._add("POST", path, roles)

    def _add(self, method: str, path: str, roles: frozenset[str]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.pages.append(Page(method, path, roles, handler))
            return handler

        return register


# The navigation bar: (path, label, roles), shown to the roles that may open it.
NAVIGATION: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/console/conversations", "Hội thoại", SUPPORT),
    ("/console/queue", "Hàng chờ", SUPPORT),
    ("/console/requests", "Yêu cầu dịch vụ", SUPPORT),
    ("/console/outages", "Lịch ngừng cấp điện", OPERATIONS),
    ("/console/incidents", "Sự cố nghi ngờ", OPERATIONS),
    ("/console/broadcasts", "Thông báo quảng bá", MARKETING),
    ("/console/payments/held", "Thanh toán giữ lại", LEADS),
    ("/console/dashboard", "Tổng quan", LEADS),
    ("/console/canned", "Câu trả lời mẫu", LEADS),
    ("/console/faq", "Hỏi đáp", LEADS),
    ("/console/security", "Sự kiện bảo mật", LEADS),
)
