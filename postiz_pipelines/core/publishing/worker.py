"""The continuous publishing worker (the seed's PublishingWorker).

It runs the same windowed engine as a Dagster window run (``loop.PublishLoop``), over every
partition and without a window end: every ``POSTIZ_WORKER_POLL_INTERVAL`` ms it looks for
jobs falling due, claims them and publishes each at its second, with
``POSTIZ_WORKER_CONCURRENCY`` at a time and ``POSTIZ_WORKER_RATE_LIMIT_DELAY`` between jobs of
one account; it recovers expired leases every ``recover_every`` looks. It is safe beside Dagster
runs and other workers: the database owns every lease. ``request_stop()`` (SIGTERM/SIGINT)
stops claiming, lets calls in flight finish within the grace period, and returns unstarted
claims to the queue. Its health is a ``worker_heartbeats`` row, updated every few seconds.
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
from postiz_pipelines.core.publishing.engine import BatchReport
from postiz_pipelines.core.publishing.loop import LoopStats, PublishLoop
from postiz_pipelines.core.publishing.recovery import recover_expired_leases

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
    """The windowed engine over every partition, with no window end (``loop.PublishLoop``)."""

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
        self._loop: PublishLoop | None = None
        self._max_passes: int | None = None

    async def stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        """Stop claiming; in-flight calls finish, unstarted claims go back to the queue."""
        self._stop.set()
        if self._loop is not None:
            self._loop.request_stop()

    async def run(
        self, *, max_passes: int | None = None, stop_when_idle: bool = False
    ) -> WorkerStats:
        """Claim and publish until stopped (or, with ``stop_when_idle``, until nothing is due
        and nothing is in flight)."""
        s = self.app.settings
        self.stats.started_at = self.clock.now()
        self.stats.status = "running"
        self._max_passes = max_passes
        poll = timedelta(milliseconds=s.worker_poll_interval)
        self._loop = PublishLoop(
            self.app,
            owner=self.worker_id,
            clock=self.clock,
            poll=poll,
            transport=self.transport,
            heartbeat_every=max(poll, timedelta(seconds=5)),
            keep_heartbeat=True,
            stop_when_idle=stop_when_idle,
            on_pass=self._on_pass,
        )
        if self._stop.is_set():
            self._loop.request_stop()
        try:
            loop_stats = await self._loop.run()
        finally:
            self.stats.status = "stopped"
        self._collect(loop_stats)
        return self.stats

    def _on_pass(self, now: datetime) -> None:
        """Before each look at the queue: recover expired leases every ``recover_every``."""
        assert self._loop is not None
        passes = self._loop.stats.passes
        if self._max_passes is not None and passes >= self._max_passes:
            self._loop.request_stop()
            return
        if passes % self.recover_every == 0:
            try:
                report = recover_expired_leases(self.app.db, now=now)
                self.stats.recovered += report.requeued + report.failed_uncertain
            except Exception:
                log.exception("lease recovery failed; trying again later")
        self.stats.passes = passes + 1
        self.stats.last_pass_at = now

    def _collect(self, st: LoopStats) -> None:
        self.stats.passes = st.passes
        self.stats.claimed = st.claimed
        self.stats.published = st.count("completed")
        self.stats.failed = st.count("failed")
        self.stats.retried = st.count("retrying")
        self.stats.deferred = st.count("deferred")
        self.stats.released = st.count("released")


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
