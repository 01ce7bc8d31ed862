"""Creating and listing posts: ``validate.plan_post`` checks a post for every target (and
writes nothing), then ``store_post`` writes the post, its schedule, targets and jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    Schedule,
    ScheduleKind,
    Workspace,
)
from postiz_pipelines.core.posts.validate import (
    PostPlan,
    TargetOverride,
    parse_scheduled_at,
    plan_post,
)
from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
from postiz_pipelines.core.scheduling.planning import DEFAULT_HORIZON
from postiz_pipelines.core.scheduling.schedules import Recurrence

__all__ = [
    "PostPlan",
    "TargetOverride",
    "create_post",
    "list_posts",
    "parse_scheduled_at",
    "store_post",
]


def create_post(
    session: Session,
    *,
    workspace: Workspace,
    text: str,
    account_ids: Sequence[str],
    scheduled_at: datetime | str | None,
    now: datetime,
    timezone: str | None = None,
    recurrence: Recurrence | None = None,
    media_ids: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    overrides: Mapping[str, TargetOverride] | None = None,
    thread: Sequence[str] = (),
    priority: int = 0,
    max_attempts: int = 4,
    media_root: Path = Path("."),
    actor: str = "system",
) -> Post:
    """Validate, then store the post, one target per account, its schedule and its jobs.

    Single schedules: ``scheduled_at`` is an instant, ``"now"`` (or None), or
    ``"next_slot"`` (each account's next free posting slot). Recurring: ``recurrence``, whose
    jobs are made by expansion (run at once for the first horizon). Raises ValidationFailed
    (nothing written) with every problem found, each naming the field and the limit.
    """
    plan = plan_post(
        session,
        workspace=workspace,
        text=text,
        account_ids=account_ids,
        scheduled_at=scheduled_at,
        now=now,
        timezone=timezone,
        recurrence=recurrence,
        media_ids=media_ids,
        settings=settings,
        overrides=overrides,
        thread=thread,
        priority=priority,
        max_attempts=max_attempts,
        media_root=media_root,
    )
    return store_post(session, plan, workspace=workspace, now=now, actor=actor)


def store_post(
    session: Session, plan: PostPlan, *, workspace: Workspace, now: datetime, actor: str
) -> Post:
    """Write a validated post: the post, its media, schedule, targets and jobs (or, for a
    recurring post, the first horizon's expansion), and the audit row."""
    post = Post(
        id=new_id("post"),
        workspace_id=workspace.id,
        content=plan.text,
        settings=dict(plan.settings),
        status=PostStatus.SCHEDULED,
        scheduled_at=plan.scheduled_at,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    for pos, asset in enumerate(plan.assets):
        post.media.append(PostMedia(position=pos, media_id=asset.id))
    schedule = _new_schedule(plan, workspace=workspace, post=post, now=now)
    session.add(schedule)
    rows = _store_targets(session, plan, workspace=workspace, post=post, schedule=schedule, now=now)
    enqueue(session, rows)
    if plan.recurrence is not None:
        from postiz_pipelines.core.scheduling.expansion import (
            ExpansionReport,
            expand_recurring_schedule,
        )

        expand_recurring_schedule(
            session,
            schedule,
            now=now,
            horizon=DEFAULT_HORIZON,
            max_attempts=plan.max_attempts,
            report=ExpansionReport(),
        )
    audit(
        session,
        actor=actor,
        action="post.create",
        object_type="post",
        object_id=post.id,
        workspace_id=workspace.id,
        now=now,
        targets=len(post.targets),
        kind=schedule.kind,
        scheduled_at=plan.scheduled_at.isoformat(),
    )
    return post


def _new_schedule(plan: PostPlan, *, workspace: Workspace, post: Post, now: datetime) -> Schedule:
    recurrence = plan.recurrence
    if recurrence is not None:
        return Schedule(
            id=new_id("sch"),
            workspace_id=workspace.id,
            post_id=post.id,
            kind=ScheduleKind.RECURRING,
            rrule=recurrence.rrule,
            cron=recurrence.cron,
            timezone=recurrence.timezone,
            starts_at=plan.starts,
            until=plan.until,
            count=recurrence.count,
            grace_seconds=recurrence.grace_seconds,
            priority=plan.priority,
            created_at=now,
            updated_at=now,
        )
    return Schedule(
        id=new_id("sch"),
        workspace_id=workspace.id,
        post_id=post.id,
        kind=ScheduleKind.SINGLE,
        run_at=plan.scheduled_at,
        timezone=plan.timezone,
        priority=plan.priority,
        expanded_until=plan.scheduled_at,
        created_at=now,
        updated_at=now,
    )


def _store_targets(
    session: Session,
    plan: PostPlan,
    *,
    workspace: Workspace,
    post: Post,
    schedule: Schedule,
    now: datetime,
) -> list[dict[str, Any]]:
    """One target per account; for a single schedule, its job rows (not yet enqueued)."""
    rows = []
    for acc_id in plan.account_ids:
        ov = plan.overrides.get(acc_id)
        target = PostTarget(
            id=new_id("tgt"),
            account_id=acc_id,
            content_override=ov.text if ov else None,
            settings_override=ov.settings if ov else {},
        )
        post.targets.append(target)
        if plan.recurrence is None:
            rows.append(
                new_job_row(
                    workspace_id=workspace.id,
                    platform=plan.accounts[acc_id].platform,
                    post_id=post.id,
                    target_id=target.id,
                    account_id=acc_id,
                    run_at=plan.run_at.get(acc_id, plan.scheduled_at),
                    schedule_id=schedule.id,
                    priority=plan.priority,
                    max_attempts=plan.max_attempts,
                    now=now,
                )
            )
    session.flush()
    return rows


def list_posts(
    session: Session,
    *,
    workspace_id: str,
    status: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Post]:
    """A workspace's live posts, latest scheduled first."""
    q = (
        select(Post)
        .where(Post.workspace_id == workspace_id, Post.deleted_at.is_(None))
        .order_by(Post.scheduled_at.desc(), Post.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        q = q.where(Post.status == status)
    return list(session.scalars(q))
