"""The read-back rule, as pure decisions over a job's attempts (DESIGN: never post twice).

Once any attempt of a job has an unknown outcome (a dropped answer, a timeout after sending,
a process that died mid-call), no later attempt publishes blind:

- ``lookup`` platforms (Facebook, Instagram, Threads) publish again only after a read-back
  (the provider's ``find_recent``, a look at the account's recent posts) has succeeded and
  found nothing; found, the job completes with the post it found.
- ``native_key`` and ``deterministic_id`` platforms (Mastodon's Idempotency-Key, Discord's
  nonce, Bluesky's record key) repeat the publish with the same key: the platform answers
  with the post it already has.
- ``none`` platforms (X, LinkedIn, Telegram, Slack) fail the job as ``uncertain_outcome``.

A failed read-back is retried as a read-back, on its own budget: it never spends a publish
attempt and never turns into a publish. Before a job whose outcome is still unknown is
dead-lettered (its publish attempts spent, or a permanent error after the unknown one), every
platform that can read back does so once more, alone: found, the job completes; not found, it
fails as not published; not readable, it fails as ``uncertain_outcome`` with a reason that
says the post may be live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import ensure_utc
from postiz_pipelines.core.models import AttemptOutcome, PublishAttempt, ReadBack
from postiz_pipelines.errors import (
    OutcomeUnknown,
    PartiallyPublished,
    ProviderError,
    StillProcessing,
)
from postiz_pipelines.providers.base import IdempotencyMode

UNCERTAIN_OUTCOME = "uncertain_outcome"  # the post may be live: a person decides
READBACK_FAILED = "readback_failed"  # the look failed; the job waits to look again
# How long a job whose platform is still processing it (StillProcessing) keeps looking,
# whatever the provider does: a backstop over the provider's own bound (TikTok's 24 h).
MAX_PROCESSING_POLLS = 1000  # tries in a row that found it still processing
MAX_PROCESSING_TIME = timedelta(hours=48)  # since the first of those tries


class Plan(StrEnum):
    """What one attempt does."""

    PUBLISH = "publish"
    READ_THEN_PUBLISH = "read_then_publish"  # publish only if the read-back finds nothing
    READ_ONLY = "read_only"  # publish attempts are spent: look, then complete or fail


@dataclass(frozen=True)
class AttemptHistory:
    """What a job's attempts so far say about the read-back rule."""

    unresolved: bool  # an outcome is unknown and no read-back since has found nothing
    failed_readbacks: int  # read-backs that failed in a row, up to the latest attempt
    next_attempt_no: int
    last_publish_error: str | None = None  # the latest publish's error (not a read-back's)
    last_publish_error_class: str | None = None
    processing_polls: int = 0  # the latest tries in a row that found it still processing
    processing_since: datetime | None = None  # when the first of those began
    unresolved_since: datetime | None = None  # when the first attempt of unknown outcome began

    @classmethod
    def of(cls, attempts: Sequence[PublishAttempt]) -> AttemptHistory:
        """Read ``attempts`` (any order) oldest first."""
        unresolved, failed, last_no = False, 0, 0
        error: tuple[str | None, str | None] = (None, None)
        polls, since = 0, None
        unknown_since: datetime | None = None
        for a in sorted(attempts, key=lambda a: a.attempt_no):
            last_no = a.attempt_no
            if a.readback in (ReadBack.ABSENT, ReadBack.FOUND):
                unresolved = False  # the look succeeded; what follows is this attempt's own
                unknown_since = None
            if a.outcome in (AttemptOutcome.UNCERTAIN, AttemptOutcome.SENDING):
                unresolved = True
                unknown_since = unknown_since or a.started_at
            failed = failed + 1 if a.readback == ReadBack.FAILED else 0
            if a.readback in (None, ReadBack.ABSENT) and a.error_class:
                error = (a.error_message, a.error_class)
            if a.error_class == StillProcessing.error_class:
                polls, since = polls + 1, since or a.started_at
            elif a.outcome != AttemptOutcome.SENDING:
                polls, since = 0, None
        return cls(unresolved, failed, last_no + 1, *error, polls, since, unknown_since)


def key_lapsed(
    history: AttemptHistory,
    *,
    mode: IdempotencyMode,
    key_ttl: timedelta | None,
    now: datetime | None,
) -> bool:
    """Whether a native idempotency key no longer guards a repeat: an outcome is unknown
    and the first attempt of it began longer ago than the platform remembers keys."""
    since = history.unresolved_since
    if mode != IdempotencyMode.NATIVE_KEY or key_ttl is None or now is None or since is None:
        return False
    return history.unresolved and now - ensure_utc(since) >= key_ttl


def key_lapsed_reason(platform: str, key_ttl: timedelta) -> str:
    """The dead-letter reason of a job whose key lapsed on a platform that cannot look."""
    minutes = max(1, int(key_ttl.total_seconds() // 60))
    return may_be_live(
        platform,
        f"an earlier attempt's outcome is unknown and {platform} remembers its idempotency "
        f"key for only about {minutes} min, so sending again could post twice",
    )


def processing_overdue(history: AttemptHistory, *, platform: str, now: datetime) -> str | None:
    """The dead-letter reason of a job its platform has been processing for too long (more
    than ``MAX_PROCESSING_POLLS`` looks, or ``MAX_PROCESSING_TIME`` since the first), else
    None. The platform has the post: it may be live."""
    polls, since = history.processing_polls, history.processing_since
    waited = now - since if since is not None else timedelta(0)
    if polls < MAX_PROCESSING_POLLS and waited < MAX_PROCESSING_TIME:
        return None
    hours = waited.total_seconds() / 3600
    detail = (
        f"{platform} was still processing it after {polls} looks over {hours:.1f} h "
        f"(bounds: {MAX_PROCESSING_POLLS} looks, {MAX_PROCESSING_TIME.total_seconds() / 3600:g} h)"
    )
    return may_be_live(platform, detail)


def load_history(session: Session, job_id: str) -> AttemptHistory:
    """The history of one job's attempts."""
    rows = session.scalars(select(PublishAttempt).where(PublishAttempt.job_id == job_id))
    return AttemptHistory.of(list(rows))


def plan_attempt(
    history: AttemptHistory,
    *,
    mode: IdempotencyMode,
    reads_back: bool,
    publishes: int,
    max_attempts: int,
    now: datetime | None = None,
    platform: str = "",
    key_ttl: timedelta | None = None,
) -> Plan | None:
    """The next attempt's plan; None when it may neither publish nor look (attempts spent,
    or a platform that has been processing the post for too long: ``processing_overdue``).

    Only ``lookup`` platforms read back before every publish that follows an unknown outcome:
    a native key (Mastodon) or a record key (Bluesky) makes the publish itself safe to repeat,
    while the platform still remembers the key (``key_ttl``): past it, a platform that can
    look reads back first, and one that cannot gets no plan (``key_lapsed``: a person decides).
    Every platform that can read back does so once its publish attempts are spent. A job
    whose platform was still processing it (``StillProcessing``) goes on looking whatever
    its attempt count, within ``MAX_PROCESSING_POLLS`` and ``MAX_PROCESSING_TIME`` (checked
    when ``now`` is given).
    """
    lapsed = key_lapsed(history, mode=mode, key_ttl=key_ttl, now=now)
    if history.unresolved and reads_back:
        if publishes >= max_attempts:
            return Plan.READ_ONLY
        if mode == IdempotencyMode.LOOKUP or lapsed:
            return Plan.READ_THEN_PUBLISH
    if lapsed:  # the key no longer makes a repeat safe, and nothing can look
        return None
    if history.last_publish_error_class == StillProcessing.error_class:
        # the platform has the post and was still working on it: the next attempt looks by
        # the saved id (never resubmits), past max_attempts, within the bounds
        if now is not None and processing_overdue(history, platform=platform, now=now):
            return None
        return Plan.PUBLISH
    if publishes >= max_attempts:
        return None
    return Plan.PUBLISH


class Action(StrEnum):
    RETRY = "retry"  # another attempt after the backoff, as planned by ``plan_attempt``
    READ_BACK = "read_back"  # no publish attempt left: one read-back alone decides
    FAIL = "fail"  # the dead-letter queue


@dataclass(frozen=True)
class Verdict:
    """What becomes of the job after a failed attempt."""

    action: Action
    error_class: str
    reason: str
    nth_retry: int = 1  # which retry of its kind this is, for the backoff


def may_be_live(platform: str, detail: str) -> str:
    """The dead-letter reason of a post whose fate is unknown."""
    return (
        f"the post may be live on {platform}: {detail}; check the account, then requeue "
        "with force=true or cancel"
    )


def effective_mode(mode: IdempotencyMode, progress: object) -> IdempotencyMode:
    """``stored_id`` resolves an uncertain outcome by the platform id the try saved; when the
    try died before saving one, there is nothing to resume by: it is ``none``."""
    if mode == IdempotencyMode.STORED_ID and not progress:
        return IdempotencyMode.NONE
    return mode


def after_publish_error(
    exc: ProviderError,
    *,
    platform: str,
    mode: IdempotencyMode,
    reads_back: bool,
    publishes: int,
    max_attempts: int,
    unresolved: bool,
    history: AttemptHistory | None = None,
    now: datetime | None = None,
) -> Verdict:
    """After a publish call failed. ``unresolved`` already counts this attempt's own outcome,
    ``history`` (with ``now``) this attempt too: it bounds how long a job keeps looking at a
    post its platform is still processing."""
    if isinstance(exc, PartiallyPublished):
        return Verdict(Action.FAIL, exc.error_class, exc.message)  # what went out is known
    if isinstance(exc, OutcomeUnknown) and mode == IdempotencyMode.NONE and not reads_back:
        detail = f"{exc.message}; {platform} offers no way to check, so a person must decide"
        return Verdict(Action.FAIL, UNCERTAIN_OUTCOME, may_be_live(platform, detail))
    if isinstance(exc, StillProcessing):  # a look, not a resubmission; bounded
        overdue = (
            processing_overdue(history, platform=platform, now=now)
            if history is not None and now is not None
            else None
        )
        if overdue is not None:
            return Verdict(Action.FAIL, UNCERTAIN_OUTCOME, overdue)
        return Verdict(Action.RETRY, exc.error_class, exc.message, nth_retry=publishes)
    if exc.retryable and publishes < max_attempts:
        return Verdict(Action.RETRY, exc.error_class, exc.message, nth_retry=publishes)
    spent = f"attempts exhausted ({publishes}/{max_attempts})"
    if unresolved and reads_back:
        return Verdict(Action.READ_BACK, exc.error_class, exc.message)
    if unresolved:
        detail = f"{spent}, an outcome is unknown ({exc.message}) and {platform} cannot be read"
        return Verdict(Action.FAIL, UNCERTAIN_OUTCOME, may_be_live(platform, detail))
    reason = f"{spent}: {exc.message}" if exc.retryable else exc.message
    return Verdict(Action.FAIL, exc.error_class, reason)


def after_readback_error(
    exc: ProviderError, *, platform: str, failed_readbacks: int, max_attempts: int
) -> Verdict:
    """After the read-back itself failed (``failed_readbacks`` counts this one)."""
    if exc.retryable and failed_readbacks < max_attempts:
        reason = f"read-back failed: {exc.message}"
        return Verdict(Action.RETRY, READBACK_FAILED, reason, nth_retry=failed_readbacks)
    detail = (
        f"it could not be checked ({failed_readbacks} read-backs failed, the last: {exc.message})"
    )
    return Verdict(Action.FAIL, UNCERTAIN_OUTCOME, may_be_live(platform, detail))


def nothing_found(history: AttemptHistory, *, platform: str, publishes: int) -> Verdict:
    """After the final read-back found no such post: the job fails as not published."""
    reason = (
        f"not published: a read-back found no such post on {platform} after {publishes} "
        f"attempts (the last: {history.last_publish_error or 'no answer'})"
    )
    return Verdict(Action.FAIL, history.last_publish_error_class or "outcome_unknown", reason)
