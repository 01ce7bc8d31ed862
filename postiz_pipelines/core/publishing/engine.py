"""Publishing a claimed batch of jobs: when each may go, how many at once, and the call.

Each job waits for its second, then for its account (one job at a time per account, the
rate-limit delay, the account's token bucket) and a concurrency slot; then its intent is
recorded, the platform is called (refreshing an expired token once), and the outcome is
recorded. Everything written to the database is in ``outcomes.py``; the rule is DESIGN's:
intent committed before the irreversible call, outcome right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue, throttle
from postiz_pipelines.core.publishing.config import EngineConfig
from postiz_pipelines.core.publishing.outcomes import JobOutcome, OutcomeRecorder, Work
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import AuthExpired, AuthRevoked, OutcomeUnknown, ProviderError
from postiz_pipelines.providers.base import Provider, PublishResult, TokenSet
from postiz_pipelines.providers.registry import ProviderSet

__all__ = ["BatchReport", "EngineConfig", "JobOutcome", "Publisher"]

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    outcomes: list[JobOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_dict(self) -> dict[str, int]:
        keys = ("completed", "retrying", "failed", "canceled", "deferred", "released", "lost")
        return {"claimed": len(self.outcomes), **{k: self.count(k) for k in keys}}


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
        media_root: Path = Path("."),
        media_url: Callable[[str, str, datetime], str | None] | None = None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self.config = config or EngineConfig()
        self.recorder = OutcomeRecorder(
            db,
            keyring,
            providers,
            clock=clock,
            owner=owner,
            config=self.config,
            media_root=media_root,
            media_url=media_url,
        )
        self._stopping = asyncio.Event()
        self._account_locks: dict[str, asyncio.Lock] = {}
        self._account_next: dict[str, datetime] = {}
        self._buckets: dict[str, throttle.TokenBucket] = {}

    def request_stop(self) -> None:
        """Stop starting jobs; jobs not yet sent are returned to the queue."""
        self._stopping.set()

    async def run(self, jobs: Sequence[PublishJob]) -> BatchReport:
        report = BatchReport()
        sem = asyncio.Semaphore(self.config.concurrency)
        held = {j.id for j in jobs}
        renewer = asyncio.create_task(self._renew_leases(held))

        async def one(job: PublishJob) -> None:
            try:
                outcome = await self._wait_then_publish(job, sem)
            except Exception:
                # e.g. the database went away while recording: the job keeps its lease
                # and its attempt row, and lease recovery resolves it; the batch goes on.
                log.exception("job %s could not be recorded; left to lease recovery", job.id)
                outcome = JobOutcome(job.id, "lost", job.platform, "internal")
            held.discard(job.id)
            report.outcomes.append(outcome)

        try:
            await asyncio.gather(*(one(j) for j in sorted(jobs, key=lambda j: j.next_attempt_at)))
        finally:
            renewer.cancel()
        return report

    async def _renew_leases(self, held: set[str]) -> None:
        interval = max(self.config.lease.total_seconds() / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            ids = list(held)
            if ids:
                await asyncio.to_thread(self._renew, ids)

    def _renew(self, ids: list[str]) -> None:
        with self.db.session() as s:
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
                return await asyncio.to_thread(self.recorder.release, job)
            async with sem:
                return await self._publish(job)

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

    async def _publish(self, job: PublishJob) -> JobOutcome:
        begun = await asyncio.to_thread(self.recorder.begin, job.id)
        if isinstance(begun, JobOutcome):
            return begun
        work = begun
        provider = self.providers.get(work.platform)
        with throttle.observing_rate_headers(self.clock) as seen:
            outcome = await self._call_platform(job, work, provider)
        until = throttle.exhausted_until(seen, now=self.clock.now())
        if until is not None:  # the platform's own headers say this account has no budget left
            await asyncio.to_thread(self.recorder.throttle_account, work, until)
        return outcome

    async def _call_platform(self, job: PublishJob, work: Work, provider: Provider) -> JobOutcome:
        async def save_progress(progress: Mapping[str, object]) -> None:
            await asyncio.to_thread(self.recorder.save_progress, work, dict(progress))

        work.content = replace(work.content, save_progress=save_progress)
        try:
            result: PublishResult | None = None
            if work.recheck_first:
                found = await provider.find_recent(
                    work.credentials,
                    since=job.run_at - timedelta(minutes=5),
                    text=work.content.text,
                    idempotency_key=work.idempotency_key,
                )
                if found is not None:
                    result = PublishResult(remote_id=found.remote_id, url=found.url)
            if result is None:
                result = await self._publish_refreshing(provider, work)
        except ProviderError as exc:
            return await asyncio.to_thread(self.recorder.finish_error, work, exc)
        except Exception as exc:  # a bug after the request may have left: outcome unknown
            log.exception("unexpected error publishing job %s", work.job_id)
            unknown = OutcomeUnknown(f"unexpected {type(exc).__name__}", platform=work.platform)
            return await asyncio.to_thread(self.recorder.finish_error, work, unknown)
        return await asyncio.to_thread(self.recorder.finish_success, work, result)

    async def _publish_refreshing(self, provider: Provider, work: Work) -> PublishResult:
        try:
            return await provider.publish(
                work.credentials, work.content, idempotency_key=work.idempotency_key
            )
        except AuthExpired:
            tokens = await self._refresh(provider, work)
            work.credentials.access_token = tokens.access_token
            work.credentials.token_expires_at = tokens.expires_at
            if tokens.refresh_token is not None:
                work.credentials.refresh_token = tokens.refresh_token
            return await provider.publish(
                work.credentials, work.content, idempotency_key=work.idempotency_key
            )

    async def _refresh(self, provider: Provider, work: Work) -> TokenSet:
        try:
            tokens = await provider.refresh(work.credentials)
        except ProviderError as exc:
            await asyncio.to_thread(self.recorder.record_refresh, work, None, exc)
            raise AuthRevoked(
                f"token expired and refresh failed: {exc.message}",
                platform=work.platform,
                status=exc.status,
                code=exc.code,
            ) from exc
        await asyncio.to_thread(self.recorder.record_refresh, work, tokens, None)
        return tokens
