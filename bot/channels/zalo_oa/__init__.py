"""Zalo Official Account (OA) through its Open API v3: settings and capabilities (issue 17).

channel.py runs the channel (the signed webhook, events, customer-service messages, the
ZNS fallback), client.py makes the OA, OAuth and ZNS calls, tokens.py keeps the token
pair (one refresher at a time across processes), zns.py reads the ZNS templates' YAML.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.channels.base import ChannelSettings, ChannelSettingsError
from bot.core.messages import ChannelCaps
from bot.notify.limits import ChannelLimit

# The OA's customer-service message: at most 2000 characters of text, and a button
# template of at most 5 buttons (more become numbered options, bot/channels/base.py).
# Documents go as signed links (the OA's file upload is for its own files).
ZALO_OA_CAPS = ChannelCaps(max_buttons=5, max_text=2000, documents=False)


class ZaloOaSettings(ChannelSettings):
    """CSKH_ZALO_OA_*: the app (id and secret, from developers.zalo.me), the OA secret key
    (signs the webhook; not the app secret), the first token pair (later pairs live in
    the database), the API addresses (tests point them at a fake), and ZNS."""

    model_config = SettingsConfigDict(env_prefix="CSKH_ZALO_OA_")
    channel_name = "zalo_oa"

    app_id: str | None = None
    app_secret: SecretStr | None = None
    secret_key: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    api_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    zns_api_url: str = Field(
        default="https://business.openapi.zalo.me",
        validation_alias=AliasChoices("zns_api_url", "CSKH_ZALO_ZNS_API_URL"),
    )
    # The YAML of ZNS templates by notice kind (README, "Zalo OA"); unset: no fallback.
    zns_templates: Path | None = Field(
        default=None, validation_alias=AliasChoices("zns_templates", "CSKH_ZALO_ZNS_TEMPLATES")
    )
    # The ZNS template of one-time codes; set: "Nhận mã qua Zalo" beside SMS and e-mail.
    zns_otp_template: str | None = Field(
        default=None,
        validation_alias=AliasChoices("zns_otp_template", "CSKH_ZALO_ZNS_OTP_TEMPLATE"),
    )
    # The template's parameter that takes the code.
    zns_otp_param: str = Field(
        default="otp", validation_alias=AliasChoices("zns_otp_param", "CSKH_ZALO_ZNS_OTP_PARAM")
    )
    # Seconds before the access token's expiry when it is refreshed.
    refresh_margin: float = Field(default=3600.0, ge=0)
    # The OA answers a customer for 7 days after their last message (customer service).
    cs_window_days: float = Field(default=7.0, gt=0)
    max_file_mb: float = Field(default=5.0, gt=0)
    rate: float = Field(default=10.0, gt=0)
    chat_interval: float = Field(default=0.5, ge=0)

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.secret_key and (self.access_token or self.refresh_token))

    def rate_limit(self) -> ChannelLimit:
        return ChannelLimit(self.rate, self.chat_interval)

    def check(self) -> None:
        if self.app_secret is None:
            raise ChannelSettingsError(
                "the Zalo OA needs CSKH_ZALO_OA_APP_SECRET to refresh its access token"
            )
        if self.refresh_token is None:
            raise ChannelSettingsError(
                "the Zalo OA needs CSKH_ZALO_OA_REFRESH_TOKEN (its access token lasts 25 hours)"
            )
        if self.zns_templates is not None and not self.zns_templates.is_file():
            raise ChannelSettingsError(
                f"CSKH_ZALO_ZNS_TEMPLATES: no such file {self.zns_templates}"
            )


__all__ = ["ZALO_OA_CAPS", "ZaloOaSettings"]
