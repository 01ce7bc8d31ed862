"""Operations on stored posts: read, page through, edit or reschedule before publishing,
cancel, retry failures, and the history of publish attempts.

A post can be edited only while nothing of it has started: every job still waiting with
no attempt made. An edit is validated for every target, exactly like a new post, before
anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from postiz_pipelines.core.accounts.store import target_problems
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    JobStatus,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    PublishAttempt,
    PublishJob,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    SocialAccount,
    TargetStatus,
    Workspace,
)
from postiz_pipelines.core.posts.create import TargetOverride, parse_scheduled_at, planned_media
from postiz_pipelines.core.publishing.deadletter import decode_cursor, encode_cursor, requeue_jobs
from postiz_pipelines.core.publishing.post_status import settle_post_status
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed
from postiz_pipelines.providers.base import PostContent

WAITING = (JobStatus.PENDING, JobStatus.QUEUED)
FINISHED_POST = {
    PostStatus.PUBLISHED,
    PostStatus.PARTIALLY_PUBLISHED,
    PostStatus.FAILED,
    PostStatus.CANCELED,
}


@dataclass(frozen=True)
class PostPage:
    posts: list[Post]
    next_cursor: str | None


def get_post(session: Session, post_id: str, *, workspace_ids: Iterable[str] | None = None) -> Post:
    """A live post; outside ``workspace_ids`` it does not exist."""
    post = session.get(Post, post_id)
    if (
        post is None
        or post.deleted_at is not None
        or (workspace_ids is not None and post.workspace_id not in set(workspace_ids))
    ):
        raise NotFound("post", post_id)
    return post


def list_posts_page(
    session: Session,
    *,
    workspace_id: str,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    offset: int = 0,
) -> PostPage:
    """A workspace's live posts, latest scheduled first (unscheduled drafts before them).

    With ``cursor`` the page starts after the row the cursor names (keyset: one index range
    scan whatever the depth); ``offset`` serves the seed's ``page`` parameter.
    """
    q = (
        select(Post)
        .where(Post.workspace_id == workspace_id, Post.deleted_at.is_(None))
        # NULLS FIRST is PostgreSQL's DESC default, so the (workspace, scheduled_at, id)
        # index is read backwards without a sort; SQLite is told the same explicitly.
        .order_by(Post.scheduled_at.desc().nulls_first(), Post.id.desc())
        .limit(limit + 1)
        # one query per relation for the whole page, not one per post
        .options(
            selectinload(Post.targets).selectinload(PostTarget.account), selectinload(Post.media)
        )
    )
    if status:
        q = q.where(Post.status == status)
    if cursor:
        at, post_id = decode_cursor(cursor, 2)
        if at is None:
            q = q.where(
                (Post.scheduled_at.is_(None) & (Post.id < (post_id or "")))
                | Post.scheduled_at.is_not(None)
            )
        else:
            try:
                when = datetime.fromisoformat(at)
            except ValueError:
                raise ValidationFailed(
                    Problem("cursor", "is not a cursor this API returned", cursor[:100])
                ) from None
            q = q.where(tuple_(Post.scheduled_at, Post.id) < tuple_(when, post_id or ""))
    elif offset:
        q = q.offset(offset)
    posts = list(session.scalars(q))
    more = len(posts) > limit
    posts = posts[:limit]
    nxt = None
    if more and posts:
        last = posts[-1]
        nxt = encode_cursor(last.scheduled_at.isoformat() if last.scheduled_at else None, last.id)
    return PostPage(posts, nxt)


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
    problems: list[Problem] = []
    when: datetime | None = None
    if scheduled_at is not None:
        when, time_problems = parse_scheduled_at(
            scheduled_at, timezone=timezone, workspace=workspace, now=now
        )
        problems.extend(time_problems)

    targets = {t.account_id: t for t in post.targets}
    for acc_id in overrides or {}:
        if acc_id not in targets:
            problems.append(
                Problem(f"overrides.{acc_id}", "is not one of the post's target accounts", acc_id)
            )

    assets: list[MediaAsset] | None = None
    if media_ids is not None:
        assets, media_problems = _assets(session, workspace.id, media_ids)
        problems.extend(media_problems)
    text = content if content is not None else post.content
    base_settings = dict(settings) if settings is not None else dict(post.settings or {})
    chosen = assets if assets is not None else [pm.asset for pm in post.media]
    accounts = {
        a.id: a
        for a in session.scalars(select(SocialAccount).where(SocialAccount.id.in_(list(targets))))
    }
    for acc_id, target in targets.items():
        ov = (overrides or {}).get(acc_id)
        t_text = (
            ov.text
            if ov is not None and ov.text is not None
            else (target.content_override if target.content_override is not None else text)
        )
        t_settings = ov.settings if ov is not None else dict(target.settings_override or {})
        thread = tuple(base_settings.get("thread") or ())
        acc = accounts.get(acc_id)
        if acc is not None:
            item = PostContent(
                text=t_text,
                media=planned_media(chosen, acc, media_root),
                thread=thread,
                settings={**base_settings, **t_settings},
            )
            problems.extend(target_problems(acc, item))
    if problems:
        raise ValidationFailed(problems)

    changed: list[str] = []
    if content is not None and content != post.content:
        post.content = content
        changed.append("content")
    if settings is not None:
        post.settings = base_settings
        changed.append("settings")
    if assets is not None:
        post.media.clear()
        session.flush()
        for pos, asset in enumerate(assets):
            post.media.append(PostMedia(position=pos, media_id=asset.id))
        changed.append("media")
    for acc_id, ov in (overrides or {}).items():
        targets[acc_id].content_override = ov.text
        targets[acc_id].settings_override = dict(ov.settings)
        changed.append(f"overrides.{acc_id}")
    if when is not None and when != post.scheduled_at:
        post.scheduled_at = when
        for sched in session.scalars(
            select(Schedule).where(
                Schedule.post_id == post.id, Schedule.kind == ScheduleKind.SINGLE
            )
        ):
            sched.run_at = when
            sched.expanded_until = when
            sched.updated_at = now
        for job in jobs:
            # back to pending: a run requested for the old time must not take it early
            job.run_at = job.next_attempt_at = job.occurrence_at = when
            job.status = JobStatus.PENDING
            job.queued_at = None
            job.updated_at = now
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
    return post


def _assets(
    session: Session, workspace_id: str, media_ids: Sequence[str]
) -> tuple[list[MediaAsset], list[Problem]]:
    found = {
        m.id: m
        for m in session.scalars(
            select(MediaAsset).where(
                MediaAsset.id.in_(list(media_ids)),
                MediaAsset.workspace_id == workspace_id,
                MediaAsset.deleted_at.is_(None),
            )
        )
    }
    problems = [
        Problem(f"mediaIds[{i}]", f"unknown media {m!r}", m)
        for i, m in enumerate(media_ids)
        if m not in found
    ]
    if len(set(media_ids)) != len(media_ids):
        problems.append(Problem("mediaIds", "lists a media item more than once"))
    return [found[m] for m in media_ids if m in found], problems


def cancel_post(session: Session, post: Post, *, now: datetime, actor: str = "system") -> Post:
    """Cancel every job of the post not yet sent. Conflict while one is being sent, or when
    nothing is left to cancel."""
    jobs = post_jobs(session, post.id)
    running = [j for j in jobs if j.status == JobStatus.RUNNING]
    if running:
        raise Conflict(
            f"post {post.id} is being published right now (job {running[0].id}); try again shortly"
        )
    open_jobs = [
        j
        for j in jobs
        if j.status not in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
    ]
    if post.status in FINISHED_POST or (jobs and not open_jobs):
        raise Conflict(f"post {post.id} is {post.status}; there is nothing left to cancel")
    for job in open_jobs:
        job.status = JobStatus.CANCELED
        job.last_error = "canceled"
        job.completed_at = now
        job.updated_at = now
    for target in post.targets:
        if target.status == TargetStatus.SCHEDULED:
            target.status = TargetStatus.CANCELED
    # the post's schedule ends too: a canceled recurring post must not be expanded again
    for sched in session.scalars(select(Schedule).where(Schedule.post_id == post.id)):
        sched.status = ScheduleStatus.COMPLETED
        sched.updated_at = now
    settle_post_status(session, post)
    if not any(t.status == TargetStatus.PUBLISHED for t in post.targets):
        post.status = PostStatus.CANCELED
    post.updated_at = now
    record_event(
        session,
        EventType.POST_CANCELED,
        now=now,
        workspace_id=post.workspace_id,
        post_id=post.id,
        jobs=len(open_jobs),
    )
    audit(
        session,
        actor=actor,
        action="post.cancel",
        object_type="post",
        object_id=post.id,
        workspace_id=post.workspace_id,
        now=now,
        jobs=len(open_jobs),
    )
    return post


def retry_post(
    session: Session,
    post: Post,
    *,
    now: datetime,
    at: datetime | None = None,
    extra_attempts: int = 4,
    force: bool = False,
    actor: str = "system",
) -> list[PublishJob]:
    """Requeue the post's failed jobs; Conflict when none failed."""
    failed = [j for j in post_jobs(session, post.id) if j.status == JobStatus.FAILED]
    if not failed:
        raise Conflict(f"post {post.id} has no failed jobs to retry (status {post.status})")
    jobs = requeue_jobs(
        session, failed, now=now, at=at, extra_attempts=extra_attempts, force=force, actor=actor
    )
    post.updated_at = now
    audit(
        session,
        actor=actor,
        action="post.retry",
        object_type="post",
        object_id=post.id,
        workspace_id=post.workspace_id,
        now=now,
        jobs=len(jobs),
    )
    return jobs


def post_attempts(session: Session, post_id: str) -> list[tuple[PublishAttempt, PublishJob]]:
    """Every publish attempt of the post, oldest first, with its job."""
    return list(
        session.execute(
            select(PublishAttempt, PublishJob)
            .join(PublishJob, PublishJob.id == PublishAttempt.job_id)
            .where(PublishJob.post_id == post_id)
            .order_by(PublishAttempt.started_at, PublishAttempt.job_id, PublishAttempt.attempt_no)
        ).all()
    )
