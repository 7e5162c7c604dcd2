"""The Zalo OA Open API, OAuth and ZNS calls the channel makes (aiohttp).

Every OA answer is JSON {"error": 0, "message": ..., "data": {...}}; a nonzero error is
raised as `ZaloError` with Zalo's code: -216 the access token is invalid, -230 the user
has not written to the OA for 7 days (outside the customer-service window), -213 the
user does not follow the OA (any more). OAuth answers the new pair, or an error code
(the refresh token was used, revoked or expired).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.channels.zalo_oa import ZaloOaSettings

log = logging.getLogger(__name__)

INVALID_TOKEN = -216
OUTSIDE_WINDOW = -230
NOT_FOLLOWING = -213
RATE_LIMITED = -32
# ZNS: an invalid access token (as -216 on the OA).
ZNS_INVALID_TOKEN = -124
TIMEOUT = aiohttp.ClientTimeout(total=30)


class ZaloError(Exception):
    """Zalo answered a nonzero error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"zalo error {code}: {message}")
        self.code = code
        self.message = message


class ZaloTransportError(Exception):
    """Zalo could not be reached or answered no JSON (a network or server error)."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: float  # seconds


class ZaloClient:
    """One HTTP session for the OA's calls; `start` before use, `close` after."""

    def __init__(self, config: ZaloOaSettings) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        try:
            body = await response.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError) as error:
            raise ZaloTransportError(f"HTTP {response.status}: not JSON") from error
        if not isinstance(body, dict):
            raise ZaloTransportError(f"HTTP {response.status}: not a JSON object")
        if response.status >= 500:
            raise ZaloTransportError(f"HTTP {response.status}")
        return body

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.session.request(method, url, **kwargs) as response:
                body = await self._json(response)
        except aiohttp.ClientError as error:
            raise ZaloTransportError(str(error) or type(error).__name__) from error
        except TimeoutError as error:
            raise ZaloTransportError("timed out") from error
        code = body.get("error", 0)
        if isinstance(code, int) and code != 0:
            raise ZaloError(code, str(body.get("message") or body.get("error_name") or ""))
        return body

    # --- OAuth ----------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for the (single-use) refresh token."""
        assert self.config.app_secret is not None and self.config.app_id is not None
        body = await self._call(
            "POST",
            self.config.oauth_url.rstrip("/") + "/v4/oa/access_token",
            data={
                "refresh_token": refresh_token,
                "app_id": self.config.app_id,
                "grant_type": "refresh_token",
            },
            headers={"secret_key": self.config.app_secret.get_secret_value()},
        )
        try:
            return TokenPair(
                str(body["access_token"]),
                str(body["refresh_token"]),
                float(body.get("expires_in") or 90000),
            )
        except (KeyError, ValueError) as error:
            raise ZaloTransportError(f"OAuth answered no token pair: {error}") from error

    # --- OA -------------------------------------------------------------------------------

    async def send_cs(self, token: str, user_id: str, message: dict[str, Any]) -> str | None:
        """A customer-service message; Zalo's id of it."""
        body = await self._call(
            "POST",
            self.config.api_url.rstrip("/") + "/v3.0/oa/message/cs",
            json={"recipient": {"user_id": user_id}, "message": message},
            headers={"access_token": token},
        )
        data = body.get("data") or {}
        message_id = data.get("message_id") if isinstance(data, dict) else None
        return str(message_id) if message_id else None

    async def upload_image(self, token: str, data: bytes, filename: str, content_type: str) -> str:
        """Upload an image; its attachment id."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        body = await self._call(
            "POST",
            self.config.api_url.rstrip("/") + "/v2.0/oa/upload/image",
            data=form,
            headers={"access_token": token},
        )
        attachment = (body.get("data") or {}).get("attachment_id")
        if not attachment:
            raise ZaloTransportError("the image upload answered no attachment id")
        return str(attachment)

    async def download(self, url: str, limit: int) -> bytes | None:
        """A file a customer sent (Zalo's CDN); None when it is larger than `limit`."""
        try:
            async with self.session.get(url) as response:
                if response.status != 200:
                    raise ZaloTransportError(f"download: HTTP {response.status}")
                if (response.content_length or 0) > limit:
                    return None
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        return None
                return bytes(data)
        except aiohttp.ClientError as error:
            raise ZaloTransportError(str(error) or type(error).__name__) from error

    # --- ZNS ------------------------------------------------------------------------------

    async def send_zns(
        self,
        token: str,
        phone: str,
        template_id: str,
        template_data: dict[str, str],
        tracking_id: str,
    ) -> str | None:
        """A ZNS template message to a phone number ("84..."); Zalo's id of it."""
        body = await self._call(
            "POST",
            self.config.zns_api_url.rstrip("/") + "/message/template",
            json={
                "phone": phone,
                "template_id": template_id,
                "template_data": template_data,
                "tracking_id": tracking_id,
            },
            headers={"access_token": token},
        )
        data = body.get("data") or {}
        message_id = data.get("msg_id") if isinstance(data, dict) else None
        return str(message_id) if message_id else None
