"""Health and outages (issue 12): /healthz names the part that is down, a customer's
page answers a maintenance page while the database is, and an outage is logged once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bot.app import build_runtime, create_app
from bot.settings import Settings
from bot.store import migrate
from bot.store.db import Database
from tests.helpers import PG_URL, BotServer, make_settings


@contextlib.asynccontextmanager
async def database_down(db: Database) -> AsyncIterator[None]:
    """A real outage of `db`'s database for the block: open connections are cut and new
    ones fail (SQLite: its folder moves away; PostgreSQL: the database stops accepting
    connections, the server and the other databases on it carry on). Then it is back."""
    if db.is_sqlite:
        assert db.sqlite_path is not None
        folder = Path(db.sqlite_path).parent
        away = folder.with_name(folder.name + "-away")
        folder.rename(away)
        await db.dispose()  # open connections would go on with the moved file
        try:
            yield
        finally:
            away.rename(folder)
        return
    import asyncpg

    name = db.url.database
    admin_url = make_url(PG_URL or "").set(drivername="postgresql")
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


@contextlib.asynccontextmanager
async def serving_unprepared(
    settings: Settings, *, prepare: bool = False, wait_for_model: bool = True
) -> AsyncIterator[BotServer]:
    """`cskh serve` on a database left as it is (no migration): what a process started
    with CSKH_AUTO_MIGRATE=0 sees when someone drops or restores the schema under it.
    With `prepare` and not `wait_for_model`: `cskh serve`'s first start, serving while
    the language model loads."""
    runtime = await build_runtime(settings, prepare=prepare, understand=True)
    runner = web.AppRunner(create_app(runtime))
    await runner.setup()
    if wait_for_model:
        await runtime.understanding.ready()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server = BotServer(runtime, runner, f"http://{host}:{port}", aiohttp.ClientSession())
    try:
        yield server
    finally:
        await server.close()


def logged(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno >= logging.INFO]


async def test_healthz_is_503_naming_the_schema_on_a_database_without_one_regression(
    database_url: str, tmp_path: Path
) -> None:
    """It answered 200 on an empty database, where every customer's turn fails."""
    async with serving_unprepared(make_settings(tmp_path / "var", database_url)) as bot:
        status, body = await bot.get("/healthz", token=None)
        assert status == 503
        assert body == {
            "status": "unavailable",
            "checks": {"database": "ok", "schema": "missing", "language_model": "ok"},
        }


async def test_healthz_names_a_schema_behind_this_code(database_url: str, tmp_path: Path) -> None:
    head = migrate.head_revision()
    assert head is not None
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    earlier = scripts.get_revision(head).down_revision  # the revision before the head
    assert isinstance(earlier, str)
    db = Database(database_url)
    try:
        await migrate.upgrade(db, earlier)
    finally:
        await db.dispose()
    async with serving_unprepared(make_settings(tmp_path / "var", database_url)) as bot:
        status, body = await bot.get("/healthz", token=None)
        assert status == 503
        assert body["checks"] == {
            "database": "ok",
            "schema": f"outdated (at {earlier}, expected {head})",
            "language_model": "ok",
        }


async def test_healthz_is_ok_on_a_migrated_database_and_logs_nothing(
    bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):  # polled every few seconds
        assert await bot.get("/healthz", token=None) == (200, {"status": "ok"})
    assert not [r for r in caplog.records if r.name.startswith(("bot", "alembic"))]


async def test_healthz_is_503_naming_the_database_while_it_is_down_regression(
    bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    """And polling it logs the outage once, not a traceback per poll."""
    caplog.set_level(logging.INFO)
    async with database_down(bot.runtime.db):
        for _ in range(3):
            status, body = await bot.get("/healthz", token=None)
            assert status == 503
            assert body == {
                "status": "unavailable",
                "checks": {
                    "database": "unreachable",
                    "schema": "unknown",
                    "language_model": "ok",
                },
            }
    assert await bot.get("/healthz", token=None) == (200, {"status": "ok"})
    lines = logged(caplog, "bot.store.db")
    assert [r.getMessage().partition(":")[0] for r in lines][:1] == ["database unreachable"]
    assert len(lines) == 2 and "reachable again" in lines[1].getMessage()
    assert not [r for r in lines if r.exc_info]


async def test_pages_answer_a_maintenance_page_while_the_database_is_down_regression(
    bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The web chat page reads the visitor's language: with the database down it
    answered 500 and a JSON body the customer saw."""
    caplog.set_level(logging.INFO)
    async with database_down(bot.runtime.db), bot.session.get(bot.base_url + "/") as response:
        page = await response.text()
        assert response.status == 503
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert int(response.headers["Retry-After"]) > 0
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        status, body = await bot.get("/api/messages", params={"user": "u1"})
        assert status == 503 and "error" in body  # the API keeps JSON
    assert page.startswith("<!doctype html>") and 'name="viewport"' in page
    assert "Hệ thống đang bảo trì, Quý khách vui lòng thử lại sau ít phút hoặc gọi" in page
    assert ">1900 1909</a>" in page and 'href="tel:19001909"' in page
    assert "under maintenance" in page  # the English line under it
    assert "<script" not in page and "src=" not in page and "http" not in page
    assert not [r for r in logged(caplog, "bot.app") if r.exc_info]
    async with bot.session.get(bot.base_url + "/") as response:
        assert response.status == 200  # and the chat is back with the database


async def test_the_web_chat_socket_is_dropped_without_a_traceback_while_the_database_is_down(
    bot: BotServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The socket reads the history when it opens: with the database down it wrote a
    JSON error into the upgraded connection (the page saw a broken frame) and logged a
    traceback per attempt. The history is read before the upgrade now: a plain 503."""
    caplog.set_level(logging.INFO)
    jar = aiohttp.CookieJar(unsafe=True)  # keep the visitor cookie of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(bot.base_url + "/") as response:
            assert response.status == 200
        async with database_down(bot.runtime.db):
            for _ in range(3):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await browser.ws_connect(bot.base_url + "/webchat/ws")
                assert refused.value.status == 503
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]


async def test_a_first_start_says_starting_and_understands_the_first_message_regression(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On a fresh var dir the server said ready while the language model still trained
    (up to 16 s on two cores), and "mat dien roi" sent then got "tôi chưa hiểu". Now
    /healthz says "starting" (503, a load balancer waits) until the model is there, and
    a message sent meanwhile waits for it."""
    caplog.set_level(logging.INFO)
    var = tmp_path / "var"
    settings = make_settings(
        var, f"sqlite+aiosqlite:///{var / 'cskh.db'}", nlu_cache_dir=tmp_path / "nlu"
    )
    async with serving_unprepared(settings, prepare=True, wait_for_model=False) as bot:
        status, body = await bot.get("/healthz", token=None)
        assert (status, body["status"]) == (503, "starting")
        assert body["checks"] == {"database": "ok", "schema": "ok", "language_model": "loading"}
        first = await bot.chat("first-visitor").say("mat dien roi")
        assert await bot.get("/healthz", token=None) == (200, {"status": "ok"})
        later = await bot.chat("later-visitor").say("mat dien roi")
    unknown = bot.runtime.texts.get("unknown.text", "vi")
    assert [m["text"] for m in first] == [m["text"] for m in later]
    assert all(unknown not in m["text"] for m in first)
    assert [r.getMessage() for r in logged(caplog, "bot.app")] == [
        "ready: the language model is loaded, /healthz says ok"
    ]
