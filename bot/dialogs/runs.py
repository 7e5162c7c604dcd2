"""Form runs: one row per service form a customer begins (form_runs), for the console
dashboard's funnel (issue 14): where each run got to and how it ended.

A run is inserted when the form starts, moved along as each question is asked, and
closed as submitted or cancelled when the draft is dropped; a run never closed was
abandoned (left unanswered until the draft expired, or ended by a log-out).

Moving and closing a run are plain attribute changes the session writes with the
conversation's transaction (one UPDATE by primary key, nothing read first): the engine
drops a draft from synchronous code, and a run needs no more than its id to be moved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from bot.core.context import Context
from bot.store.models import FormRun, ServiceRequest

SUBMITTED, CANCELLED = "submitted", "cancelled"
SUMMARY = "(summary)"  # the step of a run whose questions are all answered


async def begin(ctx: Context, form_id: str) -> int | None:
    """A new run of `form_id` for the chat user; its id (None for a chat that is not
    stored, as in the form engine's own tests)."""
    if ctx.user.id is None:
        return None
    run = FormRun(chat_user_id=ctx.user.id, form_id=form_id, started_at=ctx.now(), steps_done=0)
    ctx.session.add(run)
    await ctx.session.flush()
    return run.id


def reached(session: AsyncSession, run_id: int, step: str, steps_done: int) -> None:
    """The run is at question `step`, with `steps_done` questions answered before it."""
    run = _run(session, run_id)
    run.step, run.steps_done = step, steps_done


def ended(session: AsyncSession, run_id: int, outcome: str, now: datetime) -> None:
    run = _run(session, run_id)
    run.outcome, run.finished_at = outcome, now


def filed(session: AsyncSession, form_id: str, chat_user_id: int, since: datetime) -> bool:
    """Whether this transaction filed a request from `form_id` for the chat user (the
    submit button's work) since `since`, the draft's start."""
    return any(
        isinstance(row, ServiceRequest)
        and row.type == form_id
        and row.chat_user_id == chat_user_id
        and row.created_at is not None
        and row.created_at >= since
        for row in (*session.new, *session.identity_map.values())
    )


def _run(session: AsyncSession, run_id: int) -> FormRun:
    """The run as the session knows it, or a stand-in holding only its id: what is set
    on it becomes an UPDATE of those columns at the next flush (never read a column of
    a stand-in: that would be a query, which synchronous code cannot make)."""
    known = session.identity_map.get(identity_key(FormRun, run_id))
    if isinstance(known, FormRun):
        return known
    run = FormRun(id=run_id)
    make_transient_to_detached(run)
    session.add(run)
    return run
