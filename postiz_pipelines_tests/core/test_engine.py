"""The publishing engine against the sandbox: outcomes, retries, throttles, breaker, recovery.

The clock is a FixedClock moved by the test; the sandbox runs in-process with faults.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    AttemptOutcome,
    AuditLog,
    CircuitBreaker,
    JobStatus,
    PublishAttempt,
    PublishJob,
    SocialAccount,
    Throttle,
)
from postiz_pipelines.core.observability.alerts import raise_alerts
from postiz_pipelines.core.observability.stats import worker_stats
from postiz_pipelines.core.publishing.breaker import blocked_platforms
from postiz_pipelines.core.publishing.queue import claim_due_jobs
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app

BASE = "http://sandbox.test/mastodon"
STATUSES = "POST /api/v1/statuses"


@pytest.fixture
def sandbox(clock):  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=11)
    return state, SandboxTransport(create_app(state), timeout=0.5)


@pytest.fixture
def setup(make):  # type: ignore[no-untyped-def]
    ws = make.workspace()
    acc = make.account(ws, base_url=BASE)
    return ws, acc


def run(app, clock, transport, owner="run-1"):  # type: ignore[no-untyped-def]
    return publish_due(app, owner=owner, clock=clock, transport=transport)


def jobs_by_id(app):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return {j.id: j for j in s.scalars(select(PublishJob))}


def attempts_of(app, job_id):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return list(
            s.scalars(
                select(PublishAttempt)
                .where(PublishAttempt.job_id == job_id)
                .order_by(PublishAttempt.attempt_no)
            )
        )


def test_publishes_and_records_everything(app, make, clock, sandbox, setup):
    state, transport = sandbox
    ws, acc = setup
    ids = make.jobs(ws, acc, 5, run_at=clock.now())
    report = run(app, clock, transport)
    assert report.as_dict()["completed"] == 5
    assert sorted(p.text for p in state.accepted("mastodon")) == [f"hello {i}" for i in range(5)]
    jobs = jobs_by_id(app)
    assert {jobs[i].status for i in ids} == {JobStatus.COMPLETED}
    with app.db.read() as s:
        events = Counter(e.event_type for e in s.scalars(select(AnalyticsEvent)))
        audits = s.scalars(select(AuditLog).where(AuditLog.action == "post.publish")).all()
    assert events["post_published"] == 5 and len(audits) == 5
    for i in ids:
        [att] = attempts_of(app, i)
        assert att.outcome == AttemptOutcome.SUCCEEDED and att.remote_id == jobs[i].remote_id


def test_transient_failure_retries_with_backoff_then_succeeds(app, make, clock, sandbox, setup):
    state, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    state.faults.set("mastodon", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({STATUSES})))

    assert run(app, clock, transport).as_dict()["retrying"] == 1
    job = jobs_by_id(app)[job_id]
    assert job.status == JobStatus.RETRYING and job.attempts == 1
    wait = (job.next_attempt_at - clock.now()).total_seconds()
    assert 54 <= wait <= 66  # 1 min +/- 10 % jitter
    [att] = attempts_of(app, job_id)
    assert (att.outcome, att.http_status, att.error_class) == (
        AttemptOutcome.FAILED,
        503,
        "transient",
    )

    assert run(app, clock, transport).as_dict()["claimed"] == 0  # not due yet
    state.faults.reset("mastodon")
    clock.set(job.next_attempt_at)
    assert run(app, clock, transport).as_dict()["completed"] == 1
    assert [a.outcome for a in attempts_of(app, job_id)] == [
        AttemptOutcome.FAILED,
        AttemptOutcome.SUCCEEDED,
    ]


def test_backoff_doubles_and_attempts_exhaust_into_the_dead_letter_queue(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    state.faults.set("mastodon", FaultSpec(error_rates={502: 1.0}, endpoints=frozenset({STATUSES})))
    waits = []
    for _ in range(4):
        run(app, clock, transport)
        job = jobs_by_id(app)[job_id]
        if job.status == JobStatus.RETRYING:
            waits.append((job.next_attempt_at - clock.now()).total_seconds())
            clock.set(job.next_attempt_at)
    job = jobs_by_id(app)[job_id]
    assert job.status == JobStatus.FAILED and job.attempts == 4
    assert "attempts exhausted (4/4)" in (job.last_error or "")
    assert [round(w / 60) for w in waits] == [1, 2, 4]
    assert state.accepted("mastodon") == []


def test_rate_limit_sets_the_wait_and_throttles_the_account_for_everyone(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    first, second = make.jobs(ws, acc, 2, run_at=clock.now())
    state.faults.set(
        "mastodon", FaultSpec(burst_429=1, burst_reset_seconds=600, endpoints=frozenset({STATUSES}))
    )

    report = run(app, clock, transport)
    outcomes = {o.job_id: o.status for o in report.outcomes}
    jobs = jobs_by_id(app)
    limited = next(j for j in (first, second) if outcomes[j] == "retrying")
    other = second if limited == first else first
    assert outcomes[other] == "deferred"  # same account, not tried: no attempt spent
    assert jobs[other].attempts == 0 and jobs[other].status == JobStatus.PENDING
    assert (jobs[limited].next_attempt_at - clock.now()).total_seconds() >= 599
    with app.db.read() as s:
        row = s.get(Throttle, f"account:{acc.id}")
        shown = worker_stats(s, now=clock.now())["throttles"]
    assert row is not None and (row.blocked_until - clock.now()).total_seconds() >= 599
    assert [t["scope"] for t in shown] == [f"account:{acc.id}"]
    # another run (another worker) respects it too
    assert run(app, clock, transport, owner="run-2").as_dict()["claimed"] == 0
    clock.advance(601)
    assert run(app, clock, transport, owner="run-2").as_dict()["completed"] == 2


def test_revoked_token_holds_the_jobs_and_marks_the_account_once(app, make, clock, sandbox, setup):
    state, transport = sandbox
    ws, acc = setup
    a, b = make.jobs(ws, acc, 2, run_at=clock.now())
    state.revoke_token("mastodon", "tok-alice")
    report = run(app, clock, transport)
    assert report.as_dict()["held"] == 2
    assert report.as_dict()["failed"] == 0 and report.as_dict()["retrying"] == 0
    jobs = jobs_by_id(app)
    assert {jobs[a].status, jobs[b].status} == {JobStatus.HELD}
    assert {jobs[a].attempts, jobs[b].attempts} == {0}  # the refused call is given back
    assert {jobs[a].held_reason, jobs[b].held_reason} == {"account_reconnect_needed"}
    with app.db.read() as s:
        account = s.get(SocialAccount, acc.id)
        assert account.status == AccountStatus.RECONNECT_NEEDED
        assert account.status_changed_at is not None and account.status_reason
        kinds = Counter(e.event_type for e in s.scalars(select(AnalyticsEvent)))
    assert kinds["account_disconnected"] == 1 and kinds["post_publish_failed"] == 0
    # nothing claims a held job, however late it gets
    clock.advance(3600)
    assert run(app, clock, transport).as_dict()["claimed"] == 0


def test_content_rejected_is_permanent_with_the_platforms_reason(app, make, clock, sandbox, setup):
    _, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now(), text="x" * 600)  # not validated on purpose
    run(app, clock, transport)
    job = jobs_by_id(app)[job_id]
    assert (job.status, job.last_error_class, job.attempts) == (
        JobStatus.FAILED,
        "content_rejected",
        1,
    )
    assert "500" in (job.last_error or "")


def test_accept_then_drop_is_retried_with_the_same_key_and_posts_once(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    state.faults.set("mastodon", FaultSpec(drops=1, endpoints=frozenset({STATUSES})))
    run(app, clock, transport)
    job = jobs_by_id(app)[job_id]
    assert job.status == JobStatus.RETRYING and job.last_error_class == "outcome_unknown"
    assert len(state.accepted("mastodon")) == 1  # it did land
    clock.set(job.next_attempt_at)
    run(app, clock, transport)
    job = jobs_by_id(app)[job_id]
    assert job.status == JobStatus.COMPLETED
    assert len(state.accepted("mastodon")) == 1  # the platform deduplicated the retry
    assert job.remote_id == state.accepted("mastodon")[0].remote_id
    assert [a.outcome for a in attempts_of(app, job_id)] == [
        AttemptOutcome.UNCERTAIN,
        AttemptOutcome.SUCCEEDED,
    ]


def test_outage_opens_the_breaker_defers_without_spending_attempts_and_recovery_closes_it(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    ids = make.jobs(ws, acc, 12, run_at=clock.now())
    state.faults.set("mastodon", FaultSpec(outage=True))
    run(app, clock, transport)
    jobs = jobs_by_id(app)
    tried = [i for i in ids if jobs[i].attempts == 1]
    untried = [i for i in ids if jobs[i].attempts == 0]
    assert 5 <= len(tried) <= 5 + 2  # threshold, plus at most the calls already in flight
    assert all(jobs[i].status == JobStatus.PENDING for i in untried) and untried
    assert not any(j.status == JobStatus.FAILED for j in jobs.values())
    with app.db.read() as s:
        cb = s.get(CircuitBreaker, "mastodon")
        assert cb.state == "open"
        assert blocked_platforms(s, now=clock.now()) == {"mastodon"}
    with app.db.read() as s:
        stats = worker_stats(s, now=clock.now())
    assert [(b["platform"], b["state"]) for b in stats["circuitBreakers"]] == [("mastodon", "open")]
    raised = raise_alerts(app.db, now=clock.now())
    assert [(a.kind, a.subject) for a in raised] == [("breaker_open", "mastodon")]
    assert raise_alerts(app.db, now=clock.now()) == []  # once per quiet period
    with app.db.read() as s:
        alerts = s.scalars(select(AnalyticsEvent).where(AnalyticsEvent.event_type == "alert")).all()
    assert [a.data["alert"] for a in alerts] == ["breaker_open"]

    # still down at the first probe: opens again, for longer
    clock.set(cb.open_until)
    run(app, clock, transport)
    with app.db.read() as s:
        cb2 = s.get(CircuitBreaker, "mastodon")
    assert cb2.state == "open" and (cb2.open_until - clock.now()).total_seconds() >= 119
    assert sum(j.attempts for j in jobs_by_id(app).values()) == len(tried) + 1  # only the probe

    state.faults.reset("mastodon")
    for _ in range(10):
        clock.set(
            max(
                j.next_attempt_at
                for j in jobs_by_id(app).values()
                if j.status in (JobStatus.PENDING, JobStatus.RETRYING)
            )
            if any(
                j.status in (JobStatus.PENDING, JobStatus.RETRYING)
                for j in jobs_by_id(app).values()
            )
            else clock.now()
        )
        run(app, clock, transport)
        if all(j.status == JobStatus.COMPLETED for j in jobs_by_id(app).values()):
            break
    assert {j.status for j in jobs_by_id(app).values()} == {JobStatus.COMPLETED}
    with app.db.read() as s:
        assert s.get(CircuitBreaker, "mastodon").state == "closed"
    assert len(state.accepted("mastodon")) == 12


def test_thirty_percent_transient_faults_everything_published_or_dead_lettered(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    ids = make.jobs(ws, acc, 60, run_at=clock.now())
    state.faults.set(
        "mastodon",
        FaultSpec(error_rates={503: 0.15, 500: 0.15}, seed=5, endpoints=frozenset({STATUSES})),
    )
    for _ in range(40):
        run(app, clock, transport)
        waiting = [
            j
            for j in jobs_by_id(app).values()
            if j.status in (JobStatus.PENDING, JobStatus.RETRYING)
        ]
        if not waiting:
            break
        clock.set(min(j.next_attempt_at for j in waiting))
    jobs = jobs_by_id(app)
    assert {jobs[i].status for i in ids} <= {JobStatus.COMPLETED, JobStatus.FAILED}
    failed = [jobs[i] for i in ids if jobs[i].status == JobStatus.FAILED]
    assert all(j.last_error and j.attempts == j.max_attempts for j in failed)
    assert all(jobs[i].attempts <= jobs[i].max_attempts for i in ids)
    completed = [i for i in ids if jobs[i].status == JobStatus.COMPLETED]
    assert len(completed) >= 50
    texts = Counter(p.text for p in state.accepted("mastodon"))
    assert max(texts.values()) == 1 and len(texts) == len(completed)


def test_dead_process_while_sending_is_resolved_by_the_idempotency_mode(
    app, make, clock, sandbox, setup
):
    _, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    claim_due_jobs(app.db, owner="dead-run", now=clock.now(), lease=timedelta(seconds=60))
    # what the engine writes before the platform call, then the process dies
    with app.db.session() as s:
        job = s.get(PublishJob, job_id)
        job.attempts = 1
        s.add(
            PublishAttempt(
                id=new_id("att"),
                job_id=job_id,
                attempt_no=1,
                lease_owner="dead-run",
                request_key=job.idempotency_key,
                started_at=clock.now(),
                outcome=AttemptOutcome.SENDING,
            )
        )
    assert recover_expired_leases(app.db, now=clock.now()).requeued == 0  # lease still valid
    clock.advance(61)
    report = recover_expired_leases(app.db, now=clock.now())
    assert report.as_dict() == {"requeued": 1, "failed_uncertain": 0}  # Mastodon: native key
    assert [a.outcome for a in attempts_of(app, job_id)] == [AttemptOutcome.UNCERTAIN]
    run(app, clock, transport)
    assert jobs_by_id(app)[job_id].status == JobStatus.COMPLETED


def test_outcome_write_survives_a_transient_database_error(app, make, clock, sandbox, setup):
    """The platform accepted the post; a dropped database connection while recording it is
    retried (the transaction is whole or nothing), so the job is not left uncertain."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    state, transport = sandbox
    ws, acc = setup
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    failures = {"left": 1}

    def flaky(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE PUBLISH_ATTEMPTS") and failures["left"]:
            failures["left"] -= 1
            raise OperationalError(statement, params, Exception("server closed the connection"))

    event.listen(app.db.engine, "before_cursor_execute", flaky)
    try:
        report = run(app, clock, transport)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", flaky)
    assert failures["left"] == 0  # the fault really happened
    assert report.as_dict()["completed"] == 1
    assert jobs_by_id(app)[job_id].status == JobStatus.COMPLETED
    assert len(state.accepted("mastodon")) == 1


def test_rate_limit_headers_saying_none_remain_throttle_before_any_429(
    app, make, clock, sandbox, setup
):
    state, transport = sandbox
    ws, acc = setup
    state.override_rate_limit("mastodon", "api", limit=2, per_seconds=600)
    ids = make.jobs(ws, acc, 3, run_at=clock.now())
    report = run(app, clock, transport)
    assert Counter(o.status for o in report.outcomes) == {"completed": 2, "deferred": 1}
    jobs = jobs_by_id(app)
    [waiting] = [jobs[i] for i in ids if jobs[i].status != JobStatus.COMPLETED]
    assert waiting.attempts == 0  # never tried, never refused
    assert (waiting.next_attempt_at - clock.now()).total_seconds() >= 590  # the window's reset
    assert (
        state.request_count("mastodon", "POST /api/v1/statuses") == 2
    )  # no call was wasted on a 429


def test_a_thread_cut_after_its_first_item_is_not_retried(app, make, clock):
    """Telegram has no idempotency key: when a thread's reply fails after the first message is
    out, the job stops (a retry would post the first message again) and keeps the remote id."""
    from postiz_pipelines.core.models import Post

    state = SandboxState(clock=clock, seed=2)
    ws = make.workspace()
    acc = make.account(
        ws,
        platform="telegram",
        handle="news",
        token="7000000001:AAH-test-bot-token",
        external_id="-1001234567890",
        base_url="http://sandbox.test/telegram",
    )
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now())
    with app.db.session() as s:  # the post has a reply to send after the first message
        post = s.get(Post, s.get(PublishJob, job_id).post_id)
        post.settings = {"thread": ["and a reply"]}
    calls = {"n": 0}
    inner = SandboxTransport(create_app(state), timeout=1)

    class FailSecondSend(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/sendMessage"):
                calls["n"] += 1
                if calls["n"] == 2:
                    return httpx.Response(
                        400,
                        json={
                            "ok": False,
                            "error_code": 400,
                            "description": "Bad Request: message is too long",
                        },
                    )
            return await inner.handle_async_request(request)

    run(app, clock, FailSecondSend())
    job = jobs_by_id(app)[job_id]
    assert (job.status, job.last_error_class, job.attempts) == (
        JobStatus.FAILED,
        "partially_published",
        1,
    )
    [att] = attempts_of(app, job_id)
    assert att.remote_id and att.remote_id.startswith(
        "-1001234567890:"
    )  # the message that went out
    assert len(state.accepted("telegram")) == 1  # posted once, never again
