"""The dead-letter queue: failed jobs a person looks at, then requeues, reschedules or cancels.

A job that failed with ``uncertain_outcome`` may already be live on the platform (its reason
says so, and ``may_be_live`` tells it apart); requeueing it needs ``force`` (the person checked
the account). Even then the engine reads back before it publishes where the platform allows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import not_in_the_past
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    JobStatus,
    Post,
    PostTarget,
    PublishJob,
    TargetStatus,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.post_status import settle_post_status
from postiz_pipelines.core.publishing.readback import UNCERTAIN_OUTCOME
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed


@dataclass(frozen=True)
class JobPage:
    jobs: list[PublishJob]
    next_cursor: str | None


def encode_cursor(*values: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int, field: str = "cursor") -> list[str | None]:
    """The values packed by ``encode_cursor``; ValidationFailed naming ``field`` if mangled."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != parts
        or not all(v is None or isinstance(v, str) for v in values)
    ):
        raise ValidationFailed(Problem(field, "is not a cursor this API returned", cursor[:100]))
    return values


def get_job(
    session: Session, job_id: str, *, workspace_ids: Iterable[str] | None = None
) -> PublishJob:
    """A job; outside ``workspace_ids`` it does not exist."""
    job = session.get(PublishJob, job_id)
    if job is None or (workspace_ids is not None and job.workspace_id not in set(workspace_ids)):
        raise NotFound("job", job_id)
    return job


def may_be_live(job: PublishJob) -> bool:
    """Whether a dead-lettered job's post is, or may be, on the platform (a person checks)."""
    return job.status == JobStatus.FAILED and job.last_error_class in (
        UNCERTAIN_OUTCOME,
        "partially_published",
    )


def list_dead_letter(
    session: Session, *, workspace_ids: Sequence[str], limit: int = 50, cursor: str | None = None
) -> JobPage:
    """Failed jobs of these workspaces, the latest failure first (keyset on completed_at, id)."""
    q = (
        select(PublishJob)
        .where(
            PublishJob.workspace_id.in_(list(workspace_ids)), PublishJob.status == JobStatus.FAILED
        )
        .order_by(PublishJob.completed_at.desc(), PublishJob.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        at, job_id = decode_cursor(cursor, 2)
        try:
            when = datetime.fromisoformat(at or "")
        except ValueError:
            raise ValidationFailed(
                Problem("cursor", "is not a cursor this API returned", cursor[:100])
            ) from None
        q = q.where(
            (PublishJob.completed_at < when)
            | ((PublishJob.completed_at == when) & (PublishJob.id < (job_id or "")))
        )
    jobs = list(session.scalars(q))
    more = len(jobs) > limit
    jobs = jobs[:limit]
    nxt = None
    if more and jobs and jobs[-1].completed_at is not None:
        nxt = encode_cursor(jobs[-1].completed_at.isoformat(), jobs[-1].id)
    return JobPage(jobs, nxt)


def requeue_jobs(
    session: Session,
    jobs: Sequence[PublishJob],
    *,
    now: datetime,
    at: datetime | None = None,
    extra_attempts: int = 4,
    force: bool = False,
    actor: str = "system",
) -> list[PublishJob]:
    """Put failed jobs back in the queue, due ``at`` (default now), with a fresh attempt budget."""
    when, problems = not_in_the_past(at or now, now=now, field="at")
    if problems:
        raise ValidationFailed(problems)
    assert when is not None
    for job in jobs:
        if job.status != JobStatus.FAILED:
            raise Conflict(f"job {job.id} is {job.status}; only failed jobs can be requeued")
        if job.last_error_class == UNCERTAIN_OUTCOME and not force:
            raise Conflict(
                f"job {job.id} may already be published (uncertain outcome); check the account, "
                "then requeue with force=true"
            )
    for job in jobs:
        queue.requeue_failed(session, job, now=now, at=when, extra_attempts=extra_attempts)
        target = session.get(PostTarget, job.target_id)
        if target is not None and target.status != TargetStatus.PUBLISHED:
            target.status = TargetStatus.SCHEDULED
        audit(
            session,
            actor=actor,
            action="job.requeue",
            object_type="publish_job",
            object_id=job.id,
            workspace_id=job.workspace_id,
            now=now,
            at=when.isoformat(),
            forced=force,
        )
    for post_id in {j.post_id for j in jobs}:
        post = session.get(Post, post_id)
        if post is not None:
            settle_post_status(session, post)
    return list(jobs)


def cancel_failed_job(
    session: Session,
    job: PublishJob,
    *,
    now: datetime,
    actor: str = "system",
    reason: str = "canceled",
) -> PublishJob:
    """Close a dead-lettered job for good: nobody will retry it."""
    if job.status != JobStatus.FAILED:
        raise Conflict(
            f"job {job.id} is {job.status}; only failed jobs are in the dead-letter queue"
        )
    queue.cancel_failed(session, job, now=now, reason=reason)
    target = session.get(PostTarget, job.target_id)
    if target is not None and target.status != TargetStatus.PUBLISHED:
        target.status = TargetStatus.CANCELED
    post = session.get(Post, job.post_id)
    if post is not None:
        settle_post_status(session, post)
    record_event(
        session,
        EventType.POST_CANCELED,
        now=now,
        workspace_id=job.workspace_id,
        platform=job.platform,
        account_id=job.account_id,
        post_id=job.post_id,
        job_id=job.id,
        reason=reason,
    )
    audit(
        session,
        actor=actor,
        action="job.cancel",
        object_type="publish_job",
        object_id=job.id,
        workspace_id=job.workspace_id,
        now=now,
    )
    return job


def record_publish_failed(
    session: Session,
    job: PublishJob,
    *,
    now: datetime,
    actor: str,
    error_class: str,
    error: str,
    **details: object,
) -> None:
    """The ``post_publish_failed`` event and the audit row of a job that entered this queue
    (every path that dead-letters a job writes them here, in its own transaction)."""
    record_event(
        session,
        EventType.POST_PUBLISH_FAILED,
        now=now,
        workspace_id=job.workspace_id,
        platform=job.platform,
        account_id=job.account_id,
        post_id=job.post_id,
        job_id=job.id,
        error_class=error_class,
        error=error[:500],
        **details,
    )
    audit(
        session,
        actor=actor,
        action="post.publish_failed",
        object_type="publish_job",
        object_id=job.id,
        workspace_id=job.workspace_id,
        now=now,
        error_class=error_class,
    )


def dead_letter_held(
    session: Session, jobs: Sequence[PublishJob], *, now: datetime, error_class: str, error: str
) -> list[PublishJob]:
    """Dead-letter held jobs nobody holds (too late to publish once their account is back):
    they land in this queue, where a person requeues or reschedules them. Returns those that
    were still held."""
    failed = []
    for job in jobs:
        if not queue.fail_held(session, [job.id], now=now, error=error, error_class=error_class):
            continue
        failed.append(job)
        target = session.get(PostTarget, job.target_id)
        if target is not None and target.status != TargetStatus.PUBLISHED:
            target.status = TargetStatus.FAILED
        record_publish_failed(
            session, job, now=now, actor="system", error_class=error_class, error=error
        )
    for post_id in {j.post_id for j in failed}:
        post = session.get(Post, post_id)
        if post is not None:
            settle_post_status(session, post)
    return failed
