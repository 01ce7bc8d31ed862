"""Creating and listing posts. A post is validated for every target before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import not_in_the_past
from postiz_pipelines.core.accounts.store import media_limits_for, target_problems
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.assets import media_file
from postiz_pipelines.core.media.variants import planned_file
from postiz_pipelines.core.models import (
    AccountStatus,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    Schedule,
    ScheduleKind,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
from postiz_pipelines.core.scheduling.planning import DEFAULT_HORIZON, NEXT_SLOT, RUN_NOW
from postiz_pipelines.core.scheduling.schedules import Recurrence, check_recurrence
from postiz_pipelines.core.scheduling.slots import next_slot_for
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers.base import MediaFile, PostContent

MAX_TEXT = 100_000


@dataclass
class TargetOverride:
    """Per-account text or settings that replace the post's own for that account."""

    text: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def planned_media(
    assets: Sequence[MediaAsset], account: SocialAccount, media_root: Path
) -> tuple[MediaFile, ...]:
    """What ``account``'s platform will receive of each asset: its prepared variant, as
    predicted from the asset's measures. Validation checks these, so a file no preparation
    can bring within a limit fails the post here, not at publish time."""
    try:
        limits = media_limits_for(account)
    except ValidationFailed:  # an unknown platform: validation says so on its own
        return tuple(media_file(a, media_root) for a in assets)
    return tuple(planned_file(a, limits, media_root) for a in assets)


def parse_scheduled_at(
    value: datetime | str,
    *,
    timezone: str | None,
    workspace: Workspace,
    now: datetime,
    field: str = "scheduledAt",
) -> tuple[datetime | None, list[Problem]]:
    """A post's time as UTC (an offset, ``timezone``, else the workspace's zone), not in the
    past."""
    try:
        when = parse_instant(
            value,
            field=field,
            timezone=timezone,
            fallback_zone=workspace.timezone,
            fallback_name=f"workspace {workspace.slug!r}",
        )
    except ValidationFailed as exc:
        return None, exc.problems
    return not_in_the_past(when, now=now, field=field)


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
    idempotency_key: str | None = None,
    actor: str = "system",
) -> Post:
    """Validate, then store the post, one target per account, its schedule and its jobs.

    Single schedules: ``scheduled_at`` is an instant, ``"now"`` (or None), or
    ``"next_slot"`` (each account's next free posting slot). Recurring: ``recurrence``, whose
    jobs are made by expansion (run at once for the first horizon). Raises ValidationFailed
    (nothing written) with every problem found, each naming the field and the limit.
    """
    problems: list[Problem] = []
    overrides = dict(overrides or {})
    settings = dict(settings or {})

    when: datetime | None = None
    starts: datetime | None = None
    until: datetime | None = None
    if recurrence is not None:
        starts, until, recur_problems = check_recurrence(recurrence, workspace, now)
        problems.extend(recur_problems)
        when = starts
    elif scheduled_at is None or scheduled_at == RUN_NOW:
        when = now
    elif scheduled_at == NEXT_SLOT:
        when = now  # refined per account below
    else:
        when, time_problems = parse_scheduled_at(
            scheduled_at, timezone=timezone, workspace=workspace, now=now
        )
        problems.extend(time_problems)

    if len(text) > MAX_TEXT:
        problems.append(
            Problem("content", f"is {len(text)} characters, limit {MAX_TEXT}", len(text), MAX_TEXT)
        )
    if not account_ids:
        problems.append(Problem("targetAccounts", "at least one account is required", 0, 1))
    if len(set(account_ids)) != len(account_ids):
        problems.append(Problem("targetAccounts", "lists an account more than once"))

    accounts: dict[str, SocialAccount] = {}
    if account_ids:
        rows = session.scalars(
            select(SocialAccount).where(
                SocialAccount.id.in_(list(account_ids)),
                SocialAccount.workspace_id == workspace.id,
                SocialAccount.deleted_at.is_(None),
            )
        )
        accounts = {a.id: a for a in rows}
    for i, acc_id in enumerate(account_ids):
        acc = accounts.get(acc_id)
        if acc is None:
            problems.append(
                Problem(
                    f"targetAccounts[{i}]",
                    f"unknown account {acc_id!r} in workspace {workspace.slug!r}",
                    acc_id,
                )
            )
        elif acc.status != AccountStatus.ACTIVE:
            problems.append(
                Problem(
                    f"targetAccounts[{i}]",
                    f"account {acc.handle!r} is {acc.status}; reconnect it",
                    acc_id,
                )
            )
    for acc_id in overrides:
        if acc_id not in account_ids:
            problems.append(Problem(f"overrides.{acc_id}", "is not one of targetAccounts", acc_id))

    assets: list[MediaAsset] = []
    if media_ids:
        found = {
            m.id: m
            for m in session.scalars(
                select(MediaAsset).where(
                    MediaAsset.id.in_(list(media_ids)),
                    MediaAsset.workspace_id == workspace.id,
                    MediaAsset.deleted_at.is_(None),
                )
            )
        }
        for i, mid in enumerate(media_ids):
            if mid not in found:
                problems.append(Problem(f"mediaIds[{i}]", f"unknown media {mid!r}", mid))
            else:
                assets.append(found[mid])
    for acc_id, acc in accounts.items():
        ov = overrides.get(acc_id, TargetOverride())
        content = PostContent(
            text=ov.text if ov.text is not None else text,
            media=planned_media(assets, acc, media_root),
            thread=tuple(thread),
            settings={**settings, **ov.settings},
        )
        problems.extend(target_problems(acc, content))

    run_at: dict[str, datetime] = {}
    if recurrence is None and scheduled_at == NEXT_SLOT:
        for i, acc_id in enumerate(account_ids):
            if acc_id in accounts:
                try:
                    run_at[acc_id] = next_slot_for(session, accounts[acc_id], workspace, now)
                except ValidationFailed as exc:
                    problems.extend(
                        Problem(f"targetAccounts[{i}].{p.field}", p.message, p.value, p.limit)
                        for p in exc.problems
                    )
        if run_at:
            when = min(run_at.values())

    if problems:
        raise ValidationFailed(problems)
    assert when is not None

    post = Post(
        id=new_id("post"),
        workspace_id=workspace.id,
        content=text,
        settings={**settings, **({"thread": list(thread)} if thread else {})},
        status=PostStatus.SCHEDULED,
        scheduled_at=when,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    for pos, asset in enumerate(assets):
        post.media.append(PostMedia(position=pos, media_id=asset.id))
    if recurrence is not None:
        schedule = Schedule(
            id=new_id("sch"),
            workspace_id=workspace.id,
            post_id=post.id,
            kind=ScheduleKind.RECURRING,
            rrule=recurrence.rrule,
            cron=recurrence.cron,
            timezone=recurrence.timezone,
            starts_at=starts,
            until=until,
            count=recurrence.count,
            grace_seconds=recurrence.grace_seconds,
            priority=priority,
            created_at=now,
            updated_at=now,
        )
    else:
        schedule = Schedule(
            id=new_id("sch"),
            workspace_id=workspace.id,
            post_id=post.id,
            kind=ScheduleKind.SINGLE,
            run_at=when,
            timezone=timezone,
            priority=priority,
            expanded_until=when,
            created_at=now,
            updated_at=now,
        )
    session.add(schedule)
    job_rows: list[dict[str, Any]] = []
    for acc_id in account_ids:
        override = overrides.get(acc_id)
        target = PostTarget(
            id=new_id("tgt"),
            account_id=acc_id,
            content_override=override.text if override else None,
            settings_override=override.settings if override else {},
        )
        post.targets.append(target)
        if recurrence is None:
            job_rows.append(
                new_job_row(
                    workspace_id=workspace.id,
                    platform=accounts[acc_id].platform,
                    post_id=post.id,
                    target_id=target.id,
                    account_id=acc_id,
                    run_at=run_at.get(acc_id, when),
                    schedule_id=schedule.id,
                    priority=priority,
                    max_attempts=max_attempts,
                    now=now,
                )
            )
    session.flush()
    enqueue(session, job_rows)
    if recurrence is not None:
        from postiz_pipelines.core.scheduling.expansion import (
            ExpansionReport,
            expand_recurring_schedule,
        )

        expand_recurring_schedule(
            session,
            schedule,
            now=now,
            horizon=DEFAULT_HORIZON,
            max_attempts=max_attempts,
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
        scheduled_at=when.isoformat(),
    )
    return post


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
