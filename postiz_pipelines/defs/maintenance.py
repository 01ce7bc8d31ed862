"""The work the sensors decide on: outgoing webhooks, alerts, lease recovery, token refresh;
and the daily read of Mastodon instance limits (scheduled in ``schedules.py``).

Each job is one op that calls the core function doing the work (network calls included);
the sensors in ``sensors.py`` launch them, with idempotent run keys, only when there is work.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from dagster import OpExecutionContext, job, op

from postiz_pipelines.core.accounts.instances import refresh_instance_limits
from postiz_pipelines.core.observability.alerts import raise_alerts
from postiz_pipelines.core.observability.webhooks import deliver_pending_webhooks
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.core.publishing.token_refresh import refresh_batch
from postiz_pipelines.defs.resources import PostizResource

WEBHOOK_BATCH = 200


@op
def deliver_webhooks(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Fan new post events out to subscriptions and send the deliveries that are due."""
    counts = deliver_pending_webhooks(postiz.app(), now=postiz.clock().now(), limit=WEBHOOK_BATCH)
    context.add_output_metadata(counts)
    return counts


@op
def send_alerts(context: OpExecutionContext, postiz: PostizResource) -> list:
    """Record the alert conditions not raised in their quiet period and notify the webhook."""
    app = postiz.app()
    hook = app.settings.alert_webhook_url
    raised = raise_alerts(
        app.db, now=postiz.clock().now(), webhook_url=hook.get_secret_value() if hook else None
    )
    names = [f"{a.kind}:{a.subject}" for a in raised]
    context.add_output_metadata({"raised": len(names), "alerts": ", ".join(names) or "-"})
    return names


@op
def recover_leases(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Return jobs whose lease expired to the queue, or fail them as uncertain_outcome."""
    report = recover_expired_leases(postiz.app().db, now=postiz.clock().now()).as_dict()
    context.add_output_metadata(report)
    return report


@op
def refresh_tokens(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Refresh every account token expiring within 24 h through its platform."""
    report = refresh_batch(postiz.app(), now=postiz.clock().now()).as_dict()
    keys = ("checked", "refreshed", "failed", "reconnectNeeded", "configErrors", "skipped")
    counts = {k: report[k] for k in keys}
    context.add_output_metadata(counts)
    return counts


@job(
    description="Send outgoing webhooks for post events (signed, retried with backoff).",
    tags={"postiz/kind": "maintenance"},
)
def webhooks_job() -> None:
    deliver_webhooks()


@job(
    description="Raise alerts: failure spikes, open breakers, a growing dead-letter queue.",
    tags={"postiz/kind": "maintenance"},
)
def alerts_job() -> None:
    send_alerts()


@job(
    description="Resolve jobs whose lease expired (their run or worker died).",
    tags={"postiz/kind": "maintenance"},
)
def lease_recovery_job() -> None:
    recover_leases()


@job(
    description="Refresh OAuth tokens that expire within 24 hours (the seed's hourly batch).",
    tags={"postiz/kind": "maintenance"},
)
def refresh_tokens_job() -> None:
    refresh_tokens()


@op
def read_instance_limits(context: OpExecutionContext, postiz: PostizResource) -> dict:
    """Read every Mastodon account's instance limits again (the daily refresh)."""
    report = refresh_instance_limits(postiz.app(), now=postiz.clock().now()).as_dict()
    context.add_output_metadata(report)
    return report


@job(
    description="Read each Mastodon account's instance limits (characters, media) again.",
    tags={"postiz/kind": "accounts"},
)
def instance_limits_job() -> None:
    read_instance_limits()
