"""The windowed engine: claim jobs as they fall due and publish each at its second.

One loop serves a window run of one partition (``scope`` and ``due_before`` = the window's
end) and the standalone worker (every partition, no end). Every ``poll`` it looks (a read,
no lock) for claimable jobs due within ``poll`` + 1 s, claims them under its lease, and
hands each to the engine, which waits for the job's second; jobs created after the loop
started are found by the next look. There is no batch barrier: a job claimed now does not
wait for the jobs claimed before it.

A window run stops looking at its window's end, lets calls in flight finish until the
grace is over, then gives back what it never started. Its heartbeat (a ``worker_heartbeats``
row named after its owner) tells the sensor it is alive; a run that stops beating is dead and
is replaced (``dispatch.py``). Terminated or crashed, it gives back what it never sent; what
was mid-call is left to lease recovery.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete, func, select

from postiz_pipelines.clock import Clock, ensure_utc
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import media_delivery
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AttemptOutcome,
    PublishAttempt,
    PublishJob,
    WorkerHeartbeat,
)
from postiz_pipelines.core.publishing import breaker, queue
from postiz_pipelines.core.publishing.config import EngineConfig
from postiz_pipelines.core.publishing.engine import Publisher
from postiz_pipelines.core.publishing.outcomes import JobOutcome
from postiz_pipelines.core.publishing.throttle import record_rate_headers

log = logging.getLogger(__name__)
CLAIM_MARGIN = timedelta(seconds=1)  # claimed this much before the next look would see it


@dataclass(frozen=True)
class Scope:
    """Which jobs a loop serves: one partition, or every one (None)."""

    workspace_id: str | None = None
    platform: str | None = None


OUTCOMES = ("completed", "retrying", "failed", "canceled", "deferred", "released", "lost")


@dataclass
class LoopStats:
    """Counts only (a worker runs for weeks): passes, claims, outcomes by status."""

    passes: int = 0
    claimed: int = 0
    started_at: datetime | None = None
    outcomes: Counter[str] = field(default_factory=Counter)

    def count(self, status: str) -> int:
        return self.outcomes[status]

    def as_dict(self) -> dict[str, int]:
        return {
            "passes": self.passes,
            "claimed": self.claimed,
            **{k: self.outcomes[k] for k in OUTCOMES},
        }


class PublishLoop:
    """Claims and publishes the jobs of ``scope`` as they fall due, until stopped or until
    ``stop_at`` (claiming nothing due at or after ``due_before``)."""

    def __init__(
        self,
        app: AppContext,
        *,
        owner: str,
        clock: Clock,
        poll: timedelta,
        scope: Scope = Scope(),
        due_before: datetime | None = None,
        stop_at: datetime | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        heartbeat_every: timedelta = timedelta(seconds=10),
        keep_heartbeat: bool = False,
        stop_when_idle: bool = False,
        on_pass: Callable[[datetime], None] | None = None,
    ) -> None:
        self.app = app
        self.owner = owner
        self.clock = clock
        self.poll = poll
        self.scope = scope
        self.due_before = due_before
        self.stop_at = stop_at
        self.transport = transport
        self.heartbeat_every = heartbeat_every
        self.keep_heartbeat = keep_heartbeat  # the worker keeps its row; a run removes it
        self.stop_when_idle = stop_when_idle
        self.on_pass = on_pass  # e.g. the worker's periodic lease recovery
        self.stats = LoopStats()
        self._stop = asyncio.Event()
        self._publisher: Publisher | None = None
        self._tasks: set[asyncio.Task[JobOutcome]] = set()
        self._claimed: set[str] = set()
        self._last_beat: datetime | None = None

    @property
    def claim_ahead(self) -> timedelta:
        return self.poll + CLAIM_MARGIN

    def extend(self, *, due_before: datetime, stop_at: datetime) -> None:
        """Serve on: claim jobs due before ``due_before`` and stop at ``stop_at`` (a window run
        carrying on into its next window)."""
        self.due_before = due_before
        self.stop_at = stop_at

    def request_stop(self) -> None:
        """Stop claiming; in-flight calls finish, unstarted claims go back to the queue."""
        self._stop.set()
        if self._publisher is not None:
            self._publisher.request_stop()

    async def run(self) -> LoopStats:
        s = self.app.settings
        self.stats.started_at = self.clock.now()
        async with httpx.AsyncClient(
            timeout=s.http_timeout_seconds,
            transport=self.transport,
            event_hooks={"response": [record_rate_headers]},
        ) as http:
            self._publisher = Publisher(
                self.app.db,
                self.app.keyring,
                self.app.provider_set(http, self.clock),
                clock=self.clock,
                owner=self.owner,
                config=EngineConfig.from_settings(s),
                media=media_delivery(self.app),
            )
            try:
                await self._serve()
                await self._drain()
            except BaseException:
                # Terminated or crashed: give back what was never sent; what was in flight
                # is resolved by lease recovery (the uncertain-outcome rule).
                await asyncio.to_thread(self._release_unsent)
                raise
            finally:
                await self._publisher.aclose()
                await asyncio.to_thread(self._beat, True)
        return self.stats

    # -- the loop ---------------------------------------------------------------------------
    async def _serve(self) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            if self.on_pass is not None:
                await asyncio.to_thread(self.on_pass, now)
            try:
                claimed = await asyncio.to_thread(self._claim, now)
            except Exception:
                # a long-running loop outlives a bad pass (database restart, network)
                log.exception("claim failed; looking again after the poll interval")
                claimed = []
            self.stats.passes += 1
            if claimed:
                await self._prepare([j.id for j in claimed])
            for job in claimed:
                self._submit(job)
            if self._due_for_beat(now):
                await asyncio.to_thread(self._beat, False)
            if claimed and len(self._claimed) < self.app.settings.claim_batch_size:
                continue  # there may be more due right now, and room to hold them
            if self.due_before is not None and now >= self.due_before:
                # the window is over (a run that started late still took what was overdue)
                return
            if self.stop_when_idle and not claimed and not self._tasks:
                return
            await self._pause(now + self.poll)

    async def _prepare(self, job_ids: list[str]) -> None:
        """The claimed jobs' media variants, before their seconds come."""
        assert self._publisher is not None
        try:
            await self._publisher.prepare_media(job_ids)
        except Exception:  # a job whose media cannot be made fails in its own attempt
            log.exception("preparing media for %d jobs failed", len(job_ids))

    def _submit(self, job: PublishJob) -> None:
        assert self._publisher is not None
        self._claimed.add(job.id)
        task = asyncio.create_task(self._publisher.publish_one(job))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, job.id))

    def _done(self, job_id: str, task: asyncio.Task[JobOutcome]) -> None:
        self._tasks.discard(task)
        self._claimed.discard(job_id)
        if not task.cancelled() and task.exception() is None:
            self.stats.outcomes[task.result().status] += 1

    async def _drain(self) -> None:
        """Let claimed jobs finish; past ``stop_at``, give back those not yet started.

        The bound is waited in real time (the clock's distance to ``stop_at``), so that a
        simulated clock that jumps over sleeps still lets calls in flight finish."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        if self.stop_at is not None:
            grace = max((self.stop_at - self.clock.now()).total_seconds(), 0.0)
            _done, pending = await asyncio.wait(pending, timeout=grace)
            if pending:
                log.warning("window grace over with %d jobs unfinished", len(pending))
                self.request_stop()  # those not started go back; calls in flight finish
        if pending:
            await asyncio.wait(pending)

    async def _pause(self, until: datetime) -> None:
        sleeper = asyncio.create_task(self.clock.sleep_until(until))
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()

    # -- the database side (run in a thread) ----------------------------------------------
    def _horizon(self, now: datetime) -> datetime:
        horizon = now + self.claim_ahead
        if self.due_before is not None:
            horizon = min(horizon, self.due_before - timedelta(microseconds=1))
        return horizon

    def _blocked(self, now: datetime) -> list[str]:
        if self.scope.platform is not None:
            return []  # a partition's run defers its own jobs through the breaker gate
        with self.app.db.read() as s:
            return sorted(breaker.blocked_platforms(s, now=now))

    def _claim(self, now: datetime) -> list[PublishJob]:
        # at most a claim batch in hand: a loop beside others takes its share, not the queue
        room = self.app.settings.claim_batch_size - len(self._claimed)
        if room <= 0:
            return []
        horizon = self._horizon(now)
        blocked = self._blocked(now)
        if not self._anything_due(horizon, blocked):
            return []  # the common case, answered by a read: no write lock taken
        jobs = queue.claim_due_jobs(
            self.app.db,
            owner=self.owner,
            now=now,
            workspace_id=self.scope.workspace_id,
            platform=self.scope.platform,
            lookahead=horizon - now,
            # the lease must outlive the wait for the job's second
            lease=timedelta(seconds=self.app.settings.lease_seconds) + self.claim_ahead,
            limit=room,
            exclude_platforms=blocked,
        )
        self.stats.claimed += len(jobs)
        return jobs

    def _anything_due(self, horizon: datetime, blocked: Iterable[str]) -> bool:
        q = select(func.min(PublishJob.next_attempt_at)).where(
            PublishJob.status.in_(CLAIMABLE_JOB_STATES), PublishJob.next_attempt_at <= horizon
        )
        if self.scope.workspace_id is not None:
            q = q.where(PublishJob.workspace_id == self.scope.workspace_id)
        if self.scope.platform is not None:
            q = q.where(PublishJob.platform == self.scope.platform)
        excluded = list(blocked)
        if excluded:
            q = q.where(PublishJob.platform.not_in(excluded))
        with self.app.db.read() as s:
            return s.scalar(q) is not None

    def _release_unsent(self) -> None:
        ids = list(self._claimed)
        if ids:
            release_unsent(self.app, ids, owner=self.owner, clock=self.clock)

    def _due_for_beat(self, now: datetime) -> bool:
        return self._last_beat is None or now - self._last_beat >= self.heartbeat_every

    def _beat(self, final: bool) -> None:
        now = self.clock.now()
        self._last_beat = now
        report = self.stats
        with self.app.db.session() as s:
            if final and not self.keep_heartbeat:
                s.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == self.owner))
                return
            row = s.get(WorkerHeartbeat, self.owner)
            if row is None:
                row = WorkerHeartbeat(
                    id=self.owner,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=self.stats.started_at or now,
                    status="running",
                    last_beat_at=now,
                )
                s.add(row)
            row.status = "stopped" if final else ("stopping" if self._stop.is_set() else "running")
            row.last_beat_at = now
            row.published = report.count("completed")
            row.failed = report.count("failed")
            row.retried = report.count("retrying")
            row.passes = self.stats.passes


def heartbeat_age(app: AppContext, owner: str, *, now: datetime) -> timedelta | None:
    """How long ago ``owner`` last beat, or None when it has no heartbeat row."""
    with app.db.read() as s:
        at = s.scalar(select(WorkerHeartbeat.last_beat_at).where(WorkerHeartbeat.id == owner))
    return None if at is None else now - ensure_utc(at)


def release_unsent(app: AppContext, job_ids: list[str], *, owner: str, clock: Clock) -> int:
    """Give back the claims of ``job_ids`` whose call never began (no attempt ``sending``);
    those mid-call stay leased for recovery to resolve."""
    with app.db.session() as s:
        sending = set(
            s.scalars(
                select(PublishAttempt.job_id).where(
                    PublishAttempt.job_id.in_(job_ids),
                    PublishAttempt.outcome == AttemptOutcome.SENDING,
                )
            )
        )
        return queue.release(
            s, [j for j in job_ids if j not in sending], owner=owner, now=clock.now()
        )
