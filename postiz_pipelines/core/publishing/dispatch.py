"""Deciding which partition runs to launch: due jobs grouped by (workspace, platform).

One run per group, never one per post: a run costs seconds to start, a post milliseconds.
Platforms whose circuit breaker is open get no runs. The jobs of a requested group are marked
``queued`` so the next tick does not ask again;
a group whose run never claimed them is asked for again after ``queue.QUEUED_TIMEOUT``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.publishing import breaker, queue


def run_key(group: queue.DueGroup) -> str:
    """Idempotent: the same jobs at the same attempt counts give the same key."""
    return f"publish:{group.workspace_slug}:{group.platform}:{group.batch_key}"


def dispatch_due(app: AppContext, *, now: datetime) -> list[queue.DueGroup]:
    """The groups due by ``now`` + look-ahead, marked queued in the same transaction."""
    with app.db.session() as s:
        blocked = breaker.blocked_platforms(s, now=now)
        groups = [
            g
            for g in queue.due_groups(
                s, now=now, lookahead=timedelta(seconds=app.settings.lookahead_seconds)
            )
            if g.platform not in blocked
        ]
        for g in groups:
            queue.mark_queued(s, g.job_ids, now=now)
    return groups
