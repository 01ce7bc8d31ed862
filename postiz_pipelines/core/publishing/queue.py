"""The durable publish queue, kept in the app database: the only writer of job state.

A job moves ``pending`` -> ``queued`` (a run was requested for it) -> ``running`` (claimed
under a lease) -> ``completed`` | ``retrying`` | ``failed`` | ``canceled``. A job whose account
needs reconnecting is ``held`` (from waiting, or from its claim untried) until the account is
reconnected; no claim ever takes a held job. Every change of a
job's status, lease or attempt count is one of the functions below, and no other module
assigns them (``postiz_pipelines_tests/test_single_writer.py`` reads the source to hold
that). Claims take a lease in one transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite. Every transition of a claimed job is fenced on the lease
owner (``owned``, the one owner check), so a worker whose lease was taken away cannot
overwrite what the new owner wrote. Transitions of jobs nobody holds (cancel, reschedule,
requeue, withdraw) are fenced on the status they start from, in the UPDATE itself, so a
claim that lands in between wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from postiz_pipelines.core.db import Database, insert_ignoring_conflicts, is_postgres
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    TERMINAL_JOB_STATES,
    JobStatus,
    PublishJob,
)
from postiz_pipelines.errors import Conflict, NotFound


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
    """A ``publish_jobs`` row as a dict, ready for ``enqueue``; ``occurrence_at`` (default
    ``run_at``) is the occurrence its idempotency key names."""
    occurrence = occurrence_at or run_at
    return {
        "id": new_id("job"),
        "workspace_id": workspace_id,
        "platform": platform,
        "post_id": post_id,
        "target_id": target_id,
        "account_id": account_id,
        "schedule_id": schedule_id,
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
    return cast(CursorResult[Any], result).rowcount or 0


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
        if is_postgres(session):
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


# -- jobs a lease holds: every transition fenced on the owner -----------------------------
def held_by(job_id: str, owner: str) -> Any:
    """The owner check as a condition: ``owner`` holds the job's lease (for a query that
    loads the job with its rows, or an UPDATE fenced on the lease)."""
    return and_(
        PublishJob.id == job_id,
        PublishJob.status == JobStatus.RUNNING,
        PublishJob.lease_owner == owner,
    )


def owned(session: Session, job_id: str, owner: str) -> PublishJob | None:
    """The job if ``owner`` holds its lease right now, else None: the one owner check."""
    return session.scalar(select(PublishJob).where(held_by(job_id, owner)))


def owned_jobs(session: Session, job_ids: Sequence[str], *, owner: str) -> list[PublishJob]:
    """Those of ``job_ids`` whose lease ``owner`` still holds."""
    if not job_ids:
        return []
    return list(
        session.scalars(
            select(PublishJob).where(
                PublishJob.id.in_(list(job_ids)),
                PublishJob.status == JobStatus.RUNNING,
                PublishJob.lease_owner == owner,
            )
        )
    )


def count_attempt(session: Session, job_id: str, *, owner: str, now: datetime) -> bool:
    """Count one publish attempt, written before the platform call, in one UPDATE fenced on
    the lease; False without the lease. A copy of the job loaded in ``session`` keeps its
    count (it is not written back)."""
    done = _fenced_update(session, job_id, owner, attempts=PublishJob.attempts + 1, updated_at=now)
    job = session.identity_map.get(session.identity_key(PublishJob, job_id))
    if done and job is not None:
        set_committed_value(job, "attempts", job.attempts + 1)
    return done


def _fenced_update(session: Session, job_id: str, owner: str | None, **values: Any) -> bool:
    """One UPDATE of the job, fenced on ``owner``'s lease (None: not fenced)."""
    where = held_by(job_id, owner) if owner is not None else PublishJob.id == job_id
    result = session.execute(
        update(PublishJob).where(where).values(**values),
        execution_options={"synchronize_session": False},
    )
    return cast(CursorResult[Any], result).rowcount == 1


def mark_completed(
    session: Session, job_id: str, *, owner: str | None, now: datetime, remote_id: str | None
) -> bool:
    """``complete`` in one UPDATE, without loading the job (the engine's outcome)."""
    return _fenced_update(
        session,
        job_id,
        owner,
        status=JobStatus.COMPLETED,
        remote_id=remote_id,
        completed_at=now,
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
        last_error_class=None,
        updated_at=now,
    )


def complete(
    session: Session, job_id: str, *, owner: str | None, now: datetime, remote_id: str | None
) -> PublishJob | None:
    """Mark the job published; None when ``owner`` no longer holds its lease.

    With ``owner=None`` the lease is not checked: the platform took the post, so it is
    recorded whatever state lease recovery left the job in.
    """
    job = owned(session, job_id, owner) if owner is not None else session.get(PublishJob, job_id)
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
    job = owned(session, job_id, owner)
    if job is None:
        return None
    _back_to_queue(job, now=now, at=now + delay)
    job.last_error = error
    job.last_error_class = error_class
    return job


def schedule_readback(
    session: Session,
    job_id: str,
    *,
    owner: str,
    now: datetime,
    delay: timedelta,
    error: str,
    error_class: str,
) -> PublishJob | None:
    """Close the job's publish budget (``max_attempts`` = attempts made) and put it back for
    one read-back alone after ``delay``: its outcome is unknown and it may publish no more."""
    job = schedule_retry(
        session, job_id, owner=owner, now=now, delay=delay, error=error, error_class=error_class
    )
    if job is not None:
        job.max_attempts = min(job.max_attempts, job.attempts)
    return job


def defer(
    session: Session,
    job_id: str,
    *,
    owner: str,
    now: datetime,
    until: datetime,
    reason: str,
    refund_attempt: bool = False,
) -> PublishJob | None:
    """Hand the job back untried until ``until`` (open breaker, platform throttle): no attempt
    spent. ``refund_attempt`` gives back one counted for a call that published nothing (a
    token that expired and could not be refreshed yet)."""
    job = owned(session, job_id, owner)
    if job is None:
        return None
    if refund_attempt and job.attempts > 0:
        job.attempts -= 1
    _back_to_queue(job, now=now, at=until)
    job.last_error = reason
    job.last_error_class = "deferred"
    return job


def defer_unsent(
    session: Session, job_id: str, *, owner: str, now: datetime, until: datetime, reason: str
) -> PublishJob | None:
    """Hand back a job whose attempt was counted but sent nothing (the platform's budget,
    read first, had no room): the attempt is given back and the job waits until ``until``."""
    job = owned(session, job_id, owner)
    if job is None:
        return None
    job.attempts = max(job.attempts - 1, 0)
    _back_to_queue(job, now=now, at=until)
    job.last_error = reason
    job.last_error_class = "deferred"
    return job


def _back_to_queue(job: PublishJob, *, now: datetime, at: datetime) -> None:
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
    job = owned(session, job_id, owner) if owner is not None else session.get(PublishJob, job_id)
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


def cancel_claimed(
    session: Session, job_id: str, *, owner: str, now: datetime, reason: str = "canceled"
) -> PublishJob | None:
    """Close a claimed job untried because its post or target was canceled meanwhile."""
    job = owned(session, job_id, owner)
    if job is None:
        return None
    job.status = JobStatus.CANCELED
    job.lease_owner = None
    job.lease_expires_at = None
    job.last_error = reason
    job.completed_at = now
    job.updated_at = now
    return job


def hold_claimed(
    session: Session,
    job_id: str,
    *,
    owner: str,
    now: datetime,
    reason: str,
    refund_attempt: bool = False,
) -> PublishJob | None:
    """Hold a claimed job untried because its account needs reconnecting. ``refund_attempt``
    gives back the attempt counted for a call the platform refused before doing anything."""
    job = owned(session, job_id, owner)
    if job is None:
        return None
    if refund_attempt and job.attempts > 0:
        job.attempts -= 1
    _hold(job, now=now, reason=reason)
    return job


def _hold(job: PublishJob, *, now: datetime, reason: str) -> None:
    job.status = JobStatus.HELD
    job.held_reason = reason[:40]
    job.held_at = now
    job.lease_owner = None
    job.lease_expires_at = None
    job.queued_at = None
    job.updated_at = now


def release(session: Session, job_ids: Sequence[str], *, owner: str, now: datetime) -> int:
    """Return unstarted claims to the queue, as if never claimed (graceful shutdown)."""
    n = 0
    for job_id in job_ids:
        job = owned(session, job_id, owner)
        if job is None:
            continue
        _back_to_queue(job, now=now, at=job.next_attempt_at)
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
    return cast(CursorResult[Any], result).rowcount or 0


# -- leases that ran out: recovery ---------------------------------------------------------
def expired_leases(session: Session, *, now: datetime, limit: int = 500) -> list[PublishJob]:
    """Running jobs whose lease ran out: their run or worker died."""
    q = (
        select(PublishJob)
        .where(PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at < now)
        .order_by(PublishJob.lease_expires_at)
        .limit(limit)
    )
    if is_postgres(session):
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def requeue_expired(session: Session, job: PublishJob, *, now: datetime) -> bool:
    """Return a job whose lease ran out (taken by ``expired_leases``) to the queue, due now."""
    expiry = job.lease_expires_at
    if job.status != JobStatus.RUNNING or expiry is None or expiry >= now:
        return False
    _back_to_queue(job, now=now, at=now)
    return True


# -- jobs nobody holds: fenced on the status they start from -------------------------------
def _waiting_update(session: Session, job_ids: Sequence[str], *where: Any, **values: Any) -> int:
    """UPDATE the jobs among ``job_ids`` that still match ``where``; returns how many."""
    if not job_ids:
        return 0
    result = session.execute(
        update(PublishJob)
        .where(PublishJob.id.in_(list(job_ids)), *where)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount or 0


def cancel(session: Session, job_id: str, *, now: datetime, reason: str = "canceled") -> PublishJob:
    """Cancel a job that has not started; a running or finished job is a Conflict."""
    job = session.get(PublishJob, job_id)
    if job is None:
        raise NotFound("job", job_id)
    if job.status == JobStatus.RUNNING:
        raise Conflict(f"job {job_id} is being published right now and cannot be canceled")
    if job.status in TERMINAL_JOB_STATES:
        raise Conflict(f"job {job_id} is already {job.status}")
    if not cancel_waiting(session, [job_id], now=now, reason=reason):
        raise Conflict(f"job {job_id} was claimed meanwhile and cannot be canceled")
    return job


def cancel_waiting(
    session: Session, job_ids: Sequence[str], *, now: datetime, reason: str = "canceled"
) -> int:
    """Cancel those of ``job_ids`` still waiting or held (never a claimed or finished one)."""
    return _waiting_update(
        session,
        job_ids,
        PublishJob.status.in_([*CLAIMABLE_JOB_STATES, JobStatus.HELD]),
        status=JobStatus.CANCELED,
        last_error=reason,
        completed_at=now,
        updated_at=now,
    )


def hold_waiting(session: Session, job_ids: Sequence[str], *, now: datetime, reason: str) -> int:
    """Hold those of ``job_ids`` still waiting (never a claimed or finished one): their account
    needs reconnecting. No attempt is spent."""
    return _waiting_update(
        session,
        job_ids,
        PublishJob.status.in_(CLAIMABLE_JOB_STATES),
        status=JobStatus.HELD,
        held_reason=reason[:40],
        held_at=now,
        queued_at=None,
        updated_at=now,
    )


def release_held(session: Session, job_ids: Sequence[str], *, now: datetime) -> int:
    """Return held jobs to waiting (``retrying`` once tried), due now or at their own later
    time; only jobs still held are touched."""
    return _waiting_update(
        session,
        job_ids,
        PublishJob.status == JobStatus.HELD,
        status=case(
            (PublishJob.attempts > 0, JobStatus.RETRYING.value), else_=JobStatus.PENDING.value
        ),
        next_attempt_at=case(
            (PublishJob.next_attempt_at < now, now), else_=PublishJob.next_attempt_at
        ),
        held_reason=None,
        held_at=None,
        updated_at=now,
    )


def fail_held(
    session: Session, job_ids: Sequence[str], *, now: datetime, error: str, error_class: str
) -> int:
    """Dead-letter held jobs (too late to publish once their account came back)."""
    return _waiting_update(
        session,
        job_ids,
        PublishJob.status == JobStatus.HELD,
        status=JobStatus.FAILED,
        last_error=error,
        last_error_class=error_class,
        completed_at=now,
        updated_at=now,
    )


def reschedule_unstarted(
    session: Session, job_ids: Sequence[str], *, now: datetime, run_at: datetime
) -> int:
    """Move waiting, never-tried jobs to ``run_at``, back to ``pending`` (a run requested for
    the old time must not take them early); a held one stays held, with its new time."""
    return _waiting_update(
        session,
        job_ids,
        PublishJob.status.in_([JobStatus.PENDING, JobStatus.QUEUED, JobStatus.HELD]),
        PublishJob.attempts == 0,
        status=case(
            (PublishJob.status == JobStatus.HELD.value, JobStatus.HELD.value),
            else_=JobStatus.PENDING.value,
        ),
        run_at=run_at,
        next_attempt_at=run_at,
        queued_at=None,
        updated_at=now,
    )


def withdraw_unstarted(session: Session, job_ids: Sequence[str]) -> int:
    """Delete waiting (or held), never-tried jobs (a paused or edited schedule's); returns how
    many."""
    if not job_ids:
        return 0
    result = session.execute(
        delete(PublishJob)
        .where(
            PublishJob.id.in_(list(job_ids)),
            PublishJob.status.in_([JobStatus.PENDING, JobStatus.QUEUED, JobStatus.HELD]),
            PublishJob.attempts == 0,
        )
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount or 0


def requeue_failed(
    session: Session, job: PublishJob, *, now: datetime, at: datetime, extra_attempts: int
) -> bool:
    """Give a dead-lettered job ``extra_attempts`` more publish attempts, due ``at``."""
    if job.status != JobStatus.FAILED:
        return False
    job.status = JobStatus.RETRYING if job.attempts else JobStatus.PENDING
    job.max_attempts = job.attempts + extra_attempts
    job.next_attempt_at = at
    job.queued_at = None
    job.completed_at = None
    job.lease_owner = None
    job.lease_expires_at = None
    job.updated_at = now
    return True


def cancel_failed(session: Session, job: PublishJob, *, now: datetime, reason: str) -> bool:
    """Close a dead-lettered job for good, keeping why it failed in its reason."""
    if job.status != JobStatus.FAILED:
        return False
    job.status = JobStatus.CANCELED
    job.last_error = f"{reason} (was: {job.last_error or job.last_error_class or 'failed'})"[:2000]
    job.updated_at = now
    return True


# -- reads ---------------------------------------------------------------------------------
def queue_counts(session: Session, *, workspace_id: str | None = None) -> dict[str, int]:
    """Jobs by status."""
    q = select(PublishJob.status, func.count()).group_by(PublishJob.status)
    if workspace_id is not None:
        q = q.where(PublishJob.workspace_id == workspace_id)
    counts = {s.value: 0 for s in JobStatus}
    counts.update({status: n for status, n in session.execute(q)})
    return counts


def merge_progress(
    session: Session, job_id: str, progress: Mapping[str, object], *, now: datetime
) -> None:
    """Merge what a platform call has reached (an upload session, a publish id) into the job;
    a key given as None is forgotten. Not fenced on the lease: it records a fact on the
    platform's side that the job's next owner needs, whoever wrote it."""
    job = session.get(PublishJob, job_id)
    if job is not None:
        merged = {**(job.progress or {}), **progress}
        job.progress = {k: v for k, v in merged.items() if v is not None}
        job.updated_at = now
