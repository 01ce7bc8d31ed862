"""A fixed analytics world on a fixed clock, with gaps, for the analytics and stats tests.

Now is 2026-11-28 12:00 UTC (the ``clock`` fixture). Workspace ``acme`` has four accounts:
mastodon ``alice`` (token never expires), x ``bob`` (expires in 3 h), bluesky ``carol``
(revoked; two jobs pending and one retrying for her), linkedin ``dave`` (expires in 5 days,
one refresh failure 2 days ago and one 8 days ago). Workspace ``quiet`` has nothing.

Events of the day 2026-11-28, by platform (lags in seconds):
- mastodon: published x4 with lags 10, 20, 30 and one without a lag; 1 retrying; 1 failed
  (still dead-lettered);
- x: published x2 with lags 50 and 150; 1 failed, then requeued (not dead-lettered);
- bluesky: only failures: 2 failed (dead-lettered), 1 retrying.
On 2026-11-27: mastodon published x1 (lag 5). On 2026-11-26: x failed x1. 2026-11-25: none.
On 2026-11-29 (tomorrow, must never count): mastodon published x1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import AccountStatus, JobStatus, Post, PublishJob, SocialAccount

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = "2026-11-28"


def build(app: Any, make: Any) -> dict[str, Any]:
    acme = make.workspace("acme", timezone="Europe/Berlin")
    quiet = make.workspace("quiet", timezone=None)
    alice = make.account(acme, platform="mastodon", handle="alice", token="t-alice")
    bob = make.account(acme, platform="x", handle="bob", token="t-bob")
    carol = make.account(acme, platform="bluesky", handle="carol", token="t-carol")
    dave = make.account(acme, platform="linkedin", handle="dave", token="t-dave")
    at = NOW - timedelta(hours=2)
    m_jobs = make.jobs(acme, alice, 6, run_at=at)  # 4 published, 1 failed, 1 retried
    x_jobs = make.jobs(acme, bob, 3, run_at=at)  # 2 published, 1 failed then requeued
    b_jobs = make.jobs(acme, carol, 3, run_at=at)  # 2 failed, 1 retried
    waiting = make.jobs(acme, carol, 2, run_at=NOW - timedelta(minutes=20))  # held by revoked
    future = make.jobs(acme, alice, 1, run_at=NOW + timedelta(hours=1))
    due_x = make.jobs(acme, bob, 1, run_at=NOW - timedelta(minutes=3))
    stuck = make.jobs(acme, alice, 1, run_at=NOW - timedelta(hours=1))
    with app.db.session() as s:
        for post in s.query(Post):
            post.created_at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
        s.get(SocialAccount, bob.id).token_expires_at = NOW + timedelta(hours=3)
        s.get(SocialAccount, carol.id).status = AccountStatus.REVOKED
        s.get(SocialAccount, dave.id).token_expires_at = NOW + timedelta(days=5)
        jobs = {j.id: j for j in s.query(PublishJob)}

        def finish(job_id: str, status: str, minutes_ago: float) -> None:
            jobs[job_id].status = status
            jobs[job_id].completed_at = NOW - timedelta(minutes=minutes_ago)

        for j in m_jobs[:4] + x_jobs[:2]:
            finish(j, JobStatus.COMPLETED, 30)
        finish(m_jobs[4], JobStatus.FAILED, 30)
        finish(b_jobs[0], JobStatus.FAILED, 90)  # finished over an hour ago
        finish(b_jobs[1], JobStatus.FAILED, 30)
        jobs[x_jobs[2]].status = JobStatus.PENDING  # requeued from the dead-letter queue
        jobs[x_jobs[2]].next_attempt_at = NOW + timedelta(hours=2)
        for j in (m_jobs[5], b_jobs[2]):
            jobs[j].status = JobStatus.RETRYING
            jobs[j].next_attempt_at = NOW + timedelta(minutes=30)
        jobs[due_x[0]].status = JobStatus.RETRYING
        jobs[stuck[0]].status = JobStatus.RUNNING
        jobs[stuck[0]].lease_owner = "dead-run"
        jobs[stuck[0]].lease_expires_at = NOW - timedelta(minutes=30)

        def ev(kind: str, when: datetime, acc: Any, job: str | None, **data: Any) -> None:
            record_event(
                s,
                kind,
                now=when,
                workspace_id=acme.id,
                platform=acc.platform,
                account_id=acc.id,
                job_id=job,
                **data,
            )

        t = NOW - timedelta(hours=1)
        for job, lag in zip(m_jobs[:4], (10, 20, 30, None), strict=True):
            ev(EventType.POST_PUBLISHED, t, alice, job, **({"latency_s": lag} if lag else {}))
        ev(EventType.POST_PUBLISH_RETRYING, t, alice, m_jobs[5])
        ev(EventType.POST_PUBLISH_FAILED, t, alice, m_jobs[4], error_class="content_rejected")
        for job, lag in zip(x_jobs[:2], (50, 150), strict=True):
            ev(EventType.POST_PUBLISHED, t, bob, job, latency_s=lag)
        ev(EventType.POST_PUBLISH_FAILED, t, bob, x_jobs[2], error_class="transient")
        ev(EventType.POST_PUBLISH_FAILED, t, carol, b_jobs[0], error_class="auth_revoked")
        ev(EventType.POST_PUBLISH_FAILED, t, carol, b_jobs[1], error_class="auth_revoked")
        ev(EventType.POST_PUBLISH_RETRYING, t, carol, b_jobs[2])
        ev(EventType.POST_PUBLISHED, NOW - timedelta(days=1), alice, None, latency_s=5)
        ev(EventType.POST_PUBLISH_FAILED, NOW - timedelta(days=2), bob, None)
        ev(EventType.POST_PUBLISHED, NOW + timedelta(days=1), alice, None, latency_s=1)
        ev(EventType.TOKEN_REFRESH_FAILED, NOW - timedelta(days=2), dave, None)
        ev(EventType.TOKEN_REFRESH_FAILED, NOW - timedelta(days=8), dave, None)
        ev(EventType.TOKEN_REFRESHED, NOW - timedelta(hours=3), bob, None)
    return {
        "acme": acme,
        "quiet": quiet,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "dave": dave,
        "waiting": waiting,
        "future": future,
        "due_x": due_x,
        "stuck": stuck,
    }
