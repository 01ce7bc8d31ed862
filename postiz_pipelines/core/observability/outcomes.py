"""Publish outcomes: per day, workspace and platform, what happened to the posts.

Built from the analytics events the engine writes in the same transaction as each job's
state change, so the figures agree with the queue. Definitions:

- ``published``: jobs the platform accepted (``post_published``);
- ``failed``: jobs that ended failed (``post_publish_failed``: permanent, or out of attempts);
- ``retried``: failed tries that were scheduled again (``post_publish_retrying``);
- ``dead_lettered``: of the failed, those still in the dead-letter queue now (not requeued);
- ``success_rate`` = published / (published + failed);
- ``on_time_rate``: share of the published whose lag was at most ``on_time`` (60 s);
- ``lag_p50_s``/``lag_p95_s``/``lag_p99_s``: seconds from the scheduled instant to the
  platform's acceptance (linear interpolation between ranks, as pandas' ``quantile``).

A figure that cannot be computed (no publishes, no known lag) is missing (NaN), never 0.
pandas is imported inside the functions: this module is not on the publish path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.models import AnalyticsEvent, JobStatus, PublishJob

if TYPE_CHECKING:
    import pandas as pd

ON_TIME = timedelta(seconds=60)
PUBLISH_EVENTS = (
    EventType.POST_PUBLISHED,
    EventType.POST_PUBLISH_FAILED,
    EventType.POST_PUBLISH_RETRYING,
)
EVENT_COLUMNS = ["at", "day", "workspace_id", "platform", "event", "job_id", "lag_s"]
OUTCOME_COLUMNS = [
    "day",
    "workspace_id",
    "platform",
    "published",
    "failed",
    "retried",
    "dead_lettered",
    "success_rate",
    "on_time_rate",
    "lag_p50_s",
    "lag_p95_s",
    "lag_p99_s",
]
UNKNOWN = "unknown"


def _lag(data: Any) -> float | None:
    value = data.get("latency_s") if isinstance(data, dict) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def publish_events(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Every publish event in [since, until): its UTC day, workspace, platform, kind, job and
    lag (NaN where the event carries none)."""
    import pandas as pd

    rows = session.execute(
        select(
            AnalyticsEvent.occurred_at,
            AnalyticsEvent.workspace_id,
            AnalyticsEvent.platform,
            AnalyticsEvent.event_type,
            AnalyticsEvent.job_id,
            AnalyticsEvent.data,
        )
        .where(
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.occurred_at < until,
            AnalyticsEvent.event_type.in_([str(e) for e in PUBLISH_EVENTS]),
        )
        .order_by(AnalyticsEvent.id)
    ).all()
    df = pd.DataFrame(
        [
            {
                "at": at,
                "day": at.strftime("%Y-%m-%d"),
                "workspace_id": ws or UNKNOWN,
                "platform": platform or UNKNOWN,
                "event": event,
                "job_id": job_id,
                "lag_s": _lag(data),
            }
            for at, ws, platform, event, job_id, data in rows
        ],
        columns=EVENT_COLUMNS,
    )
    df["lag_s"] = pd.to_numeric(df["lag_s"], errors="coerce").astype("float64")
    return df


def _dead_jobs(session: Session, job_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(job_ids), 500):
        chunk = job_ids[i : i + 500]
        found.update(
            session.scalars(
                select(PublishJob.id).where(
                    PublishJob.id.in_(chunk), PublishJob.status == JobStatus.FAILED
                )
            )
        )
    return found


def summarize(
    events: pd.DataFrame, *, keys: list[str], dead: set[str], on_time: timedelta = ON_TIME
) -> pd.DataFrame:
    """The outcome figures of ``events`` (as from ``publish_events``) grouped by ``keys``."""
    import pandas as pd

    columns = keys + OUTCOME_COLUMNS[3:]
    if events.empty:
        return pd.DataFrame(columns=columns)
    e = events.assign(
        published=(events["event"] == EventType.POST_PUBLISHED).astype(int),
        failed=(events["event"] == EventType.POST_PUBLISH_FAILED).astype(int),
        retried=(events["event"] == EventType.POST_PUBLISH_RETRYING).astype(int),
    )
    e["dead_lettered"] = (e["failed"] == 1) & e["job_id"].isin(dead)
    e["dead_lettered"] = e["dead_lettered"].astype(int)
    out = e.groupby(keys, dropna=False)[["published", "failed", "retried", "dead_lettered"]].sum()
    finished = out["published"] + out["failed"]
    out["success_rate"] = (out["published"] / finished.where(finished > 0)).astype("float64")
    lags = e[(e["published"] == 1) & e["lag_s"].notna()]
    grouped = lags.groupby(keys)["lag_s"]
    bound = on_time.total_seconds()
    out["on_time_rate"] = grouped.apply(lambda s: float((s <= bound).mean()))
    out["lag_p50_s"] = grouped.quantile(0.50)
    out["lag_p95_s"] = grouped.quantile(0.95)
    out["lag_p99_s"] = grouped.quantile(0.99)
    out = out.reset_index()
    for col in ("published", "failed", "retried", "dead_lettered"):
        out[col] = out[col].astype("int64")
    for col in ("success_rate", "on_time_rate", "lag_p50_s", "lag_p95_s", "lag_p99_s"):
        out[col] = out[col].astype("float64")
    return out[columns].sort_values(keys).reset_index(drop=True)


def publish_outcomes(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    on_time: timedelta = ON_TIME,
    by_day: bool = True,
) -> pd.DataFrame:
    """The outcome figures of [since, until), per day (UTC), workspace and platform; with
    ``by_day=False``, per workspace and platform over the whole window."""
    events = publish_events(session, since=since, until=until)
    failed_jobs = events.loc[events["event"] == EventType.POST_PUBLISH_FAILED, "job_id"]
    dead = _dead_jobs(session, [j for j in failed_jobs.dropna().unique()])
    keys = ["day", "workspace_id", "platform"] if by_day else ["workspace_id", "platform"]
    return summarize(events, keys=keys, dead=dead, on_time=on_time)


def platform_totals(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Outcome counts summed per platform (rates recomputed from the sums, not averaged)."""
    import pandas as pd

    cols = ["published", "failed", "retried", "dead_lettered"]
    if outcomes.empty:
        return pd.DataFrame(columns=["platform", *cols, "success_rate"])
    out = outcomes.groupby("platform")[cols].sum().reset_index()
    finished = out["published"] + out["failed"]
    out["success_rate"] = (out["published"] / finished.where(finished > 0)).astype("float64")
    return out
