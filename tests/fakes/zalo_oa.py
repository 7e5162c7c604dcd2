"""A fake Zalo OA on loopback: OAuth, the OA Open API, ZNS and the CDN customers' files
come from; the channel's real client code talks to it.

OAuth rotates the pair on every refresh and invalidates the refresh token used (a second
use is refused, as Zalo does); the OA answers -216 to an access token it does not know;
`fail` makes the next calls answer an error code (-216, -230, -213, a ZNS quota or
template error); `event` builds a webhook event and `post_event` signs and posts it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

APP_ID = "4321987650012"
APP_SECRET = "app-secret-not-the-oa-key"
OA_SECRET_KEY = "oa-secret-key-signs-events"
OA_ID = "579745863508352884"


@dataclass
class Sent:
    """A customer-service message or ZNS the fake accepted."""

    kind: str  # cs | zns
    user_id: str | None
    body: dict[str, Any]
    token: str

    @property
    def text(self) -> str:
        return str(self.body.get("message", {}).get("text") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        attachment = self.body.get("message", {}).get("attachment") or {}
        return list((attachment.get("payload") or {}).get("buttons") or [])

    @property
    def image(self) -> str | None:
        attachment = self.body.get("message", {}).get("attachment") or {}
        elements = (attachment.get("payload") or {}).get("elements") or []
        return elements[0].get("attachment_id") if elements else None


@dataclass
class _Failure:
    code: int
    message: str
    times: int
    user_id: str | None = None


@dataclass
class FakeZaloOa:
    access_token: str = "access-0"
    refresh_token: str = "refresh-0"
    expires_in: int = 90000
    refresh_delay: float = 0.0  # seconds OAuth takes: widens a race between refreshers
    refreshes: int = 0
    refresh_refused: bool = False  # the chain is lost: every refresh is refused
    sent: list[Sent] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    valid_access: set[str] = field(default_factory=set)
    used_refresh: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.valid_access = {self.access_token}
        self._failures: dict[str, list[_Failure]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeZaloOa:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_post("/message/template", self._zns)
        app.router.add_get("/cdn/{name}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test controls -------------------------------------------------------------------

    def fail(self, kind: str, code: int, *, times: int = 1, user_id: str | None = None) -> None:
        """The next `times` calls of `kind` ("cs", "zns", "upload") answer `code`."""
        self._failures.setdefault(kind, []).append(
            _Failure(code, f"injected error {code}", times, user_id)
        )

    def expire_access(self) -> None:
        """Zalo forgets every access token it gave (they answer -216)."""
        self.valid_access.clear()

    def add_file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/cdn/{name}"

    def cs(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "cs" and s.user_id == user_id]

    def zns(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "zns"]

    # --- events ------------------------------------------------------------------------

    def event(self, name: str, user_id: str, **message: Any) -> dict[str, Any]:
        timestamp = str(int(time.time() * 1000))
        if name in ("follow", "unfollow"):
            return {
                "app_id": APP_ID,
                "oa_id": OA_ID,
                "event_name": name,
                "timestamp": timestamp,
                "source": "testing",
                "follower": {"id": user_id},
                "user_id_by_app": "app" + user_id,
            }
        return {
            "app_id": APP_ID,
            "user_id_by_app": "app" + user_id,
            "event_name": name,
            "timestamp": timestamp,
            "sender": {"id": user_id},
            "recipient": {"id": OA_ID},
            "message": {"msg_id": f"msg{next(self._ids):06d}" + "a" * 24, **message},
        }

    @staticmethod
    def sign(body: bytes, timestamp: str, key: str = OA_SECRET_KEY) -> str:
        digest = hashlib.sha256(APP_ID.encode() + body + timestamp.encode() + key.encode())
        return "mac=" + digest.hexdigest()

    async def post_event(
        self,
        session: aiohttp.ClientSession,
        webhook_url: str,
        event: dict[str, Any],
        *,
        key: str = OA_SECRET_KEY,
        signature: str | None = None,
        body: bytes | None = None,
    ) -> int:
        """Post a signed event as Zalo does; the HTTP status the bot answered."""
        raw = body if body is not None else json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        sig = signature if signature is not None else self.sign(raw, event["timestamp"], key)
        if sig:
            headers["X-ZEvent-Signature"] = sig
        async with session.post(webhook_url, data=raw, headers=headers) as response:
            return response.status

    # --- the API -------------------------------------------------------------------------

    def _failure(self, kind: str, user_id: str | None = None) -> web.Response | None:
        for failure in self._failures.get(kind, []):
            if failure.times > 0 and failure.user_id in (None, user_id):
                failure.times -= 1
                return web.json_response({"error": failure.code, "message": failure.message})
        return None

    def _token_refused(self, request: web.Request, code: int = -216) -> web.Response | None:
        if request.headers.get("access_token") not in self.valid_access:
            return web.json_response({"error": code, "message": "Access token is invalid"})
        return None

    async def _refresh(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14001, "error_name": "Invalid app"})
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14002, "error_name": "Invalid grant type"})
        given = str(form.get("refresh_token"))
        self.used_refresh.append(given)
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        if self.refresh_refused or given != self.refresh_token:
            return web.json_response(
                {"error": -14014, "error_name": "Invalid refresh token", "error_reason": ""}
            )
        self.refreshes += 1
        self.access_token = f"access-{self.refreshes}"
        self.refresh_token = f"refresh-{self.refreshes}"  # the old one is dead now
        self.valid_access.add(self.access_token)
        return web.json_response(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": str(self.expires_in),
            }
        )

    async def _cs(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = str((body.get("recipient") or {}).get("user_id"))
        refused = self._token_refused(request) or self._failure("cs", user_id)
        if refused is not None:
            return refused
        self.sent.append(Sent("cs", user_id, body, request.headers["access_token"]))
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": f"m{len(self.sent)}"}}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        refused = self._token_refused(request) or self._failure("upload")
        if refused is not None:
            return refused
        data = await request.post()
        file = data["file"]
        assert isinstance(file, web.FileField)
        attachment = f"att{next(self._ids)}"
        self.uploads[attachment] = file.file.read()
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"attachment_id": attachment}}
        )

    async def _zns(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._token_refused(request, -124) or self._failure("zns")
        if refused is not None:
            return refused
        self.sent.append(Sent("zns", None, body, request.headers["access_token"]))
        return web.json_response(
            {
                "error": 0,
                "message": "Success",
                "data": {"msg_id": f"z{len(self.sent)}", "sent_time": "1", "quota": {}},
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")
