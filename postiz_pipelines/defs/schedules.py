"""Every schedule: expanding recurring posts, the daily report, the health figures, the
daily read of Mastodon instance limits."""

from __future__ import annotations

from dagster import (
    DefaultScheduleStatus,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
)

from postiz_pipelines.defs.assets import analytics_job, health_job
from postiz_pipelines.defs.maintenance import instance_limits_job
from postiz_pipelines.defs.scheduling import expand_schedules_job

expand_schedules_schedule = ScheduleDefinition(
    job=expand_schedules_job,
    cron_schedule="*/5 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="The seed's scheduler cadence: every five minutes.",
)
analytics_schedule = build_schedule_from_partitioned_job(analytics_job, minute_of_hour=10)
health_schedule = ScheduleDefinition(
    job=health_job, cron_schedule="*/15 * * * *", default_status=DefaultScheduleStatus.RUNNING
)
instance_limits_schedule = ScheduleDefinition(
    job=instance_limits_job,
    cron_schedule="17 4 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: Mastodon instance limits, so validation follows each server's rules.",
)

all_schedules = [
    expand_schedules_schedule,
    analytics_schedule,
    health_schedule,
    instance_limits_schedule,
]
