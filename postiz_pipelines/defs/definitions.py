"""The one ``Definitions`` object that workspace.yaml loads."""

from __future__ import annotations

import os
import warnings

from dagster import BetaWarning, Definitions

from postiz_pipelines.core.observability.logs import configure_logging
from postiz_pipelines.defs import assets as analytics
from postiz_pipelines.defs.media import media_variants_job
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

configure_logging(fmt=os.environ.get("POSTIZ_LOG_FORMAT", "auto"))  # JSON in production

defs = Definitions(
    assets=analytics.ASSETS,
    asset_checks=analytics.CHECKS,
    jobs=[
        publish_job,
        expand_schedules_job,
        refresh_tokens_job,
        instance_limits_job,
        *analytics.JOBS,
        media_variants_job,
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
        instance_limits_schedule,
        *analytics.SCHEDULES,
    ],
    resources={"postiz": PostizResource(), **analytics.RESOURCES},
)
