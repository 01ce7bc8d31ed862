"""One partition's publish run, as plain functions of the app and a clock.

``serve_window`` is a window run: it claims and publishes the partition's jobs as they fall
due through its window (``loop.PublishLoop``), making each claimed batch's media variants
first.
Without a window it makes one pass over what is due now (a run launched by hand). The steps
of that pass are ``claim_partition`` (the due jobs under the run's lease), ``prepare_media``
(the claimed jobs' media variants, ``media_prep``) and ``publish_partition``.
The Dagster op is a one-line adapter.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.delivery import PrepareReport, media_delivery
from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.publishing.carry import Ask, CarryOn
from postiz_pipelines.core.publishing.engine import BatchReport
from postiz_pipelines.core.publishing.loop import PublishLoop, Scope, release_unsent
from postiz_pipelines.core.publishing.media_prep import prepare_job_media
from postiz_pipelines.core.publishing.runner import claim, publish_claimed
from postiz_pipelines.core.publishing.windows import Window, WindowPolicy
from postiz_pipelines.core.workspaces.store import get_workspace

log = logging.getLogger(__name__)


def serve_window(
    app: AppContext,
    *,
    workspace_slug: str,
    platform: str,
    window: Window | None,
    owner: str,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
    carry_on: Ask | None = None,
) -> dict[str, int]:
    """Serve the partition's ``window`` (or make one pass when None); returns the counts.
    With ``carry_on``, a busy partition's run serves its next windows too (``carry.py``)."""
    if window is None:
        ids = claim_partition(
            app, workspace_slug=workspace_slug, platform=platform, owner=owner, clock=clock
        )
        report = publish_partition(app, ids, owner=owner, clock=clock, transport=transport)
        return {"passes": 1, **report.as_dict()}
    policy = WindowPolicy.from_settings(app.settings)
    with app.db.read() as s:
        workspace_id = get_workspace(s, workspace_slug).id
    scope = Scope(workspace_id, platform)
    carry = CarryOn(app, policy, window, scope, carry_on) if carry_on is not None else None
    loop = PublishLoop(
        app,
        owner=owner,
        clock=clock,
        poll=policy.poll,
        scope=scope,
        due_before=window.end,
        stop_at=policy.run_deadline(window),
        transport=transport,
        heartbeat_every=policy.heartbeat_every,
        on_pass=carry,
    )
    if carry is not None:
        carry.loop = loop
    counts = asyncio.run(loop.run()).as_dict()
    return {**counts, "windows": carry.served if carry is not None else 1}


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
