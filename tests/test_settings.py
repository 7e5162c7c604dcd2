"""Settings: defaults, the generated secret key, and secrets kept out of logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import Settings


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_database_url == (
        f"sqlite+aiosqlite:///{tmp_path / 'var' / 'cskh.db'}"
    )
    assert settings.effective_public_url == "http://127.0.0.1:8080"
    assert settings.rest_token is None and settings.auto_migrate and settings.demo_seed


def test_environment_and_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSKH_HOST", "0.0.0.0")
    monkeypatch.setenv("CSKH_PORT", "9000")
    monkeypatch.setenv("CSKH_LOG_LEVEL", "debug")
    monkeypatch.setenv("CSKH_AUTO_MIGRATE", "0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9000, "DEBUG")
    assert settings.effective_public_url == "http://0.0.0.0:9000"
    assert settings.auto_migrate is False
    monkeypatch.setenv("CSKH_PUBLIC_URL", "https://cskh.example.vn/")
    assert Settings(_env_file=None).effective_public_url == "https://cskh.example.vn"  # type: ignore[call-arg]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CSKH_PORT=8123\nCSKH_HOTLINE=1900 1234\n")
    settings = Settings()
    assert settings.port == 8123 and settings.hotline == "1900 1234"


def test_secret_key_is_generated_once_and_shared(tmp_path: Path) -> None:
    first = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    key = first.secret_key_bytes()
    assert len(key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    second = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    assert second.secret_key_bytes() == key  # a second process reads the same key
    explicit = Settings(_env_file=None, var_dir=tmp_path, secret_key="shared")  # type: ignore[call-arg]
    assert explicit.secret_key_bytes() == b"shared"


def test_secrets_never_reach_a_log_line_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, rest_token="tok-123456", secret_key="sk-abcdef")  # type: ignore[call-arg]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s", settings)
        logging.getLogger("test").info("settings: %r", settings)
    assert "tok-123456" not in caplog.text and "sk-abcdef" not in caplog.text
    assert "tok-123456" not in repr(settings)
