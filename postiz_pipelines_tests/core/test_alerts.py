"""Alerts: a failure spike and dead-letter growth are raised once, and only when they happen."""

from __future__ import annotations

from datetime import timedelta

from postiz_pipelines.core.observability.alerts import AlertPolicy, find_alerts, raise_alerts
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app


def test_failure_spike_and_dead_letter_growth(app, make, clock):
    state = SandboxState(clock=clock, seed=1)
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    good = make.account(ws, handle="ok", token="good", base_url="http://sandbox.test/mastodon")
    bad = make.account(ws, handle="bad", token="refused", base_url="http://sandbox.test/mastodon")
    make.jobs(ws, good, 4, run_at=clock.now(), text="fine")
    publish_due(app, owner="r1", clock=clock, transport=transport)
    with app.db.read() as s:
        assert find_alerts(s, now=clock.now(), policy=AlertPolicy()) == []  # all published: quiet

    state.faults.set(  # the platform refuses each for good (content rejected)
        "mastodon",
        FaultSpec(error_rates={422: 1.0}, endpoints=frozenset({"POST /api/v1/statuses"})),
    )
    make.jobs(ws, bad, 12, run_at=clock.now(), text="doomed")
    publish_due(app, owner="r2", clock=clock, transport=transport)
    raised = {(a.kind, a.subject): a for a in raise_alerts(app.db, now=clock.now())}
    assert set(raised) == {("failure_spike", "mastodon"), ("dead_letter_growth", "all")}
    assert raised[("failure_spike", "mastodon")].figures == {"failed": 12, "total": 16}
    assert raised[("dead_letter_growth", "all")].figures == {"new_dead_letters": 12}
    assert raise_alerts(app.db, now=clock.now() + timedelta(minutes=10)) == []  # quiet period
    # once the window has passed and nothing new failed, there is nothing to say
    with app.db.read() as s:
        assert find_alerts(s, now=clock.now() + timedelta(hours=2), policy=AlertPolicy()) == []


def test_an_alert_counts_as_sent_only_when_its_delivery_succeeded(app, make, clock):
    import httpx

    from postiz_pipelines.core.observability.alerts import deliver_alerts, unsent_alerts

    ws = make.workspace()
    acc = make.account(ws)
    make.jobs(ws, acc, 3, run_at=clock.now() - timedelta(minutes=40))  # nobody published them
    answers = [503, 500, 204]
    bodies: list[dict] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        import json

        bodies.append(json.loads(request.content))
        return httpx.Response(answers.pop(0))

    hook = httpx.MockTransport(receiver)
    url = "https://alerts.example/hook"
    raised = raise_alerts(app.db, now=clock.now(), webhook_url=url, transport=hook)
    assert [a.kind for a in raised] == ["queue_backlog"]
    assert raised[0].figures["oldest_waiting_s"] == 2400.0
    with app.db.read() as s:
        assert len(unsent_alerts(s, now=clock.now(), since=clock.now() - timedelta(hours=1))) == 1
    later = clock.now() + timedelta(minutes=1)
    failed = deliver_alerts(app.db, now=later, webhook_url=url, transport=hook)  # the 500
    assert failed.sent == [] and failed.pending == 1 and failed.error == "HTTP 500"
    # quiet period: nothing new is raised, but the unsent one is sent again, and lands
    assert raise_alerts(app.db, now=later, webhook_url=url, transport=hook) == []
    assert [b["alerts"][0]["kind"] for b in bodies] == ["queue_backlog"] * 3
    assert len({b["alerts"][0]["id"] for b in bodies}) == 1  # the same alert each time
    done = deliver_alerts(app.db, now=later, webhook_url=url, transport=hook)
    assert done.pending == 0 and len(bodies) == 3  # sent: nothing more to send
    # without a webhook nothing counts as sent
    no_hook = deliver_alerts(app.db, now=later, webhook_url=None)
    assert no_hook.pending == 0


def test_posts_late_alert(app, make, clock):
    from postiz_pipelines.core.events import EventType, record_event

    ws = make.workspace()
    acc = make.account(ws)
    with app.db.session() as s:
        for lag in (10, 20, 30, 40, 900):  # p99 by linear interpolation: 40 + 0.96 * 860
            record_event(
                s,
                EventType.POST_PUBLISHED,
                now=clock.now() - timedelta(minutes=2),
                workspace_id=ws.id,
                platform="mastodon",
                account_id=acc.id,
                latency_s=lag,
            )
    with app.db.read() as s:
        [late] = find_alerts(s, now=clock.now(), policy=AlertPolicy())
        assert late.kind == "posts_late" and late.subject == "mastodon"
        assert late.figures == {"lag_p99_s": 865.6, "on_time_rate": 0.8, "published": 5}
        assert find_alerts(s, now=clock.now(), policy=AlertPolicy(late_p99_seconds=900)) == []
        assert find_alerts(s, now=clock.now(), policy=AlertPolicy(late_min_published=6)) == []
