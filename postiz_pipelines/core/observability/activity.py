"""Workspace activity, and event counts over a window.

``workspace_activity`` is the asset's table for a day and the stats' ``workspaces`` list
for the last 24 h; ``event_counts`` is the stats' ``activity`` block. One implementation,
two windows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AnalyticsEvent,
    JobStatus,
    Post,
    PublishJob,
    Workspace,
)

if TYPE_CHECKING:
    import pandas as pd

ACTIVITY_COLUMNS = [
    "workspace_id",
    "slug",
    "posts_created",
    "published",
    "failed",
    "success_rate",
    "accounts_published",
    "waiting_now",
    "dead_letter_now",
]
# event -> the stats' name for its count
ACTIVITY_EVENTS = {
    EventType.POST_PUBLISHED: "published",
    EventType.POST_PUBLISH_FAILED: "failed",
    EventType.POST_PUBLISH_RETRYING: "retried",
    EventType.POST_CANCELED: "canceled",
    EventType.TOKEN_REFRESHED: "tokensRefreshed",
    EventType.TOKEN_REFRESH_FAILED: "tokenRefreshFailures",
}


def event_counts(session: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """Counts of the activity events in [since, until), in total and per platform, and the
    success rate (published / finished; None when nothing finished)."""
    out: dict[str, Any] = {"since": since.isoformat(), **{k: 0 for k in ACTIVITY_EVENTS.values()}}
    by_platform: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(AnalyticsEvent.event_type, AnalyticsEvent.platform, func.count())
        .where(
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.occurred_at < until,
            AnalyticsEvent.event_type.in_([str(e) for e in ACTIVITY_EVENTS]),
        )
        .group_by(AnalyticsEvent.event_type, AnalyticsEvent.platform)
    )
    for event_type, platform, n in rows:
        name = ACTIVITY_EVENTS[EventType(event_type)]
        out[name] += n
        if platform:
            by_platform.setdefault(platform, {}).setdefault(name, 0)
            by_platform[platform][name] += n
    finished = out["published"] + out["failed"]
    out["successRate"] = round(out["published"] / finished, 4) if finished else None
    out["byPlatform"] = by_platform
    return out


def workspace_activity(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Per live workspace, over [since, until): posts created, jobs published and failed,
    the success rate (missing when none finished), how many accounts published; and, as of
    now, jobs waiting and jobs in the dead-letter queue."""
    import pandas as pd

    def grouped(stmt: Any) -> dict[Any, int]:
        return {k: int(n) for k, n in session.execute(stmt).all()}

    created = grouped(
        select(Post.workspace_id, func.count())
        .where(Post.created_at >= since, Post.created_at < until)
        .group_by(Post.workspace_id)
    )
    window = (AnalyticsEvent.occurred_at >= since) & (AnalyticsEvent.occurred_at < until)
    published = grouped(
        select(AnalyticsEvent.workspace_id, func.count())
        .where(window, AnalyticsEvent.event_type == EventType.POST_PUBLISHED)
        .group_by(AnalyticsEvent.workspace_id)
    )
    failed = grouped(
        select(AnalyticsEvent.workspace_id, func.count())
        .where(window, AnalyticsEvent.event_type == EventType.POST_PUBLISH_FAILED)
        .group_by(AnalyticsEvent.workspace_id)
    )
    accounts = grouped(
        select(AnalyticsEvent.workspace_id, func.count(func.distinct(AnalyticsEvent.account_id)))
        .where(window, AnalyticsEvent.event_type == EventType.POST_PUBLISHED)
        .group_by(AnalyticsEvent.workspace_id)
    )
    waiting = grouped(
        select(PublishJob.workspace_id, func.count())
        .where(PublishJob.status.in_(CLAIMABLE_JOB_STATES))
        .group_by(PublishJob.workspace_id)
    )
    dead = grouped(
        select(PublishJob.workspace_id, func.count())
        .where(PublishJob.status == JobStatus.FAILED)
        .group_by(PublishJob.workspace_id)
    )
    rows = []
    for ws in session.scalars(
        select(Workspace).where(Workspace.deleted_at.is_(None)).order_by(Workspace.slug)
    ):
        ok, bad = published.get(ws.id, 0), failed.get(ws.id, 0)
        rows.append(
            {
                "workspace_id": ws.id,
                "slug": ws.slug,
                "posts_created": created.get(ws.id, 0),
                "published": ok,
                "failed": bad,
                "success_rate": ok / (ok + bad) if ok + bad else None,
                "accounts_published": accounts.get(ws.id, 0),
                "waiting_now": waiting.get(ws.id, 0),
                "dead_letter_now": dead.get(ws.id, 0),
            }
        )
    df = pd.DataFrame(rows, columns=ACTIVITY_COLUMNS)
    df["success_rate"] = df["success_rate"].astype("float64")
    return df
