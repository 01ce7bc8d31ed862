"""The three steps of one partition's publish run, as plain functions of the app and a clock.

``claim_partition`` takes the due jobs of (workspace, platform) under the run's lease,
``prepare_media`` makes every claimed job's media variants (``media_prep``), and
``publish_partition`` publishes them concurrently. The Dagster ops are one-line adapters.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import PrepareReport, media_delivery
from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.engine import BatchReport
from postiz_pipelines.core.publishing.media_prep import prepare_job_media
from postiz_pipelines.core.publishing.runner import claim, publish_claimed
from postiz_pipelines.core.workspaces.store import get_workspace


def claim_partition(
    app: AppContext, *, workspace_slug: str, platform: str, owner: str, clock: Clock
) -> list[str]:
    with app.db.read() as s:
        workspace_id = get_workspace(s, workspace_slug).id
    return [
        j.id
        for j in claim(app, owner=owner, clock=clock, workspace_id=workspace_id, platform=platform)
    ]


def owned_jobs(app: AppContext, job_ids: list[str], *, owner: str) -> list[PublishJob]:
    """The claimed jobs ``owner`` still holds, detached."""
    with app.db.read() as s:
        jobs = queue.owned_jobs(s, job_ids, owner=owner)
        s.expunge_all()
        return jobs


def prepare_media(app: AppContext, job_ids: list[str], *, clock: Clock) -> PrepareReport:
    """Make the claimed jobs' media variants, so that publishing only uploads."""
    return prepare_job_media(media_delivery(app), job_ids, now=clock.now())


def publish_partition(
    app: AppContext,
    job_ids: list[str],
    *,
    owner: str,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BatchReport:
    jobs = owned_jobs(app, job_ids, owner=owner)
    try:
        return asyncio.run(
            publish_claimed(app, jobs, owner=owner, clock=clock, transport=transport)
        )
    except BaseException:
        # Terminated or crashed: give back what was never sent; what was in flight is
        # resolved by lease recovery (the uncertain-outcome rule).
        release_unsent(app, job_ids, owner=owner, clock=clock)
        raise


def release_unsent(app: AppContext, job_ids: list[str], *, owner: str, clock: Clock) -> int:
    from postiz_pipelines.core.models import AttemptOutcome, PublishAttempt

    with app.db.session() as s:
        sending = set(
            s.scalars(
                select(PublishAttempt.job_id).where(
                    PublishAttempt.job_id.in_(job_ids),
                    PublishAttempt.outcome == AttemptOutcome.SENDING,
                )
            )
        )
        return queue.release(
            s, [j for j in job_ids if j not in sending], owner=owner, now=clock.now()
        )
