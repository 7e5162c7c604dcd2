"""Telegram through aiogram 3: its settings and capabilities (this module imports no
aiogram, so a process with Telegram off never loads it).

channel.py runs the channel (webhook, polling, albums, the engine's answer);
updates.py reads an update into an `Incoming`, sending.py sends the replies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot.channels.base import ChannelSettings, ChannelSettingsError
from bot.core.messages import ChannelCaps
from bot.notify.limits import ChannelLimit

# Bot API limits: an inline keyboard holds at most 100 buttons, a message 4096
# characters. A contact shared with the keyboard's button is vouched for by Telegram;
# a reply quotes the message it answers; "typing…" is a chat action.
TELEGRAM_CAPS = ChannelCaps(
    max_buttons=100, max_text=4096, verified_contact=True, quote_reply=True, typing=True
)


class TelegramSettings(ChannelSettings):
    """CSKH_TELEGRAM_*: the bot token from @BotFather (unset: Telegram is off), polling or
    a webhook, and the Bot API's send limits (30 messages a second, one a second per chat)."""

    model_config = SettingsConfigDict(env_prefix="CSKH_TELEGRAM_")
    channel_name = "telegram"
    compat_prefix = "telegram_"  # Settings.telegram_token... (README's names)

    token: SecretStr | None = None
    mode: Literal["webhook", "polling"] = "polling"
    # Its characters are checked where the main Settings reads CSKH_TELEGRAM_WEBHOOK_SECRET.
    webhook_secret: SecretStr | None = None
    api_url: str | None = None  # a local Bot API server, or the tests' fake
    rate: float = Field(default=30.0, gt=0)
    chat_interval: float = Field(default=1.0, ge=0)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())

    def rate_limit(self) -> ChannelLimit:
        return ChannelLimit(self.rate, self.chat_interval)

    def check(self) -> None:
        if self.mode == "webhook" and self.webhook_secret is None:
            raise ChannelSettingsError(
                "CSKH_TELEGRAM_MODE=webhook needs CSKH_TELEGRAM_WEBHOOK_SECRET "
                "(Telegram sends it with every update; without it anyone could post updates)"
            )


__all__ = ["TELEGRAM_CAPS", "TelegramSettings"]
