"""Recording what happens to a job, transaction by transaction (the engine's state machine).

``intent.py`` writes the intent (an attempt row ``sending``, the publish attempt counted) and
commits before the platform call; ``finish_success`` / ``finish_error`` here write the outcome
right after, with its analytics event and audit row in the same transaction. An attempt that reads
back first (``readback.py``: an earlier outcome is unknown) commits what the read-back learnt
(``readback_absent``, which counts the publish attempt) before it publishes, or records its
failure as a read-back's (``finish_readback_error``). Job state is written only through
``queue``, fenced on the lease owner, and each of these transactions is retried whole on a
transient database error, so a post the platform accepted is not turned into an uncertain
outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from postiz_pipelines.clock import Clock, ensure_utc
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.db import Database, retry_transient_db
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AttemptOutcome,
    Post,
    PostTarget,
    PublishAttempt,
    PublishJob,
    ReadBack,
    SocialAccount,
    TargetStatus,
)
from postiz_pipelines.core.publishing import breaker, hold, queue, readback, throttle
from postiz_pipelines.core.publishing.deadletter import record_publish_failed
from postiz_pipelines.core.publishing.post_status import settle_post_status, settle_post_status_of
from postiz_pipelines.core.publishing.readback import Action, Plan, Verdict
from postiz_pipelines.core.publishing.token_refresh import RefreshDeferred
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import (
    AuthRevoked,
    OutcomeUnknown,
    PartiallyPublished,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    StillProcessing,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    PostContent,
    PublishResult,
)
from postiz_pipelines.providers.registry import ProviderSet

if TYPE_CHECKING:
    from postiz_pipelines.core.publishing.config import EngineConfig


class OutcomeStatus(StrEnum):
    """What became of one claimed job in one pass (the values are also the report's keys)."""

    COMPLETED = "completed"
    RETRYING = "retrying"
    FAILED = "failed"
    CANCELED = "canceled"
    DEFERRED = "deferred"  # handed back untried: throttle or open breaker
    HELD = "held"  # its account needs reconnecting: waits untried for the user
    RELEASED = "released"  # handed back untried: the run is stopping
    LOST = "lost"  # the lease was taken meanwhile; the new owner decides


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    status: OutcomeStatus
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
    plan: Plan  # publish, or read back first (an earlier outcome is unknown)
    run_at: datetime
    started: float
    # the rows the intent loaded, so that the outcome writes without loading them again
    workspace_id: str = ""
    post_id: str = ""
    target_id: str = ""
    attempt_no: int = 0
    breaker_clean: bool = False  # closed, no failure counted: a success resets nothing


class OutcomeRecorder:
    """The database side of a claimed job's attempt, once its intent is written: what the
    read-back learnt, and the outcome."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        providers: ProviderSet,
        *,
        clock: Clock,
        owner: str,
        config: EngineConfig,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self.config = config

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

    @retry_transient_db
    def readback_absent(self, work: Work) -> JobOutcome | None:
        """The read-back found nothing: commit that (and count the publish attempt) before the
        publish. A read-back-only attempt fails the job as not published instead."""
        now = self.clock.now()
        with self.db.session() as s:
            attempt = s.get(PublishAttempt, work.attempt_id)
            assert attempt is not None
            attempt.readback = ReadBack.ABSENT
            if work.plan == Plan.READ_ONLY:
                job = s.get(PublishJob, work.job_id)
                assert job is not None
                self._close_attempt(attempt, work, now, AttemptOutcome.FAILED)
                history = readback.load_history(s, job.id)
                verdict = readback.nothing_found(
                    history, platform=work.platform, publishes=job.attempts
                )
                attempt.error_class = verdict.error_class
                attempt.error_message = verdict.reason
                return dead_letter(s, job, verdict, now=now, owner=self.owner)
            if not queue.count_attempt(s, work.job_id, owner=self.owner, now=now):
                self._close_attempt(attempt, work, now, AttemptOutcome.FAILED)
                return JobOutcome(work.job_id, OutcomeStatus.LOST, work.platform)
            return None

    @retry_transient_db
    def finish_success(
        self, work: Work, result: PublishResult, *, found: bool = False
    ) -> JobOutcome:
        """The post is live: published now, or ``found`` by the read-back. Written with
        single-row UPDATEs over the rows the intent loaded (``Work``), nothing loaded again."""
        now = self.clock.now()
        with self.db.session() as s:
            attempt_done = {
                "outcome": AttemptOutcome.SUCCEEDED,
                "finished_at": now,
                "duration_ms": int((time.monotonic() - work.started) * 1000),
                "remote_id": result.remote_id,
                "remote_url": result.url,
                "http_status": result.http_status,
                **({"readback": ReadBack.FOUND} if found else {}),
            }
            _update_row(s, PublishAttempt, work.attempt_id, **attempt_done)
            remote_id = result.remote_id
            if not queue.mark_completed(
                s, work.job_id, owner=self.owner, now=now, remote_id=remote_id
            ):
                # Our lease was taken (recovered as expired) while we were sending; the post
                # is out, so record it on the job whatever state recovery left it in.
                done = queue.mark_completed(
                    s, work.job_id, owner=None, now=now, remote_id=remote_id
                )
                assert done
            if not work.breaker_clean:
                breaker.record_success(s, work.platform, now=now)
            if result.account_updates:
                job = s.get(PublishJob, work.job_id)
                assert job is not None
                _apply_account_updates(s, job, dict(result.account_updates), now, self.owner)
            _update_row(
                s,
                PostTarget,
                work.target_id,
                status=TargetStatus.PUBLISHED,
                remote_id=result.remote_id,
                remote_url=result.url,
                published_at=now,
            )
            settle_post_status_of(s, work.post_id)
            record_event(
                s,
                EventType.POST_PUBLISHED,
                now=now,
                workspace_id=work.workspace_id,
                platform=work.platform,
                account_id=work.account_id,
                post_id=work.post_id,
                job_id=work.job_id,
                remote_id=result.remote_id,
                attempt=work.attempt_no,
                latency_s=round((now - ensure_utc(work.run_at)).total_seconds(), 3),
                **({"found_by_readback": True} if found else {}),
            )
            audit(
                s,
                actor=f"engine:{self.owner}",
                action="post.publish",
                object_type="publish_job",
                object_id=work.job_id,
                workspace_id=work.workspace_id,
                now=now,
                remote_id=result.remote_id,
            )
            return JobOutcome(
                work.job_id, OutcomeStatus.COMPLETED, work.platform, remote_id=result.remote_id
            )

    @retry_transient_db
    def save_progress(self, work: Work, progress: dict[str, object]) -> None:
        """Merge what the platform call has reached into the job and commit it, before the
        provider waits on the platform; a key given as None is forgotten. Not fenced on the
        lease: it records a fact on the platform's side, which the job's next owner (or a
        person) needs whoever wrote it."""
        with self.db.session() as s:
            queue.merge_progress(s, work.job_id, progress, now=self.clock.now())

    @retry_transient_db
    def finish_error(self, work: Work, exc: ProviderError) -> JobOutcome:
        """The publish call failed: retry, read back before giving up, or dead-letter."""
        now = self.clock.now()
        with self.db.session() as s:
            attempt = s.get(PublishAttempt, work.attempt_id)
            job = s.get(PublishJob, work.job_id)
            assert attempt is not None and job is not None
            uncertain = isinstance(exc, OutcomeUnknown)
            outcome = AttemptOutcome.UNCERTAIN if uncertain else AttemptOutcome.FAILED
            self._record_error(attempt, work, now, outcome, exc)
            if isinstance(exc, QuotaExhausted):  # nothing was sent: wait, attempt given back
                return self._defer_unsent(s, job, exc, now)
            if isinstance(exc, PartiallyPublished):
                attempt.remote_id = exc.remote_id  # what did go out, for the person who decides
            self.note_platform_health(s, job, exc, now)
            if isinstance(exc, RefreshDeferred):  # nothing was published: the try is given back
                return self._defer_refresh(s, job, attempt, exc, now=now)
            provider = self.providers.get(work.platform)
            history = readback.load_history(s, job.id)
            verdict = readback.after_publish_error(
                exc,
                platform=work.platform,
                mode=readback.effective_mode(provider.capabilities.idempotency, job.progress),
                reads_back=provider.reads_back(),
                publishes=job.attempts,
                max_attempts=job.max_attempts,
                unresolved=history.unresolved,
                history=history,
                now=now,
            )
            if verdict.action != Action.FAIL:
                return self._retry(s, job, verdict, exc, now=now)
            if isinstance(exc, AuthRevoked) and verdict.error_class == exc.error_class:
                return self._hold_revoked(s, job, exc, now=now, refund=True)
            return dead_letter(s, job, verdict, now=now, owner=self.owner, exc=exc)

    def _defer_refresh(
        self,
        s: Session,
        job: PublishJob,
        attempt: PublishAttempt,
        exc: RefreshDeferred,
        *,
        now: datetime,
    ) -> JobOutcome:
        """The token could not be refreshed for now: hand the job back untried, later."""
        delay = self.config.retry.delay(min(attempt.attempt_no, 8))
        until = now + delay
        if (
            queue.defer(
                s,
                job.id,
                owner=self.owner,
                now=now,
                until=until,
                reason=exc.message,
                refund_attempt=True,
            )
            is None
        ):
            return JobOutcome(job.id, OutcomeStatus.LOST, job.platform, exc.error_class)
        return JobOutcome(
            job.id, OutcomeStatus.RETRYING, job.platform, exc.error_class, exc.message
        )

    def _hold_revoked(
        self, s: Session, job: PublishJob, exc: AuthRevoked, *, now: datetime, refund: bool
    ) -> JobOutcome:
        """The platform refused the account's grant before doing anything: the account needs
        reconnecting, so this job is held (a refused publish gives its attempt back), and so
        are the account's other jobs."""
        account = s.get(SocialAccount, job.account_id)
        assert account is not None
        actor = f"engine:{self.owner}"
        hold.mark_reconnect_needed(s, account, reason=exc.message, now=now, actor=actor)
        held = hold.hold_claimed_job(s, job, owner=self.owner, now=now, refund_attempt=refund)
        status = OutcomeStatus.HELD if held else OutcomeStatus.LOST
        return JobOutcome(job.id, status, job.platform, exc.error_class, exc.message)

    @retry_transient_db
    def finish_readback_error(self, work: Work, exc: ProviderError) -> JobOutcome:
        """The read-back failed: nothing was published; look again later, or say the post may
        be live."""
        now = self.clock.now()
        with self.db.session() as s:
            attempt = s.get(PublishAttempt, work.attempt_id)
            job = s.get(PublishJob, work.job_id)
            assert attempt is not None and job is not None
            self._record_error(attempt, work, now, AttemptOutcome.FAILED, exc)
            attempt.readback = ReadBack.FAILED
            self.note_platform_health(s, job, exc, now)
            if isinstance(exc, AuthRevoked):  # reads back once the account is reconnected
                return self._hold_revoked(s, job, exc, now=now, refund=False)
            history = readback.load_history(s, job.id)
            verdict = readback.after_readback_error(
                exc,
                platform=work.platform,
                failed_readbacks=history.failed_readbacks,
                max_attempts=job.max_attempts,
            )
            if verdict.action != Action.FAIL:
                return self._retry(s, job, verdict, exc, now=now)
            return dead_letter(s, job, verdict, now=now, owner=self.owner, exc=exc)

    def _defer_unsent(
        self, s: Session, job: PublishJob, exc: QuotaExhausted, now: datetime
    ) -> JobOutcome:
        self.note_platform_health(s, job, exc, now)  # every run waits for the window too
        wait = timedelta(seconds=exc.retry_after or self.config.retry.base_seconds)
        if (
            queue.defer_unsent(
                s, job.id, owner=self.owner, now=now, until=now + wait, reason=exc.message
            )
            is None
        ):
            return JobOutcome(job.id, OutcomeStatus.LOST, job.platform, exc.error_class)
        return JobOutcome(job.id, OutcomeStatus.DEFERRED, job.platform, "deferred", exc.message)

    # -- shared steps -----------------------------------------------------------------------
    def _close_attempt(
        self, attempt: PublishAttempt, work: Work, now: datetime, outcome: AttemptOutcome
    ) -> None:
        attempt.outcome = outcome
        attempt.finished_at = now
        attempt.duration_ms = int((time.monotonic() - work.started) * 1000)

    def _record_error(
        self,
        attempt: PublishAttempt,
        work: Work,
        now: datetime,
        outcome: AttemptOutcome,
        exc: ProviderError,
    ) -> None:
        self._close_attempt(attempt, work, now, outcome)
        attempt.http_status = exc.status
        attempt.error_class = exc.error_class
        attempt.error_code = exc.code
        attempt.error_message = exc.message[:2000]

    def _retry(
        self, s: Session, job: PublishJob, verdict: Verdict, exc: ProviderError, *, now: datetime
    ) -> JobOutcome:
        retry_after = exc.retry_after if isinstance(exc, (RateLimited, StillProcessing)) else None
        delay = self.config.retry.delay(verdict.nth_retry, retry_after=retry_after)
        put_back = (
            queue.schedule_readback if verdict.action == Action.READ_BACK else queue.schedule_retry
        )
        scheduled = put_back(
            s,
            job.id,
            owner=self.owner,
            now=now,
            delay=delay,
            error=verdict.reason,
            error_class=verdict.error_class,
        )
        if scheduled is None:
            return JobOutcome(
                job.id, OutcomeStatus.LOST, job.platform, verdict.error_class, verdict.reason
            )
        record_event(
            s,
            EventType.POST_PUBLISH_RETRYING,
            now=now,
            workspace_id=job.workspace_id,
            platform=job.platform,
            account_id=job.account_id,
            post_id=job.post_id,
            job_id=job.id,
            error_class=verdict.error_class,
            attempt=job.attempts,
            delay_s=round(delay.total_seconds(), 1),
        )
        return JobOutcome(
            job.id, OutcomeStatus.RETRYING, job.platform, verdict.error_class, verdict.reason
        )

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


def dead_letter(
    s: Session,
    job: PublishJob,
    verdict: Verdict,
    *,
    now: datetime,
    owner: str | None,
    exc: ProviderError | None = None,
) -> JobOutcome:
    """Fail the job (fenced on ``owner``; None: lease recovery) with the verdict's reason, its
    target and post with it, and record the event and audit row."""
    reason, error_class = verdict.reason, verdict.error_class
    failed = queue.fail(s, job.id, owner=owner, now=now, error=reason, error_class=error_class)
    if failed is None:
        return JobOutcome(job.id, OutcomeStatus.LOST, job.platform, error_class, reason)
    target = s.get(PostTarget, job.target_id)
    post = s.get(Post, job.post_id)
    assert target is not None and post is not None
    target.status = TargetStatus.FAILED
    settle_post_status(s, post)
    record_publish_failed(
        s,
        job,
        now=now,
        actor=f"engine:{owner or 'recovery'}",
        error_class=error_class,
        error=reason,
        **({"http_status": exc.status, "code": exc.code} if exc is not None else {}),
    )
    return JobOutcome(job.id, OutcomeStatus.FAILED, job.platform, error_class, reason)


def _update_row(s: Session, model: type[Any], row_id: str, **values: Any) -> None:
    """One UPDATE of one row by its primary key, nothing loaded (rows the intent read)."""
    s.execute(
        update(model).where(model.id == row_id).values(**values),
        execution_options={"synchronize_session": False},
    )


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
