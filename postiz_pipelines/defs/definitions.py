"""The ``postiz_pipelines`` code location: the analytics assets, checks, jobs and schedules
(``assets.py``), schedule expansion, the account jobs on a schedule, the media backfill, and
every schedule. Publishing is the other location (``publishing_definitions.py``), so that
publish runs never import what this one needs."""

from __future__ import annotations

import os

from dagster import Definitions

from postiz_pipelines.core.observability.logs import configure_logging
from postiz_pipelines.defs import assets as analytics
from postiz_pipelines.defs import quiet_beta_warnings
from postiz_pipelines.defs.maintenance import instance_limits_job
from postiz_pipelines.defs.media import media_variants_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.schedules import all_schedules
from postiz_pipelines.defs.scheduling import expand_schedules_job

quiet_beta_warnings()
configure_logging(fmt=os.environ.get("POSTIZ_LOG_FORMAT", "auto"))  # JSON in production

defs = Definitions(
    assets=analytics.ASSETS,
    asset_checks=analytics.CHECKS,
    jobs=[expand_schedules_job, instance_limits_job, media_variants_job, *analytics.JOBS],
    schedules=all_schedules,
    resources={"postiz": PostizResource(), **analytics.RESOURCES},
)
