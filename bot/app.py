"""Composition root: builds every service from Settings and wires the aiohttp app.

`Runtime` is what one process runs: database, engine, pusher, channels. Both
`cskh serve` (web app) and `cskh chat` (terminal) build it here, so they behave
the same: migrations at start (unless CSKH_AUTO_MIGRATE=0), demo data on an empty
SQLite database (unless CSKH_DEMO_SEED=0).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.auth.otp import OtpLimits, OtpService
from bot.auth.providers import Senders
from bot.billing import anomaly_check
from bot.billing.tariffs import TariffBook, default_tariffs
from bot.channels.base import (
    Channel,
    ChannelKind,
    ChannelParts,
    ChannelSettings,
    ChannelSettingsError,
)
from bot.channels.maintenance import RETRY_AFTER_SECONDS, error_page
from bot.channels.media import MediaLinks
from bot.channels.rest import RestChannel, RestSettings
from bot.channels.telegram import TelegramSettings
from bot.channels.webchat import WebChatChannel, WebChatSettings
from bot.channels.zalo_bot import ZaloBotChannel, ZaloBotSettings
from bot.channels.zalo_oa import ZaloOaSettings
from bot.console.base import ConsoleServices
from bot.console.web import console_routes
from bot.core import metrics
from bot.core.clock import Clock, SystemClock
from bot.core.context import Services
from bot.core.engine import Engine
from bot.core.live import LiveFeed
from bot.core.texts import Texts
from bot.core.understanding import Understanding
from bot.demo import seed as demo_seed
from bot.dialogs.forms import FormError
from bot.handlers import build_router
from bot.handlers.account import code_not_delivered
from bot.notify.limits import ChannelLimit, RateLimiter
from bot.notify.payment_notices import OutboxPaymentNotifier
from bot.notify.push import Pusher
from bot.notify.usage import UsageJudge, UsageNote
from bot.notify.worker import DeliveryWorker, WorkerOptions
from bot.payments.sandbox import VnpaySandbox
from bot.payments.service import PaymentService
from bot.payments.web import IPN_PATH
from bot.payments.web import add_routes as add_payment_routes
from bot.settings import Settings
from bot.store import migrate
from bot.store.backend import BillRecord, SqlUtilityBackend, UtilityBackend
from bot.store.db import PING_TIMEOUT, Database, error_summary
from bot.store.media_quota import MediaQuota
from bot.store.throttle import Throttle, make_throttle

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
    throttle: Throttle
    media_quota: MediaQuota
    live: LiveFeed
    channels: dict[str, Channel] = field(default_factory=dict)
    # A channel's settings given here instead of read (tests), by channel name.
    channel_settings: dict[str, ChannelSettings] = field(default_factory=dict)
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
        if channel.rate_limit is not None:
            self.worker.limiter.limits[channel.name] = channel.rate_limit

    @property
    def understanding(self) -> Understanding:
        return self.engine.services.understanding

    async def close(self) -> None:
        if self._delivery is not None:
            self._stop_delivery.set()
            await self._delivery
            self._delivery = None
        await self.understanding.stop()
        await self.engine.services.otp.drain(seconds=15)  # codes promised to a customer
        for channel in self.channels.values():
            await channel.stop()
        await self.senders.close()
        await self.live.stop()
        await self.throttle.close()
        await self.db.dispose()


def payment_service(
    settings: Settings, db: Database, backend: UtilityBackend, clock: Clock, texts: Texts
) -> PaymentService:
    """Payments, telling customers through the outbox (notify implements the notifier, so
    the payments service never imports it)."""
    return PaymentService(
        settings, db, backend, clock, OutboxPaymentNotifier(texts, settings.hotline)
    )


def utility_backend(settings: Settings, db: Database) -> UtilityBackend:
    """The utility's data, for the bot and the `cskh` commands alike: our tables (the
    demo data) until a deployment plugs in its own `UtilityBackend` here."""
    return SqlUtilityBackend(db)


def usage_judge(backend: UtilityBackend, tariffs: TariffBook) -> UsageJudge:
    """The bill run's judge of unusual use (issue 18): billing judges, notify words."""

    async def judge(bill: BillRecord) -> UsageNote | None:
        found = await anomaly_check.bill_insight(backend, tariffs, bill)
        expected = found.verdict.expected if found is not None else None
        if found is None or expected is None:
            return None
        verdict = found.verdict
        return UsageNote(
            kwh_per_day=float(verdict.kwh_per_day),
            expected=expected,
            percent=verdict.percent_above,
            meter_check=found.meter_check,
        )

    return judge


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
    settings: Settings,
    *,
    prepare: bool = True,
    clock: Clock | None = None,
    understand: bool = False,
) -> Runtime:
    """Open the database and build the engine; `prepare` migrates and seeds first.
    `understand` (serve, chat) starts loading the language model first, so a first
    start trains it while the demo data is seeded. Tests pass a FakeClock to move time
    (OTP expiry, lockouts, the PIN's idle time)."""
    settings.ensure_var_dir()
    understanding = Understanding(settings.nlu_cache_path)
    if understand:
        understanding.start()
    db = Database(settings.effective_database_url, media_dir=settings.media_path)
    try:
        if prepare:
            await prepare_database(settings, db)
        texts = Texts.load()
        tariffs = default_tariffs()
        clock = clock or SystemClock()
        live = LiveFeed(settings.redis_url)
        pusher = Pusher(db, clock=clock)
        senders = Senders.from_settings(settings, db)
        otp = OtpService(
            settings.secret_key_bytes(),
            clock,
            senders,
            db,
            OtpLimits(
                sms_per_minute=settings.sms_per_minute,
                sms_per_day=settings.sms_per_day,
                per_address_hour=settings.otp_per_address_hour,
                per_network_hour=settings.otp_per_network_hour,
            ),
        )
        backend = utility_backend(settings, db)
        services = Services(
            settings=settings,
            db=db,
            texts=texts,
            backend=backend,
            tariffs=tariffs,
            pusher=pusher,
            clock=clock,
            otp=otp,
            understanding=understanding,
            live=live,
            payments=payment_service(settings, db, backend, clock, texts),
        )
        try:
            engine = Engine(db, build_router(), services)
        except FormError as error:  # a typo in domain.yml's forms, named precisely
            raise StartupError(f"domain.yml: {error}") from error
        otp.on_undelivered = functools.partial(code_not_delivered, services)
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
            live=live,
        )
        pusher.worker = worker
        media_quota = MediaQuota(
            db,
            per_user_bytes=settings.media_quota_user_mb * 1024 * 1024,
            total_bytes=settings.media_quota_total_mb * 1024 * 1024,
        )
    except BaseException:
        await db.dispose()
        raise
    return Runtime(
        settings,
        db,
        texts,
        tariffs,
        engine,
        pusher,
        links,
        senders,
        worker,
        make_throttle(settings.redis_url),
        media_quota,
        live,
    )


# Every channel `cskh serve` can run, by its settings model: an explicit list (no
# plugin discovery). A channel is on when its settings say so (its credentials are
# set); adding one is adding its settings model here (README, "Adding a channel").
CHANNELS: tuple[ChannelKind, ...] = (
    ChannelKind(RestSettings, lambda: RestChannel),
    ChannelKind(WebChatSettings, lambda: WebChatChannel),
    ChannelKind(TelegramSettings, lambda: _telegram()),
    ChannelKind(ZaloOaSettings, lambda: _zalo_oa()),
    # Zalo Bot platform (issue 17)
    ChannelKind(ZaloBotSettings, lambda: ZaloBotChannel),
)


def _zalo_oa() -> type[Channel]:
    from bot.channels.zalo_oa.channel import ZaloOaChannel

    return ZaloOaChannel


def _telegram() -> type[Channel]:
    from bot.channels.telegram.channel import TelegramChannel  # aiogram: only when on

    return TelegramChannel


def channel_limits(settings: Settings) -> dict[str, ChannelLimit]:
    """The delivery worker's send limit of every channel that has one (its settings)."""
    limits: dict[str, ChannelLimit] = {}
    for kind in CHANNELS:
        limit = kind.settings.from_settings(settings).rate_limit()
        if limit is not None:
            limits[kind.settings.channel_name] = limit
    return limits


RUNTIME = web.AppKey("runtime", Runtime)
LONG_LIVED = web.AppKey("long_lived", bool)


def build_channels(runtime: Runtime) -> list[Channel]:
    """The channels the settings switch on (the web chat always, REST when
    CSKH_REST_TOKEN is set, Telegram when CSKH_TELEGRAM_TOKEN is), registered with the
    runtime's pusher and the delivery worker's limiter. Commands that push (e.g. `cskh
    requests set-status`) use them without serving."""
    parts = ChannelParts(
        engine=runtime.engine,
        db=runtime.db,
        settings=runtime.settings,
        texts=runtime.texts,
        links=runtime.links,
        pusher=runtime.pusher,
        throttle=runtime.throttle,
        quota=runtime.media_quota,
    )
    channels: list[Channel] = []
    for kind in CHANNELS:
        config = runtime.channel_settings.get(kind.settings.channel_name)
        config = config or kind.settings.from_settings(runtime.settings)
        if not config.enabled:
            continue
        try:
            config.check()
        except ChannelSettingsError as error:
            raise StartupError(str(error)) from error
        channels.append(kind.load().build(parts, config))
    for channel in channels:
        runtime.add_channel(channel)
        otp_sender = getattr(channel, "otp_sender", None)  # Zalo OA: codes by ZNS
        if otp_sender is not None:
            runtime.senders.zalo = otp_sender
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


def create_app(runtime: Runtime, *, long_lived: bool = False) -> web.Application:
    """The web application: health check, media links, and the routes of the channels.
    `long_lived`: the process serves until stopped (`cskh serve`), so what its start
    loads is frozen out of the garbage collector's way (`freeze_heap`); tests, which
    start many apps in one process, leave it off."""
    max_upload = runtime.settings.max_upload_mb * 1024 * 1024
    # Base64 photos in JSON are 4/3 larger than the file.
    app = web.Application(
        client_max_size=max_upload * 4 // 3 + 64 * 1024, middlewares=[_json_errors]
    )
    app[RUNTIME] = runtime
    app[LONG_LIVED] = long_lived
    app.router.add_get("/healthz", _healthz)
    if runtime.settings.metrics_token is not None:
        app.router.add_get("/metrics", _metrics)
    app.add_routes([runtime.links.handler(runtime.db)])
    for channel in build_channels(runtime):
        app.add_routes(channel.routes())
    app.add_routes(
        console_routes(
            ConsoleServices(
                db=runtime.db,
                settings=runtime.settings,
                texts=runtime.texts,
                pusher=runtime.pusher,
                live=runtime.live,
                throttle=runtime.throttle,
                clock=runtime.engine.services.clock,
                backend=runtime.engine.services.backend,
                tariffs=runtime.engine.services.tariffs,
                alerts=functools.partial(_staff_alerts, runtime),
                faq=runtime.engine.services.faq,
            )
        )
    )
    payments = runtime.engine.services.payments
    if payments is not None:
        add_payment_routes(app, payments, payments.vnpay_config)
        if runtime.settings.vnpay_sandbox:  # no real gateway configured: play its part
            settings = runtime.settings
            VnpaySandbox(
                payments.vnpay_config,
                ipn_url=lambda: settings.effective_public_url + IPN_PATH,
                clock=runtime.engine.services.clock.now,
            ).add_routes(app)
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
    runtime.understanding.start()  # in a thread: /healthz says "starting" meanwhile
    warming = asyncio.create_task(asyncio.to_thread(_import_renderers), name="warm-up")
    announce = asyncio.create_task(
        _announce_ready(runtime, warming, freeze=app[LONG_LIVED]), name="announce-ready"
    )
    for channel in runtime.channels.values():
        await channel.start()
    await runtime.live.start()  # console pages of every process hear of changes
    # The web chat's sockets are here, so its pushes are always sent from here; the
    # other channels too unless CSKH_NOTIFY_WORKER=0 leaves them to `cskh worker`.
    runtime.start_delivery(None if runtime.settings.notify_worker else frozenset({"web"}))
    scheduler = None
    if runtime.settings.notify_scheduler:  # bill, payment and outage notice runs
        from bot.notify.scheduler import NoticeScheduler

        scheduler = NoticeScheduler(
            runtime.db,
            runtime.engine.services.backend,
            runtime.texts,
            runtime.settings,
            runtime.engine.services.clock,
            runtime.worker.wake,
            judge=usage_judge(runtime.engine.services.backend, runtime.engine.services.tariffs),
        )
        scheduler.start()
    janitor = asyncio.create_task(_clean_media(runtime.media_quota), name="media-cleanup")
    background = [janitor, announce]
    payments = runtime.engine.services.payments
    if payments is not None and runtime.settings.payment_worker:  # else `cskh worker`'s
        background.append(asyncio.create_task(payments.run_settlement(), name="settlement"))
    if payments is not None and runtime.settings.notify_scheduler:  # one process asks
        background.append(asyncio.create_task(payments.watch_stale(), name="stale-orders"))
    yield
    for task in background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if scheduler is not None:
        await scheduler.stop()
    with contextlib.suppress(Exception):  # an import that failed shows when first used
        await warming
    await runtime.close()


async def _announce_ready(runtime: Runtime, warming: asyncio.Task[None], *, freeze: bool) -> None:
    """One log line when the server answers free text: /healthz says "ok" from then.
    Then, with `freeze`, what start-up loaded is frozen out of the collector's way."""
    if await runtime.understanding.ready():
        log.info("ready: the language model is loaded, /healthz says ok")
    if freeze:
        with contextlib.suppress(Exception):  # a failed import shows when first used
            await warming
        freeze_heap()


def freeze_heap() -> None:
    """Move every object alive now (the language model, the libraries, the texts: kept
    for the process's life) to the collector's permanent generation. A full collection
    then walks only what requests made since: measured at 200 IPNs a second, a full
    collection over the whole heap stopped the event loop for 260 ms (issue 16)."""
    gc.collect()
    gc.freeze()


MEDIA_CLEANUP_EVERY = 600.0  # seconds


async def _clean_media(quota: MediaQuota) -> None:
    """Keep the media store under its quotas (bot/store/media_quota.py), every 10 minutes."""
    while True:
        await asyncio.sleep(MEDIA_CLEANUP_EVERY)
        try:
            removed = await quota.clean()
        except Exception:  # e.g. the database is down: try again next round
            log.warning("media cleanup failed; trying again later", exc_info=True)
            continue
        metrics.MEDIA_REMOVED.inc(removed)


async def _healthz(request: web.Request) -> web.Response:
    """200 {"status": "ok"} when the database answers, its schema is the one this code
    expects and the language model is loaded; 503 {"status": "starting", ...} while the
    model still loads (a first start trains it: a load balancer waits, issue 15); else
    503 {"status": "unavailable", "checks": {...}} naming the part that is down (a
    database without the schema fails every turn: issue 12). A model that failed to
    load is no outage: free text gets the menu, the log says why."""
    runtime = request.app[RUNTIME]
    checks = await _health_checks(runtime.db)
    model = runtime.understanding.state
    if all(state == "ok" for state in checks.values()) and model != "loading":
        degraded = await _channel_health(runtime) if checks["database"] == "ok" else {}
        if degraded:  # a channel needs an admin (Zalo OA's lost token chain): still serving
            return web.json_response(
                {"status": "degraded", "checks": {**checks, **degraded}},
                headers={"Cache-Control": "no-store"},
            )
        return web.json_response({"status": "ok"})
    status = "unavailable" if any(state != "ok" for state in checks.values()) else "starting"
    checks["language_model"] = model
    return web.json_response(
        {"status": status, "checks": checks},
        status=503,
        headers={"Cache-Control": "no-store"},
    )


async def _channel_health(runtime: Runtime) -> dict[str, str]:
    """Channels that serve but need an admin, by name: why (a channel's `health()`)."""
    found: dict[str, str] = {}
    for name, channel in runtime.channels.items():
        health = getattr(channel, "health", None)
        if health is None:
            continue
        try:
            problem = await health()
        except Exception as error:
            problem = f"unknown ({error_summary(error)})"
        if problem:
            found[name] = problem
    return found


async def _staff_alerts(runtime: Runtime) -> list[str]:
    """The console's banner: what a channel needs an admin for (`staff_alert()`)."""
    alerts: list[str] = []
    for channel in runtime.channels.values():
        alert = getattr(channel, "staff_alert", None)
        if alert is not None and (line := await alert()):
            alerts.append(line)
    return alerts


async def _health_checks(db: Database) -> dict[str, str]:
    """The state of each part: database "ok" | "unreachable"; schema "ok" | "missing" |
    "outdated (at X, expected Y)" | ... (bot/store/migrate.py) | "unknown". Each takes
    at most PING_TIMEOUT seconds; polled every few seconds, so a few trivial queries."""
    if not await db.ping():  # logs the outage once, not every poll
        return {"database": "unreachable", "schema": "unknown"}
    try:
        async with asyncio.timeout(PING_TIMEOUT):
            schema = await migrate.schema_state(db)
    except Exception as error:  # the body is public: the reason goes to the log only
        log.warning("health check: cannot read the schema revision: %s", error_summary(error))
        schema = "unknown"
    return {"database": "ok", "schema": schema}


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (bot/core/metrics.py) for a scraper holding CSKH_METRICS_TOKEN."""
    token = request.app[RUNTIME].settings.metrics_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    presented = given.encode("utf-8", "surrogateescape")
    if (
        token is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented, token.get_secret_value().encode())
    ):
        return web.json_response({"error": "missing or wrong bearer token"}, status=401)
    body = generate_latest(metrics.REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _rest_disabled(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "the REST channel is off: set CSKH_REST_TOKEN to enable it"}, status=404
    )


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """API errors as JSON {"error": ...}; a customer's page that fails answers a page
    they can read (bot/channels/maintenance.py); nothing unexpected leaks a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if not request.path.startswith("/api/") or error.status < 400:
            raise
        return web.json_response({"error": error.reason}, status=error.status)
    except Exception as error:
        return await _unexpected_error(request, error)


async def _unexpected_error(request: web.Request, error: Exception) -> web.StreamResponse:
    """503 while the database is down, else 500: JSON for the API and /healthz, the
    maintenance page for customers. During an outage every request fails the same way,
    so Database.ping logs it once instead of a traceback per request (issue 12)."""
    runtime = request.app[RUNTIME]
    down = not await runtime.db.ping()
    if down:
        log.debug("%s %s failed, database down", request.method, request.path, exc_info=error)
    else:
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    if request.writer.output_size:
        # An answer has begun (a websocket's 101): another cannot follow on this
        # connection. Close it; the web chat's page reconnects.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503 if down else 500)
    if request.path.startswith("/api/") or request.path == "/healthz":
        if down:
            return web.json_response(
                {"error": "service unavailable; please try again later"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return web.json_response({"error": "internal error; please try again"}, status=500)
    return error_page(runtime.texts, runtime.settings.hotline, maintenance=down)
