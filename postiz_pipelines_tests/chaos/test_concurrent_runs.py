"""Four publish runs over the same partition at once publish each post exactly once."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app
from postiz_pipelines.settings import Settings


def test_four_concurrent_runs_publish_each_post_once(app, make, clock, env):
    state = SandboxState(clock=clock, seed=1)
    sandbox = create_app(state)
    state.faults.set("mastodon", FaultSpec(latency_ms=2))
    ws = make.workspace()
    accounts = [
        make.account(ws, handle=f"h{i}", token=f"t{i}", base_url="http://sandbox.test/mastodon")
        for i in range(8)
    ]
    for acc in accounts:
        make.jobs(ws, acc, 25, run_at=clock.now(), text=f"from {acc.handle}")

    errors: list[BaseException] = []
    reports = {}
    barrier = threading.Barrier(4)

    def run(owner: str) -> None:
        ctx = AppContext.from_settings(Settings.from_env(env))
        try:
            barrier.wait()
            reports[owner] = publish_due(
                ctx,
                owner=owner,
                clock=FixedClock(clock.now()),
                workspace_id=ws.id,
                platform="mastodon",
                limit=30,
                transport=SandboxTransport(sandbox, timeout=5),
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            ctx.close()

    # several rounds, like successive sensor ticks launching runs over the same partition
    for _round in range(3):
        threads = [threading.Thread(target=run, args=(f"run-{_round}-{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors

    accepted = Counter((p.handle, p.text) for p in state.accepted("mastodon"))
    assert len(accepted) == 200 and max(accepted.values()) == 1
    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
        attempts = Counter(s.scalars(select(PublishAttempt.job_id)))
    assert statuses == {JobStatus.COMPLETED: 200}
    assert set(attempts.values()) == {1}
    assert sum(1 for r in reports.values() if r.as_dict()["completed"]) >= 2
