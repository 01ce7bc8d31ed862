"""Managing schedules: list, pause, resume, change the rule, delete.

Pausing, changing or deleting a schedule removes its jobs that are still waiting and were
never tried (they would publish what the user no longer wants); jobs already claimed,
tried or finished stay. Resuming expands again from now: what fell in the pause is not
published late.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import (
    EvergreenPost,
    JobStatus,
    Post,
    PostStatus,
    PublishJob,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    Workspace,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.scheduling.expansion import (
    MAX_ATTEMPTS,
    ExpansionReport,
    expand_evergreen_schedule,
    expand_recurring_schedule,
)
from postiz_pipelines.core.scheduling.planning import DEFAULT_HORIZON
from postiz_pipelines.core.scheduling.recurrence import RecurrenceSpec, validate_recurrence
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed


def get_schedule(
    session: Session, schedule_id: str, *, workspace_id: str | None = None
) -> Schedule:
    q = select(Schedule).where(Schedule.id == schedule_id, Schedule.deleted_at.is_(None))
    if workspace_id is not None:
        q = q.where(Schedule.workspace_id == workspace_id)
    schedule = session.scalar(q)
    if schedule is None:
        raise NotFound("schedule", schedule_id)
    return schedule


def list_schedules(
    session: Session, *, workspace_id: str, kind: str | None = None
) -> list[Schedule]:
    q = (
        select(Schedule)
        .where(Schedule.workspace_id == workspace_id, Schedule.deleted_at.is_(None))
        .order_by(Schedule.created_at, Schedule.id)
    )
    if kind:
        q = q.where(Schedule.kind == kind)
    return list(session.scalars(q))


def _waiting() -> tuple[Any, ...]:
    """The jobs pausing, changing or deleting a schedule removes: waiting (or held), never
    tried."""
    waiting = [JobStatus.PENDING, JobStatus.QUEUED, JobStatus.HELD]
    return (PublishJob.status.in_(waiting), PublishJob.attempts == 0)


def waiting_job_counts(session: Session, schedule_ids: Collection[str]) -> dict[str, int]:
    """How many waiting, never-tried jobs each schedule has (what a pause would remove)."""
    if not schedule_ids:
        return {}
    rows = session.execute(
        select(PublishJob.schedule_id, func.count())
        .where(*_waiting(), PublishJob.schedule_id.in_(list(schedule_ids)))
        .group_by(PublishJob.schedule_id)
    )
    return {sid: n for sid, n in rows if sid is not None}


def remove_waiting_jobs(
    session: Session, schedule: Schedule, *, now: datetime, category: str | None = None
) -> int:
    """Delete the schedule's jobs that wait and were never tried (of one evergreen
    ``category`` when given); returns how many."""
    waiting = list(
        session.scalars(
            select(PublishJob).where(*_waiting(), PublishJob.schedule_id == schedule.id)
        )
    )
    if category is not None:
        posts = {
            p.id: p
            for p in session.scalars(select(Post).where(Post.id.in_({j.post_id for j in waiting})))
        }
        waiting = [
            j
            for j in waiting
            if ((posts[j.post_id].settings or {}).get("evergreen") or {}).get("category")
            == category
        ]
    if not waiting:
        return 0
    removed = queue.withdraw_unstarted(session, [j.id for j in waiting])
    if schedule.kind == ScheduleKind.EVERGREEN:
        gone = {j.post_id for j in waiting} - set(
            session.scalars(
                select(PublishJob.post_id).where(PublishJob.id.in_([j.id for j in waiting]))
            )
        )  # a job claimed meanwhile keeps its post
        _unplan_evergreen(session, gone, now)
    return removed


def _unplan_evergreen(session: Session, post_ids: set[str], now: datetime) -> None:
    """Evergreen picks that will not publish: give the library item its use back."""
    for post in session.scalars(select(Post).where(Post.id.in_(post_ids))):
        meta = (post.settings or {}).get("evergreen") or {}
        item = session.get(EvergreenPost, meta.get("post_id")) if meta.get("post_id") else None
        if item is not None and item.uses > 0:
            item.uses -= 1
        post.status = PostStatus.CANCELED
        post.deleted_at = now


def pause_schedule(session: Session, schedule: Schedule, *, now: datetime, actor: str) -> int:
    if schedule.kind == ScheduleKind.SINGLE:
        raise Conflict("a single post is canceled, not paused")
    if schedule.status != ScheduleStatus.ACTIVE:
        raise Conflict(f"schedule {schedule.id} is {schedule.status}, not active")
    schedule.status = ScheduleStatus.PAUSED
    removed = remove_waiting_jobs(session, schedule, now=now)
    schedule.updated_at = now
    audit(
        session,
        actor=actor,
        action="schedule.pause",
        object_type="schedule",
        object_id=schedule.id,
        workspace_id=schedule.workspace_id,
        now=now,
        removed_jobs=removed,
    )
    return removed


def resume_schedule(
    session: Session,
    schedule: Schedule,
    *,
    now: datetime,
    actor: str,
    max_attempts: int = MAX_ATTEMPTS,
) -> ExpansionReport:
    if schedule.status != ScheduleStatus.PAUSED:
        raise Conflict(f"schedule {schedule.id} is {schedule.status}, not paused")
    schedule.status = ScheduleStatus.ACTIVE
    schedule.expanded_until = now  # nothing of the pause is published late
    audit(
        session,
        actor=actor,
        action="schedule.resume",
        object_type="schedule",
        object_id=schedule.id,
        workspace_id=schedule.workspace_id,
        now=now,
    )
    return _expand_now(session, schedule, now, max_attempts)


def change_recurrence(
    session: Session,
    schedule: Schedule,
    rec: Recurrence,
    *,
    now: datetime,
    actor: str,
    max_attempts: int = MAX_ATTEMPTS,
) -> ExpansionReport:
    """Replace a recurring schedule's rule; waiting jobs of the old rule are removed."""
    if schedule.kind != ScheduleKind.RECURRING:
        raise Conflict("only a recurring schedule has a rule to change")
    workspace = get_workspace(session, schedule.workspace_id)
    starts, until, problems = check_recurrence(rec, workspace, now)
    if problems:
        raise ValidationFailed(problems)
    removed = remove_waiting_jobs(session, schedule, now=now)
    schedule.rrule, schedule.cron, schedule.timezone = rec.rrule, rec.cron, rec.timezone
    schedule.starts_at = starts
    schedule.until = until
    schedule.count = rec.count
    schedule.grace_seconds = rec.grace_seconds
    schedule.expanded_until = now
    if schedule.status == ScheduleStatus.COMPLETED:
        schedule.status = ScheduleStatus.ACTIVE
    audit(
        session,
        actor=actor,
        action="schedule.update",
        object_type="schedule",
        object_id=schedule.id,
        workspace_id=schedule.workspace_id,
        now=now,
        removed_jobs=removed,
    )
    return _expand_now(session, schedule, now, max_attempts)


def delete_schedule(session: Session, schedule: Schedule, *, now: datetime, actor: str) -> int:
    removed = remove_waiting_jobs(session, schedule, now=now)
    schedule.deleted_at = now
    schedule.status = ScheduleStatus.PAUSED
    audit(
        session,
        actor=actor,
        action="schedule.delete",
        object_type="schedule",
        object_id=schedule.id,
        workspace_id=schedule.workspace_id,
        now=now,
        removed_jobs=removed,
    )
    return removed


def replan_evergreen(
    session: Session, schedule: Schedule, *, now: datetime, max_attempts: int = MAX_ATTEMPTS
) -> ExpansionReport:
    """Plan a workspace's evergreen slots again from now (after its timetable or a
    category changed): waiting picks are withdrawn and the next 24 h are drawn anew."""
    remove_waiting_jobs(session, schedule, now=now)
    schedule.expanded_until = None
    return _expand_now(session, schedule, now, max_attempts)


def _expand_now(
    session: Session, schedule: Schedule, now: datetime, max_attempts: int = MAX_ATTEMPTS
) -> ExpansionReport:
    report = ExpansionReport(schedules=1)
    session.flush()
    if schedule.status != ScheduleStatus.ACTIVE:
        return report
    expand = (
        expand_recurring_schedule
        if schedule.kind == ScheduleKind.RECURRING
        else expand_evergreen_schedule
    )
    expand(
        session,
        schedule,
        now=now,
        horizon=DEFAULT_HORIZON,
        max_attempts=max_attempts,
        report=report,
    )
    return report


@dataclass(frozen=True)
class Recurrence:
    """A recurring schedule: an RFC 5545 ``rrule`` or a 5-field ``cron``, read in ``timezone``
    (else each account's, else the workspace's), from ``starts_at``, bounded by ``until``
    and ``count``. Late occurrences within ``grace_seconds`` still publish."""

    rrule: str | None = None
    cron: str | None = None
    timezone: str | None = None
    starts_at: datetime | str | None = None
    until: datetime | str | None = None
    count: int | None = None
    grace_seconds: int = 3600


def _instant_or_none(
    value: datetime | str | None, field: str, workspace: Workspace, timezone: str | None = None
) -> datetime | None:
    if value is None:
        return None
    return parse_instant(
        value,
        field=field,
        timezone=timezone,
        fallback_zone=workspace.timezone,
        fallback_name=f"workspace {workspace.slug!r}",
    )


def check_recurrence(
    rec: Recurrence, workspace: Workspace, now: datetime
) -> tuple[datetime | None, datetime | None, list[Problem]]:
    """The series start and end as UTC instants (read in the rule's zone, else the
    workspace's), and every problem of the rule (fields prefixed ``schedule.``)."""
    problems: list[Problem] = []
    starts: datetime | None = now
    until: datetime | None = None
    try:
        starts = (
            _instant_or_none(rec.starts_at, "schedule.starts_at", workspace, rec.timezone) or now
        )
        until = _instant_or_none(rec.until, "schedule.until", workspace, rec.timezone)
    except ValidationFailed as exc:
        return None, None, exc.problems
    if not rec.rrule and not rec.cron:
        problems.append(
            Problem("schedule", "a recurring schedule needs an rrule or a cron expression")
        )
    zone = rec.timezone or workspace.timezone or "UTC"
    spec = RecurrenceSpec(
        rrule=rec.rrule, cron=rec.cron, timezone=zone, until=until, count=rec.count
    )
    for p in validate_recurrence(spec, start=starts):
        problems.append(Problem(f"schedule.{p.field}", p.message, p.value, p.limit))
    if rec.grace_seconds < 0 or rec.grace_seconds > 7 * 86400:
        problems.append(
            Problem(
                "schedule.grace_seconds",
                f"is {rec.grace_seconds}, allowed 0..604800",
                rec.grace_seconds,
                604800,
            )
        )
    return starts, until, problems
