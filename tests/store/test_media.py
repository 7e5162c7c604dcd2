"""Photos and documents: the bytes live under the media directory with random names; a
file is never left behind by a transaction that failed, nor kept after its row went."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.messages import Media as MediaRef
from bot.store.db import Database
from bot.store.media import delete_media, load_media, save_media
from bot.store.models import Media

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def db(migrated_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(migrated_url, media_dir=tmp_path / "media")
    try:
        yield database
    finally:
        await database.dispose()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_photo_is_a_file_with_a_random_name(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as session:
        first = await save_media(session, MediaRef("image/png", "cccd.png", data=PNG), None)
        second = await save_media(session, MediaRef("image/png", "cccd.png", data=PNG), None)
    assert first != second  # the customer's filename is not the file's name
    names = [p.name for p in files_under(tmp_path / "media")]
    assert sorted(names) == sorted([first, second]) and "cccd.png" not in names
    async with db.reading() as session:
        loaded = await load_media(session, first)
        row = await session.get(Media, first)
    assert loaded is not None and loaded.data == PNG and loaded.filename == "cccd.png"
    assert row is not None and row.data is None and row.size == len(PNG)


async def test_a_failed_transaction_leaves_no_file(db: Database, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await save_media(session, MediaRef("image/png", "x.png", data=PNG), None)
            assert len(files_under(tmp_path / "media")) == 1
            raise RuntimeError("the reply failed")
    assert files_under(tmp_path / "media") == []
    async with db.reading() as session:
        assert list(await session.scalars(select(Media))) == []


async def test_a_deleted_row_takes_its_file_but_only_once_committed(
    db: Database, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        media_id = await save_media(session, MediaRef("image/png", "x.png", data=PNG), None)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            assert await delete_media(session, Media.id == media_id) == 1
            raise RuntimeError("rolled back")
    assert len(files_under(tmp_path / "media")) == 1  # the row is back, so is its file
    async with db.transaction() as session:
        assert await delete_media(session, Media.id == media_id) == 1
    assert files_under(tmp_path / "media") == []
    async with db.reading() as session:
        assert await load_media(session, media_id) is None


async def test_rows_from_before_the_media_directory_are_still_read(db: Database) -> None:
    async with db.transaction() as session:
        session.add(
            Media(id="old", content_type="image/png", filename="o.png", size=3, data=b"old")
        )
    async with db.reading() as session:
        loaded = await load_media(session, "old")
    assert loaded is not None and loaded.data == b"old"


async def test_without_a_media_directory_the_bytes_stay_in_the_database(
    migrated_url: str,
) -> None:
    plain = Database(migrated_url)
    try:
        async with plain.transaction() as session:
            media_id = await save_media(session, MediaRef("image/png", "x.png", data=PNG), None)
        async with plain.reading() as session:
            row = await session.get(Media, media_id)
            loaded = await load_media(session, media_id)
        assert row is not None and row.data == PNG and loaded is not None
    finally:
        await plain.dispose()
