"""A staff member's browser without a browser: cookies, the CSRF token of the last page,
forms posted as a page posts them (tests/e2e/ drives real Chromium)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

DEMO_PASSWORDS = {
    "agent": "Agent@2026cskh",
    "supervisor": "Super@2026cskh",
    "operations": "Ops@2026cskh",
    "marketing": "Market@2026cskh",
    "admin": "Admin@2026cskh",
}


class StaffClient:
    """One staff member's browser session against a running server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.last: aiohttp.ClientResponse | None = None

    async def close(self) -> None:
        await self.session.close()

    async def login(self, username: str, password: str | None = None) -> tuple[int, str]:
        _, page = await self.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token, page
        return await self.post(
            "/console/login",
            {
                "csrf": token.group(1),
                "username": username,
                "password": password if password is not None else DEMO_PASSWORDS[username],
            },
            with_csrf=False,
        )

    async def get(self, path: str, **headers: str) -> tuple[int, str]:
        async with self.session.get(self.base_url + path, headers=headers) as response:
            self.last = response
            text = await response.text()
        token = re.search(r'<meta name="csrf" content="([^"]*)"', text)
        if token and token.group(1):
            self.csrf = token.group(1)
        return response.status, text

    async def post(
        self,
        path: str,
        data: Any = None,
        *,
        with_csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        form = aiohttp.FormData()
        for name, value in (data or {}).items():
            if isinstance(value, tuple):  # (filename, bytes, content type)
                form.add_field(name, value[1], filename=value[0], content_type=value[2])
            else:
                form.add_field(name, str(value))
        if with_csrf and "csrf" not in (data or {}):
            form.add_field("csrf", self.csrf)
        async with self.session.post(
            self.base_url + path, data=form, headers=headers or {}, allow_redirects=True
        ) as response:
            self.last = response
            text = await response.text()
        token = re.search(r'<meta name="csrf" content="([^"]*)"', text)
        if token and token.group(1):
            self.csrf = token.group(1)
        return response.status, text

    def cookie(self, name: str) -> Any:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie
        return None
