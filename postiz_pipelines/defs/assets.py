"""The analytics assets and checks, the jobs that materialize them and their schedules
(all running by default). ``definitions.py`` registers ``ASSETS``, ``CHECKS``, ``JOBS``,
``SCHEDULES`` and ``RESOURCES``.

- ``health_job`` every 15 minutes: ``queue_health``, ``token_health`` and their checks;
- ``engagement_job`` every 30 minutes: ``post_engagement`` -> ``best_posting_times``;
- ``analytics_job`` every 15 minutes for today's partition (and, just after midnight, the
  last run of yesterday's): ``publish_outcomes``, ``workspace_activity``, ``analytics_report``.
  Past days are backfilled from the UI (or ``materialize(..., partition_key=day)``).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from postiz_pipelines.defs.analytics import (
    AnalyticsClock,
    analytics_report,
    best_posting_times,
    post_engagement,
    publish_outcomes,
    queue_health,
    token_health,
    workspace_activity,
)
from postiz_pipelines.defs.checks import (
    engagement_pulls_succeed,
    failure_rate_is_low,
    held_jobs_within_bound,
    no_overdue_jobs,
    no_reconnect_with_waiting_jobs,
    oauth_clients_configured,
    on_time_p99_within_bound,
    tokens_are_refreshed,
)

ASSETS = [
    publish_outcomes,
    workspace_activity,
    queue_health,
    token_health,
    post_engagement,
    best_posting_times,
    analytics_report,
]
CHECKS = [
    no_overdue_jobs,
    failure_rate_is_low,
    on_time_p99_within_bound,
    no_reconnect_with_waiting_jobs,
    tokens_are_refreshed,
    engagement_pulls_succeed,
    held_jobs_within_bound,
    oauth_clients_configured,
]

health_job = define_asset_job(
    "health_job",
    selection=AssetSelection.assets(queue_health, token_health),
    description="Queue and token health, with their checks.",
)
engagement_job = define_asset_job(
    "engagement_job",
    selection=AssetSelection.assets(post_engagement, best_posting_times),
    description="Pull engagement through each platform; propose posting times.",
)
analytics_job = define_asset_job(
    "analytics_job",
    selection=AssetSelection.assets(publish_outcomes, workspace_activity, analytics_report),
    description="The day's outcomes, workspace activity and the report with its charts.",
)

health_schedule = ScheduleDefinition(
    name="health_schedule",
    job=health_job,
    cron_schedule="*/15 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)
engagement_schedule = ScheduleDefinition(
    name="engagement_schedule",
    job=engagement_job,
    cron_schedule="5,35 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)


@schedule(
    job=analytics_job,
    cron_schedule="*/15 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Today's report every 15 minutes; yesterday's final one just after midnight.",
)
def analytics_schedule(context: ScheduleEvaluationContext) -> list[RunRequest]:
    at = context.scheduled_execution_time
    today = at.strftime("%Y-%m-%d")
    requests = [RunRequest(run_key=f"analytics:{at:%Y%m%dT%H%M}", partition_key=today)]
    if at.hour == 0 and at.minute < 15:
        yesterday = (at - timedelta(days=1)).strftime("%Y-%m-%d")
        requests.append(RunRequest(run_key=f"analytics-final:{yesterday}", partition_key=yesterday))
    return requests


JOBS = [health_job, engagement_job, analytics_job]
SCHEDULES = [health_schedule, engagement_schedule, analytics_schedule]
RESOURCES = {"analytics_clock": AnalyticsClock()}
