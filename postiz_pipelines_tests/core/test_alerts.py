"""Alerts: a failure spike and dead-letter growth are raised once, and only when they happen."""

from __future__ import annotations

from datetime import timedelta

from postiz_pipelines.core.observability.alerts import AlertPolicy, find_alerts, raise_alerts
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app


def test_failure_spike_and_dead_letter_growth(app, make, clock):
    state = SandboxState(clock=clock, seed=1)
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    good = make.account(ws, handle="ok", token="good", base_url="http://sandbox.test/mastodon")
    bad = make.account(ws, handle="gone", token="revoked", base_url="http://sandbox.test/mastodon")
    state.revoke_token("mastodon", "revoked")
    make.jobs(ws, good, 4, run_at=clock.now(), text="fine")
    publish_due(app, owner="r1", clock=clock, transport=transport)
    with app.db.read() as s:
        assert find_alerts(s, now=clock.now(), policy=AlertPolicy()) == []  # all published: quiet

    make.jobs(ws, bad, 12, run_at=clock.now(), text="doomed")  # revoked: each fails at once
    publish_due(app, owner="r2", clock=clock, transport=transport)
    raised = {(a.kind, a.subject): a for a in raise_alerts(app.db, now=clock.now())}
    assert set(raised) == {("failure_spike", "mastodon"), ("dead_letter_growth", "all")}
    assert raised[("failure_spike", "mastodon")].figures == {"failed": 12, "total": 16}
    assert raised[("dead_letter_growth", "all")].figures == {"new_dead_letters": 12}
    assert raise_alerts(app.db, now=clock.now() + timedelta(minutes=10)) == []  # quiet period
    # once the window has passed and nothing new failed, there is nothing to say
    with app.db.read() as s:
        assert find_alerts(s, now=clock.now() + timedelta(hours=2), policy=AlertPolicy()) == []
