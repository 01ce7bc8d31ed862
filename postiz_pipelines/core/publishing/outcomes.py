"""Recording what happens to a job, transaction by transaction (the engine's state machine).

``begin`` writes the intent (an attempt row ``sending``, the attempt counted) and commits
before the platform call; ``finish_success`` / ``finish_error`` write the outcome right after,
with its analytics event and audit row in the same transaction. Every transition is fenced
on the lease owner, and each of these transactions is retried whole on a transient database
error, so a post the platform accepted is not turned into an uncertain outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.accounts.store import credentials, store_tokens
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.db import Database, retry_transient_db
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.assets import media_file
from postiz_pipelines.core.models import (
    AccountStatus,
    AttemptOutcome,
    JobStatus,
    MediaAsset,
    Post,
    PostStatus,
    PostTarget,
    PublishAttempt,
    PublishJob,
    SocialAccount,
    TargetStatus,
)
from postiz_pipelines.core.publishing import breaker, queue, throttle
from postiz_pipelines.core.publishing.post_status import settle_post_status
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import (
    AuthRevoked,
    OutcomeUnknown,
    PartiallyPublished,
    PostizError,
    ProviderError,
    RateLimited,
    StillProcessing,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    IdempotencyMode,
    MediaFile,
    PostContent,
    PublishResult,
    TokenSet,
)
from postiz_pipelines.providers.registry import ProviderSet

if TYPE_CHECKING:
    from postiz_pipelines.core.publishing.config import EngineConfig


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    status: str  # completed | retrying | failed | canceled | deferred | released | lost
    platform: str = ""
    error_class: str | None = None
    error: str | None = None
    remote_id: str | None = None


@dataclass
class Work:
    """One claimed job as it is being published: its intent is recorded, its call is next."""

    job_id: str
    attempt_id: str
    platform: str
    account_id: str
    idempotency_key: str
    credentials: AccountCredentials
    content: PostContent
    recheck_first: bool  # the previous try's outcome is unknown and the platform allows a lookup
    started: float


class OutcomeRecorder:
    """The database side of publishing the jobs ``owner`` has claimed."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        providers: ProviderSet,
        *,
        clock: Clock,
        owner: str,
        config: EngineConfig,
        media_root: Path,
        media_url: Callable[[str, str, datetime], str | None] | None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self.config = config
        self.media_root = media_root
        self.media_url = media_url  # signed public links, for platforms that fetch media

    def release(self, job: PublishJob) -> JobOutcome:
        with self.db.session() as s:
            queue.release(s, [job.id], owner=self.owner, now=self.clock.now())
        return JobOutcome(job.id, "released", job.platform)

    # -- one job --------------------------------------------------------------------------
    def throttle_account(self, work: Work, until: datetime) -> None:
        with self.db.session() as s:
            throttle.impose(
                s,
                throttle.account_scope(work.account_id),
                until=until,
                reason="the platform's rate-limit headers: no calls remain",
                now=self.clock.now(),
            )

    def record_refresh(
        self, work: Work, tokens: TokenSet | None, error: ProviderError | None
    ) -> None:
        now = self.clock.now()
        with self.db.session() as s:
            account = s.get(SocialAccount, work.account_id)
            assert account is not None
            if tokens is not None:
                store_tokens(account, tokens, self.keyring, now=now)
                record_event(
                    s,
                    EventType.TOKEN_REFRESHED,
                    now=now,
                    workspace_id=account.workspace_id,
                    platform=work.platform,
                    account_id=account.id,
                    job_id=work.job_id,
                )
            else:
                account.status = AccountStatus.EXPIRED
                record_event(
                    s,
                    EventType.TOKEN_REFRESH_FAILED,
                    now=now,
                    workspace_id=account.workspace_id,
                    platform=work.platform,
                    account_id=account.id,
                    job_id=work.job_id,
                    error=str(error.message if error else ""),
                    code=error.code if error else None,
                )

    @retry_transient_db
    def begin(self, job_id: str) -> Work | JobOutcome:
        """Load the job and write the intent (attempt ``sending``) in one committed transaction."""
        now = self.clock.now()
        with self.db.session() as s:
            job = s.scalar(
                select(PublishJob).where(
                    PublishJob.id == job_id,
                    PublishJob.status == JobStatus.RUNNING,
                    PublishJob.lease_owner == self.owner,
                )
            )
            if job is None:
                return JobOutcome(job_id, "lost")
            target = s.get(PostTarget, job.target_id)
            post = s.get(Post, job.post_id)
            account = s.get(SocialAccount, job.account_id)
            assert target is not None and post is not None and account is not None
            if (
                post.deleted_at is not None
                or post.status == PostStatus.CANCELED
                or target.status == TargetStatus.CANCELED
            ):
                job.status = JobStatus.CANCELED
                job.lease_owner = None
                job.completed_at = now
                return JobOutcome(job_id, "canceled", job.platform)
            if account.status != AccountStatus.ACTIVE or account.deleted_at is not None:
                return self.fail_now(
                    s,
                    job,
                    target,
                    post,
                    now,
                    f"account {account.handle} is {account.status}; reconnect it",
                    "auth_revoked",
                )
            deferred = self.gate(s, job, now)
            if deferred is not None:
                return deferred
            try:
                creds = credentials(account, self.keyring)
            except PostizError as exc:
                return self.fail_now(s, job, target, post, now, str(exc), "sealing")
            last = s.scalar(
                select(PublishAttempt)
                .where(PublishAttempt.job_id == job.id)
                .order_by(PublishAttempt.attempt_no.desc())
                .limit(1)
            )
            mode = self.providers.get(job.platform).capabilities.idempotency
            recheck = bool(
                last and last.outcome == AttemptOutcome.UNCERTAIN and mode == IdempotencyMode.LOOKUP
            )
            thread = tuple((post.settings or {}).get("thread") or ())
            content = PostContent(
                text=target.content_override
                if target.content_override is not None
                else post.content,
                media=tuple(self.media(pm.asset, now) for pm in post.media),
                thread=thread,
                settings={**(post.settings or {}), **(target.settings_override or {})},
                progress=dict(job.progress or {}),
            )
            job.attempts += 1
            job.updated_at = now
            attempt = PublishAttempt(
                id=new_id("att"),
                job_id=job.id,
                attempt_no=job.attempts,
                lease_owner=self.owner,
                request_key=job.idempotency_key,
                started_at=now,
                outcome=AttemptOutcome.SENDING,
            )
            s.add(attempt)
            if post.status == PostStatus.SCHEDULED:
                post.status = PostStatus.PUBLISHING
            return Work(
                job_id=job.id,
                attempt_id=attempt.id,
                platform=job.platform,
                account_id=account.id,
                idempotency_key=job.idempotency_key,
                credentials=creds,
                content=content,
                recheck_first=recheck,
                started=time.monotonic(),
            )

    @retry_transient_db
    def save_progress(self, work: Work, progress: dict[str, object]) -> None:
        """Merge what the platform call has reached into the job and commit it, before the
        provider waits on the platform; a key given as None is forgotten. Not fenced on the
        lease: it records a fact on the platform's side, which the job's next owner (or a
        person) needs whoever wrote it."""
        with self.db.session() as s:
            job = s.get(PublishJob, work.job_id)
            if job is not None:
                merged = {**(job.progress or {}), **progress}
                job.progress = {k: v for k, v in merged.items() if v is not None}
                job.updated_at = self.clock.now()

    def gate(self, s: Session, job: PublishJob, now: datetime) -> JobOutcome | None:
        """Defer the job, untried, while the platform throttles the account or the breaker is
        open."""
        scopes = [throttle.account_scope(job.account_id), throttle.platform_scope(job.platform)]
        until = throttle.blocked_until(s, scopes, now=now)
        reason = "rate limited by the platform"
        if until is None:
            g = breaker.gate(
                s, job.platform, owner=f"{self.owner}:{job.id}", now=now, policy=self.config.breaker
            )
            if not g.allow:
                until, reason = g.until, f"circuit breaker for {job.platform} is open"
        if until is None:
            return None
        queue.defer(s, job.id, owner=self.owner, now=now, until=until, reason=reason)
        return JobOutcome(job.id, "deferred", job.platform, "deferred", reason)

    def media(self, asset: MediaAsset, now: datetime) -> MediaFile:
        file = media_file(asset, self.media_root)
        url = self.media_url(asset.id, asset.mime_type, now) if self.media_url else None
        return replace(file, public_url=url) if url else file

    def fail_now(
        self,
        s: Session,
        job: PublishJob,
        target: PostTarget,
        post: Post,
        now: datetime,
        error: str,
        error_class: str,
    ) -> JobOutcome:
        queue.fail(s, job.id, owner=self.owner, now=now, error=error, error_class=error_class)
        target.status = TargetStatus.FAILED
        settle_post_status(s, post)
        record_event(
            s,
            EventType.POST_PUBLISH_FAILED,
            now=now,
            workspace_id=job.workspace_id,
            platform=job.platform,
            account_id=job.account_id,
            post_id=job.post_id,
            job_id=job.id,
            error_class=error_class,
            error=error,
        )
        return JobOutcome(job.id, "failed", job.platform, error_class, error)

    @retry_transient_db
    def finish_success(self, work: Work, result: PublishResult) -> JobOutcome:
        now = self.clock.now()
        with self.db.session() as s:
            attempt = s.get(PublishAttempt, work.attempt_id)
            assert attempt is not None
            attempt.outcome = AttemptOutcome.SUCCEEDED
            attempt.finished_at = now
            attempt.remote_id = result.remote_id
            attempt.remote_url = result.url
            attempt.http_status = result.http_status
            attempt.duration_ms = int((time.monotonic() - work.started) * 1000)
            job = queue.complete(
                s, work.job_id, owner=self.owner, now=now, remote_id=result.remote_id
            )
            if job is None:
                # Our lease was taken (recovered as expired) while we were sending; the post
                # is out, so record it on the job whatever state recovery left it in.
                job = s.get(PublishJob, work.job_id)
                assert job is not None
                job.status = JobStatus.COMPLETED
                job.remote_id = result.remote_id
                job.completed_at = now
                job.lease_owner = None
            breaker.record_success(s, job.platform, now=now)
            if result.account_updates:
                _apply_account_updates(s, job, dict(result.account_updates), now, self.owner)
            target = s.get(PostTarget, job.target_id)
            post = s.get(Post, job.post_id)
            assert target is not None and post is not None
            target.status = TargetStatus.PUBLISHED
            target.remote_id = result.remote_id
            target.remote_url = result.url
            target.published_at = now
            settle_post_status(s, post)
            record_event(
                s,
                EventType.POST_PUBLISHED,
                now=now,
                workspace_id=job.workspace_id,
                platform=job.platform,
                account_id=job.account_id,
                post_id=job.post_id,
                job_id=job.id,
                remote_id=result.remote_id,
                attempt=attempt.attempt_no,
                latency_s=round((now - job.run_at).total_seconds(), 3),
            )
            audit(
                s,
                actor=f"engine:{self.owner}",
                action="post.publish",
                object_type="publish_job",
                object_id=job.id,
                workspace_id=job.workspace_id,
                now=now,
                remote_id=result.remote_id,
            )
            return JobOutcome(job.id, "completed", job.platform, remote_id=result.remote_id)

    @retry_transient_db
    def finish_error(self, work: Work, exc: ProviderError) -> JobOutcome:
        now = self.clock.now()
        with self.db.session() as s:
            attempt = s.get(PublishAttempt, work.attempt_id)
            job = s.get(PublishJob, work.job_id)
            assert attempt is not None and job is not None
            uncertain = isinstance(exc, OutcomeUnknown)
            attempt.outcome = AttemptOutcome.UNCERTAIN if uncertain else AttemptOutcome.FAILED
            attempt.finished_at = now
            attempt.http_status = exc.status
            attempt.error_class = exc.error_class
            attempt.error_code = exc.code
            attempt.error_message = exc.message[:2000]
            attempt.duration_ms = int((time.monotonic() - work.started) * 1000)
            self.note_platform_health(s, job, exc, now)
            mode = self.providers.get(work.platform).capabilities.idempotency
            error_class = exc.error_class
            retry = exc.retryable and job.attempts < job.max_attempts
            if isinstance(exc, PartiallyPublished):
                attempt.remote_id = exc.remote_id  # what did go out, for the person who decides
            elif uncertain and unresolvable(mode, job):
                retry, error_class = False, "uncertain_outcome"
            elif isinstance(exc, StillProcessing):
                retry = True  # a look, not a resubmission; the provider bounds the looking
            if retry:
                retry_after = (
                    exc.retry_after if isinstance(exc, (RateLimited, StillProcessing)) else None
                )
                delay = self.config.retry.delay(job.attempts, retry_after=retry_after)
                if (
                    queue.schedule_retry(
                        s,
                        job.id,
                        owner=self.owner,
                        now=now,
                        delay=delay,
                        error=exc.message,
                        error_class=error_class,
                    )
                    is None
                ):
                    return JobOutcome(job.id, "lost", job.platform, error_class, exc.message)
                record_event(
                    s,
                    EventType.POST_PUBLISH_RETRYING,
                    now=now,
                    workspace_id=job.workspace_id,
                    platform=job.platform,
                    account_id=job.account_id,
                    post_id=job.post_id,
                    job_id=job.id,
                    error_class=error_class,
                    attempt=job.attempts,
                    delay_s=round(delay.total_seconds(), 1),
                )
                return JobOutcome(job.id, "retrying", job.platform, error_class, exc.message)
            reason = exc.message
            if exc.retryable and not uncertain:
                reason = f"attempts exhausted ({job.attempts}/{job.max_attempts}): {exc.message}"
            if error_class == "uncertain_outcome":
                reason = (
                    f"the platform may or may not have published this post ({exc.message}); "
                    f"{work.platform} offers no way to check, so a person must decide"
                )
            if isinstance(exc, AuthRevoked):
                account = s.get(SocialAccount, job.account_id)
                if account is not None and account.status == AccountStatus.ACTIVE:
                    account.status = AccountStatus.REVOKED
            if (
                queue.fail(
                    s, job.id, owner=self.owner, now=now, error=reason, error_class=error_class
                )
                is None
            ):
                return JobOutcome(job.id, "lost", job.platform, error_class, reason)
            target = s.get(PostTarget, job.target_id)
            post = s.get(Post, job.post_id)
            assert target is not None and post is not None
            target.status = TargetStatus.FAILED
            settle_post_status(s, post)
            record_event(
                s,
                EventType.POST_PUBLISH_FAILED,
                now=now,
                workspace_id=job.workspace_id,
                platform=job.platform,
                account_id=job.account_id,
                post_id=job.post_id,
                job_id=job.id,
                error_class=error_class,
                error=reason[:500],
                http_status=exc.status,
                code=exc.code,
            )
            audit(
                s,
                actor=f"engine:{self.owner}",
                action="post.publish_failed",
                object_type="publish_job",
                object_id=job.id,
                workspace_id=job.workspace_id,
                now=now,
                error_class=error_class,
            )
            return JobOutcome(job.id, "failed", job.platform, error_class, reason)

    def note_platform_health(
        self, s: Session, job: PublishJob, exc: ProviderError, now: datetime
    ) -> None:
        """A 429 throttles the account for everyone; an outage-like failure feeds the breaker."""
        if isinstance(exc, RateLimited):
            wait = (
                exc.retry_after if exc.retry_after is not None else self.config.retry.base_seconds
            )
            scope = (
                throttle.platform_scope(job.platform)
                if exc.scope == "platform"
                else throttle.account_scope(job.account_id)
            )
            throttle.impose(
                s,
                scope,
                until=now + timedelta(seconds=wait),
                reason=exc.message,
                now=now,
            )
        elif isinstance(exc, TransientError):
            # an opened breaker is raised as an alert by the alerts sensor (event + webhook)
            breaker.record_failure(
                s, job.platform, now=now, error=exc.message, policy=self.config.breaker
            )


def unresolvable(mode: IdempotencyMode, job: PublishJob) -> bool:
    """Whether an uncertain outcome of ``job`` cannot be checked: the platform has no key,
    id or lookup, or (``stored_id``) the try died before the platform's id was saved."""
    if mode == IdempotencyMode.NONE:
        return True
    return mode == IdempotencyMode.STORED_ID and not job.progress


def _apply_account_updates(
    s: Session, job: PublishJob, updates: dict[str, str], now: datetime, owner: str
) -> None:
    """Keep what the platform said changed (e.g. a Telegram chat's new id) for the next post."""
    account = s.get(SocialAccount, job.account_id)
    if account is None:
        return
    before = {"external_id": account.external_id}
    if "external_id" in updates:
        account.external_id = updates["external_id"]
    account.updated_at = now
    audit(
        s,
        actor=f"engine:{owner}",
        action="account.platform_update",
        object_type="social_account",
        object_id=account.id,
        workspace_id=account.workspace_id,
        now=now,
        before=before,
        after=updates,
    )
