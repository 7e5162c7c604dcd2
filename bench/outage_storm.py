"""An outage storm replayed against a running bot (issue 19): do suspected incidents open
where the power really went out, fast, and nowhere else?

    python bench/outage_storm.py [--reports 2000] [--wards 40] [--minutes 30]
        [--incidents 3] [--noise 40] [--speed 15] [--db sqlite|pg]

`cskh serve`'s web app runs on loopback on a freshly seeded demo database, with a clock
that runs `--speed` times faster than the wall clock from a fixed morning (so 30 minutes
of storm take two), the server's own delivery worker and the default settings
(CSKH_INCIDENT_THRESHOLD, CSKH_INCIDENT_WINDOW_MINUTES). Customers are logged-in chats
linked to demo customers of `--wards` wards (several chats per contract: a household's
phones); each report is one message "mất điện rồi"-like over POST /api/chat, the free text
the issue counts. Three wards lose power at minutes 3, 9 and 17: their reports ramp up
as more households notice, some customers send it several times; `--noise` single-house
faults fall at random times in random wards (one chat each, a few of them sent twice).

Prints a Markdown summary for docs/BENCHMARKS.md: for each real incident the time from
its first report to the suspected incident, false and missed incidents, and how many
reporters of an open incident read "Điện lực đã ghi nhận…" (in the answer, or pushed to
those who had reported before it opened).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.notify_rig import fresh_database  # noqa: E402
from bot.app import build_runtime, create_app  # noqa: E402
from bot.demo import seed as demo_seed  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.models import (  # noqa: E402
    ChatUser,
    Customer,
    CustomerLink,
    Delivery,
    Notice,
    SuspectedIncident,
)

TOKEN = "storm-token"
KNOWN = "Điện lực đã ghi nhận sự cố mất điện"
PHRASES = ("mất điện rồi", "nhà tôi mất điện", "nhà tôi bị cúp điện từ sáng tới giờ")
# 08:00 in Vietnam on a weekday: no quiet hours, and the demo's planned outages are
# checked ward by ward below.
START = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
ONSETS = (3.0, 9.0, 17.0)  # minutes into the storm the real incidents begin


class SpeedClock:
    """The server's clock: `speed` times the wall clock, from START."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.t0 = time.monotonic()

    def now(self) -> datetime:
        return START + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)

    def minute(self) -> float:
        return (time.monotonic() - self.t0) * self.speed / 60


@dataclass(frozen=True)
class Report:
    at: float  # minutes into the storm
    ward: int
    user: str
    incident: bool
    repeat: bool  # the same chat again


@dataclass
class Seen:
    """What each report's answer said, by ward."""

    known: dict[int, list[tuple[float, str, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    errors: int = 0
    latency: list[float] = field(default_factory=list)  # seconds, wall clock


@contextlib.asynccontextmanager
async def server(url: str, tmp: Path, clock: SpeedClock) -> AsyncIterator[tuple[Any, str]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        var_dir=tmp / "var",
        database_url=url,
        rest_token=TOKEN,
        secret_key="storm",
        nlu_cache_dir=Path(tempfile.gettempdir()) / "cskh-test-nlu-cache",
        notify_scheduler=False,
    )
    runtime = await build_runtime(settings, clock=clock)
    app = create_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    await runtime.understanding.ready()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield runtime, f"http://{host}:{port}"
    finally:
        await runner.cleanup()
        await runtime.close()


async def storm_wards(runtime: Any, count: int) -> dict[int, list[str]]:
    """`count` wards with the most demo customers and no outage at the storm's time (the
    demo data is seeded here on PostgreSQL; `cskh serve` seeds only an empty SQLite)."""
    if await demo_seed.customer_count(runtime.db) == 0:
        await demo_seed.seed(runtime.db)
    async with runtime.db.reading() as session:
        rows = (await session.execute(select(Customer.ward_code, Customer.code))).all()
    by_ward: dict[int, list[str]] = defaultdict(list)
    for ward, code in rows:
        if ward is not None:
            by_ward[int(ward)].append(code)
    backend = runtime.engine.services.backend
    chosen: dict[int, list[str]] = {}
    for ward, codes in sorted(by_ward.items(), key=lambda item: -len(item[1])):
        customer = await backend.customer(codes[0])
        end = START + timedelta(hours=1)
        if await backend.outages(customer.province_code, ward, START, end):
            continue
        chosen[ward] = codes
        if len(chosen) == count:
            break
    return chosen


def plan(
    wards: dict[int, list[str]], reports: int, minutes: float, incidents: int, noise: int, seed: int
) -> tuple[list[Report], list[int]]:
    """The storm: who reports from where and when (minutes)."""
    rng = random.Random(seed)
    struck = list(wards)[:incidents]
    out: list[Report] = []
    per_incident = (reports - noise) // incidents
    for index, ward in enumerate(struck):
        onset = ONSETS[index % len(ONSETS)]
        for n in range(per_incident):
            # Households notice over the first minutes, then keep reporting: a ramp
            # (the first ones within a minute or two) and a long tail to the end.
            delay = min(rng.expovariate(1 / 6.0), minutes - onset - 0.01)
            repeat = n > 0 and rng.random() < 0.15
            user = f"w{ward}-{rng.randrange(max(1, n))}" if repeat else f"w{ward}-{n}"
            out.append(Report(onset + delay, ward, user, True, repeat))
    for n in range(noise):
        ward = rng.choice(list(wards))
        at = rng.uniform(0, minutes)
        out.append(Report(at, ward, f"noise-{n}", False, False))
        if rng.random() < 0.1:  # the same customer again, a few minutes later
            out.append(
                Report(min(at + rng.uniform(1, 5), minutes), ward, f"noise-{n}", False, True)
            )
    out.sort(key=lambda r: r.at)
    return out, struck


async def make_chats(runtime: Any, wards: dict[int, list[str]], storm: list[Report]) -> None:
    """Logged-in REST chats linked to a demo contract of their ward."""
    users = {(r.user, r.ward) for r in storm}
    async with runtime.db.transaction() as session:
        for n, (user, ward) in enumerate(sorted(users)):
            codes = wards[ward]
            code = codes[n % len(codes)]
            session.add(
                ChatUser(
                    channel="rest",
                    platform_user_id=user,
                    activated_at=START - timedelta(days=30),
                    default_customer_code=code,
                    links=[CustomerLink(customer_code=code)],
                )
            )


async def replay(base: str, clock: SpeedClock, storm: list[Report], seen: Seen) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        rng = random.Random(7)
        busy: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)  # one chat speaks in turn

        async def send(report: Report) -> None:
            wait = (report.at - clock.minute()) * 60 / clock.speed
            if wait > 0:
                await asyncio.sleep(wait)
            async with busy[report.user]:
                sent_at, began = clock.minute(), time.monotonic()
                try:
                    async with http.post(
                        f"{base}/api/chat", json={"user": report.user, "text": rng.choice(PHRASES)}
                    ) as response:
                        body = await response.json()
                except (aiohttp.ClientError, TimeoutError):
                    seen.errors += 1
                    return
                if response.status != 200:
                    seen.errors += 1
                    return
                seen.latency.append(time.monotonic() - began)
                said = " ".join(m.get("text") or "" for m in body.get("messages", []))
                if not report.repeat:
                    seen.known[report.ward].append((sent_at, report.user, KNOWN in said))

        await asyncio.gather(*(send(report) for report in storm))


async def figures(
    runtime: Any, struck: list[int], storm: list[Report], seen: Seen
) -> dict[str, Any]:
    async with runtime.db.reading() as session:
        incidents = list(await session.scalars(select(SuspectedIncident)))
        pushed = {
            int(user_id)
            for user_id in await session.scalars(
                select(Delivery.chat_user_id)
                .join(Notice, Notice.id == Delivery.notice_id)
                .where(Notice.key.like("incident:%:known"))
            )
        }
        chats = {
            c.platform_user_id: c.id
            for c in await session.scalars(select(ChatUser).where(ChatUser.channel == "rest"))
        }
    by_ward = {i.ward_code: i for i in incidents}
    first = {}
    for report in storm:
        if report.incident and report.ward not in first:
            first[report.ward] = report.at
    detection = {}
    for ward in struck:
        incident = by_ward.get(ward)
        if incident is not None:
            opened = (incident.opened_at - START).total_seconds() / 60
            detection[ward] = opened - first[ward]
    false = [i for i in incidents if i.ward_code not in struck]
    missed = [ward for ward in struck if ward not in by_ward]
    later = told_later = pushed_later = earlier = told_earlier = 0
    for ward in struck:
        incident = by_ward.get(ward)
        if incident is None:
            continue
        opened = (incident.opened_at - START).total_seconds() / 60
        for sent_at, user, known in seen.known[ward]:
            if sent_at > opened + 1 / 60:  # answered after it opened (a second's margin)
                later += 1
                told_later += known
                # In flight as it opened: counted before, so told by the push instead.
                pushed_later += not known and chats.get(user) in pushed
            else:
                earlier += 1
                told_earlier += known or chats.get(user) in pushed
    return {
        "detection": detection,
        "false": len(false),
        "missed": len(missed),
        "later": later,
        "told_later": told_later,
        "pushed_later": pushed_later,
        "earlier": earlier,
        "told_earlier": told_earlier,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with fresh_database(args.db, tmp) as url:
            clock = SpeedClock(args.speed)
            async with server(url, tmp, clock) as (runtime, base):
                wards = await storm_wards(runtime, args.wards)
                storm, struck = plan(
                    wards, args.reports, args.minutes, args.incidents, args.noise, args.seed
                )
                await make_chats(runtime, wards, storm)
                seen = Seen()
                clock.t0 = time.monotonic()  # minute 0 is now
                wall = time.monotonic()
                await replay(base, clock, storm, seen)
                wall = time.monotonic() - wall
                found = await figures(runtime, struck, storm, seen)
    detection = found["detection"]
    print(
        f"| {args.db} | {len(storm)} reports ({args.noise} noise), {len(wards)} wards, "
        f"{args.minutes:g} min at ×{args.speed:g} ({wall:.0f} s) | "
        + ", ".join(f"{minutes * 60:.0f} s" for minutes in detection.values())
        + f" (max {max(detection.values(), default=0) * 60:.0f} s) | {found['false']} | "
        f"{found['missed']} | {found['told_later']}/{found['later']} "
        f"(+{found['pushed_later']} pushed) | "
        f"{found['told_earlier']}/{found['earlier']} | {seen.errors} |"
    )
    if seen.latency:
        ordered = sorted(seen.latency)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"answer time: median {statistics.median(ordered) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms (wall clock; ×{args.speed:g} on the server's clock)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--wards", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--incidents", type=int, default=3)
    parser.add_argument("--noise", type=int, default=40)
    parser.add_argument("--speed", type=float, default=15)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
