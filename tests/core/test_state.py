"""The typed conversation state reads what earlier versions stored and writes the same keys."""

from __future__ import annotations

from bot.core.state import Awaiting, ConversationState, LoginFlow

# A conversation as the engine stored it before the state was typed (issue 13): a code
# flow under way, the PIN gate holding the customer's wish, a draft form, shown buttons.
OLD_ROW = {
    "screen": "lookups",
    "greeted": True,
    "resume": "bills:PC05CC0123456",
    "awaiting": {"step": "login.otp"},
    "login": {
        "subject": "+84905123456",
        "purpose": "activate",
        "delivery": "sms",
        "address": "+84905123456",
        "step": "login.otp",
        "sent_key": "account.code_sent_sms",
        "params": {"phone": "090****456"},
    },
    "buttons": {"tra cuu": "lookups", "ve trang chu": "menu"},
    "form": {"id": "report_outage", "index": 1, "answers": {"address": "12 Lê Lợi"}},
}


def test_a_row_stored_before_the_types_loads_whole() -> None:
    state = ConversationState(OLD_ROW)
    assert state.screen == "lookups" and state.greeted
    assert state.awaiting == Awaiting("login.otp") and state.step == "login.otp"
    assert state.login == LoginFlow(
        subject="+84905123456",
        purpose="activate",
        delivery="sms",
        address="+84905123456",
        step="login.otp",
        sent_key="account.code_sent_sms",
        params={"phone": "090****456"},
    )
    assert state.shown_buttons == {"tra cuu": "lookups", "ve trang chu": "menu"}
    assert state.form == OLD_ROW["form"]
    assert state.take_resume() == "bills:PC05CC0123456" and state.resume is None
    # Nothing read was changed on the way: the rest is stored as it came.
    assert {k: v for k, v in state.to_json().items() if k != "resume"} == {
        k: v for k, v in OLD_ROW.items() if k != "resume"
    }


def test_what_is_written_is_what_an_older_reader_expects() -> None:
    state = ConversationState()
    state.ask("lookup.period", lookup="bill", code="PC05CC0123456")
    state.login = LoginFlow(subject="portal:an", purpose="reset_password", delivery="sms")
    state.screen = "main"
    assert state.to_json() == {
        "awaiting": {"step": "lookup.period", "lookup": "bill", "code": "PC05CC0123456"},
        "login": {"subject": "portal:an", "purpose": "reset_password", "delivery": "sms"},
        "screen": "main",
    }


def test_answering_closes_the_question_once() -> None:
    state = ConversationState({"awaiting": {"step": "pin.current", "wants": "remove"}})
    assert state.answered() == Awaiting("pin.current", wants="remove")
    assert state.awaiting is None and state.answered() is None


def test_unreadable_or_retired_values_do_not_break_the_conversation() -> None:
    state = ConversationState(
        {
            "awaiting": {"step": "lookup.range", "code": "PC05CC0123456", "retired": 1},
            "login": "garbage",
            "buttons": ["not", "a", "mapping"],
            "screen": 7,
            "form": "garbage",
        }
    )
    assert state.awaiting == Awaiting("lookup.range", code="PC05CC0123456")
    assert state.login is None and state.shown_buttons == {}
    assert state.screen is None and state.form is None
    assert ConversationState({"awaiting": {"no": "step"}}).awaiting is None


def test_the_view_never_shares_the_stored_row() -> None:
    row = {"form": {"answers": {"a": 1}}}
    state = ConversationState(row)
    form = state.form
    assert form is not None
    form["answers"]["a"] = 2  # a caller changing its copy changes nothing stored
    assert state.to_json() == {"form": {"answers": {"a": 1}}} and row["form"]["answers"]["a"] == 1
    state.clear()
    assert state.to_json() == {} and row == {"form": {"answers": {"a": 1}}}
