"""Keeping accounts and users served: token refresh, outgoing webhooks, alerts."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.accounts.instances import refresh_instance_limits
from postiz_pipelines.core.accounts.tokens import expiring_accounts, refresh_expiring_tokens
from postiz_pipelines.core.observability.alerts import raise_alerts
from postiz_pipelines.core.observability.webhooks import deliver_pending_webhooks
from postiz_pipelines.defs.resources import PostizResource


@op
def refresh_tokens(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Refresh every account token expiring within 24 h through its platform."""
    report = refresh_expiring_tokens(postiz.app(), now=utcnow()).as_dict()
    context.add_output_metadata(
        {k: report[k] for k in ("checked", "refreshed", "failed", "skipped")}
    )
    return {k: report[k] for k in ("checked", "refreshed", "failed", "skipped")}


@job(
    description="Refresh OAuth tokens that expire within 24 hours (the seed's hourly batch).",
    tags={"postiz/kind": "tokens"},
)
def refresh_tokens_job() -> None:
    refresh_tokens()


@op
def read_instance_limits(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Read every Mastodon account's instance limits again (the daily refresh)."""
    report = refresh_instance_limits(postiz.app(), now=utcnow()).as_dict()
    context.add_output_metadata(report)
    return report


@job(
    description="Read each Mastodon account's instance limits (characters, media) again.",
    tags={"postiz/kind": "accounts"},
)
def instance_limits_job() -> None:
    read_instance_limits()


instance_limits_schedule = ScheduleDefinition(
    job=instance_limits_job,
    cron_schedule="17 4 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: Mastodon instance limits, so validation follows each server's rules.",
)


@sensor(
    job=refresh_tokens_job,
    minimum_interval_seconds=600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launch a token refresh, at most once an hour, when tokens expire within 24 h.",
)
def expiring_tokens_sensor(
    context: SensorEvaluationContext, postiz: PostizResource
) -> RunRequest | SkipReason:
    now = utcnow()
    expiring = expiring_accounts(postiz.app(), now=now)
    if not expiring:
        return SkipReason("no token expires within 24 h")
    return RunRequest(
        run_key=f"refresh-tokens:{now:%Y%m%dT%H}", tags={"postiz/accounts": str(len(expiring))}
    )


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Send outgoing webhooks for post events (signed, retried with backoff).",
)
def webhook_delivery_sensor(context: SensorEvaluationContext, postiz: PostizResource) -> SkipReason:
    counts = deliver_pending_webhooks(postiz.app(), now=utcnow(), limit=200)
    return SkipReason(f"webhooks: {counts}")


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Raise alerts: failure spikes, open circuit breakers, a growing dead-letter queue.",
)
def alerts_sensor(context: SensorEvaluationContext, postiz: PostizResource) -> SkipReason:
    app = postiz.app()
    hook = app.settings.alert_webhook_url
    raised = raise_alerts(
        app.db, now=utcnow(), webhook_url=hook.get_secret_value() if hook else None
    )
    return SkipReason(f"alerts raised: {[a.kind + ':' + a.subject for a in raised]}")
