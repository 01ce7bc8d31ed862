"""The one ``Definitions`` object that workspace.yaml loads."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions

from postiz_pipelines.defs.assets import (
    account_token_health,
    analytics_job,
    analytics_schedule,
    failure_rate_is_low,
    health_job,
    health_schedule,
    no_overdue_jobs,
    publishing_daily_report,
    queue_health,
    tokens_are_refreshed,
)
from postiz_pipelines.defs.operations import (
    alerts_sensor,
    expiring_tokens_sensor,
    instance_limits_job,
    instance_limits_schedule,
    refresh_tokens_job,
    webhook_delivery_sensor,
)
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.scheduling import expand_schedules_job, expand_schedules_schedule
from postiz_pipelines.defs.sensors import due_posts_sensor, lease_recovery_sensor

# Dagster copies every sensor through ``SensorDefinition.dagster_internal_init``, which passes
# ``owners=None`` and so warns about a beta parameter no sensor here uses, once per load in
# every process that loads this location. Only that warning is silenced.
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta",
    category=BetaWarning,
)

defs = Definitions(
    assets=[publishing_daily_report, account_token_health, queue_health],
    asset_checks=[failure_rate_is_low, tokens_are_refreshed, no_overdue_jobs],
    jobs=[
        publish_job,
        expand_schedules_job,
        refresh_tokens_job,
        instance_limits_job,
        analytics_job,
        health_job,
    ],
    sensors=[
        due_posts_sensor,
        lease_recovery_sensor,
        expiring_tokens_sensor,
        webhook_delivery_sensor,
        alerts_sensor,
    ],
    schedules=[
        expand_schedules_schedule,
        analytics_schedule,
        health_schedule,
        instance_limits_schedule,
    ],
    resources={"postiz": PostizResource()},
)
