"""The Dagster layer: thin adapters over ``postiz_pipelines.core``."""

from __future__ import annotations

import warnings


def quiet_beta_warnings() -> None:
    """Dagster copies every sensor through ``SensorDefinition.dagster_internal_init``, which
    passes ``owners=None`` and so warns about a beta parameter no sensor here uses, once per
    load in every process that loads a location. Only that warning is silenced."""
    from dagster import BetaWarning

    warnings.filterwarnings(
        "ignore",
        message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently"
        r" in beta",
        category=BetaWarning,
    )
