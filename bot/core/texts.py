"""Everything a customer reads comes from domain.yml, Vietnamese first, English second.

domain.yml nests texts under `texts:`; a leaf is a mapping with exactly the keys
`vi` and `en`. Keys are the dotted path ("menu.lookups"). Loading checks that every
leaf has both languages with the same {placeholders}, so a missing translation is a
start-up error, not a customer-facing KeyError.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.paths import read_yaml, resource_path

LANGUAGES = ("vi", "en")


class TextsError(ValueError):
    """domain.yml is malformed (a missing language, mismatched placeholders...)."""


class Texts:
    """The customer-facing texts, by dotted key and language."""

    def __init__(self, entries: Mapping[str, Mapping[str, str]]) -> None:
        self._entries = {key: dict(value) for key, value in entries.items()}

    @classmethod
    def load(cls, path: Path | None = None) -> Texts:
        """domain.yml's texts, checked; parsed once per version of the file (a chart or an
        e-invoice asks for them on every render, and Texts is read-only)."""
        path = path or resource_path("domain.yml")
        stat = path.stat()
        return _parsed(str(path), stat.st_mtime_ns, stat.st_size)

    def get(self, key: str, lang: str = "vi", /, **params: object) -> str:
        """The text for `key` in `lang` (Vietnamese when the language is unknown)."""
        try:
            variants = self._entries[key]
        except KeyError:
            raise KeyError(f"no text '{key}' in domain.yml") from None
        template = variants.get(lang) or variants["vi"]
        return template.format(**params) if params else template

    def variants(self, key: str) -> list[str]:
        """The text in every language (to recognise a button title typed back)."""
        return list(self._entries[key].values())

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)


@functools.lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int, size: int) -> Texts:
    """The texts of one version of a file (its modification time and size are the key)."""
    document = read_yaml(Path(path))
    if not isinstance(document, dict) or not isinstance(document.get("texts"), dict):
        raise TextsError(f"{path}: expected a top-level 'texts:' mapping")
    entries = dict(_leaves(document["texts"], ""))
    for key, variants in entries.items():
        _check_entry(key, variants)
    return Texts(entries)


def _leaves(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    for name, value in node.items():
        key = f"{prefix}{name}"
        is_leaf = (
            isinstance(value, dict)
            and value
            and set(value) <= set(LANGUAGES)
            and not any(isinstance(v, dict) for v in value.values())
        )
        if is_leaf:
            yield key, value
        elif isinstance(value, dict):
            yield from _leaves(value, key + ".")
        else:
            raise TextsError(f"domain.yml: '{key}' must be a mapping of vi/en texts")


def _check_entry(key: str, variants: Mapping[str, Any]) -> None:
    missing = [lang for lang in LANGUAGES if not isinstance(variants.get(lang), str)]
    if missing or not all(str(v).strip() for v in variants.values()):
        raise TextsError(f"domain.yml: '{key}' lacks a text in {', '.join(missing) or 'one'}")
    fields = {lang: _placeholders(variants[lang]) for lang in LANGUAGES}
    if fields["vi"] != fields["en"]:
        raise TextsError(f"domain.yml: '{key}' has different placeholders in vi and en")


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as error:
        raise TextsError(f"domain.yml: bad placeholder in {template!r}: {error}") from None
