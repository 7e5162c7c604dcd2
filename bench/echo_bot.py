"""The load harness's yardstick (issue 20): a bare aiogram echo bot on the same webhook
setup as `cskh serve` with Telegram on.

    python bench/echo_bot.py --port 8081 --api-url http://127.0.0.1:PORT --secret S

aiogram's `SimpleRequestHandler` on `POST /telegram/webhook` (the secret token checked,
the update handled in the background as aiogram does by default), one
`message.answer` per message update and one `callback.answer` per button press, nothing
else: no database, no language model. `GET /healthz` says ok once it listens.
"""

from __future__ import annotations

import argparse
import gc

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

WEBHOOK_PATH = "/telegram/webhook"  # as bot/channels/telegram/channel.py


def make_app(api_url: str, secret: str, token: str) -> web.Application:
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "ok")

    @dispatcher.callback_query()
    async def pressed(callback: CallbackQuery) -> None:
        await callback.answer()

    app = web.Application()
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret).register(
        app, path=WEBHOOK_PATH
    )
    setup_application(app, dispatcher, bot=bot)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", default="1:load")
    args = parser.parse_args()
    app = make_app(args.api_url, args.secret, args.token)
    gc.freeze()  # as `cskh serve` does once started (bot/app.py freeze_heap)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
