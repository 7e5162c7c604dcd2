"""A typed number on a channel without buttons (the terminal, the Zalo Bot): an option's
number where the bot asks to choose, the answer where it asks for a number (issue 17).

The bug this pins: the form's "Số hộ dùng chung?" numbered its "⬅ Quay lại" and
"✖ Hủy" as 1 and 2, so a customer answering "2" households pressed "✖ Hủy"."""

from __future__ import annotations

from bot.channels.terminal import TerminalChannel
from bot.dialogs.forms import default_forms
from tests.handlers.rig import LightRig
from tests.handlers.test_form_navigation import CONTRACT
from tests.handlers.test_services import answer, field_asked, logged_in

FORMS = default_forms()
QUOTA = FORMS["svc_change_quota"]
NO_BUTTONS = TerminalChannel.caps  # max_buttons=0: every choice typed


async def at_households(rig: LightRig, name: str):  # type: ignore[no-untyped-def]
    """An, on a channel without buttons, at the quota form's "how many households"."""
    driver = await logged_in(rig, "rest", name)
    driver.caps = NO_BUTTONS
    await driver.say("/services")
    await driver.press(CONTRACT)
    await driver.press(QUOTA.title["vi"])
    await answer(driver, field_asked(QUOTA, driver.text))  # the customer code
    assert field_asked(QUOTA, driver.text).name == "households"
    return driver


def _shown(replies) -> str:  # type: ignore[no-untyped-def]
    """The answer as a channel without buttons shows it (bot/channels/base.py)."""
    terminal = TerminalChannel.__new__(TerminalChannel)
    terminal.links = None
    return "\n".join(reply.text for reply in terminal.adapt(replies))


async def test_a_typed_number_answers_a_question_asking_for_a_number(rig: LightRig) -> None:
    driver = await at_households(rig, "quota-2")
    shown = _shown(driver.replies)
    # Its buttons are no numbered options the answer could hit, and it says how to
    # choose them.
    assert "  2. ✖ Hủy" not in shown and "  1. ⬅ Quay lại" not in shown
    assert "✖ Hủy" in shown and "⬅ Quay lại" in shown
    assert "gõ" in shown.lower() and "hủy" in shown.lower()

    await driver.say("2")
    assert not driver.text.startswith("Hủy đơn"), driver.text
    assert field_asked(QUOTA, driver.text).name == "residence_photos", driver.text


async def test_the_options_of_a_number_question_stay_reachable_by_their_words(
    rig: LightRig,
) -> None:
    driver = await at_households(rig, "quota-words")
    await driver.say("hủy")
    assert driver.text.startswith("Hủy đơn “"), driver.text  # asks to confirm, as ✖ does
    driver = await at_households(rig, "quota-back")
    await driver.say("quay lai")
    assert field_asked(QUOTA, driver.text).name == "customer_code"


async def test_a_number_still_picks_an_option_where_the_bot_asks_to_choose(
    rig: LightRig,
) -> None:
    driver = await logged_in(rig, "rest", "menu-number")
    driver.caps = NO_BUTTONS
    await driver.say("/settings")
    settings_menu = driver.replies
    options = [b for r in settings_menu for b in r.all_buttons if b.payload]
    assert len(options) >= 2
    first = options[0]
    await driver.say("1")
    typed = driver.text
    other = await logged_in(rig, "rest", "menu-pressed")
    await other.say("/settings")
    await other.press(first.title)
    assert typed == other.text


async def test_skip_typed_at_an_optional_question_skips_it(rig: LightRig) -> None:
    meter = FORMS["svc_check_meter"]
    driver = await logged_in(rig, "rest", "skip-typed")
    driver.caps = NO_BUTTONS
    await driver.say("/services")
    await driver.press(CONTRACT)
    await driver.press(meter.title["vi"])
    while field_asked(meter, driver.text).name != "meter_photos":
        await answer(driver, field_asked(meter, driver.text))
    assert "  • Bỏ qua" in _shown(driver.replies)
    await driver.say("bỏ qua")
    assert field_asked(meter, driver.text).name == "inspection_date", driver.text
