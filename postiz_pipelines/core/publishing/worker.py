"""The continuous publishing worker (the seed's PublishingWorker).

It polls every ``POSTIZ_WORKER_POLL_INTERVAL`` ms, recovers expired leases, claims due jobs
across all partitions and publishes them with ``POSTIZ_WORKER_CONCURRENCY`` at a time and
``POSTIZ_WORKER_RATE_LIMIT_DELAY`` between jobs of one account. It is safe beside Dagster
runs and other workers: the database owns every lease. ``request_stop()`` (SIGTERM/SIGINT)
stops claiming, lets calls in flight finish within the grace period, and returns unstarted
claims to the queue. Its health is a ``worker_heartbeats`` row, updated every pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import media_delivery
from postiz_pipelines.core.models import WorkerHeartbeat
from postiz_pipelines.core.publishing import breaker, queue
from postiz_pipelines.core.publishing.config import EngineConfig
from postiz_pipelines.core.publishing.engine import BatchReport, Publisher
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.core.publishing.throttle import record_rate_headers
from postiz_pipelines.providers.registry import ProviderSet

log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    passes: int = 0
    claimed: int = 0
    published: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    released: int = 0
    recovered: int = 0
    started_at: datetime | None = None
    last_pass_at: datetime | None = None
    status: str = "starting"
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, report: BatchReport) -> None:
        self.claimed += len(report.outcomes)
        self.published += report.count("completed")
        self.failed += report.count("failed")
        self.retried += report.count("retrying")
        self.deferred += report.count("deferred")
        self.released += report.count("released")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {k: v for k, v in self.__dict__.items() if k != "extra"}
        for k in ("started_at", "last_pass_at"):
            value = out[k]
            out[k] = value.isoformat() if isinstance(value, datetime) else None
        return out


class PublishingWorker:
    def __init__(
        self,
        app: AppContext,
        *,
        clock: Clock | None = None,
        worker_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        grace_seconds: float = 30.0,
        recover_every: int = 12,
    ) -> None:
        self.app = app
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or f"worker:{socket.gethostname()}:{os.getpid()}"
        self.transport = transport
        self.grace = grace_seconds
        self.recover_every = recover_every
        self.stats = WorkerStats()
        self._stop = asyncio.Event()
        self._publisher: Publisher | None = None

    async def stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        """Stop claiming; in-flight calls finish, unstarted claims go back to the queue."""
        self._stop.set()
        if self._publisher is not None:
            self._publisher.request_stop()

    async def run(
        self, *, max_passes: int | None = None, stop_when_idle: bool = False
    ) -> WorkerStats:
        s = self.app.settings
        self.stats.started_at = self.clock.now()
        self.stats.status = "running"
        poll = timedelta(milliseconds=s.worker_poll_interval)
        async with httpx.AsyncClient(
            timeout=s.http_timeout_seconds,
            transport=self.transport,
            event_hooks={"response": [record_rate_headers]},
        ) as http:
            providers = self.app.provider_set(http, self.clock)
            while not self._stop.is_set():
                if max_passes is not None and self.stats.passes >= max_passes:
                    break
                try:
                    claimed = await self._one_pass(providers)
                except Exception:
                    # a long-running daemon outlives a bad pass (database restart, network)
                    log.exception("worker pass failed; trying again after the poll interval")
                    self.stats.extra["failed_passes"] = self.stats.extra.get("failed_passes", 0) + 1
                    claimed = 0
                if claimed == 0:
                    if stop_when_idle:
                        break
                    await self._idle(poll)
        self.stats.status = "stopped"
        await asyncio.to_thread(self._beat)
        return self.stats

    async def _idle(self, poll: timedelta) -> None:
        sleeper = asyncio.create_task(self.clock.sleep_until(self.clock.now() + poll))
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()

    async def _one_pass(self, providers: ProviderSet) -> int:
        now = self.clock.now()
        if self.stats.passes % self.recover_every == 0:
            recovery = await asyncio.to_thread(recover_expired_leases, self.app.db, now=now)
            self.stats.recovered += recovery.requeued + recovery.failed_uncertain
        jobs = await asyncio.to_thread(self._claim, now)
        self.stats.passes += 1
        self.stats.last_pass_at = now
        if jobs:
            self._publisher = Publisher(
                self.app.db,
                self.app.keyring,
                providers,
                clock=self.clock,
                owner=self.worker_id,
                config=EngineConfig.from_settings(self.app.settings),
                media=media_delivery(self.app),
            )
            if self._stop.is_set():
                self._publisher.request_stop()
            task = asyncio.create_task(self._publisher.run(jobs))
            try:
                report = await asyncio.shield(task)
            except asyncio.CancelledError:
                # Cancelled from outside (grace exceeded): what was sending stays "sending"
                # and is resolved by lease recovery.
                task.cancel()
                raise
            self.stats.add(report)
            self._publisher = None
        await asyncio.to_thread(self._beat)
        return len(jobs)

    def _claim(self, now: datetime) -> list:
        s = self.app.settings
        with self.app.db.read() as session:
            blocked = breaker.blocked_platforms(session, now=now)
        lookahead = timedelta(seconds=s.lookahead_seconds)
        return queue.claim_due_jobs(
            self.app.db,
            owner=self.worker_id,
            now=now,
            lookahead=lookahead,
            lease=timedelta(seconds=s.lease_seconds) + lookahead,
            limit=s.claim_batch_size,
            exclude_platforms=blocked,
        )

    def _beat(self) -> None:
        now = self.clock.now()
        st = self.stats
        with self.app.db.session() as s:
            row = s.get(WorkerHeartbeat, self.worker_id)
            if row is None:
                row = WorkerHeartbeat(
                    id=self.worker_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=st.started_at or now,
                    status=st.status,
                    last_beat_at=now,
                )
                s.add(row)
            row.status = "stopping" if self._stop.is_set() and st.status == "running" else st.status
            row.last_beat_at = now
            row.published, row.failed, row.retried, row.passes = (
                st.published,
                st.failed,
                st.retried,
                st.passes,
            )


def run_worker(app: AppContext, *, grace_seconds: float = 30.0, once: bool = False) -> WorkerStats:
    """Run a worker in this process until SIGTERM/SIGINT (or until idle, with ``once``)."""
    import signal

    worker = PublishingWorker(app, grace_seconds=grace_seconds)

    async def main() -> WorkerStats:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop)
        task = asyncio.create_task(worker.run(stop_when_idle=once))
        stopping = asyncio.create_task(worker.stopped())
        done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stopping.cancel()
            return task.result()
        try:
            return await asyncio.wait_for(task, timeout=grace_seconds)
        except TimeoutError:
            log.warning(
                "grace period of %ss exceeded; posts still in flight are left to lease recovery",
                grace_seconds,
            )
            return worker.stats

    return asyncio.run(main())
