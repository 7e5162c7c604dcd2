"""The console's routes: sign-in and sign-out, the guard around every page (session,
role, CSRF), static files, customers' media for staff, and the live event stream."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.auth import staff as staff_accounts
from bot.auth.audit import record_staff
from bot.console import (
    broadcasts,
    canned,
    conversations,
    dashboard,
    faq,
    incidents,
    outages,
    payments,
    queue,
    request_fee,
    requests,
    security,
)
from bot.console.access import EVERYONE, NAVIGATION, SUPPORT, Handler, Page, Pages
from bot.console.base import (
    ALERTS,
    CONSOLE,
    SECURITY_HEADERS,
    STAFF,
    STATIC,
    Console,
    ConsoleServices,
    console_of,
    home_of,
    redirect,
    staff_of,
)
from bot.console.sessions import COOKIE, LOGIN_COOKIE, Expired
from bot.core.network import client_address_from
from bot.store.media import load_media
from bot.store.throttle import Rate

log = logging.getLogger(__name__)

LOGIN_WINDOW = 900.0  # seconds: the sign-in limits count attempts per 15 minutes
HEARTBEAT = 15.0  # seconds between keep-alive comments on the event stream
SESSION_CHECK = 60.0  # seconds between checks that the stream's session is still valid
# Customers' files staff may open in the browser; anything else is downloaded.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"})

own = Pages()


def page_modules() -> Iterable[Pages]:
    """Every module's routes (the access test walks them all)."""
    return (
        own,
        conversations.pages,
        queue.pages,
        canned.pages,
        faq.pages,
        requests.pages,
        request_fee.pages,
        outages.pages,
        incidents.pages,
        broadcasts.pages,
        dashboard.pages,
        security.pages,
        payments.pages,
    )


def all_pages() -> list[Page]:
    return [page for module in page_modules() for page in module.pages]


def console_routes(services: ConsoleServices) -> list[web.AbstractRouteDef]:
    """The routes the composition root adds to the web app."""
    console = Console(services)
    pages = all_pages()
    existing = {page.path for page in pages if page.method == "GET"}
    console.navigation = tuple(entry for entry in NAVIGATION if entry[0] in existing)
    routes: list[web.AbstractRouteDef] = [
        web.get("/console", _home(console)),
        web.get("/console/", _home(console)),
        web.get("/console/login", _login_form(console)),
        web.post("/console/login", _login(console)),
        web.static("/console/static", STATIC, append_version=True),
    ]
    routes += [web.route(page.method, page.path, _guarded(console, page)) for page in all_pages()]
    return routes


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _wants_json(request: web.Request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or request.path.endswith("/events")


def _guarded(console: Console, page: Page) -> Handler:
    """Run `page` only for a signed-in staff member of an allowed role, and a change
    only with the session's CSRF token from our own origin."""

    async def guard(request: web.Request) -> web.StreamResponse:
        try:
            signed = await console.sessions.load(request.cookies.get(COOKIE))
        except Expired:
            return _secure(_to_login(request, expired=True))
        if signed is None:
            return _secure(_to_login(request))
        request[STAFF] = signed
        request[CONSOLE] = console
        request[ALERTS] = await console.alerts()
        if signed.role not in page.roles:
            return _secure(
                _refused(console, request, "Tài khoản của bạn không có quyền mở trang này.")
            )
        if page.changes and not await _csrf_ok(request, signed.csrf):
            return _secure(
                _refused(
                    console,
                    request,
                    "Yêu cầu không hợp lệ (thiếu mã chống giả mạo). Tải lại trang rồi thử lại.",
                )
            )
        return _secure(await page.handler(request))

    return guard


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        return False  # a form posted from another site
    given: str | None = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _to_login(request: web.Request, *, expired: bool = False) -> web.StreamResponse:
    if _wants_json(request) or request.method != "GET":
        return web.json_response({"error": "signed out", "login": "/console/login"}, status=401)
    target = f"/console/login?next={quote(request.path_qs, safe='')}"
    if expired:
        target += "&expired=1"
    response = redirect(target)
    if expired:
        response.del_cookie(COOKIE, path="/console")
    return response


def _refused(console: Console, request: web.Request, reason: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": reason}, status=403)
    return console.render(request, "refused.html", status=403, reason=reason)


def _home(console: Console) -> Handler:
    async def home(request: web.Request) -> web.StreamResponse:
        try:
            signed = await console.sessions.load(request.cookies.get(COOKIE))
        except Expired:
            signed = None
        return _secure(redirect(home_of(console, signed.role) if signed else "/console/login"))

    return home


def _safe_next(target: str | None) -> str | None:
    """Only a console path of ours (no "//evil.example" or "https://...")."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


def _login_form(console: Console) -> Handler:
    async def form(request: web.Request) -> web.StreamResponse:
        return _login_page(console, request)

    return form


def _login_page(
    console: Console, request: web.Request, *, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    response = console.render(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        next=_safe_next(request.query.get("next")) or "",
        expired=request.query.get("expired") == "1",
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path="/console/login",
        httponly=True,
        samesite="Strict",
        secure=console.secure_cookies,
    )
    return _secure(response)


def _login(console: Console) -> Handler:
    async def login(request: web.Request) -> web.StreamResponse:
        services = console.services
        form = await request.post()
        given, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return _login_page(
                console, request, error="Trang đăng nhập đã cũ. Vui lòng đăng nhập lại.", status=403
            )
        username = str(form.get("username", "")).strip().lower()[:60]
        password = str(form.get("password", ""))[:200]
        address = client_address_from(
            request.remote,
            request.headers.getall("X-Forwarded-For", []),
            services.settings.trusted_proxies,
        )
        wait = await _login_allowed(console, username, address)
        if wait:
            async with services.db.transaction() as session:
                record_staff(session, "staff_login_throttled", username or "?", subject=address)
            minutes = max(1, round(wait / 60))
            return _login_page(
                console,
                request,
                error=f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                status=429,
            )
        async with services.db.transaction() as session:
            account = await staff_accounts.authenticate(
                session, username, password, now=console.now
            )
            if account is None:
                record_staff(session, "staff_login_failed", username or "?", subject=address)
            else:
                record_staff(session, "staff_login", account.username, subject=address)
        if account is None:
            return _login_page(
                console, request, error="Tên đăng nhập hoặc mật khẩu không đúng.", status=401
            )
        token = await console.sessions.open(account, address)
        target = _safe_next(str(form.get("next", ""))) or home_of(console, account.role)
        response = redirect(target)
        response.set_cookie(
            COOKIE,
            token,
            path="/console",
            httponly=True,
            samesite="Lax",
            secure=console.secure_cookies,
        )
        response.del_cookie(LOGIN_COOKIE, path="/console/login")
        return _secure(response)

    return login


async def _login_allowed(console: Console, username: str, address: str | None) -> float:
    """0 when this attempt may go ahead; else seconds to wait. Counted per account and
    per address, so neither guessing one account's password from many addresses nor
    many accounts' from one address gets far."""
    settings = console.services.settings
    throttle = console.services.throttle
    checks = [
        (f"console-login:user:{username}", settings.console_login_per_account),
        (f"console-login:addr:{address or '?'}", settings.console_login_per_address),
    ]
    waits = []
    for key, count in checks:
        verdict = await throttle.take(key, Rate(count, LOGIN_WINDOW))
        if not verdict.allowed:
            waits.append(verdict.retry_after)
    return max(waits, default=0.0)


@own.post("/console/logout", EVERYONE)
async def logout(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    await console.sessions.close(staff.session_id)
    async with console.services.db.transaction() as session:
        record_staff(session, "staff_logout", staff.username)
    response = redirect("/console/login")
    response.del_cookie(COOKIE, path="/console")
    return response


@own.get("/console/me", EVERYONE)
async def me(request: web.Request) -> web.StreamResponse:
    """The signed-in account: name, role, what the role may do, where to go."""
    console, staff = console_of(request), staff_of(request)
    return console.render(request, "me.html", role_text=staff_accounts.ROLES[staff.role])


@own.get("/console/media/{media_id}", SUPPORT)
async def media(request: web.Request) -> web.StreamResponse:
    """A customer's photo or document (or one sent to them), for staff only."""
    console = console_of(request)
    media_id = request.match_info["media_id"]
    async with console.services.db.reading() as session:
        stored = await load_media(session, media_id)
    if stored is None:
        raise web.HTTPNotFound(text="Tệp không còn (đã quá hạn lưu hoặc đã bị xóa).")
    inline = stored.content_type in INLINE_TYPES
    filename = "".join(c for c in stored.filename if c.isalnum() or c in "._-") or "tep"
    return web.Response(
        body=stored.data,
        content_type=stored.content_type if inline else "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
            "Cache-Control": "private, max-age=300",
        },
    )


@own.get("/console/events", SUPPORT)
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ids of what changed, for the open page to fetch."""
    console, staff = console_of(request), staff_of(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    _secure(response)
    loop = asyncio.get_running_loop()
    checked = loop.time()
    # Subscribed before the page hears "open" (when it fetches what it may have missed),
    # so no change falls between its fetch and the stream.
    with console.services.live.subscribe() as feed:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                event = await asyncio.wait_for(feed.get(), HEARTBEAT)
                chunk = f"data: {json.dumps(event)}\n\n".encode()
            except TimeoutError:
                chunk = b": keep-alive\n\n"
            if loop.time() - checked > SESSION_CHECK:
                checked = loop.time()
                try:
                    still = await console.sessions.load(request.cookies.get(COOKIE), touch=False)
                except Expired:
                    still = None
                if still is None or still.id != staff.id:
                    chunk = b'data: {"type": "signed_out"}\n\n'
                    with contextlib.suppress(ConnectionResetError):
                        await response.write(chunk)
                    break
            try:
                await response.write(chunk)
            except (ConnectionResetError, RuntimeError):
                break
    return response
