"""Worker statistics: the queue now, the last 24 hours of activity, and per-workspace figures.

Every figure comes from the functions the analytics assets use (``queue_health``,
``activity``), so the endpoint and the Dagster UI always agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import Throttle
from postiz_pipelines.core.observability.activity import event_counts, workspace_activity
from postiz_pipelines.core.observability.queue_health import queue_summary
from postiz_pipelines.core.publishing.breaker import states as breaker_states


def worker_stats(session: Session, *, now: datetime) -> dict[str, Any]:
    """The seed's ``timestamp``, ``queue``, ``activity`` (24 h) and ``workspaces``."""
    since = now - timedelta(hours=24)
    return {
        "timestamp": now.isoformat(),
        "queue": queue_stats(session, now=now),
        "activity": event_counts(session, since=since, until=now + timedelta(microseconds=1)),
        "workspaces": workspace_stats(session, since=since, now=now),
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
    """The ``queue`` block: ``queue_summary``, the figures of the ``queue_health`` asset."""
    return queue_summary(session, now=now)


def workspace_stats(session: Session, *, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """The ``workspaces`` list: the ``workspace_activity`` figures over [since, now]."""
    df = workspace_activity(session, since=since, until=now + timedelta(microseconds=1))
    return [
        {
            "id": r.workspace_id,
            "slug": r.slug,
            "waiting": int(r.waiting_now),
            "deadLetter": int(r.dead_letter_now),
            "published24h": int(r.published),
            "failed24h": int(r.failed),
        }
        for r in df.itertuples(index=False)
    ]


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
