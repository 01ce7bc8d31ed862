"""Recovering jobs whose lease expired: their run or worker died.

The last attempt tells what happened. No attempt ``sending``: the process died before or
after a recorded outcome, so the job simply returns to the queue. An attempt left
``sending`` has an unknown outcome: it is marked ``uncertain``, and the read-back rule
(``readback.py``) takes over on the job's next attempt: ``lookup`` platforms look before
they publish again, a native or record key makes the retry safe, and where neither exists
(X, LinkedIn, Telegram, Slack) the job fails as ``uncertain_outcome``, its reason saying the
post may be live, so a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import AttemptOutcome, PublishAttempt
from postiz_pipelines.core.publishing import queue, readback
from postiz_pipelines.core.publishing.outcomes import dead_letter
from postiz_pipelines.providers.base import IdempotencyMode
from postiz_pipelines.providers.registry import provider_class


@dataclass(frozen=True)
class RecoveryReport:
    requeued: int = 0
    failed_uncertain: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"requeued": self.requeued, "failed_uncertain": self.failed_uncertain}


def recover_expired_leases(db: Database, *, now: datetime, limit: int = 500) -> RecoveryReport:
    """Return every job whose lease ran out to the queue, or dead-letter it as uncertain where
    its platform can neither read back nor deduplicate."""
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
            resolution = "requeued"
            if last is not None and last.outcome == AttemptOutcome.SENDING:
                last.outcome = AttemptOutcome.UNCERTAIN
                last.finished_at = now
                last.error_class = "lease_expired"
                last.error_message = f"lease of {dead_owner} expired while sending"
                provider = provider_class(job.platform)
                mode = readback.effective_mode(provider.capabilities.idempotency, job.progress)
                resolution = f"retry_{mode.value}"
                if mode == IdempotencyMode.NONE and not provider.reads_back():
                    detail = (
                        f"the process publishing it died mid-call, and {job.platform} offers "
                        "no way to check whether it was published, so a person must decide"
                    )
                    verdict = readback.Verdict(
                        readback.Action.FAIL,
                        readback.UNCERTAIN_OUTCOME,
                        readback.may_be_live(job.platform, detail),
                    )
                    dead_letter(s, job, verdict, now=now, owner=None)
                    failed += 1
                    resolution = "failed_uncertain"
            if resolution != "failed_uncertain":
                queue.requeue_expired(s, job, now=now)
                requeued += 1
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
