"""Recovering jobs whose lease expired: their run or worker died.

The last attempt tells what happened. No attempt ``sending``: the process died before or
after a recorded outcome, so the job simply returns to the queue. An attempt left
``sending`` has an uncertain outcome, resolved by the platform's idempotency mode:
``native_key`` and ``deterministic_id`` retry with the same key (the platform deduplicates),
``lookup`` retries after a read-only check of recent posts, ``stored_id`` resumes by the
platform id the try saved (and is ``none`` when it saved none), ``none`` fails the job with
reason ``uncertain_outcome`` so a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AttemptOutcome,
    PostTarget,
    PublishAttempt,
    TargetStatus,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.outcomes import unresolvable
from postiz_pipelines.providers.registry import provider_class


@dataclass(frozen=True)
class RecoveryReport:
    requeued: int = 0
    failed_uncertain: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"requeued": self.requeued, "failed_uncertain": self.failed_uncertain}


def recover_expired_leases(db: Database, *, now: datetime, limit: int = 500) -> RecoveryReport:
    requeued = failed = 0
    with db.session() as s:
        for job in queue.expired_leases(s, now=now, limit=limit):
            last = s.scalar(
                select(PublishAttempt)
                .where(PublishAttempt.job_id == job.id)
                .order_by(PublishAttempt.attempt_no.desc())
                .limit(1)
            )
            dead_owner = job.lease_owner
            if last is None or last.outcome != AttemptOutcome.SENDING:
                queue.back_to_queue(job, now=now, at=now)
                requeued += 1
                record_event(
                    s,
                    EventType.JOB_RECOVERED,
                    now=now,
                    workspace_id=job.workspace_id,
                    platform=job.platform,
                    job_id=job.id,
                    post_id=job.post_id,
                    resolution="requeued",
                    owner=dead_owner,
                )
                continue
            last.outcome = AttemptOutcome.UNCERTAIN
            last.finished_at = now
            last.error_class = "lease_expired"
            last.error_message = f"lease of {dead_owner} expired while sending"
            mode = provider_class(job.platform).capabilities.idempotency
            if unresolvable(mode, job):
                queue.fail(
                    s,
                    job.id,
                    owner=None,
                    now=now,
                    error_class="uncertain_outcome",
                    error=(
                        f"the process publishing this post died mid-call; {job.platform} "
                        "offers no way to check whether it was published, so a person must decide"
                    ),
                )
                target = s.get(PostTarget, job.target_id)
                if target is not None:
                    target.status = TargetStatus.FAILED
                failed += 1
                resolution = "failed_uncertain"
            else:
                queue.back_to_queue(job, now=now, at=now)
                requeued += 1
                resolution = f"retry_{mode.value}"
            record_event(
                s,
                EventType.JOB_RECOVERED,
                now=now,
                workspace_id=job.workspace_id,
                platform=job.platform,
                job_id=job.id,
                post_id=job.post_id,
                resolution=resolution,
                owner=dead_owner,
            )
    return RecoveryReport(requeued, failed)
