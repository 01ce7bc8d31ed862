"""A publish run interrupted mid-batch (a Dagster run terminated from the UI) gives back
what it never sent; what was mid-call stays `sending` for lease recovery to resolve."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import AttemptOutcome, JobStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.partition_run import claim_partition, publish_partition
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app


class InterruptAfter(httpx.AsyncBaseTransport):
    """Pass ``n`` status posts to the sandbox, then the interrupt arrives (SIGTERM ->
    KeyboardInterrupt)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner = inner
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api/v1/statuses"):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
        return await self.inner.handle_async_request(request)


def test_interrupt_releases_unsent_claims(app, make, clock):
    state = SandboxState(clock=clock, seed=1)
    ws = make.workspace()
    acc = make.account(ws, base_url="http://sandbox.test/mastodon")
    make.jobs(ws, acc, 10, run_at=clock.now())
    ids = claim_partition(
        app, workspace_slug=ws.slug, platform="mastodon", owner="run-x", clock=clock
    )
    assert len(ids) == 10
    transport = InterruptAfter(SandboxTransport(create_app(state), timeout=1), n=3)
    with pytest.raises(KeyboardInterrupt):
        publish_partition(app, ids, owner="run-x", clock=clock, transport=transport)
    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
        sending = s.scalars(
            select(PublishAttempt).where(PublishAttempt.outcome == AttemptOutcome.SENDING)
        ).all()
    assert len(state.accepted("mastodon")) == 3
    assert statuses[JobStatus.COMPLETED] == 3
    assert len(sending) == 1  # the call the interrupt cut: left to lease recovery
    assert statuses[JobStatus.RUNNING] == 1
    assert statuses[JobStatus.PENDING] == 6  # never sent: back in the queue, untried
