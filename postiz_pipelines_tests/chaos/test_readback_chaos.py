"""Accept-then-drop on publish and 503 bursts on the read-back endpoints, on PostgreSQL, with a
worker process killed (SIGKILL) mid-batch: every platform that can tell us whether a post is
live shows each post once, no accepted post is recorded as failed, every job ends terminal.

The worker runs as a subprocess against a live sandbox server on loopback (as in
``test_worker_processes.py``); recovery then runs in-process on a fixed clock moved to each
retry's time. The first recovery pass meets a 503 burst on every read-back endpoint, so every
unknown outcome goes through a failed read-back before it is resolved.
"""

from __future__ import annotations

import asyncio
import io
import signal
from collections import Counter
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import FixedClock, utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import (
    TERMINAL_JOB_STATES,
    AttemptOutcome,
    JobStatus,
    Post,
    PublishAttempt,
    PublishJob,
)
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.core.publishing.worker import PublishingWorker
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.sandbox import FaultSpec, SandboxState
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.settings import Settings
from postiz_pipelines_tests.chaos.test_worker_processes import start_worker, wait_for_worker

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# every ``lookup`` and ``deterministic_id`` platform: what publishes, what reads back
PLATFORMS = {
    "facebook": ("POST /{version}/{node_id}/feed", "GET /{version}/{node_id}/published_posts"),
    "instagram": (
        "POST /{version}/{node_id}/media_publish",
        "GET /{version}/{node_id}/media",
    ),
    "threads": (
        "POST /{version}/{node_id}/threads_publish",
        "GET /{version}/{node_id}/threads",
    ),
    "bluesky": ("POST /xrpc/com.atproto.repo.createRecord", "GET /xrpc/com.atproto.repo.getRecord"),
}
ACCOUNTS, PER_ACCOUNT = 3, 8  # 4 platforms x 3 accounts x 8 posts = 96 posts


def seed(app: AppContext, url: str) -> list[str]:
    """Posts created as a user would (validated; Instagram's with an image), due now."""
    now = utcnow()
    jpeg = io.BytesIO()
    Image.new("RGB", (1080, 1080), (30, 120, 200)).save(jpeg, "JPEG")
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        ws = create_workspace(s, slug="chaos", timezone="Europe/Berlin", now=now)
        staged = storage.stage()
        staged.write(jpeg.getvalue())
        image, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="c.jpg", now=now)
        for i in range(ACCOUNTS):
            for acc in connect_sandbox_accounts(
                s,
                app.keyring,
                workspace=ws,
                sandbox_url=url,
                now=now,
                handle=f"h{i}",
                platforms=list(PLATFORMS),
            ):
                for n in range(PER_ACCOUNT):
                    create_post(
                        s,
                        workspace=ws,
                        text=f"{acc.platform} h{i} #{n}: Grüße 🌷",
                        account_ids=[acc.id],
                        media_ids=[image.id] if acc.platform == "instagram" else [],
                        scheduled_at=None,
                        now=now,
                        media_root=app.media_root,
                    )
        return list(s.scalars(select(PublishJob.id)))


def set_faults(state: SandboxState, *, burst: bool) -> None:
    for platform, (publish, read_back) in PLATFORMS.items():
        if burst:  # every read-back answers 503, publishes are left alone
            state.faults.set(
                platform, FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({read_back}))
            )
        else:  # accept-then-drop on publish, and 503s on both
            state.faults.set(
                platform,
                FaultSpec(
                    latency_ms=3,
                    drops=6,
                    error_rates={503: 0.1},
                    endpoints=frozenset({publish, read_back}),
                ),
            )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_drops_read_back_bursts_and_sigkill_no_duplicates_nothing_live_failed(app, env):
    state = SandboxState(seed=5)
    set_faults(state, burst=False)
    settings = {
        "POSTIZ_BREAKER_THRESHOLD": "100000",  # this test is about read-backs, not the breaker
        "POSTIZ_PUBLIC_URL": "https://posts.example",
        "POSTIZ_WORKER_CONCURRENCY": "8",
    }
    with running_sandbox(state=state) as url:
        ids = seed(app, url)
        total = len(ids)
        assert total == len(PLATFORMS) * ACCOUNTS * PER_ACCOUNT

        accepted = lambda: sum(len(state.accepted(p)) for p in PLATFORMS)  # noqa: E731
        proc = start_worker(
            {**env, **settings, "POSTIZ_SANDBOX_URL": url},
            POSTIZ_LEASE_SECONDS="30",
        )
        try:
            wait_for_worker(proc, lambda: accepted() >= total // 3, 45, "a third accepted")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed_at = utcnow()
        with app.db.read() as s:
            before = Counter(s.scalars(select(PublishJob.status)))
        assert before[JobStatus.COMPLETED] < total  # the kill really interrupted the batch

        # the dead worker's leases expire; recovery and retries meet a read-back 503 burst first
        clock = FixedClock(killed_at + timedelta(seconds=30 + 60 + 1))
        recover_expired_leases(app.db, now=clock.now())
        set_faults(state, burst=True)
        recovery = AppContext.from_settings(
            Settings.from_env({**env, **settings, "POSTIZ_SANDBOX_URL": url})
        )
        try:
            for n in range(12):
                if n == 1:
                    state.faults.reset()  # the burst is over
                worker = PublishingWorker(recovery, clock=clock, worker_id=f"recovery-{n}")
                asyncio.run(worker.run(stop_when_idle=True))
                with app.db.read() as s:
                    waiting = s.scalars(
                        select(PublishJob).where(PublishJob.status.not_in(TERMINAL_JOB_STATES))
                    ).all()
                if not waiting:
                    break
                clock.set(max([clock.now(), *(j.next_attempt_at for j in waiting)]))
        finally:
            recovery.close()

    with app.db.read() as s:
        jobs = {j.id: j for j in s.scalars(select(PublishJob))}
        text_of = {p.id: p.content for p in s.scalars(select(Post))}
        attempts = list(s.scalars(select(PublishAttempt)))
    assert sorted(jobs) == sorted(ids)
    assert {j.status for j in jobs.values()} <= TERMINAL_JOB_STATES  # every job terminal
    by_text = {(j.platform, text_of[j.post_id]): j for j in jobs.values()}
    for platform in PLATFORMS:
        posts = state.accepted(platform)
        texts = Counter(p.text for p in posts)
        assert texts and max(texts.values()) == 1, (platform, texts.most_common(3))  # never twice
        for live in posts:  # what the platform took is recorded as published, with its id
            job = by_text[(platform, live.text)]
            assert job.status == JobStatus.COMPLETED, (platform, job.last_error)
            assert job.remote_id == live.remote_id
    # with the faults gone, nothing is lost either
    assert {j.status for j in jobs.values()} == {JobStatus.COMPLETED}
    # the paths under test were taken: failed read-backs retried, unknown outcomes found
    assert any(a.readback == "failed" for a in attempts)
    assert any(a.readback == "found" for a in attempts)
    uncertain_bluesky = {
        a.job_id
        for a in attempts
        if a.outcome == AttemptOutcome.UNCERTAIN and jobs[a.job_id].platform == "bluesky"
    }
    assert uncertain_bluesky
