"""Asset checks: thin adapters over ``core/observability/checks.py``; each puts the
offending rows in its metadata as a table."""

# No `from __future__ import annotations`: Dagster inspects the annotations at runtime.

import warnings
from datetime import timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    PreviewWarning,
    asset_check,
)

from postiz_pipelines.core.observability import checks
from postiz_pipelines.core.observability.tables import markdown_table
from postiz_pipelines.defs.analytics import (
    AnalyticsClock,
    daily,
    post_engagement,
    publish_outcomes,
    queue_health,
    token_health,
)
from postiz_pipelines.defs.resources import PostizResource

# The daily checks are partitioned like their asset (a check of one day's outcomes), which
# Dagster marks as a preview feature; only that notice is silenced.
warnings.filterwarnings(
    "ignore",
    message=r"Specifying a partitions_def on an AssetCheckSpec is currently in preview",
    category=PreviewWarning,
)


def _result(
    outcome: checks.CheckOutcome, severity: AssetCheckSeverity = AssetCheckSeverity.WARN
) -> AssetCheckResult:
    metadata: dict[str, Any] = {
        k: v for k, v in outcome.figures.items() if v is not None and not isinstance(v, list)
    }
    metadata["offending"] = MetadataValue.md(markdown_table(outcome.rows, max_rows=50))
    metadata["offending_count"] = len(outcome.rows)
    return AssetCheckResult(passed=outcome.passed, severity=severity, metadata=metadata)


@asset_check(
    asset=queue_health,
    description=f"No job is past due by more than "
    f"{int(checks.OVERDUE_BOUND.total_seconds() // 60)} minutes.",
)
def no_overdue_jobs(postiz: PostizResource, analytics_clock: AnalyticsClock) -> AssetCheckResult:
    with postiz.app().db.read() as s:
        outcome = checks.overdue(s, now=analytics_clock.now())
    return _result(outcome, AssetCheckSeverity.ERROR)


@asset_check(
    asset=publish_outcomes,
    partitions_def=daily,
    description=f"Per platform, at most {checks.MAX_FAILURE_RATE:.0%} of the day's finished "
    f"publishes failed (judged from {checks.MIN_FINISHED} finished).",
)
def failure_rate_is_low(publish_outcomes: Any) -> AssetCheckResult:
    return _result(checks.failure_rate(publish_outcomes))


@asset_check(
    asset=publish_outcomes,
    partitions_def=daily,
    description=f"Per workspace and platform, the day's lag p99 is within "
    f"{int(checks.ON_TIME_P99_BOUND_S)} s.",
)
def on_time_p99_within_bound(publish_outcomes: Any) -> AssetCheckResult:
    return _result(checks.on_time(publish_outcomes))


@asset_check(
    asset=token_health,
    description="No account that needs reconnecting has posts waiting for it.",
)
def no_reconnect_with_waiting_jobs(token_health: Any) -> AssetCheckResult:
    return _result(checks.reconnect(token_health), AssetCheckSeverity.ERROR)


@asset_check(
    asset=token_health,
    description=f"No active account's token lapses within {checks.TOKEN_LAPSE_HOURS * 60:g} min "
    "(the refresh should have run).",
)
def tokens_are_refreshed(token_health: Any) -> AssetCheckResult:
    return _result(checks.tokens_refreshed(token_health))


@asset_check(asset=post_engagement, description="Every account's engagement pull succeeded.")
def engagement_pulls_succeed(post_engagement: Any) -> AssetCheckResult:
    return _result(checks.engagement_pulls(post_engagement))


@asset_check(
    asset=queue_health,
    description="Held jobs per workspace (waiting for their account to be reconnected); fails "
    "once a job has been held longer than POSTIZ_HELD_JOB_ALARM_SECONDS (24 h), when "
    "reconnecting would no longer publish it.",
)
def held_jobs_within_bound(
    postiz: PostizResource, analytics_clock: AnalyticsClock
) -> AssetCheckResult:
    app = postiz.app()
    bound = timedelta(seconds=app.settings.held_job_alarm_seconds)
    with app.db.read() as s:
        outcome = checks.held(s, now=analytics_clock.now(), bound=bound)
    return _result(outcome, AssetCheckSeverity.ERROR)


@asset_check(
    asset=token_health,
    description="Every platform with connected accounts whose tokens need the app's OAuth "
    "client has its settings (the failure names the missing POSTIZ_* variable).",
)
def oauth_clients_configured(postiz: PostizResource) -> AssetCheckResult:
    app = postiz.app()
    with app.db.read() as s:
        outcome = checks.oauth_clients(s, app.settings.missing_oauth_settings())
    result = _result(outcome, AssetCheckSeverity.ERROR)
    if not outcome.passed:
        names = outcome.figures["missing_variables"]
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            metadata=result.metadata,
            description=f"missing OAuth client settings: {names}",
        )
    return result
