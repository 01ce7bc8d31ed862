"""Disconnecting a social account: soft-deleted, its waiting jobs canceled in the same step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AccountStatus,
    JobStatus,
    Post,
    PostTarget,
    PublishJob,
    SocialAccount,
    TargetStatus,
)
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.post_status import settle_post_status


def remove_account(
    session: Session, account: SocialAccount, *, now: datetime, actor: str = "system"
) -> int:
    """Soft-delete the account and cancel its jobs still waiting; returns how many were canceled.

    A job being sent right now is left to finish (its outcome is recorded as usual).
    """
    jobs = list(
        session.scalars(
            select(PublishJob).where(
                PublishJob.account_id == account.id,
                PublishJob.status.in_([*CLAIMABLE_JOB_STATES, JobStatus.HELD]),
            )
        )
    )
    canceled = queue.cancel_waiting(
        session, [j.id for j in jobs], now=now, reason="account disconnected"
    )
    jobs = [j for j in jobs if j.status == JobStatus.CANCELED]  # a claim may have won one
    for job in jobs:
        target = session.get(PostTarget, job.target_id)
        if target is not None and target.status == TargetStatus.SCHEDULED:
            target.status = TargetStatus.CANCELED
    for post_id in {j.post_id for j in jobs}:
        post = session.get(Post, post_id)
        if post is not None:
            settle_post_status(session, post)
    account.deleted_at = now
    account.status = AccountStatus.DISABLED
    account.updated_at = now
    audit(
        session,
        actor=actor,
        action="account.remove",
        object_type="social_account",
        object_id=account.id,
        workspace_id=account.workspace_id,
        now=now,
        canceled_jobs=canceled,
    )
    return canceled
