"""One Settings object for the whole bot, read from CSKH_* environment variables.

Every field is documented in the README's settings table; later issues add their
settings here and there. Secrets are `SecretStr` so they never reach a log line or
a repr by accident.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"
# The built-in VNPay sandbox's hash secret: known to everyone, so refused for a real
# gateway (CSKH_VNPAY_URL set).
SANDBOX_VNPAY_SECRET = "CSKHSANDBOXSECRETCHANGEMEPLEASE00"


class Settings(BaseSettings):
    """Runtime configuration; env vars are the field names upper-cased with CSKH_."""

    model_config = SettingsConfigDict(
        env_prefix="CSKH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    var_dir: Path = Field(default=Path("var"), description="Where local state is kept.")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    secret_key: SecretStr | None = None
    rest_token: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    auto_migrate: bool = True
    demo_seed: bool = True
    default_language: Literal["vi", "en"] = "vi"
    hotline: str = "1900 1909"
    media_link_ttl: int = Field(default=86_400, ge=60)
    webchat_origins_csv: str = Field(default="", validation_alias="CSKH_WEBCHAT_ORIGINS")
    webchat_per_minute: int = Field(default=20, ge=1)
    webchat_burst: int = Field(default=8, ge=1)
    sms_provider: Literal["log", "http"] = "log"
    sms_http_url: str | None = None
    sms_http_token: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "CSKH Điện lực miền Trung <no-reply@cskh.local>"
    nlu_cache_dir: Path | None = None
    # Telegram's settings: read here under their documented names, the channel's own
    # model is bot/channels/telegram's TelegramSettings (it takes them from here).
    telegram_token: SecretStr | None = None
    telegram_mode: Literal["webhook", "polling"] = "polling"
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str | None = None
    max_upload_mb: int = Field(default=10, ge=1, le=50)
    media_dir: Path | None = None
    redis_url: str | None = None
    # Notices (bot/notify/): delivery inside `cskh serve`, rate limits, quiet hours.
    notify_worker: bool = True
    # Payments (bot/payments/): `cskh serve` settles what its VNPay IPNs recorded unless
    # CSKH_PAYMENT_WORKER=0 leaves that to `cskh worker` (the IPN then only records).
    payment_worker: bool = True
    notify_concurrency: int = Field(default=30, ge=1, le=1000)
    telegram_rate: float = Field(default=30.0, gt=0)
    telegram_chat_interval: float = Field(default=1.0, ge=0)
    quiet_hours: str = Field(default="21-7", pattern=r"^([01]?\d|2[0-3])-([01]?\d|2[0-3])$")
    outage_notice_days: int = Field(default=5, ge=0, le=30)
    marketing_per_week: int = Field(default=2, ge=0)
    # Outage report clustering (issue 19, bot/outages/): this many different chats
    # reporting an outage from one managing unit's ward within the window open a
    # suspected incident; a confirmed one is announced as expected to last this long.
    incident_threshold: int = Field(default=5, ge=2, le=1000)
    incident_window_minutes: int = Field(default=15, ge=1, le=240)
    incident_expected_hours: int = Field(default=4, ge=1, le=72)
    # Producers (bot/notify/producers.py, outages.py, scheduler.py): the runs in `cskh serve`
    # and how many days before the due date an unpaid bill is reminded of.
    notify_scheduler: bool = True
    payment_reminder_days: int = Field(default=3, ge=0, le=30)
    # Abuse limits (issue 12; docs/SECURITY.md). Addresses behind these proxies are read
    # from X-Forwarded-For; every other peer is the client itself.
    trusted_proxies_csv: str = Field(default="", validation_alias="CSKH_TRUSTED_PROXIES")
    sms_per_minute: int = Field(default=20, ge=1)
    sms_per_day: int = Field(default=2000, ge=1)
    otp_per_address_hour: int = Field(default=10, ge=1)
    otp_per_network_hour: int = Field(default=30, ge=1)
    webchat_address_per_minute: int = Field(default=120, ge=1)
    webchat_sockets_per_visitor: int = Field(default=5, ge=1)
    webchat_sockets_per_address: int = Field(default=50, ge=1)
    uploads_per_hour: int = Field(default=20, ge=1)
    uploads_per_address_hour: int = Field(default=60, ge=1)
    media_quota_user_mb: int = Field(default=100, ge=1)
    media_quota_total_mb: int = Field(default=10_240, ge=1)
    metrics_token: SecretStr | None = None
    # The staff console (issue 14): idle sign-out, sign-in limits, support hours.
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_login_per_account: int = Field(default=5, ge=1)  # attempts per 15 minutes
    console_login_per_address: int = Field(default=20, ge=1)  # attempts per 15 minutes
    support_hours: str = Field(default="7-17", pattern=r"^([01]?\d|2[0-3])-([01]?\d|2[0-4])$")
    support_saturday: bool = True
    # Payments (issue 16). VietQR: the utility's collection account (demo: a made-up
    # Vietcombank account). VNPay: without CSKH_VNPAY_URL the built-in sandbox at
    # /sandbox/vnpay plays the gateway (no internet needed), with the demo codes below.
    vietqr_bin: str = Field(default="970436", pattern=r"^\d{6}$")
    vietqr_account: str = Field(default="0011001234567", pattern=r"^[0-9A-Za-z]{1,19}$")
    vietqr_account_name: str = "TONG CONG TY DIEN LUC MIEN TRUNG"
    vietqr_bank_name: str = "Vietcombank"
    vnpay_tmn_code: str = "CSKHDEMO"
    vnpay_hash_secret: SecretStr = SecretStr(SANDBOX_VNPAY_SECRET)
    vnpay_url: str | None = None
    vnpay_api_url: str | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_url", mode="after")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("telegram_webhook_secret", mode="after")
    @classmethod
    def _telegram_secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - (setWebhook docs).
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("CSKH_TELEGRAM_WEBHOOK_SECRET: 1-256 of A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _real_gateway_needs_its_secret(self) -> Settings:
        if self.vnpay_url and self.vnpay_hash_secret.get_secret_value() == SANDBOX_VNPAY_SECRET:
            raise ValueError(
                "CSKH_VNPAY_URL points at a real gateway: set CSKH_VNPAY_TMN_CODE and "
                "CSKH_VNPAY_HASH_SECRET to the codes VNPay gave you"
            )
        return self

    @property
    def webchat_origins(self) -> list[str]:
        """Other origins allowed to open the web chat (CSKH_WEBCHAT_ORIGINS, comma-separated),
        besides the server's own address and CSKH_PUBLIC_URL."""
        return [o.strip().rstrip("/") for o in self.webchat_origins_csv.split(",") if o.strip()]

    @property
    def trusted_proxies(self) -> list[IPv4Network | IPv6Network]:
        """CSKH_TRUSTED_PROXIES as networks (a bare address is a network of one)."""
        return [
            ip_network(item.strip(), strict=False)
            for item in self.trusted_proxies_csv.split(",")
            if item.strip()
        ]

    @field_validator("trusted_proxies_csv", mode="after")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                try:
                    ip_network(item.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"CSKH_TRUSTED_PROXIES: {item.strip()!r} is not an address or network"
                    ) from None
        return value

    @property
    def quiet_range(self) -> tuple[int, int]:
        """CSKH_QUIET_HOURS as (start hour, end hour), local time."""
        start, end = self.quiet_hours.split("-")
        return int(start), int(end)

    @property
    def support_range(self) -> tuple[int, int]:
        """CSKH_SUPPORT_HOURS as (first hour, end hour), local time: staff answer
        chats from the first hour to the end hour on working days."""
        start, end = self.support_hours.split("-")
        return int(start), int(end)

    @property
    def media_path(self) -> Path:
        """Where photos and documents are kept (CSKH_MEDIA_DIR, else var/media)."""
        return self.media_dir or self.var_dir / "media"

    @property
    def nlu_cache_path(self) -> Path:
        """Where the trained language model is cached (CSKH_NLU_CACHE_DIR, else var/nlu)."""
        return self.nlu_cache_dir or self.var_dir / "nlu"

    @property
    def effective_database_url(self) -> str:
        """CSKH_DATABASE_URL, or the embedded SQLite file under the var directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'cskh.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        """The address customers' links use (CSKH_PUBLIC_URL, else http://HOST:PORT)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def vnpay_sandbox(self) -> bool:
        """No CSKH_VNPAY_URL: `cskh serve` plays VNPay's part itself (bot/payments/sandbox.py)."""
        return not self.vnpay_url

    @property
    def effective_vnpay_url(self) -> str:
        return self.vnpay_url or f"{self.effective_public_url}/sandbox/vnpay/paymentv2/vpcpay.html"

    @property
    def effective_vnpay_api_url(self) -> str:
        if self.vnpay_api_url:
            return self.vnpay_api_url
        if self.vnpay_url:  # VNPay's own: the API lives beside the payment page
            return self.vnpay_url.split("/paymentv2/")[0] + "/merchant_webapi/api/transaction"
        return f"{self.effective_public_url}/sandbox/vnpay/merchant_webapi/api/transaction"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_var_dir(self) -> Path:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return self.var_dir

    def secret_key_bytes(self) -> bytes:
        """The key that signs links and cookies.

        CSKH_SECRET_KEY when set; otherwise a random key generated once into
        var/secret_key (mode 0600) and reused, so processes sharing ./var agree.
        Several hosts must set CSKH_SECRET_KEY to the same value.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.ensure_var_dir() / SECRET_KEY_FILE
        try:
            # O_EXCL: two processes starting together cannot both write a key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text().strip()
            if key:
                return key.encode()
            # An empty file means another process is writing right now.
            return _wait_for_key(path).encode()
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        log.info("generated a new secret key in %s", path)
        return key.encode()


def _wait_for_key(path: Path) -> str:
    import time

    for _ in range(50):
        time.sleep(0.05)
        key = path.read_text().strip()
        if key:
            return key
    raise RuntimeError(f"{path} stays empty; delete it or set CSKH_SECRET_KEY")
