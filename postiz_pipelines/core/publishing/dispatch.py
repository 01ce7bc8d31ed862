"""Deciding which window runs to ask for: the sensor's whole job, without side effects but one.

For every (workspace, platform) with jobs due in its current window (overdue included) or,
once the lead has begun, in its next window, at most one run is asked for per window, keyed
``publish:<workspace>:<platform>:<window start>``. Nothing is asked for a window without due
jobs (no empty runs), nor for platforms whose circuit breaker is open.

The recovery rule: when the last run of a window has ended (failed, canceled, or finished
early) or has died (started, but no heartbeat for ``WindowPolicy.heartbeat_stale``) while the
window still runs, a replacement is asked for under the same key with the suffix ``:r<n>``
(``n`` = runs already made for that window), at most ``max_replacements`` times. The key is
computed from the runs the orchestrator already has, so two ticks that see the same runs ask
for the same key, and the orchestrator drops the second request: never a duplicate.

The one write: the jobs of a window whose run is asked for are marked ``queued``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    JobStatus,
    PublishJob,
    WorkerHeartbeat,
    Workspace,
)
from postiz_pipelines.core.publishing import breaker, queue
from postiz_pipelines.core.publishing.windows import Window, WindowPolicy

WAITING, RUNNING, ENDED = "waiting", "running", "ended"


@dataclass(frozen=True)
class DueWindow:
    """A partition window that has jobs to publish."""

    workspace_id: str
    workspace_slug: str
    platform: str
    window: Window

    @property
    def partition(self) -> tuple[str, str]:
        return self.workspace_slug, self.platform


@dataclass(frozen=True)
class SeenRun:
    """A run the orchestrator holds for one partition window, in neutral terms."""

    run_id: str
    attempt: int
    state: str  # waiting (queued, starting) | running | ended (any terminal status)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class WindowRequest:
    """Ask for one window run."""

    due: DueWindow
    attempt: int = 0
    replaces: str | None = None  # the run id of a dead run this one replaces

    @property
    def run_key(self) -> str:
        d = self.due
        key = f"publish:{d.workspace_slug}:{d.platform}:{d.window.key}"
        return f"{key}:r{self.attempt}" if self.attempt else key


@dataclass
class WindowPlan:
    requests: list[WindowRequest] = field(default_factory=list)
    dead_runs: list[str] = field(default_factory=list)  # started, silent: to be marked failed
    waiting: int = 0  # windows whose run is queued or running
    gave_up: int = 0  # windows past their replacements: the next window takes the jobs


def _owner(run_id: str) -> str:
    return f"dagster:{run_id}"


def run_owner(run_id: str) -> str:
    """The lease owner (and heartbeat id) of a Dagster run."""
    return _owner(run_id)


def due_windows(session: Session, *, now: datetime, policy: WindowPolicy) -> list[DueWindow]:
    """The partition windows to serve at ``now`` that have due jobs (read-only)."""
    horizon = now + policy.lead + policy.length
    blocked = breaker.blocked_platforms(session, now=now)
    rows = session.execute(
        select(
            PublishJob.workspace_id,
            Workspace.slug,
            PublishJob.platform,
            func.min(PublishJob.next_attempt_at),
        )
        .join(Workspace, Workspace.id == PublishJob.workspace_id)
        .where(
            PublishJob.status.in_(CLAIMABLE_JOB_STATES),
            PublishJob.next_attempt_at < horizon,
        )
        .group_by(PublishJob.workspace_id, Workspace.slug, PublishJob.platform)
    ).all()
    out = []
    for ws_id, slug, platform, earliest in rows:
        if platform in blocked:
            continue
        earliest = _aware(earliest)
        windows = policy.windows_to_serve(slug, platform, now)
        current = windows[0]
        if earliest < current.end:
            out.append(DueWindow(ws_id, slug, platform, current))
        if len(windows) == 2:
            following = windows[1]
            if earliest >= following.start or _has_jobs_in(session, ws_id, platform, following):
                if earliest < following.end:
                    out.append(DueWindow(ws_id, slug, platform, following))
    return out


def _has_jobs_in(session: Session, workspace_id: str, platform: str, window: Window) -> bool:
    return (
        session.scalar(
            select(PublishJob.id)
            .where(
                PublishJob.workspace_id == workspace_id,
                PublishJob.platform == platform,
                PublishJob.status.in_(CLAIMABLE_JOB_STATES),
                PublishJob.next_attempt_at >= window.start,
                PublishJob.next_attempt_at < window.end,
            )
            .limit(1)
        )
        is not None
    )


def heartbeats(session: Session, run_ids: Iterable[str]) -> dict[str, datetime]:
    """The last heartbeat of each run that wrote one."""
    owners = {_owner(r): r for r in run_ids}
    if not owners:
        return {}
    rows = session.execute(
        select(WorkerHeartbeat.id, WorkerHeartbeat.last_beat_at).where(
            WorkerHeartbeat.id.in_(list(owners))
        )
    )
    return {owners[i]: _aware(at) for i, at in rows}


def plan_window_runs(
    due: Sequence[DueWindow],
    runs: Mapping[tuple[str, str, str], Sequence[SeenRun]],
    *,
    now: datetime,
    policy: WindowPolicy,
) -> WindowPlan:
    """What to ask for, given the due windows and the runs seen per (slug, platform, window
    key). A pure function of its inputs: the rules of the module docstring."""
    plan = WindowPlan()
    for d in due:
        seen = sorted(runs.get((*d.partition, d.window.key), ()), key=lambda r: r.attempt)
        if not seen:
            plan.requests.append(WindowRequest(d))
            continue
        last = seen[-1]
        dead = last.state == RUNNING and _silent(last, now=now, policy=policy)
        if last.state == WAITING or (last.state == RUNNING and not dead):
            plan.waiting += 1
            continue
        if now >= d.window.end:  # its window is over: the next window's run takes the jobs
            continue
        attempt = max(r.attempt for r in seen) + 1
        if attempt > policy.max_replacements:
            plan.gave_up += 1
            continue
        plan.requests.append(WindowRequest(d, attempt, last.run_id if dead else None))
        if dead:
            plan.dead_runs.append(last.run_id)
    return plan


def _silent(run: SeenRun, *, now: datetime, policy: WindowPolicy) -> bool:
    """A started run that has not said it is alive for too long: its process died."""
    last_sign = run.heartbeat_at or run.started_at
    return last_sign is not None and now - last_sign > policy.heartbeat_stale


def mark_requested(app: AppContext, requests: Sequence[WindowRequest], *, now: datetime) -> int:
    """Mark the due jobs of the requested windows ``queued`` (a run was asked for them)."""
    if not requests:
        return 0
    n = 0
    with app.db.session() as s:
        for r in requests:
            d = r.due
            q = select(PublishJob.id).where(
                PublishJob.workspace_id == d.workspace_id,
                PublishJob.platform == d.platform,
                PublishJob.status.in_(CLAIMABLE_JOB_STATES),
                PublishJob.next_attempt_at < d.window.end,
            )
            if d.window.start > now:  # a next window: only its own jobs
                q = q.where(PublishJob.next_attempt_at >= d.window.start)
            n += queue.mark_queued(s, list(s.scalars(q)), now=now)
    return n


def _aware(value: datetime) -> datetime:
    from postiz_pipelines.clock import ensure_utc

    return ensure_utc(value)


def expired_leases(session: Session, *, now: datetime) -> int:
    """How many running jobs hold a lease that ran out (read-only; recovery resolves them)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(PublishJob)
            .where(PublishJob.status == JobStatus.RUNNING, PublishJob.lease_expires_at < now)
        )
        or 0
    )
