"""The durable publish queue, kept in the app database.

A job moves ``pending`` -> ``queued`` (a run was requested for it) -> ``running`` (claimed
under a lease) -> ``completed`` | ``retrying`` | ``failed`` | ``canceled``. Claims take a
lease in one transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite. Every transition out of ``running`` is fenced on the lease owner, so a worker
whose lease was taken away cannot overwrite what the new owner wrote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import Database, insert_ignoring_conflicts
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    TERMINAL_JOB_STATES,
    JobStatus,
    PublishJob,
    Workspace,
)
from postiz_pipelines.errors import Conflict, NotFound

QUEUED_TIMEOUT = timedelta(minutes=2)  # a requested run that never claimed: ask again


@dataclass(frozen=True)
class DueGroup:
    """The due jobs of one (workspace, platform) partition."""

    workspace_id: str
    workspace_slug: str
    platform: str
    job_ids: tuple[str, ...]
    batch_key: str  # stable for the same jobs at the same attempt counts


def job_idempotency_key(source_id: str, occurrence_at: datetime, account_id: str) -> str:
    """One key per schedule (or post) x occurrence x account; expansion relies on it."""
    return f"{source_id}:{occurrence_at.strftime('%Y%m%dT%H%M%SZ')}:{account_id}"


def new_job_row(
    *,
    workspace_id: str,
    platform: str,
    post_id: str,
    target_id: str,
    account_id: str,
    run_at: datetime,
    occurrence_at: datetime | None = None,
    schedule_id: str | None = None,
    priority: int = 0,
    max_attempts: int = 4,
    now: datetime,
) -> dict[str, Any]:
    """A ``publish_jobs`` row as a dict, ready for ``enqueue``."""
    occurrence = occurrence_at or run_at
    return {
        "id": new_id("job"),
        "workspace_id": workspace_id,
        "platform": platform,
        "post_id": post_id,
        "target_id": target_id,
        "account_id": account_id,
        "schedule_id": schedule_id,
        "occurrence_at": occurrence,
        "run_at": run_at,
        "next_attempt_at": run_at,
        "status": JobStatus.PENDING.value,
        "priority": priority,
        "attempts": 0,
        "max_attempts": max_attempts,
        "idempotency_key": job_idempotency_key(schedule_id or post_id, occurrence, account_id),
        "created_at": now,
        "updated_at": now,
    }


def enqueue(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert job rows, skipping any whose idempotency key exists; returns how many were new."""
    return insert_ignoring_conflicts(session, PublishJob, list(rows), on=["idempotency_key"])


def _claimable(now: datetime, horizon: datetime) -> Any:
    """Jobs a run may take: due by ``horizon``, or queued so long ago the run must have died."""
    return or_(
        and_(
            PublishJob.status.in_([JobStatus.PENDING, JobStatus.RETRYING]),
            PublishJob.next_attempt_at <= horizon,
        ),
        and_(
            PublishJob.status == JobStatus.QUEUED,
            PublishJob.next_attempt_at <= horizon,
        ),
    )


def due_groups(
    session: Session, *, now: datetime, lookahead: timedelta, platforms: Iterable[str] | None = None
) -> list[DueGroup]:
    """Partitions that have jobs due by ``now + lookahead`` and no run requested for them yet.

    A job already ``queued`` counts again only after ``QUEUED_TIMEOUT`` (its run never came).
    """
    horizon = now + lookahead
    stale = now - QUEUED_TIMEOUT
    q = (
        select(
            PublishJob.workspace_id,
            Workspace.slug,
            PublishJob.platform,
            PublishJob.id,
            PublishJob.attempts,
            PublishJob.queued_at,
        )
        .join(Workspace, Workspace.id == PublishJob.workspace_id)
        .where(
            PublishJob.next_attempt_at <= horizon,
            or_(
                PublishJob.status.in_([JobStatus.PENDING, JobStatus.RETRYING]),
                and_(PublishJob.status == JobStatus.QUEUED, PublishJob.queued_at <= stale),
            ),
        )
        .order_by(PublishJob.workspace_id, PublishJob.platform, PublishJob.id)
    )
    if platforms is not None:
        q = q.where(PublishJob.platform.in_(list(platforms)))
    groups: dict[tuple[str, str, str], list[tuple[str, int, Any]]] = {}
    for ws_id, slug, platform, job_id, attempts, queued_at in session.execute(q):
        groups.setdefault((ws_id, slug, platform), []).append((job_id, attempts, queued_at))
    out = []
    for (ws_id, slug, platform), jobs in groups.items():
        # queued_at is in the key so that a batch re-requested after its run never came
        # gets a new run key (Dagster would skip a repeated one).
        material = "|".join(f"{j}:{a}:{q.isoformat() if q else ''}" for j, a, q in jobs)
        digest = hashlib.sha256(material.encode()).hexdigest()[:16]
        out.append(DueGroup(ws_id, slug, platform, tuple(j for j, _, _ in jobs), digest))
    return out


def mark_queued(session: Session, job_ids: Sequence[str], *, now: datetime) -> int:
    """Record that a run was requested for these jobs (only those still waiting)."""
    if not job_ids:
        return 0
    result = session.execute(
        update(PublishJob)
        .where(PublishJob.id.in_(list(job_ids)), PublishJob.status.in_(CLAIMABLE_JOB_STATES))
        .values(status=JobStatus.QUEUED, queued_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def claim_due_jobs(
    db: Database,
    *,
    owner: str,
    now: datetime,
    workspace_id: str | None = None,
    platform: str | None = None,
    lookahead: timedelta = timedelta(0),
    lease: timedelta = timedelta(minutes=5),
    limit: int = 100,
    exclude_platforms: Iterable[str] = (),
) -> list[PublishJob]:
    """Claim up to ``limit`` due jobs under a lease held by ``owner``; safe under concurrency.

    Higher priority first, then the earliest due. Returns detached job rows.
    """
    horizon = now + lookahead
    with db.session() as session:
        q = (
            select(PublishJob.id)
            .where(_claimable(now, horizon))
            .order_by(PublishJob.priority.desc(), PublishJob.next_attempt_at, PublishJob.id)
            .limit(limit)
        )
        if workspace_id is not None:
            q = q.where(PublishJob.workspace_id == workspace_id)
        if platform is not None:
            q = q.where(PublishJob.platform == platform)
        excluded = list(exclude_platforms)
        if excluded:
            q = q.where(PublishJob.platform.not_in(excluded))
        if db.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = list(session.scalars(q))
        if not ids:
            return []
        session.execute(
            update(PublishJob)
            .where(PublishJob.id.in_(ids))
            .values(
                status=JobStatus.RUNNING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        jobs = list(
            session.scalars(
                select(PublishJob)
                .where(PublishJob.id.in_(ids))
                .order_by(PublishJob.priority.desc(), PublishJob.next_attempt_at, PublishJob.id)
            )
        )
        session.expunge_all()
        return jobs


def _owned(session: Session, job_id: str, owner: str) -> PublishJob | None:
    return session.scalar(
        select(PublishJob).where(
            PublishJob.id == job_id,
            PublishJob.status == JobStatus.RUNNING,
            PublishJob.lease_owner == owner,
        )
    )


def complete(
    session: Session, job_id: str, *, owner: str, now: datetime, remote_id: str | None
) -> PublishJob | None:
    """Mark the job published; None when ``owner`` no longer holds its lease."""
    job = _owned(session, job_id, owner)
    if job is None:
        return None
    job.status = JobStatus.COMPLETED
    job.remote_id = remote_id
    job.completed_at = now
    job.lease_owner = None
    job.lease_expires_at = None
    job.last_error = None
    job.last_error_class = None
    job.updated_at = now
    return job


def schedule_retry(
    session: Session,
    job_id: str,
    *,
    owner: str,
    now: datetime,
    delay: timedelta,
    error: str,
    error_class: str,
) -> PublishJob | None:
    """Put the job back for another try after ``delay`` (the failed try stays counted)."""
    job = _owned(session, job_id, owner)
    if job is None:
        return None
    back_to_queue(job, now=now, at=now + delay)
    job.last_error = error
    job.last_error_class = error_class
    return job


def defer(
    session: Session, job_id: str, *, owner: str, now: datetime, until: datetime, reason: str
) -> PublishJob | None:
    """Hand the job back untried until ``until`` (open breaker, platform throttle): no attempt
    spent."""
    job = _owned(session, job_id, owner)
    if job is None:
        return None
    back_to_queue(job, now=now, at=until)
    job.last_error = reason
    job.last_error_class = "deferred"
    return job


def back_to_queue(job: PublishJob, *, now: datetime, at: datetime) -> None:
    """Return a job to waiting (``retrying`` once tried), due at ``at``, lease dropped."""
    job.status = JobStatus.RETRYING if job.attempts > 0 else JobStatus.PENDING
    job.next_attempt_at = at
    job.lease_owner = None
    job.lease_expires_at = None
    job.queued_at = None
    job.updated_at = now


def fail(
    session: Session, job_id: str, *, owner: str | None, now: datetime, error: str, error_class: str
) -> PublishJob | None:
    """Dead-letter the job. With ``owner=None`` the lease is not checked (recovery)."""
    job = _owned(session, job_id, owner) if owner is not None else session.get(PublishJob, job_id)
    if job is None or job.status in TERMINAL_JOB_STATES:
        return None
    job.status = JobStatus.FAILED
    job.lease_owner = None
    job.lease_expires_at = None
    job.last_error = error
    job.last_error_class = error_class
    job.completed_at = now
    job.updated_at = now
    return job


def release(session: Session, job_ids: Sequence[str], *, owner: str, now: datetime) -> int:
    """Return unstarted claims to the queue, as if never claimed (graceful shutdown)."""
    n = 0
    for job_id in job_ids:
        job = _owned(session, job_id, owner)
        if job is None:
            continue
        back_to_queue(job, now=now, at=job.next_attempt_at)
        n += 1
    return n


def renew_leases(
    session: Session, job_ids: Sequence[str], *, owner: str, now: datetime, lease: timedelta
) -> int:
    """Extend the leases ``owner`` still holds; returns how many were extended."""
    if not job_ids:
        return 0
    result = session.execute(
        update(PublishJob)
        .where(
            PublishJob.id.in_(list(job_ids)),
            PublishJob.status == JobStatus.RUNNING,
            PublishJob.lease_owner == owner,
        )
        .values(lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def cancel(session: Session, job_id: str, *, now: datetime, reason: str = "canceled") -> PublishJob:
    """Cancel a job that has not started; a running or finished job is a Conflict."""
    job = session.get(PublishJob, job_id)
    if job is None:
        raise NotFound("job", job_id)
    if job.status == JobStatus.RUNNING:
        raise Conflict(f"job {job_id} is being published right now and cannot be canceled")
    if job.status in TERMINAL_JOB_STATES:
        raise Conflict(f"job {job_id} is already {job.status}")
    job.status = JobStatus.CANCELED
    job.last_error = reason
    job.completed_at = now
    job.updated_at = now
    return job


def expired_leases(session: Session, *, now: datetime, limit: int = 500) -> list[PublishJob]:
    """Running jobs whose lease ran out: their run or worker died."""
    q = (
        select(PublishJob)
        .where(PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at < now)
        .order_by(PublishJob.lease_expires_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def queue_counts(session: Session, *, workspace_id: str | None = None) -> dict[str, int]:
    """Jobs by status."""
    q = select(PublishJob.status, func.count()).group_by(PublishJob.status)
    if workspace_id is not None:
        q = q.where(PublishJob.workspace_id == workspace_id)
    counts = {s.value: 0 for s in JobStatus}
    counts.update({status: n for status, n in session.execute(q)})
    return counts
