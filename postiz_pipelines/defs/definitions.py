"""The ``postiz_pipelines`` code location: analytics and health assets with their checks,
schedule expansion, the account jobs on a schedule, and every schedule. Publishing is the
other location (``publishing_definitions.py``), so that publish runs never import what this
one needs."""

from __future__ import annotations

from dagster import Definitions

from postiz_pipelines.defs import quiet_beta_warnings
from postiz_pipelines.defs.assets import (
    account_token_health,
    analytics_job,
    failure_rate_is_low,
    health_job,
    no_overdue_jobs,
    publishing_daily_report,
    queue_health,
    tokens_are_refreshed,
)
from postiz_pipelines.defs.maintenance import instance_limits_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.schedules import all_schedules
from postiz_pipelines.defs.scheduling import expand_schedules_job

quiet_beta_warnings()

defs = Definitions(
    assets=[publishing_daily_report, account_token_health, queue_health],
    asset_checks=[failure_rate_is_low, tokens_are_refreshed, no_overdue_jobs],
    jobs=[expand_schedules_job, instance_limits_job, analytics_job, health_job],
    schedules=all_schedules,
    resources={"postiz": PostizResource()},
)
