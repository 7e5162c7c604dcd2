"""Photos and documents: the bytes live under the media directory with random names; a
file is never left behind by a transaction that failed, nor kept after its row went."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.core.messages import Media as MediaRef
from bot.store.db import Database
from bot.store.media import (
    delete_media,
    is_markup,
    is_refused_upload,
    load_media,
    save_media,
    sniff_media,
)
from bot.store.models import Media
from tests.channels.test_webchat import PNG as REAL_PNG
from tests.helpers import BotServer

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


# --- what a file is, by its bytes (issue 12, point 3) ----------------------------------

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
HOSTILE_MARKUP = {
    "svg": SVG,
    "svg with an XML prolog": b'<?xml version="1.0"?>\n<svg onload="alert(1)"/>',
    "svg after a BOM and whitespace": b"\xef\xbb\xbf \r\n\t<svg onload=alert(1)>",
    "svg after a page of whitespace": b" " * 5000 + b"\n<svg onload=alert(1)>",
    "svg in UTF-16": "\ufeff<svg onload=alert(1)>".encode("utf-16-le"),
    "svg after a doctype": b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd"><svg/>',
    "svg with a prefix": b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script/></s:svg>',
    "svg after a comment": b"<!-- a drawing --><svg onload=alert(1)>",
    "html": b"<!doctype html><script>alert(1)</script>",
    "html in capitals": b"\n\n<HTML><BODY onload=alert(1)>",
    "a bare script": b"<script>alert(1)</script>",
    "xhtml": b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>',
    "an iframe": b"<iframe src=javascript:alert(1)>",
}
SERVED_AS = {
    "jpeg": (JPEG, "image/jpeg"),
    "png": (REAL_PNG, "image/png"),
    "webp": (WEBP, "image/webp"),
    "gif": (GIF, "image/gif"),
    "pdf": (PDF, "application/pdf"),
    # Still only a picture to a browser, which nosniff keeps from being read as a script.
    "png with a script after IEND": (REAL_PNG + b"<script>alert(1)</script>", "image/png"),
    "gif that is also javascript": (b"GIF89a=1;alert(document.domain)//" + GIF[6:], "image/gif"),
    "pdf header not at the start": (b"   %PDF-1.4", "application/octet-stream"),
    "wav": (b"RIFF\x00\x00\x00\x00WAVEfmt ", "application/octet-stream"),
    "docx": (b"PK\x03\x04 a .docx", "application/octet-stream"),
    "nothing": (b"", "application/octet-stream"),
    **{name: (markup, "application/octet-stream") for name, markup in HOSTILE_MARKUP.items()},
}


@pytest.mark.parametrize("name", list(SERVED_AS))
def test_the_served_type_comes_from_the_bytes(name: str) -> None:
    data, served = SERVED_AS[name]
    assert sniff_media(data) == served


@pytest.mark.parametrize("name", list(HOSTILE_MARKUP))
def test_svg_and_html_are_recognised_by_their_bytes(name: str) -> None:
    assert is_markup(HOSTILE_MARKUP[name])


@pytest.mark.parametrize(
    "data",
    [
        REAL_PNG + b"<svg onload=alert(1)>",
        b"GIF89a<html><script>alert(1)</script>",
        PDF + b"<html><script>alert(1)</script>",
        "Chào anh, em gửi số liệu <b>công tơ</b>".encode(),
        # Vietnamese e-invoices are XML: customers may send one.
        b'<?xml version="1.0" encoding="UTF-8"?><HDon><DLHDon><TTChung/></DLHDon></HDon>',
        b"",
    ],
    ids=["png", "gif", "pdf", "text", "e-invoice xml", "nothing"],
)
def test_pictures_pdfs_text_and_plain_xml_are_not_markup(data: bytes) -> None:
    assert not is_markup(data)


@pytest.mark.parametrize(
    ("data", "claimed", "filename"),
    [
        (SVG, "application/octet-stream", "x.bin"),
        (PNG, "image/svg+xml", "x.png"),
        (PNG, "text/html; charset=utf-8", "x.png"),
        (PNG, "application/xhtml+xml", None),
        (PNG, None, "ve-sinh.SVG"),
        (PNG, None, "drawing.svgz"),
        (PNG, "image/png", "trang.html. "),
        (PNG, "image/png", "trang.htm"),
        (PNG, "image/png", "trang.xhtml"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_an_upload_is_refused_by_its_bytes_claim_or_name(
    data: bytes, claimed: str | None, filename: str | None
) -> None:
    assert is_refused_upload(data, claimed, filename)


def test_an_ordinary_upload_is_not_refused() -> None:
    assert not is_refused_upload(PNG, "image/png", "cong-to.png")
    assert not is_refused_upload(PDF, "application/pdf", "so-do.pdf")
    assert not is_refused_upload(b"PK\x03\x04", None, None)


async def test_the_stored_type_is_sniffed_never_the_senders_claim(db: Database) -> None:
    script = b"<script>alert(1)</script>"
    async with db.transaction() as session:
        ids = [
            await save_media(session, MediaRef("image/png", "x.png", data=script), None),
            await save_media(session, MediaRef("image/svg+xml", "x.svg", data=PNG), None),
            await save_media(session, MediaRef("application/pdf", "hd.pdf", data=PDF), None),
        ]
    async with db.reading() as session:
        rows = [await session.get(Media, media_id) for media_id in ids]
    types = [row.content_type if row else None for row in rows]
    assert types == ["application/octet-stream", "image/png", "application/pdf"]


# --- how a media link is served --------------------------------------------------------

SAFE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


async def _stored_as(bot: BotServer, data: bytes, content_type: str, filename: str) -> str:
    """A media row as an old or hostile one may be: the sender's claim as its type."""
    async with bot.runtime.db.transaction() as session:
        media_id = await save_media(session, MediaRef(content_type, filename, data=data), None)
        await session.execute(
            update(Media).where(Media.id == media_id).values(content_type=content_type)
        )
    return bot.runtime.links.url_for(media_id)


async def test_an_svg_row_is_served_as_an_attachment_regression(bot: BotServer) -> None:
    link = await _stored_as(bot, SVG, "image/svg+xml", "ve.svg")
    async with bot.session.get(link) as response:
        assert response.status == 200 and await response.read() == SVG
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        for header, value in SAFE_HEADERS.items():
            assert response.headers[header] == value


@pytest.mark.parametrize(
    ("data", "claimed", "served", "disposition"),
    [
        (REAL_PNG, "image/png", "image/png", "inline"),
        (JPEG, "application/octet-stream", "image/jpeg", "inline"),
        (PDF, "application/pdf", "application/pdf", "attachment"),
        (b"<html><script>alert(1)</script>", "image/png", "application/octet-stream", "attachment"),
        (b"<html><script>alert(1)</script>", "text/html", "application/octet-stream", "attachment"),
    ],
    ids=["png", "jpeg claimed as bytes", "pdf", "html claimed as png", "html"],
)
async def test_every_media_response_is_typed_by_its_bytes_and_sandboxed(
    bot: BotServer, data: bytes, claimed: str, served: str, disposition: str
) -> None:
    link = await _stored_as(bot, data, claimed, "tep")
    async with bot.session.get(link) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == served
        assert response.headers["Content-Disposition"].split(";")[0] == disposition
        for header, value in SAFE_HEADERS.items():
            assert response.headers[header] == value


async def test_the_download_name_is_safe_and_keeps_vietnamese(bot: BotServer) -> None:
    name = 'Hóa đơn "tháng 5"\\\r\n\x00\u202e;x.pdf'
    link = await _stored_as(bot, PDF, "application/pdf", name)
    async with bot.session.get(link) as response:
        disposition = response.headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"Hoa don thang 5;x.pdf\"; filename*=UTF-8''"
        "H%C3%B3a%20%C4%91%C6%A1n%20%22th%C3%A1ng%205%22%5C%3Bx.pdf"
    )


async def test_refused_links_carry_the_safe_headers_too(bot: BotServer) -> None:
    link = await _stored_as(bot, PNG, "image/png", "x.png")
    async with bot.session.get(link.replace("s=", "s=0")) as response:
        assert response.status == 403
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
