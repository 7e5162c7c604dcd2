"""Composition root: builds every service from Settings and wires the aiohttp app.

`Runtime` is what one process runs: database, engine, pusher, channels. Both
`cskh serve` (web app) and `cskh chat` (terminal) build it here, so they behave
the same: migrations at start (unless CSKH_AUTO_MIGRATE=0), demo data on an empty
SQLite database (unless CSKH_DEMO_SEED=0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

from aiohttp import web

from bot.auth.otp import OtpService
from bot.auth.providers import Senders
from bot.billing.tariffs import TariffBook, default_tariffs
from bot.channels.base import Channel
from bot.channels.media import MediaLinks
from bot.channels.rest import RestChannel
from bot.channels.webchat import WebChatChannel
from bot.core.clock import Clock, SystemClock
from bot.core.context import Services
from bot.core.engine import Engine
from bot.core.push import Pusher
from bot.core.texts import Texts
from bot.core.understanding import Understanding
from bot.demo import seed as demo_seed
from bot.dialogs.forms import FormError
from bot.handlers import build_router
from bot.notify.limits import ChannelLimit, RateLimiter
from bot.notify.worker import DeliveryWorker, WorkerOptions
from bot.settings import Settings
from bot.store import migrate
from bot.store.backend import SqlUtilityBackend
from bot.store.db import Database

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The bot cannot start; the message tells the operator what to do."""


@dataclass
class Runtime:
    """Everything one process runs."""

    settings: Settings
    db: Database
    texts: Texts
    tariffs: TariffBook
    engine: Engine
    pusher: Pusher
    links: MediaLinks
    senders: Senders
    worker: DeliveryWorker
    channels: dict[str, Channel] = field(default_factory=dict)
    _stop_delivery: asyncio.Event = field(default_factory=asyncio.Event)
    _delivery: asyncio.Task[None] | None = None

    def start_delivery(self, channels: frozenset[str] | None = None) -> None:
        """Run the delivery worker in this process (until `close`), for `channels`
        (None: all the process has)."""
        if self._delivery is None:
            self.worker.options = replace(self.worker.options, channels=channels)
            self._delivery = asyncio.create_task(self.worker.run(self._stop_delivery))

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel
        self.pusher.register(channel.name, channel)

    @property
    def understanding(self) -> Understanding:
        return self.engine.services.understanding

    async def close(self) -> None:
        if self._delivery is not None:
            self._stop_delivery.set()
            await self._delivery
            self._delivery = None
        await self.understanding.stop()
        for channel in self.channels.values():
            await channel.stop()
        await self.senders.close()
        await self.db.dispose()


async def prepare_database(settings: Settings, db: Database) -> None:
    """Apply migrations (or check them) and seed the demo data on an empty SQLite file."""
    if settings.auto_migrate:
        await migrate.upgrade(db)
    elif not await migrate.is_up_to_date(db):
        raise StartupError(
            "the database schema is not up to date and CSKH_AUTO_MIGRATE=0: "
            "run `cskh db upgrade` first"
        )
    if settings.demo_seed and db.is_sqlite and await demo_seed.customer_count(db) == 0:
        log.info("empty database: seeding the demo data (CSKH_DEMO_SEED=0 to skip)")
        await demo_seed.seed(db)


async def build_runtime(
    settings: Settings, *, prepare: bool = True, clock: Clock | None = None
) -> Runtime:
    """Open the database and build the engine; `prepare` migrates and seeds first.
    Tests pass a FakeClock to move time (OTP expiry, lockouts, the PIN's idle time)."""
    settings.ensure_var_dir()
    db = Database(settings.effective_database_url, media_dir=settings.media_path)
    try:
        if prepare:
            await prepare_database(settings, db)
        texts = Texts.load()
        tariffs = default_tariffs()
        clock = clock or SystemClock()
        pusher = Pusher(db, clock=clock)
        senders = Senders.from_settings(settings)
        services = Services(
            settings=settings,
            texts=texts,
            backend=SqlUtilityBackend(db),
            tariffs=tariffs,
            pusher=pusher,
            clock=clock,
            otp=OtpService(settings.secret_key_bytes(), clock, senders),
            understanding=Understanding(settings.nlu_cache_path),
        )
        try:
            engine = Engine(db, build_router(), services)
        except FormError as error:  # a typo in domain.yml's forms, named precisely
            raise StartupError(f"domain.yml: {error}") from error
        links = MediaLinks(
            settings.secret_key_bytes(), settings.effective_public_url, settings.media_link_ttl
        )
        worker = DeliveryWorker(
            db,
            pusher.channels,
            RateLimiter(channel_limits(settings)),
            clock,
            WorkerOptions(
                concurrency=settings.notify_concurrency, quiet_hours=settings.quiet_range
            ),
        )
        pusher.worker = worker
    except BaseException:
        await db.dispose()
        raise
    return Runtime(settings, db, texts, tariffs, engine, pusher, links, senders, worker)


def channel_limits(settings: Settings) -> dict[str, ChannelLimit]:
    """Send limits per channel: Telegram's from the settings; the others have none."""
    return {
        "telegram": ChannelLimit(settings.telegram_rate, settings.telegram_chat_interval),
    }


RUNTIME = web.AppKey("runtime", Runtime)


def build_channels(runtime: Runtime) -> list[Channel]:
    """The channels the settings enable, registered with the runtime's pusher: the web
    chat always, REST when CSKH_REST_TOKEN is set, Telegram when CSKH_TELEGRAM_TOKEN is.
    Commands that push (e.g. `cskh requests set-status`) use them without serving."""
    settings = runtime.settings
    channels: list[Channel] = []
    if settings.rest_token is not None and settings.rest_token.get_secret_value():
        channels.append(
            RestChannel(
                runtime.engine,
                runtime.db,
                settings.rest_token.get_secret_value(),
                runtime.links,
                settings.max_upload_mb * 1024 * 1024,
            )
        )
    channels.append(
        WebChatChannel(runtime.engine, runtime.db, runtime.texts, runtime.links, settings)
    )
    if settings.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        if settings.telegram_mode == "webhook" and settings.telegram_webhook_secret is None:
            raise StartupError(
                "CSKH_TELEGRAM_MODE=webhook needs CSKH_TELEGRAM_WEBHOOK_SECRET "
                "(Telegram sends it with every update; without it anyone could post updates)"
            )
        channels.append(TelegramChannel(runtime.engine, runtime.db, runtime.pusher, settings))
    for channel in channels:
        runtime.add_channel(channel)
    return channels


async def open_for_sending(runtime: Runtime) -> frozenset[str]:
    """The channels of a process that sends but does not serve (`cskh worker`, staff
    commands): not started, so no Telegram polling. The web chat's pages live in
    `cskh serve`; only with Redis (CSKH_REDIS_URL) can this process reach them, so
    without it web chat rows are left to `cskh serve`. Returns the channels served."""
    build_channels(runtime)
    reach_web = bool(runtime.settings.redis_url)
    if reach_web:
        await runtime.channels["web"].start()  # the Redis connection it publishes on
    channels = frozenset(name for name in runtime.channels if name != "web" or reach_web)
    runtime.worker.options = replace(runtime.worker.options, channels=channels)
    return channels


def create_app(runtime: Runtime) -> web.Application:
    """The web application: health check, media links, and the routes of the channels."""
    max_upload = runtime.settings.max_upload_mb * 1024 * 1024
    # Base64 photos in JSON are 4/3 larger than the file.
    app = web.Application(
        client_max_size=max_upload * 4 // 3 + 64 * 1024, middlewares=[_json_errors]
    )
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", _healthz)
    app.add_routes([runtime.links.handler(runtime.db)])
    for channel in build_channels(runtime):
        app.add_routes(channel.routes())
    if "rest" not in runtime.channels:
        app.router.add_route("*", "/api/{tail:.*}", _rest_disabled)
    app.cleanup_ctx.append(_lifecycle)
    return app


def _import_renderers() -> None:
    """matplotlib and fpdf take most of a second to import: the first chart or e-invoice
    should not wait for that, nor should the server's start."""
    import bot.billing.charts
    import bot.billing.invoice_pdf  # noqa: F401


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    runtime.understanding.start()  # in the background: /healthz answers meanwhile
    warming = asyncio.create_task(asyncio.to_thread(_import_renderers), name="warm-up")
    for channel in runtime.channels.values():
        await channel.start()
    # The web chat's sockets are here, so its pushes are always sent from here; the
    # other channels too unless CSKH_NOTIFY_WORKER=0 leaves them to `cskh worker`.
    runtime.start_delivery(None if runtime.settings.notify_worker else frozenset({"web"}))
    scheduler = None
    if runtime.settings.notify_scheduler:  # bill, payment and outage notice runs
        from bot.notify.scheduler import NoticeScheduler

        scheduler = NoticeScheduler(
            runtime.db,
            runtime.texts,
            runtime.settings,
            runtime.engine.services.clock,
            runtime.worker.wake,
        )
        scheduler.start()
    yield
    if scheduler is not None:
        await scheduler.stop()
    with contextlib.suppress(Exception):  # an import that failed shows when first used
        await warming
    await runtime.close()


async def _healthz(request: web.Request) -> web.Response:
    if await request.app[RUNTIME].db.ping():
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "database unreachable"}, status=503)


async def _rest_disabled(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "the REST channel is off: set CSKH_REST_TOKEN to enable it"}, status=404
    )


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """API errors as JSON {"error": ...}; nothing unexpected leaks a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if not request.path.startswith("/api/") or error.status < 400:
            raise
        return web.json_response({"error": error.reason}, status=error.status)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error; please try again"}, status=500)
