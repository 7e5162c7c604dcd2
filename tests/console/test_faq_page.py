"""The console's FAQ page (issue 19): a supervisor adds, edits and removes what the bot
answers, and the running bot answers with it on the customer's next message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.console.staff import StaffClient
from tests.handlers.rig import Rig

Staff = Callable[[str], Awaitable[StaffClient]]
# The entries data/faq.yml ships with (the page counts them).
SHIPPED = sum(
    line.startswith("  - id: ")
    for line in (Path(__file__).parents[2] / "data" / "faq.yml").read_text().splitlines()
)

NEW_ENTRY = {
    "id": "prepaid_meter",
    "question_vi": "Điện lực có lắp công tơ trả trước không?",
    "question_en": "Does the utility install prepaid meters?",
    "also": "công tơ trả tiền trước\ncó đồng hồ điện trả trước không",
    "answer_vi": "Hiện Điện lực chưa lắp công tơ trả trước cho hộ gia đình.",
    "answer_en": "Prepaid meters are not installed for households at present.",
    "source": "EVNCPC CSKH: thông báo thử nghiệm",
    "reviewed": "2026-12-08",
    "offer": "svc:consult_usage",
}


async def test_a_supervisor_adds_an_entry_and_the_bot_answers_with_it(
    console_rig: Rig, staff: Staff
) -> None:
    chat = await console_rig.driver("rest", "faq-page")
    supervisor = await staff("supervisor")
    status, page = await supervisor.get("/console/faq")
    assert status == 200 and f"{SHIPPED} câu hỏi" in page and "tou_peak_hours" in page
    status, _ = await supervisor.post("/console/faq", NEW_ENTRY)
    assert status == 200
    _, page = await supervisor.get("/console/faq?q=tra truoc")
    assert "Điện lực có lắp công tơ trả trước không?" in page and "tou_peak_hours" not in page

    await chat.say("điện lực có lắp đồng hồ điện trả trước không")
    assert chat.text.startswith("Hiện Điện lực chưa lắp công tơ trả trước cho hộ gia đình.")
    assert "Nguồn: EVNCPC CSKH: thông báo thử nghiệm (rà soát 08/12/2026)." in chat.text

    await supervisor.post("/console/faq/prepaid_meter/delete")
    _, page = await supervisor.get("/console/faq")
    assert "prepaid_meter" not in page and f"{SHIPPED} câu hỏi" in page
    await chat.say("điện lực có lắp đồng hồ điện trả trước không")
    assert "thông báo thử nghiệm" not in chat.text


async def test_an_entry_without_a_source_is_refused_and_agents_may_not_edit(
    console_rig: Rig, staff: Staff
) -> None:
    supervisor = await staff("supervisor")
    status, page = await supervisor.post("/console/faq", {**NEW_ENTRY, "source": ""})
    assert status == 400
    assert "Chưa lưu được: FAQ entry prepaid_meter: no source" in page
    agent = await staff("agent")
    status, _ = await agent.post("/console/faq", NEW_ENTRY)
    assert status == 403
