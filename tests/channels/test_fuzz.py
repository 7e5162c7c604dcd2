"""Every channel's input fuzzed on SQLite and PostgreSQL (issue 12, point 9): whatever
arrives, the only outcomes are an answer (2xx) or a 4xx with a JSON error; never a 500,
and never the apology the bot gives when something of ours failed.

The customers here are logged in as Nguyễn Văn An, so forged button payloads reach the
handlers behind the login (a payload such as `lk_points:CODE:abc` once did).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.auth import accounts
from bot.channels.terminal import TerminalChannel
from bot.core.messages import Incoming
from bot.dialogs.forms import default_forms
from bot.store import repo
from bot.store.models import ChatUser, Conversation, Media
from tests.channels.test_webchat import PNG
from tests.drivers import TELEGRAM_SECRET, WebDriver
from tests.fakes import telegram_updates as tu
from tests.handlers.rig import AN_CODES, AN_PHONE, Rig, make_rig
from tests.helpers import TOKEN

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
APOLOGY = ("Xin lỗi Quý khách, hệ thống vừa gặp sự cố", "Sorry, something went wrong on our side")
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
_ids = itertools.count(1)

# Text as hostile as JSON can carry it: NUL and other controls, lone surrogates, huge.
hostile_char = st.characters(codec=None, exclude_categories=())
hostile_text = st.one_of(
    st.text(hostile_char, max_size=80),
    st.sampled_from(
        ["\x00", "a\x00b", "\ud800", "x\udfffy", "\x1b[2J", "²", "９", "", " ", "A" * 5000]
    ),
)
segment = st.one_of(
    st.text(hostile_char, max_size=10),
    st.integers().map(str),
    st.sampled_from(
        [
            "PC05CC0123456",
            "PC03BB0045678",
            "abc",
            "-1",
            "0",
            "999999999999999999999",
            "1e309",
            "nan",
            "inf",
            "",
            "²",
            "16.05",
            "108.2",
            "91",
            "m3",
            "YC-2026-000001",
        ]
    ),
)


@dataclass
class Fuzz:
    rig: Rig
    web: WebDriver
    names: list[str]

    @property
    def base_url(self) -> str:
        return self.rig.server.base_url

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Fuzz({self.base_url})"


def no_apology(texts: list[str]) -> None:
    for text in texts:
        assert not text.startswith(APOLOGY), text


async def _activate(rig: Rig, channel: str, platform_user_id: str) -> None:
    """A chat logged in as Nguyễn Văn An (both his codes), without the conversation."""
    async with rig.server.runtime.db.transaction() as session:
        await repo.get_or_create_chat_user(session, channel, platform_user_id, language="vi")
    async with rig.server.runtime.db.transaction() as session:
        user = await repo.get_chat_user(session, channel, platform_user_id)
        assert user is not None
        user.consent_version = accounts.CONSENT_VERSION
        await accounts.activate(
            session,
            user,
            identity=f"phone:{AN_PHONE}",
            codes=AN_CODES,
            now=rig.clock.now(),
            phone=AN_PHONE,
            method="otp",
        )


async def _reset(rig: Rig) -> None:
    """Each example starts from a conversation at rest."""
    async with rig.server.runtime.db.transaction() as session:
        await session.execute(update(Conversation).values(state={}, mode="bot"))


@pytest.fixture
async def fuzz(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Fuzz]:
    async for rig in make_rig(
        tmp_path,
        own_seeded_url,
        webchat_burst=100_000,
        webchat_per_minute=100_000,
        webchat_address_per_minute=100_000,
    ):
        web = await WebDriver(rig.server).open()
        await _activate(rig, "rest", "fuzz-an")
        await _activate(rig, "web", web.platform_user_id)
        await _activate(rig, "telegram", "777")
        names = rig.server.runtime.engine.router.button_names
        try:
            yield Fuzz(rig, web, names)
        finally:
            await web.close()


# --- forged button payloads --------------------------------------------------------------


@st.composite
def forged(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(FORGEABLE))
    args = draw(st.lists(segment, max_size=3))
    payload = ":".join([name, *args])
    return payload[:200]


# Filled from the router at import; the same names every run keeps examples replayable.
def _button_names() -> list[str]:
    from bot.handlers import build_router

    return build_router().button_names


FORGEABLE = _button_names()


@FUZZ
@given(payload=forged())
@example(payload="lk_points:PC05CC0123456:abc")
@example(payload="lk_points:16.05:108.2:x")
@example(payload="lk_points:nan:inf:0")
async def test_forged_button_payloads_never_end_in_the_apology(fuzz: Fuzz, payload: str) -> None:
    await _reset(fuzz.rig)
    try:
        incoming = Incoming(channel="rest", user_id="fuzz-an", payload=payload)
    except ValueError:
        return  # refused at the edge (a control character): each channel answers 400
    replies = await fuzz.rig.server.runtime.engine.handle(incoming)
    assert replies, "the bot stayed silent"
    no_apology([reply.text for reply in replies])
    assert any(reply.buttons for reply in replies), "no way on"


FORM_ACTIONS = ["pick", "toggle", "done", "keep", "retype", "skip", "edit", "back", "resume"]
_moves = st.lists(
    st.one_of(
        hostile_text.map(lambda text: ("text", text)),
        st.builds(
            lambda action, arg: ("payload", f"form:{action}:{arg}"[:200]),
            st.sampled_from(FORM_ACTIONS),
            segment,
        ),
    ),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(form_id=st.sampled_from(sorted(default_forms())), moves=_moves)
@example(form_id="svc_change_quota", moves=[("payload", "form:edit:²")])
@example(form_id="svc_new_household", moves=[("payload", "form:pick:abc")])
@example(form_id="complaint", moves=[("payload", "form:edit:5"), ("text", "")])
async def test_an_open_form_takes_any_answer_never_the_apology(
    fuzz: Fuzz, form_id: str, moves: list[tuple[str, str]]
) -> None:
    """What a customer types or a forged button sends in the middle of a form."""
    await _reset(fuzz.rig)
    engine = fuzz.rig.server.runtime.engine
    await engine.handle(Incoming(channel="rest", user_id="fuzz-an", payload=f"svc:{form_id}"))
    for kind, value in moves:
        try:
            incoming = Incoming(channel="rest", user_id="fuzz-an", **{kind: value})
        except ValueError:
            continue  # refused at the edge, as every channel answers 400
        replies = await engine.handle(incoming)
        no_apology([reply.text for reply in replies])


async def test_a_forged_edit_cannot_skip_a_form_to_its_summary_regression(fuzz: Fuzz) -> None:
    """ "form:edit:N" for a question not shown jumped to the summary mid-form, offering
    to send a complaint with its questions unanswered (then typed text crashed)."""
    await _reset(fuzz.rig)
    engine = fuzz.rig.server.runtime.engine

    async def send(**content: str) -> list[str]:
        replies = await engine.handle(Incoming(channel="rest", user_id="fuzz-an", **content))
        return [b.title for r in replies for b in r.all_buttons] + [r.text for r in replies]

    await send(payload="svc:complaint")
    shown = await send(payload="form:edit:5")
    assert "📨 Gửi kiến nghị" not in shown
    assert any(text.startswith("Bước 1/6") for text in shown)


# --- REST ------------------------------------------------------------------------------------


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"user": st.one_of(hostile_text, st.just("fuzz-an"))},
        optional={
            "text": st.one_of(_json, hostile_text),
            "button": st.one_of(_json, forged()),
            "location": _json | st.fixed_dictionaries({"lat": _json, "lon": _json}),
            "photo": _json,
            "caption": _json,
            "name": st.one_of(hostile_text, st.text(min_size=190, max_size=260)),
        },
    ),
)


async def _post(fuzz: Fuzz, path: str, data: bytes, headers: dict[str, str] | None = None) -> Any:
    async with fuzz.rig.server.session.post(
        fuzz.base_url + path,
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        | (headers or {}),
    ) as response:
        assert response.status < 500, (response.status, await response.text())
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


@FUZZ
@given(body=_bodies)
@example(body={"user": "fuzz-an", "location": {"lat": 10**400, "lon": 108}})
@example(body={"user": "fuzz-an", "location": {"lat": True, "lon": False}})
@example(body={"user": "brand-new-chat", "button": "nsub:on"})  # lazy-loaded links
async def test_any_rest_body_is_answered_or_refused_never_500(fuzz: Fuzz, body: object) -> None:
    await _reset(fuzz.rig)
    # ensure_ascii: a lone surrogate travels as "\ud800", as any JSON client may send it.
    status, answer = await _post(fuzz, "/api/chat", json.dumps(body).encode())
    assert status in (200, 400), (status, answer)
    if status == 200:
        no_apology([message["text"] for message in answer["messages"]])
    else:
        assert isinstance(answer["error"], str)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.sampled_from([DEEP, DEEP_OBJECT])))
@example(raw=DEEP)
@example(raw=DEEP_OBJECT)
@example(raw=b'{"user": "u", "text": "\xff\xfe"}')
async def test_malformed_rest_bytes_are_refused_never_500(fuzz: Fuzz, raw: bytes | str) -> None:
    data = raw.encode() if isinstance(raw, str) else raw
    status, answer = await _post(fuzz, "/api/chat", data)
    assert status in (200, 400), (status, answer)


@FUZZ
@given(
    user=st.one_of(hostile_text, st.just("fuzz-an")),
    after=st.one_of(
        hostile_text,
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(["²", "٣", "2147483648", "9" * 5000, "00000000001", "-0"]),
    ),
)
@example(user="fuzz-an", after="²")
@example(user="fuzz-an", after="9" * 5000)
@example(user="fuzz-an", after=str(2**31))
@example(user="a\x00b", after="0")
async def test_messages_queries_are_answered_or_refused_never_500(
    fuzz: Fuzz, user: str, after: str
) -> None:
    # Each under 4,000 characters: past aiohttp's 8 KB request line, its own parser
    # answers a plain 400 before any code of ours runs.
    params = {
        key: value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")[:4000]
        for key, value in (("user", user), ("after", after))
    }
    async with fuzz.rig.server.session.get(
        fuzz.base_url + "/api/messages",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as response:
        assert response.status in (200, 400), await response.text()
        assert "error" in await response.json() or response.status == 200


@FUZZ
@given(token=st.binary(min_size=0, max_size=60))
@example(token=b"\xff\xfe\x80")
@example(token=TOKEN.encode() + b"\xc3")
async def test_any_authorization_header_is_refused_cleanly(fuzz: Fuzz, token: bytes) -> None:
    """Raw bytes in the Authorization header (an invalid UTF-8 byte once ended in a 500)."""
    host, port = fuzz.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"user": "fuzz-an", "text": "menu"}'
    clean = token.replace(b"\r", b"").replace(b"\n", b"")
    writer.write(
        b"POST /api/chat HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Authorization: Bearer " + clean + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    assert status in (200, 400, 401), answer[:300]
    assert status != 200 or clean == TOKEN.encode()


# --- the web chat ------------------------------------------------------------------------------


_frames = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "button", "location", "photo", "x"])},
        optional={
            "text": st.one_of(_json, hostile_text),
            "payload": st.one_of(_json, forged()),
            "lat": st.one_of(_json, st.booleans()),
            "lon": st.one_of(_json, st.booleans()),
        },
    ),
    _json,
)


async def _exchange(socket: aiohttp.ClientWebSocketResponse, data: str) -> list[dict[str, Any]]:
    await socket.send_str(data)
    frames = []
    timeout = 5.0
    while True:
        try:
            received = await asyncio.wait_for(socket.receive(), timeout)
        except TimeoutError:
            break
        assert received.type == aiohttp.WSMsgType.TEXT, received  # the socket stays open
        frames.append(json.loads(received.data))
        timeout = 0.2
    return frames


@FUZZ
@given(frame=st.one_of(_frames.map(json.dumps), st.text(hostile_char, max_size=200)))
@example(frame=DEEP)
@example(frame=json.dumps({"type": "location", "lat": True, "lon": False}))
@example(frame=json.dumps({"type": "button", "payload": "lk_points:PC05CC0123456:abc"}))
@example(frame=json.dumps({"type": "text", "text": "a\x00b\ud800"}))
async def test_any_web_chat_frame_is_answered_or_refused_never_the_apology(
    fuzz: Fuzz, frame: str
) -> None:
    await _reset(fuzz.rig)
    socket = fuzz.web.socket
    assert socket is not None
    if len(frame.encode("utf-8", "surrogatepass")) > 64 * 1024:
        frame = frame[: 60 * 1024]
    sendable = frame.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    frames = await _exchange(socket, sendable)
    assert frames, "the web chat did not answer"
    no_apology([f.get("text") or f.get("message", {}).get("text", "") for f in frames])


# --- Telegram ---------------------------------------------------------------------------------


def _name(value: str) -> str:
    return value[:300] or "x"


def _short_payload(payload: str) -> str:
    """Callback data as Telegram carries it: at most 64 bytes."""
    return payload.encode("utf-8", "ignore")[:64].decode("utf-8", "ignore")


_updates = st.one_of(
    st.builds(lambda text: tu.text(next(_ids), 777, text or "."), hostile_text),
    st.builds(
        lambda data: tu.callback(next(_ids), 777, data or "x"),
        st.one_of(forged(), hostile_text).map(_short_payload),
    ),
    st.builds(
        lambda name, mime: tu.document(next(_ids), 777, "fuzzdoc", name or "f", mime or "x/y"),
        st.one_of(hostile_text, st.just("a" * 250 + ".pdf")),
        st.one_of(hostile_text, st.sampled_from(["image/png", "image/svg+xml", "text/html"])),
    ),
    st.builds(
        lambda lat, lon: tu.message(next(_ids), 777, location={"latitude": lat, "longitude": lon}),
        _json,
        _json,
    ),
    st.builds(
        lambda phone: tu.contact(next(_ids), 777, phone or "0", contact_user_id=777),
        hostile_text,
    ),
)


def _with_names(update: dict[str, Any], first: str, last: str) -> dict[str, Any]:
    for part in ("message", "callback_query"):
        if part in update:
            update[part]["from"]["first_name"] = _name(first)
            update[part]["from"]["last_name"] = last[:300]
    return update


async def _webhook(fuzz: Fuzz, data: bytes) -> tuple[int, Any]:
    async with fuzz.rig.server.session.post(
        fuzz.base_url + "/telegram/webhook",
        data=data,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    ) as response:
        assert response.status < 500, await response.text()
        if response.status >= 400:
            assert response.content_type == "application/json"
        return response.status, await response.read()


@FUZZ
@given(update=_updates, first=hostile_text, last=hostile_text)
async def test_any_telegram_update_is_answered_or_refused_never_the_apology(
    fuzz: Fuzz, update: dict[str, Any], first: str, last: str
) -> None:
    await _reset(fuzz.rig)
    fuzz.rig.telegram.add_file("fuzzdoc", PNG)
    seen = len(fuzz.rig.telegram.texts(777))
    body = json.dumps(_with_names(update, first, last)).encode()
    status, _ = await _webhook(fuzz, body)
    assert status in (200, 400), status
    no_apology(fuzz.rig.telegram.texts(777)[seen:])


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.sampled_from([DEEP, DEEP_OBJECT])))
@example(raw=DEEP)
async def test_malformed_telegram_bodies_are_refused_never_500(
    fuzz: Fuzz, raw: bytes | str
) -> None:
    status, _ = await _webhook(fuzz, raw.encode() if isinstance(raw, str) else raw)
    assert status in (200, 400)


async def test_a_254_character_telegram_file_name_is_kept_regression(fuzz: Fuzz) -> None:
    """Telegram allows file names PostgreSQL's column did not (200): kept, shortened."""
    fuzz.rig.telegram.add_file("longname", b"%PDF-1.4 fuzz")
    seen = len(fuzz.rig.telegram.texts(777))
    name = "hóa đơn " + "x" * 242 + ".pdf"
    update = tu.document(next(_ids), 777, "longname", name, "application/pdf")
    status, _ = await _webhook(fuzz, json.dumps(update).encode())
    assert status == 200
    texts = fuzz.rig.telegram.texts(777)[seen:]
    assert texts and not texts[0].startswith(APOLOGY), texts
    async with fuzz.rig.server.runtime.db.reading() as session:
        stored = list(await session.scalars(select(Media.filename)))
    assert any(n.endswith(".pdf") and len(n) <= 200 and n.startswith("hóa đơn") for n in stored)


async def test_a_long_rest_name_is_refused_with_400_regression(fuzz: Fuzz) -> None:
    status, answer = await _post(
        fuzz, "/api/chat", json.dumps({"user": "n", "text": "hi", "name": "N" * 201}).encode()
    )
    assert status == 400 and "'name'" in answer["error"]
    status, _ = await _post(
        fuzz, "/api/chat", json.dumps({"user": "n", "text": "hi", "name": "N" * 200}).encode()
    )
    assert status == 200


async def test_nul_and_lone_surrogates_are_refused_or_cleaned_alike_regression(
    fuzz: Fuzz,
) -> None:
    """PostgreSQL refuses NUL and lone surrogates in text: identifiers holding them are
    refused with 400, free text is stored without them, on either database."""
    for body in (
        {"user": "a\x00b", "text": "hi"},
        {"user": "a\ud800", "text": "hi"},
        {"user": "n1", "button": "menu\x00"},
    ):
        status, answer = await _post(fuzz, "/api/chat", json.dumps(body).encode())
        assert status == 400, (body, answer)
    status, answer = await _post(
        fuzz,
        "/api/chat",
        json.dumps({"user": "n2", "text": "xin\x00 chào\ud800", "name": "Lan\x00"}).encode(),
    )
    assert status == 200
    no_apology([m["text"] for m in answer["messages"]])
    async with fuzz.rig.server.runtime.db.reading() as session:
        name = await session.scalar(
            select(ChatUser.display_name).where(ChatUser.platform_user_id == "n2")
        )
    assert name == "Lan"


# --- the terminal (`cskh chat`) ---------------------------------------------------------------


@FUZZ
@given(
    line=st.one_of(
        hostile_text,
        st.sampled_from(["²", "9" * 5000, "0", "-1", "/location nan inf", "/location 1e999 5"]),
        st.builds(lambda rest: "/location " + rest, hostile_text),
        st.builds(lambda rest: "/contact " + rest, hostile_text),
    )
)
@example(line="9" * 5000)
@example(line="²")
async def test_any_terminal_line_is_answered_or_explained(fuzz: Fuzz, line: str) -> None:
    runtime = fuzz.rig.server.runtime
    out = io.StringIO()
    terminal = TerminalChannel(
        runtime.engine, runtime.db, runtime.texts, user_id="fuzz-term", downloads=Path("/tmp")
    )
    terminal.stdout = out
    await terminal._turn(terminal._make(text="/start"))  # numbered options to choose from
    parsed = terminal.parse(line.strip() or ".")
    if isinstance(parsed, str):
        assert parsed  # what is wrong with the line, in words
        return
    await terminal._turn(parsed)
    assert APOLOGY[0] not in out.getvalue() and APOLOGY[1] not in out.getvalue()
