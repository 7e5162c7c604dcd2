"""The language model behind free text, loaded (or trained on first use) in a thread.

A fresh install trains the model from nlu/data/nlu.yml on its first start (up to 16 s
on two cores) and caches it; later starts load the cache in a fraction of a second.
`cskh serve` starts the load before it migrates and seeds the database, reports
"starting" on /healthz until the model is there, and the engine holds a text message
that arrives meanwhile until the model is ready (at most `READY_WAIT`), so "mất điện
rồi" is understood from the first message (issue 15).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from pathlib import Path

from nlu.model import NluModel, Parse
from nlu.training import load_or_train

log = logging.getLogger(__name__)

MAX_PARSE_CHARS = 500
# How long a message waits for a model still training before it gets the menu.
READY_WAIT = 60.0

# One load per cache directory per process: several runtimes in one process (tests,
# `cskh serve`'s early start and its runtime) share it instead of training twice.
_LOADS: dict[Path, concurrent.futures.Future[NluModel]] = {}
_LOADS_LOCK = threading.Lock()


def _load_once(cache_dir: Path) -> concurrent.futures.Future[NluModel]:
    """The process's load of `cache_dir`'s model: started now unless under way or done
    (a load that failed is tried again)."""
    with _LOADS_LOCK:
        future = _LOADS.get(cache_dir)
        if future is None or (future.done() and future.exception() is not None):
            future = concurrent.futures.Future()
            _LOADS[cache_dir] = future
            threading.Thread(
                target=_load, args=(future, cache_dir), name="nlu-load", daemon=True
            ).start()
        return future


def _load(future: concurrent.futures.Future[NluModel], cache_dir: Path) -> None:
    future.set_running_or_notify_cancel()
    started = time.perf_counter()
    try:
        model = load_or_train(cache_dir)
    except Exception as error:
        log.exception("the language model could not be loaded; free text gets the menu")
        future.set_exception(error)
        return
    log.info("language model ready in %.1f s", time.perf_counter() - started)
    future.set_result(model)


class Understanding:
    """Parses free text once the model is loaded; `parse` is None before that."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._future: concurrent.futures.Future[NluModel] | None = None

    def start(self) -> None:
        """Load the cached model, or train it (a few seconds), in a worker thread."""
        if self._future is None:
            self._future = _load_once(self.cache_dir)

    @property
    def state(self) -> str:
        """ "ok", "loading" (or not started) or "failed" (free text gets the menu)."""
        if self._future is None or not self._future.done():
            return "loading"
        return "failed" if self._future.exception() is not None else "ok"

    async def ready(self) -> bool:
        """Wait for the model (starting the load if needed); True when it is usable."""
        self.start()
        assert self._future is not None
        try:
            await asyncio.shield(asyncio.wrap_future(self._future))
        except Exception:  # logged by the load
            return False
        return True

    async def wait_ready(self, seconds: float = READY_WAIT) -> bool:
        """`ready`, but at most `seconds`; True when the model is usable."""
        if self.state != "loading":
            return self.state == "ok"
        try:
            async with asyncio.timeout(seconds):
                return await self.ready()
        except TimeoutError:
            log.warning("language model not ready after %.0f s; free text gets the menu", seconds)
            return False

    async def stop(self) -> None:
        """Nothing to stop: a load under way finishes in its thread for the next user."""

    def parse(self, text: str) -> Parse | None:
        """The intent and entities of `text`; only its first 500 characters are read (what
        a customer asks is in them, and a flood of text must not cost seconds)."""
        if self.state != "ok" or not text.strip():
            return None
        assert self._future is not None
        return self._future.result().parse(text[:MAX_PARSE_CHARS])
