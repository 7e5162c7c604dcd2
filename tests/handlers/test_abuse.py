"""An attacker's patterns against one-time codes and logins (issue 12), on SQLite and
PostgreSQL: SMS pumping with fresh identities, enumeration by timing, lockout as a
weapon, password spraying, and a draft surviving a log-out. The conversations run on
the light rig, each REST caller with the address our trusted proxy would name; what
operators scrape from /metrics is read through the full rig's web app."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import CustomerPhone
from tests.drivers import Driver, RestDriver, closing
from tests.handlers.rig import (
    AN_PHONE,
    LightRig,
    Rig,
    assert_activated_as_an,
    make_light_rig,
    make_rig,
    start_login,
)
from tests.handlers.test_services import FORMS, answer, field_asked
from tests.helpers import TOKEN
from tests.light import LightDriver

# Contract phones of the demo personas (`cskh demo personas`).
CONTRACT_PHONES = ["0905123456", "0914222333", "0935777888", "0987654321", "0989111222"]
RATE_LIMITED = "Quý khách đã yêu cầu quá nhiều mã."
SMS_BUSY = "Hệ thống gửi SMS đang quá tải. Quý khách vui lòng nhận mã qua Email"


@pytest.fixture
async def strict_rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[LightRig]:
    """A light rig with the limits as shipped (the usual rig lifts the per-address ones,
    since every scripted customer comes from 127.0.0.1), on each backend."""
    async for running in make_light_rig(
        tmp_path,
        own_seeded_url,
        otp_per_address_hour=10,
        otp_per_network_hour=30,
        sms_per_minute=20,
    ):
        yield running


async def ask_sms_code(driver: Driver, phone: str) -> str:
    """A new chat asks for an SMS code for `phone`; the bot's answer."""
    await start_login(driver)
    await driver.press("📱 Số điện thoại")
    await driver.say(phone)
    await driver.press("💬 SMS")
    return driver.text


async def proxied(rig: LightRig, user: str, address: str) -> LightDriver:
    """A REST caller behind our trusted proxy, which names the customer's `address`;
    `seconds` is how long the bot took to answer its last message."""
    return await rig.driver("rest", user, address=address)


class ProxiedRest(RestDriver):
    """A REST caller of the full rig that names an address in X-Forwarded-For (believed
    only when 127.0.0.1 is a trusted proxy, CSKH_TRUSTED_PROXIES)."""

    def __init__(self, rig: Rig, user: str, address: str) -> None:
        super().__init__(rig.server, user)
        self.address = address

    async def _call(self, content: dict[str, Any]) -> None:
        server = self.server
        async with server.session.post(
            server.base_url + "/api/chat",
            json={"user": self.platform_user_id, **content},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": self.address},
        ) as response:
            body = await response.json()
            assert response.status == 200, body
        await server.settle()
        self.chat.messages = body["messages"]
        await self._update()

    async def say(self, text: str) -> None:
        await self._call({"text": text})

    async def press(self, title: str) -> None:
        await self._call({"button": self._button(title)["payload"]})


async def test_fresh_web_visitors_cannot_pump_sms_regression(strict_rig: LightRig) -> None:
    """The probe: 20 fresh web chat visitors sent 20 SMS in 2.2 s. A new visitor is free,
    an address is not: 10 codes an hour from one address, then a clear refusal."""
    answers = []
    for visitor, phone in zip(range(20), itertools.cycle(CONTRACT_PHONES), strict=False):
        async with closing(await strict_rig.driver("web", f"pump{visitor}")) as driver:
            answers.append(await ask_sms_code(driver, phone))
    assert len(strict_rig.sms.received) == 10
    assert all(a.startswith("Nếu số") for a in answers[:10])
    assert all(a.startswith(RATE_LIMITED) for a in answers[10:]), answers[10:]


async def test_rest_users_from_many_addresses_meet_the_sms_budget_regression(
    strict_rig: LightRig,
) -> None:
    """The probe: 40 REST users sent 40 SMS in 3.1 s. Through a proxy naming 40
    different addresses, no per-address limit applies, so the global budget (20 a
    minute) stops them and offers e-mail."""
    answers = []
    for user, phone in zip(range(40), itertools.cycle(CONTRACT_PHONES), strict=False):
        driver = await proxied(strict_rig, f"pump{user}", f"198.{18 + user}.0.{user + 1}")
        answers.append(await ask_sms_code(driver, phone))
    assert len(strict_rig.sms.received) == 20
    assert all(a.startswith(SMS_BUSY) for a in answers[20:]), answers[20:]
    # The customer's way on works: the e-mail is not part of the SMS budget.
    await driver.press("✉️ Email")
    assert driver.text.startswith("Nếu số")


async def contract_phones(rig: LightRig, count: int) -> list[str]:
    """Phones on demo contracts, as a customer types them."""
    async with rig.runtime.db.reading() as session:
        phones = await session.scalars(
            select(CustomerPhone.phone).distinct().order_by(CustomerPhone.phone).limit(count)
        )
        return ["0" + phone.removeprefix("+84") for phone in phones]


async def test_a_rotating_network_meets_its_own_limit(strict_rig: LightRig) -> None:
    answers = []
    phones = await contract_phones(strict_rig, 35)
    for user in range(35):
        phone = phones[user]
        # Five addresses a minute: the budget of 20 SMS a minute is never what stops it.
        strict_rig.clock.advance(seconds=12)
        driver = await proxied(strict_rig, f"net{user}", f"203.0.113.{user + 1}")
        answers.append(await ask_sms_code(driver, phone))
    assert len(strict_rig.sms.received) == 30
    assert all(a.startswith(RATE_LIMITED) for a in answers[30:])


async def test_the_limits_hold_across_processes(
    strict_rig: LightRig, tmp_path: Path, own_seeded_url: str
) -> None:
    """Two servers on one database (each with its own runtime and memory, as two
    `cskh serve` processes have) share the counts: visitors split between them still get
    10 codes an hour from one address."""
    async for other in make_light_rig(
        tmp_path / "second", own_seeded_url, otp_per_address_hour=10, sms_per_minute=20
    ):
        for visitor in range(12):
            rig = strict_rig if visitor % 2 else other
            async with closing(await rig.driver("web", f"two{visitor}")) as driver:
                await ask_sms_code(driver, CONTRACT_PHONES[visitor % 5])
        assert len(strict_rig.sms.received) + len(other.sms.received) == 10


async def test_known_and_unknown_phones_answer_in_the_same_time_regression(
    strict_rig: LightRig,
) -> None:
    """The probe: with a 300 ms gateway a known phone answered in ~340 ms and an unknown
    one in ~50 ms. The code now leaves after the answer, so both take the same path."""
    strict_rig.sms.delay = 0.3
    timings: dict[str, list[float]] = {"known": [], "unknown": [], "warm-up": []}
    for attempt in range(28):
        # The first two pay for the process's lazy starts; then 13 of each, alternating.
        kind = "warm-up" if attempt < 2 else ("known", "unknown")[attempt % 2]
        phone = CONTRACT_PHONES[attempt % 5] if kind == "known" else f"0911{attempt:06d}"
        strict_rig.clock.advance(minutes=13)  # each phone gets a code a minute, 5 an hour
        driver = await proxied(strict_rig, f"time{attempt}", f"192.0.{attempt}.2")
        await start_login(driver)
        await driver.press("📱 Số điện thoại")
        await driver.say(phone)
        await driver.press("💬 SMS")
        timings[kind].append(driver.seconds)
        assert driver.text.startswith("Nếu số")
    known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
    # A leak shows the gateway's whole 300 ms; a busy 2-core machine's noise on the
    # medians reached 24 ms on PostgreSQL, so the bar is a third of the gateway's delay.
    assert abs(known - unknown) < strict_rig.sms.delay / 3, timings
    assert known < 0.3  # not a trace of the gateway's 300 ms
    assert len(strict_rig.sms.received) == 13  # the known ones did get their codes


async def test_forgot_password_takes_the_same_time_for_any_username_regression(
    strict_rig: LightRig,
) -> None:
    """As for phones: 13 of each after two warm-ups, alternating, so a busy machine's
    noise (medians of 6 differed by 40 ms either way) cannot pass for a difference."""
    strict_rig.sms.delay = 0.3
    timings: dict[str, list[float]] = {"known": [], "unknown": [], "warm-up": []}
    for attempt in range(28):
        kind = "warm-up" if attempt < 2 else ("known", "unknown")[attempt % 2]
        username = "annguyen" if kind == "known" else f"nobody{attempt}"
        strict_rig.clock.advance(minutes=13)  # a code a minute, 5 an hour per username
        driver = await proxied(strict_rig, f"forgot{attempt}", f"192.0.{attempt}.3")
        await start_login(driver)
        await driver.press("👤 Tên đăng nhập/mật khẩu")
        await driver.say(username)
        await driver.press("❓ Quên mật khẩu")
        await driver.say(username)
        timings[kind].append(driver.seconds)
        assert driver.text.startswith("Nếu tên đăng nhập đúng")
    known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
    # A leak shows the gateway's whole 300 ms; a busy 2-core machine's noise on the
    # medians reached 24 ms on PostgreSQL, so the bar is a third of the gateway's delay.
    assert abs(known - unknown) < strict_rig.sms.delay / 3, timings
    assert known < 0.3  # not a trace of the gateway's 300 ms
    assert len(strict_rig.sms.received) == 13  # the known ones did get their codes


async def test_wrong_codes_from_a_stranger_do_not_lock_the_owner_out_regression(
    strict_rig: LightRig,
) -> None:
    """The probe: an anonymous chat asked a code for a customer's phone and typed 5 wrong
    codes; the customer's SMS login was locked for 15 minutes. Now the stranger is."""
    async with closing(await strict_rig.driver("web", "stranger")) as stranger:
        await ask_sms_code(stranger, "0905123456")
        for _ in range(5):
            await stranger.say("000000")
        assert stranger.text.startswith("Vì nhập sai nhiều lần")
        await stranger.press("🏠 Menu")
    owner = await strict_rig.driver("telegram", "an")
    assert (await ask_sms_code(owner, "0905123456")).startswith("Nếu số 0905 *** 456")
    await owner.say(strict_rig.sms.last_code(AN_PHONE))
    assert_activated_as_an(owner)


async def test_add_code_cannot_lock_another_customer_out_regression(strict_rig: LightRig) -> None:
    """ "Thêm mã" from another account sends a code to the contract's phone; wrong codes
    there lock that account's chat, not the contract's owner."""
    intruder = await strict_rig.driver("rest", "binh")
    await start_login(intruder)
    await intruder.press("👤 Tên đăng nhập/mật khẩu")
    await intruder.say("binhtran")
    await intruder.say("Binh@2026cskh")
    await intruder.say("/account")
    await intruder.press("➕ Thêm mã khách hàng")
    await intruder.say("PC05CC0123456")
    assert "0905" not in intruder.text  # nothing tells whose phone it is
    for _ in range(5):
        await intruder.say("000000")
    assert intruder.text.startswith("Vì nhập sai nhiều lần")
    owner = await strict_rig.driver("web", "an")
    assert (await ask_sms_code(owner, "0905123456")).startswith("Nếu số 0905 *** 456")
    await owner.say(strict_rig.sms.last_code(AN_PHONE))
    assert_activated_as_an(owner)
    await owner.close()


async def test_one_chat_spraying_usernames_is_slowed_regression(strict_rig: LightRig) -> None:
    """The probe: one chat tried 12 usernames and was told "4 attempts left" each time.
    Now the chat's own count goes down and stops it at 10."""
    driver = await strict_rig.driver("telegram", "sprayer")
    await start_login(driver)
    await driver.press("👤 Tên đăng nhập/mật khẩu")
    lefts = []
    for index in range(12):
        await driver.say(f"user{index}")
        await driver.say("Password123")
        lefts.append(driver.text)
        if driver.text.startswith("Vì nhập sai nhiều lần"):
            await driver.press("🏠 Menu")
            await driver.say("/login")
            await driver.press("👤 Tên đăng nhập/mật khẩu")
    assert lefts[0].endswith("Quý khách còn 4 lần thử.")  # the account's 5 still show first
    assert lefts[6].endswith("Quý khách còn 3 lần thử.")  # then the chat's 10 run out
    assert all(text.startswith("Vì nhập sai nhiều lần") for text in lefts[9:]), lefts[9:]
    # The real owner, in their own chat, is not held back.
    owner = await strict_rig.driver("telegram", "an")
    await start_login(owner)
    await owner.press("👤 Tên đăng nhập/mật khẩu")
    await owner.say("annguyen")
    await owner.say("An@2026cskh")
    assert_activated_as_an(owner)


async def test_many_chats_from_one_address_spraying_are_slowed(strict_rig: LightRig) -> None:
    texts = []
    for chat in range(4):
        driver = await proxied(strict_rig, f"spray{chat}", "203.0.113.99")
        await start_login(driver)
        await driver.press("👤 Tên đăng nhập/mật khẩu")
        for index in range(8):
            if driver.text.startswith("Vì nhập sai nhiều lần"):
                break
            await driver.say(f"user{chat}x{index}")
            await driver.say("Password123")
            texts.append(driver.text)
    assert sum(text.startswith("Tên đăng nhập hoặc mật khẩu chưa đúng") for text in texts) == 29
    assert texts[-1].startswith("Vì nhập sai nhiều lần, việc đăng nhập bằng mật khẩu từ đây")


async def test_a_draft_cannot_be_resumed_after_log_out_everywhere_regression(
    strict_rig: LightRig,
) -> None:
    """A form half filled in a chat that "log out everywhere" ended must not come back
    there: not by "▶ Tiếp tục", not by typing the next answer."""
    shared = await strict_rig.driver("rest", "shared-computer")
    await start_login(shared)
    await shared.press("👤 Tên đăng nhập/mật khẩu")
    await shared.say("annguyen")
    await shared.say("An@2026cskh")
    form = FORMS["svc_check_meter"]
    await shared.say("/services")
    await shared.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await shared.press(form.title["vi"])
    for _ in range(2):
        await answer(shared, field_asked(form, shared.text))
    asked = field_asked(form, shared.text)

    own = await strict_rig.driver("telegram", "an")
    await start_login(own)
    await own.press("👤 Tên đăng nhập/mật khẩu")
    await own.say("annguyen")
    await own.say("An@2026cskh")
    await own.say("/account")
    await own.press("🚪 Đăng xuất mọi nơi")
    await own.press("✅ Đồng ý")
    assert "Đã đăng xuất" in own.text

    await shared.say("Nội dung thử nghiệm đủ dài để gửi đi.")  # the next answer, typed
    assert asked.prompt["vi"] not in shared.text
    assert "Bước" not in shared.text
    await shared.say("/services")
    assert "▶ Tiếp tục" not in " ".join(shared.button_titles)


async def test_operators_see_the_budget_being_eaten_on_metrics(
    tmp_path: Path, own_seeded_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async for rig in make_rig(
        tmp_path, own_seeded_url, sms_per_minute=5, metrics_token="scrape-me"
    ):
        for user in range(6):
            driver = ProxiedRest(rig, f"m{user}", f"198.51.{user}.7")
            await ask_sms_code(driver, CONTRACT_PHONES[user % 5])
        assert driver.text.startswith(SMS_BUSY)
        assert "SMS budget of the minute is being eaten" in caplog.text
        url = rig.server.base_url + "/metrics"
        async with rig.server.session.get(url) as response:
            assert response.status == 401
        headers = {"Authorization": "Bearer scrape-me"}
        async with rig.server.session.get(url, headers=headers) as response:
            assert response.status == 200
            scraped = await response.text()
        assert 'cskh_sms_budget_used_ratio{window="minute"} 1.0' in scraped
        assert 'cskh_otp_refused_total{limit="sms_budget"}' in scraped


async def test_wrong_passwords_from_a_stranger_do_not_lock_the_owner_out(
    strict_rig: LightRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Five wrong passwords lock the chat that typed them, not the account; only 50 an
    hour from chats on several addresses lock the account itself (with a warning)."""
    stranger = await proxied(strict_rig, "stranger", "203.0.113.66")
    await start_login(stranger)
    await stranger.press("👤 Tên đăng nhập/mật khẩu")
    for _ in range(5):
        await stranger.say("annguyen")
        await stranger.say("Guess123")
    assert stranger.text.startswith("Vì nhập sai nhiều lần, việc đăng nhập tài khoản này từ")
    owner = await strict_rig.driver("telegram", "an")
    await start_login(owner)
    await owner.press("👤 Tên đăng nhập/mật khẩu")
    await owner.say("annguyen")
    await owner.say("An@2026cskh")
    assert_activated_as_an(owner)

    texts = []
    for chat in range(12):  # 4 guesses each from 2 addresses: with the 5 above, 53
        guesser = await proxied(strict_rig, f"g{chat}", f"198.51.100.{chat % 2 + 1}")
        await start_login(guesser)
        await guesser.press("👤 Tên đăng nhập/mật khẩu")
        for _ in range(4):
            await guesser.say("annguyen")
            await guesser.say("Guess123")
            texts.append(guesser.text)
            if guesser.text.startswith("Vì nhập sai nhiều lần"):
                break
    locked = [t for t in texts if t.startswith("Vì nhập sai nhiều lần, tài khoản tạm khóa đến")]
    assert len(locked) == 1 and len(texts) == 45  # the 50th wrong password in all locks it
    assert "portal account annguyen locked" in caplog.text


async def test_new_chats_from_one_network_spend_only_its_share_of_a_phone(
    strict_rig: LightRig,
) -> None:
    """The owner's phone has a ceiling (20 codes an hour); one network's new chats may
    take 5 of them, so a stranger alone cannot keep the owner from a code."""
    answers = []
    for user in range(8):
        driver = await proxied(strict_rig, f"s{user}", f"203.0.113.{user + 1}")
        answers.append(await ask_sms_code(driver, "0905123456"))
    assert answers[5:] == [answers[5]] * 3 and answers[5].startswith(RATE_LIMITED)
    owner = await strict_rig.driver("telegram", "an")
    assert (await ask_sms_code(owner, "0905123456")).startswith("Nếu số 0905 *** 456")
