"""`cskh incidents list|confirm|dismiss|restored` as operations run them: what they print,
what they write for the delivery workers, and one line on stderr (exit 2) for a decision
that cannot be made."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.__main__ import _parser
from bot.core.clock import FakeClock
from tests.notify.conftest import NOW, World
from tests.outages.test_clustering import chats, report


async def cskh(world: World, *argv: str, minutes: float = 20) -> int:
    args = _parser().parse_args(argv)
    args.clock = FakeClock(NOW + timedelta(minutes=minutes))
    return int(await asyncio.to_thread(args.run, world.settings, args))


async def opened(world: World) -> int:
    for person in await chats(world, 4):
        counted = await report(world, person, minutes=1, with_request=True)
    assert counted.incident is not None
    return counted.incident.id


async def test_list_confirm_and_restored_from_the_shell(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    await world.customer("PC05CC0000001")
    linked = await world.chat("linked", "PC05CC0000001")
    incident_id = await opened(world)
    assert await cskh(world, "incidents", "list") == 0
    out = capsys.readouterr().out
    assert (
        f"#{incident_id} open" in out and "phường Hội An (PC05CC): 4 reporters since 15:01" in out
    )
    assert await cskh(world, "incidents", "confirm", str(incident_id), "--json") == 0
    confirmed = json.loads(capsys.readouterr().out)
    assert confirmed["status"] == "confirmed" and confirmed["told"] == 1  # the linked chat
    announced = await world.rows(f"outage:{confirmed['outage_id']}:incident")
    assert [row.chat_user_id for row in announced] == [linked.id]
    assert await cskh(world, "incidents", "restored", str(incident_id), minutes=80) == 0
    assert capsys.readouterr().out.startswith(
        f"incident {incident_id}: restored, 4 chats told; 4 report requests closed"
    )
    assert await cskh(world, "incidents", "list", "--all", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "restored" and row["reporters"] == 4


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("restored", "999"), "cskh: no suspected incident 999"),
        (("confirm", "999"), "cskh: no suspected incident 999"),
    ],
)
async def test_an_incident_that_never_opened_is_refused_in_one_line(
    world: World, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], error: str
) -> None:
    assert await cskh(world, "incidents", *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == error


async def test_a_dismissed_incident_cannot_be_confirmed_or_restored(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = await opened(world)
    assert await cskh(world, "incidents", "dismiss", str(incident_id)) == 0
    assert "4 chats told; their reports stay open" in capsys.readouterr().out
    assert await cskh(world, "incidents", "confirm", str(incident_id)) == 2
    assert "is dismissed, not open" in capsys.readouterr().err
    assert await cskh(world, "incidents", "restored", str(incident_id)) == 2
    assert "was dismissed; nothing to restore" in capsys.readouterr().err
    assert len(await world.rows(f"incident:{incident_id}:dismissed")) == 4  # told once
