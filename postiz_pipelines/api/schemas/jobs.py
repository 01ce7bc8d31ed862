"""Publish jobs and their attempts: the dead-letter queue, retries and reschedules."""

from __future__ import annotations

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In, Instant, Out, iso
from postiz_pipelines.core.models import PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.deadletter import may_be_live


class RetryIn(In):
    at: Instant | None = Field(default=None, description="ISO 8601; omit for now")
    force: bool = Field(
        default=False, description="requeue jobs whose outcome is uncertain (you checked)"
    )


class RescheduleIn(In):
    at: Instant
    force: bool = False


class JobOut(Out):
    id: Id
    post_id: Id
    workspace_id: Id
    account_id: Id
    platform: str
    status: str
    attempts: int
    max_attempts: int
    run_at: str
    next_attempt_at: str
    last_error: str | None
    last_error_class: str | None
    may_be_live: bool = Field(
        description="a dead-lettered job whose post is or may be on the platform: check it "
        "before requeueing (force=true) or canceling"
    )
    remote_id: str | None
    completed_at: str | None
    held_reason: str | None = Field(
        default=None, description="why the job is held (status held): its account to reconnect"
    )
    held_at: str | None = None

    @classmethod
    def of(cls, j: PublishJob) -> JobOut:
        return cls(
            id=j.id,
            post_id=j.post_id,
            workspace_id=j.workspace_id,
            account_id=j.account_id,
            platform=j.platform,
            status=j.status,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            run_at=j.run_at.isoformat(),
            next_attempt_at=j.next_attempt_at.isoformat(),
            last_error=j.last_error,
            last_error_class=j.last_error_class,
            may_be_live=may_be_live(j),
            remote_id=j.remote_id,
            completed_at=iso(j.completed_at),
            held_reason=j.held_reason,
            held_at=iso(j.held_at),
        )


class JobList(Out):
    jobs: list[JobOut]
    next_cursor: str | None


class AttemptOut(Out):
    job_id: Id
    account_id: Id
    platform: str
    attempt_no: int
    outcome: str
    started_at: str
    finished_at: str | None
    http_status: int | None
    error_class: str | None
    error_code: str | None
    error_message: str | None
    remote_id: str | None
    remote_url: str | None
    duration_ms: int | None
    readback: str | None = Field(
        description="what a read-back made before publishing learnt: absent, found or failed"
    )

    @classmethod
    def of(cls, a: PublishAttempt, j: PublishJob) -> AttemptOut:
        return cls(
            job_id=j.id,
            account_id=j.account_id,
            platform=j.platform,
            attempt_no=a.attempt_no,
            outcome=a.outcome,
            started_at=a.started_at.isoformat(),
            finished_at=iso(a.finished_at),
            http_status=a.http_status,
            error_class=a.error_class,
            error_code=a.error_code,
            error_message=a.error_message,
            remote_id=a.remote_id,
            remote_url=a.remote_url,
            duration_ms=a.duration_ms,
            readback=a.readback,
        )


class AttemptList(Out):
    attempts: list[AttemptOut]
