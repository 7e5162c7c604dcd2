"""Media links opened in a real browser: nothing a customer uploaded may run on the
bot's origin (issue 12, point 3: an SVG sent to Telegram ran its script there).

The hostile files are stored straight into the running bot's database, bypassing the
channels, with the type their sender claimed: rows from before the fix look like that.
Chromium is launched as in test_webchat_browser.py, and skips (or fails, with
CSKH_REQUIRE_BROWSER=1) the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.core.messages import Media as MediaRef
from bot.store.media import save_media
from bot.store.models import Media
from tests.channels.test_webchat import PNG
from tests.e2e.test_webchat_browser import CHROMIUM, FLAGS, _browser_or_skip
from tests.helpers import BotServer, eventually

# Everything a script on the bot's origin could do that the test can see afterwards.
PAYLOAD = (
    "try { fetch('/pwned') } catch (e) {}"
    "try { document.title = 'pwned' } catch (e) {}"
    "try { window.name = 'pwned' } catch (e) {}"
    "try { localStorage.setItem('pwned', '1') } catch (e) {}"
    "try { document.cookie = 'pwned=1; path=/' } catch (e) {}"
    "try { alert('pwned') } catch (e) {}"
)
HOSTILE_SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" onload="{PAYLOAD}">'
    f"<script>{PAYLOAD}</script><circle r='5'/></svg>"
).encode()
HOSTILE_HTML = f'<!doctype html><body onload="{PAYLOAD}"><script>{PAYLOAD}</script>'.encode()
PNG_WITH_SCRIPT = PNG + f"<script>{PAYLOAD}</script>".encode()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    async_playwright = _browser_or_skip()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            accept_downloads=True,
            downloads_path=str(tmp_path / "downloads"),
        )
        try:
            yield context
        finally:
            await context.close()


async def _link(bot: BotServer, data: bytes, claimed_type: str, filename: str) -> str:
    """A signed link to a row holding `data` under its sender's claimed type."""
    async with bot.runtime.db.transaction() as session:
        media_id = await save_media(session, MediaRef(claimed_type, filename, data=data), None)
        await session.execute(
            update(Media).where(Media.id == media_id).values(content_type=claimed_type)
        )
    return bot.runtime.links.url_for(media_id)


async def _open(page: Any, url: str) -> Any | None:
    """Go to `url`; the download it started, or None when the page shows it."""
    from playwright.async_api import Error

    downloads: list[Any] = []

    def started(download: Any) -> None:
        downloads.append(download)

    page.on("download", started)
    try:
        await page.goto(url)
    except Error as error:  # a download aborts the navigation
        if "Download is starting" not in str(error) and "ERR_ABORTED" not in str(error):
            raise
        await eventually(lambda: downloads, message=f"the navigation to {url} stopped")
    else:  # shown: onload has run; wait until what it could have fetched is seen
        await page.wait_for_load_state("networkidle")
    page.remove_listener("download", started)
    return downloads[0] if downloads else None


async def test_hostile_uploads_run_nothing_on_the_bots_origin_regression(
    bot: BotServer, browser: Any
) -> None:
    requests: list[str] = []
    dialogs: list[str] = []

    def requested(request: Any) -> None:
        requests.append(request.url)

    async def alerted(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    browser.on("request", requested)
    page = browser.pages[0] if browser.pages else await browser.new_page()
    page.on("dialog", alerted)

    svg = await _link(bot, HOSTILE_SVG, "image/svg+xml", "so-do.svg")
    html = await _link(bot, HOSTILE_HTML, "text/html", "trang.html")
    png = await _link(bot, PNG_WITH_SCRIPT, "image/png", "anh.png")

    titles: list[str] = []
    downloads: dict[str, Any] = {}
    for link, name in ((svg, "so-do.svg"), (html, "trang.html"), (png, "anh.png")):
        downloads[name] = await _open(page, link)
        titles.append(await page.title())

    await page.goto(bot.base_url + "/")  # the bot's own origin: nothing was left on it
    assert dialogs == []
    assert not [url for url in requests if "/pwned" in url]
    assert "pwned" not in titles
    assert await page.evaluate("localStorage.getItem('pwned')") is None
    assert await page.evaluate("window.name") != "pwned"
    assert not [c for c in await browser.cookies() if c["name"] == "pwned"]
    # The SVG and the page were saved as files, never shown; the picture was shown.
    assert {name: d and d.suggested_filename for name, d in downloads.items()} == {
        "so-do.svg": "so-do.svg",
        "trang.html": "trang.html",
        "anh.png": None,
    }


async def test_a_picture_link_shows_the_picture(bot: BotServer, browser: Any) -> None:
    page = browser.pages[0] if browser.pages else await browser.new_page()
    link = await _link(bot, PNG, "image/png", "bieu-do.png")
    assert await _open(page, link) is None
    assert await page.evaluate("document.images[0].naturalWidth") > 0
