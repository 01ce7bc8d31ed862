"""Every schedule: expanding recurring posts and the daily read of Mastodon instance limits
here; the analytics schedules are the analytics module's own (``assets.SCHEDULES``) and are
listed here with them, so this is the one list the code location registers."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition

from postiz_pipelines.defs import assets as analytics
from postiz_pipelines.defs.maintenance import instance_limits_job
from postiz_pipelines.defs.scheduling import expand_schedules_job

expand_schedules_schedule = ScheduleDefinition(
    job=expand_schedules_job,
    cron_schedule="*/5 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="The seed's scheduler cadence: every five minutes.",
)
instance_limits_schedule = ScheduleDefinition(
    job=instance_limits_job,
    cron_schedule="17 4 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: Mastodon instance limits, so validation follows each server's rules.",
)

all_schedules = [expand_schedules_schedule, instance_limits_schedule, *analytics.SCHEDULES]
