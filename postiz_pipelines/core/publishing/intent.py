"""Writing a claimed job's intent, before any platform call.

``begin`` loads the claimed job (fenced on the lease owner), closes it at once where no call
may be made (post canceled, account removed, secrets unreadable, attempts spent), holds it
untried while its account needs reconnecting (``hold.py``), defers
it untried while the platform throttles the account or the breaker is open, plans the attempt
by the read-back rule (``readback.py``), and commits the attempt row ``sending`` (and, for a
plain publish, the counted attempt) before the engine calls the platform.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exists, literal, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from postiz_pipelines.clock import Clock, ensure_utc
from postiz_pipelines.core.accounts.store import credentials
from postiz_pipelines.core.db import Database, retry_transient_db
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.assets import media_file
from postiz_pipelines.core.media.delivery import MediaDelivery, NotPrepared
from postiz_pipelines.core.models import (
    AccountStatus,
    AttemptOutcome,
    BreakerState,
    CircuitBreaker,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    PublishAttempt,
    PublishJob,
    SocialAccount,
    TargetStatus,
    Throttle,
)
from postiz_pipelines.core.publishing import breaker, hold, queue, quota, readback, throttle
from postiz_pipelines.core.publishing.outcomes import JobOutcome, OutcomeStatus, Work, dead_letter
from postiz_pipelines.core.publishing.readback import Action, Plan, Verdict
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import PostizError
from postiz_pipelines.providers.base import MediaFile, MediaLimits, PostContent
from postiz_pipelines.providers.registry import ProviderSet

if TYPE_CHECKING:
    from postiz_pipelines.core.publishing.config import EngineConfig


MEDIA_RETRY = timedelta(minutes=1)  # a variant not made yet: its preparation is retried
_ACCOUNT_THROTTLE = aliased(Throttle)
_PLATFORM_THROTTLE = aliased(Throttle)


@dataclass(frozen=True)
class Health:
    """What the claimed job's load saw of its throttles and its platform's breaker."""

    blocked_until: datetime | None
    breaker_state: str | None  # None: the platform has no breaker row yet
    breaker_failures: int

    @property
    def breaker_clean(self) -> bool:
        """Closed with no failure counted: a success has nothing to reset."""
        return self.breaker_state in (None, BreakerState.CLOSED) and not self.breaker_failures

    def clear(self, now: datetime) -> bool:
        """Nothing to wait for: the gate (which may take the breaker's probe) is not needed."""
        blocked = self.blocked_until is not None and ensure_utc(self.blocked_until) > now
        return not blocked and self.breaker_state in (None, BreakerState.CLOSED)


def load_claimed(
    s: Session, job_id: str, owner: str
) -> tuple[PublishJob, PostTarget, Post, SocialAccount, Health] | None:
    """The claimed job (fenced on ``owner``) with its target, post, account, throttles and
    breaker, in one statement; None without the lease."""
    row = s.execute(
        select(
            PublishJob,
            PostTarget,
            Post,
            SocialAccount,
            _ACCOUNT_THROTTLE.blocked_until,
            _PLATFORM_THROTTLE.blocked_until,
            CircuitBreaker.state,
            CircuitBreaker.consecutive_failures,
            exists().where(PostMedia.post_id == PublishJob.post_id),
        )
        .join(PostTarget, PostTarget.id == PublishJob.target_id)
        .join(Post, Post.id == PublishJob.post_id)
        .join(SocialAccount, SocialAccount.id == PublishJob.account_id)
        .outerjoin(
            _ACCOUNT_THROTTLE,
            _ACCOUNT_THROTTLE.scope == literal("account:") + PublishJob.account_id,
        )
        .outerjoin(
            _PLATFORM_THROTTLE,
            _PLATFORM_THROTTLE.scope == literal("platform:") + PublishJob.platform,
        )
        .outerjoin(CircuitBreaker, CircuitBreaker.platform == PublishJob.platform)
        .where(queue.held_by(job_id, owner))
    ).one_or_none()
    if row is None:
        return None
    job, target, post, account, account_until, platform_until, state, failures, media = row
    untils = [u for u in (account_until, platform_until) if u is not None]
    health = Health(max(untils, key=ensure_utc) if untils else None, state, failures or 0)
    if not media:  # a text post: its (empty) media list is known without loading it
        set_committed_value(post, "media", [])
    return job, target, post, account, health


class IntentWriter:
    """The database side of starting an attempt on the jobs ``owner`` has claimed."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        providers: ProviderSet,
        *,
        clock: Clock,
        owner: str,
        config: EngineConfig,
        media: MediaDelivery | None = None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self.config = config
        self.delivery = media  # prepared variants, and links for platforms that fetch media

    def release(self, job: PublishJob) -> JobOutcome:
        """Hand an unstarted claim back (the run is stopping)."""
        with self.db.session() as s:
            queue.release(s, [job.id], owner=self.owner, now=self.clock.now())
        return JobOutcome(job.id, OutcomeStatus.RELEASED, job.platform)

    @retry_transient_db
    def begin(self, job_id: str) -> Work | JobOutcome:
        """Load the job, plan the attempt and write its intent, in one committed transaction."""
        now = self.clock.now()
        with self.db.session() as s:
            loaded = load_claimed(s, job_id, self.owner)
            if loaded is None:
                return JobOutcome(job_id, OutcomeStatus.LOST)
            job, target, post, account, health = loaded
            if (
                post.deleted_at is not None
                or post.status == PostStatus.CANCELED
                or target.status == TargetStatus.CANCELED
            ):
                queue.cancel_claimed(s, job.id, owner=self.owner, now=now)
                return JobOutcome(job_id, OutcomeStatus.CANCELED, job.platform)
            history = readback.load_history(s, job.id)
            if hold.needs_reconnect(account.status) and account.deleted_at is None:
                held = hold.hold_claimed_job(s, job, owner=self.owner, now=now)
                status = OutcomeStatus.HELD if held else OutcomeStatus.LOST
                return JobOutcome(job.id, status, job.platform, hold.HELD_RECONNECT)
            if account.status != AccountStatus.ACTIVE or account.deleted_at is not None:
                error = f"account {account.handle} is {account.status}; reconnect it"
                return self.fail_now(s, job, now, error, "auth_revoked", history)
            if not health.clear(now):  # throttled, or a breaker not plainly closed
                deferred = self.gate(s, job, now)
                if deferred is not None:
                    return deferred
            try:
                creds = credentials(account, self.keyring)
            except PostizError as exc:
                return self.fail_now(s, job, now, str(exc), "sealing", history)
            provider = self.providers.get(job.platform)
            plan = readback.plan_attempt(
                history,
                mode=provider.capabilities.idempotency,
                reads_back=provider.reads_back(),
                publishes=job.attempts,
                max_attempts=job.max_attempts,
                now=now,
                platform=job.platform,
                key_ttl=provider.capabilities.key_ttl,
            )
            if plan is None:
                overdue = readback.processing_overdue(history, platform=job.platform, now=now)
                if overdue is not None:  # still processing for too long: it may be live
                    return self.fail_now(s, job, now, overdue, readback.UNCERTAIN_OUTCOME, history)
                ttl = provider.capabilities.key_ttl
                if ttl is not None and readback.key_lapsed(
                    history, mode=provider.capabilities.idempotency, key_ttl=ttl, now=now
                ):  # the platform has forgotten the key: sending again could post twice
                    lapsed = readback.key_lapsed_reason(job.platform, ttl)
                    return self.fail_now(s, job, now, lapsed, readback.UNCERTAIN_OUTCOME, history)
                error = f"attempts exhausted ({job.attempts}/{job.max_attempts})"
                return self.fail_now(s, job, now, error, "exhausted", history)
            thread = tuple((post.settings or {}).get("thread") or ())
            try:
                files = tuple(
                    self.media(s, pm.asset, job.platform, provider.media_limits(creds), now)
                    for pm in post.media
                )
            except NotPrepared as exc:
                until = now + MEDIA_RETRY
                queue.defer(s, job.id, owner=self.owner, now=now, until=until, reason=str(exc))
                return JobOutcome(
                    job.id, OutcomeStatus.DEFERRED, job.platform, "deferred", str(exc)
                )
            except ValueError as exc:
                return self.fail_now(s, job, now, str(exc), "media_rejected", history)
            content = PostContent(
                text=target.content_override
                if target.content_override is not None
                else post.content,
                media=files,
                thread=thread,
                settings={**(post.settings or {}), **(target.settings_override or {})},
                progress=dict(job.progress or {}),
            )
            no_room = quota.hold(s, job.platform, provider, content, plan, now=now)
            if no_room is not None:  # the platform's shared daily budget has no room: wait
                until, reason = no_room
                queue.defer(s, job.id, owner=self.owner, now=now, until=until, reason=reason)
                return JobOutcome(job.id, OutcomeStatus.DEFERRED, job.platform, "deferred", reason)
            if plan == Plan.PUBLISH:  # a read-back first counts the attempt once it found nothing
                if not queue.count_attempt(s, job.id, owner=self.owner, now=now):
                    return JobOutcome(job_id, OutcomeStatus.LOST, job.platform)
            attempt = PublishAttempt(
                id=new_id("att"),
                job_id=job.id,
                attempt_no=history.next_attempt_no,
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
                plan=plan,
                run_at=job.run_at,
                started=time.monotonic(),
                workspace_id=job.workspace_id,
                post_id=job.post_id,
                target_id=job.target_id,
                attempt_no=attempt.attempt_no,
                breaker_clean=health.breaker_clean,
            )

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
        return JobOutcome(job.id, OutcomeStatus.DEFERRED, job.platform, "deferred", reason)

    def media(
        self, s: Session, asset: MediaAsset, platform: str, limits: MediaLimits, now: datetime
    ) -> MediaFile:
        """The platform's prepared variant of ``asset`` (the original without a delivery)."""
        if self.delivery is None:
            return media_file(asset, Path("."))
        return self.delivery.file_for(s, asset, platform=platform, limits=limits, now=now)

    def fail_now(
        self,
        s: Session,
        job: PublishJob,
        now: datetime,
        error: str,
        error_class: str,
        history: readback.AttemptHistory,
    ) -> JobOutcome:
        """Dead-letter a claimed job before any call; it may be live if an outcome is unknown."""
        if history.unresolved:
            error = readback.may_be_live(job.platform, f"an earlier outcome is unknown; {error}")
            error_class = readback.UNCERTAIN_OUTCOME
        return dead_letter(
            s, job, Verdict(Action.FAIL, error_class, error), now=now, owner=self.owner
        )
