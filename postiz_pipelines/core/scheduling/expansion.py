"""Expanding recurring and evergreen schedules into publish jobs, for a horizon ahead.

Run every five minutes (a Dagster schedule) and on demand. Each pass starts where the
previous one ended (``schedules.expanded_until``), and every job carries the unique key
schedule x occurrence x account, so running it twice creates nothing new. Missed
occurrences (the system was down) are reported as ``occurrence_missed`` events, never
fired as a burst (see ``scheduling.plan_due``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import Database, is_postgres
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    EvergreenPost,
    EvergreenTimetable,
    Post,
    PostStatus,
    PostTarget,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
from postiz_pipelines.core.scheduling.evergreen import (
    EvergreenPick,
    EvergreenPlan,
    EvergreenRules,
    EvergreenSlot,
    plan_evergreen,
)
from postiz_pipelines.core.scheduling.evergreen import EvergreenPost as LibraryItem
from postiz_pipelines.core.scheduling.planning import DEFAULT_HORIZON, expand_recurring
from postiz_pipelines.core.scheduling.recurrence import RecurrenceSpec, resolve_zone

MAX_ATTEMPTS = 4


@dataclass
class ExpansionReport:
    schedules: int = 0
    jobs_created: int = 0
    missed: int = 0
    evergreen_picks: int = 0
    evergreen_skipped: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def expand_schedules(
    db: Database,
    *,
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
    schedule_ids: list[str] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> ExpansionReport:
    """Expand every active recurring and evergreen schedule (or just ``schedule_ids``)."""
    report = ExpansionReport()
    with db.session() as s:
        q = (
            select(Schedule)
            .where(
                Schedule.kind.in_([ScheduleKind.RECURRING, ScheduleKind.EVERGREEN]),
                Schedule.status == ScheduleStatus.ACTIVE,
                Schedule.deleted_at.is_(None),
            )
            .order_by(Schedule.id)
        )
        if schedule_ids is not None:
            q = q.where(Schedule.id.in_(schedule_ids))
        if is_postgres(s):
            q = q.with_for_update(skip_locked=True)  # a concurrent pass takes the others
        for schedule in s.scalars(q).all():
            report.schedules += 1
            if schedule.kind == ScheduleKind.RECURRING:
                expand_recurring_schedule(
                    s, schedule, now=now, horizon=horizon, max_attempts=max_attempts, report=report
                )
            else:
                expand_evergreen_schedule(
                    s, schedule, now=now, horizon=horizon, max_attempts=max_attempts, report=report
                )
    return report


def expand_recurring_schedule(
    s: Session,
    schedule: Schedule,
    *,
    now: datetime,
    horizon: timedelta,
    max_attempts: int,
    report: ExpansionReport,
) -> None:
    """One recurring schedule: jobs for every target, each in its own zone when the
    schedule names none (schedule's zone, else the account's, else the workspace's)."""
    post = s.get(Post, schedule.post_id)
    workspace = s.get(Workspace, schedule.workspace_id)
    if post is None or workspace is None or post.deleted_at is not None:
        return
    by_zone: dict[str, list[tuple[PostTarget, SocialAccount]]] = defaultdict(list)
    for target in post.targets:
        account = s.get(SocialAccount, target.account_id)
        if account is None or account.deleted_at is not None:
            continue
        zone = resolve_zone(
            schedule.timezone, (account.settings or {}).get("timezone"), workspace.timezone
        )
        by_zone[zone.key].append((target, account))
    assert schedule.starts_at is not None
    grace = timedelta(seconds=schedule.grace_seconds)
    expansion = None
    rows = []
    for zone_name, targets in sorted(by_zone.items()):
        spec = RecurrenceSpec(
            rrule=schedule.rrule,
            cron=schedule.cron,
            timezone=zone_name,
            until=schedule.until,
            count=schedule.count,
        )
        expansion = expand_recurring(
            spec,
            start=schedule.starts_at,
            expanded_until=schedule.expanded_until,
            now=now,
            horizon=horizon,
            grace=grace,
        )
        for at in expansion.to_publish:
            for target, account in targets:
                rows.append(
                    new_job_row(
                        workspace_id=schedule.workspace_id,
                        platform=account.platform,
                        post_id=post.id,
                        target_id=target.id,
                        account_id=account.id,
                        run_at=at,
                        occurrence_at=at,
                        schedule_id=schedule.id,
                        priority=schedule.priority,
                        max_attempts=max_attempts,
                        now=now,
                    )
                )
        for at in expansion.missed:
            report.missed += 1
            record_event(
                s,
                EventType.OCCURRENCE_MISSED,
                now=now,
                workspace_id=schedule.workspace_id,
                post_id=post.id,
                schedule_id=schedule.id,
                occurrence_at=at.isoformat(),
                zone=zone_name,
            )
    report.jobs_created += enqueue(s, rows)
    if expansion is not None:
        schedule.expanded_until = expansion.expanded_until
        if expansion.finished:
            schedule.status = ScheduleStatus.COMPLETED
            report.completed += 1
    schedule.updated_at = now


def library_item(row: EvergreenPost) -> LibraryItem:
    return LibraryItem(
        id=row.id,
        category=row.category,
        variations=tuple(row.variations),
        created_at=row.created_at,
        uses=row.uses,
        max_uses=row.max_uses,
        last_published_at=row.last_published_at,
        expires_at=row.expires_at,
        cooldown=timedelta(seconds=row.cooldown_seconds)
        if row.cooldown_seconds is not None
        else None,
        last_variation_by_account=dict(row.last_variation_by_account or {}),
    )


@dataclass(frozen=True)
class EvergreenInputs:
    """What one evergreen expansion reads: the timetable, the library and the accounts."""

    table: EvergreenTimetable
    workspace: Workspace
    rows_by_id: dict[str, EvergreenPost]
    accounts: dict[str, SocialAccount]
    account_ids: list[str]  # the timetable's accounts that still exist, in its order


def expand_evergreen_schedule(
    s: Session,
    schedule: Schedule,
    *,
    now: datetime,
    horizon: timedelta,
    max_attempts: int,
    report: ExpansionReport,
) -> None:
    """A workspace's evergreen timetable: at each slot, the category's next post becomes a
    post with one target per account (each with its own variation) and its jobs."""
    table = s.get(EvergreenTimetable, schedule.workspace_id)
    workspace = s.get(Workspace, schedule.workspace_id)
    if table is None or workspace is None:
        return
    lower = max(schedule.expanded_until or now, now)
    upper = now + horizon
    if lower >= upper:
        return
    inputs = _evergreen_inputs(s, schedule, table, workspace)
    if inputs.rows_by_id and inputs.account_ids:
        plan = plan_evergreen_window(inputs, window_start=lower, window_end=upper)
        jobs = _store_picks(s, schedule, inputs, plan, now=now, max_attempts=max_attempts)
        report.evergreen_picks += len({(p.slot_at, p.post_id) for p in plan.picks})
        _store_library_use(inputs, plan)
        report.evergreen_skipped += _record_skips(s, schedule, plan, now=now)
        report.jobs_created += enqueue(s, jobs)
        schedule.updated_at = now
    schedule.expanded_until = upper


def _evergreen_inputs(
    s: Session, schedule: Schedule, table: EvergreenTimetable, workspace: Workspace
) -> EvergreenInputs:
    rows_by_id = {
        r.id: r
        for r in s.scalars(
            select(EvergreenPost)
            .where(
                EvergreenPost.workspace_id == schedule.workspace_id,
                EvergreenPost.deleted_at.is_(None),
            )
            .order_by(EvergreenPost.id)
        )
    }
    accounts = {
        a.id: a
        for a in s.scalars(
            select(SocialAccount).where(
                SocialAccount.id.in_(list(table.account_ids)), SocialAccount.deleted_at.is_(None)
            )
        )
    }
    account_ids = [a for a in table.account_ids if a in accounts]
    return EvergreenInputs(table, workspace, rows_by_id, accounts, account_ids)


def plan_evergreen_window(
    inputs: EvergreenInputs, *, window_start: datetime, window_end: datetime
) -> EvergreenPlan:
    """The picks and skips of the window, from what was read (writes nothing)."""
    table = inputs.table
    rules = EvergreenRules(
        cooldown=timedelta(seconds=table.cooldown_seconds),
        shuffle=table.shuffle,
        seed=table.seed,
        paused_categories=frozenset(table.paused_categories or ()),
    )
    slots = [
        EvergreenSlot(int(x["weekday"]), str(x["time"]), str(x["category"])) for x in table.slots
    ]
    return plan_evergreen(
        [library_item(r) for r in inputs.rows_by_id.values()],
        slots,
        zone=resolve_zone(table.timezone, inputs.workspace.timezone),
        accounts=inputs.account_ids,
        window_start=window_start,
        window_end=window_end,
        rules=rules,
    )


def _store_picks(
    s: Session,
    schedule: Schedule,
    inputs: EvergreenInputs,
    plan: EvergreenPlan,
    *,
    now: datetime,
    max_attempts: int,
) -> list[dict[str, Any]]:
    """One post per (slot, library item), one target per account with its variation; returns
    the job rows to enqueue."""
    picks_by_slot: dict[tuple[datetime, str], list[EvergreenPick]] = defaultdict(list)
    for pick in plan.picks:
        picks_by_slot[(pick.slot_at, pick.post_id)].append(pick)
    jobs = []
    for (at, item_id), picks in sorted(picks_by_slot.items()):
        item = inputs.rows_by_id[item_id]
        post = Post(
            id=new_id("post"),
            workspace_id=schedule.workspace_id,
            content=item.variations[0],
            status=PostStatus.SCHEDULED,
            scheduled_at=at,
            created_at=now,
            updated_at=now,
            settings={
                "evergreen": {
                    "post_id": item_id,
                    "category": item.category,
                    "variations": {p.account_id: p.variation for p in picks},
                }
            },
        )
        s.add(post)
        for pick in picks:
            target = PostTarget(
                id=new_id("tgt"),
                account_id=pick.account_id,
                content_override=item.variations[pick.variation],
            )
            post.targets.append(target)
            s.flush()
            jobs.append(
                new_job_row(
                    workspace_id=schedule.workspace_id,
                    platform=inputs.accounts[pick.account_id].platform,
                    post_id=post.id,
                    target_id=target.id,
                    account_id=pick.account_id,
                    run_at=at,
                    schedule_id=schedule.id,
                    priority=schedule.priority,
                    max_attempts=max_attempts,
                    now=now,
                )
            )
    return jobs


def _store_library_use(inputs: EvergreenInputs, plan: EvergreenPlan) -> None:
    """The library items' uses, last publication and last variation per account."""
    for updated in plan.posts:
        row = inputs.rows_by_id[updated.id]
        row.uses = updated.uses
        row.last_published_at = updated.last_published_at
        row.last_variation_by_account = dict(updated.last_variation_by_account)


def _record_skips(s: Session, schedule: Schedule, plan: EvergreenPlan, *, now: datetime) -> int:
    """An ``evergreen_slot_skipped`` event per slot nothing could fill; returns how many."""
    for skip in plan.skipped:
        record_event(
            s,
            EventType.EVERGREEN_SLOT_SKIPPED,
            now=now,
            workspace_id=schedule.workspace_id,
            schedule_id=schedule.id,
            occurrence_at=skip.slot_at.isoformat(),
            category=skip.category,
            reason=skip.reason,
        )
    return len(plan.skipped)
