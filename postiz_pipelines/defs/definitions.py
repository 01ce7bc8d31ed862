"""The one ``Definitions`` object that workspace.yaml loads."""

from __future__ import annotations

from dagster import Definitions

from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.scheduling import expand_schedules_job, expand_schedules_schedule
from postiz_pipelines.defs.sensors import due_posts_sensor, lease_recovery_sensor

defs = Definitions(
    jobs=[publish_job, expand_schedules_job],
    sensors=[due_posts_sensor, lease_recovery_sensor],
    schedules=[expand_schedules_schedule],
    resources={"postiz": PostizResource()},
)
