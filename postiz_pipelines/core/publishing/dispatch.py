"""Deciding which partition runs to launch: due jobs grouped by (workspace, platform).

One run per group, never one per post: a run costs seconds to start, a post milliseconds.
Platforms whose circuit breaker is open get no runs. The jobs of a requested group are marked
``queued`` so the next tick does not ask again;
a group whose run never claimed them is asked for again after ``QUEUED_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, PublishJob, Workspace
from postiz_pipelines.core.publishing import breaker, queue

QUEUED_TIMEOUT = timedelta(minutes=2)  # a requested run that never claimed: ask again


@dataclass(frozen=True)
class DueGroup:
    """The due jobs of one (workspace, platform) partition."""

    workspace_id: str
    workspace_slug: str
    platform: str
    job_ids: tuple[str, ...]
    batch_key: str  # stable for the same jobs at the same attempt counts


def due_groups(
    session: Session, *, now: datetime, lookahead: timedelta, platforms: Iterable[str] | None = None
) -> list[DueGroup]:
    """Partitions that have jobs due by ``now + lookahead`` and no run requested for them yet.

    A job already ``queued`` counts again only after ``QUEUED_TIMEOUT`` (its run never came).
    """
    horizon = now + lookahead
    stale = now - QUEUED_TIMEOUT
    q = (
        select(
            PublishJob.workspace_id,
            Workspace.slug,
            PublishJob.platform,
            PublishJob.id,
            PublishJob.attempts,
            PublishJob.queued_at,
        )
        .join(Workspace, Workspace.id == PublishJob.workspace_id)
        .where(
            PublishJob.next_attempt_at <= horizon,
            or_(
                PublishJob.status.in_([JobStatus.PENDING, JobStatus.RETRYING]),
                and_(PublishJob.status == JobStatus.QUEUED, PublishJob.queued_at <= stale),
            ),
        )
        .order_by(PublishJob.workspace_id, PublishJob.platform, PublishJob.id)
    )
    if platforms is not None:
        q = q.where(PublishJob.platform.in_(list(platforms)))
    groups: dict[tuple[str, str, str], list[tuple[str, int, Any]]] = {}
    for ws_id, slug, platform, job_id, attempts, queued_at in session.execute(q):
        groups.setdefault((ws_id, slug, platform), []).append((job_id, attempts, queued_at))
    out = []
    for (ws_id, slug, platform), jobs in groups.items():
        # queued_at is in the key so that a batch re-requested after its run never came
        # gets a new run key (Dagster would skip a repeated one).
        material = "|".join(f"{j}:{a}:{q.isoformat() if q else ''}" for j, a, q in jobs)
        digest = hashlib.sha256(material.encode()).hexdigest()[:16]
        out.append(DueGroup(ws_id, slug, platform, tuple(j for j, _, _ in jobs), digest))
    return out


def run_key(group: DueGroup) -> str:
    """Idempotent: the same jobs at the same attempt counts give the same key."""
    return f"publish:{group.workspace_slug}:{group.platform}:{group.batch_key}"


def dispatch_due(app: AppContext, *, now: datetime) -> list[DueGroup]:
    """The groups due by ``now`` + look-ahead, marked queued in the same transaction."""
    with app.db.session() as s:
        blocked = breaker.blocked_platforms(s, now=now)
        groups = [
            g
            for g in due_groups(
                s, now=now, lookahead=timedelta(seconds=app.settings.lookahead_seconds)
            )
            if g.platform not in blocked
        ]
        for g in groups:
            queue.mark_queued(s, g.job_ids, now=now)
    return groups
