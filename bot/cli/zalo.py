"""`cskh zalo ...`: setting up Zalo. The Zalo Bot platform's webhook (`set-webhook`,
`delete-webhook`) and the bot's identity (`me`); the group is shared with the Zalo
Official Account's commands, each under its own sub-command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.settings import Settings


def register(commands: Any) -> Any:
    """Add the `zalo` group to `commands`; its sub-parsers (for other Zalo commands)."""
    zalo = commands.add_parser("zalo", help="Zalo set-up (Zalo Bot platform)")
    sub = zalo.add_subparsers(title="zalo commands")
    set_webhook = sub.add_parser(
        "set-webhook", help="register the Zalo Bot's webhook URL and secret with Zalo"
    )
    set_webhook.add_argument("url", help="public HTTPS URL of /zalo/bot/webhook")
    set_webhook.set_defaults(run=_set_webhook)
    sub.add_parser(
        "delete-webhook", help="remove the Zalo Bot's webhook (to poll with getUpdates)"
    ).set_defaults(run=_delete_webhook)
    sub.add_parser("me", help="the Zalo Bot the token belongs to (getMe)").set_defaults(run=_me)
    return sub


def _api(settings: Settings) -> Any:
    from bot.channels.zalo_bot import ZaloBotApi, ZaloBotSettings

    config = ZaloBotSettings.from_settings(settings)
    if not config.enabled or config.token is None:
        raise RuntimeError("set CSKH_ZALO_BOT_TOKEN first")
    return config, ZaloBotApi(config.token.get_secret_value(), config.api_url)


def _call(api: Any, method: str, **fields: Any) -> Any:
    async def run() -> Any:
        try:
            return await api.call(method, **fields)
        finally:
            await api.close()

    return asyncio.run(run())


def _set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.zalo_bot import WEBHOOK_PATH

    config, api = _api(settings)
    secret = config.webhook_secret.get_secret_value() if config.webhook_secret else ""
    if not secret:
        raise RuntimeError("set CSKH_ZALO_BOT_WEBHOOK_SECRET first (Zalo will send it back)")
    url: str = args.url
    if not url.startswith("https://"):
        raise RuntimeError("Zalo only calls HTTPS webhooks: give an https:// URL")
    if not url.rstrip("/").endswith(WEBHOOK_PATH):
        print(f"note: cskh serve receives Zalo Bot updates at {WEBHOOK_PATH}", file=sys.stderr)
    _call(api, "setWebhook", url=url, secret_token=secret)
    print(f"webhook set to {url}")
    return 0


def _delete_webhook(settings: Settings, args: argparse.Namespace) -> int:
    _, api = _api(settings)
    _call(api, "deleteWebhook")
    print("webhook removed (set CSKH_ZALO_BOT_MODE=polling to receive updates)")
    return 0


def _me(settings: Settings, args: argparse.Namespace) -> int:
    _, api = _api(settings)
    print(json.dumps(_call(api, "getMe"), ensure_ascii=False, indent=2))
    return 0
