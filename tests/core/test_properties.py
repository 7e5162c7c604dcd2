"""Whatever arrives, the bot answers: property-based tests (hypothesis)."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.messages import BadInput, Incoming
from tests.helpers import BotServer, make_settings, running_bot

_users = itertools.count()
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def module_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture
async def fuzz_bot(module_db: Path) -> AsyncIterator[BotServer]:
    url = f"sqlite+aiosqlite:///{module_db / 'cskh.db'}"
    async with running_bot(make_settings(module_db / "var", url)) as server:
        yield server


def _assert_helpful(replies: list) -> None:
    assert replies, "the bot stayed silent"
    assert all(reply.text for reply in replies)
    assert any(reply.buttons for reply in replies), "no way on"


@FUZZ
@given(text=st.text(min_size=0, max_size=300))
async def test_any_unicode_text_gets_an_answer(fuzz_bot: BotServer, text: str) -> None:
    replies = await fuzz_bot.runtime.engine.handle(
        Incoming(channel="rest", user_id=f"fuzz{next(_users)}", text=text)
    )
    _assert_helpful(replies)


@FUZZ
@given(size=st.integers(10_001, 60_000), letter=st.characters())
async def test_huge_text_gets_an_answer(fuzz_bot: BotServer, size: int, letter: str) -> None:
    replies = await fuzz_bot.runtime.engine.handle(
        Incoming(channel="rest", user_id=f"huge{next(_users)}", text=letter * size)
    )
    _assert_helpful(replies)


@FUZZ
@given(payload=st.text(min_size=1, max_size=200))
async def test_any_button_payload_gets_an_answer(fuzz_bot: BotServer, payload: str) -> None:
    try:
        incoming = Incoming(channel="rest", user_id=f"btn{next(_users)}", payload=payload)
    except BadInput:
        # Refused at the edge (every channel answers 400): a payload with a control
        # character or a lone surrogate is none the bot ever made.
        assert any(ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 for c in payload)
        return
    replies = await fuzz_bot.runtime.engine.handle(incoming)
    _assert_helpful(replies)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"user": st.text(max_size=140)},
        optional={
            "text": _json,
            "button": _json,
            "location": _json | st.fixed_dictionaries({"lat": _json, "lon": _json}),
            "photo": _json,
            "caption": _json,
        },
    ),
)


@FUZZ
@given(body=_bodies)
async def test_any_json_body_is_answered_or_refused_never_500(
    fuzz_bot: BotServer, body: object
) -> None:
    status, answer = await fuzz_bot.post("/api/chat", data=json.dumps(body).encode())
    assert status in (200, 400), (status, answer)
    assert ("messages" in answer) if status == 200 else ("error" in answer)


@FUZZ
@given(raw=st.binary(max_size=300))
async def test_malformed_bodies_are_refused_never_500(fuzz_bot: BotServer, raw: bytes) -> None:
    status, answer = await fuzz_bot.post("/api/chat", data=raw)
    assert status in (200, 400), (status, answer)
