"""Operations on stored posts: read, page through, edit or reschedule before publishing
(``edit.py``), cancel, retry failures, and the history of publish attempts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    JobStatus,
    Post,
    PostStatus,
    PostTarget,
    PublishAttempt,
    PublishJob,
    Schedule,
    ScheduleStatus,
    TargetStatus,
)
from postiz_pipelines.core.posts.edit import FINISHED_POST, post_jobs, update_post
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.deadletter import decode_cursor, encode_cursor, requeue_jobs
from postiz_pipelines.core.publishing.post_status import settle_post_status
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed

__all__ = [
    "PostPage",
    "cancel_post",
    "get_post",
    "list_posts_page",
    "post_attempts",
    "post_jobs",
    "retry_post",
    "update_post",
]


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
    if queue.cancel_waiting(session, [j.id for j in open_jobs], now=now) != len(open_jobs):
        raise Conflict(f"post {post.id} started publishing meanwhile; try again shortly")
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
