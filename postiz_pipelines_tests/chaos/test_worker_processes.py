"""Real worker processes: SIGTERM stops gracefully; SIGKILL mid-batch loses and duplicates nothing.

The worker runs as a subprocess (``postiz-pipelines worker``) against a live sandbox server
on loopback. Waiting on the subprocess is bounded polling of an observable condition (posts
accepted by the sandbox), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from postiz_pipelines.clock import FixedClock, utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import AttemptOutcome, JobStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.core.publishing.worker import PublishingWorker
from postiz_pipelines.sandbox import FaultSpec, SandboxState
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.settings import Settings

STATUSES = "POST /api/v1/statuses"
pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    tick = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        tick.wait(0.02)


def wait_for_worker(
    proc: subprocess.Popen[bytes], condition: Callable[[], bool], seconds: float, what: str
) -> None:
    """``wait_for``, failing early with the worker's own output if it dies or stalls."""
    try:
        wait_for(lambda: condition() or proc.poll() is not None, seconds, what)
    except AssertionError:
        proc.kill()
        raise AssertionError(
            f"{what}: worker stalled; stderr: {proc.communicate()[1].decode()[-3000:]}"
        ) from None
    if not condition():
        raise AssertionError(
            f"{what}: worker exited {proc.returncode}: {proc.communicate()[1].decode()[-3000:]}"
        )


def start_worker(env: dict[str, str], **extra: str) -> subprocess.Popen[bytes]:
    full = {
        **os.environ,
        **env,
        "POSTIZ_WORKER_CONCURRENCY": "6",
        "POSTIZ_WORKER_POLL_INTERVAL": "100",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "postiz_pipelines.cli", "worker"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def seed(make, url: str, accounts: int, per_account: int) -> list[str]:  # type: ignore[no-untyped-def]
    ws = make.workspace()
    ids: list[str] = []
    for i in range(accounts):
        acc = make.account(ws, handle=f"acct{i}", token=f"tok{i}", base_url=f"{url}/mastodon")
        ids += make.jobs(
            ws, acc, per_account, run_at=utcnow() - timedelta(seconds=1), text=f"acct{i} post"
        )
    return ids


def test_sigterm_finishes_in_flight_and_returns_unstarted_claims(app, make, env):
    state = SandboxState(seed=2)
    state.faults.set("mastodon", FaultSpec(latency_ms=150, endpoints=frozenset({STATUSES})))
    with running_sandbox(state=state) as url:
        seed(make, url, accounts=6, per_account=20)
        proc = start_worker(env)
        try:
            wait_for_worker(
                proc, lambda: len(state.accepted("mastodon")) >= 6, 60, "the first posts"
            )
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    with app.db.read() as s:
        statuses = Counter(s.scalars(select(PublishJob.status)))
        sending = s.scalars(
            select(PublishAttempt).where(PublishAttempt.outcome == AttemptOutcome.SENDING)
        ).all()
    assert statuses[JobStatus.RUNNING] == 0  # nothing left claimed
    assert sending == []  # every call in flight finished and was recorded
    assert statuses[JobStatus.COMPLETED] == len(state.accepted("mastodon"))
    assert statuses[JobStatus.PENDING] > 0  # unstarted claims went back, untried


CHAOS_PLATFORMS = {
    "mastodon": "native_key",
    "bluesky": "deterministic_id",
    "facebook": "lookup",
    "x": "none",
}


def seed_platforms(app, url: str, accounts: int, per_account: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``accounts`` accounts on each chaos platform, connected as a user would, with due jobs."""
    from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
    from postiz_pipelines.core.ids import new_id
    from postiz_pipelines.core.models import Post, PostTarget
    from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
    from postiz_pipelines.core.workspaces.store import create_workspace

    now = utcnow()
    ids: list[str] = []
    with app.db.session() as s:
        ws = create_workspace(s, slug="chaos", timezone="UTC", now=now)
        for i in range(accounts):
            for acc in connect_sandbox_accounts(
                s,
                app.keyring,
                workspace=ws,
                sandbox_url=url,
                now=now,
                handle=f"h{i}",
                platforms=list(CHAOS_PLATFORMS),
            ):
                rows = []
                for n in range(per_account):
                    post = Post(
                        id=new_id("post"),
                        workspace_id=ws.id,
                        content=f"{acc.platform} h{i} post {n}",
                        scheduled_at=now,
                    )
                    target = PostTarget(id=new_id("tgt"), account_id=acc.id)
                    post.targets.append(target)
                    s.add(post)
                    s.flush()
                    rows.append(
                        new_job_row(
                            workspace_id=ws.id,
                            platform=acc.platform,
                            post_id=post.id,
                            target_id=target.id,
                            account_id=acc.id,
                            run_at=now - timedelta(seconds=1),
                            now=now,
                        )
                    )
                enqueue(s, rows)
                ids += [r["id"] for r in rows]
    return ids


def test_sigkill_mid_batch_with_drops_then_recovery_no_duplicates_none_lost(app, make, env):
    state = SandboxState(seed=3)
    for platform in CHAOS_PLATFORMS:  # accept-then-drop on 10 publishes each, and some latency
        state.faults.set(platform, FaultSpec(latency_ms=3, drops=10))
    with running_sandbox(state=state) as url:
        ids = seed_platforms(app, url, accounts=10, per_account=25)  # 4 x 10 x 25 = 1,000 posts
        accepted = lambda: sum(len(state.accepted(p)) for p in CHAOS_PLATFORMS)  # noqa: E731
        # the breaker would (rightly) open after drops in a row; this test is about recovery
        proc = start_worker(
            {**env, "POSTIZ_SANDBOX_URL": url},
            POSTIZ_LEASE_SECONDS="30",
            POSTIZ_BREAKER_THRESHOLD="100000",
            POSTIZ_WORKER_CONCURRENCY="8",
        )
        try:
            wait_for_worker(proc, lambda: accepted() >= 300, 90, "300 posts accepted")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed_at = utcnow()
        with app.db.read() as s:
            before = Counter(s.scalars(select(PublishJob.status)))
        assert before[JobStatus.COMPLETED] < 1000  # the kill really interrupted the batch

        # recovery, as the lease sensor would run once the dead worker's leases expire
        later = killed_at + timedelta(seconds=30 + 60 + 1)
        recover_expired_leases(app.db, now=later)
        clock = FixedClock(later)
        recovery = AppContext.from_settings(
            Settings.from_env(
                {**env, "POSTIZ_BREAKER_THRESHOLD": "100000", "POSTIZ_SANDBOX_URL": url}
            )
        )
        for _ in range(10):
            worker = PublishingWorker(recovery, clock=clock, worker_id="recovery")
            asyncio.run(worker.run(stop_when_idle=True))
            with app.db.read() as s:
                waiting = s.scalars(
                    select(PublishJob).where(
                        PublishJob.status.in_(
                            [JobStatus.PENDING, JobStatus.RETRYING, JobStatus.QUEUED]
                        )
                    )
                ).all()
            if not waiting:
                break
            clock.set(max(j.next_attempt_at for j in waiting))
        recovery.close()

    with app.db.read() as s:
        jobs = {j.id: j for j in s.scalars(select(PublishJob))}
    assert sorted(jobs) == sorted(ids)
    # every job is terminal: completed, or (only where the platform offers no idempotency)
    # failed as uncertain_outcome for a person to decide
    for job in jobs.values():
        if CHAOS_PLATFORMS[job.platform] == "none":
            assert job.status == JobStatus.COMPLETED or (
                job.status == JobStatus.FAILED and job.last_error_class == "uncertain_outcome"
            ), job.last_error
        else:
            assert job.status == JobStatus.COMPLETED, (job.platform, job.last_error)
    # zero duplicates anywhere: a post is on its platform at most once
    for platform in CHAOS_PLATFORMS:
        texts = Counter(p.text for p in state.accepted(platform))
        assert texts and max(texts.values()) == 1, platform
    completed = {(j.platform) for j in jobs.values() if j.status == JobStatus.COMPLETED}
    assert completed == set(CHAOS_PLATFORMS)
    # X's dropped publishes really took the uncertain path (a person decides), none retried blindly
    uncertain = [j for j in jobs.values() if j.last_error_class == "uncertain_outcome"]
    assert uncertain and {j.platform for j in uncertain} == {"x"}
