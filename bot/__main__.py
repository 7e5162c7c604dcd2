"""The `cskh` command: serve, chat, db, demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.settings import Settings

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    threading.excepthook = _quiet_closed_loop
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings(**_overrides(args))
    except ValidationError as error:
        print(f"cskh: invalid settings: {error}", file=sys.stderr)
        return 2
    try:
        return int(args.run(settings, args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the entry point decides to exit (STYLE.md)
        from sqlalchemy.exc import DBAPIError

        from bot.app import StartupError

        if isinstance(error, DBAPIError | ConnectionError):
            print(_database_error(settings, error), file=sys.stderr)
            log.debug("exit on a database error", exc_info=True)
            return 1
        if isinstance(error, StartupError | RuntimeError):
            print(f"cskh: {error}", file=sys.stderr)
            log.debug("exit on error", exc_info=True)
            return 1
        raise


def _quiet_closed_loop(hook: threading.ExceptHookArgs) -> None:
    """aiosqlite's thread reports a connection that failed to open to a loop the failed
    command already closed: a traceback after the one-line error. Only that is quiet."""
    if hook.exc_type is RuntimeError and "Event loop is closed" in str(hook.exc_value):
        log.debug("a database thread outlived its event loop", exc_info=hook.exc_value)
        return
    threading.__excepthook__(hook)


def _database_error(settings: Settings, error: Exception) -> str:
    """One line naming the database a command looked for and what is wrong with it:
    run outside the project folder, a command finds no (or an empty) var/cskh.db."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    where = url.database if url.get_backend_name() == "sqlite" else url.render_as_string()
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if "no such table" in reason or "does not exist" in reason:
        reason = "it has no tables"
    hint = "run cskh in the project folder (where var/ is) or set CSKH_DATABASE_URL"
    return f"cskh: cannot use the database {where} ({reason}): {hint}; `cskh db upgrade` creates it"


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key: value for key in ("host", "port") if (value := getattr(args, key, None)) is not None
    }


def _parser() -> argparse.ArgumentParser:
    from bot.cli import OneLineErrorParser

    # Usage errors of every command: one line on stderr, exit status 2.
    parser = OneLineErrorParser(prog="cskh", description="CSKH Bot: customer care in chat.")
    commands: Any = parser.add_subparsers(title="commands")

    serve = commands.add_parser(
        "serve",
        help="serve the web chat (and the staff console), Telegram, REST and /healthz",
        description=(
            "Serve the customers' web chat at / and the staff console at /console, with "
            "Telegram (CSKH_TELEGRAM_TOKEN), the REST channel (CSKH_REST_TOKEN), media "
            "links and /healthz; it also sends the notices and runs the notice jobs."
        ),
    )
    serve.add_argument("--host", help="address to listen on (CSKH_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (CSKH_PORT, default 8080)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="deliver notices and settle payments (beside `cskh serve`, for capacity)"
    )
    worker.set_defaults(run=_worker)

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default="local", help="who you are to the bot (default: local)")
    chat.set_defaults(run=_chat)

    db = commands.add_parser("db", help="database schema").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(run=_db_upgrade)
    db.add_parser("current", help="print the schema revision").set_defaults(run=_db_current)

    telegram = commands.add_parser("telegram", help="Telegram bot set-up").add_subparsers(
        title="telegram commands"
    )
    set_webhook = telegram.add_parser("set-webhook", help="register the webhook URL with Telegram")
    set_webhook.add_argument("url", help="public HTTPS URL of /telegram/webhook")
    set_webhook.set_defaults(run=_telegram_set_webhook)
    telegram.add_parser(
        "delete-webhook", help="remove the webhook (for polling mode)"
    ).set_defaults(run=_telegram_delete_webhook)

    from bot.cli import bills as bills_cli
    from bot.cli import faq as faq_cli
    from bot.cli import inbox as inbox_cli
    from bot.cli import incidents as incidents_cli
    from bot.cli import notify as notify_cli
    from bot.cli import payments as payments_cli
    from bot.cli import requests as requests_cli
    from bot.cli import staff as staff_cli
    from bot.cli import tariffs as tariff_cli
    from nlu import cli as nlu_cli

    nlu_cli.register(commands, lambda settings: settings.nlu_cache_path)
    tariff_cli.register(commands)
    requests_cli.register(commands)
    notify_cli.register(commands)
    inbox_cli.register(commands)
    staff_cli.register(commands)
    payments_cli.register(commands)
    bills_cli.register(commands)
    faq_cli.register(commands)
    incidents_cli.register(commands)

    # Zalo (issue 17): one `zalo` group for the Zalo Bot's and the OA's commands.
    from bot.cli import zalo as zalo_cli

    zalo_cli.register(commands)

    dev = commands.add_parser("dev", help="development helpers").add_subparsers(
        title="dev commands"
    )
    outbox = dev.add_parser(
        "outbox", help="SMS and e-mails the development providers kept instead of sending"
    )
    outbox.add_argument("--last", type=int, default=10, help="how many (default 10)")
    outbox.set_defaults(run=_dev_outbox)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(title="demo commands")
    seed = demo.add_parser("seed", help="fill the database with the demo data set")
    seed.add_argument("--reset", action="store_true", help="replace existing utility data")
    seed.add_argument(
        "--customers", type=int, default=600, help="number of customers (default 600)"
    )
    seed.set_defaults(run=_demo_seed)
    personas = demo.add_parser("personas", help="the demo personas to try the bot with")
    personas.add_argument("--json", action="store_true", help="print JSON only")
    personas.set_defaults(run=_demo_personas)
    return parser


# Our loggers log at CSKH_LOG_LEVEL; the libraries' at WARNING unless it is DEBUG
# (fontTools alone wrote a dozen INFO lines per e-invoice, issue 15).
OWN_LOGGERS = ("bot", "nlu", "alembic.runtime.migration")


def _configure_logging(settings: Settings, log_file: Path | None = None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    debug = settings.log_level == "DEBUG"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)  # one DEBUG line per statement


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import build_runtime, create_app

    _configure_logging(settings)

    async def make_app() -> web.Application:
        runtime = await build_runtime(settings, understand=True)
        app = create_app(runtime, long_lived=True)
        log.info(
            "CSKH Bot on http://%s:%s (public URL %s; channels: %s); /healthz says "
            '"starting" until the language model is loaded',
            settings.host,
            settings.port,
            settings.effective_public_url,
            ", ".join(runtime.channels) or "none (set CSKH_REST_TOKEN or CSKH_TELEGRAM_TOKEN)",
        )
        return app

    web.run_app(make_app(), host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from bot.app import build_runtime, open_for_sending

    _configure_logging(settings)

    async def run() -> None:
        runtime = await build_runtime(settings)
        try:
            channels = await open_for_sending(runtime)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            log.info("delivery worker %s for %s", runtime.worker.id, ", ".join(sorted(channels)))
            work = [runtime.worker.run(stop)]
            payments = runtime.engine.services.payments
            if payments is not None:  # what the IPNs of every `cskh serve` recorded
                from bot.payments.service import WORKER_POLL

                log.info("settling received payments every %g s", WORKER_POLL)
                work.append(payments.run_settlement(poll=WORKER_POLL, stop=stop))
            await asyncio.gather(*work)
        finally:
            await runtime.close()

    asyncio.run(run())
    return 0


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_runtime
    from bot.channels.terminal import TerminalChannel

    settings.ensure_var_dir()
    _configure_logging(settings, settings.var_dir / "chat.log")
    if sys.stdout.encoding and sys.stdout.encoding.lower() not in ("utf-8", "utf8"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]

    async def run() -> None:
        print("Đang khởi động CSKH Bot...", flush=True)
        runtime = await build_runtime(settings, understand=True)
        terminal = TerminalChannel(
            runtime.engine,
            runtime.db,
            runtime.texts,
            user_id=args.user,
            lang=settings.default_language,
            downloads=settings.var_dir / "downloads",
        )
        runtime.add_channel(terminal)
        runtime.senders.listen(terminal.show_dev_message)
        try:
            await terminal.run()
        finally:
            await runtime.close()

    asyncio.run(run())
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.migrate import upgrade_sync

    _configure_logging(settings)
    settings.ensure_var_dir()
    print(f"schema at revision {upgrade_sync(settings.effective_database_url)}")
    return 0


def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.db import Database
    from bot.store.migrate import current_revision, head_revision

    async def run() -> str | None:
        db = Database(settings.effective_database_url)
        try:
            return await current_revision(db)
        finally:
            await db.dispose()

    settings.ensure_var_dir()
    current = asyncio.run(run())
    print(f"current: {current or 'empty'}; latest: {head_revision()}")
    return 0


def _telegram_set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.telegram import TelegramSettings
    from bot.channels.telegram.channel import ALLOWED_UPDATES, WEBHOOK_PATH, make_bot

    config = TelegramSettings.from_settings(settings)
    if not config.enabled:
        raise RuntimeError("set CSKH_TELEGRAM_TOKEN first")
    if config.webhook_secret is None:
        raise RuntimeError("set CSKH_TELEGRAM_WEBHOOK_SECRET first (Telegram will send it back)")
    url: str = args.url
    if not url.startswith("https://") and not config.api_url:
        raise RuntimeError("Telegram only calls HTTPS webhooks: give an https:// URL")
    if not url.rstrip("/").endswith(WEBHOOK_PATH):
        print(f"note: cskh serve receives updates at {WEBHOOK_PATH}", file=sys.stderr)
    secret = config.webhook_secret.get_secret_value()

    async def run() -> None:
        bot = make_bot(config)
        try:
            await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        finally:
            await bot.session.close()

    asyncio.run(run())
    print(f"webhook set to {url}")
    return 0


def _telegram_delete_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.telegram import TelegramSettings
    from bot.channels.telegram.channel import make_bot

    config = TelegramSettings.from_settings(settings)
    if not config.enabled:
        raise RuntimeError("set CSKH_TELEGRAM_TOKEN first")

    async def run() -> None:
        bot = make_bot(config)
        try:
            await bot.delete_webhook(drop_pending_updates=False)
        finally:
            await bot.session.close()

    asyncio.run(run())
    print("webhook removed")
    return 0


def _dev_outbox(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.core.fmt import local
    from bot.core.printable import printable
    from bot.store.db import Database
    from bot.store.models import DevMessage

    async def run() -> list[DevMessage]:
        db = Database(settings.effective_database_url)
        try:
            async with db.reading() as session:
                rows = await session.scalars(
                    select(DevMessage).order_by(DevMessage.id.desc()).limit(args.last)
                )
                return list(reversed(rows.all()))
        finally:
            await db.dispose()

    for message in asyncio.run(run()):
        when = local(message.created_at).strftime("%d/%m %H:%M:%S")
        subject = f" [{message.subject}]" if message.subject else ""
        # The address is the customer's; an e-mail body has lines of its own (issue 12).
        head = printable(f"{message.kind.upper()} to {message.recipient}{subject}")
        print(f"{when} {head}: {printable(message.body, multiline=True)}")
    return 0


def _demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo.seed import seed
    from bot.store.db import Database
    from bot.store.migrate import upgrade

    _configure_logging(settings)
    settings.ensure_var_dir()

    async def run() -> None:
        db = Database(settings.effective_database_url)
        try:
            await upgrade(db)
            summary = await seed(db, customers=args.customers, reset=args.reset)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; use `cskh demo seed --reset` to replace it") from None
        finally:
            await db.dispose()
        print(
            f"seeded {summary.customers} customers, {summary.bills} bills, "
            f"{summary.payment_points} payment points, {summary.outages} outages "
            f"in {summary.seconds} s"
        )

    asyncio.run(run())
    return 0


def _demo_personas(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo.definitions import personas

    people = personas()
    if args.json:
        print(json.dumps(people, ensure_ascii=False, indent=2))
        return 0
    for person in people:
        area = person["area"]
        print(f"{person['name']} — {person['phone']} — {person['email']}")
        print(f"  đăng nhập: {person['username']} / {person['password']}")
        print(
            f"  mã KH: {', '.join(person['customer_codes'])} ({area['ward']}, {area['province']})"
        )
        print(f"  {person['story']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
