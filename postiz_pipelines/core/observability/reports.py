"""Analytics reports and health figures, as pandas frames (the Dagster assets' contents).

Built from ``analytics_events`` (written with every state change) and the job rows.
pandas is imported here, not on the publish path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import AnalyticsEvent, JobStatus, PublishJob, SocialAccount

if TYPE_CHECKING:
    import pandas as pd

REPORT_COLUMNS = [
    "day",
    "workspace_id",
    "platform",
    "published",
    "failed",
    "retries",
    "latency_p50_s",
    "latency_p95_s",
]


def daily_publishing_report(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Per day, workspace and platform: posts published and failed, retries, publish latency
    (seconds from the scheduled time to the platform's acceptance)."""
    import pandas as pd

    rows = session.execute(
        select(
            AnalyticsEvent.occurred_at,
            AnalyticsEvent.workspace_id,
            AnalyticsEvent.platform,
            AnalyticsEvent.event_type,
            AnalyticsEvent.data,
        ).where(
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.occurred_at < until,
            AnalyticsEvent.event_type.in_(
                ["post_published", "post_publish_failed", "post_publish_retrying"]
            ),
        )
    ).all()
    if not rows:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    df = pd.DataFrame(rows, columns=["at", "workspace_id", "platform", "event", "data"])
    df["day"] = pd.to_datetime(df["at"], utc=True).dt.strftime("%Y-%m-%d")
    df["latency"] = [d.get("latency_s") if isinstance(d, dict) else None for d in df["data"]]
    keys = ["day", "workspace_id", "platform"]
    grouped = df.groupby(keys)
    out = pd.DataFrame(
        {
            "published": grouped["event"].apply(lambda e: int((e == "post_published").sum())),
            "failed": grouped["event"].apply(lambda e: int((e == "post_publish_failed").sum())),
            "retries": grouped["event"].apply(lambda e: int((e == "post_publish_retrying").sum())),
        }
    )
    lat = df[df["event"] == "post_published"].groupby(keys)["latency"]
    out["latency_p50_s"] = lat.quantile(0.5)
    out["latency_p95_s"] = lat.quantile(0.95)
    return out.reset_index()[REPORT_COLUMNS].sort_values(keys).reset_index(drop=True)


def token_health(session: Session, *, now: datetime) -> pd.DataFrame:
    """Every live account: platform, status and hours until its token expires (NaN: never)."""
    import pandas as pd

    rows = [
        {
            "account_id": a.id,
            "workspace_id": a.workspace_id,
            "platform": a.platform,
            "handle": a.handle,
            "status": a.status,
            "expires_in_h": round((a.token_expires_at - now).total_seconds() / 3600, 2)
            if a.token_expires_at
            else None,
        }
        for a in session.scalars(select(SocialAccount).where(SocialAccount.deleted_at.is_(None)))
    ]
    return pd.DataFrame(
        rows, columns=["account_id", "workspace_id", "platform", "handle", "status", "expires_in_h"]
    )


def overdue_jobs(session: Session, *, now: datetime, bound: timedelta) -> list[PublishJob]:
    """Jobs past due beyond ``bound`` that are not finished: waiting too long, or running
    on a lease that expired (DESIGN: every job is terminal or visibly overdue)."""
    late = now - bound
    return list(
        session.scalars(
            select(PublishJob)
            .where(
                (
                    (
                        PublishJob.status.in_(
                            [JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING]
                        )
                    )
                    & (PublishJob.next_attempt_at < late)
                )
                | ((PublishJob.status == JobStatus.RUNNING) & (PublishJob.lease_expires_at < late))
            )
            .order_by(PublishJob.next_attempt_at)
            .limit(1000)
        )
    )
