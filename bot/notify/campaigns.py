"""Campaigns (Thông báo khác): a marketing text, an optional image, a segment of chat
users and a send time, sent through the outbox like every notice.

A campaign is made as a draft; `start` writes one row per recipient (those beyond
CSKH_MARKETING_PER_WEEK are written as `skipped`, so they are counted), waiting until
the send time when there is one. `pause` holds the rows not sent yet and `start`
queues them again. The image is stored once and every row refers to it. Every message
carries a one-tap unsubscribe button (`unsub:other`) and "💬 Phản hồi".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import fmt
from bot.core.messages import Media, Reply
from bot.core.texts import Texts
from bot.notify import outbox
from bot.notify.outbox import Addressee
from bot.notify.producers import reply_row, switch_off_row
from bot.notify.segments import Segment, linked_chat_codes, linked_users
from bot.store.backend import UtilityBackend
from bot.store.media import save_media, sniff_image
from bot.store.models import Campaign, Delivery, Notice
from bot.store.models import Media as MediaRow

log = logging.getLogger(__name__)

MAX_TEXT = 3500  # Telegram takes 4096 characters; leave room for the buttons' sake
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo sent by upload
# With an image the text is the photo's caption, one message: Telegram's caption limit.
MAX_CAPTION = 1024
# Counted in `campaign status`: every status a row can have, plus in_doubt.
STATUSES = ("queued", "held", "claimed", "sending", "sent", "failed", "unreachable", "skipped")
_WAITING = ("queued", "held", "claimed", "sending")


class CampaignError(ValueError):
    """A campaign that cannot be made or moved on; the message says why."""


@dataclass(frozen=True)
class Started:
    """What `start` did: rows written (`queued` of them to be sent, `skipped` over the
    weekly cap) or rows queued again after a pause."""

    campaign_id: int
    queued: int
    skipped: int
    resumed: int
    not_before: datetime


async def create_campaign(
    session: AsyncSession,
    *,
    text: str,
    segment: Segment,
    now: datetime,
    image: bytes | None = None,
    image_name: str = "image",
    send_at: datetime | None = None,
    created_by: str | None = None,
) -> Campaign:
    """A draft campaign (nothing is sent before `start_campaign`); `created_by` is the
    staff member's username when made in the console."""
    text = text.strip()
    if not text:
        raise CampaignError("the text is empty")
    if len(text) > MAX_TEXT:
        raise CampaignError(f"the text is {len(text)} characters; at most {MAX_TEXT}")
    if send_at is not None and send_at <= now:
        raise CampaignError("--at is in the past")
    campaign = Campaign(
        text=text,
        segment=segment.to_json(),
        send_at=send_at,
        status="draft",
        created_by=created_by,
        created_at=now,
    )
    if image is not None:
        if len(text) > MAX_CAPTION:  # or it would go as two messages, the text first
            raise CampaignError(
                f"with an image the text is its caption: {len(text)} characters, "
                f"at most {MAX_CAPTION}"
            )
        content_type = sniff_image(image)
        if content_type is None:
            raise CampaignError("the image is not a JPEG, PNG, GIF or WebP picture")
        if len(image) > MAX_IMAGE_BYTES:
            raise CampaignError("the image is larger than 10 MB")
        stored = Media(content_type=content_type, filename=image_name[:100], data=image)
        campaign.image_media_id = await save_media(session, stored, None)
    session.add(campaign)
    await session.flush()
    log.info("campaign %s created (segment %s)", campaign.id, campaign.segment)
    return campaign


async def audience(
    session: AsyncSession, campaign: Campaign, *, backend: UtilityBackend, now: datetime
) -> int:
    """How many chats the campaign's segment matches now."""
    segment = Segment.from_json(campaign.segment)
    return len(await linked_users(session, backend, segment))


@dataclass(frozen=True)
class Reach:
    """Who a segment reaches at a send time: the chats it matches, those that switched
    "Thông báo khác" off (no row is written for them) and those already at the weekly
    cap then (written as `skipped`)."""

    matching: int
    opted_out: int
    at_cap: int

    @property
    def receiving(self) -> int:
        return self.matching - self.opted_out - self.at_cap


async def reach(
    session: AsyncSession,
    segment: Segment,
    *,
    backend: UtilityBackend,
    at: datetime,
    marketing_per_week: int,
) -> Reach:
    """What `start_campaign` would write for `segment` if the campaign went at `at`."""
    chats = await linked_chat_codes(session, backend, segment)
    refused = await outbox.opted_out(session, chats.keys(), "other")
    takers = [chat for chat, codes in chats.items() if not _refuses(chat, codes, refused)]
    received = await outbox.marketing_received(session, takers, at)
    at_cap = sum(1 for chat in takers if received.get(chat, 0) >= marketing_per_week)
    return Reach(len(chats), len(chats) - len(takers), at_cap)


def _refuses(chat_user_id: int, codes: list[str], refused: set[tuple[int, str]]) -> bool:
    """Whether the chat switched campaigns off: for the chat, or for every code it has
    linked (the row names the first code still taking them, as `_write_rows` does)."""
    if (chat_user_id, "") in refused:
        return True
    return bool(codes) and all((chat_user_id, code) in refused for code in codes)


async def start_campaign(
    session: AsyncSession,
    campaign_id: int,
    texts: Texts,
    *,
    backend: UtilityBackend,
    now: datetime,
    marketing_per_week: int,
) -> Started:
    """Send a draft (at its time), or resume a paused campaign."""
    campaign = await _campaign(session, campaign_id)
    not_before = max(now, campaign.send_at) if campaign.send_at else now
    if campaign.status == "draft":
        queued, skipped = await _write_rows(
            session, backend, campaign, texts, now, not_before, marketing_per_week
        )
        campaign.status, campaign.started_at = "running", now
        log.info("campaign %s started: %s queued, %s over the cap", campaign_id, queued, skipped)
        return Started(campaign.id, queued, skipped, 0, not_before)
    resumed = 0
    if campaign.status == "paused":
        resumed = await _move(session, campaign, "held", "queued")
        campaign.status = "running"
        log.info("campaign %s resumed: %s rows queued again", campaign_id, resumed)
    return Started(campaign.id, 0, 0, resumed, not_before)


async def pause_campaign(session: AsyncSession, campaign_id: int) -> int:
    """Hold the rows not claimed by a worker yet; how many were held."""
    campaign = await _campaign(session, campaign_id)
    if campaign.status == "draft":
        raise CampaignError(f"campaign {campaign_id} has not started")
    held = await _move(session, campaign, "queued", "held")
    campaign.status = "paused"
    log.info("campaign %s paused: %s rows held", campaign_id, held)
    return held


async def campaign_status(
    session: AsyncSession, campaign_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Counts by row status (claimed and sending together as `sending`), in_doubt,
    total, and the campaign's state (draft, running, paused, done)."""
    campaign = await _campaign(session, campaign_id)
    [(_, shown)] = await _statuses(session, [campaign])
    return shown


async def recent_campaigns(
    session: AsyncSession, limit: int = 50
) -> list[tuple[Campaign, dict[str, Any]]]:
    """The latest campaigns, newest first, each with its `campaign_status`."""
    campaigns = await session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit))
    return await _statuses(session, list(campaigns))


async def _statuses(
    session: AsyncSession, campaigns: list[Campaign]
) -> list[tuple[Campaign, dict[str, Any]]]:
    counts = {campaign.id: dict.fromkeys(STATUSES, 0) for campaign in campaigns}
    in_doubt = dict.fromkeys(counts, 0)
    if counts:
        rows = await session.execute(
            select(Notice.campaign_id, Delivery.status, Delivery.in_doubt, func.count())
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(Notice.campaign_id.in_(list(counts)))
            .group_by(Notice.campaign_id, Delivery.status, Delivery.in_doubt)
        )
        for campaign_id, status, doubtful, count in rows:
            if campaign_id is None:  # (not a campaign's notice: the query picks none)
                continue
            mine = counts[campaign_id]
            mine[status] = mine.get(status, 0) + int(count)
            in_doubt[campaign_id] += int(count) if doubtful else 0
    return [(c, _status(c, counts[c.id], in_doubt[c.id])) for c in campaigns]


def _status(campaign: Campaign, counts: dict[str, int], in_doubt: int) -> dict[str, Any]:
    state = campaign.status
    if state == "running" and not any(counts[s] for s in _WAITING):
        state = "done"
    return {
        "campaign": campaign.id,
        "state": state,
        "send_at": fmt.local(campaign.send_at).isoformat() if campaign.send_at else None,
        "total": sum(counts.values()),
        "queued": counts["queued"],
        "held": counts["held"],
        "sending": counts["claimed"] + counts["sending"],
        "sent": counts["sent"],
        "failed": counts["failed"],
        "unreachable": counts["unreachable"],
        "skipped": counts["skipped"],
        "in_doubt": in_doubt,
    }


def campaign_replies(
    texts: Texts, lang: str, notice_id: int, campaign: Campaign, image: Media | None
) -> list[Reply]:
    """The campaign's message in one chat's language (the buttons are; the text is as
    staff wrote it), with its stored image."""
    unsubscribe = switch_off_row(texts, lang, "other", None)  # unsub:other
    return [
        Reply(
            text=campaign.text,
            image=image,
            buttons=(unsubscribe, reply_row(texts, lang, notice_id)),
        )
    ]


async def _write_rows(
    session: AsyncSession,
    backend: UtilityBackend,
    campaign: Campaign,
    texts: Texts,
    now: datetime,
    not_before: datetime,
    marketing_per_week: int,
) -> tuple[int, int]:
    notice = await outbox.notice_for(
        session,
        f"campaign:{campaign.id}",
        kind="campaign",
        category="other",
        marketing=True,
        campaign_id=campaign.id,
        meta={"campaign_id": campaign.id},
    )
    people = await linked_users(session, backend, Segment.from_json(campaign.segment))
    refused = await outbox.opted_out(session, (p.chat_user.id for p in people), "other")
    image = await _image(session, campaign)
    addressees = []
    for person in people:
        code = next(
            (c for c in person.codes if (person.chat_user.id, c) not in refused),
            person.codes[0] if person.codes else None,
        )
        replies = campaign_replies(texts, person.chat_user.language, notice.id, campaign, image)
        addressees.append(Addressee(person.chat_user, replies, code))
    written = await outbox.enqueue(
        session,
        notice,
        addressees,
        now=now,
        not_before=not_before,
        marketing_per_week=marketing_per_week,
    )
    # Every row of this notice was written just now (a draft has none).
    skipped = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.notice_id == notice.id, Delivery.status == "skipped")
    )
    return len(written) - int(skipped or 0), int(skipped or 0)


async def _image(session: AsyncSession, campaign: Campaign) -> Media | None:
    """The campaign's image as a reference to its one stored copy."""
    if not campaign.image_media_id:
        return None
    row = await session.get(MediaRow, campaign.image_media_id)
    if row is None:
        raise CampaignError(f"the image of campaign {campaign.id} is gone")
    return Media(content_type=row.content_type, filename=row.filename, media_id=row.id)


async def _move(session: AsyncSession, campaign: Campaign, source: str, target: str) -> int:
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.status == source,
            Delivery.notice_id.in_(select(Notice.id).where(Notice.campaign_id == campaign.id)),
        )
        .values(status=target)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id}")
    return campaign
