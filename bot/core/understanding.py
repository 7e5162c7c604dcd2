"""The language model behind free text, loaded (or trained on first use) off the event
loop. Until it is ready the bot answers free text with the menu, never waits for it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from nlu.model import NluModel, Parse
from nlu.training import load_or_train

log = logging.getLogger(__name__)

# One model per cache directory per process: several runtimes in one process (tests,
# a future worker) share it instead of loading it again.
_LOADED: dict[Path, NluModel] = {}
MAX_PARSE_CHARS = 500


class Understanding:
    """Parses free text once the model is loaded; `parse` is None before that."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._model: NluModel | None = None
        self._loading: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Load the cached model, or train it (a few seconds), in a worker thread."""
        if self._loading is None:
            self._loading = asyncio.create_task(self._load(), name="nlu-load")

    async def _load(self) -> None:
        try:
            model = _LOADED.get(self.cache_dir)
            if model is None:
                model = await asyncio.to_thread(load_or_train, self.cache_dir)
                _LOADED[self.cache_dir] = model
            self._model = model
        except Exception:
            log.exception("the language model could not be loaded; free text gets the menu")

    async def ready(self) -> bool:
        """Wait for the model (starting the load if needed); True when it is usable."""
        self.start()
        assert self._loading is not None
        await asyncio.shield(self._loading)
        return self._model is not None

    async def stop(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()

    def parse(self, text: str) -> Parse | None:
        """The intent and entities of `text`; only its first 500 characters are read (what
        a customer asks is in them, and a flood of text must not cost seconds)."""
        if self._model is None or not text.strip():
            return None
        return self._model.parse(text[:MAX_PARSE_CHARS])
