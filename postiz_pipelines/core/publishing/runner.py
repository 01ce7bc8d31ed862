"""One publishing pass: claim due jobs under a lease, then publish them concurrently.

Used alike by the Dagster publish op, the continuous worker and the worker API.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import media_delivery
from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.config import EngineConfig
from postiz_pipelines.core.publishing.engine import BatchReport, Publisher
from postiz_pipelines.core.publishing.throttle import record_rate_headers

log = logging.getLogger(__name__)


def claim(
    app: AppContext,
    *,
    owner: str,
    clock: Clock,
    workspace_id: str | None = None,
    platform: str | None = None,
    limit: int | None = None,
) -> list[PublishJob]:
    s = app.settings
    lookahead = timedelta(seconds=s.lookahead_seconds)
    return queue.claim_due_jobs(
        app.db,
        owner=owner,
        now=clock.now(),
        workspace_id=workspace_id,
        platform=platform,
        lookahead=lookahead,
        # the lease must outlive the wait for the last job's due time
        lease=timedelta(seconds=s.lease_seconds) + lookahead,
        limit=limit or s.claim_batch_size,
    )


async def publish_claimed(
    app: AppContext,
    jobs: list[PublishJob],
    *,
    owner: str,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BatchReport:
    """Publish jobs already claimed by ``owner``."""
    if not jobs:
        return BatchReport()
    s = app.settings
    async with httpx.AsyncClient(
        timeout=s.http_timeout_seconds,
        transport=transport,
        event_hooks={"response": [record_rate_headers]},
    ) as http:
        providers = app.provider_set(http, clock)
        publisher = Publisher(
            app.db,
            app.keyring,
            providers,
            clock=clock,
            owner=owner,
            config=EngineConfig.from_settings(app.settings),
            media=media_delivery(app),
        )
        return await publisher.run(jobs)


def publish_due(
    app: AppContext,
    *,
    owner: str,
    clock: Clock | None = None,
    workspace_id: str | None = None,
    platform: str | None = None,
    limit: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BatchReport:
    """Claim and publish the due jobs of one partition (or of all, when both are None)."""
    clock = clock or SystemClock()
    jobs = claim(
        app, owner=owner, clock=clock, workspace_id=workspace_id, platform=platform, limit=limit
    )
    log.info("claimed %d jobs (workspace=%s platform=%s)", len(jobs), workspace_id, platform)
    return asyncio.run(publish_claimed(app, jobs, owner=owner, clock=clock, transport=transport))
