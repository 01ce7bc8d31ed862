"""The engine with the platforms that wait: TikTok's moderation is looked at again in later
tries by the saved publish id (never resubmitted, never counted as a platform failure), and
YouTube's daily quota, once spent, defers every YouTube job until the reset."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import (
    CircuitBreaker,
    JobStatus,
    PublishAttempt,
    PublishJob,
    Throttle,
    Workspace,
)
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.tiktok_world import tiktok_world
from postiz_pipelines.sandbox.youtube_world import youtube_world


def video_post(
    app, make, clock, ws, platform: str, token: str, video: bytes, *, at=None, max_attempts=4
):  # type: ignore[no-untyped-def]
    acc = make.account(
        ws, platform=platform, handle=token, token=token, base_url=f"http://sandbox.test/{platform}"
    )
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        staged = storage.stage()
        staged.write(video)
        asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="v.mp4", now=clock.now())
        create_post(
            s,
            workspace=s.get(Workspace, ws.id),
            text=f"Clip for {token} 🎞",
            account_ids=[acc.id],
            scheduled_at=at,
            now=clock.now(),
            media_ids=[asset.id],
            media_root=app.media_root,
            max_attempts=max_attempts,
        )
    return acc


def jobs(app):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return {j.account_id: j for j in s.scalars(select(PublishJob))}


def test_tiktok_moderation_is_looked_at_again_by_the_saved_id(app, make, clock, tiny_video) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=5)
    transport = SandboxTransport(create_app(state), timeout=1)
    tiktok_world(state).processing_polls = 1000
    ws = make.workspace()
    acc = video_post(
        app, make, clock, ws, "tiktok", "act.one", tiny_video(seconds=4), max_attempts=1
    )
    assert (
        publish_due(app, owner="run-1", clock=clock, transport=transport).as_dict()["retrying"] == 1
    )
    job = jobs(app)[acc.id]
    assert (job.status, job.last_error_class, job.attempts) == (
        JobStatus.RETRYING,
        "still_processing",
        1,
    )
    assert job.progress["publish_id"] in tiktok_world(state).publishes
    with app.db.read() as s:
        breaker = s.get(CircuitBreaker, "tiktok")
    assert breaker is None or breaker.consecutive_failures == 0  # waiting is no outage
    tiktok_world(state).publishes[job.progress["publish_id"]].polls_left = 0  # moderation done
    clock.set(job.next_attempt_at)
    report = publish_due(app, owner="run-2", clock=clock, transport=transport)
    assert report.as_dict()["completed"] == 1, report.outcomes
    assert state.request_count("tiktok", "POST /v2/post/publish/video/init/") == 1
    assert len(state.accepted("tiktok")) == 1
    assert jobs(app)[acc.id].attempts == 2  # past max_attempts=1: a look is not a resubmission


def test_youtubes_spent_quota_defers_every_youtube_job_until_the_reset(
    app, make, clock, tiny_video
) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=5)
    transport = SandboxTransport(create_app(state), timeout=1)
    youtube_world(state).daily_units = 1000
    ws = make.workspace()
    first = video_post(app, make, clock, ws, "youtube", "ya29.one", tiny_video(seconds=4))
    later = clock.now() + timedelta(minutes=10)
    second = video_post(
        app, make, clock, ws, "youtube", "ya29.two", tiny_video(seconds=4), at=later
    )
    assert (
        publish_due(app, owner="run-1", clock=clock, transport=transport).as_dict()["retrying"] == 1
    )
    with app.db.read() as s:
        blocked = s.get(Throttle, "platform:youtube")
    assert blocked is not None
    assert blocked.blocked_until.isoformat() == "2026-11-29T08:00:00+00:00"  # midnight in LA
    clock.advance(11 * 60)
    report = publish_due(app, owner="run-2", clock=clock, transport=transport)
    assert report.as_dict()["deferred"] == 1
    job = jobs(app)[second.id]
    assert (job.status, job.attempts, job.last_error_class) == (JobStatus.PENDING, 0, "deferred")
    with app.db.read() as s:
        tries = s.scalars(select(PublishAttempt)).all()
    assert len(tries) == 1 and tries[0].error_code == "quotaExceeded"
    assert state.request_count("youtube", "POST /upload/youtube/v3/videos") == 1
    assert jobs(app)[first.id].next_attempt_at >= blocked.blocked_until


def test_a_refused_tiktok_post_forgets_its_publish_id(app, make, clock, tiny_video) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=5)
    tiktok_world(state).fail_next = "spam_risk_text"
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    acc = video_post(app, make, clock, ws, "tiktok", "act.refused", tiny_video(seconds=4))
    assert (
        publish_due(app, owner="run-1", clock=clock, transport=transport).as_dict()["failed"] == 1
    )
    job = jobs(app)[acc.id]
    assert (job.last_error_class, job.progress) == ("content_rejected", {})
