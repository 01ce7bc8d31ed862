"""A job its platform is still processing (TikTok's moderation) keeps looking past
``max_attempts``, but not for ever: after ``MAX_PROCESSING_POLLS`` looks in a row, or
``MAX_PROCESSING_TIME`` since the first, it is dead-lettered saying the post may be live,
whatever the provider does; the rule as pure decisions, and through the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postiz_pipelines.core.models import AttemptOutcome, JobStatus, PublishAttempt
from postiz_pipelines.core.publishing.readback import (
    MAX_PROCESSING_POLLS,
    MAX_PROCESSING_TIME,
    Action,
    AttemptHistory,
    Plan,
    after_publish_error,
    plan_attempt,
    processing_overdue,
)
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.errors import StillProcessing
from postiz_pipelines.providers.base import IdempotencyMode
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.tiktok_world import tiktok_world
from postiz_pipelines_tests.core.test_platform_progress import jobs, video_post

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STILL = StillProcessing.error_class


def look(no: int, at: datetime, error: str | None = STILL) -> PublishAttempt:
    return PublishAttempt(
        attempt_no=no,
        outcome=AttemptOutcome.FAILED,
        error_class=error,
        error_message=error,
        started_at=at,
    )


def plan(history: AttemptHistory, now: datetime) -> Plan | None:
    return plan_attempt(
        history,
        mode=IdempotencyMode.STORED_ID,
        reads_back=False,
        publishes=9,
        max_attempts=4,
        now=now,
        platform="tiktok",
    )


def test_the_looks_in_a_row_and_their_start_are_read_from_the_attempts() -> None:
    h = AttemptHistory.of(
        [
            look(1, T0, "transient"),
            look(2, T0 + timedelta(minutes=5)),
            look(3, T0 + timedelta(hours=1)),
        ]
    )
    assert (h.processing_polls, h.processing_since) == (2, T0 + timedelta(minutes=5))
    # another error in between starts the count again
    h = AttemptHistory.of([look(1, T0), look(2, T0, "transient"), look(3, T0)])
    assert h.processing_polls == 1
    assert AttemptHistory.of([]).processing_polls == 0


def test_looking_goes_on_past_max_attempts_within_the_bounds_and_stops_after() -> None:
    few = AttemptHistory.of([look(1, T0), look(2, T0 + timedelta(hours=1))])
    assert plan(few, T0 + timedelta(hours=2)) == Plan.PUBLISH  # 9 publishes of 4: still looks
    assert plan(few, T0 + MAX_PROCESSING_TIME) is None
    reason = processing_overdue(few, platform="tiktok", now=T0 + MAX_PROCESSING_TIME)
    assert reason is not None and "may be live on tiktok" in reason
    assert "2 looks over 48.0 h" in reason
    many = AttemptHistory.of([look(i, T0) for i in range(1, MAX_PROCESSING_POLLS + 1)])
    assert plan(many, T0 + timedelta(minutes=1)) is None
    assert processing_overdue(many, platform="tiktok", now=T0) is not None


def test_the_verdict_after_a_still_processing_answer_is_bounded_too() -> None:
    exc = StillProcessing("tiktok: p1 is still processing", platform="tiktok", retry_after=120)

    def verdict(history: AttemptHistory | None, now: datetime | None):  # type: ignore[no-untyped-def]
        return after_publish_error(
            exc,
            platform="tiktok",
            mode=IdempotencyMode.STORED_ID,
            reads_back=False,
            publishes=7,
            max_attempts=4,
            unresolved=False,
            history=history,
            now=now,
        )

    young = AttemptHistory.of([look(1, T0)])
    assert verdict(young, T0 + timedelta(hours=3)).action == Action.RETRY
    assert verdict(None, None).action == Action.RETRY  # without a history: as before
    old = verdict(young, T0 + timedelta(hours=49))
    assert (old.action, old.error_class) == (Action.FAIL, "uncertain_outcome")
    assert "may be live" in old.reason


def test_a_post_still_in_moderation_after_two_days_is_dead_lettered_as_maybe_live(
    app, make, clock, tiny_video
) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=5)
    transport = SandboxTransport(create_app(state), timeout=1)
    tiktok_world(state).processing_polls = 10**6  # moderation never ends
    ws = make.workspace()
    acc = video_post(
        app, make, clock, ws, "tiktok", "act.lang", tiny_video(seconds=4), max_attempts=1
    )
    publish_due(app, owner="run-1", clock=clock, transport=transport)
    job = jobs(app)[acc.id]
    assert (job.status, job.last_error_class) == (JobStatus.RETRYING, "still_processing")
    clock.advance((MAX_PROCESSING_TIME + timedelta(hours=1)).total_seconds())
    report = publish_due(app, owner="run-2", clock=clock, transport=transport)
    assert report.as_dict()["failed"] == 1, report.outcomes
    job = jobs(app)[acc.id]
    assert (job.status, job.last_error_class) == (JobStatus.FAILED, "uncertain_outcome")
    assert "still processing it after 1 looks" in (job.last_error or "")
    assert "may be live on tiktok" in (job.last_error or "")
    assert state.request_count("tiktok", "POST /v2/post/publish/video/init/") == 1
