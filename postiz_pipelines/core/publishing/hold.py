"""Hold, don't fail: jobs of an account that must be reconnected wait for the user.

When the platform itself says an account's grant is gone (``invalid_grant``, revoked,
suspended, a deauthorize webhook), ``mark_reconnect_needed`` moves the account to
``reconnect_needed`` and holds its waiting jobs (``held``: not attempted, not failed, no
attempt spent), and says so once: one ``account_disconnected`` event, which the outgoing
webhooks send as ``account.disconnected``. A job claimed meanwhile is held by the claim itself
(``hold_claimed_job``). Reconnecting calls ``release_held_jobs``: a job late by less than the
grace (``POSTIZ_HELD_JOB_GRACE_SECONDS``, 24 h) is due again at once; a later one is
dead-lettered ``missed_while_disconnected`` so a person reschedules it. Job state is written
only through ``queue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts import status
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AccountStatus,
    JobStatus,
    PublishJob,
    SocialAccount,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.deadletter import dead_letter_held

MISSED_WHILE_DISCONNECTED = "missed_while_disconnected"
HELD_RECONNECT = "account_reconnect_needed"  # the held_reason of a job waiting for its account
needs_reconnect = status.needs_reconnect
effective_status = status.effective_status


@dataclass(frozen=True)
class ReleaseReport:
    """What ``release_held_jobs`` did: jobs due again, and jobs dead-lettered as too late."""

    released: int = 0
    dead_lettered: int = 0
    released_ids: list[str] = field(default_factory=list)
    dead_lettered_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "deadLettered": self.dead_lettered,
            "releasedJobIds": self.released_ids,
            "deadLetteredJobIds": self.dead_lettered_ids,
        }


def hold_account_jobs(session: Session, *, account_id: str, reason: str, now: datetime) -> int:
    """Hold every waiting job of the account (a running one finishes; a finished one stays);
    returns how many were held. ``reason`` is kept on each job (``held_reason``, 40 chars)."""
    ids = list(
        session.scalars(
            select(PublishJob.id).where(
                PublishJob.account_id == account_id,
                PublishJob.status.in_(CLAIMABLE_JOB_STATES),
            )
        )
    )
    return queue.hold_waiting(session, ids, now=now, reason=reason)


def hold_claimed_job(
    session: Session,
    job: PublishJob,
    *,
    owner: str,
    now: datetime,
    reason: str = HELD_RECONNECT,
    refund_attempt: bool = False,
) -> bool:
    """Hold a job ``owner`` has claimed because its account needs reconnecting, and the
    account's other waiting jobs with it; False when the lease was lost meanwhile."""
    held = queue.hold_claimed(
        session, job.id, owner=owner, now=now, reason=reason, refund_attempt=refund_attempt
    )
    hold_account_jobs(session, account_id=job.account_id, reason=reason, now=now)
    return held is not None


def mark_reconnect_needed(
    session: Session,
    account: SocialAccount,
    *,
    reason: str,
    now: datetime,
    actor: str,
    error_class: str = "auth_revoked",
) -> bool:
    """The platform said the account's grant is gone: hold its waiting jobs and move it to
    ``reconnect_needed`` (``accounts/status.py``: the event and webhook once per
    disconnection). Returns whether this call disconnected it."""
    if account.deleted_at is not None or account.status == AccountStatus.DISABLED:
        return False
    held = hold_account_jobs(session, account_id=account.id, reason=HELD_RECONNECT, now=now)
    return status.mark_reconnect_needed(
        session,
        account,
        reason=reason,
        now=now,
        actor=actor,
        error_class=error_class,
        held_jobs=held,
    )


def release_held_jobs(
    session: Session, *, account_id: str, now: datetime, grace: timedelta
) -> ReleaseReport:
    """The account is back: its held jobs late by less than ``grace`` are due again at once
    (a job not yet due keeps its time); later ones are dead-lettered
    ``missed_while_disconnected`` for a person to reschedule."""
    jobs = list(
        session.scalars(
            select(PublishJob)
            .where(PublishJob.account_id == account_id, PublishJob.status == JobStatus.HELD)
            .order_by(PublishJob.run_at, PublishJob.id)
        )
    )
    on_time = [j for j in jobs if now - j.run_at < grace]
    late = [j for j in jobs if now - j.run_at >= grace]
    released = queue.release_held(session, [j.id for j in on_time], now=now)
    failed = dead_letter_held(
        session,
        late,
        now=now,
        error_class=MISSED_WHILE_DISCONNECTED,
        error=(
            f"the account was disconnected and this post was due more than {_hours(grace)} "
            "before it was reconnected; reschedule it"
        ),
    )
    return ReleaseReport(
        released=released,
        dead_lettered=len(failed),
        released_ids=[j.id for j in on_time if j.status != JobStatus.HELD],
        dead_lettered_ids=[j.id for j in failed],
    )


def list_held(
    session: Session, *, workspace_ids: Sequence[str], limit: int = 100
) -> list[PublishJob]:
    """Held jobs of these workspaces, the longest held first."""
    return list(
        session.scalars(
            select(PublishJob)
            .where(
                PublishJob.workspace_id.in_(list(workspace_ids)),
                PublishJob.status == JobStatus.HELD,
            )
            .order_by(PublishJob.held_at, PublishJob.id)
            .limit(limit)
        )
    )


def held_counts(session: Session, *, older_than: datetime | None = None) -> dict[str, int]:
    """Held jobs per workspace (those held since before ``older_than`` when given)."""
    q = (
        select(PublishJob.workspace_id, func.count())
        .where(PublishJob.status == JobStatus.HELD)
        .group_by(PublishJob.workspace_id)
    )
    if older_than is not None:
        q = q.where(PublishJob.held_at < older_than)
    return {ws: n for ws, n in session.execute(q)}


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h"
