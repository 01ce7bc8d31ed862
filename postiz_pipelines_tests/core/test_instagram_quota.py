"""Instagram's publishing limit through the engine: the provider reads
``content_publishing_limit`` before anything is sent, and a full window defers the job (the
account throttled for every run, the attempt given back) until it frees; then it publishes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from postiz_pipelines.core.models import JobStatus, PublishAttempt, Throttle
from postiz_pipelines_tests.core import test_readback as rb
from postiz_pipelines_tests.core.test_readback import connect, job, one_job, run_when_due

engine_app, state, transport = rb.engine_app, rb.state, rb.transport  # the fixtures

CONTAINER = "POST /{version}/{node_id}/media"
LIMIT = "GET /{version}/{node_id}/content_publishing_limit"


def test_a_full_publishing_window_defers_the_job_without_spending_its_attempt(
    engine_app,
    state,
    transport,
    make,
    clock,
) -> None:  # type: ignore[no-untyped-def]
    state.override_rate_limit("instagram", "publish", limit=1, per_seconds=86_400)
    ws, acc = connect(engine_app, state, transport, make, "instagram")
    first = one_job(engine_app, ws, acc, clock.now(), "Erster Beitrag ☀️")
    assert run_when_due(engine_app, clock, transport, first).as_dict()["completed"] == 1
    second = one_job(engine_app, ws, acc, clock.now(), "Zweiter Beitrag — über die Grenze 🚫")
    report = run_when_due(engine_app, clock, transport, second)
    assert report.as_dict()["deferred"] == 1, report.outcomes
    waiting = job(engine_app, second)
    assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)
    assert "1 of the 1 posts allowed per 24 h" in (waiting.last_error or "")
    tomorrow = datetime(2026, 11, 29, tzinfo=UTC)  # the sandbox's window is the UTC day
    assert waiting.next_attempt_at == tomorrow
    with engine_app.db.read() as s:
        throttle = s.get(Throttle, f"account:{acc.id}")
        tries = list(s.scalars(select(PublishAttempt).where(PublishAttempt.job_id == second)))
    assert throttle is not None and throttle.blocked_until == tomorrow
    assert [t.error_class for t in tries] == ["quota_exhausted"]
    assert state.request_count("instagram", CONTAINER) == 1  # nothing was sent for the second
    assert state.request_count("instagram", LIMIT) == 2
    report = run_when_due(engine_app, clock, transport, second)
    assert report.as_dict()["completed"] == 1, report.outcomes
    assert job(engine_app, second).attempts == 1
    assert [p.text for p in state.accepted("instagram")][-1].startswith("Zweiter")
