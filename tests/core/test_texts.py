"""domain.yml: both languages everywhere, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.core.texts import LANGUAGES, Texts, TextsError

ROOT = Path(__file__).parents[2]


def test_domain_loads_with_both_languages() -> None:
    texts = Texts.load()
    for key in texts:
        vi, en = texts.get(key, "vi"), texts.get(key, "en")
        assert vi and en, key


def test_every_text_key_used_in_the_code_exists() -> None:
    texts = Texts.load()
    used: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\(\s*\"([a-z_.]+)\"", source))
        used |= set(re.findall(r"texts\.get\(\s*\"([a-z_.]+)\"", source))
        used |= set(re.findall(r"\b_t\(\s*\"([a-z_.]+)\"", source))
        used |= {f"interim.{name}" for name in re.findall(r"interim\(ctx, \"(\w+)\"\)", source)}
    used |= {f"language.{code}" for code in LANGUAGES}
    assert len(used) > 30
    missing = sorted(key for key in used if key not in texts)
    assert not missing, missing


def test_vietnamese_texts_carry_diacritics() -> None:
    texts = Texts.load()
    plain = [
        key
        for key in texts
        if key.startswith(("greet", "help", "nav", "unknown", "interim"))
        and texts.get(key, "vi").isascii()
    ]
    assert not plain


def test_a_missing_translation_is_a_startup_error(tmp_path: Path) -> None:
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump({"texts": {"greet": {"vi": "Xin chào"}}}), encoding="utf-8")
    with pytest.raises(TextsError, match="greet"):
        Texts.load(path)
    path.write_text(
        yaml.safe_dump({"texts": {"x": {"vi": "{hotline}", "en": "{phone}"}}}), encoding="utf-8"
    )
    with pytest.raises(TextsError, match="placeholders"):
        Texts.load(path)


def test_texts_are_parsed_once_per_version_of_the_file(tmp_path: Path) -> None:
    """Charts and e-invoices load the texts on every render: the same file is not parsed
    again, and an edited one is."""
    path = tmp_path / "domain.yml"
    path.write_text(
        yaml.safe_dump({"texts": {"greet": {"vi": "Xin chào", "en": "Hello"}}}), encoding="utf-8"
    )
    first = Texts.load(path)
    assert Texts.load(path) is first
    path.write_text(
        yaml.safe_dump({"texts": {"greet": {"vi": "Chào Quý khách", "en": "Welcome"}}}),
        encoding="utf-8",
    )
    assert Texts.load(path).get("greet", "en") == "Welcome"
