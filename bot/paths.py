"""Where the bot finds its own files, whatever the current directory is.

In a source checkout or an editable install, domain.yml, data/ and migrations/
sit beside the `bot` package; a built wheel carries them in bot/_resources/
(see pyproject.toml). Nothing here depends on the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it: domain.yml parses in a fraction of the
# pure-Python parser's time (~0.1 s per load, more on a busy machine).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent)


def resource_path(relative: str) -> Path:
    """The absolute path of a packaged resource such as "data/tariffs.yml".

    Raises:
        FileNotFoundError: when the resource is in neither location.
    """
    for root in _CANDIDATES:
        candidate = root / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"packaged resource not found: {relative}")


def read_yaml(path: Path) -> Any:
    """A YAML file's document, read safely (no Python objects).

    Raises:
        yaml.YAMLError: the file is not valid YAML.
    """
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)
