"""The channel contract's fallbacks (bot/channels/base.py), on a channel of a made-up
platform: numbered options past its buttons, signed links for media it cannot take,
long text cut at sentences; and a channel without credentials stays off."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_channels, build_runtime
from bot.channels.base import Channel, split_at_sentences
from bot.channels.media import MediaLinks
from bot.channels.telegram import TELEGRAM_CAPS
from bot.core.messages import Button, ChannelCaps, Media, Reply, rows
from bot.core.outbound import Recipient
from bot.notify.limits import ChannelLimit
from bot.settings import Settings
from bot.store.models import ChatUser
from tests.helpers import make_settings

LINKS = MediaLinks(b"k" * 32, "https://cskh.example", 3600)


class SmallPlatform(Channel):
    """A platform with three buttons a message, 500 characters, no files."""

    name = "small"
    caps = ChannelCaps(max_buttons=3, max_text=500, images=False, documents=False)

    def __init__(self, links: MediaLinks | None = LINKS) -> None:
        self.links = links
        self.sent: list[Reply] = []

    async def send(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        self.sent.extend(replies)
        return None


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = await build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


def _options(replies: Sequence[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)


async def test_buttons_past_the_limit_are_numbered_and_a_typed_2_picks_the_second(
    runtime: Runtime,
) -> None:
    channel = SmallPlatform()
    menu = await runtime.engine.handle(channel.incoming("u1", text="/start"))
    second = next(b for r in menu if len(r.all_buttons) > 3 for b in r.all_buttons[1:2])
    shown = channel.adapt(menu)
    assert f"  2. {second.title}" in _options(shown)
    assert all(len(reply.all_buttons) <= 3 for reply in shown)

    typed = await runtime.engine.handle(channel.incoming("u1", text="2"))
    pressed = await runtime.engine.handle(channel.incoming("u2", payload="menu"))
    pressed = await runtime.engine.handle(channel.incoming("u2", payload=second.payload))
    assert [r.text for r in typed] == [r.text for r in pressed]


async def test_a_number_is_text_where_the_buttons_were_shown(runtime: Runtime) -> None:
    """On a platform that showed every button (Telegram) "2" is no option: it may be a
    quantity or the start of a phone number."""
    channel = SmallPlatform()
    channel.caps = TELEGRAM_CAPS  # type: ignore[misc]
    menu = await runtime.engine.handle(channel.incoming("u1", text="/start"))
    assert channel.adapt(menu)[-1].buttons == menu[-1].buttons
    typed = await runtime.engine.handle(channel.incoming("u1", text="2"))
    second = menu[-1].all_buttons[1]
    pressed = await runtime.engine.handle(channel.incoming("u2", payload=second.payload))
    assert [r.text for r in typed] != [r.text for r in pressed]


async def test_a_push_numbered_by_the_channel_is_answered_by_its_number(
    runtime: Runtime,
) -> None:
    channel = SmallPlatform()
    runtime.add_channel(channel)
    await runtime.engine.handle(channel.incoming("u1", text="/start"))
    async with runtime.db.reading() as session:
        user_id = await session.scalar(
            select(ChatUser.id).where(
                ChatUser.channel == "small", ChatUser.platform_user_id == "u1"
            )
        )
    assert user_id is not None
    choices = [Button("🏠 Menu", payload="menu")]
    choices += [Button(f"Lựa chọn {n}", payload="lang:en") for n in range(3)]
    assert await runtime.pusher.push(user_id, [Reply("⚡ Thông báo", buttons=rows(*choices))])
    assert "  4. Lựa chọn 2" in _options(channel.sent)

    answer = await runtime.engine.handle(channel.incoming("u1", text="4"))
    assert "Switched to English." in _options(answer)


def test_an_image_the_platform_cannot_take_becomes_a_signed_link() -> None:
    channel = SmallPlatform()
    chart = Media("image/png", "bieu-do.png", media_id="m-123")
    invoice = Media("application/pdf", "hoa-don.pdf", media_id="m-456")
    [reply] = channel.adapt([Reply("📊 Điện năng", image=chart, document=invoice)])
    assert reply.image is None and reply.document is None
    image_line, document_line = reply.text.splitlines()[1:]
    assert image_line.startswith("🖼 bieu-do.png: https://cskh.example/media/m-123?")
    assert document_line.startswith("📎 hoa-don.pdf: https://cskh.example/media/m-456?")
    expires, signature = image_line.split("?e=")[1].split("&s=")
    assert LINKS.is_valid("m-123", expires, signature)
    assert not LINKS.is_valid("m-456", expires, signature)  # each link opens its own file


def test_a_platform_that_takes_images_gets_them() -> None:
    channel = SmallPlatform()
    channel.caps = ChannelCaps(max_buttons=3)  # type: ignore[misc]
    chart = Media("image/png", "bieu-do.png", media_id="m-123")
    assert channel.adapt([Reply("📊", image=chart)]) == [Reply("📊", image=chart)]


def test_a_long_text_is_cut_at_sentences_and_the_buttons_stay_with_the_last_piece() -> None:
    channel = SmallPlatform()
    channel.caps = ChannelCaps(max_text=60)  # type: ignore[misc]
    text = (
        "Khu vực phường Hội An tạm ngừng cấp điện. Điện sẽ có lại lúc 15:30. "
        "Điện lực Hội An xin lỗi vì sự bất tiện."
    )
    home = Button("🏠 Menu", payload="menu")
    pieces = channel.adapt([Reply(text, buttons=((home,),))])
    assert [p.text for p in pieces] == [
        "Khu vực phường Hội An tạm ngừng cấp điện.",
        "Điện sẽ có lại lúc 15:30.",
        "Điện lực Hội An xin lỗi vì sự bất tiện.",
    ]
    assert [p.buttons for p in pieces] == [(), (), ((home,),)]


def test_a_split_keeps_every_word_whole_and_every_piece_under_the_limit() -> None:
    words = ["tiền", "điện", "305.230", "đ", "kỳ", "1", "tháng", "10/2026", "Quý", "khách"]
    rng = random.Random(17)
    for _ in range(200):
        sentences = [
            " ".join(rng.choices(words, k=rng.randint(1, 15))) + rng.choice(".!?…")
            for _ in range(rng.randint(1, 12))
        ]
        text = rng.choice([" ", "\n", "\n\n"]).join(sentences)
        limit = rng.randint(20, 120)
        pieces = split_at_sentences(text, limit)
        assert all(0 < len(piece) <= limit for piece in pieces)
        assert " ".join(pieces).split() == text.split()  # no word cut or lost


def test_a_sentence_is_cut_at_a_word_only_when_it_is_longer_than_a_message() -> None:
    text = "Câu một. Câu hai dài hơn nhiều so với câu một, phải cắt ở một từ."
    assert split_at_sentences(text, 40) == [
        "Câu một.",
        "Câu hai dài hơn nhiều so với câu một,",
        "phải cắt ở một từ.",
    ]


def test_a_word_longer_than_a_message_is_the_only_thing_cut() -> None:
    link = "https://cskh.example/" + "x" * 100
    pieces = split_at_sentences(f"Mở liên kết: {link}", 60)
    assert pieces[0] == "Mở liên kết:"
    assert "".join(pieces[1:]) == link and all(len(p) <= 60 for p in pieces)


async def test_a_channel_without_credentials_is_off(tmp_path: Path, migrated_url: str) -> None:
    off = make_settings(tmp_path / "off", migrated_url, rest_token=None)
    runtime = await build_runtime(off)
    try:
        assert [c.name for c in build_channels(runtime)] == ["web"]  # needs none
    finally:
        await runtime.close()

    on = make_settings(
        tmp_path / "on", migrated_url, telegram_token="1:T", telegram_chat_interval=2.5
    )
    runtime = await build_runtime(on)
    try:
        assert sorted(c.name for c in build_channels(runtime)) == ["rest", "telegram", "web"]
        # The delivery worker keeps each channel's own limit (Telegram's settings).
        assert runtime.worker.limiter.limits["telegram"] == ChannelLimit(30.0, 2.5)
        assert "web" not in runtime.worker.limiter.limits
    finally:
        await runtime.close()
