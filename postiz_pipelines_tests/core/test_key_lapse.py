"""A native idempotency key guards a repeat only while the platform remembers it.

Discord checks an enforced ``nonce`` for a few minutes (the sandbox: 300 s), Mastodon keeps
an ``Idempotency-Key`` for an hour. An attempt whose outcome is unknown (the connection
dropped after the platform recorded the message) is retried with the same key while the
key is remembered; once it is not, a platform that can look reads back first, and one that
cannot (a Discord bot) is left to a person: never a second message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.bot-token-secret"
CHANNEL = "1098765432109876543"


@pytest.fixture
def sandbox(clock):  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=5)
    return state, SandboxTransport(create_app(state), timeout=0.5)


def _discord_job(make, clock, sandbox) -> str:  # type: ignore[no-untyped-def]
    state, _ = sandbox
    state.provision("discord", TOKEN, username="postbot")
    ws = make.workspace()
    acc = make.account(
        ws,
        platform="discord",
        handle="postbot",
        token=TOKEN,
        external_id=CHANNEL,
        base_url="http://sandbox.test/discord",
        settings={"guild_id": "555"},
    )
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now(), text="rendez-vous à 9 h ☕")
    state.faults.set("discord", FaultSpec(drops=1))  # recorded, then the connection drops
    return job_id


def _job(app, job_id):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(PublishJob).where(PublishJob.id == job_id))


def test_within_the_nonce_window_the_retry_is_deduplicated(app, make, clock, sandbox):  # type: ignore[no-untyped-def]
    state, transport = sandbox
    job_id = _discord_job(make, clock, sandbox)
    publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert _job(app, job_id).status == JobStatus.RETRYING
    clock.advance(90)  # the first backoff (1 min +/- 10 %): inside the nonce's 2 minutes
    publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert _job(app, job_id).status == JobStatus.COMPLETED
    assert [p.text for p in state.accepted("discord")] == ["rendez-vous à 9 h ☕ 0"]


def test_past_the_nonce_window_a_bot_that_cannot_look_is_left_to_a_person(
    app, make, clock, sandbox
):  # type: ignore[no-untyped-def]
    state, transport = sandbox
    job_id = _discord_job(make, clock, sandbox)
    publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert _job(app, job_id).status == JobStatus.RETRYING
    clock.advance(6 * 60)  # no run for six minutes: the nonce is forgotten
    publish_due(app, owner="run-2", clock=clock, transport=transport)
    job = _job(app, job_id)
    assert job.status == JobStatus.FAILED
    assert job.last_error_class == "uncertain_outcome"
    assert "may be live" in (job.last_error or "") and "idempotency key" in (job.last_error or "")
    assert [p.text for p in state.accepted("discord")] == ["rendez-vous à 9 h ☕ 0"]


def test_past_the_key_window_mastodon_reads_back_and_finds_the_post(app, make, clock, sandbox):  # type: ignore[no-untyped-def]
    state, transport = sandbox
    who = state.provision("mastodon", "tok-zoe", username="zoë")
    ws = make.workspace()
    acc = make.account(
        ws,
        handle="zoë",
        token="tok-zoe",
        external_id=who.id,
        base_url="http://sandbox.test/mastodon",
    )
    [job_id] = make.jobs(ws, acc, 1, run_at=clock.now(), text="Grüße 👋")
    state.faults.set("mastodon", FaultSpec(drops=1))
    publish_due(app, owner="run-1", clock=clock, transport=transport)
    assert _job(app, job_id).status == JobStatus.RETRYING
    clock.advance(2 * 3600)  # Mastodon has forgotten the Idempotency-Key
    publish_due(app, owner="run-2", clock=clock, transport=transport)
    job = _job(app, job_id)
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert [p.text for p in state.accepted("mastodon")] == ["Grüße 👋 0"]
