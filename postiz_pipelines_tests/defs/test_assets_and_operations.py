"""Analytics assets and their checks, the token-refresh sensor, and alert notifications."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from dagster import RunRequest, SkipReason, build_sensor_context, materialize

from postiz_pipelines.clock import FixedClock, utcnow
from postiz_pipelines.core.models import PublishJob, SocialAccount
from postiz_pipelines.core.observability.alerts import raise_alerts
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.defs.analytics import (
    AnalyticsClock,
    publish_outcomes,
    queue_health,
    token_health,
)
from postiz_pipelines.defs.checks import failure_rate_is_low, no_overdue_jobs, tokens_are_refreshed
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.sensors import expiring_tokens_sensor
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app


def resource_for(env):  # type: ignore[no-untyped-def]
    return PostizResource(
        database_url=env["POSTIZ_DATABASE_URL"],
        data_dir=env["POSTIZ_DATA_DIR"],
        settings_overrides={"POSTIZ_ENCRYPTION_KEY": env["POSTIZ_ENCRYPTION_KEY"]},
    )


def test_outcomes_of_real_publishes_and_the_failure_check(app, make, env, instance):
    now = utcnow().replace(microsecond=0)
    clock = FixedClock(now)
    state = SandboxState(clock=clock, seed=4)
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    acc = make.account(ws, base_url="http://sandbox.test/mastodon")
    make.jobs(ws, acc, 6, run_at=now - timedelta(seconds=90))
    publish_due(app, owner="r1", clock=clock, transport=transport)
    bad = make.account(
        ws, handle="refused", token="refused-token", base_url="http://sandbox.test/mastodon"
    )
    # the platform refuses these for good (a revoked account would hold them, not fail them)
    state.faults.set(
        "mastodon",
        FaultSpec(error_rates={422: 1.0}, endpoints=frozenset({"POST /api/v1/statuses"})),
    )
    make.jobs(ws, bad, 3, run_at=now)
    publish_due(app, owner="r2", clock=clock, transport=transport)

    day = now.strftime("%Y-%m-%d")
    result = materialize(
        [publish_outcomes, failure_rate_is_low],
        partition_key=day,
        instance=instance,
        resources={"postiz": resource_for(env)},
    )
    assert result.success
    df = result.output_for_node("publish_outcomes")
    assert (int(df["published"].sum()), int(df["failed"].sum())) == (6, 3)
    assert int(df["dead_lettered"].sum()) == 3
    assert float(df["lag_p50_s"].max()) == 90.0  # published 90 s after their time
    assert float(df["on_time_rate"].max()) == 0.0  # 90 s is late by the 60 s rule
    [check] = result.get_asset_check_evaluations()
    assert check.passed is False and "| mastodon | 6 | 3 |" in check.metadata["offending"].value


def test_health_assets_flag_overdue_jobs_and_lapsing_tokens(app, make, env, instance):
    ws = make.workspace()
    acc = make.account(ws)
    make.jobs(ws, acc, 2, run_at=utcnow() - timedelta(hours=1))  # nobody published them
    with app.db.session() as s:
        s.get(SocialAccount, acc.id).token_expires_at = utcnow() + timedelta(minutes=30)
    selection = [token_health, queue_health, tokens_are_refreshed, no_overdue_jobs]
    resources = {"postiz": resource_for(env), "analytics_clock": AnalyticsClock()}
    result = materialize(selection, instance=instance, resources=resources)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["no_overdue_jobs"].passed is False
    assert checks["no_overdue_jobs"].metadata["offending_count"].value == 2
    assert checks["tokens_are_refreshed"].passed is False
    with app.db.session() as s:
        for job in s.query(PublishJob):
            job.status = "completed"
        s.get(SocialAccount, acc.id).token_expires_at = utcnow() + timedelta(days=30)
    again = materialize(selection, instance=instance, resources=resources)
    assert all(c.passed for c in again.get_asset_check_evaluations())


def test_expiring_tokens_sensor(app, make, env, instance):
    ws = make.workspace()
    acc = make.account(ws, platform="threads", handle="t")
    with build_sensor_context(instance=instance, resources={"postiz": resource_for(env)}) as ctx:
        assert isinstance(expiring_tokens_sensor(ctx), SkipReason)
    with app.db.session() as s:
        s.get(SocialAccount, acc.id).token_expires_at = utcnow() + timedelta(hours=3)
    with build_sensor_context(instance=instance, resources={"postiz": resource_for(env)}) as ctx:
        request = expiring_tokens_sensor(ctx)
    assert isinstance(request, RunRequest) and request.run_key.startswith("refresh-tokens:")
    assert request.tags["postiz/accounts"] == "1"


def test_alert_webhook_is_notified_once(app, make, clock):
    state = SandboxState(clock=clock, seed=1)
    state.faults.set("mastodon", FaultSpec(outage=True))
    ws = make.workspace()
    acc = make.account(ws, base_url="http://sandbox.test/mastodon")
    make.jobs(ws, acc, 8, run_at=clock.now())
    publish_due(
        app, owner="r", clock=clock, transport=SandboxTransport(create_app(state), timeout=1)
    )
    seen: list[dict] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(204)

    hook = httpx.MockTransport(receiver)
    raise_alerts(app.db, now=clock.now(), webhook_url="https://alerts.example/hook", transport=hook)
    raise_alerts(
        app.db,
        now=clock.now() + timedelta(minutes=5),
        webhook_url="https://alerts.example/hook",
        transport=hook,
    )
    assert len(seen) == 1
    assert [a["kind"] for a in seen[0]["alerts"]] == ["breaker_open"]
