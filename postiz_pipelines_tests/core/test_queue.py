"""The durable queue: enqueue idempotency, claims under lease, fencing, transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.publishing import dispatch, queue
from postiz_pipelines.core.publishing.windows import WindowPolicy
from postiz_pipelines.errors import Conflict


def _status(db, job_id):  # type: ignore[no-untyped-def]
    with db.read() as s:
        return s.get(PublishJob, job_id).status


def test_claim_takes_only_due_jobs_of_the_partition(app, make, clock):
    ws = make.workspace()
    other = make.workspace("other")
    acc = make.account(ws)
    acc2 = make.account(other, handle="zed")
    now = clock.now()
    due = make.jobs(ws, acc, 3, run_at=now - timedelta(seconds=5))
    make.jobs(ws, acc, 2, run_at=now + timedelta(hours=1))
    make.jobs(other, acc2, 2, run_at=now - timedelta(seconds=5))

    claimed = queue.claim_due_jobs(
        app.db, owner="run-1", now=now, workspace_id=ws.id, platform="mastodon"
    )

    assert sorted(j.id for j in claimed) == sorted(due)
    assert all(j.status == JobStatus.RUNNING and j.lease_owner == "run-1" for j in claimed)
    assert all(j.lease_expires_at == now + timedelta(minutes=5) for j in claimed)
    # a second claimer finds nothing left in that partition
    assert (
        queue.claim_due_jobs(
            app.db, owner="run-2", now=now, workspace_id=ws.id, platform="mastodon"
        )
        == []
    )


def test_lookahead_and_priority_order(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    now = clock.now()
    low = make.jobs(ws, acc, 1, run_at=now - timedelta(seconds=30))
    high = make.jobs(ws, acc, 1, run_at=now + timedelta(seconds=20), priority=5)
    make.jobs(ws, acc, 1, run_at=now + timedelta(seconds=90))

    claimed = queue.claim_due_jobs(app.db, owner="r", now=now, lookahead=timedelta(seconds=30))

    assert [j.id for j in claimed] == high + low


def test_enqueue_is_idempotent_on_the_key(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    with app.db.session() as s:
        job = s.get(PublishJob, job_id)
        row = queue.new_job_row(
            workspace_id=ws.id,
            platform="mastodon",
            post_id=job.post_id,
            target_id=job.target_id,
            account_id=acc.id,
            run_at=clock.now(),
            now=clock.now(),
        )
        assert row["idempotency_key"] == job.idempotency_key
        assert queue.enqueue(s, [row]) == 0
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PublishJob)) == 1


def test_transitions_are_fenced_on_the_lease_owner(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    queue.claim_due_jobs(app.db, owner="a", now=clock.now())
    with app.db.session() as s:
        assert queue.complete(s, job_id, owner="b", now=clock.now(), remote_id="x") is None
    assert _status(app.db, job_id) == JobStatus.RUNNING
    with app.db.session() as s:
        assert queue.complete(s, job_id, owner="a", now=clock.now(), remote_id="x") is not None
    assert _status(app.db, job_id) == JobStatus.COMPLETED


def test_retry_then_release_and_fail(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    queue.claim_due_jobs(app.db, owner="a", now=clock.now())
    with app.db.session() as s:
        s.get(PublishJob, job_id).attempts = 1
        queue.schedule_retry(
            s,
            job_id,
            owner="a",
            now=clock.now(),
            delay=timedelta(minutes=1),
            error="503",
            error_class="transient",
        )
    with app.db.read() as s:
        job = s.get(PublishJob, job_id)
        assert (job.status, job.next_attempt_at, job.lease_owner) == (
            JobStatus.RETRYING,
            clock.now() + timedelta(minutes=1),
            None,
        )
    # not due yet
    assert queue.claim_due_jobs(app.db, owner="b", now=clock.now()) == []
    later = clock.now() + timedelta(minutes=1)
    assert [j.id for j in queue.claim_due_jobs(app.db, owner="b", now=later)] == [job_id]
    with app.db.session() as s:
        assert queue.release(s, [job_id], owner="b", now=later) == 1
    assert _status(app.db, job_id) == JobStatus.RETRYING
    queue.claim_due_jobs(app.db, owner="c", now=later)
    with app.db.session() as s:
        queue.fail(s, job_id, owner="c", now=later, error="gone", error_class="auth_revoked")
    with app.db.read() as s:
        job = s.get(PublishJob, job_id)
        assert (job.status, job.last_error_class) == (JobStatus.FAILED, "auth_revoked")


def test_cancel_refuses_running_and_terminal_jobs(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    a, b = make.jobs(ws, acc, 2, run_at=clock.now())
    with app.db.session() as s:
        queue.cancel(s, a, now=clock.now())
    assert _status(app.db, a) == JobStatus.CANCELED
    queue.claim_due_jobs(app.db, owner="r", now=clock.now())
    with app.db.session() as s, pytest.raises(Conflict):
        queue.cancel(s, b, now=clock.now())
    with app.db.session() as s, pytest.raises(Conflict):
        queue.cancel(s, a, now=clock.now())


def test_due_windows_one_per_partition_with_stable_run_keys(app, make, clock):
    ws = make.workspace()
    other = make.workspace("other")
    acc = make.account(ws)
    acc_b = make.account(ws, handle="bob")
    acc2 = make.account(other, handle="zed")
    now = clock.now()
    make.jobs(ws, acc, 2, run_at=now)
    make.jobs(ws, acc_b, 1, run_at=now + timedelta(seconds=30))
    make.jobs(other, acc2, 1, run_at=now)
    make.jobs(other, acc2, 1, run_at=now + timedelta(hours=2))
    policy = WindowPolicy(lead=timedelta(0))

    with app.db.read() as s:
        first = dispatch.due_windows(s, now=now, policy=policy)
        second = dispatch.due_windows(s, now=now, policy=policy)

    assert {(d.workspace_slug, d.platform) for d in first} == {
        ("acme", "mastodon"),
        ("other", "mastodon"),
    }
    keys = [dispatch.WindowRequest(d).run_key for d in first]
    assert keys == [dispatch.WindowRequest(d).run_key for d in second]
    marked = dispatch.mark_requested(app, [dispatch.WindowRequest(d) for d in first], now=now)
    assert 3 <= marked <= 4  # the jobs of the windows asked for; never the one 2 h away
    with app.db.read() as s:  # queued jobs still make their window due: the runs dedupe
        assert {d.window for d in dispatch.due_windows(s, now=now, policy=policy)} == {
            d.window for d in first
        }


def test_expired_leases_are_found(app, make, clock):
    ws = make.workspace()
    acc = make.account(ws)
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    queue.claim_due_jobs(app.db, owner="dead", now=clock.now(), lease=timedelta(seconds=30))
    with app.db.session() as s:
        assert queue.expired_leases(s, now=clock.now() + timedelta(seconds=29)) == []
        assert [j.id for j in queue.expired_leases(s, now=clock.now() + timedelta(seconds=31))] == [
            job_id
        ]
