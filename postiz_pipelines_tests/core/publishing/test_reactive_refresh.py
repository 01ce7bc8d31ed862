"""The engine's refresh when the platform says a job's access token expired: a 503 at the
token endpoint hands the job back untried (its attempt given back) and leaves the account
active; a permanent refusal holds the job; a missing OAuth client defers it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    JobStatus,
    PublishJob,
    SocialAccount,
)
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec
from postiz_pipelines_tests.core.accounts.test_refresh import CLIENT_ID, TOKEN, connect_x, stored
from postiz_pipelines_tests.core.accounts.test_refresh import sandbox as sandbox  # noqa: F401

TWO_HOURS = 7200 + 60  # the sandbox's X access tokens last two hours


@pytest.fixture
def env(env):  # type: ignore[no-untyped-def]
    return {**env, "POSTIZ_SANDBOX_URL": "http://sandbox.test", "POSTIZ_X_CLIENT_ID": CLIENT_ID}


def job_of(app, job_id):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.get(PublishJob, job_id)


def test_a_503_during_the_reactive_refresh_retries_the_job_and_keeps_the_account(
    app, make, clock, sandbox
):
    state, transport = sandbox
    ws, account_id, first = connect_x(app, make, clock, sandbox)
    clock.advance(TWO_HOURS)  # the access token has run out on the platform
    [job_id] = make.jobs(ws, stored(app, account_id)[0], 1, run_at=clock.now(), text="naïve 🚀")
    state.faults.set("x", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({TOKEN})))

    report = publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert report.as_dict()["retrying"] == 1 and report.as_dict()["failed"] == 0
    job = job_of(app, job_id)
    assert job.status == JobStatus.PENDING and job.attempts == 0  # the try is given back
    assert job.next_attempt_at > clock.now()
    assert job.last_error_class == "deferred"
    account, creds = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE and account.token_version == 0
    assert creds.refresh_token.reveal() == first.refresh_token.reveal()
    assert state.accepted("x") == []

    state.faults.reset("x")
    clock.set(job.next_attempt_at)
    again = publish_due(app, owner="run-2", clock=clock, transport=transport)
    assert again.as_dict()["completed"] == 1
    assert [p.text for p in state.accepted("x")] == ["naïve 🚀 0"]
    account, _ = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE and account.token_version == 1
    with app.db.read() as s:
        kinds = Counter(
            s.scalars(
                select(AnalyticsEvent.event_type).where(AnalyticsEvent.account_id == account_id)
            )
        )
    assert kinds["token_refresh_failed"] == 1 and kinds["token_refreshed"] == 1
    assert kinds["post_publish_failed"] == 0


def test_a_refused_refresh_during_publishing_holds_the_job(app, make, clock, sandbox):
    state, transport = sandbox
    ws, account_id, first = connect_x(app, make, clock, sandbox)
    clock.advance(TWO_HOURS)
    jobs = make.jobs(ws, stored(app, account_id)[0], 2, run_at=clock.now())
    state.revoke_token("x", first.refresh_token.reveal())

    report = publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert report.as_dict()["held"] == 2 and report.as_dict()["failed"] == 0
    assert {job_of(app, j).status for j in jobs} == {JobStatus.HELD}
    assert {job_of(app, j).attempts for j in jobs} == {0}
    with app.db.read() as s:
        assert s.get(SocialAccount, account_id).status == AccountStatus.RECONNECT_NEEDED
        disconnected = s.scalars(
            select(AnalyticsEvent).where(AnalyticsEvent.event_type == "account_disconnected")
        ).all()
    assert len(disconnected) == 1


def test_a_missing_client_id_during_publishing_defers_the_job(app, make, clock, sandbox, env):
    state, transport = sandbox
    ws, account_id, _ = connect_x(app, make, clock, sandbox)
    clock.advance(TWO_HOURS)
    [job_id] = make.jobs(ws, stored(app, account_id)[0], 1, run_at=clock.now())
    from postiz_pipelines.core.context import AppContext
    from postiz_pipelines.settings import Settings

    bare = AppContext.from_settings(
        Settings.from_env({k: v for k, v in env.items() if k != "POSTIZ_X_CLIENT_ID"})
    )
    try:
        report = publish_due(bare, owner="run-1", clock=clock, transport=transport)
    finally:
        bare.close()
    assert report.as_dict()["retrying"] == 1
    job = job_of(app, job_id)
    assert job.status == JobStatus.PENDING and job.attempts == 0
    account, _ = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE
    assert job.next_attempt_at >= clock.now() + timedelta(seconds=1)
