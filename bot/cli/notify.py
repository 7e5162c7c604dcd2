"""`cskh notify outage|restored|bills|run` and `cskh campaign create|start|pause|status`:
staff produce notices from the shell (the staff console will call the same code).

The commands write outbox rows and exit; the delivery workers of `cskh serve` (or
`cskh worker`) send them. Times without an offset are Vietnam time. Bad input, an
unknown id or a place that names nothing: exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.cli import iso_moment, on_database
from bot.core import fmt
from bot.core.clock import Clock
from bot.core.texts import LANGUAGES
from bot.settings import Settings

CHANNELS = ("telegram", "zalo", "web", "rest")
TARIFFS = ("household", "business", "production")
BAR_WIDTH = 30


def register(commands: Any) -> None:
    """Add `notify` and `campaign` to the `cskh` command's sub-commands."""
    notify = commands.add_parser("notify", help="notices: outages, power restored, bill runs")
    sub = notify.add_subparsers(title="notify commands")

    outage = sub.add_parser(
        "outage",
        help="record an outage for an area and notify the customers there",
        description="Province and ward: names (any case, with or without diacritics) or codes.",
    )
    outage.add_argument("--province", required=True, help='e.g. "Da Nang" or 48')
    outage.add_argument("--ward", help='e.g. "Hoi An" or 20410 (default: the whole province)')
    outage.add_argument(
        "--start", required=True, type=iso_moment, help="ISO time, e.g. 2026-12-02T07:00"
    )
    outage.add_argument("--end", required=True, type=iso_moment, help="ISO time")
    outage.add_argument("--reason", required=True, help="e.g. 'Bảo dưỡng đường dây'")
    outage.add_argument("--kind", choices=("planned", "incident"), default="planned")
    outage.add_argument("--json", action="store_true", help="print a JSON object")
    outage.set_defaults(run=_outage, clock=None)

    restored = sub.add_parser("restored", help="power is back: tell those notified of the outage")
    restored.add_argument("outage_id", type=int)
    restored.add_argument("--at", type=iso_moment, help="when it came back (default: now)")
    restored.add_argument("--json", action="store_true", help="print a JSON object")
    restored.set_defaults(run=_restored, clock=None)

    bills = sub.add_parser("bills", help="bill notices for the unpaid bills of a month")
    bills.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    bills.set_defaults(run=_bills, clock=None)

    run = sub.add_parser("run", help="run the scheduled notice jobs once, now")
    run.set_defaults(run=_run_jobs, clock=None)

    campaign = commands.add_parser("campaign", help="marketing campaigns (Thông báo khác)")
    actions = campaign.add_subparsers(title="campaign commands")
    create = actions.add_parser("create", help="a draft campaign; prints its id last")
    create.add_argument("--text", required=True)
    create.add_argument("--image", type=Path, help="a JPEG, PNG, GIF or WebP picture")
    create.add_argument("--province", help="customers in this province (name or code)")
    create.add_argument("--ward", help="customers in this ward (name or code)")
    create.add_argument("--tariff", choices=TARIFFS, help="customers of this tariff group")
    create.add_argument("--has-debt", action="store_true", help="customers with an unpaid bill")
    create.add_argument("--channel", choices=CHANNELS)
    create.add_argument("--language", choices=LANGUAGES)
    create.add_argument("--at", type=iso_moment, help="send time, ISO (default: when started)")
    create.set_defaults(run=_create, clock=None)
    for name, helps, handler in (
        ("start", "send it (at its time), or resume it after a pause", _start),
        ("pause", "hold what is not sent yet", _pause),
    ):
        action = actions.add_parser(name, help=helps)
        action.add_argument("campaign_id", type=int)
        action.set_defaults(run=handler, clock=None)
    status = actions.add_parser("status", help="progress: queued, sent, failed, unreachable...")
    status.add_argument("campaign_id", type=int)
    status.add_argument("--json", action="store_true", help="print a JSON object")
    status.set_defaults(run=_status, clock=None)


# --- argument types ------------------------------------------------------------------------


def _period(value: str) -> tuple[int, int]:
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month: {value!r} (e.g. 2026-11)") from None
    return moment.year, moment.month


# --- running --------------------------------------------------------------------------------


def _refused(error: Exception | str) -> int:
    print(f"cskh: {error}", file=sys.stderr)
    return 2


def _when(moment: datetime) -> str:
    return f"{fmt.day(moment)} {fmt.clock(moment)}"


def _outage(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.notify.outages import OutageNotices, create_outage
    from bot.notify.producers import NoticeError
    from bot.notify.segments import AreaError, resolve_area

    try:
        area = resolve_area(args.province, args.ward)
    except AreaError as error:
        return _refused(error)

    async def work(db: Any, texts: Any, clock: Clock) -> OutageNotices:
        async with db.transaction() as session:
            return await create_outage(
                session,
                texts,
                backend=utility_backend(settings, db),
                area=area,
                start=args.start,
                end=args.end,
                reason=args.reason,
                kind=args.kind,
                now=clock.now(),
                notice_days=settings.outage_notice_days,
            )

    try:
        made = on_database(settings, args, work)
    except NoticeError as error:
        return _refused(error)
    notice, eve = made.notice, made.eve
    assert notice is not None  # the command always makes the notice
    if args.json:
        shown = {
            "outage_id": made.outage_id,
            "kind": args.kind,
            "area": area.name,
            "notice_id": notice.notice_id,
            "recipients": notice.recipients,
            "not_before": fmt.local(notice.not_before).isoformat(),
            "urgent": args.kind == "incident",
            "eve_notice_id": eve.notice_id if eve else None,
            "eve_recipients": eve.recipients if eve else None,
            "eve_at": fmt.local(eve.not_before).isoformat() if eve else None,
        }
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    same_day = fmt.day(args.start) == fmt.day(args.end)
    window = f"{_when(args.start)}–{fmt.clock(args.end) if same_day else _when(args.end)}"
    print(
        f"notice {notice.notice_id}: {notice.recipients} recipients "
        f"({args.kind} outage {made.outage_id}, {area.name}, {window}; "
        f"sent from {_when(notice.not_before)})"
    )
    if eve is not None:
        print(
            f"notice {eve.notice_id}: {eve.recipients} recipients "
            f"(reminder the evening before, at {_when(eve.not_before)})"
        )
    return 0


def _restored(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.notify.outages import power_restored
    from bot.notify.producers import NoticeError, Produced

    async def work(db: Any, texts: Any, clock: Clock) -> Produced:
        async with db.transaction() as session:
            return await power_restored(
                session,
                args.outage_id,
                texts,
                backend=utility_backend(settings, db),
                now=clock.now(),
                at=args.at,
            )

    try:
        made = on_database(settings, args, work)
    except NoticeError as error:
        return _refused(error)
    if args.json:
        shown = {
            "outage_id": args.outage_id,
            "notice_id": made.notice_id,
            "recipients": made.recipients,
        }
        print(json.dumps(shown))
    else:
        print(
            f"notice {made.notice_id}: {made.recipients} recipients "
            f"(power restored, outage {args.outage_id})"
        )
    return 0


def _bills(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import usage_judge, utility_backend
    from bot.billing.tariffs import default_tariffs
    from bot.notify.scheduler import bill_kind

    async def work(db: Any, texts: Any, clock: Clock) -> tuple[int, int]:
        backend = utility_backend(settings, db)
        return await bill_kind(
            db,
            backend,
            texts,
            "issued",
            now=clock.now(),
            reminder_days=settings.payment_reminder_days,
            period=args.period,
            judge=usage_judge(backend, default_tariffs()),
        )

    notices, rows = on_database(settings, args, work)
    year, month = args.period
    print(f"bills of {month:02d}/{year}: {notices} notices, {rows} recipients")
    return 0


def _run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import usage_judge, utility_backend
    from bot.billing.tariffs import default_tariffs
    from bot.notify.scheduler import run_all

    async def work(db: Any, texts: Any, clock: Clock) -> dict[str, tuple[int, int]]:
        backend = utility_backend(settings, db)
        judge = usage_judge(backend, default_tariffs())
        return await run_all(db, backend, texts, settings, clock.now(), judge)

    for kind, (notices, rows) in on_database(settings, args, work).items():
        if kind == "cancelled":
            print(f"cancelled outages: {rows} rows not sent dropped")
        else:
            print(f"{kind}: {notices} notices, {rows} rows")
    return 0


# --- campaigns ------------------------------------------------------------------------------


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.notify.campaigns import CampaignError, audience, create_campaign
    from bot.notify.segments import AreaError, Segment, resolve_area
    from bot.store.places import ward_province

    try:
        province, ward = args.province, args.ward
        if ward is not None and province is None:
            if not ward.strip().isdigit():
                raise AreaError("--ward needs --province (or give the ward's code)")
            province = str(ward_province(int(ward)))
        area = resolve_area(province, ward) if province is not None else None
    except (AreaError, ValueError) as error:
        return _refused(error)
    image = None
    if args.image is not None:
        try:
            image = args.image.read_bytes()
        except OSError as error:
            return _refused(f"cannot read {args.image}: {error.strerror}")
    segment = Segment(
        province_code=area.province_code if area else None,
        ward_code=area.ward_code if area else None,
        tariff_group=args.tariff,
        has_debt=args.has_debt,
        channel=args.channel,
        language=args.language,
    )

    async def work(db: Any, texts: Any, clock: Clock) -> tuple[int, int]:
        async with db.transaction() as session:
            campaign = await create_campaign(
                session,
                text=args.text,
                segment=segment,
                now=clock.now(),
                image=image,
                image_name=args.image.name if args.image else "image",
                send_at=args.at,
            )
            matching = await audience(
                session, campaign, backend=utility_backend(settings, db), now=clock.now()
            )
            return campaign.id, matching

    try:
        campaign_id, matching = on_database(settings, args, work)
    except CampaignError as error:
        return _refused(error)
    when = f", to be sent at {_when(args.at)}" if args.at else ""
    print(f"draft campaign: {matching} chats match now{when}")
    print(f"start it with: cskh campaign start {campaign_id}")
    return 0


def _start(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.notify.campaigns import CampaignError, Started, start_campaign

    async def work(db: Any, texts: Any, clock: Clock) -> Started:
        async with db.transaction() as session:
            return await start_campaign(
                session,
                args.campaign_id,
                texts,
                backend=utility_backend(settings, db),
                now=clock.now(),
                marketing_per_week=settings.marketing_per_week,
            )

    try:
        started = on_database(settings, args, work)
    except CampaignError as error:
        return _refused(error)
    if started.resumed:
        print(f"campaign {args.campaign_id} resumed: {started.resumed} rows queued again")
    elif started.queued or started.skipped:
        print(
            f"campaign {args.campaign_id} started: {started.queued} queued, "
            f"{started.skipped} skipped (weekly cap), sent from {_when(started.not_before)}"
        )
    else:
        print(f"campaign {args.campaign_id} is running (nothing new to queue)")
    return 0


def _pause(settings: Settings, args: argparse.Namespace) -> int:
    from bot.notify.campaigns import CampaignError, pause_campaign

    async def work(db: Any, texts: Any, clock: Clock) -> int:
        async with db.transaction() as session:
            return await pause_campaign(session, args.campaign_id)

    try:
        held = on_database(settings, args, work)
    except CampaignError as error:
        return _refused(error)
    print(f"campaign {args.campaign_id} paused: {held} rows held (`cskh campaign start` resumes)")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.notify.campaigns import CampaignError, campaign_status

    async def work(db: Any, texts: Any, clock: Clock) -> dict[str, Any]:
        async with db.reading() as session:
            return await campaign_status(session, args.campaign_id)

    try:
        shown = on_database(settings, args, work)
    except CampaignError as error:
        return _refused(error)
    if args.json:
        print(json.dumps(shown))
        return 0
    print(progress(shown))
    return 0


def progress(shown: dict[str, Any]) -> str:
    """Three lines: state, a bar of the rows finished, the counts."""
    total = shown["total"]
    finished = shown["sent"] + shown["failed"] + shown["unreachable"] + shown["skipped"]
    share = finished / total if total else float(shown["state"] == "done")
    filled = round(share * BAR_WIDTH)
    state = f"campaign {shown['campaign']}: {shown['state']}"
    if shown["send_at"]:
        state += f", send time {_when(datetime.fromisoformat(shown['send_at']))}"
    bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:.0%} ({finished}/{total})"
    counts = " · ".join(
        f"{key.replace('_', ' ')} {shown[key]}"
        for key in (
            "queued",
            "sending",
            "held",
            "sent",
            "failed",
            "unreachable",
            "skipped",
            "in_doubt",
        )
    )
    return "\n".join([state, bar, counts])
