"""Publishing a claimed batch of jobs: when each may go, how many at once, and the call.

Each job waits for its second, then for its account (one job at a time per account, the
rate-limit delay, the account's token bucket) and a concurrency slot; then its intent is
recorded, the platform is called (refreshing an expired token once), and the outcome is
recorded. The slot is held for the intent and the call; it serves the next call while the
outcome is written (the account's lock and the job's lease are kept until it is). When an
earlier attempt's outcome is unknown the attempt reads back first (``readback.py``) and
publishes only if the read-back found nothing. Everything written to the database is in
``intent.py`` and ``outcomes.py``; the rule is DESIGN's: intent committed before the
irreversible call, outcome right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.media.delivery import MediaDelivery
from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue, throttle, token_refresh
from postiz_pipelines.core.publishing.config import EngineConfig
from postiz_pipelines.core.publishing.group_commit import GroupCommit
from postiz_pipelines.core.publishing.intent import IntentWriter
from postiz_pipelines.core.publishing.media_prep import prepare_job_media
from postiz_pipelines.core.publishing.outcomes import (
    JobOutcome,
    OutcomeRecorder,
    OutcomeStatus,
    Work,
)
from postiz_pipelines.core.publishing.readback import Plan
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import (
    AuthExpired,
    OutcomeUnknown,
    ProviderError,
    TransientError,
)
from postiz_pipelines.providers.base import Provider, PublishResult, RemotePost, TokenSet
from postiz_pipelines.providers.registry import ProviderSet

__all__ = ["BatchReport", "EngineConfig", "JobOutcome", "OutcomeStatus", "Publisher"]

READBACK_SINCE = timedelta(minutes=5)  # how far before the job's due time a read-back looks

log = logging.getLogger(__name__)


class _Slot:
    """One of the engine's concurrency slots (platform calls at once), freed once: when the
    publish call returns, or when the job is done without one."""

    def __init__(self, sem: asyncio.Semaphore) -> None:
        self._sem = sem
        self._held = False

    async def take(self) -> None:
        await self._sem.acquire()
        self._held = True

    def free(self) -> None:
        if self._held:
            self._held = False
            self._sem.release()


@dataclass
class BatchReport:
    outcomes: list[JobOutcome] = field(default_factory=list)

    def count(self, status: OutcomeStatus | str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_dict(self) -> dict[str, int]:
        return {"claimed": len(self.outcomes), **{s.value: self.count(s) for s in OutcomeStatus}}


class Publisher:
    """Publishes jobs that ``owner`` has claimed."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        providers: ProviderSet,
        *,
        clock: Clock,
        owner: str,
        config: EngineConfig | None = None,
        media: MediaDelivery | None = None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self.config = config or EngineConfig()
        # every write goes through writer threads, grouped: see group_commit.py
        self.writes = GroupCommit(db, writers=self.config.concurrency)
        self.intents = IntentWriter(
            self.writes.db,
            keyring,
            providers,
            clock=clock,
            owner=owner,
            config=self.config,
            media=media,
        )
        self.media = media
        self.recorder = OutcomeRecorder(
            self.writes.db, keyring, providers, clock=clock, owner=owner, config=self.config
        )
        self._stopping = asyncio.Event()
        self._account_locks: dict[str, asyncio.Lock] = {}
        self._account_next: dict[str, datetime] = {}
        self._buckets: dict[str, throttle.TokenBucket] = {}
        self._sem = asyncio.Semaphore(self.config.concurrency)
        self._held: set[str] = set()  # claimed and not yet recorded: their leases are renewed
        self._renewer: asyncio.Task[None] | None = None

    def request_stop(self) -> None:
        """Stop starting jobs; jobs not yet sent are returned to the queue."""
        self._stopping.set()

    @property
    def in_flight(self) -> int:
        """Jobs handed to ``publish_one`` whose outcome is not recorded yet."""
        return len(self._held)

    async def run(self, jobs: Sequence[PublishJob]) -> BatchReport:
        """Publish a claimed batch, each job at its second; returns when all are recorded."""
        report = BatchReport()
        try:
            await self.prepare_media([j.id for j in jobs])
            ordered = sorted(jobs, key=lambda j: j.next_attempt_at)
            report.outcomes.extend(await asyncio.gather(*(self.publish_one(j) for j in ordered)))
        finally:
            await self.aclose()
        return report

    async def prepare_media(self, job_ids: list[str]) -> None:
        """Make the claimed jobs' media variants before their calls, so publishing only
        uploads (``media_prep``)."""
        if self.media is not None and job_ids:
            await asyncio.to_thread(prepare_job_media, self.media, job_ids, now=self.clock.now())

    async def publish_one(self, job: PublishJob) -> JobOutcome:
        """Publish one claimed job at its second (or give it back if stopping); never raises
        but for cancellation. The lease is renewed until the outcome is recorded."""
        self._held.add(job.id)
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_leases(self._held))
        # every log record of this job (this task's context) names it
        structlog.contextvars.bind_contextvars(
            job_id=job.id,
            workspace_id=job.workspace_id,
            platform=job.platform,
            account_id=job.account_id,
        )
        try:
            outcome = await self._wait_then_publish(job, self._sem)
        except Exception:
            # e.g. the database went away while recording: the job keeps its lease
            # and its attempt row, and lease recovery resolves it; the batch goes on.
            log.exception("job %s could not be recorded; left to lease recovery", job.id)
            outcome = JobOutcome(job.id, OutcomeStatus.LOST, job.platform, "internal")
        finally:
            self._held.discard(job.id)
        # a failure is worth a line at the default level; the rest is detail
        log.log(
            logging.WARNING
            if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.LOST)
            else logging.DEBUG,
            "job %s %s on %s (account %s)%s",
            job.id,
            outcome.status,
            job.platform,
            job.account_id,
            f": {outcome.error_class}" if outcome.error_class else "",
        )
        return outcome

    async def aclose(self) -> None:
        """Stop renewing leases and the writer threads (when no job is in flight any more)."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        await asyncio.to_thread(self.writes.close)

    async def _renew_leases(self, held: set[str]) -> None:
        interval = max(self.config.lease.total_seconds() / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            ids = list(held)
            if ids:
                await self.writes.run(self._renew, ids)

    def _renew(self, ids: list[str]) -> None:
        with self.writes.db.session() as s:
            queue.renew_leases(
                s, ids, owner=self.owner, now=self.clock.now(), lease=self.config.lease
            )

    async def _wait_then_publish(self, job: PublishJob, sem: asyncio.Semaphore) -> JobOutcome:
        await self._sleep_until_or_stop(job.next_attempt_at)
        # One job at a time per account: posts keep their order, and a 429 or a revoked
        # token seen by one job is in the database before the account's next job begins.
        lock = self._account_locks.setdefault(job.account_id, asyncio.Lock())
        async with lock:
            if not self._stopping.is_set():
                await self._space_account(job.account_id, job.platform)
            if self._stopping.is_set():
                return await self.writes.run(self.intents.release, job)
            slot = _Slot(sem)
            await slot.take()
            try:
                return await self._publish(job, slot)
            finally:
                slot.free()

    async def _sleep_until_or_stop(self, when: datetime) -> None:
        sleeper = asyncio.create_task(self.clock.sleep_until(when))
        stopper = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()

    async def _space_account(self, account_id: str, platform: str) -> None:
        """POSTIZ_WORKER_RATE_LIMIT_DELAY between two jobs on the same account, and the
        account's token bucket (the platform's default budget). Called under the account lock."""
        ready = self._account_next.get(account_id)
        if ready is not None:
            await self._sleep_until_or_stop(ready)
        if self.config.token_buckets:
            bucket = self._buckets.get(account_id)
            if bucket is None:
                rl = self.providers.get(platform).capabilities.rate_limit
                bucket = self._buckets[account_id] = throttle.TokenBucket(
                    rl.requests, rl.per_seconds, self.clock
                )
            await bucket.acquire()
        self._account_next[account_id] = self.clock.now() + timedelta(
            seconds=self.config.account_spacing_seconds
        )

    async def _publish(self, job: PublishJob, slot: _Slot) -> JobOutcome:
        begun = await self.writes.run(self.intents.begin, job.id)
        if isinstance(begun, JobOutcome):
            return begun
        work = begun
        provider = self.providers.get(work.platform)
        with throttle.observing_rate_headers(self.clock) as seen:
            outcome = await self._call_platform(work, provider, slot)
        until = throttle.exhausted_until(seen, now=self.clock.now())
        if until is not None:  # the platform's own headers say this account has no budget left
            await self.writes.run(self.recorder.throttle_account, work, until)
        return outcome

    async def _call_platform(self, work: Work, provider: Provider, slot: _Slot) -> JobOutcome:
        """Read back first when the plan says so; publish only if that found nothing."""

        async def save_progress(progress: Mapping[str, object]) -> None:
            await asyncio.to_thread(self.recorder.save_progress, work, dict(progress))

        work.content = replace(work.content, save_progress=save_progress)
        if work.plan != Plan.PUBLISH:
            try:
                found = await self._read_back(provider, work)
            except ProviderError as exc:  # a read: never an unknown outcome of a publish
                return await self.writes.run(self.recorder.finish_readback_error, work, exc)
            except Exception as exc:  # a bug in the read: nothing was published
                log.exception("unexpected error reading back job %s", work.job_id)
                failed = TransientError(f"unexpected {type(exc).__name__}", platform=work.platform)
                return await self.writes.run(self.recorder.finish_readback_error, work, failed)
            if found is not None:
                result = PublishResult(remote_id=found.remote_id, url=found.url)
                return await self.writes.run(self._finish_found, work, result)
            closed = await self.writes.run(self.recorder.readback_absent, work)
            if closed is not None:  # read-back only, or the lease was taken meanwhile
                return closed
        try:
            try:
                result = await self._with_refresh(provider, work, self._publish_call)
            finally:
                # the call is over: its slot serves the next call while this outcome is
                # written (the account's lock and the job's lease are held until it is)
                slot.free()
        except ProviderError as exc:
            return await self.writes.run(self.recorder.finish_error, work, exc)
        except Exception as exc:  # a bug after the request may have left: outcome unknown
            log.exception("unexpected error publishing job %s", work.job_id)
            unknown = OutcomeUnknown(f"unexpected {type(exc).__name__}", platform=work.platform)
            return await self.writes.run(self.recorder.finish_error, work, unknown)
        return await self.writes.run(self.recorder.finish_success, work, result)

    def _finish_found(self, work: Work, result: PublishResult) -> JobOutcome:
        return self.recorder.finish_success(work, result, found=True)

    async def _read_back(self, provider: Provider, work: Work) -> RemotePost | None:
        return await self._with_refresh(provider, work, self._find_call)

    async def _find_call(self, provider: Provider, work: Work) -> RemotePost | None:
        return await provider.find_recent(
            work.credentials,
            since=work.run_at - READBACK_SINCE,
            text=work.content.text,
            idempotency_key=work.idempotency_key,
        )

    async def _publish_call(self, provider: Provider, work: Work) -> PublishResult:
        return await provider.publish(
            work.credentials, work.content, idempotency_key=work.idempotency_key
        )

    async def _with_refresh(self, provider: Provider, work: Work, call: Callable[..., Any]) -> Any:
        """``call(provider, work)``, refreshing an expired token once and calling again."""
        try:
            return await call(provider, work)
        except AuthExpired:
            tokens = await self._refresh(provider, work)
            work.credentials.access_token = tokens.access_token
            work.credentials.token_expires_at = tokens.expires_at
            if tokens.refresh_token is not None:
                work.credentials.refresh_token = tokens.refresh_token
            return await call(provider, work)

    async def _refresh(self, provider: Provider, work: Work) -> TokenSet:
        """One refresher per account (``token_refresh``); raises ``AuthRevoked`` only on the
        platform's permanent refusal, ``RefreshDeferred`` when the job should wait."""
        return await token_refresh.refresh_for_job(
            self.writes.db,
            self.keyring,
            provider,
            account_id=work.account_id,
            job_id=work.job_id,
            used_token=work.credentials.access_token,
            now=self.clock.now(),
            owner=self.owner,
        )
