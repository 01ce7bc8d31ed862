"""The ``publishing`` code location: publish runs, the maintenance jobs, every sensor, and
the hourly token refresh schedule.

A publish run loads this module and nothing heavier: no pandas, matplotlib or Pillow (the
analytics assets are the other location's, ``definitions.py``). A run's start-up is paid
once per partition and window, so it is kept short.
"""

from __future__ import annotations

import os

from dagster import Definitions

from postiz_pipelines.core.observability.logs import configure_logging
from postiz_pipelines.defs import quiet_beta_warnings
from postiz_pipelines.defs.maintenance import (
    alerts_job,
    lease_recovery_job,
    refresh_tokens_job,
    webhooks_job,
)
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.sensors import all_sensors, refresh_tokens_schedule

quiet_beta_warnings()
configure_logging(fmt=os.environ.get("POSTIZ_LOG_FORMAT", "auto"))  # JSON in production

defs = Definitions(
    jobs=[publish_job, webhooks_job, alerts_job, lease_recovery_job, refresh_tokens_job],
    sensors=all_sensors,
    schedules=[refresh_tokens_schedule],
    resources={"postiz": PostizResource()},
)
