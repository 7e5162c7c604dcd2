"""Staff accounts of the console (issue 14): made, listed and disabled from the shell,
one per role in the demo data, and a password check that tells nothing away."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import _parser
from bot.auth.staff import ROLES, StaffError, add_staff, authenticate, disable_staff, list_staff
from bot.demo.definitions import definitions
from bot.settings import Settings
from bot.store.db import Database
from tests.helpers import make_settings

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
GOOD = "Agent@2026cskh"


async def test_an_account_signs_in_with_its_password_only_while_enabled(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        async with db.transaction() as session:
            await add_staff(
                session, " Bich.Tran ", "agent", GOOD, display_name="Trần Bích", now=NOW
            )
        async with db.transaction() as session:
            assert await authenticate(session, "bich.tran", "wrong-2026pass", now=NOW) is None
            assert await authenticate(session, "nobody", GOOD, now=NOW) is None
            account = await authenticate(session, "BICH.TRAN", GOOD, now=NOW)
            assert account is not None and account.role == "agent"
            assert account.display_name == "Trần Bích" and account.last_login_at == NOW
            assert account.password_hash.startswith("$argon2id$")
        async with db.transaction() as session:
            await disable_staff(session, "bich.tran")
        async with db.transaction() as session:
            assert await authenticate(session, "bich.tran", GOOD, now=NOW) is None
            (listed,) = await list_staff(session)
            assert listed.username == "bich.tran" and listed.disabled
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("username", "role", "password", "reason"),
    [
        ("bích", "agent", GOOD, "a username is 3 to 60 characters"),
        ("ab", "agent", GOOD, "a username is 3 to 60 characters"),
        ("bich", "boss", GOOD, "unknown role 'boss'"),
        ("bich", "agent", "short1", "at least 10 characters"),
        ("bich", "agent", "onlyletterspassword", "letters and digits"),
        ("bich", "agent", "1234567890123", "letters and digits"),
    ],
)
async def test_a_bad_account_is_refused_in_plain_words(
    migrated_url: str, username: str, role: str, password: str, reason: str
) -> None:
    db = Database(migrated_url)
    try:
        with pytest.raises(StaffError, match=reason):
            async with db.transaction() as session:
                await add_staff(session, username, role, password, now=NOW)
        async with db.reading() as session:
            assert list(await list_staff(session)) == []
    finally:
        await db.dispose()


def cskh(settings: Settings, *argv: str) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return int(args.run(settings, args))


async def test_staff_commands_add_list_and_disable(
    tmp_path: Path, migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "var", migrated_url)

    def run(*argv: str) -> int:
        return cskh(settings, *argv)

    assert await asyncio.to_thread(run, "staff", "list") == 0
    assert "no staff accounts" in capsys.readouterr().out
    added = await asyncio.to_thread(
        run, "staff", "add", "ha.hoang", "--role", "marketing", "--password", "Market@2026x"
    )
    assert added == 0 and "ha.hoang (marketing) added" in capsys.readouterr().out
    again = await asyncio.to_thread(
        run, "staff", "add", "ha.hoang", "--role", "agent", "--password", "Market@2026x"
    )
    assert again == 2 and "the username 'ha.hoang' is taken" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "staff", "add", "x1y", "--role", "root") == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "staff", "disable", "ha.hoang") == 0
    assert await asyncio.to_thread(run, "staff", "disable", "nobody") == 1
    capsys.readouterr()
    assert await asyncio.to_thread(run, "staff", "list") == 0
    assert capsys.readouterr().out.split() == ["ha.hoang", "marketing", "disabled", "ha.hoang"]


async def test_the_demo_data_has_one_staff_account_per_role(seeded_url: str) -> None:
    """The accounts README lists sign in with the passwords it gives."""
    staff = definitions()["staff"]
    assert sorted(member["role"] for member in staff) == sorted(ROLES)
    db = Database(seeded_url)
    try:
        async with db.transaction() as session:
            for member in staff:
                account = await authenticate(
                    session, member["username"], member["password"], now=NOW
                )
                assert account is not None and account.role == member["role"]
    finally:
        await db.dispose()
