"""Queue health: the backlog by state and age, the processing rate, the oldest waiting job.

``queue_summary`` is what ``/api/postiz/worker/stats`` shows as ``queue`` and what the
``queue_health`` asset records; ``queue_backlog`` is the asset's table; ``overdue_jobs``
feeds the ``no_overdue_jobs`` check and the backlog alert. Each is one grouped query over
an indexed column, so it stays cheap on a large queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import CLAIMABLE_JOB_STATES, JobStatus, PublishJob
from postiz_pipelines.core.publishing.queue import queue_counts

if TYPE_CHECKING:
    import pandas as pd

OVERDUE_AFTER = timedelta(minutes=5)  # the stats' "overdue" figure
RATE_WINDOW = timedelta(hours=1)
# (label, waiting for at least this long); the first matching from the top wins
AGE_BUCKETS: list[tuple[str, timedelta]] = [
    ("over 6 h", timedelta(hours=6)),
    ("1-6 h", timedelta(hours=1)),
    ("15-60 min", timedelta(minutes=15)),
    ("5-15 min", timedelta(minutes=5)),
    ("0-5 min", timedelta(0)),
]
NOT_DUE = "not due yet"
BACKLOG_COLUMNS = ["status", "age", "jobs", "oldest_due_at"]


def _waiting() -> Any:
    return PublishJob.status.in_(CLAIMABLE_JOB_STATES)


def queue_backlog(session: Session, *, now: datetime) -> pd.DataFrame:
    """Waiting and running jobs by status and how long they have been due (``not due yet``
    for those whose time has not come); running jobs are aged by their lease expiry."""
    import pandas as pd

    moment = case(
        (PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at),
        else_=PublishJob.next_attempt_at,
    )
    whens = [(moment > now, literal(NOT_DUE))]
    whens += [(moment <= now - age, literal(label)) for label, age in AGE_BUCKETS]
    bucket = case(*whens, else_=literal(NOT_DUE)).label("age")
    rows = session.execute(
        select(PublishJob.status, bucket, func.count(), func.min(moment))
        .where(_waiting() | (PublishJob.status == JobStatus.RUNNING))
        .group_by(PublishJob.status, bucket)
    ).all()
    order = {label: i for i, label in enumerate([NOT_DUE, *reversed([b for b, _ in AGE_BUCKETS])])}
    df = pd.DataFrame(
        [
            {"status": st, "age": age, "jobs": int(n), "oldest_due_at": first}
            for st, age, n, first in rows
        ],
        columns=BACKLOG_COLUMNS,
    )
    if df.empty:
        return df
    df["_order"] = df["age"].map(order)
    return df.sort_values(["status", "_order"]).drop(columns="_order").reset_index(drop=True)


def queue_summary(session: Session, *, now: datetime) -> dict[str, Any]:
    """The queue now: jobs by status, due now, overdue (5 min), oldest due, expired leases,
    jobs finished in the last hour and that rate per minute, the oldest waiting job's age."""
    due, oldest = session.execute(
        select(func.count(), func.min(PublishJob.next_attempt_at)).where(
            _waiting(), PublishJob.next_attempt_at <= now
        )
    ).one()
    overdue = session.scalar(
        select(func.count()).where(_waiting(), PublishJob.next_attempt_at <= now - OVERDUE_AFTER)
    )
    expired = session.scalar(
        select(func.count()).where(
            PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at < now
        )
    )
    finished = session.scalar(
        select(func.count()).where(
            PublishJob.status.in_([JobStatus.COMPLETED, JobStatus.FAILED]),
            PublishJob.completed_at > now - RATE_WINDOW,
            PublishJob.completed_at <= now,
        )
    )
    minutes = RATE_WINDOW.total_seconds() / 60
    return {
        "byStatus": queue_counts(session),
        "dueNow": due or 0,
        "overdue": overdue or 0,
        "oldestDueAt": oldest.isoformat() if oldest else None,
        "oldestWaitingSeconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        "expiredLeases": expired or 0,
        "finishedLastHour": finished or 0,
        "processingRatePerMinute": round((finished or 0) / minutes, 3),
    }


def overdue_jobs(session: Session, *, now: datetime, bound: timedelta) -> list[PublishJob]:
    """Jobs past due beyond ``bound`` that are not finished: waiting too long, or running
    on a lease that expired (DESIGN: every job is terminal or visibly overdue)."""
    late = now - bound
    return list(
        session.scalars(
            select(PublishJob)
            .where(
                (_waiting() & (PublishJob.next_attempt_at < late))
                | ((PublishJob.status == JobStatus.RUNNING) & (PublishJob.lease_expires_at < late))
            )
            .order_by(PublishJob.next_attempt_at)
            .limit(1000)
        )
    )


def overdue_rows(jobs: list[PublishJob], *, now: datetime) -> list[dict[str, Any]]:
    """The overdue jobs as table rows: id, workspace, platform, status, due at, minutes late."""
    rows = []
    for j in jobs:
        due = j.lease_expires_at if j.status == JobStatus.RUNNING else j.next_attempt_at
        rows.append(
            {
                "job_id": j.id,
                "workspace_id": j.workspace_id,
                "platform": j.platform,
                "status": j.status,
                "due_at": due,
                "minutes_late": round((now - due).total_seconds() / 60, 1) if due else None,
                "last_error": (j.last_error or None) and j.last_error[:120],
            }
        )
    return rows
