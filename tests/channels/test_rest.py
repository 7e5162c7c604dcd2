"""The REST channel's contract: auth, the answer shape, pushes, media links, 400s."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.media import MediaLinks
from bot.core.messages import Button, Media, Reply
from bot.store.models import ChatUser
from tests.helpers import BotServer, make_settings, running_bot

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_answer_has_the_documented_shape(bot: BotServer) -> None:
    status, body = await bot.post("/api/chat", {"user": "shape", "text": "/start"})
    assert status == 200
    (message,) = body["messages"]
    assert set(message) == {"text", "buttons", "requests", "image", "document"}
    assert message["buttons"][0] == [{"title": "🔑 Đăng nhập", "payload": "login"}]
    assert message["image"] is None and message["document"] is None


@pytest.mark.parametrize("token", [None, "wrong", ""])
async def test_requests_without_the_right_token_get_401(bot: BotServer, token: str | None) -> None:
    status, body = await bot.post("/api/chat", {"user": "x", "text": "hi"}, token=token)
    assert status == 401 and body == {"error": "missing or wrong bearer token"}
    status, _ = await bot.get("/api/messages", token=token, params={"user": "x"})
    assert status == 401


async def test_rest_is_off_without_a_token(tmp_path: Path, migrated_url: str) -> None:
    settings = make_settings(tmp_path / "var", migrated_url, rest_token=None)
    async with running_bot(settings) as bot:
        status, body = await bot.post("/api/chat", {"user": "x", "text": "hi"})
        assert status == 404 and "CSKH_REST_TOKEN" in body["error"]
        status, _ = await bot.get("/healthz")
        assert status == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"text": "hi"}, "'user' must be a non-empty string"),
        ({"user": "", "text": "hi"}, "'user' must be a non-empty string"),
        ({"user": "u" * 129, "text": "hi"}, "'user' must be a non-empty string"),
        ({"user": 5, "text": "hi"}, "'user' must be a non-empty string"),
        ({"user": "u"}, "send exactly one of"),
        ({"user": "u", "text": "hi", "button": "menu"}, "send exactly one of"),
        ({"user": "u", "text": 12}, "'text' must be a string"),
        ({"user": "u", "text": "x" * 20_001}, "at most 20000 characters"),
        ({"user": "u", "button": ""}, "'button' must be a payload string"),
        ({"user": "u", "location": [16, 108]}, "'location' must be an object"),
        ({"user": "u", "location": {"lat": "16", "lon": 108}}, "numeric 'lat' and 'lon'"),
        ({"user": "u", "location": {"lat": 91, "lon": 108}}, "latitude must be within"),
        ({"user": "u", "photo": "not base64!"}, "'photo' is not valid base64"),
        ({"user": "u", "photo": base64.b64encode(b"%PDF-1.4").decode()}, "not a JPEG, PNG"),
        ([1, 2, 3], "must be a JSON object"),
    ],
)
async def test_malformed_requests_get_400_in_plain_words(
    bot: BotServer, body: object, error: str
) -> None:
    status, answer = await bot.post("/api/chat", body)
    assert status == 400
    assert error in answer["error"]


async def test_a_body_that_is_not_json_gets_400(bot: BotServer) -> None:
    status, answer = await bot.post("/api/chat", data=b"{user: oops")
    assert status == 400 and answer == {"error": "the request body must be a JSON object"}


async def test_pushes_are_kept_and_fetched_by_cursor(bot: BotServer) -> None:
    chat = bot.chat("pushed")
    await chat.say("/start")
    async with bot.runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == "pushed")
        )
    assert user_id is not None
    pusher = bot.runtime.pusher
    await pusher.push(user_id, [Reply(text="⚡ Thông báo 1")])
    await pusher.push(
        user_id, [Reply(text="🧾 Thông báo 2", buttons=((Button("Xem", payload="menu"),),))]
    )

    status, body = await bot.get("/api/messages", params={"user": "pushed"})
    assert status == 200
    assert [m["text"] for m in body["messages"]] == ["⚡ Thông báo 1", "🧾 Thông báo 2"]
    assert body["messages"][1]["buttons"] == [[{"title": "Xem", "payload": "menu"}]]
    cursor = body["cursor"]

    status, body = await bot.get("/api/messages", params={"user": "pushed", "after": cursor})
    assert body == {"messages": [], "cursor": cursor}
    await pusher.push(user_id, [Reply(text="Thông báo 3")])
    status, body = await bot.get("/api/messages", params={"user": "pushed", "after": cursor})
    assert [m["text"] for m in body["messages"]] == ["Thông báo 3"]
    assert int(body["cursor"]) > int(cursor)


async def test_messages_of_an_unknown_user_or_bad_cursor(bot: BotServer) -> None:
    status, body = await bot.get("/api/messages", params={"user": "nobody"})
    assert status == 200 and body == {"messages": [], "cursor": "0"}
    status, body = await bot.get("/api/messages", params={"user": "nobody", "after": "-1"})
    assert status == 400 and "cursor" in body["error"]
    status, body = await bot.get("/api/messages")
    assert status == 400


async def test_documents_and_images_are_signed_expiring_links(bot: BotServer) -> None:
    chat = bot.chat("docs")
    await chat.say("/start")
    async with bot.runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(ChatUser.platform_user_id == "docs")
        )
    assert user_id is not None
    pdf = b"%PDF-1.4 hoa don"
    await bot.runtime.pusher.push(
        user_id,
        [
            Reply(text="📄 Hóa đơn", document=Media("application/pdf", "hoa-don.pdf", data=pdf)),
            Reply(text="📊 Biểu đồ", image=Media("image/png", "chart.png", data=PNG)),
        ],
    )
    _, body = await bot.get("/api/messages", params={"user": "docs"})
    document = body["messages"][0]["document"]
    image = body["messages"][1]["image"]
    assert document["filename"] == "hoa-don.pdf"
    async with aiohttp.ClientSession() as client:
        async with client.get(document["url"]) as response:  # no token needed: the link is
            assert response.status == 200  # the credential
            assert await response.read() == pdf
            assert "attachment" in response.headers["Content-Disposition"]
        async with client.get(image) as response:
            assert response.status == 200 and response.content_type == "image/png"
        forged = document["url"].replace("s=", "s=0")
        async with client.get(forged) as response:
            assert response.status == 403
        # The media id alone is not enough.
        async with client.get(document["url"].split("?")[0]) as response:
            assert response.status == 403


def test_links_expire_and_cannot_be_altered() -> None:
    links = MediaLinks(b"secret", "http://h", ttl_seconds=60)
    url = links.url_for("abc", now=1_000)
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert links.is_valid("abc", query["e"], query["s"], now=1_030)
    assert not links.is_valid("abc", query["e"], query["s"], now=1_061)
    assert not links.is_valid("abd", query["e"], query["s"], now=1_030)
    assert not links.is_valid("abc", str(int(query["e"]) + 100), query["s"], now=1_030)


async def test_customer_photos_are_stored_with_the_transcript(bot: BotServer) -> None:
    chat = bot.chat("photographer")
    await chat.send(photo=base64.b64encode(PNG).decode(), caption="công tơ nhà tôi")
    from bot.store.media import load_media
    from bot.store.models import Media as MediaRow
    from bot.store.models import TranscriptMessage

    async with bot.runtime.db.reading() as session:
        message = await session.scalar(
            select(TranscriptMessage).where(TranscriptMessage.direction == "in")
        )
        assert message is not None and message.text == "công tơ nhà tôi"
        (attachment,) = message.attachments
        stored = await session.get(MediaRow, attachment["media"])
        assert stored is not None and stored.content_type == "image/png"
        loaded = await load_media(session, stored.id)
    # The bytes are a file under the media directory, named by the random id.
    media_dir = bot.runtime.settings.media_path
    assert stored.data is None and len(stored.id) == 24
    assert (media_dir / stored.id[:2] / stored.id).read_bytes() == PNG
    assert loaded is not None and loaded.data == PNG


async def test_healthz_answers_ok(bot: BotServer) -> None:
    status, body = await bot.get("/healthz", token=None)
    assert status == 200 and body == {"status": "ok"}
