"""Editing a stored post before it publishes: ``validate_edit`` checks the edited post for every
target exactly like a new post (and writes nothing), then ``store_edit`` writes it.

A post can be edited only while nothing of it has started: every job still waiting with no
attempt made. A reschedule moves the post, its single schedule and its jobs together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts.store import target_problems
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import (
    JobStatus,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PublishJob,
    Schedule,
    ScheduleKind,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.posts.validate import (
    TargetOverride,
    find_assets,
    parse_scheduled_at,
    planned_media,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.errors import Conflict, Problem, ValidationFailed
from postiz_pipelines.providers.base import PostContent

WAITING = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.HELD)  # held: for its account
FINISHED_POST = {
    PostStatus.PUBLISHED,
    PostStatus.PARTIALLY_PUBLISHED,
    PostStatus.FAILED,
    PostStatus.CANCELED,
}


def post_jobs(session: Session, post_id: str) -> list[PublishJob]:
    return list(
        session.scalars(
            select(PublishJob).where(PublishJob.post_id == post_id).order_by(PublishJob.id)
        )
    )


def _require_unstarted(session: Session, post: Post) -> list[PublishJob]:
    if post.status in FINISHED_POST:
        raise Conflict(
            f"post {post.id} is {post.status}; only a post not yet published can be edited"
        )
    jobs = post_jobs(session, post.id)
    started = [j for j in jobs if j.status not in WAITING or j.attempts > 0]
    if started:
        raise Conflict(
            f"post {post.id} has started publishing (job {started[0].id} is {started[0].status}); "
            "cancel it and create a new post instead"
        )
    return jobs


@dataclass(frozen=True)
class PostEdit:
    """An edit that passed validation for every target: what ``store_edit`` writes (None:
    unchanged)."""

    content: str | None
    settings: dict[str, Any] | None
    assets: list[MediaAsset] | None
    overrides: Mapping[str, TargetOverride]
    scheduled_at: datetime | None


def update_post(
    session: Session,
    post: Post,
    *,
    now: datetime,
    workspace: Workspace,
    content: str | None = None,
    scheduled_at: datetime | str | None = None,
    timezone: str | None = None,
    settings: Mapping[str, Any] | None = None,
    media_ids: Sequence[str] | None = None,
    overrides: Mapping[str, TargetOverride] | None = None,
    media_root: Path = Path("."),
    actor: str = "system",
) -> Post:
    """Edit and/or reschedule a post that has not started publishing.

    Arguments left None are unchanged. Raises Conflict once publishing began and
    ValidationFailed (nothing changed) when the edited post would not pass for a target.
    """
    jobs = _require_unstarted(session, post)
    edit = validate_edit(
        session,
        post,
        now=now,
        workspace=workspace,
        content=content,
        scheduled_at=scheduled_at,
        timezone=timezone,
        settings=settings,
        media_ids=media_ids,
        overrides=overrides,
        media_root=media_root,
    )
    store_edit(session, post, edit, jobs=jobs, now=now, actor=actor)
    return post


def validate_edit(
    session: Session,
    post: Post,
    *,
    now: datetime,
    workspace: Workspace,
    content: str | None = None,
    scheduled_at: datetime | str | None = None,
    timezone: str | None = None,
    settings: Mapping[str, Any] | None = None,
    media_ids: Sequence[str] | None = None,
    overrides: Mapping[str, TargetOverride] | None = None,
    media_root: Path = Path("."),
) -> PostEdit:
    """Check the edited post for every target, writing nothing; ValidationFailed with every
    problem found, else the edit to store."""
    problems: list[Problem] = []
    when: datetime | None = None
    if scheduled_at is not None:
        when, time_problems = parse_scheduled_at(
            scheduled_at, timezone=timezone, workspace=workspace, now=now
        )
        problems.extend(time_problems)
    targets = {t.account_id: t for t in post.targets}
    problems += [
        Problem(f"overrides.{acc_id}", "is not one of the post's target accounts", acc_id)
        for acc_id in overrides or {}
        if acc_id not in targets
    ]
    assets: list[MediaAsset] | None = None
    if media_ids is not None:
        assets, media_problems = _assets(session, workspace.id, media_ids)
        problems.extend(media_problems)
    base_settings = dict(settings) if settings is not None else dict(post.settings or {})
    problems += _edited_target_problems(
        session,
        post,
        text=content if content is not None else post.content,
        settings=base_settings,
        assets=assets if assets is not None else [pm.asset for pm in post.media],
        overrides=overrides or {},
        media_root=media_root,
    )
    if problems:
        raise ValidationFailed(problems)
    return PostEdit(
        content=content,
        settings=base_settings if settings is not None else None,
        assets=assets,
        overrides=dict(overrides or {}),
        scheduled_at=when,
    )


def _edited_target_problems(
    session: Session,
    post: Post,
    *,
    text: str,
    settings: Mapping[str, Any],
    assets: Sequence[MediaAsset],
    overrides: Mapping[str, TargetOverride],
    media_root: Path,
) -> list[Problem]:
    """Every target's problems with the post as it would be after the edit."""
    targets = {t.account_id: t for t in post.targets}
    accounts = {
        a.id: a
        for a in session.scalars(select(SocialAccount).where(SocialAccount.id.in_(list(targets))))
    }
    thread = tuple(settings.get("thread") or ())
    problems: list[Problem] = []
    for acc_id, target in targets.items():
        ov = overrides.get(acc_id)
        if ov is not None and ov.text is not None:
            t_text = ov.text
        else:
            t_text = target.content_override if target.content_override is not None else text
        t_settings = ov.settings if ov is not None else dict(target.settings_override or {})
        acc = accounts.get(acc_id)
        if acc is not None:
            item = PostContent(
                text=t_text,
                media=planned_media(assets, acc, media_root),
                thread=thread,
                settings={**settings, **t_settings},
            )
            problems.extend(target_problems(acc, item))
    return problems


def store_edit(
    session: Session,
    post: Post,
    edit: PostEdit,
    *,
    jobs: Sequence[PublishJob],
    now: datetime,
    actor: str,
) -> list[str]:
    """Write a validated edit and its audit row; returns the names of what changed."""
    changed: list[str] = []
    if edit.content is not None and edit.content != post.content:
        post.content = edit.content
        changed.append("content")
    if edit.settings is not None:
        post.settings = edit.settings
        changed.append("settings")
    if edit.assets is not None:
        post.media.clear()
        session.flush()
        for pos, asset in enumerate(edit.assets):
            post.media.append(PostMedia(position=pos, media_id=asset.id))
        changed.append("media")
    targets = {t.account_id: t for t in post.targets}
    for acc_id, ov in edit.overrides.items():
        targets[acc_id].content_override = ov.text
        targets[acc_id].settings_override = dict(ov.settings)
        changed.append(f"overrides.{acc_id}")
    if edit.scheduled_at is not None and edit.scheduled_at != post.scheduled_at:
        _reschedule(session, post, jobs, edit.scheduled_at, now=now)
        changed.append("scheduledAt")
    post.updated_at = now
    audit(
        session,
        actor=actor,
        action="post.update",
        object_type="post",
        object_id=post.id,
        workspace_id=post.workspace_id,
        now=now,
        changed=changed,
    )
    return changed


def _reschedule(
    session: Session, post: Post, jobs: Sequence[PublishJob], when: datetime, *, now: datetime
) -> None:
    """Move the post, its single schedule and its never-tried jobs to ``when``."""
    post.scheduled_at = when
    for sched in session.scalars(
        select(Schedule).where(Schedule.post_id == post.id, Schedule.kind == ScheduleKind.SINGLE)
    ):
        sched.run_at = when
        sched.expanded_until = when
        sched.updated_at = now
    moved = queue.reschedule_unstarted(session, [j.id for j in jobs], now=now, run_at=when)
    if moved != len(jobs):
        raise Conflict(f"post {post.id} started publishing meanwhile; nothing was changed")


def _assets(
    session: Session, workspace_id: str, media_ids: Sequence[str]
) -> tuple[list[MediaAsset], list[Problem]]:
    assets, problems = find_assets(session, workspace_id, media_ids)
    if len(set(media_ids)) != len(media_ids):
        problems.append(Problem("mediaIds", "lists a media item more than once"))
    return assets, problems
