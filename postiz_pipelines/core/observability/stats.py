"""Worker statistics: the queue now, the last 24 hours of activity, and per-workspace figures.

Each figure is one grouped query over an indexed column, so the answer stays cheap on a
large queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AnalyticsEvent,
    JobStatus,
    PublishJob,
    Throttle,
    Workspace,
)
from postiz_pipelines.core.publishing.breaker import states as breaker_states
from postiz_pipelines.core.publishing.queue import queue_counts

OVERDUE_AFTER = timedelta(minutes=5)
ACTIVITY_EVENTS = {
    EventType.POST_PUBLISHED: "published",
    EventType.POST_PUBLISH_FAILED: "failed",
    EventType.POST_PUBLISH_RETRYING: "retried",
    EventType.POST_CANCELED: "canceled",
    EventType.TOKEN_REFRESHED: "tokensRefreshed",
    EventType.TOKEN_REFRESH_FAILED: "tokenRefreshFailures",
}


def worker_stats(session: Session, *, now: datetime) -> dict[str, Any]:
    """The seed's ``timestamp``, ``queue``, ``activity`` (24 h) and ``workspaces``."""
    return {
        "timestamp": now.isoformat(),
        "queue": queue_stats(session, now=now),
        "activity": activity_stats(session, since=now - timedelta(hours=24)),
        "workspaces": workspace_stats(session, since=now - timedelta(hours=24)),
        "workers": worker_heartbeats(session),
        "circuitBreakers": breaker_states(session),
        "throttles": active_throttles(session, now=now),
    }


def active_throttles(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Accounts and platforms a platform asked us to wait for, and until when."""
    return [
        {"scope": t.scope, "blockedUntil": t.blocked_until.isoformat(), "reason": t.reason}
        for t in session.scalars(
            select(Throttle).where(Throttle.blocked_until > now).order_by(Throttle.scope)
        )
    ]


def queue_stats(session: Session, *, now: datetime) -> dict[str, Any]:
    waiting = PublishJob.status.in_(CLAIMABLE_JOB_STATES)
    due, oldest = session.execute(
        select(func.count(), func.min(PublishJob.next_attempt_at)).where(
            waiting, PublishJob.next_attempt_at <= now
        )
    ).one()
    overdue = session.scalar(
        select(func.count()).where(waiting, PublishJob.next_attempt_at <= now - OVERDUE_AFTER)
    )
    expired = session.scalar(
        select(func.count()).where(
            PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at < now
        )
    )
    return {
        "byStatus": queue_counts(session),
        "dueNow": due or 0,
        "overdue": overdue or 0,
        "oldestDueAt": oldest.isoformat() if oldest else None,
        "expiredLeases": expired or 0,
    }


def activity_stats(session: Session, *, since: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"since": since.isoformat(), **{k: 0 for k in ACTIVITY_EVENTS.values()}}
    by_platform: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(AnalyticsEvent.event_type, AnalyticsEvent.platform, func.count())
        .where(
            AnalyticsEvent.occurred_at >= since,
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


def workspace_stats(session: Session, *, since: datetime) -> list[dict[str, Any]]:
    waiting = dict(
        session.execute(
            select(PublishJob.workspace_id, func.count())
            .where(PublishJob.status.in_(CLAIMABLE_JOB_STATES))
            .group_by(PublishJob.workspace_id)
        ).all()
    )
    dead = dict(
        session.execute(
            select(PublishJob.workspace_id, func.count())
            .where(PublishJob.status == JobStatus.FAILED)
            .group_by(PublishJob.workspace_id)
        ).all()
    )
    events: dict[str, dict[str, int]] = {}
    for ws, event_type, n in session.execute(
        select(AnalyticsEvent.workspace_id, AnalyticsEvent.event_type, func.count())
        .where(
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.event_type.in_(
                [EventType.POST_PUBLISHED, EventType.POST_PUBLISH_FAILED]
            ),
        )
        .group_by(AnalyticsEvent.workspace_id, AnalyticsEvent.event_type)
    ):
        if ws:
            events.setdefault(ws, {})[event_type] = n
    out = []
    for ws in session.scalars(
        select(Workspace).where(Workspace.deleted_at.is_(None)).order_by(Workspace.slug)
    ):
        ev = events.get(ws.id, {})
        out.append(
            {
                "id": ws.id,
                "slug": ws.slug,
                "waiting": waiting.get(ws.id, 0),
                "deadLetter": dead.get(ws.id, 0),
                "published24h": ev.get(EventType.POST_PUBLISHED, 0),
                "failed24h": ev.get(EventType.POST_PUBLISH_FAILED, 0),
            }
        )
    return out


def worker_heartbeats(session: Session) -> list[dict[str, Any]]:
    """Continuous workers' last beats, when the engine keeps them (its table is optional here)."""
    from postiz_pipelines.core import models

    beat = getattr(models, "WorkerHeartbeat", None)
    if beat is None or not inspect(session.connection()).has_table(beat.__tablename__):
        return []
    rows = session.scalars(select(beat).order_by(beat.last_beat_at.desc()).limit(50))
    return [
        {
            "id": r.id,
            "status": r.status,
            "lastBeatAt": r.last_beat_at.isoformat(),
            "published": r.published,
            "failed": r.failed,
        }
        for r in rows
    ]
